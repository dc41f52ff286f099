"""Takes in one unit's submission for a period: find its latest file in the inbox, check it,
load it into the warehouse as a new version with its findings, and write the unit's
feedback workbook. Plain Python, called by the Dagster asset of a unit partition."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.catalogue import Catalogue
from pipeline.feedback import feedback_name, write_feedback
from pipeline.findings import SUPERSEDED, WARNING, Finding, counts, nfc
from pipeline.inbox import InboxFile, scan_inbox, unit_files
from pipeline.template import PLAN_FILE
from pipeline.validation import CheckResult, check_files
from pipeline.warehouse import INVALID, VALID, connect, ensure_schema, load_submission, previous_values

MISSING = "missing"
PLAN_UNIT = ""  # the plan workbook is the district's own, stored without a unit code
STATUS_LABELS = {VALID: "Hợp lệ", INVALID: "Không hợp lệ", MISSING: "Chưa nộp"}


@dataclass
class IntakeResult:
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

    @property
    def errors(self) -> int:
        return counts(self.findings)[0]

    @property
    def warnings(self) -> int:
        return counts(self.findings)[1]


def feedback_dir(out: Path, period: str) -> Path:
    return out / period / "phan-hoi"


def take_in_unit(catalogue: Catalogue, inbox: Path, warehouse: Path, out: Path, period: str, unit: str,
                 received_at: dt.datetime) -> IntakeResult:
    """Check and load the unit's latest file for the period; older files of the same unit in
    the inbox are reported as superseded. A unit with no file is reported missing."""
    return _take_in_latest(catalogue, unit_files(scan_inbox(inbox, period), unit), warehouse, out, period, unit,
                           received_at)


def take_in_plan(catalogue: Catalogue, inbox: Path, warehouse: Path, out: Path, period: str,
                 received_at: dt.datetime) -> IntakeResult:
    """The same for the district's plan workbook of the period (stored under the unit key "")."""
    files = [f for f in scan_inbox(inbox, period) if f.identity and f.identity.file_kind == PLAN_FILE]
    return _take_in_latest(catalogue, files, warehouse, out, period, PLAN_UNIT, received_at)


def _take_in_latest(catalogue: Catalogue, files: list[InboxFile], warehouse: Path, out: Path, period: str,
                    unit: str, received_at: dt.datetime) -> IntakeResult:
    if not files:
        return IntakeResult(period, unit, MISSING)
    latest, older = files[-1], files[:-1]
    with connect(warehouse) as conn:
        ensure_schema(conn, catalogue)
        earlier = previous_values(conn, unit, period) if unit != PLAN_UNIT else {}
    result = check_files(catalogue, [latest.path], period, {unit: earlier})[0]
    result.findings += [
        Finding(WARNING, SUPERSEDED, f'Tệp "{nfc(f.path.name)}" của cùng đơn vị nhận trước tệp "{nfc(latest.path.name)}": '
                "chỉ dùng tệp nhận sau cùng.", file=nfc(f.path.name), unit=unit)
        for f in older
    ]
    intake = IntakeResult(period, unit, VALID if result.accepted else INVALID, file=latest.path,
                          findings=result.findings)
    intake.feedback = write_feedback(feedback_dir(out, period) / feedback_name(result), catalogue, result, period)
    if result.submission is None:
        return intake
    intake.file_hash = result.submission.file_hash
    intake.values = sum(c.value is not None for c in result.submission.cells)
    with connect(warehouse) as conn:
        loaded = load_submission(conn, result.submission, result.findings, received_at)
    intake.newly_loaded = loaded.new
    return intake


def unidentified_files(catalogue: Catalogue, inbox: Path, out: Path, period: str) -> list[CheckResult]:
    """Files of the period's inbox whose unit cannot be read: each gets its findings and a
    feedback workbook, so that nothing received goes unnoticed."""
    results = []
    for entry in scan_inbox(inbox, period):
        if entry.identity is None:
            result = check_files(catalogue, [entry.path], period)[0]
            write_feedback(feedback_dir(out, period) / feedback_name(result), catalogue, result, period)
            results.append(result)
    return results
