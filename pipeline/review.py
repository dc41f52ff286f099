"""The review of units' reports: an officer approves a unit's version in use, or returns it
with a comment; the command line and the page call the same functions (``decide``), which
check the actor, the period, the unit's state and the version seen, then record.

A decision is a record kept with the archive, ``archive/<period>/xet-duyet.jsonl``: one JSON
line per decision (who, role, when, the version by file hash, the resulting state, the
comment), appended in one write and flushed to disk before anything else knows of it, never
rewritten. So ``rebuild`` restores the decisions and a closed period keeps them. The
warehouse's ``review_decisions`` table is loaded from the records (``sync``) after each
decision and on every intake and rebuild; a process killed between the record and the table
leaves a record the next run loads. A line torn by a kill is skipped, and the next decision
starts on a line of its own. Every decision is written to the audit log too.

A unit's state (``ReviewState``) follows from its versions and the last decision on it: a
valid version decided on is "đã duyệt" or "cần giải trình"; a newer valid version is "đã
nhận" again (the earlier decisions stay in the records); a newer file with errors is "có lỗi".
In a period the settings lock (``review_lock``), intake holds a new file of an approved unit
instead: loaded but not used, recorded as a ``hold``, until an officer reopens the unit with a
reason (then the held file is taken in).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from decimal import Decimal
from enum import StrEnum
from pathlib import Path

import duckdb

from pipeline.audit import append_audit
from pipeline.catalogue import Catalogue
from pipeline.errors import UserError
from pipeline.failpoints import failpoint
from pipeline.files import machine_faults
from pipeline.locking import shared_lock
from pipeline.periods import is_closed
from pipeline.settings import Places, shown_time
from pipeline.states import ReviewState
from pipeline.text import name_list, nfc, show_number
from pipeline.warehouse import connect, create_schema, previous_values
from pipeline.warehouse.decisions import (
    ReviewedVersion,
    current_and_previous_version,
    decision_ids,
    load_decisions,
    period_decisions,
    reviewed_versions,
    version_findings,
)

DECISIONS_FILE = "xet-duyet.jsonl"
LOCK_FILE = ".xet-duyet.lock"
OFFICER, UNIT = "officer", "unit"  # the roles of pipeline.web.access's accounts
REPLY_LENGTH = 2000  # characters of a unit's written reply
PERIOD_WIDE = ""  # the unit of a decision about the whole period (closing without every approval)


class Action(StrEnum):
    APPROVE = "approve"
    RETURN = "return"
    REOPEN = "reopen"  # an approved unit opened again, with a reason: its held file is taken in
    CLOSE_OVERRIDE = "close_override"  # close-period with units not approved, and why
    HOLD = "hold"  # intake: a new file of an approved unit kept aside (the period locks approved units)
    REPLY = "reply"  # a returned unit's written answer to the officer's comment (its state unchanged)


ACTION_WORDS = {Action.APPROVE: "duyệt", Action.RETURN: "trả lại", Action.REOPEN: "mở lại"}
RESULTS = {Action.APPROVE: ReviewState.APPROVED, Action.RETURN: ReviewState.RETURNED,
           Action.REOPEN: ReviewState.RECEIVED}


class ReviewRefused(UserError):
    """A decision refused; the message is Vietnamese and says why."""


@dataclass(frozen=True)
class Actor:
    """Who decides: a name, the role of the account (``OFFICER`` or ``UNIT``) and, for a
    unit's account, its unit code."""

    name: str
    role: str
    unit: str = ""


@dataclass(frozen=True)
class Decision:
    id: str
    period: str
    unit: str
    action: str
    state: str  # the ReviewState it leaves the unit in ("" for a period-wide decision)
    file_hash: str
    file_name: str
    by: str
    role: str
    at: str  # ISO, Vietnam's wall clock
    comment: str

    def row(self, seq: int) -> tuple:
        """The warehouse row (``DECISION_COLUMNS``)."""
        return (self.id, seq, self.period, self.unit, self.action, self.state, self.file_hash, self.file_name,
                self.by, self.role, dt.datetime.fromisoformat(self.at), self.comment)

    @classmethod
    def of_row(cls, row: tuple) -> Decision:
        i, _, period, unit, action, state, file_hash, file_name, by, role, at, comment = row
        return cls(i, period, unit, action, state, file_hash, file_name, by, role, at.isoformat(), comment)

    @property
    def summary(self) -> str:
        """"đã duyệt – Nguyễn Văn A, 2023-08-12 09:00:00: ý kiến"."""
        said = f": {self.comment}" if self.comment else ""
        return f"{ReviewState(self.state).label.lower()} – {self.by}, {shown_time(self.at)}{said}"


