"""Whether a period is open: closed in the catalogue, or by close-period, whose final set
(CHÍNH THỨC) and record ``khoa-so.json`` lie under ``out/<period>/chinh-thuc/``
(``pipeline.publication.closing`` writes them); a closed period refuses later loads."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from pipeline.catalogue import Catalogue
from pipeline.errors import UserError

FINAL_FOLDER = "chinh-thuc"
MARKER = "khoa-so.json"


class PeriodError(UserError):
    """A period cannot be closed, reopened or loaded; the message is Vietnamese."""


def final_folder(out: Path, period: str) -> Path:
    return out / period / FINAL_FOLDER


def is_closed(catalogue: Catalogue, out: Path, period: str) -> bool:
    """Closed in the catalogue (state "dong") or by the close-period command."""
    configured = catalogue.periods.get(period)
    return (configured is not None and not configured.is_open) or (final_folder(out, period) / MARKER).exists()


def open_periods(catalogue: Catalogue, out: Path) -> list[str]:
    return [key for key in catalogue.periods if not is_closed(catalogue, out, key)]


def refuse_if_closed(catalogue: Catalogue, out: Path, period: str) -> None:
    if is_closed(catalogue, out, period):
        raise PeriodError(f"Kỳ {period} đã khóa sổ: không nhận thêm báo cáo. Muốn sửa số liệu, "
                          f"cán bộ huyện chạy lệnh mở lại kỳ (reopen-period {period}).")


def closed_versions(out: Path, period: str) -> dict[str, str] | None:
    """Each unit's version (file hash) the period was closed with, or None if it is not closed
    by close-period (or was closed before versions were recorded)."""
    try:
        return json.loads((final_folder(out, period) / MARKER).read_text(encoding="utf-8"))["versions"]
    except (OSError, ValueError, KeyError):
        return None


def closed_at(out: Path, period: str) -> dt.datetime | None:
    """When close-period closed the period, in Vietnam's wall clock (naive, as times are
    compared), or None if it is not closed by close-period."""
    try:
        stamp = json.loads((final_folder(out, period) / MARKER).read_text(encoding="utf-8"))["closed_at"]
        return dt.datetime.fromisoformat(stamp).replace(tzinfo=None)  # stamped in Vietnam's time
    except (OSError, ValueError, KeyError, TypeError):
        return None
