"""Takes in one unit's submission for a period: find its latest file in the inbox, read it,
judge it, and load it into the warehouse as a new version. Plain Python, called by the
Dagster asset of a unit partition and usable without Dagster."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.catalogue import Catalogue
from pipeline.inbox import scan_inbox, unit_files
from pipeline.reader import Submission, UnreadableWorkbook, read_workbook
from pipeline.rules import violations
from pipeline.warehouse import INVALID, VALID, connect, ensure_schema, load_submission

MISSING = "missing"
STATUS_LABELS = {VALID: "Hợp lệ", INVALID: "Không hợp lệ", MISSING: "Chưa nộp"}
ERROR_PROBLEMS = {"empty", "not_number", "missing_code", "missing_sheet"}
WARNING_PROBLEMS = {"text_number"}


@dataclass
class IntakeResult:
    period: str
    unit: str
    status: str
    file: Path | None = None
    file_hash: str = ""
    errors: int = 0
    warnings: int = 0
    values: int = 0
    newly_loaded: bool = False
    other_files: list[Path] = field(default_factory=list)

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]


def count_problems(catalogue: Catalogue, submission: Submission, period: str) -> tuple[int, int]:
    """(errors, warnings) of a unit submission: identity, cells and the catalogue's rules."""
    errors = warnings = 0
    if submission.unit_code not in {u.code for u in catalogue.units}:
        errors += 1
    if submission.period != period:
        errors += 1
    if submission.template_version != catalogue.version:
        errors += 1
    values = {}
    for cell in submission.cells:
        errors += cell.problem in ERROR_PROBLEMS
        warnings += cell.problem in WARNING_PROBLEMS
        values[cell.ref] = cell.value
    for form in catalogue.forms.values():
        for violation in violations(catalogue, form, values):
            if violation.rule.severity == "error":
                errors += 1
            else:
                warnings += 1
    return errors, warnings


def take_in_unit(catalogue: Catalogue, inbox: Path, warehouse: Path, period: str, unit: str,
                 received_at: dt.datetime) -> IntakeResult:
    """Load the unit's latest file for the period; a unit with no file is reported missing."""
    files = unit_files(scan_inbox(inbox, period), unit)
    if not files:
        return IntakeResult(period, unit, MISSING)
    latest = files[-1]
    result = IntakeResult(period, unit, INVALID, file=latest.path, other_files=[f.path for f in files[:-1]])
    try:
        submission = read_workbook(latest.path, catalogue)
    except UnreadableWorkbook:
        result.errors = 1
        return result
    result.errors, result.warnings = count_problems(catalogue, submission, period)
    result.status = VALID if result.errors == 0 else INVALID
    result.file_hash = submission.file_hash
    result.values = sum(c.value is not None for c in submission.cells)
    with connect(warehouse) as conn:
        ensure_schema(conn, catalogue)
        loaded = load_submission(conn, submission, result.status, result.errors, result.warnings, received_at)
    result.newly_loaded = loaded.new
    return result
