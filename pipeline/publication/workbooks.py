"""Writes the district's Biểu as official-looking workbooks, one per Biểu, one with all of
them (named by the first and last code, ``Bieu_01-15_2023.xlsx``), the sources annex
(``Nguon_so_lieu_2023.xlsx``) and a zip of them. The same reports always give the same
bytes: fixed document properties, the period's report date (never the clock), fixed zip
entry times.

A Biểu's printed pages are the document an officer signs: the tables, their notes and the
signature, nothing else. Which file of each unit was used (names, hashes, times) and the
remarks meant for the district's staff go to the annex, a workbook (and PDF) of its own; each
Biểu workbook keeps a copy of the list on a hidden sheet "Nguồn số liệu", which office
suites do not print."""

from __future__ import annotations

import datetime as dt
import zipfile
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from pipeline.catalogue import Body, Catalogue
from pipeline.catalogue.model import UNIT_KIND_NAMES, UNIT_KINDS
from pipeline.text import name_list
from pipeline.failpoints import failpoint
from pipeline.files import atomic_output
from pipeline.publication.pages import MAX_STRETCH, column_groups, page_starts, paper_for
from pipeline.publication.signing import Signing, day_and_month
from pipeline.publication.tables import TOTAL_ROW, Report, Table, Trend
from pipeline.settings import shown_time
from pipeline.workbook.style import (
    FONT,
    LINE,
    TITLE_SIZE,
    VIETNAMESE,
    Styles,
    column_points,
    new_workbook,
    page_setup,
    printed_lines,
    text_height,
)

SOURCES_IN_EVERY_WORKBOOK = 1000  # units; a longer list is written once, in the all-in-one workbook
SOURCES_SHEET = "Nguồn số liệu"
REMARKS_SHEET = "Ghi chú"
INCOMPLETE = "SỐ LIỆU CHƯA ĐẦY ĐỦ"
NOT_APPROVED = "DỰ THẢO – chưa duyệt đủ"
FINAL = "CHÍNH THỨC"
WIDTHS = {"text": 12, "count": 11, "money": 12, "rate": 9}
DOTS = "……"
FLAG_NOTE = "Cột có/không: “x” là có; dòng tổng cộng ghi số đơn vị có."
LABEL_WIDTH = 44
LABEL_WIDTH_IN_GROUPS = 30  # the row labels of a table printed in column groups, repeated before each
NUMBER_WIDTH = 6
INDENT = 12  # points: one level of a row label's indent, as LibreOffice prints it


@dataclass
class Publication:
    period: str
    folder: Path
    files: dict[str, Path] = field(default_factory=dict)  # Biểu code ("01" …) -> workbook
    all_in_one: Path | None = None
    archive: Path | None = None
    report: Path | None = None  # the evaluation report's draft (.docx)
    pdfs: dict[str, Path] = field(default_factory=dict)  # Biểu code -> its print-ready PDF
    all_in_one_pdf: Path | None = None
    pdf_note: str = ""  # why the set has no PDFs (Vietnamese), when they were wanted
    annex: Path | None = None  # the sources annex (Nguon_so_lieu_2023.xlsx)
    annex_pdf: Path | None = None

    def moved_to(self, folder: Path) -> Publication:
        """The same publication, its files named in ``folder`` (where the set was switched in)."""
        return Publication(self.period, folder, {code: folder / p.name for code, p in self.files.items()},
                           folder / self.all_in_one.name, folder / self.archive.name,
                           folder / self.report.name if self.report else None,
                           {code: folder / p.name for code, p in self.pdfs.items()},
                           folder / self.all_in_one_pdf.name if self.all_in_one_pdf else None, self.pdf_note,
                           folder / self.annex.name if self.annex else None,
                           folder / self.annex_pdf.name if self.annex_pdf else None)


def workbook_name(code: str, period: str) -> str:
    return f"Bieu_{code}_{period}.xlsx"


def all_in_one_names(catalogue: Catalogue, period: str) -> tuple[str, str]:
    """The workbook with every Biểu and the zip of them all: ``Bieu_01-15_2023.xlsx``, ``.zip``."""
    stem = f"Bieu_{catalogue.bieu_span}_{period}"
    return f"{stem}.xlsx", f"{stem}.zip"


