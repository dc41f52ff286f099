"""Takes in units' submissions for a period, one unit or a batch at once: find each unit's
latest file in the inbox, archive it (one read: the copy that is checked is the one
archived), check it, load it into the warehouse as a new version with its findings, and
write the unit's feedback workbook when there is something to fix. Plain Python, called by
the Dagster asset of a unit's or a batch's partition; ``rebuild`` replays the archive's
arrivals into a new warehouse beside the old one and swaps it in when complete.

Runs hold the data folder's lock in shared mode (``pipeline.locking``); ``rebuild`` holds it
alone. A unit whose file disappears, changes kind or is made unreadable during its intake
waits for the next look (which tells why); the others go on."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import stat
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from pipeline.catalogue import Catalogue
from pipeline.checking.feedback import feedback_name, unit_feedback_name, write_feedback
from pipeline.checking.findings import (
    HELD,
    PERIOD_CLOSED,
    SUPERSEDED,
    Finding,
    FindingCounts,
    finding,
    sort_key,
)
from pipeline.text import nfc, show_number
from pipeline.checking.validation import CheckResult, check_files
from pipeline.errors import MachineError, machine_error, machine_fault
from pipeline.failpoints import failpoint
from pipeline.files import Denied, Vanished
from pipeline.intake.archive import (
    PLAN,
    UNIDENTIFIED,
    Archived,
    Received,
    archived_units,
    archived_versions,
    arrivals,
    receive,
    working_folder,
)
from pipeline.intake.inbox import InboxFile, files_by_unit, scan_inbox
from pipeline.locking import exclusive_lock, shared_lock
from pipeline.periods import closed_versions, is_closed
from pipeline.review import (
    Action,
    Actor,
    Decision,
    Outcome,
    approved_units,
    decide,
    decisions_file,
    held_files,
    hold,
    sync,
    sync_all,
    unit_history,
)
from pipeline.settings import Places, shown_moment
from pipeline.states import ArrivalState, Verdict
from pipeline.warehouse import (
    Load,
    OutdatedWarehouse,
    connect,
    create_schema,
    load_submissions,
    loaded_versions,
    warehouse_outdated,
    record_catalogue_lists,
)
from pipeline.catalogue.contract import PLAN_FILE
from pipeline.warehouse.restate import previous_on_units

CATCH_UP_BATCH = 250  # units checked and loaded together by the nightly catch-up (and by rebuild)
PLAN_UNIT = ""  # the plan workbook is the district's own, stored without a unit code
REBUILD_FOLDER = ".rebuild"


@dataclass
class IntakeResult(FindingCounts):
    period: str
    unit: str
    status: Verdict | ArrivalState
    file: Path | None = None
    file_hash: str = ""
    findings: list[Finding] = field(default_factory=list)
    values: int = 0
    newly_loaded: bool = False
    feedback: Path | None = None

    @property
    def status_label(self) -> str:
        return self.status.label


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
    """Each unit's latest file is archived, checked and loaded; older ones are superseded. A
    warehouse of an older schema version is first rebuilt from the archive (then the same again:
    archiving and holding a file twice changes nothing)."""
    try:
        return _take_in_latest_once(catalogue, places, files, period, now, workers)
    except OutdatedWarehouse:
        rebuild_if_outdated(catalogue, places)
        return _take_in_latest_once(catalogue, places, files, period, now, workers)


def _take_in_latest_once(catalogue: Catalogue, places: Places, files: dict[str, list[InboxFile]], period: str,
                         now: dt.datetime, workers: int = 1) -> list[IntakeResult]:
    results: dict[str, IntakeResult] = {}
    to_load = []
    with shared_lock(places.data), _writing(places.data / ".intake"), working_folder(places.data) as work:
        shutil.rmtree(places.data / REBUILD_FOLDER, ignore_errors=True)  # a killed rebuild's (none runs now)
        closed = is_closed(catalogue, places.out, period)
        locked = approved_units(places, catalogue, period) if places.locks(period) and not closed else {}
        receipts = _receive_all(places, period, files, now, work)
        for unit, mine in files.items():
            if not mine:
                results[unit] = IntakeResult(period, unit, ArrivalState.MISSING)
                continue
            latest, received = mine[-1], receipts[unit]
            if received is None:  # renamed, removed, replaced or made unreadable: the next look tells
                results[unit] = IntakeResult(period, unit, ArrivalState.GONE, file=latest.path)
                continue
            superseded = [finding(SUPERSEDED, latest=received.name, file=nfc(f.path.name), unit=unit)
                          for f in mine[:-1]]
            if closed:  # kept in the archive, not loaded; the sender is told why in the unit's feedback
                findings = [finding(PERIOD_CLOSED, period=period, file=received.name, unit=unit), *superseded]
                results[unit] = IntakeResult(period, unit, ArrivalState.CLOSED, file=latest.path, findings=findings,
                                             file_hash=received.file_hash)
                if unit != PLAN_UNIT:
                    results[unit].feedback = write_feedback(
                        feedback_dir(places.out, period) / unit_feedback_name(unit, period), catalogue,
                        CheckResult(received.copy, None, findings), period)
                continue
            if unit in locked and received.file_hash != locked[unit]:  # approved, locked: kept, not used
                hold(places, period, unit, received.file_hash, received.name, now)
                superseded.append(finding(HELD, file=received.name, period=period, unit=unit))
                received = replace(received, latest=False)
            to_load.append(Pending(received, unit, latest.path, superseded))
        results.update((r.unit, r) for r in _load(catalogue, places.warehouse, places.out, period, to_load, workers,
                                                   places.wait_seconds))
        if decisions_file(places.archive, period).exists():  # the decisions a killed review left unloaded
            with connect(places.warehouse, wait_seconds=places.wait_seconds) as conn:
                create_schema(conn)
                sync(conn, places.archive, period)
    return [results[unit] for unit in files]


RECEIVING_THREADS = 8  # files archived at once: each mostly waits for the disk (fsync), not the processor


def _receive_all(places: Places, period: str, files: dict[str, list[InboxFile]], now: dt.datetime,
                 work: Path) -> dict[str, Received | None]:
    """Each unit's latest file received (``_received_before`` or ``receive``, into its own folder
    of ``work``), several units at once: a national batch archives thousands of files, each
    flushed to disk twice. None for a unit whose file is gone or may not be read. A machine fault
    is raised once every receipt under way has ended: the first in the units' order, as one by
    one; units received meanwhile are archived whole and linked, not copied, next time."""

    def one(job: tuple[int, str, InboxFile]) -> Received | None:
        number, unit, latest = job
        try:
            with _writing(places.archive / period / (unit or PLAN)):
                return (_received_before(places.archive, period, unit, latest, work / str(number))
                        or receive(places.archive, period, unit, latest.path, now, work / str(number)))
        except (Vanished, Denied):
            return None

    jobs = [(number, unit, mine[-1]) for number, (unit, mine) in enumerate(files.items()) if mine]
    with ThreadPoolExecutor(max(1, min(RECEIVING_THREADS, len(jobs)))) as pool:
        receipts = list(pool.map(one, jobs))
    return {unit: received for (_, unit, _), received in zip(jobs, receipts)}


@contextmanager
def _writing(folder: Path) -> Iterator[None]:
    """A machine fault (disk full, no permission) met while archiving or copying a file: one
    Vietnamese line naming the file the system names, or else ``folder``."""
    try:
        yield
    except MachineError:
        raise
    except OSError as e:
        fault = machine_fault(e)
        if fault is None:
            raise
        raise machine_error(fault, fault.filename or folder) from None


def _received_before(archive: Path, period: str, unit: str, latest: InboxFile, work: Path) -> Received | None:
    """The inbox file as already received (the same name, size and modification time as a recorded
    arrival of the unit, whose content is archived): its archived content linked into ``work``,
    so a file is never copied twice (a full disk fails no unit already taken in). None: receive it."""
    log = arrivals(archive, period, unit)
    seen = next((a for a in reversed(log) if a.came_as(nfc(latest.path.name), latest.size, latest.mtime_ns,
                                                       latest.ctime_ns, latest.inode)), None)
    if seen is None:
        return None
    try:
        now = os.stat(latest.path, follow_symlinks=False)
    except FileNotFoundError:
        raise Vanished(latest.path) from None
    if not stat.S_ISREG(now.st_mode) or (now.st_size, now.st_mtime_ns) != (seen.size, seen.mtime_ns) or (
            seen.inode and (now.st_ctime_ns, now.st_ino) != (seen.ctime_ns, seen.inode)):
        raise Vanished(latest.path)  # removed, replaced or changed since the look: the next look takes it in
    copy = work / seen.original_name
    try:
        work.mkdir(parents=True, exist_ok=True)
        os.link(seen.path, copy)
    except OSError:  # another file system, a file system without links: copy it as a new file
        return None
    first = next(a for a in log if a.file_hash == seen.file_hash)
    return Received(first, seen.original_name, copy, log[-1].same_file(seen))


@dataclass(frozen=True)
class Pending:
    """A file received for ``unit``, to check and load, with the warnings about its unit's
    older files (stored with its own findings)."""

    received: Received
    unit: str
    source: Path  # where it was taken from (the inbox, or the archive for a rebuild)
    findings: list[Finding] = field(default_factory=list)


def _load(catalogue: Catalogue, warehouse: Path, out: Path | None, period: str, pending: list[Pending],
          workers: int, wait_seconds: float) -> list[IntakeResult]:
    """Check the files together, write their feedback under ``out`` (None: none), load them in one
    transaction (on one warehouse connection: opening DuckDB costs about 20 ms, and a district's run
    is one unit)."""
    if not pending:
        return []
    units = [p.unit for p in pending if p.unit != PLAN_UNIT]
    with connect(warehouse, wait_seconds=wait_seconds) as conn:
        create_schema(conn)
        record_catalogue_lists(conn, catalogue)
        checked = check_files(catalogue, [p.received.copy for p in pending], period,
                              previous_on_units(conn, catalogue, units, period), workers, [p.received.file_hash for p in pending])
        intakes, loads = [], []
        for item, result in zip(pending, checked):
            result.findings = sorted(result.findings + item.findings, key=sort_key)
            verdict = Verdict.VALID if result.accepted else Verdict.INVALID
            intake = IntakeResult(period, item.unit, verdict, file=item.source, findings=result.findings)
            if out is not None:
                feedback = feedback_dir(out, period) / feedback_name(result)
                if result.findings:
                    intake.feedback = write_feedback(feedback, catalogue, result, period)
                else:  # nothing to fix: no feedback, and none left from an earlier version
                    feedback.unlink(missing_ok=True)
            intakes.append(intake)
            if result.submission is None:
                continue
            intake.file_hash = result.submission.file_hash
            intake.values = sum(c.value is not None for c in result.submission.cells)
            version = item.received.version
            loads.append((intake, Load(result.submission, result.findings, version.received_at, version.relative_path,
                                       item.received.latest)))
        failpoint("intake.feedback")
        loaded = load_submissions(conn, [load for _, load in loads])
    failpoint("intake.loaded")
    for (intake, _), outcome in zip(loads, loaded):
        intake.newly_loaded = outcome.new
    return intakes


def rebuild_if_outdated(catalogue: Catalogue, places: Places) -> bool:
    """Rebuild a warehouse of another schema version from the archive (never migrated); whether
    it was. It takes the data folder alone: the caller holds none of its locks."""
    if not warehouse_outdated(places.warehouse, places.wait_seconds):
        return False
    rebuild(catalogue, places, only_if_outdated=True)
    return True


def rebuild(catalogue: Catalogue, places: Places, only_if_outdated: bool = False) -> list[IntakeResult]:
    """Recreate the warehouse from the archive alone: every recorded arrival, period by period,
    in the order received (a closed period: exactly the versions it was closed with). Exclusive
    with runs; the new warehouse is built aside and replaces the old one only when complete.
    ``only_if_outdated``: nothing when, by the time the folder is ours, another process has
    already rebuilt a warehouse of an older schema version."""
    with exclusive_lock(places.data, "rebuild", places.wait_seconds), working_folder(places.data) as work:
        if only_if_outdated and not warehouse_outdated(places.warehouse, places.wait_seconds):
            return []
        aside = places.data / REBUILD_FOLDER
        shutil.rmtree(aside, ignore_errors=True)  # what a killed rebuild left
        warehouse = aside / places.warehouse.name
        results = []
        periods = {}
        for period, unit in archived_units(places.archive):
            periods.setdefault(period, []).append(unit)
        for period, units in periods.items():
            versions, held = closed_versions(places.out, period), held_files(places.archive, period)
            for start in range(0, len(units), CATCH_UP_BATCH):
                replayed = [(unit, pair) for unit in units[start:start + CATCH_UP_BATCH]
                            for pair in _replay(places.archive, period, unit, versions)]
                pending = [_replayed(arrival, first, unit, work / period / str(start) / str(number),
                                     arrival.file_hash not in held.get(unit, ()))
                           for number, (unit, (arrival, first)) in enumerate(replayed)]
                results += _load(catalogue, warehouse, None, period, pending, 1, places.wait_seconds)
        with connect(warehouse, wait_seconds=places.wait_seconds) as conn:
            create_schema(conn)
            record_catalogue_lists(conn, catalogue)
            sync_all(conn, places.archive)  # the review decisions recorded with the archive
            conn.execute("CHECKPOINT")
        failpoint("rebuild.aside")
        Path(f"{places.warehouse}.wal").unlink(missing_ok=True)  # the old warehouse's, if a process died in it
        os.replace(warehouse, places.warehouse)
        failpoint("rebuild.swapped")
        shutil.rmtree(aside, ignore_errors=True)
    return results


def _replay(archive: Path, period: str, unit: str, versions: dict[str, str] | None) -> list[tuple[Archived, Archived]]:
    """A unit's arrivals to load again, each with its content's first arrival: all of them in
    order, or for a closed period the version it was closed with (none if it had none)."""
    firsts: dict[str, Archived] = {}
    pairs = [(a, firsts.setdefault(a.file_hash, a)) for a in arrivals(archive, period, unit)]
    if versions is None:
        return pairs
    return [pair for pair in pairs if pair[0].file_hash == versions.get(unit)][:1]


def _replayed(arrival: Archived, first: Archived, unit: str, work: Path, latest: bool = True) -> Pending:
    """An archived arrival as if received again: its content linked under the name it came as
    (``latest`` False: a file held by the review, never made current)."""
    work.mkdir(parents=True)
    copy = work / arrival.original_name
    os.link(arrival.path, copy)
    return Pending(Received(first, arrival.original_name, copy, latest=latest), unit, arrival.path)




@dataclass(frozen=True)
class Unidentified:
    """A file whose unit cannot be told: its findings, when it was received (None: refused
    unread) and its feedback workbook."""

    result: CheckResult
    received_at: dt.datetime | None
    feedback: Path


def unidentified_files(catalogue: Catalogue, places: Places, period: str, now: dt.datetime) -> list[Unidentified]:
    """Files of the period's inbox whose unit cannot be read or is not in the unit list: each
    is archived and gets its findings and a feedback workbook, so nothing goes unnoticed.
    Refused entries (links, pipes, outside the inbox) get theirs without being read or archived."""
    results = []
    units = {u.code for u in catalogue.units_in(period)}
    with shared_lock(places.data), working_folder(places.data) as work:
        for number, entry in enumerate(scan_inbox(places.inbox, period, places.inbox_index(period))):
            if entry.identity is not None and (entry.identity.file_kind == PLAN_FILE or entry.identity.unit_code in units):
                continue
            received_at = None
            if entry.refused:
                result = CheckResult(entry.path, None, [entry.refused])
            else:
                try:
                    received = receive(places.archive, period, UNIDENTIFIED, entry.path, now, work / str(number))
                except (Vanished, Denied):
                    continue  # gone or changed meanwhile: the next look sees it
                result = check_files(catalogue, [received.copy], period, hashes=[received.file_hash])[0]
                result.path = entry.path
                received_at = received.version.received_at
            feedback = write_feedback(feedback_dir(places.out, period) / feedback_name(result), catalogue, result, period)
            results.append(Unidentified(result, received_at, feedback))
    return results


def catch_up(catalogue: Catalogue, places: Places, period: str, now: dt.datetime, workers: int = 1,
             progress: Callable[[str], None] = lambda _: None) -> list[IntakeResult]:
    """Take in every unit whose latest inbox file is not taken in yet (what the sensor has not
    seen), in batches of ``CATCH_UP_BATCH`` units, telling ``progress`` after each; units already
    up to date are neither read nor checked again."""
    behind = untaken(catalogue, places, period, workers)
    results = []
    for start in range(0, len(behind), CATCH_UP_BATCH):
        results += _take_in_latest(catalogue, places, dict(behind[start:start + CATCH_UP_BATCH]), period, now, workers)
        progress(f"Kỳ {period}: đã tiếp nhận {show_number(len(results))}/{show_number(len(behind))} đơn vị")
    return results


def untaken(catalogue: Catalogue, places: Places, period: str, workers: int = 1) -> list[tuple[str, list[InboxFile]]]:
    """The units whose latest inbox file of the period is not taken in yet (a run is queued or
    under way for them, or the sensor has not looked yet), each with its files."""
    with connect(places.warehouse, wait_seconds=places.wait_seconds) as conn:
        create_schema(conn)
        loaded = loaded_versions(conn, period)
    files = files_by_unit(scan_inbox(places.inbox, period, places.inbox_index(period), workers))
    held = held_files(places.archive, period)
    return [(unit.code, files[unit.code]) for unit in catalogue.units_in(period)
            if unit.code in files and not _up_to_date(arrivals(places.archive, period, unit.code),
                                                      files[unit.code][-1], loaded, unit.code,
                                                      held.get(unit.code, set()))]


def _up_to_date(log: list[Archived], latest: InboxFile, loaded: dict[tuple[str, str], tuple[bool, bool]],
                unit: str, held: set[str]) -> bool:
    """The unit's latest inbox file is a recorded arrival, loaded; and the unit's latest
    arrival, if valid and not held by the review, is its current version."""
    seen = next((a for a in log if a.came_as(nfc(latest.path.name), latest.size, latest.mtime_ns, latest.ctime_ns,
                                             latest.inode)), None)
    if seen is None and log and latest.file_hash == log[-1].file_hash:
        seen = log[-1]  # the content of the unit's latest arrival under a new status (a data folder restored)
    if seen is None or (unit, seen.file_hash) not in loaded:
        return False
    valid, current = loaded.get((unit, log[-1].file_hash), (False, False))
    return current or not valid or log[-1].file_hash in held


def decide_and_tell(catalogue: Catalogue, places: Places, period: str, units: list[str], action: Action,
                    actor: Actor, now: dt.datetime, comment: str = "", version: str | None = None) -> list[Outcome]:
    """``pipeline.review.decide``, and for every unit returned, its feedback workbook written again
    with the officer's comments on its version in use: the unit reads them beside its findings."""
    outcomes = decide(catalogue, places, period, units, action, actor, now, comment, version)
    for outcome in outcomes:
        if outcome.decision is not None and action == Action.RETURN:
            _feedback_with_comments(catalogue, places, period, outcome.decision)
    return outcomes


def _feedback_with_comments(catalogue: Catalogue, places: Places, period: str, returned: Decision) -> Path:
    """The unit's feedback of the returned version, checked again from the archive's copy."""
    comments = [f"{d.by}, {shown_moment(d.at)}: {d.comment}"
                for d in unit_history(places, period, returned.unit)
                if d.action == Action.RETURN and d.file_hash == returned.file_hash and d.comment]
    version = next(v for v in archived_versions(places.archive, period, returned.unit)
                   if v.file_hash == returned.file_hash)
    result = check_files(catalogue, [version.path], period, hashes=[returned.file_hash])[0]
    result.path = Path(returned.file_name)
    return write_feedback(feedback_dir(places.out, period) / feedback_name(result), catalogue, result, period, comments)