@dataclass(frozen=True)
class UnitReview:
    """A unit's review in a period: its state, the version in use and the last decision on it."""

    unit: str
    name: str
    state: ReviewState
    file_hash: str
    file_name: str
    received_at: str
    last: Decision | None

    def as_dict(self) -> dict:
        return {"unit": self.unit, "name": self.name, "state": str(self.state), "state_label": self.state.label,
                "file_hash": self.file_hash, "file_name": self.file_name, "received_at": self.received_at,
                "last_decision": asdict(self.last) if self.last else None}


@dataclass(frozen=True)
class Outcome:
    """A decision taken, or refused with the Vietnamese reason."""

    unit: str
    decision: Decision | None = None
    refusal: str = ""


@dataclass(frozen=True)
class ReviewMark:
    """What the published set says of the review: the expected units approved, and the reason
    an officer closed the period without all of them ("" if none)."""

    approved: frozenset[str]
    override: str = ""
    level: str = "huyện"  # the reporting body's level word (regimes.toml): whose officers review

    def note(self, expected: list[str]) -> str:
        """The completeness note's line on the review of the Biểu's expected units (codes)."""
        approved = sum(code in self.approved for code in expected)
        return f"Cán bộ {self.level} đã duyệt báo cáo của {show_number(approved)}/{show_number(len(expected))} đơn vị."

    def draft(self, expected: list[str]) -> bool:
        """The set is a draft (DỰ THẢO – chưa duyệt đủ) until every expected unit is approved."""
        return not self.approved.issuperset(expected)


# --------------------------------------------------------------------------- the records


def decisions_file(archive: Path, period: str) -> Path:
    return archive / period / DECISIONS_FILE


def read_decisions(archive: Path, period: str) -> list[Decision]:
    """The period's recorded decisions in the order taken (a torn or damaged line skipped)."""
    try:
        text = decisions_file(archive, period).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    decisions = []
    for line in text.split("\n")[:-1]:  # the part after the last newline is a line a kill tore
        try:
            decisions.append(Decision(**json.loads(line)))
        except (ValueError, TypeError):
            continue
    return decisions


def _append(archive: Path, decision: Decision) -> None:
    """Append the decision's line in one write and flush it (and a new file's name) to disk. A
    line torn by a kill is closed first, so it never swallows this one."""
    path = decisions_file(archive, decision.period)
    line = json.dumps(asdict(decision), ensure_ascii=False) + "\n"
    with machine_faults(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        created = not path.exists()
        descriptor = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            size = os.fstat(descriptor).st_size
            if size and os.pread(descriptor, 1, size - 1) != b"\n":
                line = "\n" + line
            os.write(descriptor, line.encode())
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        if created:
            folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)


def held_files(archive: Path, period: str) -> dict[str, set[str]]:
    """Each unit's files (by hash) held since its approval, not reopened since."""
    held: dict[str, set[str]] = {}
    for decision in read_decisions(archive, period):
        if decision.action == Action.HOLD:
            held.setdefault(decision.unit, set()).add(decision.file_hash)
        elif decision.action == Action.REOPEN:
            held.pop(decision.unit, None)
    return held


def hold(places: Places, period: str, unit: str, file_hash: str, file_name: str, now: dt.datetime) -> None:
    """Record that intake held a new file of an approved unit (once per file; the caller holds the
    data folder's shared lock, as intake does)."""
    with _decision_lock(places, period):
        if file_hash in held_files(places.archive, period).get(unit, set()):
            return
        record(places, Decision(_new_id(now), period, unit, Action.HOLD, ReviewState.APPROVED, file_hash, file_name,
                                "tiếp nhận tự động", "system", now.isoformat(timespec="seconds"), ""))


