"""Takes in units' submissions for a period, one unit or a batch at once: find each unit's
latest file in the inbox, archive it, check it, load it into the warehouse as a new
version with its findings, and write the unit's feedback workbook when there is something
to fix. Plain Python, called by the Dagster asset of a unit's or a batch's partition;
``rebuild`` replays the archive into a new warehouse."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.catalogue import Catalogue
from pipeline.checking.feedback import feedback_name, write_feedback
from pipeline.checking.findings import PERIOD_CLOSED, SUPERSEDED, Finding, FindingCounts, finding, nfc
from pipeline.checking.validation import CheckResult, check_files
from pipeline.intake.archive import UNIDENTIFIED, Archived, archive_file, archived_units, archived_versions
from pipeline.intake.inbox import InboxFile, files_by_unit, scan_inbox
from pipeline.periods import is_closed
from pipeline.settings import Places
from pipeline.warehouse import (
    INVALID,
    VALID,
    Load,
    connect,
    create_schema,
    known_files,
    load_submissions,
    previous_values,
    record_catalogue_lists,
)
from pipeline.workbook.contract import PLAN_FILE
from pipeline.workbook.reader import file_sha256

CATCH_UP_BATCH = 250  # units checked and loaded together by the nightly catch-up
MISSING = "missing"
CLOSED = "closed"
PLAN_UNIT = ""  # the plan workbook is the district's own, stored without a unit code
STATUS_LABELS = {VALID: "Hợp lệ", INVALID: "Không hợp lệ", MISSING: "Chưa nộp", CLOSED: "Kỳ đã khóa sổ"}


@dataclass
class IntakeResult(FindingCounts):
    period: str
    unit: str
    status: str
    file: Path | None = None
    file_hash: str = ""
    findings: list[Finding] = field(default_factory=list)
    values: int = 0
    newly_loaded: bool = False
    feedback: Path | None = None

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]


def feedback_dir(out: Path, period: str) -> Path:
    return out / period / "phan-hoi"


def take_in_unit(catalogue: Catalogue, places: Places, period: str, unit: str, now: dt.datetime) -> IntakeResult:
    """Check and load the unit's latest file for the period; older files of the same unit in
    the inbox are reported as superseded. A unit with no file is reported missing."""
    return take_in_batch(catalogue, places, period, [unit], now)[0]


def take_in_batch(catalogue: Catalogue, places: Places, period: str, units: list[str], now: dt.datetime,
                  workers: int = 1) -> list[IntakeResult]:
    """``take_in_unit`` for many units at once, in their order: one look at the inbox, one
    check of all their files (pandera once per form; read by ``workers`` processes) and one
    warehouse transaction."""
    files = files_by_unit(scan_inbox(places.inbox, period, places.inbox_index(period), workers))
    return _take_in_latest(catalogue, places, {u: files.get(u, []) for u in units}, period, now, workers)


def take_in_plan(catalogue: Catalogue, places: Places, period: str, now: dt.datetime) -> IntakeResult:
    """The same for the district's plan workbook of the period (stored under the unit key "")."""
    files = [f for f in scan_inbox(places.inbox, period, places.inbox_index(period))
             if f.identity and f.identity.file_kind == PLAN_FILE]
    return _take_in_latest(catalogue, places, {PLAN_UNIT: files}, period, now)[0]


def _take_in_latest(catalogue: Catalogue, places: Places, files: dict[str, list[InboxFile]], period: str,
                    now: dt.datetime, workers: int = 1) -> list[IntakeResult]:
    """Each unit's latest file is archived, checked and loaded; older ones are superseded."""
    closed = is_closed(catalogue, places.out, period)
    results: dict[str, IntakeResult] = {}
    to_load = []
    for unit, mine in files.items():
        if not mine:
            results[unit] = IntakeResult(period, unit, MISSING)
            continue
        latest = mine[-1]
        archived = archive_file(places.archive, period, unit, latest.path, now)
        if closed:  # kept in the archive, not loaded
            results[unit] = IntakeResult(period, unit, CLOSED, file=latest.path, findings=[
                finding(PERIOD_CLOSED, period=period, file=nfc(latest.path.name), unit=unit)])
            continue
        to_load.append(Pending(latest.path, unit, archived))
    results.update((r.unit, r) for r in _load(catalogue, places, period, to_load, workers))
    for unit, mine in files.items():
        results[unit].findings += [
            finding(SUPERSEDED, latest=nfc(mine[-1].path.name), file=nfc(f.path.name), unit=unit)
            for f in mine[:-1]
        ]
    return [results[unit] for unit in files]


