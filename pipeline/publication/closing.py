"""Closing a period: publish the final set (CHÍNH THỨC) under ``out/<period>/chinh-thuc/``, once
every expected unit is approved (``pipeline.review``) or an officer overrides with a reason,
with its record ``khoa-so.json`` (closing time, file hashes, the versions closed with), after
which ``pipeline.periods`` refuses later loads; reopening is an explicit command that keeps the
old final set and its record. Both hold the data folder alone (``pipeline.locking``)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from pipeline.catalogue import Catalogue
from pipeline.failpoints import failpoint
from pipeline.files import atomic_output
from pipeline.intake.take_in import untaken
from pipeline.locking import exclusive_lock
from pipeline.periods import FINAL_FOLDER, MARKER, PeriodError, final_folder, refuse_if_closed
from pipeline.publication.publish import publish_period
from pipeline.review import refuse_unapproved_close
from pipeline.settings import TIME_ZONE, Places, local_time
from pipeline.warehouse import connect, current_submissions
from pipeline.text import name_list, show_number
from pipeline.workbook.reader import file_sha256


def close_period(catalogue: Catalogue, places: Places, period: str, now: dt.datetime, override: str = "",
                 by: str = "") -> Path:
    """Publish the final set and mark the period closed; returns the final folder. Every
    expected unit must be approved, or an officer (``by``) overrides with a reason, kept with the
    review decisions and in the record, and printed in the final set's sources. The record
    (``khoa-so.json``) holds the closing time in Vietnam's time, each final file's hash, each
    unit's current version (the ones a rebuild loads for the period) and the units closed
    unapproved. Exclusive with runs."""
    if period not in catalogue.periods:
        raise PeriodError(f'Không có kỳ báo cáo "{period}" trong danh mục.')
    with exclusive_lock(places.data, f"close-period {period}", places.wait_seconds):
        refuse_if_closed(catalogue, places.out, period)
        _refuse_if_intake_pending(catalogue, places, period)
        unapproved = refuse_unapproved_close(catalogue, places, period, now, override, by)
        _, publication = publish_period(catalogue, places.warehouse, places.out, period, final=True,
                                        wait_seconds=places.wait_seconds)
        failpoint("close_period.published")
        with connect(places.warehouse, wait_seconds=places.wait_seconds) as conn:
            current = current_submissions(conn, period)
        files = sorted(p for p in publication.folder.iterdir() if p.is_file() and p.name != MARKER)
        record = {"period": period, "closed_at": _stamp(now), "files": {p.name: file_sha256(p) for p in files},
                  "versions": dict(zip(current["unit"], current["file_hash"]))}
        if unapproved:
            record["review_override"] = {"by": by.strip(), "reason": override.strip(),
                                         "unapproved": [r.unit for r in unapproved]}
        _write_record(publication.folder / MARKER, record)
        failpoint("close_period.marked")
    return publication.folder


def _refuse_if_intake_pending(catalogue: Catalogue, places: Places, period: str) -> None:
    """A close never freezes a set that an intake is about to change: units whose latest inbox
    file is not taken in yet (a run queued or stopped midway, or a file the sensor has not seen)
    are named, and nothing is closed."""
    behind = [catalogue.unit(code, period).name for code, _ in untaken(catalogue, places, period)]
    if behind:
        raise PeriodError(
            f"Chưa khóa sổ kỳ {period}: hộp thư đến còn báo cáo chưa tiếp nhận của {show_number(len(behind))} đơn vị "
            f"({name_list(behind)}). Hãy chờ lượt tiếp nhận đang chạy xong (hoặc chạy python -m assets run) "
            f"rồi khóa sổ lại.")


def _stamp(moment: dt.datetime) -> str:
    """A time as recorded: Vietnam's, with its offset."""
    return local_time(moment).replace(tzinfo=TIME_ZONE).isoformat()


def _write_record(path: Path, record: dict) -> None:
    with atomic_output(path) as temporary:
        temporary.write_text(json.dumps(record, ensure_ascii=False, indent=2), encoding="utf-8")


def reopen_period(catalogue: Catalogue, places: Places, period: str, now: dt.datetime) -> Path:
    """Reopen a period closed by close-period; its final set is kept with its record, renamed by
    its closing time, and the record gains the reopening time. Exclusive with runs."""
    folder = final_folder(places.out, period)
    marker = folder / MARKER
    with exclusive_lock(places.data, f"reopen-period {period}", places.wait_seconds):
        if not marker.exists():
            raise PeriodError(f"Kỳ {period} chưa khóa sổ bằng lệnh close-period, không cần mở lại.")
        record = json.loads(marker.read_text(encoding="utf-8"))
        closed_at = dt.datetime.fromisoformat(record["closed_at"])
        kept = folder.with_name(f"{FINAL_FOLDER}-da-mo-lai-{closed_at:%Y%m%dT%H%M%S}")
        folder.rename(kept)  # one step: the period is open from here on
        failpoint("close_period.reopened")
        _write_record(kept / MARKER, {**record, "reopened_at": _stamp(now)})
    return kept