def approved_units(places: Places, catalogue: Catalogue, period: str) -> dict[str, str]:
    """The period's approved units -> the approved version's hash (the records loaded first)."""
    with connect(places.warehouse, wait_seconds=places.wait_seconds) as conn:
        create_schema(conn)
        sync(conn, places.archive, period)
        return {r.unit: r.file_hash for r in unit_reviews(conn, catalogue, period) if r.state == ReviewState.APPROVED}


def sync(conn: duckdb.DuckDBPyConnection, archive: Path, period: str) -> int:
    """Load into the warehouse the period's recorded decisions it does not hold yet (all of them
    into a new warehouse; the ones a killed process recorded only); returns how many are recorded."""
    known, recorded = decision_ids(conn, period), read_decisions(archive, period)
    load_decisions(conn, [d.row(seq) for seq, d in enumerate(recorded) if d.id not in known])
    return len(recorded)


def sync_all(conn: duckdb.DuckDBPyConnection, archive: Path) -> None:
    """``sync`` every period with recorded decisions (a rebuild)."""
    for path in sorted(archive.glob(f"*/{DECISIONS_FILE}")) if archive.is_dir() else []:
        sync(conn, archive, path.parent.name)


def decisions_since(archive: Path, seen: dict[str, str]) -> dict[str, list[Decision]]:
    """Each period with recorded decisions -> those after the one ``seen`` names (all of them
    when it names none): what a sensor watching the records has not acted on yet."""
    new = {}
    for path in sorted(archive.glob(f"*/{DECISIONS_FILE}")) if archive.is_dir() else []:
        decisions = read_decisions(archive, path.parent.name)
        ids = [d.id for d in decisions]
        last = seen.get(path.parent.name)
        new[path.parent.name] = decisions[ids.index(last) + 1:] if last in ids else decisions
    return new


# --------------------------------------------------------------------------- states


def _state(version: ReviewedVersion | None, last: Decision | None) -> ReviewState:
    if version is None:
        return ReviewState.MISSING
    if version.file_hash is None or version.newer_invalid:
        return ReviewState.INVALID
    if last is not None and last.file_hash == version.file_hash:
        return ReviewState(last.state)
    return ReviewState.RECEIVED


def unit_reviews(conn: duckdb.DuckDBPyConnection, catalogue: Catalogue, period: str) -> list[UnitReview]:
    """Every unit expected in the period, in list order, with its review (from the warehouse)."""
    versions = reviewed_versions(conn, period)
    last: dict[str, Decision] = {}
    for row in period_decisions(conn, period):
        decision = Decision.of_row(row)
        if decision.action in ACTION_WORDS:
            last[decision.unit] = decision
    reviews = []
    for unit in catalogue.units_in(period):
        version = versions.get(unit.code)
        reviews.append(UnitReview(unit.code, unit.name, _state(version, last.get(unit.code)),
                                  version.file_hash or "" if version else "", version.file_name or "" if version else "",
                                  shown_time(version.received_at) if version else "", last.get(unit.code)))
    return reviews


def review_mark(conn: duckdb.DuckDBPyConnection, catalogue: Catalogue, period: str, final: bool = False) -> ReviewMark:
    """The review as the published set tells it (from the warehouse); a final set closed without
    every approval carries the reason of the last close-period that overrode it."""
    reviews = unit_reviews(conn, catalogue, period)
    approved = frozenset(r.unit for r in reviews if r.state == ReviewState.APPROVED)
    overrides = [d for d in map(Decision.of_row, period_decisions(conn, period)) if d.action == Action.CLOSE_OVERRIDE]
    override = ""
    if final and overrides and len(approved) < len(reviews):
        o = overrides[-1]
        override = f"Khóa sổ khi chưa duyệt đủ các đơn vị, theo quyết định của {o.by} lúc {shown_time(o.at)}: {o.comment}"
    return ReviewMark(approved, override, catalogue.body(period).level)


