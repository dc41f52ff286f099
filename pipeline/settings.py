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
| ``TUANGIAO_REVIEW_LOCK`` | periods (``2023,2024``; ``*``: all) that hold an approved unit's new files until it is reopened | none |
| ``TUANGIAO_UPLOAD_COUNT_PER_DAY`` | files a unit (or the officers' plan) may send through the page in a day | 20 |
| ``TUANGIAO_UPLOAD_BYTES_PER_DAY`` | bytes a unit may send through the page in a day | 50 MB |
| ``TUANGIAO_HEADER_SECONDS`` | how long the page waits for a request's headers | 20 |
| ``TUANGIAO_BODY_SECONDS`` | how long a request's body (an upload) may take before it must keep up a rate | 20 |
| ``TUANGIAO_BODY_BYTES_PER_SECOND`` | the rate a body must keep up after that (a slower one is cut off) | 2048 |
| ``TUANGIAO_AUDIT_MAX_BYTES`` | the audit log's size past which it is rotated (``audit.jsonl.1`` …) | 10 MB |
| ``TUANGIAO_AUDIT_KEEP`` | rotated audit files kept (older ones are deleted) | 5 |

Relative paths are taken from the project folder.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from zoneinfo import ZoneInfo

import pydantic

from pipeline.audit import Rotation
from pipeline.catalogue import Catalogue, default_catalogue
from pipeline.catalogue.batches import UNIT, check_level
from pipeline.office import SOFFICE, TIMEOUT_SECONDS, Office

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TIME_ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
DEFAULT_DOWNLOAD_URL = "http://127.0.0.1:8080"
WAIT_SECONDS = 600  # how long the warehouse or the pool held by another is waited for, unless set


@dataclass(frozen=True)
class Places:
    """Where the pipeline reads and writes: all inside the data folder (the inbox may be elsewhere);
    and how long it waits for the warehouse while another process holds it."""

    data: Path
    inbox: Path
    wait_seconds: float = WAIT_SECONDS
    review_lock: str = ""  # the settings' review_lock
    audit: Rotation = Rotation()  # the settings' audit rotation, for the writers below the page

    @classmethod
    def under(cls, data: Path, inbox: Path | None = None, wait_seconds: float = WAIT_SECONDS) -> Places:
        return cls(data, inbox or data / "inbox", wait_seconds)

    @property
    def warehouse(self) -> Path:
        return self.data / "warehouse.duckdb"

    @property
    def out(self) -> Path:
        return self.data / "out"

    @property
    def archive(self) -> Path:
        return self.data / "archive"

    def locks(self, period: str) -> bool:
        """Whether an approved unit's new files are held in ``period`` (``review_lock``)."""
        keys = {key.strip() for key in self.review_lock.split(",")}
        return "*" in keys or period in keys

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


def moment_of(value: dt.datetime | str | float | None) -> dt.datetime | None:
    """A stored time (a datetime, its ISO text or a POSIX timestamp) as Vietnam's wall clock; None if none."""
    if value in (None, ""):
        return None
    if isinstance(value, (int, float)):
        return local_time(dt.datetime.fromtimestamp(value, dt.timezone.utc))
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    return local_time(value) if isinstance(value, dt.datetime) else None


def shown_day(value: dt.date | str | None) -> str:
    """A date as 10/08/2023."""
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value[:10])
        except ValueError:
            return value
    return f"{value:%d/%m/%Y}" if value else ""


def shown_moment(value) -> str:
    """A time as 10/08/2023 08:05, in Vietnam's time."""
    moment = moment_of(value)
    return f"{moment:%d/%m/%Y %H:%M}" if moment else ""


def project_path(value: str | Path) -> Path:
    path = Path(value)
    return path if path.is_absolute() else PROJECT_ROOT / path


