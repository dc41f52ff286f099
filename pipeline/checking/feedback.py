"""The feedback workbook sent back to a unit: a summary, every finding with a link to the
cell, and an annotated copy of the unit's sheets rebuilt from the template (never a copy
of the unit's file), where each offending cell is highlighted and carries a comment.

It prints as a short document: the summary first (the verdict, then every finding with its
sheet, cell and message, so nothing printed relies on a cell comment, which office suites
do not print), then only the sheets that have findings (the others are hidden), each on A4
in its own orientation; a wide grid prints over two pages across with its row labels
repeated rather than shrunk to one unreadable page.

Naming a feedback file is light (``check`` says where intake will write one); the workbook
writer (xlsxwriter, the template) is imported only when one is written."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.catalogue import Catalogue, Ref
from pipeline.checking.findings import Finding
from pipeline.checking.report import ACCEPTED, REFUSED
from pipeline.text import ERROR, nfc
from pipeline.checking.validation import CheckResult
from pipeline.files import atomic_output
from pipeline.text import slug
from pipeline.catalogue.contract import PLAN_FILE
from pipeline.workbook.reader import Submission

if TYPE_CHECKING:
    from pipeline.workbook.style import Styles
    from pipeline.workbook.template import Filling

SUMMARY_SHEET = "Kết quả kiểm tra"
# The summary's columns: together about the width of an A4 landscape page at full size.
WIDTHS = {"severity": 8, "sheet": 14, "cell": 6, "item_label": 26, "value": 11, "message": 60}
GRID_PAGES_ACROSS = 2
RETURNED = "Huyện trả lại"  # the summary's label of an officer's comment on the version


def unit_feedback_name(unit: str, period: str) -> str:
    return f"phan-hoi-{slug(unit)}-{slug(period) or 'khong-ro-ky'}.xlsx"


def feedback_name(result: CheckResult) -> str:
    """phan-hoi-<unit>-<period>.xlsx; a file whose unit cannot be read is named after the file:
    a readable part of its name and a digest of the whole name, so no two files share one."""
    submission = result.submission
    if submission and submission.unit_code and submission.file_kind != PLAN_FILE:
        return unit_feedback_name(submission.unit_code, submission.period)
    if submission and submission.file_kind == PLAN_FILE:
        return f"phan-hoi-ke-hoach-{slug(submission.period) or 'khong-ro-ky'}.xlsx"
    return unreadable_feedback_name(result.path.name)


def unreadable_feedback_name(file_name: str) -> str:
    """The feedback name of a file that could not be read as a report, after its name: the
    digest is of the name's exact bytes, so two files whose names differ only in how their
    accents are encoded (NFC, NFD: they look the same) get one each."""
    digest = hashlib.sha256(os.fsencode(file_name)).hexdigest()[:8]
    return f"phan-hoi-tep-khong-doc-duoc-{slug(Path(file_name).stem)[:40] or 'tep'}-{digest}.xlsx"


def _filling(catalogue: Catalogue, submission: Submission, findings: list[Finding]) -> Filling:
    """The unit's values as read (text where it typed text), with the findings as notes."""
    from pipeline.workbook.template import Filling

    filling = Filling(info={code: raw for code, (raw, _) in submission.info.items()})
    for cell in submission.cells:
        filling.values[cell.ref] = cell.value if cell.value is not None else cell.raw
    info_cells = {cell: code for code, (_, cell) in submission.info.items()}
    by_cell = {(c.sheet, c.cell): c.ref for c in submission.cells + submission.derived if c.cell}
    for finding in findings:
        key: Ref | str | None = by_cell.get((finding.sheet, finding.cell))
        if key is None and finding.sheet == submission.info_sheet:
            key = info_cells.get(finding.cell)
        if key is not None:
            filling.notes.setdefault(key, []).append((finding.severity, finding.message))
    return filling


def write_feedback(path: Path, catalogue: Catalogue, result: CheckResult, period: str,
                   comments: Sequence[str] = ()) -> Path:
    """Write the feedback workbook for one checked file (atomically); ``comments``: what the
    district's officers said when they returned this version (printed under the verdict)."""
    from pipeline.workbook.style import Styles, new_workbook
    from pipeline.workbook.template import add_unit_sheets

    catalogue, submission = catalogue.for_period(period), result.submission  # the period's form set
    with atomic_output(path) as temporary:
        workbook = new_workbook(temporary, "Kết quả kiểm tra báo cáo", catalogue.body(period).authority)
        styles = Styles(workbook)
        summary = workbook.add_worksheet(SUMMARY_SHEET)
        filling = None
        if submission is not None and submission.file_kind != PLAN_FILE:
            unit = catalogue.find_unit_for(submission.unit_code, submission.period)
            filling = _filling(catalogue, submission, result.findings)
            add_unit_sheets(workbook, styles, catalogue, unit, filling)
        _summary(summary, styles, catalogue, result, period, filling, comments)
        _print_only_findings(workbook, catalogue, filling, submission, result.findings)
        summary.activate()
        workbook.close()
    return path