def review_list(catalogue: Catalogue, places: Places, period: str) -> list[UnitReview]:
    """The period's reviews, the records loaded first (what a killed process left)."""
    _known_period(catalogue, period)
    with shared_lock(places.data), connect(places.warehouse, wait_seconds=places.wait_seconds) as conn:
        create_schema(conn)
        sync(conn, places.archive, period)
        return unit_reviews(conn, catalogue, period)


def unit_history(places: Places, period: str, unit: str) -> list[Decision]:
    """One unit's decisions and its written replies in the order taken (the approvals a newer
    file superseded included): what the unit's own page shows it, never another unit's comments."""
    return [d for d in read_decisions(places.archive, period)
            if d.unit == unit and (d.action in ACTION_WORDS or d.action == Action.REPLY)]


@dataclass(frozen=True)
class Change:
    """A figure of a unit's version in use against its previous valid version in the period and
    its latest valid version of an earlier period (None where there is none or it is the same)."""

    form: str
    label: str
    value: Decimal | None
    before_version: Decimal | None
    before_period: Decimal | None

    @property
    def share(self) -> Decimal:
        """The largest relative change, signed (a fall is negative); its size orders the changes,
        large ones first."""
        def of(before: Decimal | None) -> Decimal:
            if before is None or before == (self.value or 0):
                return Decimal(0)
            return ((self.value or 0) - before) / max(abs(before), Decimal(1))
        return max(of(self.before_version), of(self.before_period), key=abs)


@dataclass(frozen=True)
class Examination:
    """What an officer looks at before deciding on a unit: its review, the findings of its
    version in use and the changes of its figures, the largest first."""

    review: UnitReview
    findings: list[dict]
    changes: list[Change]
    earlier_version: bool  # whether the unit sent a valid version before the one in use
    earlier_period: bool  # whether the unit has figures of an earlier period


def examine(catalogue: Catalogue, places: Places, period: str, unit: str) -> Examination | None:
    """The unit's version in use against its previous valid version and its previous period's
    figures (``previous_values``); None for a unit not expected in the period."""
    _known_period(catalogue, period)
    with shared_lock(places.data), connect(places.warehouse, wait_seconds=places.wait_seconds) as conn:
        create_schema(conn)
        sync(conn, places.archive, period)
        review = next((r for r in unit_reviews(conn, catalogue, period) if r.unit == unit), None)
        if review is None:
            return None
        now, earlier = current_and_previous_version(conn, period, unit)
        last_period = previous_values(conn, [unit], period).get(unit, {})
        findings = version_findings(conn, period, unit)
    changes = []
    for ref in sorted(set(now) | set(earlier) | set(last_period), key=str):
        value, version, before = now.get(ref), earlier.get(ref), last_period.get(ref)
        change = Change(ref.form, catalogue.form(ref.form).cell_label(ref), value,
                        version if earlier and version != value else None, before if before != value else None)
        if change.before_version is not None or change.before_period is not None:
            changes.append(change)
    return Examination(review, findings, sorted(changes, key=lambda c: -abs(c.share)), bool(earlier), bool(last_period))


# --------------------------------------------------------------------------- decisions


def refuse_unapproved_close(catalogue: Catalogue, places: Places, period: str, now: dt.datetime,
                            override: str = "", by: str = "") -> list[UnitReview]:
    """Before close-period (which holds the data folder alone): every expected unit must be
    approved, or an officer overrides with a reason, recorded as a decision on the whole period
    (and printed in the final set's sources). Returns the units not approved."""
    with connect(places.warehouse, wait_seconds=places.wait_seconds) as conn:
        create_schema(conn)
        sync(conn, places.archive, period)
        pending = [r for r in unit_reviews(conn, catalogue, period) if r.state != ReviewState.APPROVED]
        if not pending:
            return []
        names = name_list([r.name for r in pending])
        if not override.strip():
            raise ReviewRefused(
                f"Chưa khóa sổ kỳ {period}: còn {show_number(len(pending))} đơn vị chưa được duyệt ({names}). Hãy duyệt "
                f"(python -m pipeline review approve {period} MÃ… --by TÊN), hoặc khóa sổ kèm lý do "
                f'(close-period {period} --override "lý do" --by TÊN).')
        if not by.strip():
            raise ReviewRefused("Khóa sổ khi chưa duyệt đủ phải có tên cán bộ quyết định (--by TÊN).")
        record(places, Decision(_new_id(now), period, PERIOD_WIDE, Action.CLOSE_OVERRIDE, "", "", "",
                                nfc(by.strip()), OFFICER, now.isoformat(timespec="seconds"),
                                nfc(f"{override.strip()} (chưa duyệt: {names})")))
        sync(conn, places.archive, period)
    return pending