def annex_name(period: str) -> str:
    return f"Nguon_so_lieu_{period}.xlsx"


def publish(catalogue: Catalogue, reports: list[Report], folder: Path, signing: Signing,
            final: bool = False) -> Publication:
    """Write every report, the all-in-one workbook, the sources annex and the zip into
    ``folder``, signed as ``signing`` says."""
    period = reports[0].period
    publication = Publication(period, folder)
    all_in_one_name, zip_name = all_in_one_names(catalogue, period)
    all_in_one = folder / all_in_one_name
    annex = folder / annex_name(period)
    listed_once = len({s.unit.code for r in reports for s in r.sources} | {u.code for r in reports for u in r.missing}) \
        > SOURCES_IN_EVERY_WORKBOOK
    for report in reports:
        path = folder / workbook_name(report.code, period)
        _write(path, catalogue, signing, [report], final, annex.name if listed_once else "")
        publication.files[report.code] = path
        failpoint("publish.after_workbook")
    publication.all_in_one = _write(all_in_one, catalogue, signing, reports, final, annex.name if listed_once else "")
    publication.annex = _annex(annex, catalogue, reports)
    publication.archive = _zip(folder / zip_name, [*publication.files.values(), publication.all_in_one, publication.annex],
                               catalogue.periods[period].report_date)
    return publication


def _zip(path: Path, members: list[Path], date: dt.date) -> Path:
    with atomic_output(path) as temporary:
        with zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as archive:
            for member in members:
                archive.writestr(zipfile.ZipInfo(member.name, (date.year, date.month, date.day, 0, 0, 0)),
                                 member.read_bytes(), zipfile.ZIP_DEFLATED)
    return path


def _write(path: Path, catalogue: Catalogue, signing: Signing, reports: list[Report], final: bool,
           sources_in: str = "") -> Path:
    """One workbook of the reports, the sources on a hidden sheet; ``sources_in`` names the
    workbook that lists them instead of this one (a national list is written once, not in
    every workbook)."""
    with atomic_output(path) as temporary:
        title = reports[0].title if len(reports) == 1 else f"Biểu {catalogue.bieu_span.replace('-', '–')}"
        workbook = new_workbook(temporary, f"{title} – {reports[0].period}", catalogue.body(reports[0].period).authority)
        styles = Styles(workbook)
        for report in reports:
            for table in report.tables:
                _table_sheet(workbook, styles, catalogue, signing, report, table, final)
        if sources_in:
            ws = workbook.add_worksheet(SOURCES_SHEET)
            ws.write_string(0, 0, f"Danh sách tệp đã dùng của từng đơn vị: xem tệp {sources_in}.", styles.text())
        else:
            ws = _sources_sheet(workbook, styles, catalogue, reports)
        ws.hide()  # not printed: the signed pages end at the signature
        workbook.close()
    return path


def _annex(path: Path, catalogue: Catalogue, reports: list[Report]) -> Path:
    """The sources annex: which file of each unit the Biểu used, and the remarks on the tables
    (a column left out for want of data…), printable on its own."""
    with atomic_output(path) as temporary:
        workbook = new_workbook(temporary, f"{SOURCES_SHEET} – {reports[0].period}", catalogue.body(reports[0].period).authority)
        styles = Styles(workbook)
        _sources_sheet(workbook, styles, catalogue, reports)
        remarks = [(f"Biểu {report.code} – {table.sheet}", remark)
                   for report in reports for table in report.tables for remark in table.remarks]
        if remarks:
            ws = workbook.add_worksheet(REMARKS_SHEET)
            headers = [("Biểu, sheet", 24), ("Ghi chú", 96)]
            label = catalogue.periods[reports[0].period].label.upper()
            ws.merge_range(0, 0, 0, 1, f"GHI CHÚ VỀ SỐ LIỆU CỦA CÁC BIỂU – KỲ {label}", styles.title())
            ws.set_row(0, text_height(1, TITLE_SIZE))
            for col, (name, width) in enumerate(headers):
                ws.set_column(col, col, width)
                ws.write_string(1, col, name, styles.header())
            ws.set_row(1, 2 * LINE)
            for n, cells in enumerate(remarks, start=2):
                for col, text in enumerate(cells):
                    ws.write_string(n, col, text, styles.text())
                ws.set_row(n, text_height(max(printed_lines(text, column_points(width))
                                              for text, (_, width) in zip(cells, headers))))
            page_setup(ws, landscape=True, header_rows=(1, 1))
        workbook.close()
    return path


