"""Checks submissions and turns every problem into a finding, all at once.

Structure (readable file, template version, unit, period, sheets and hidden codes), the
cells as people typed them (numbers as text, non-numbers), the catalogue's pandera
schemas (types, required cells, rules; one pass per form over the whole batch), and the
warnings across forms: outputs without funds, funds without outputs, and large changes
from the unit's last valid period.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from pipeline.catalogue import Catalogue, Ref
from pipeline.checking.findings import (
    EMPTY,
    FUNDS_WITHOUT_OUTPUTS,
    INFO_FIELD,
    LARGE_CHANGE,
    MISSING_CODE,
    MISSING_SHEET,
    NUMBER_OUTSIDE,
    NOT_NUMBER,
    NOT_YES_NO,
    OUT_OF_RANGE,
    OUTDATED_TEMPLATE,
    OUTPUTS_WITHOUT_FUNDS,
    TEXT_NUMBER,
    TOTAL_TYPED_OVER,
    UNKNOWN_TEMPLATE,
    UNKNOWN_UNIT,
    WRONG_PERIOD,
    WRONG_TYPE,
    Finding,
    FindingCounts,
    finding,
    reader_crashed,
    show_raw,
    sort_key,
    unreadable,
)
from pipeline.text import nfc, show_number
from pipeline.checking.report import FindingsReport
from pipeline.checking.rules import validate_values
from pipeline.parallel import parallel_map
from pipeline.catalogue.contract import DUE_COLUMN as DUE
from pipeline.catalogue.contract import (
    PERIOD_FIELD,
    PLAN_COLUMNS,
    PLAN_DATE_FIELDS,
    PLAN_FILE,
    PLAN_TEXT_FIELDS,
    UNIT_FIELD,
)
from pipeline.catalogue.contract import PLAN_COLUMN as PLAN
from pipeline.workbook.reader import Submission, read_in_worker, text_of
from pipeline.workbook.unreadable import UnreadableWorkbook


@dataclass
class CheckResult(FindingCounts):
    """One file's findings; ``submission`` is None when the file could not be read."""

    path: Path
    submission: Submission | None
    findings: list[Finding] = field(default_factory=list)

    @property
    def report(self) -> FindingsReport:
        return FindingsReport(self.findings, readable=self.submission is not None)

    @property
    def accepted(self) -> bool:
        return self.report.accepted


def _crashed(item: tuple[Path, str | None], cause: str) -> Finding:
    """The finding for a file whose reader's worker died or overran."""
    return reader_crashed(item[0].name, cause)


def _result(path: Path, read: Submission | UnreadableWorkbook | Finding) -> CheckResult:
    if isinstance(read, Finding):
        return CheckResult(path, None, [read])
    if isinstance(read, UnreadableWorkbook):
        return CheckResult(path, None, [unreadable(read, path.name)])
    return CheckResult(path, read)


def check_files(catalogue: Catalogue, paths: list[Path], period: str | None = None,
                previous: dict[str, dict[Ref, Decimal]] | None = None, workers: int = 1,
                hashes: list[str] | None = None) -> list[CheckResult]:
    """Check a batch of files; ``period`` is the inbox folder's period, ``previous`` each unit's
    values of its last valid earlier period, ``hashes`` the files' SHA-256 if already known (a
    file is hashed once per intake). Files are read by ``workers`` processes; the pandera
    schemas run once per form over the whole batch."""
    catalogue = catalogue.for_period(period)  # the period's form set; without a period, the one given
    items = list(zip(paths, hashes or [None] * len(paths)))
    read = parallel_map(read_in_worker, items, workers, catalogue, failed=_crashed)
    results = [_result(path, one) for path, one in zip(paths, read)]
    units = [r for r in results if r.submission is not None and r.submission.file_kind != PLAN_FILE]
    for result in results:
        if result.submission is not None:
            result.findings += structure_findings(catalogue, result.submission, period)
            result.findings += cell_findings(catalogue, result.submission)
            result.findings += derived_findings(catalogue, result.submission)
    for number, findings in validate_values(catalogue, [r.submission for r in units]).items():
        units[number].findings += findings
    for result in units:
        result.findings += funds_findings(catalogue, result.submission)
        earlier = (previous or {}).get(result.submission.unit_code)
        if earlier:
            result.findings += change_findings(catalogue, result.submission, earlier)
    for result in results:
        result.findings.sort(key=sort_key)
    return results


def check_file(catalogue: Catalogue, path: Path, period: str | None = None) -> CheckResult:
    return check_files(catalogue, [path], period)[0]


def _common(submission: Submission) -> dict:
    return {"file": nfc(submission.path.name), "unit": submission.unit_code}


