"""Shared fixtures: the project's catalogue, the shipped sample, LibreOffice conversion."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from pipeline.catalogue import default_catalogue
from pipeline.office import SOFFICE, convert

# Rendering a set's PDFs takes LibreOffice about 20 s: the suite publishes without them (every
# command and Dagster run it starts inherits this), tests/test_pdf_set.py turns them on.
os.environ.setdefault("TUANGIAO_PDF", "0")
ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DIR = ROOT / "data" / "sample" / "2023"
needs_libreoffice = pytest.mark.skipif(SOFFICE is None, reason="LibreOffice (soffice) not installed")
# Writer (libreoffice-writer or -nogui) is a separate package from Calc; it renders .docx.
WRITER = SOFFICE is not None and any(Path(SOFFICE).resolve().parent.glob("libswlo.so"))
needs_writer = pytest.mark.skipif(not WRITER, reason="LibreOffice Writer (libreoffice-writer-nogui) not installed")


@pytest.fixture(scope="session")
def catalogue():
    return default_catalogue()


@pytest.fixture
def db(tmp_path, catalogue):
    """An empty warehouse (a real DuckDB file) that knows the catalogue's units and periods."""
    from pipeline.warehouse import connect, create_schema, record_catalogue_lists

    path = tmp_path / "warehouse.duckdb"
    with connect(path) as conn:
        create_schema(conn)
        record_catalogue_lists(conn, catalogue)
    return path


@pytest.fixture(scope="session")
def sample_files() -> list[Path]:
    return sorted(SAMPLE_DIR.glob("*.xlsx"))


def take_in_everything(catalogue, places, now, files=(), period="2023"):
    """Copy ``files`` into the period's inbox, then take in every unit and the plan, as the pipeline does."""
    from pipeline.intake.take_in import take_in_plan, take_in_unit

    inbox = places.inbox / period
    inbox.mkdir(parents=True, exist_ok=True)
    for path in files:
        shutil.copy(path, inbox / path.name)
    for unit in catalogue.units_in(period):
        take_in_unit(catalogue, places, period, unit.code, now)
    take_in_plan(catalogue, places, period, now)
    return places


def libreoffice_convert(source: Path, out_dir: Path, target: str, profile: Path) -> Path:
    """Convert with headless LibreOffice (its own profile folder); return the new file."""
    return convert(source, out_dir, target, profile)


def officer_client(app, data: Path):
    """A TestClient of ``app`` signed in as a district officer (an account issued in ``data``)."""
    import datetime as dt

    from starlette.testclient import TestClient

    from pipeline.web.access import COOKIE, OFFICER, AccessStore, Sessions, signing_key

    store = AccessStore(data)
    store.issue("huyen", OFFICER, dt.datetime(2023, 8, 10, 8, 0))
    client = TestClient(app, follow_redirects=False)
    client.cookies.set(COOKIE, Sessions(signing_key(data), store).new(store.account("huyen"))[1])
    return client