def _title(report: Report, table: Table, final: bool) -> str:
    title = table.title
    if not report.complete:
        title += f" ({INCOMPLETE})"
    if final:
        title += f" – {FINAL}"
    return title


def _header_rows(table: Table) -> int:
    return 2 if any(c.group for c in table.columns) else 1


def _table_sheet(workbook, styles: Styles, catalogue: Catalogue, signing: Signing, report: Report, table: Table,
                 final: bool) -> None:
    """One table on one sheet: the national heading, the title and its reference line, the
    header, the rows, the notes and the signature block, paginated for print on A4 (pages.py):
    every row has an explicit height, so the breaks computed here are the printed ones.

    A table wider than the page prints in column groups, each after the row labels (repeated
    columns), each group's first page headed "Biểu số 02 (tiếp theo)"; the heading sits over
    the first group and the notes and signature under the last one, so that no merged cell
    crosses a page (the repeated label columns would print a piece of it). Every group is
    widened to the page's width."""
    ws = workbook.add_worksheet(table.sheet)
    body, regime = catalogue.body(report.period), catalogue.regime(report.period)
    period = catalogue.periods[report.period]
    columns = table.columns
    last = len(columns) - 1
    label = next(n for n, c in enumerate(columns) if c.show == "label")  # the row labels: this column and before
    label_width = min(LABEL_WIDTH, max(16, max((len(r.label) + 2 * r.indent for r in table.rows), default=0) + 2))
    widths = [NUMBER_WIDTH if c.show == "number" else (label_width if c.show == "label" else c.width or WIDTHS.get(c.kind, 14))
              for c in columns]
    runs = [c.group or f"{n}" for n, c in enumerate(columns)][label + 1:]
    paper, groups = column_groups(sum(column_points(w) for w in widths[:label + 1]),
                                  [column_points(w) for w in widths[label + 1:]], runs)
    if len(groups) > 1:  # printed in groups: narrower row labels (on more lines) leave room for more columns
        widths[label] = min(widths[label], LABEL_WIDTH_IN_GROUPS)
        paper, groups = column_groups(sum(column_points(w) for w in widths[:label + 1]),
                                      [column_points(w) for w in widths[label + 1:]], runs)
    fixed = sum(column_points(w) for w in widths[:label + 1])
    spans = [(label + 1 + g.start, label + g.stop) for g in groups]  # each group's first and last column
    for start, stop in spans:  # widened to the page's width
        stretch = min(MAX_STRETCH, (paper.width - fixed) / sum(column_points(w) for w in widths[start:stop + 1]))
        for col in range(start, stop + 1):
            widths[col] = column_points(widths[col]) * stretch / 6 - 0.71
    for col, width in enumerate(widths):
        ws.set_column(col, col, width)
    heights: dict[int, float] = {}

    def row_height(row: int, height: float) -> None:
        heights[row] = height
        ws.set_row(row, height)

    def across(first_col: int, last_col: int) -> float:
        return sum(points[first_col:last_col + 1])

    points = [column_points(w) for w in widths]
    whole_table = len(spans) == 1
    head = (0, last) if whole_table else spans[0]  # where the heading is (the first group)
    foot = (0, last) if whole_table else spans[-1]  # where the notes and the signature are (the last group)
    split = min(2, last - 3) if whole_table else label  # the authority's name over columns 0 … split
    right = (split + 1, last) if whole_table else spans[0]
    bold_center = styles.get(bold=True, align="center", valign="vcenter", text_wrap=True)
    _merge(ws, 0, 0, split, body.authority, bold_center)
    _merge(ws, 0, *right, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", bold_center)
    _merge(ws, 1, *right, "Độc lập - Tự do - Hạnh phúc", styles.get(bold=True, underline=1, align="center"))
    first_table = table is report.tables[0]
    heading = f"Biểu số {report.code}" if first_table else f"Phụ biểu của Biểu số {report.code}"
    heading_format = styles.get(bold=True, italic=True, align="right")
    _merge(ws, 2, *right, heading, heading_format)
    if report.review is not None and not final and report.review.draft(report.expected):  # stamped, title untouched
        _merge(ws, 2, 0, split, NOT_APPROVED, styles.get(bold=True, align="center", border=1))
    title = _title(report, table, final)
    reference = _reference_line(signing, body)
    period_line = f"Kỳ báo cáo: {period.label} – {regime.programme.name}" + (f"\n{regime.forms_note}" if regime.forms_note else "")
    unit_format = styles.get(italic=True, align="right")
    _merge(ws, 3, *head, title, styles.title())
    _merge(ws, 4, *head, reference, styles.get(italic=True, align="center", text_wrap=True))
    _merge(ws, 5, *head, period_line, styles.get(italic=True, align="center", text_wrap=True))
    _merge(ws, 6, *head, table.unit_note, unit_format)
    for span in spans[1:]:  # the first page of every further group
        _merge(ws, 2, *span, f"{heading} (tiếp theo)", heading_format)
        _merge(ws, 3, *span, title, styles.title())
        _merge(ws, 6, *span, table.unit_note, unit_format)
    title_lines = max(printed_lines(title, across(*span), TITLE_SIZE, bold=True) for span in [head, *spans[1:]])
    row_height(0, text_height(printed_lines(body.authority, across(0, split), bold=True)))
    for row in (1, 2, 6):
        row_height(row, LINE)
    row_height(3, text_height(title_lines, TITLE_SIZE))
    row_height(4, text_height(printed_lines(reference, across(*head))))
    row_height(5, text_height(printed_lines(period_line, across(*head))))

    top = 7
    levels = _header_rows(table)
    header = styles.header()
    ends = {col: stop for start, stop in spans for col in range(start, stop + 1)}  # a header group ends with its page's
    col = 0
    while col <= last:
        column = columns[col]
        if column.group and levels == 2:
            end = col
            while end + 1 <= ends.get(col, col) and columns[end + 1].group == column.group:
                end += 1
            _merge(ws, top, col, end, column.group, header)
            for c in range(col, end + 1):
                ws.write_string(top + 1, c, columns[c].label, header)
            col = end + 1
        else:
            if levels == 2:
                ws.merge_range(top, col, top + 1, col, column.label, header)
            else:
                ws.write_string(top, col, column.label, header)
            col += 1
    for level, height in enumerate(_header_heights(columns, points, levels, ends)):
        row_height(top + level, height)
    numbers_row = top + levels
    for col in range(len(columns)):
        ws.write_number(numbers_row, col, col + 1, styles.get(italic=True, border=1, align="center", num_format="0"))
    row_height(numbers_row, LINE)
    first = numbers_row + 1
    whole = {c.key: all(Decimal(v) == Decimal(v).to_integral_value() for r in table.rows
                        if (v := r.values.get(c.key)) is not None) for c in columns if c.kind != "text"}
    for n, row in enumerate(table.rows):
        r = first + n
        lines = 1
        for col, column in enumerate(columns):
            value = row.values.get(column.key)
            kind = row.kind if column.kind == "row" else column.kind
            if column.kind == "text":
                text = "" if value is None else str(value)
                fmt = styles.text(bold=row.bold, indent=row.indent) \
                    if column.show == "label" else styles.get(border=1, bold=row.bold, align="center", valign="vcenter",
                                                            text_wrap=True)
                ws.write_string(r, col, text, fmt)
                lines = max(lines, printed_lines(text, points[col] - INDENT * row.indent, bold=row.bold))
            elif value is None:  # nothing to show: the column's mark for it (e.g. "–"), else blank
                fmt = styles.get(border=1, align="center", valign="vcenter", bold=row.bold)
                if column.empty:
                    ws.write_string(r, col, column.empty, fmt)
                else:
                    ws.write_blank(r, col, None, fmt)
            else:
                number = Decimal(value)
                shown = "count" if kind == "flag" and row.code == TOTAL_ROW else kind  # the total counts the units
                ws.write_number(r, col, float(number), styles.printed(shown, bold=row.bold, whole=whole[column.key]))
        row_height(r, text_height(lines))
    end = first + len(table.rows)
    notes = [*table.notes, _completeness(report, table, lambda code: catalogue.find_unit(code) is not None)]
    if report.review is not None:
        notes.append(report.review.note(report.expected))
    if any(c.kind == "flag" for c in columns):
        notes.insert(0, FLAG_NOTE)
    if report.summary and first_table:
        notes.insert(0, report.summary)
    row_height(end, LINE / 2)
    r = end + 1
    for note in notes:
        _merge(ws, r, *foot, note, styles.note(bold=note == report.summary))
        row_height(r, text_height(printed_lines(note, across(*foot), bold=note == report.summary)))
        r += 1
    row_height(r, LINE / 2)
    middle = split if whole_table else max(foot[0], (foot[0] + foot[1]) // 2 - 1)
    signature_end = _signatures(ws, styles, signing, r + 1, foot[0], foot[1], middle, row_height)
    first_page = sum(heights[n] for n in range(first))
    repeated = sum(heights[n] for n in range(top, first))
    tail = sum(heights[n] for n in range(end, signature_end + 1))
    breaks = [first + n for n in page_starts(first_page, repeated, [heights[first + n] for n in range(len(table.rows))],
                                             tail, paper.capacity)]
    ws.set_h_pagebreaks(breaks)
    if not whole_table:
        ws.set_v_pagebreaks([start for start, _ in spans[1:]])
        ws.repeat_columns(0, label)
    ws.freeze_panes(first, 2)
    page_setup(ws, landscape=True, header_rows=(top, numbers_row), paper=paper.code, scale=paper.scale,
               footer_size=12 if paper.scale < 100 else 11)  # 9 pt at least once scaled
    ws.center_horizontally()
    if table.chart:
        _chart(workbook, ws, table, first, end - 1, f"{heading} – {title}")
    for trend in table.trends:
        _trend_chart(workbook, ws, table, trend, top + levels - 1, first, f"{heading} – {title}")


def _merge(ws, row: int, first_col: int, last_col: int, text: str, fmt) -> None:
    """A text across columns of one row (one cell: written, not merged)."""
    if last_col > first_col:
        ws.merge_range(row, first_col, row, last_col, text, fmt)
    else:
        ws.write_string(row, first_col, text, fmt)


def _header_heights(columns: list[Column], points: list[float], levels: int, ends: dict[int, int]) -> list[float]:
    """The header rows' heights, from their wrapped text: one row of labels, or the groups'
    row above their columns' labels (a group cut at the end of its page: ``ends``), with the
    label of a column without a group across both."""
    least = 2 * LINE  # a header is never lower than two lines
    if levels == 1:
        return [max(least, text_height(max(printed_lines(c.label, p, bold=True) for c, p in zip(columns, points))))]
    spans: dict[tuple[str, int], float] = {}
    for col, (column, width) in enumerate(zip(columns, points)):
        if column.group:
            key = (column.group, ends.get(col, col))
            spans[key] = spans.get(key, 0) + width
    top = max(least, text_height(max(printed_lines(group, width, bold=True) for (group, _), width in spans.items())))
    below = max([text_height(printed_lines(c.label, p, bold=True)) for c, p in zip(columns, points) if c.group],
                default=0)
    across = max([text_height(printed_lines(c.label, p, bold=True)) for c, p in zip(columns, points) if not c.group],
                 default=0)
    return [top, max(least, below, across - top)]


def _reference_line(signing: Signing, body: Body) -> str:
    """"(Kèm theo Báo cáo số 125/BC-UBND ngày 15 tháng 8 năm 2023 của UBND huyện Tuần Giáo)",
    dotted where the plan gives no number or date (filled in by hand)."""
    number = signing.report_number or DOTS
    if signing.date:
        day, month = day_and_month(signing.date)
        year = signing.date.year
    else:
        day, month, year = DOTS, DOTS, signing.fallback_date.year
    return f"(Kèm theo Báo cáo số {number}/BC-UBND ngày {day} tháng {month} năm {year} của {body.authority_in_text})"


def _completeness(report: Report, table: Table, is_unit) -> str:
    """Whose figures the table holds, communes and agencies counted apart and named by the kinds
    present ("19/19 xã, thị trấn; 3/4 cơ quan huyện"; after 1/7/2025 "7/7 xã"), who is missing
    by name, and the units outside those that have figures in it."""
    counts = []
    for commune in (True, False):
        group = [u for u in [s.unit for s in report.sources] + list(report.missing) if u.is_commune == commune]
        if group:
            valid = sum(s.unit.is_commune == commune for s in report.sources)
            kinds = ", ".join(UNIT_KIND_NAMES[kind] for kind in UNIT_KINDS if any(u.kind == kind for u in group))
            counts.append(f"{valid}/{len(group)} {kinds}")
    text = "Số liệu tổng hợp từ báo cáo hợp lệ của " + "; ".join(counts)
    if report.missing:
        text += ": thiếu " + name_list([u.name for u in report.missing])
    expected = {s.unit.code for s in report.sources}
    others = [row for row in table.rows if row.code != TOTAL_ROW and row.code not in expected and is_unit(row.code)]
    if others:
        text += f"; và {len(others)} đơn vị khác có số liệu trong bảng"
    return text + "."


def _signatures(ws, styles: Styles, signing: Signing, row: int, first: int, last: int, split: int, row_height) -> int:
    """The place and date line, the preparer's and the signer's titles, and their names (left
    blank for a hand signature when the plan gives none), the preparer over columns ``first``
    … ``split``, the signer over the rest to ``last``; returns the block's last row."""
    right = styles.get(bold=True, align="center")
    _merge(ws, row, split + 1, last, signing.date_line(), styles.get(italic=True, align="center"))
    _merge(ws, row + 1, first, split, signing.preparer_title, right)
    titles = [t for t in (signing.on_behalf, signing.deputy, signing.title) if t]
    for offset, text in enumerate(titles, start=1):
        _merge(ws, row + offset, split + 1, last, text, right)
    _merge(ws, row + 7, first, split, signing.preparer, right)
    _merge(ws, row + 7, split + 1, last, signing.signer, right)
    for offset in range(8):
        row_height(row + offset, LINE)
    return row + 7


def _chart(workbook, ws, table: Table, first: int, last_row: int, heading: str) -> None:
    """A bar chart of one column per row (the total row excluded), on a chart sheet of its
    own after the table's sheet: printed as one A4 page headed by its Biểu's number and
    title, covering nothing, legible."""
    key, title = table.chart
    col = next(n for n, c in enumerate(table.columns) if c.key == key)
    label_col = next(n for n, c in enumerate(table.columns) if c.show == "label")
    rows = last_row - 1  # without the total row
    font = {"name": FONT, "size": 11}
    chart = workbook.add_chart({"type": "bar"})
    chart.add_series({
        "name": title,
        "categories": [ws.name, first, label_col, rows, label_col],
        "values": [ws.name, first, col, rows, col],
        "data_labels": {"value": True, "num_format": VIETNAMESE + "0.0", "font": font},
        "fill": {"color": "#2F5597"},
        "gap": 60,
    })
    chart.set_title({"name": title, "name_font": {**font, "size": 14}})
    chart.set_legend({"none": True})
    chart.set_x_axis({"num_format": "0", "num_font": font})
    chart.set_y_axis({"reverse": True, "num_font": font})
    sheet = workbook.add_chartsheet(f"Biểu đồ – {table.sheet}"[:31])
    sheet.set_chart(chart)
    page_setup(sheet, landscape=True)
    sheet.set_header(f'&C&"{FONT},Bold"&12{heading.replace("&", "&&")}')


def _trend_chart(workbook, ws, table: Table, trend: Trend, label_row: int, first: int, heading: str) -> None:
    """A line chart of one row across consecutive columns (their header labels as categories),
    on a chart sheet of its own after the table's sheet, one A4 page headed like ``_chart``'s.
    A column without a value is a blank cell: a gap in the line, never a zero."""
    keys = [c.key for c in table.columns]
    start, stop = keys.index(trend.columns[0]), keys.index(trend.columns[-1])
    row = first + next(n for n, r in enumerate(table.rows) if r.code == trend.row)
    font = {"name": FONT, "size": 11}
    shown = VIETNAMESE + ("0.0" if trend.rate else "#,##0")
    chart = workbook.add_chart({"type": "line"})
    chart.add_series({
        "name": trend.title,
        "categories": [ws.name, label_row, start, label_row, stop],
        "values": [ws.name, row, start, row, stop],
        "data_labels": {"value": True, "position": "above", "num_format": shown, "font": font},
        "marker": {"type": "circle", "size": 7},
        "line": {"color": "#2F5597", "width": 2.25},
    })
    chart.set_title({"name": trend.title, "name_font": {**font, "size": 14}})
    chart.set_legend({"none": True})
    chart.set_x_axis({"num_font": font})
    chart.set_y_axis({"num_font": font, "num_format": VIETNAMESE + "#,##0"})
    chart.show_blanks_as("gap")
    sheet = workbook.add_chartsheet(trend.sheet[:31])
    sheet.set_chart(chart)
    page_setup(sheet, landscape=True)
    sheet.set_header(f'&C&"{FONT},Bold"&12{heading.replace("&", "&&")}')


def _sources_sheet(workbook, styles: Styles, catalogue: Catalogue, reports: list[Report]):
    """Which file (version) of each unit the reports used, and who is missing: a titled,
    printable list."""
    ws = workbook.add_worksheet(SOURCES_SHEET)
    headers = [("STT", 5), ("Mã đơn vị", 9), ("Tên đơn vị", 26), ("Trạng thái", 18), ("Tệp đã dùng", 30),
               ("Thời điểm nhận", 17), ("Mã băm (SHA-256, 12 ký tự đầu)", 15), ("Ghi chú", 30)]
    last = len(headers) - 1
    ws.merge_range(0, 0, 0, last, f"NGUỒN SỐ LIỆU CỦA CÁC BIỂU – KỲ {catalogue.periods[reports[0].period].label.upper()}",
                   styles.title())
    ws.set_row(0, text_height(1, TITLE_SIZE))
    for col, (name, width) in enumerate(headers):
        ws.set_column(col, col, width)
        ws.write_string(1, col, name, styles.header())
    ws.set_row(1, text_height(max(printed_lines(name, column_points(width), bold=True) for name, width in headers)))
    sources = {s.unit.code: s for report in reports for s in report.sources}
    missing = {u.code for report in reports for u in report.missing}
    units = [u for u in catalogue.units_in(reports[0].period) if u.code in sources or u.code in missing]
    for n, unit in enumerate(units, start=1):
        source = sources.get(unit.code)
        note = ""
        if source and source.newer_invalid:
            note = f"Tệp mới hơn không hợp lệ ({source.newer_invalid}): đang dùng phiên bản hợp lệ trước đó."
        cells = [str(n), unit.code, unit.name, "Có số liệu hợp lệ" if source else "Chưa có số liệu hợp lệ",
                 source.file_name if source else "", shown_time(source.received_at) if source else "",
                 source.file_hash[:12] if source else "", note]
        for col, text in enumerate(cells):
            ws.write_string(n + 1, col, text, styles.text())
        ws.set_row(n + 1, text_height(max(printed_lines(text, column_points(headers[col][1]))
                                          for col, text in enumerate(cells))))
    override = next((r.review.override for r in reports if r.review and r.review.override), "")
    if override:  # closed without every approval: the officer's reason, printed
        row = len(units) + 2
        ws.merge_range(row, 0, row, last, override, styles.note())
        ws.set_row(row, text_height(printed_lines(override, sum(column_points(width) for _, width in headers))))
    ws.freeze_panes(2, 0)
    paper = paper_for([width for _, width in headers])
    page_setup(ws, landscape=True, header_rows=(1, 1), paper=paper.code, scale=paper.scale)
    return ws