def structure_findings(catalogue: Catalogue, submission: Submission, period: str | None) -> list[Finding]:
    """Identity and template: version, unit, period, sheets."""
    found = []
    common = _common(submission)
    info_cell = {code: cell for code, (_, cell) in submission.info.items()}
    info = {"sheet": submission.info_sheet, **common}
    version = submission.template_version
    if not version:
        found.append(finding(UNKNOWN_TEMPLATE, **info))
    elif not catalogue.reads(version, submission.period):
        found.append(finding(OUTDATED_TEMPLATE, value=version, current=catalogue.version, **info))
    if submission.file_kind == PLAN_FILE:
        if period and submission.period != period:
            found.append(_period_finding(submission, period, info_cell, info))
        return found + _plan_info_findings(submission, info)
    unit = catalogue.find_unit(submission.unit_code)
    if unit is None:
        problem = (f'mã đơn vị "{submission.unit_code}" không có trong danh mục đơn vị'
                   if submission.unit_code else "chưa chọn mã đơn vị")
        found.append(finding(UNKNOWN_UNIT, problem=problem, cell=info_cell.get(UNIT_FIELD, ""),
                             value=submission.unit_code, **info))
    if period and submission.period != period:
        found.append(_period_finding(submission, period, info_cell, info))
    elif submission.period not in catalogue.periods:
        found.append(finding(WRONG_PERIOD, "unknown", periods=", ".join(catalogue.periods),
                             cell=info_cell.get(PERIOD_FIELD, ""), value=submission.period, **info))
    elif unit is not None and catalogue.find_unit(unit.code, submission.period) is None:
        found.append(finding(UNKNOWN_UNIT, "not_in_period", name=unit.name, period=submission.period, **info))
    missing = {c.ref.form for c in submission.cells if c.problem == "missing_sheet"}
    for code in sorted(missing):
        form = catalogue.form(code)
        found.append(finding(MISSING_SHEET, form=code, sheet=form.sheet, **common))
    return found


def _plan_info_findings(submission: Submission, info: dict) -> list[Finding]:
    """The plan's signature fields: texts of bounded length, dates that are dates (or blank)."""
    found = []
    for code, label, limit in PLAN_TEXT_FIELDS:
        raw, cell = submission.info.get(code, (None, ""))
        length = len(text_of(raw))
        if length > limit:
            found.append(finding(INFO_FIELD, "too_long", cell=cell, item=code, item_label=label, length=length,
                                 limit=limit, value=show_raw(raw), **info))
    for code, label in PLAN_DATE_FIELDS:
        raw, cell = submission.info.get(code, (None, ""))
        if text_of(raw) and not isinstance(raw, dt.date):
            found.append(finding(INFO_FIELD, cell=cell, item=code, item_label=label, value=show_raw(raw), **info))
    return found


def _period_finding(submission: Submission, period: str, info_cell: dict, info: dict) -> Finding:
    return finding(WRONG_PERIOD, period=period, cell=info_cell.get(PERIOD_FIELD, ""), value=submission.period, **info)


def cell_findings(catalogue: Catalogue, submission: Submission) -> list[Finding]:
    """Cells as typed: numbers typed as text (warning), non-numbers and lost codes (errors)."""
    found = []
    due = {c.ref.row: c.value for c in submission.cells if c.ref.column == DUE}
    for cell in submission.cells:
        if submission.file_kind == PLAN_FILE and cell.problem is None and cell.value is not None and cell.value < 0:
            found.append(_negative_plan_value(catalogue, submission, cell))
        if cell.problem in (None, "missing_sheet"):
            continue
        if submission.file_kind == PLAN_FILE:
            label = _plan_label(catalogue, cell.ref)
            if cell.problem == "empty" and not (cell.ref.column == DUE or (cell.ref.column == PLAN and due.get(cell.ref.row))):
                continue  # optional: a target not due needs no plan; last year's result may be blank
        else:
            label = catalogue.form(cell.ref.form).cell_label(cell.ref)
            if cell.problem == "empty":
                continue  # the schema reports empty input cells
        common = dict(form=cell.ref.form, sheet=cell.sheet, cell=cell.cell or "", item=str(cell.ref),
                      item_label=label, value=show_raw(cell.raw), **_common(submission))
        if cell.problem == "text_number":
            found.append(finding(TEXT_NUMBER, number=show_number(cell.value), **common))
        elif cell.problem == "not_number":
            found.append(finding(NOT_NUMBER, **common))
        elif cell.problem == "decimal_point":
            found.append(finding(NOT_NUMBER, "decimal_point", hint=str(cell.raw).strip().replace(".", ","), **common))
        elif cell.problem == "out_of_range":
            found.append(finding(OUT_OF_RANGE, **common))
        elif cell.problem == "not_yes_no":
            found.append(finding(NOT_YES_NO, **common))
        elif cell.problem == "empty":
            found.append(finding(EMPTY, "plan", **common))
        elif cell.problem == "missing_code":
            found.append(finding(MISSING_CODE, **common))
    return found


# A computed cell matches its parts when they differ by less than this: Excel caches its results as
# binary floating point (1469,71 + 176,36 may be cached as 1646,0700000000002).
TOLERANCE = Decimal("0.000001")


