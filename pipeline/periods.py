"""Closing a period: publish the final set (CHÍNH THỨC) under ``out/<period>/chinh-thuc/``
and refuse later loads; reopening is an explicit command that keeps the old final set."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from pipeline.catalogue import Catalogue
from pipeline.errors import UserError
from pipeline.files import atomic_output
from pipeline.workbook.reader import file_sha256

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


def close_period(catalogue: Catalogue, warehouse: Path, out: Path, period: str, now: dt.datetime) -> Path:
    """Publish the final set and mark the period closed; returns the final folder."""
    from pipeline.publication.publish import publish_period

    if period not in catalogue.periods:
        raise PeriodError(f'Không có kỳ báo cáo "{period}" trong danh mục.')
    refuse_if_closed(catalogue, out, period)
    _, publication = publish_period(catalogue, warehouse, out, period, final=True)
    files = sorted(p for p in publication.folder.iterdir() if p.is_file() and p.name != MARKER)
    record = {"period": period, "closed_at": now.isoformat(),
              "files": {p.name: file_sha256(p) for p in files}}
    with atomic_output(publication.folder / MARKER) as temporary:
        temporary.write_text(json.dumps(record, ensure_ascii=False, indent=2), encoding="utf-8")
    return publication.folder


def reopen_period(catalogue: Catalogue, out: Path, period: str) -> Path:
    """Reopen a period closed by close-period; its final set is kept, renamed by its closing time."""
    folder = final_folder(out, period)
    marker = folder / MARKER
    if not marker.exists():
        raise PeriodError(f"Kỳ {period} chưa khóa sổ bằng lệnh close-period, không cần mở lại.")
    closed_at = json.loads(marker.read_text(encoding="utf-8"))["closed_at"].replace(":", "").replace("-", "")
    kept = folder.with_name(f"{FINAL_FOLDER}-da-mo-lai-{closed_at}")
    marker.unlink()
    folder.rename(kept)
    return kept
