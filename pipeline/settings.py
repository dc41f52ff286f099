"""The settings every entry point shares: the command line, the web page and Dagster read
them from the same ``TUANGIAO_*`` variables (flags override), so they all see the same data
folder, unit list and clock.

| variable | meaning | default |
|---|---|---|
| ``TUANGIAO_DATA_DIR`` | data folder (warehouse, archive, outputs) | ``data`` |
| ``TUANGIAO_INBOX`` | inbox folder (sub-folders by period) | ``<data>/inbox`` |
| ``TUANGIAO_CLOCK`` | a fixed ISO time for "now" (tests, the sample run) | the real clock |
| ``TUANGIAO_DOWNLOAD_URL`` | the web page's address, for links in the Dagster UI | ``http://127.0.0.1:8080`` |
| ``TUANGIAO_UNITS`` | a unit list in the columns of ``units.csv`` | the catalogue's |
| ``TUANGIAO_BATCH`` | ``unit``, ``district`` or ``province`` | ``unit`` |
| ``TUANGIAO_WORKERS`` | processes that read workbooks | 1 |
| ``TUANGIAO_WAIT_SECONDS`` | how long a run waits for the warehouse or the pool held by another | 600 |
| ``TUANGIAO_TRUSTED_PROXY`` | addresses of the reverse proxy whose ``X-Forwarded-*`` headers the page believes | ``127.0.0.1`` |
| ``TUANGIAO_SENSOR_SECONDS`` | how often the inbox and automation sensors look (``make dev``) | 30 |
| ``TUANGIAO_PDF`` | ``0``: publish the workbooks without their PDF copies | ``1`` |
| ``TUANGIAO_SOFFICE`` | the LibreOffice program that renders the PDFs | ``soffice`` on the path |
| ``TUANGIAO_PDF_SECONDS`` | how long rendering a period's PDFs may take before it is stopped | 300 |

Relative paths are taken from the project folder.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from pipeline.catalogue import Catalogue, default_catalogue
from pipeline.catalogue.batches import UNIT, check_level
from pipeline.office import SOFFICE, TIMEOUT_SECONDS, Office

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TIME_ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
DEFAULT_DOWNLOAD_URL = "http://127.0.0.1:8080"


@dataclass(frozen=True)
class Places:
    """Where the pipeline reads and writes: all inside the data folder (the inbox may be elsewhere)."""

    data: Path
    inbox: Path

    @classmethod
    def under(cls, data: Path, inbox: Path | None = None) -> Places:
        return cls(data, inbox or data / "inbox")

    @property
    def warehouse(self) -> Path:
        return self.data / "warehouse.duckdb"

    @property
    def out(self) -> Path:
        return self.data / "out"

    @property
    def archive(self) -> Path:
        return self.data / "archive"

    def inbox_index(self, period: str) -> Path:
        """Identities of the period's inbox files already read (a cache; safe to delete)."""
        return self.data / ".inbox-index" / f"{period}.json"


def local_time(moment: dt.datetime) -> dt.datetime:
    """A time as stored and compared everywhere: Vietnam's wall clock, without a time zone. A
    time that carries an offset is converted first; a naive one is taken as Vietnam's."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(TIME_ZONE)
    return moment.replace(tzinfo=None)


def shown_time(moment: dt.datetime | str | None) -> str:
    """A time as people read it (pages, workbooks): to the second, without microseconds."""
    if moment is None or moment == "":
        return ""
    if isinstance(moment, str):
        moment = dt.datetime.fromisoformat(moment)
    return f"{moment:%Y-%m-%d %H:%M:%S}"


def project_path(value: str | Path) -> Path:
    path = Path(value)
    return path if path.is_absolute() else PROJECT_ROOT / path


@dataclass(frozen=True)
class Settings:
    data_dir: str = "data"
    inbox_dir: str = ""  # empty: <data_dir>/inbox
    fixed_clock: str = ""  # ISO time used as "now"; empty: the real clock
    download_url: str = DEFAULT_DOWNLOAD_URL
    units_file: str = ""  # empty: the catalogue's unit list
    batch_level: str = UNIT
    workers: int = 1
    wait_seconds: float = 600
    trusted_proxy: str = "127.0.0.1"  # comma-separated; the page trusts X-Forwarded-Proto/For from these only
    sensor_seconds: int = 30
    pdf: bool = True  # the published set carries a PDF of every Biểu where LibreOffice renders them
    soffice: str = ""  # empty: soffice on the path
    pdf_seconds: float = TIMEOUT_SECONDS

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None, **overrides) -> Settings:
        """The ``TUANGIAO_*`` variables, then ``overrides`` (flags given on a command line; None is not given)."""
        environ = os.environ if environ is None else environ
        settings = cls(
            data_dir=environ.get("TUANGIAO_DATA_DIR", "data"),
            inbox_dir=environ.get("TUANGIAO_INBOX", ""),
            fixed_clock=environ.get("TUANGIAO_CLOCK", ""),
            download_url=environ.get("TUANGIAO_DOWNLOAD_URL", DEFAULT_DOWNLOAD_URL),
            units_file=environ.get("TUANGIAO_UNITS", ""),
            batch_level=environ.get("TUANGIAO_BATCH", UNIT),
            workers=int(environ.get("TUANGIAO_WORKERS", "1")),
            wait_seconds=float(environ.get("TUANGIAO_WAIT_SECONDS", "600")),
            trusted_proxy=environ.get("TUANGIAO_TRUSTED_PROXY", "127.0.0.1"),
            sensor_seconds=int(environ.get("TUANGIAO_SENSOR_SECONDS", "30")),
            pdf=environ.get("TUANGIAO_PDF", "1").strip() != "0",
            soffice=environ.get("TUANGIAO_SOFFICE", ""),
            pdf_seconds=float(environ.get("TUANGIAO_PDF_SECONDS", str(TIMEOUT_SECONDS))),
        )
        settings = dataclasses.replace(settings, **{k: v for k, v in overrides.items() if v is not None})
        check_level(settings.batch_level)
        return settings

    @property
    def data(self) -> Path:
        return project_path(self.data_dir)

    @property
    def places(self) -> Places:
        return Places.under(self.data, project_path(self.inbox_dir) if self.inbox_dir else None)

    @property
    def catalogue(self) -> Catalogue:
        return default_catalogue(project_path(self.units_file) if self.units_file else None)

    @property
    def office(self) -> Office | None:
        """What renders the published set's PDFs, or None when they are turned off."""
        return Office(self.soffice or SOFFICE, self.pdf_seconds) if self.pdf else None

    def now(self) -> dt.datetime:
        """Vietnam's wall clock (``local_time``), or the fixed clock converted to it."""
        if self.fixed_clock:
            return local_time(dt.datetime.fromisoformat(self.fixed_clock))
        return local_time(dt.datetime.now(TIME_ZONE))