def derived_findings(catalogue: Catalogue, submission: Submission) -> list[Finding]:
    """Every number a unit can write is read: a number in a computed cell (a total typed over,
    or a cached result) that is not the sum of its parts is an error; a number outside the coded
    cells is a warning, as it is not read."""
    found = []
    values = submission.values
    computed = {d.ref: d for form in {c.ref.form for c in submission.derived}
                for d in catalogue.derived_cells(catalogue.form(form))}
    for cell in submission.derived:
        derived = computed[cell.ref]
        inputs = [(t.sign * term.sign, values.get(t.ref)) for term in derived.parts for t in catalogue.expand(term.ref)]
        if any(value is None for _, value in inputs):
            continue  # an empty or unreadable part is its own finding
        total = sum((sign * value for sign, value in inputs), Decimal(0))
        if abs(cell.value - total) < TOLERANCE:
            continue
        parts = " ".join(f"{'+' if t.sign > 0 else '-'} {submission.address(t.ref) or t.ref}"
                         for t in derived.parts).removeprefix("+ ")
        found.append(finding(TOTAL_TYPED_OVER, total=show_number(total), parts=parts, form=cell.ref.form, sheet=cell.sheet,
                             cell=cell.cell, item=str(cell.ref), item_label=derived.label,
                             value=show_number(cell.value), **_common(submission)))
    for cell in submission.strays:
        found.append(finding(NUMBER_OUTSIDE, form=cell.ref.form, sheet=cell.sheet, cell=cell.cell,
                             value=show_raw(cell.raw), **_common(submission)))
    return found


def _plan_label(catalogue: Catalogue, ref: Ref) -> str:
    label = next(t.label for t in catalogue.targets if t.code == ref.row)
    return f"{ref.row} · {label} · {dict(PLAN_COLUMNS)[ref.column]}"


def _negative_plan_value(catalogue: Catalogue, submission: Submission, cell) -> Finding:
    """The plan's numbers (plan, last year's result) are type-checked like a unit's: not negative."""
    return finding(WRONG_TYPE, expected="phải là số không âm", form=cell.ref.form, sheet=cell.sheet,
                   cell=cell.cell or "", item=str(cell.ref), item_label=_plan_label(catalogue, cell.ref),
                   value=show_number(cell.value), **_common(submission))


def funds_findings(catalogue: Catalogue, submission: Submission) -> list[Finding]:
    """Warnings: a sub-project with outputs but no funds, or funds but no outputs."""
    values = {c.ref: c.value for c in submission.cells if c.value is not None}
    unit = catalogue.find_unit_for(submission.unit_code, submission.period)
    funds_form = catalogue.funds_form
    if unit is None or funds_form is None or not catalogue.reports(unit, funds_form):
        return []
    total_label = funds_form.column(funds_form.total_column).full_label
    found = []
    missing_sheets = {c.ref.form for c in submission.cells if c.problem == "missing_sheet"}
    for sub in catalogue.sub_projects:
        form = catalogue.form(sub.form)
        if not catalogue.reports(unit, form) or {form.code, funds_form.code} & missing_sheets:
            continue
        total = Ref(funds_form.code, sub.code, funds_form.total_column)
        funds = sum((t.sign * values.get(t.ref, 0) for t in catalogue.expand(total)), Decimal(0))
        outputs = any(values.get(ref, 0) > 0 for ref in form.input_cells())
        common = dict(form=form.code, item=sub.code, item_label=sub.name, **_common(submission))
        if outputs and funds == 0:
            found.append(finding(OUTPUTS_WITHOUT_FUNDS, funds_sheet=funds_form.sheet, sheet=submission.sheet_name(form),
                                 **common))
        elif funds > 0 and not outputs:
            where = submission.address(total) or ""
            found.append(finding(FUNDS_WITHOUT_OUTPUTS, total_label=total_label, sheet=submission.sheet_name(funds_form),
                                 cell=where, value=show_number(funds), **common))
    return found


def change_findings(catalogue: Catalogue, submission: Submission, previous: dict[Ref, Decimal]) -> list[Finding]:
    """Warnings: a value changed by more than the configured share from the last valid period."""
    share = Decimal(str(catalogue.district.get("change_warning_share", 0.5)))
    minimum = Decimal(str(catalogue.district.get("change_warning_min", 10)))
    found = []
    for cell in submission.cells:
        before = previous.get(cell.ref)
        if cell.value is None or before is None or before < minimum:
            continue
        change = (cell.value - before) / before
        if abs(change) > share:
            label = catalogue.form(cell.ref.form).cell_label(cell.ref)
            found.append(finding(
                LARGE_CHANGE, before=show_number(before), change=show_number((change * 100).quantize(Decimal(1))),
                threshold=show_number(share * 100), form=cell.ref.form, sheet=cell.sheet, cell=cell.cell or "",
                item=str(cell.ref), item_label=label, value=show_number(cell.value), **_common(submission),
            ))
    return found