def _known_period(catalogue: Catalogue, period: str) -> None:
    if period not in catalogue.periods:
        raise ReviewRefused(f'Không có kỳ báo cáo "{period}" (có: {", ".join(catalogue.periods)}).')


@contextmanager
def _decision_lock(places: Places, period: str) -> Iterator[None]:
    """One writer of a period's records at a time (what is checked is what is recorded, and each
    record's place in the order is known)."""
    lock = places.archive / period / LOCK_FILE
    with machine_faults(lock):
        lock.parent.mkdir(parents=True, exist_ok=True)
        held = lock.open("w")
    with held:
        fcntl.flock(held, fcntl.LOCK_EX)
        yield


def _refusal(catalogue: Catalogue, places: Places, period: str, review: UnitReview | None, unit: str,
             action: Action, actor: Actor, comment: str, version: str | None) -> str:
    """Why ``actor`` may not take this decision ("" if it may)."""
    word = ACTION_WORDS[action]
    if actor.role != OFFICER:
        return (f"Chỉ cán bộ huyện được {word} báo cáo; tài khoản của đơn vị "
                f"{actor.unit or actor.name} không được {word} báo cáo (kể cả của chính mình).")
    if not actor.name.strip():
        return f"Hãy cho biết tên người {word} báo cáo."
    if is_closed(catalogue, places.out, period):
        return f"Kỳ {period} đã khóa sổ: không {word} báo cáo được nữa (mở lại kỳ bằng lệnh reopen-period {period})."
    if review is None:
        return f'Không có đơn vị mã "{unit}" trong danh sách đơn vị báo cáo kỳ {period}.'
    if action == Action.RETURN and not comment.strip():
        return f"Trả lại báo cáo của {review.name} phải kèm ý kiến: đơn vị cần biết phải giải trình hay sửa gì."
    if review.state == ReviewState.MISSING:
        return f"{review.name} chưa nộp báo cáo kỳ {period}: chưa có gì để {word}."
    if review.state == ReviewState.INVALID:
        return (f"Báo cáo mới nhất của {review.name} kỳ {period} có lỗi: chưa {word} được; "
                "đơn vị sửa theo tệp phản hồi rồi gửi lại.")
    if version is not None and version != review.file_hash:
        return (f"{review.name} đã gửi phiên bản khác ({review.file_name}, nhận lúc {review.received_at}) "
                f"sau khi anh/chị xem: hãy xem phiên bản này rồi {word} lại.")
    if action == Action.APPROVE and review.state == ReviewState.APPROVED:
        return f"Phiên bản đang dùng của {review.name} ({review.file_name}) đã được duyệt rồi."
    if action == Action.REOPEN and review.state != ReviewState.APPROVED:
        return f"Báo cáo của {review.name} chưa được duyệt ({review.state.label.lower()}): không cần mở lại."
    if action == Action.REOPEN and not comment.strip():
        return f"Mở lại báo cáo đã duyệt của {review.name} phải kèm lý do."
    return ""


