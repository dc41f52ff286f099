"""The settings resource: where inbox, warehouse and outputs live, and the clock."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import dagster as dg

from pipeline.batches import UNIT, check_level
from pipeline.catalogue import Catalogue, default_catalogue
from pipeline.intake import Places

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VN_TZ = dt.timezone(dt.timedelta(hours=7))


class PipelineSettings(dg.ConfigurableResource):
    """Folders of the pipeline; relative paths are taken from the project folder."""

    data_dir: str = "data"
    inbox_dir: str = ""  # default: <data_dir>/inbox
    fixed_clock: str = ""  # ISO time used as "now" (tests and the sample run), empty: the real clock
    download_url: str = "http://127.0.0.1:8080"  # the download page, for links in the UI
    units_file: str = ""  # a province's or the country's unit list (columns of units.csv); empty: the district's
    batch_level: str = UNIT  # units taken in together: unit (a district), district or province (larger lists)
    workers: int = 1  # processes reading workbooks; more than 1 pays off for batches of hundreds of files

    def _path(self, value: str) -> Path:
        path = Path(value)
        return path if path.is_absolute() else PROJECT_ROOT / path

    @property
    def data(self) -> Path:
        return self._path(self.data_dir)

    @property
    def inbox(self) -> Path:
        return self._path(self.inbox_dir) if self.inbox_dir else self.data / "inbox"

    @property
    def places(self) -> Places:
        return Places.under(self.data, self.inbox)

    @property
    def out(self) -> Path:
        """Everything the pipeline writes for people: data/out/<period>/…"""
        return self.places.out

    @property
    def warehouse(self) -> Path:
        return self.places.warehouse

    @property
    def catalogue(self) -> Catalogue:
        return default_catalogue(self._path(self.units_file) if self.units_file else None)

    def now(self) -> dt.datetime:
        """Vietnam local time, without time zone (as stored in the warehouse)."""
        if self.fixed_clock:
            return dt.datetime.fromisoformat(self.fixed_clock)
        return dt.datetime.now(VN_TZ).replace(tzinfo=None)


def settings_from_environment() -> PipelineSettings:
    """TUANGIAO_DATA_DIR, TUANGIAO_INBOX, TUANGIAO_CLOCK, TUANGIAO_DOWNLOAD_URL, TUANGIAO_UNITS,
    TUANGIAO_BATCH and TUANGIAO_WORKERS override the defaults."""
    return PipelineSettings(
        data_dir=os.environ.get("TUANGIAO_DATA_DIR", "data"),
        inbox_dir=os.environ.get("TUANGIAO_INBOX", ""),
        fixed_clock=os.environ.get("TUANGIAO_CLOCK", ""),
        download_url=os.environ.get("TUANGIAO_DOWNLOAD_URL", "http://127.0.0.1:8080"),
        units_file=os.environ.get("TUANGIAO_UNITS", ""),
        batch_level=check_level(os.environ.get("TUANGIAO_BATCH", UNIT)),
        workers=int(os.environ.get("TUANGIAO_WORKERS", "1")),
    )
