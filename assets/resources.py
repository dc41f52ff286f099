"""The settings resource: the shared ``pipeline.settings.Settings`` as a Dagster resource, so
the UI shows them and tests can set them."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from urllib.parse import quote

import dagster as dg

from pipeline.catalogue import Catalogue
from pipeline.settings import Places, Settings

_DEFAULTS = Settings()


class PipelineSettings(dg.ConfigurableResource):
    """Folders, unit list, batch level, clock and the PDF copies (see ``pipeline.settings``)."""

    data_dir: str = _DEFAULTS.data_dir
    inbox_dir: str = _DEFAULTS.inbox_dir
    fixed_clock: str = _DEFAULTS.fixed_clock
    download_url: str = _DEFAULTS.download_url
    units_file: str = _DEFAULTS.units_file
    batch_level: str = _DEFAULTS.batch_level
    workers: int = _DEFAULTS.workers
    wait_seconds: float = _DEFAULTS.wait_seconds
    trusted_proxy: str = _DEFAULTS.trusted_proxy
    sensor_seconds: int = _DEFAULTS.sensor_seconds
    pdf: bool = _DEFAULTS.pdf
    soffice: str = _DEFAULTS.soffice
    pdf_seconds: float = _DEFAULTS.pdf_seconds

    @classmethod
    def from_settings(cls, settings: Settings) -> PipelineSettings:
        return cls(**dataclasses.asdict(settings))

    @property
    def settings(self) -> Settings:
        return Settings(**{f.name: getattr(self, f.name) for f in dataclasses.fields(Settings)})

    @property
    def places(self) -> Places:
        return self.settings.places

    @property
    def inbox(self) -> Path:
        return self.places.inbox

    @property
    def out(self) -> Path:
        """Everything the pipeline writes for people: data/out/<period>/…"""
        return self.places.out

    @property
    def warehouse(self) -> Path:
        return self.places.warehouse

    @property
    def catalogue(self) -> Catalogue:
        return self.settings.catalogue

    def now(self) -> dt.datetime:
        return self.settings.now()

    def page_link(self, period: str, relative: str = "") -> dg.UrlMetadataValue:
        """A link to a file of the period on the download page (``relative`` to out/<period>/),
        or to the period's page itself: what the UI shows instead of a server path."""
        base = self.download_url.rstrip("/")
        if not relative:
            return dg.MetadataValue.url(f"{base}/ky/{quote(period)}")
        return dg.MetadataValue.url(f"{base}/tep/{quote(period)}/{quote(relative)}")


def period_label(period: str, label: str) -> str:
    """A metadata label for one period's figure: "Kỳ 2023 · Số đơn vị hợp lệ"."""
    return f"Kỳ {period} · {label}"


def settings_from_environment() -> PipelineSettings:
    """The ``TUANGIAO_*`` variables (``pipeline.settings``)."""
    return PipelineSettings.from_settings(Settings.from_environment())
