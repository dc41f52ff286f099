"""Shared fixtures: the project's catalogue, the shipped sample, LibreOffice conversion; and how
the suite is spread over pytest-xdist's workers (``-n 2``, pyproject.toml; the scheduler below)."""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
from contextlib import contextmanager
from pathlib import Path

import pytest

from pipeline.catalogue import default_catalogue
from pipeline.office import SOFFICE, convert

# Rendering a set's PDFs takes LibreOffice about 20 s: the suite publishes without them (every
# command and Dagster run it starts inherits this), tests/test_pdf_set.py turns them on.
os.environ.setdefault("TUANGIAO_PDF", "0")
# Every in-process Dagster run (its capture_interrupts) leaves SIGTERM with SIGINT's handler. Started
# with SIGINT ignored (a background job of a non-interactive shell: `make test &`), a worker would
# then ignore SIGTERM, and so would every command a later test starts: multiprocessing stops a pool
# worker with SIGTERM as its command exits, so that command hung until the test's timeout.
def interrupts_not_ignored() -> None:
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if signal.getsignal(signal.SIGTERM) is signal.SIG_IGN:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


interrupts_not_ignored()
ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DIR = ROOT / "data" / "sample" / "2023"
CLOSING = ("--override", "thử nghiệm", "--by", "kiểm thử")  # close-period with units not approved (issue 28)
# The system programs some tests need (`.ci/run` installs them): where one is missing, its tests
# skip and pytest prints why (``-rs`` in pyproject.toml).
needs_libreoffice = pytest.mark.skipif(SOFFICE is None, reason="LibreOffice (soffice) not installed")
# Writer (libreoffice-writer or -nogui) is a separate package from Calc; it renders .docx.
WRITER = SOFFICE is not None and any(Path(SOFFICE).resolve().parent.glob("libswlo.so"))
needs_writer = pytest.mark.skipif(not WRITER, reason="LibreOffice Writer (libreoffice-writer-nogui) not installed")
needs_render = pytest.mark.skipif(not SOFFICE or not shutil.which("pdftotext"),
                                  reason="LibreOffice (soffice) or pdftotext (poppler-utils) not installed")
needs_pdftoppm = pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="pdftoppm (poppler-utils) not installed")
CHROMIUM = shutil.which("chromium")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Chromium (Debian's chromium) not installed")


# Under pytest-xdist (``-n``) every module's tests run on one worker, so that its module fixtures
# are made once, except these, whose tests are independent and long: they are spread one by one.
# (xdist's own ``--dist loadgroup`` marks do not group under pytest 9: it rewrites a node id that
# pytest no longer reads, hence this scheduler.)
SPREAD = {"test_crash"}
# The longest modules are handed out first, so that no worker is left with one at the end.
LONGEST_FIRST = ["test_national", "test_live", "test_operations", "test_postgres", "test_intake_safety",
                 "test_pdf_set", "test_publish", "test_faults", "test_definitions", "test_report", "test_crash"]


def _module(nodeid: str) -> str:
    return nodeid.split("::", 1)[0].rpartition("/")[2].removesuffix(".py")


def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class ByModule(LoadScopeScheduling):
        """xdist's scope scheduling with a module as the scope (SPREAD: a test), in collection order."""

        def _split_scope(self, nodeid: str) -> str:
            return nodeid if _module(nodeid) in SPREAD else nodeid.split("::", 1)[0]

    config.option.loadscopereorder = False  # the order below, not the number of tests
    return ByModule(config, log)


def pytest_collection_modifyitems(config, items):
    if hasattr(config, "workerinput"):  # an xdist worker: the order in which the modules are handed out
        rank = {name: n for n, name in enumerate(LONGEST_FIRST)}
        items.sort(key=lambda item: rank.get(_module(item.nodeid), len(rank)))  # stable: a module keeps its order


@pytest.fixture(scope="session", autouse=True)
def own_dagster_home(tmp_path_factory):
    """Every test session (each xdist worker) its own DAGSTER_HOME: no test reaches the project's
    .dagster_home/ (the Makefile's) or another worker's instance."""
    patch = pytest.MonkeyPatch()
    patch.setenv("DAGSTER_HOME", str(tmp_path_factory.mktemp("dagster_home")))
    yield
    patch.undo()


@contextmanager
def made_once(tmp_path_factory, name: str):
    """A folder shared by the run's xdist workers (or this session's alone), made by the first
    that gets here: yields (folder, True) to it, then (folder, False) to the others, which waited."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    folder, done = shared / name, shared / f"{name}.made"
    with (shared / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if done.exists():
            yield folder, False
            return
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        yield folder, True
        done.touch()


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


def sample_taken_in(catalogue, tmp_path_factory, data: Path, now):
    """The Places of ``data``, holding what ``take_in_everything(catalogue, Places.under(data, the
    sample folder), now)`` makes, as a copy of the data folder it made once for the run (3-4 s of
    intake that several modules' publications start from)."""
    from pipeline.settings import Places

    places = Places.under(data, ROOT / "data" / "sample")
    with made_once(tmp_path_factory, f"sample-taken-in-{now:%Y%m%dT%H%M%S}") as (folder, first):
        if first:
            take_in_everything(catalogue, Places.under(folder, places.inbox), now)
        shutil.copytree(folder, data, symlinks=True, dirs_exist_ok=True)
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