@dataclass(frozen=True)
class Pending:
    """A file to check and load as the version ``archived`` records, for ``unit``."""

    path: Path
    unit: str
    archived: Archived
    name: str | None = None  # the name it was received under, if not the path's


def _load(catalogue: Catalogue, places: Places, period: str, pending: list[Pending], workers: int = 1) -> list[IntakeResult]:
    """Check the files together, write their feedback, load them in one transaction (on one
    warehouse connection: opening DuckDB costs about 20 ms, and a district's run is one unit)."""
    if not pending:
        return []
    units = [p.unit for p in pending if p.unit != PLAN_UNIT]
    with connect(places.warehouse) as conn:
        create_schema(conn)
        record_catalogue_lists(conn, catalogue)
        checked = check_files(catalogue, [p.path for p in pending], period, previous_values(conn, units, period),
                              workers)
        intakes, loads = [], []
        for item, result in zip(pending, checked):
            intake = IntakeResult(period, item.unit, VALID if result.accepted else INVALID, file=item.path,
                                  findings=result.findings)
            feedback = feedback_dir(places.out, period) / feedback_name(result)
            if result.findings:
                intake.feedback = write_feedback(feedback, catalogue, result, period)
            else:  # nothing to fix: no feedback, and none left from an earlier version
                feedback.unlink(missing_ok=True)
            intakes.append(intake)
            if result.submission is None:
                continue
            if item.name:
                result.submission.path = result.submission.path.with_name(item.name)
            intake.file_hash = result.submission.file_hash
            intake.values = sum(c.value is not None for c in result.submission.cells)
            loads.append((intake, Load(result.submission, result.findings, item.archived.received_at,
                                       item.archived.relative_path)))
        loaded = load_submissions(conn, [load for _, load in loads])
    for (intake, _), outcome in zip(loads, loaded):
        intake.newly_loaded = outcome.new
    return intakes


def rebuild(catalogue: Catalogue, places: Places) -> list[IntakeResult]:
    """Recreate the warehouse from the archive alone: every archived version, period by period,
    in the order received. The old warehouse is replaced only when the new one is complete."""
    final = places.warehouse
    fresh = Places(places.data / ".rebuild", places.inbox)
    fresh.warehouse.unlink(missing_ok=True)
    fresh.warehouse.parent.mkdir(parents=True, exist_ok=True)
    results = []
    for period, unit in archived_units(places.archive):
        for version in archived_versions(places.archive, period, unit):
            results += _load(catalogue, fresh, period, [Pending(version.path, unit, version, version.original_name)])
    with connect(fresh.warehouse) as conn:
        create_schema(conn)
        record_catalogue_lists(conn, catalogue)
    fresh.warehouse.replace(final)
    shutil.rmtree(fresh.data, ignore_errors=True)
    return results


def unidentified_files(catalogue: Catalogue, places: Places, period: str, now: dt.datetime) -> list[CheckResult]:
    """Files of the period's inbox whose unit cannot be read or is not in the unit list: each
    is archived and gets its findings and a feedback workbook, so nothing goes unnoticed."""
    results = []
    units = {u.code for u in catalogue.units_in(period)}
    for entry in scan_inbox(places.inbox, period, places.inbox_index(period)):
        if entry.identity is None or (entry.identity.file_kind != PLAN_FILE and entry.identity.unit_code not in units):
            archive_file(places.archive, period, UNIDENTIFIED, entry.path, now)
            result = check_files(catalogue, [entry.path], period)[0]
            write_feedback(feedback_dir(places.out, period) / feedback_name(result), catalogue, result, period)
            results.append(result)
    return results


def catch_up(catalogue: Catalogue, places: Places, period: str, now: dt.datetime, workers: int = 1,
             progress: Callable[[str], None] = lambda _: None) -> list[IntakeResult]:
    """Take in every unit whose latest inbox file is not in the warehouse yet (what the sensor
    has not seen), in batches of ``CATCH_UP_BATCH`` units, telling ``progress`` after each;
    units already up to date are not checked again."""
    with connect(places.warehouse) as conn:
        create_schema(conn)
        known = known_files(conn, period)
    files = files_by_unit(scan_inbox(places.inbox, period, places.inbox_index(period), workers))
    behind = [(unit.code, files[unit.code]) for unit in catalogue.units_in(period)
              if unit.code in files and (unit.code, file_sha256(files[unit.code][-1].path)) not in known]
    results = []
    for start in range(0, len(behind), CATCH_UP_BATCH):
        results += _take_in_latest(catalogue, places, dict(behind[start:start + CATCH_UP_BATCH]), period, now, workers)
        progress(f"Kỳ {period}: đã tiếp nhận {len(results):,}/{len(behind):,} đơn vị".replace(",", "."))
    return results