VARIABLES = {  # each setting's environment variable
    "data_dir": "TUANGIAO_DATA_DIR",
    "inbox_dir": "TUANGIAO_INBOX",
    "fixed_clock": "TUANGIAO_CLOCK",
    "download_url": "TUANGIAO_DOWNLOAD_URL",
    "units_file": "TUANGIAO_UNITS",
    "batch_level": "TUANGIAO_BATCH",
    "workers": "TUANGIAO_WORKERS",
    "wait_seconds": "TUANGIAO_WAIT_SECONDS",
    "trusted_proxy": "TUANGIAO_TRUSTED_PROXY",
    "sensor_seconds": "TUANGIAO_SENSOR_SECONDS",
    "pdf": "TUANGIAO_PDF",
    "soffice": "TUANGIAO_SOFFICE",
    "pdf_seconds": "TUANGIAO_PDF_SECONDS",
    "review_lock": "TUANGIAO_REVIEW_LOCK",
    "upload_count_per_day": "TUANGIAO_UPLOAD_COUNT_PER_DAY",
    "upload_bytes_per_day": "TUANGIAO_UPLOAD_BYTES_PER_DAY",
    "header_seconds": "TUANGIAO_HEADER_SECONDS",
    "body_seconds": "TUANGIAO_BODY_SECONDS",
    "body_bytes_per_second": "TUANGIAO_BODY_BYTES_PER_SECOND",
    "audit_max_bytes": "TUANGIAO_AUDIT_MAX_BYTES",
    "audit_keep": "TUANGIAO_AUDIT_KEEP",
}


class Settings(pydantic.BaseModel):
    """The settings, read once by each entry point (``from_environment``). A pydantic model, so
    the Dagster resource (``assets.resources.PipelineSettings``) takes its fields from it."""

    model_config = pydantic.ConfigDict(frozen=True)

    data_dir: str = "data"
    inbox_dir: str = ""  # empty: <data_dir>/inbox
    fixed_clock: str = ""  # ISO time used as "now"; empty: the real clock
    download_url: str = DEFAULT_DOWNLOAD_URL
    units_file: str = ""  # empty: the catalogue's unit list
    batch_level: str = UNIT
    workers: int = 1
    wait_seconds: float = WAIT_SECONDS
    trusted_proxy: str = "127.0.0.1"  # comma-separated; the page trusts X-Forwarded-Proto/For from these only
    sensor_seconds: int = 30
    pdf: bool = True  # the published set carries a PDF of every Biểu where LibreOffice renders them
    soffice: str = ""  # empty: soffice on the path
    pdf_seconds: float = TIMEOUT_SECONDS
    review_lock: str = ""  # periods ("2023,2024", "*": all) where an approved unit's new files wait for a reopening
    upload_count_per_day: int = 20  # the page's upload quota, per sender and day
    upload_bytes_per_day: int = 50 * 1024 * 1024
    header_seconds: float = 20  # the page's server: a slow client's headers and body are cut off past these
    body_seconds: float = 20
    body_bytes_per_second: int = 2048  # a trickle is cut off; 10 MB over a slow commune line (300 kbit/s) is not
    audit_max_bytes: int = pydantic.Field(Rotation.max_bytes, ge=1)  # the audit log rotates past this size
    audit_keep: int = pydantic.Field(Rotation.keep, ge=0)  # rotated audit files kept

    @pydantic.field_validator("pdf", mode="before")
    @classmethod
    def _pdf_unless_zero(cls, value):
        """``TUANGIAO_PDF``: anything but ``0`` keeps the PDF copies."""
        return value.strip() != "0" if isinstance(value, str) else value

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None, **overrides) -> Settings:
        """The ``TUANGIAO_*`` variables, then ``overrides`` (flags given on a command line; None is not given)."""
        environ = os.environ if environ is None else environ
        given = {name: environ[variable] for name, variable in VARIABLES.items() if variable in environ}
        settings = cls(**given | {name: value for name, value in overrides.items() if value is not None})
        check_level(settings.batch_level)
        return settings

    @property
    def data(self) -> Path:
        return project_path(self.data_dir)

    @property
    def places(self) -> Places:
        return replace(Places.under(self.data, project_path(self.inbox_dir) if self.inbox_dir else None,
                                    self.wait_seconds), review_lock=self.review_lock, audit=self.audit_rotation)

    @property
    def audit_rotation(self) -> Rotation:
        return Rotation(self.audit_max_bytes, self.audit_keep)

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