def _print_only_findings(workbook, catalogue: Catalogue, filling: Filling | None, submission: Submission | None,
                         findings: list[Finding]) -> None:
    """Hide the copied sheets without a finding; a grid with one prints over pages across."""
    marked = {target[0] for f in findings if (target := _target(filling, submission, f))}
    grids = {form.sheet for form in catalogue.forms.values() if form.is_grid}
    for ws in workbook.worksheets():
        if ws.name == SUMMARY_SHEET:
            continue
        if ws.name not in marked:
            ws.hide()
        elif ws.name in grids:
            ws.fit_to_pages(GRID_PAGES_ACROSS, 1)
            ws.repeat_columns(0, 2)  # the template grid's hidden code, STT and sub-project, on every page


def _summary(ws, styles: Styles, catalogue: Catalogue, result: CheckResult, period: str, filling: Filling | None,
             comments: Sequence[str] = ()) -> None:
    from pipeline.workbook.style import fit_row_height, page_setup, wrapped_lines

    submission, report = result.submission, result.report
    unit = catalogue.find_unit_for(submission.unit_code, submission.period) if submission else None
    columns = [("STT", 5), *((header, WIDTHS[key]) for key, header in report.columns), ("Xem", 7)]
    last = len(columns) - 1
    for col, (_, width) in enumerate(columns):
        ws.set_column(col, col, width)
    ws.merge_range(0, 0, 0, last, f"KẾT QUẢ KIỂM TRA BÁO CÁO – {catalogue.body(period).authority}", styles.title())
    accepted = report.accepted
    verdict = (ACCEPTED + (" (có cảnh báo, nên xem lại)" if report.warnings else "")) if accepted else \
        f"{REFUSED} – hãy sửa các lỗi dưới đây rồi gửi lại"
    facts = [
        ("Đơn vị", unit.label if unit else (submission.unit_code if submission else "Không xác định")),
        ("Kỳ báo cáo", submission.period if submission and submission.period else period),
        ("Tệp", nfc(result.path.name)),
        ("Kết luận", verdict),
        ("Số lỗi", report.errors),
        ("Số cảnh báo", report.warnings),
        *((RETURNED, comment) for comment in comments),
    ]
    label = styles.get(bold=True)
    for n, (name, value) in enumerate(facts, start=2):
        ws.write_string(n, 0, name, styles.get(bold=True, valign="top") if name == RETURNED else label)
        fmt = styles.get(bold=True, font_color="#006100" if accepted else "#C00000") if name == "Kết luận" else styles.get()
        if isinstance(value, int):
            ws.write_number(n, 2, value, fmt)
        elif name == RETURNED:  # a comment reads across the page
            ws.merge_range(n, 2, n, last, value, styles.get(text_wrap=True, valign="top", font_color="#9C5700"))
            fit_row_height(ws, n, value, sum(width for _, width in columns[2:]))
        else:
            ws.write_string(n, 2, value, fmt)
    header_row = len(facts) + 3
    for col, (name, _) in enumerate(columns):
        ws.write_string(header_row, col, name, styles.header())
    keys = [key for key, _ in report.columns]
    for n, (finding, cells) in enumerate(zip(report.findings, report.flatten()), start=1):
        row = header_row + n
        color = "#C00000" if finding.severity == ERROR else "#9C5700"
        severity = styles.get(border=1, bold=True, font_color=color, valign="vcenter")
        ws.write_number(row, 0, n, styles.center())
        for col, (key, text) in enumerate(zip(keys, cells), start=1):
            ws.write_string(row, col, text, severity if key == "severity" else styles.text())
        fit_row_height(ws, row, *max((finding.message, WIDTHS["message"]), (finding.item_label, WIDTHS["item_label"]),
                                     key=lambda cell: wrapped_lines(*cell)))
        target = _target(filling, submission, finding)
        if target:
            ws.write_url(row, last, f"internal:'{target[0]}'!{target[1]}",
                         styles.get(border=1, font_color="blue", underline=1), string="Đến ô")
        else:
            ws.write_blank(row, last, None, styles.text())
    ws.freeze_panes(header_row + 1, 0)
    ws.autofilter(header_row, 0, header_row + max(1, len(report.findings)), last)
    page_setup(ws, landscape=True, header_rows=(header_row, header_row))


def _target(filling: Filling | None, submission: Submission | None, finding: Finding) -> tuple[str, str] | None:
    """Where a finding's cell is in the annotated copy (the copy follows the template's layout)."""
    if filling is None or submission is None:
        return None
    for key, notes in filling.notes.items():
        if (finding.severity, finding.message) in notes:
            return filling.addresses.get(key)
    return None
