"""The settings resource: ``pipeline.settings.Settings`` as a Dagster resource. It takes its
fields from the Settings model (a subclass, not a copy), so the UI shows them, a run's
config or a test can set them, and the pipeline's functions receive it as the Settings it is."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from pipeline.settings import Settings


class PipelineSettings(dg.ConfigurableResource, Settings):
    """Folders, unit list, batch level, clock, waits and the PDF copies (see ``pipeline.settings``)."""

    @classmethod
    def of(cls, settings: Settings) -> PipelineSettings:
        return cls(**settings.model_dump())

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


def period_label(period: str, label: str) -> str:
    """A metadata label for one period's figure: "Kỳ 2023 · Số đơn vị hợp lệ"."""
    return f"Kỳ {period} · {label}"