def decide(catalogue: Catalogue, places: Places, period: str, units: list[str], action: Action, actor: Actor,
           now: dt.datetime, comment: str = "", version: str | None = None) -> list[Outcome]:
    """Approve, return or reopen each of ``units`` (their version in use, which must be ``version``,
    the file hash the decider saw, when given): each is checked and recorded on its own, the
    refused ones with the reason. Raises ``ReviewRefused`` for an unknown period."""
    _known_period(catalogue, period)
    comment, outcomes = nfc(comment.strip()), []
    with shared_lock(places.data), _decision_lock(places, period), \
            connect(places.warehouse, wait_seconds=places.wait_seconds) as conn:  # never while closed or rebuilt
        create_schema(conn)
        recorded = sync(conn, places.archive, period)
        reviews = {r.unit: r for r in unit_reviews(conn, catalogue, period)}
        for unit in units:
            review = reviews.get(unit)
            refusal = _refusal(catalogue, places, period, review, unit, action, actor, comment, version)
            if refusal:
                outcomes.append(Outcome(unit, refusal=refusal))
                continue
            state = RESULTS[action]
            decision = record(places, Decision(_new_id(now), period, unit, action, state, review.file_hash,
                                               review.file_name, nfc(actor.name.strip()), actor.role,
                                               now.isoformat(timespec="seconds"), comment))
            failpoint("review.recorded")
            reviews[unit] = UnitReview(unit, review.name, state, review.file_hash, review.file_name,
                                       review.received_at, decision)
            outcomes.append(Outcome(unit, decision))
        taken = [o.decision for o in outcomes if o.decision]
        load_decisions(conn, [d.row(seq) for seq, d in enumerate(taken, start=recorded)])  # one transaction
    return outcomes


def reply(catalogue: Catalogue, places: Places, period: str, actor: Actor, now: dt.datetime, text: str) -> Outcome:
    """A returned unit's written answer to the officer's comment, kept as a record of its own
    (``Action.REPLY``) on the version in use; the unit stays "cần giải trình" until an officer
    decides. Only the unit's own account may answer, and only while it is returned."""
    _known_period(catalogue, period)
    text, unit = nfc(text.strip()), actor.unit
    with shared_lock(places.data), _decision_lock(places, period), \
            connect(places.warehouse, wait_seconds=places.wait_seconds) as conn:
        create_schema(conn)
        recorded = sync(conn, places.archive, period)
        review = next((r for r in unit_reviews(conn, catalogue, period) if r.unit == unit), None)
        if actor.role != UNIT or not unit:
            refusal = "Chỉ tài khoản của đơn vị được trả lời ý kiến của cán bộ huyện về báo cáo của mình."
        elif is_closed(catalogue, places.out, period):
            refusal = f"Kỳ {period} đã khóa sổ: không gửi giải trình được nữa."
        elif review is None:
            refusal = f'Không có đơn vị mã "{unit}" trong danh sách đơn vị báo cáo kỳ {period}.'
        elif review.state != ReviewState.RETURNED:
            refusal = (f"Báo cáo của {review.name} đang ở trạng thái “{review.state.label.lower()}”: "
                       "chưa có ý kiến nào của huyện cần trả lời.")
        elif not text:
            refusal = "Hãy viết nội dung giải trình trước khi gửi."
        elif len(text) > REPLY_LENGTH:
            refusal = f"Nội dung giải trình quá dài (tối đa {show_number(REPLY_LENGTH)} ký tự): hãy viết ngắn gọn hơn."
        else:
            refusal = ""
        if refusal:
            return Outcome(unit, refusal=refusal)
        decision = record(places, Decision(_new_id(now), period, unit, Action.REPLY, ReviewState.RETURNED,
                                           review.file_hash, review.file_name, nfc(actor.name.strip()), UNIT,
                                           now.isoformat(timespec="seconds"), text))
        load_decisions(conn, [decision.row(recorded)])
    return Outcome(unit, decision)


def record(places: Places, decision: Decision) -> Decision:
    """Keep a decision: its record with the archive, then its audit line. The caller holds what
    makes it consistent (``decide``: the period's decision lock; close-period: the data folder)."""
    _append(places.archive, decision)
    append_audit(places.data, f"review_{decision.action}", dt.datetime.fromisoformat(decision.at), places.audit,
                 period=decision.period, unit=decision.unit, by=decision.by, role=decision.role,
                 file_hash=decision.file_hash, state=decision.state, comment=decision.comment)
    return decision


def _new_id(now: dt.datetime) -> str:
    return f"{now:%Y%m%dT%H%M%S}-{secrets.token_hex(6)}"
