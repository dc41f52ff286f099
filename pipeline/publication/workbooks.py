"""Writes the district's Biểu as official-looking workbooks, one per Biểu, one with all of
them (named by the first and last code, ``Bieu_01-15_2023.xlsx``), and a zip of them. The
same reports always give the same bytes: fixed document properties, the period's report
date (never the clock), fixed zip entry times."""

from __future__ import annotations

import datetime as dt
import zipfile
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from xlsxwriter.utility import xl_rowcol_to_cell

from pipeline.catalogue import Catalogue
from pipeline.checking.findings import name_list
from pipeline.failpoints import failpoint
from pipeline.files import atomic_output
from pipeline.publication.signing import Signing
from pipeline.publication.tables import Report, Table
from pipeline.settings import shown_time
from pipeline.workbook.style import Styles, fit_row_height, new_workbook, page_setup, wrapped_lines

SOURCES_IN_EVERY_WORKBOOK = 1000  # units; a longer list is written once, in the all-in-one workbook
SOURCES_SHEET = "Nguồn số liệu"
INCOMPLETE = "SỐ LIỆU CHƯA ĐẦY ĐỦ"
FINAL = "CHÍNH THỨC"
WIDTHS = {"text": 12, "count": 13, "money": 14, "rate": 12}
LABEL_WIDTH = 44
NUMBER_WIDTH = 6


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

    def moved_to(self, folder: Path) -> Publication:
        """The same publication, its files named in ``folder`` (where the set was switched in)."""
        return Publication(self.period, folder, {code: folder / p.name for code, p in self.files.items()},
                           folder / self.all_in_one.name, folder / self.archive.name,
                           folder / self.report.name if self.report else None,
                           {code: folder / p.name for code, p in self.pdfs.items()},
                           folder / self.all_in_one_pdf.name if self.all_in_one_pdf else None, self.pdf_note)


def workbook_name(code: str, period: str) -> str:
    return f"Bieu_{code}_{period}.xlsx"


def all_in_one_names(catalogue: Catalogue, period: str) -> tuple[str, str]:
    """The workbook with every Biểu and the zip of them all: ``Bieu_01-15_2023.xlsx``, ``.zip``."""
    stem = f"Bieu_{catalogue.bieu_span}_{period}"
    return f"{stem}.xlsx", f"{stem}.zip"


def publish(catalogue: Catalogue, reports: list[Report], folder: Path, signing: Signing,
            final: bool = False) -> Publication:
    """Write every report, the all-in-one workbook and the zip into ``folder``, signed as ``signing`` says."""
    period = reports[0].period
    publication = Publication(period, folder)
    all_in_one_name, zip_name = all_in_one_names(catalogue, period)
    all_in_one = folder / all_in_one_name
    listed_once = len({s.unit.code for r in reports for s in r.sources} | {u.code for r in reports for u in r.missing}) \
        > SOURCES_IN_EVERY_WORKBOOK
    for report in reports:
        path = folder / workbook_name(report.code, period)
        _write(path, catalogue, signing, [report], final, all_in_one.name if listed_once else "")
        publication.files[report.code] = path
        failpoint("publish.after_workbook")
    publication.all_in_one = _write(all_in_one, catalogue, signing, reports, final)
    publication.archive = _zip(folder / zip_name,
                               [*publication.files.values(), publication.all_in_one], catalogue.periods[period].report_date)
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
    """One workbook of the reports; ``sources_in`` names the workbook that lists the sources
    instead of this one (a national list is written once, not in every workbook)."""
    with atomic_output(path) as temporary:
        title = reports[0].title if len(reports) == 1 else f"Biểu {catalogue.bieu_span.replace('-', '–')}"
        workbook = new_workbook(temporary, f"{title} – {reports[0].period}", catalogue.district["authority"])
        styles = Styles(workbook)
        for report in reports:
            for table in report.tables:
                _table_sheet(workbook, styles, catalogue, signing, report, table, final)
        if sources_in:
            workbook.add_worksheet(SOURCES_SHEET).write_string(
                0, 0, f"Danh sách tệp đã dùng của từng đơn vị: xem sheet {SOURCES_SHEET} trong tệp {sources_in}.",
                styles.text())
        else:
            _sources_sheet(workbook, styles, catalogue, reports)
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
    ws = workbook.add_worksheet(table.sheet)
    district = catalogue.district
    period = catalogue.periods[report.period]
    columns = table.columns
    last = len(columns) - 1
    widths = [NUMBER_WIDTH if c.show == "number" else (LABEL_WIDTH if c.show == "label" else WIDTHS.get(c.kind, 14))
              for c in columns]
    for col, width in enumerate(widths):
        ws.set_column(col, col, width)
    split = min(2, last - 3)
    bold_center = styles.get(bold=True, align="center", valign="vcenter", text_wrap=True)
    ws.merge_range(0, 0, 0, split, district["authority"], bold_center)
    ws.merge_range(0, split + 1, 0, last, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", bold_center)
    ws.merge_range(1, split + 1, 1, last, "Độc lập - Tự do - Hạnh phúc", styles.get(bold=True, underline=1, align="center"))
    ws.merge_range(2, split + 1, 2, last, f"Biểu số {report.code}", styles.get(bold=True, italic=True, align="right"))
    ws.merge_range(3, 0, 3, last, _title(report, table, final), styles.title())
    ws.set_row(3, 36)
    ws.merge_range(4, 0, 4, last, f"Kỳ báo cáo: {period.label} – {district['programme']}",
                   styles.get(italic=True, align="center", text_wrap=True))
    ws.set_row(4, 30)
    ws.merge_range(5, 0, 5, last, table.unit_note, styles.get(italic=True, align="right"))

    top = 6
    levels = _header_rows(table)
    header = styles.header()
    col = 0
    while col <= last:
        column = columns[col]
        if column.group and levels == 2:
            end = col
            while end + 1 <= last and columns[end + 1].group == column.group:
                end += 1
            if end > col:
                ws.merge_range(top, col, top, end, column.group, header)
            else:
                ws.write_string(top, col, column.group, header)
            for c in range(col, end + 1):
                ws.write_string(top + 1, c, columns[c].label, header)
            col = end + 1
        else:
            if levels == 2:
                ws.merge_range(top, col, top + 1, col, column.label, header)
            else:
                ws.write_string(top, col, column.label, header)
            col += 1
    tallest = max(wrapped_lines(c.label, w) for c, w in zip(columns, widths))
    for level in range(levels):
        ws.set_row(top + level, max(33, 16 * tallest) if level == levels - 1 else 30)
    numbers_row = top + levels
    for col in range(len(columns)):
        ws.write_number(numbers_row, col, col + 1, styles.get(italic=True, border=1, align="center", num_format="0"))
    first = numbers_row + 1
    for n, row in enumerate(table.rows):
        r = first + n
        for col, column in enumerate(columns):
            value = row.values.get(column.key)
            kind = row.kind if column.kind == "row" else column.kind
            if column.kind == "text":
                text = "" if value is None else str(value)
                fmt = styles.text(bold=row.bold, indent=row.indent) \
                    if column.show == "label" else styles.get(border=1, bold=row.bold, align="center", valign="vcenter",
                                                            text_wrap=True)
                ws.write_string(r, col, text, fmt)
            elif value is None:  # nothing to show: the column's mark for it (e.g. "–"), else blank
                fmt = styles.get(border=1, align="center", valign="vcenter", bold=row.bold)
                if column.empty:
                    ws.write_string(r, col, column.empty, fmt)
                else:
                    ws.write_blank(r, col, None, fmt)
            else:
                ws.write_number(r, col, float(Decimal(value)), styles.number(kind, bold=row.bold))
        fit_row_height(ws, r, row.label, LABEL_WIDTH)
    end = first + len(table.rows)
    if table.chart:
        _chart(workbook, ws, table, first, end - 1)
    notes = [*table.notes, _completeness(report)]
    if report.summary and table is report.tables[0]:
        notes.insert(0, report.summary)
    notes.append(f'Phiên bản số liệu của từng đơn vị: xem sheet "{SOURCES_SHEET}".')
    r = end + 1
    for note in notes:
        ws.merge_range(r, 0, r, last, note, styles.note(bold=note == report.summary))
        fit_row_height(ws, r, note, sum(widths))
        r += 1
    _signatures(ws, styles, signing, r + 1, last, split)
    ws.freeze_panes(first, 2)
    page_setup(ws, landscape=True, header_rows=(top, numbers_row))


def _completeness(report: Report) -> str:
    total = len(report.sources) + len(report.missing)
    text = f"Số liệu tổng hợp từ {len(report.sources)}/{total} đơn vị có báo cáo hợp lệ."
    if report.missing:
        text += " Chưa có số liệu hợp lệ của: " + name_list([u.name for u in report.missing]) + "."
    return text


def _signatures(ws, styles: Styles, signing: Signing, row: int, last: int, split: int) -> None:
    """The place and date line, the preparer's and the signer's titles, and their names (left
    blank for a hand signature when the plan gives none)."""
    right = styles.get(bold=True, align="center")
    ws.merge_range(row, split + 1, row, last, signing.date_line(), styles.get(italic=True, align="center"))
    ws.merge_range(row + 1, 0, row + 1, split, signing.preparer_title, right)
    titles = [t for t in (signing.on_behalf, signing.deputy, signing.title) if t]
    for offset, text in enumerate(titles, start=1):
        ws.merge_range(row + offset, split + 1, row + offset, last, text, right)
    ws.merge_range(row + 7, 0, row + 7, split, signing.preparer, right)
    ws.merge_range(row + 7, split + 1, row + 7, last, signing.signer, right)


def _chart(workbook, ws, table: Table, first: int, last_row: int) -> None:
    """A bar chart of one column per row (the total row excluded), beside the table."""
    key, title = table.chart
    col = next(n for n, c in enumerate(table.columns) if c.key == key)
    label_col = next(n for n, c in enumerate(table.columns) if c.show == "label")
    rows = last_row - 1  # without the total row
    chart = workbook.add_chart({"type": "bar"})
    chart.add_series({
        "name": title,
        "categories": [ws.name, first, label_col, rows, label_col],
        "values": [ws.name, first, col, rows, col],
        "data_labels": {"value": True, "num_format": "0.0"},
        "fill": {"color": "#2F5597"},
    })
    chart.set_title({"name": title, "name_font": {"name": "Times New Roman", "size": 12}})
    chart.set_legend({"none": True})
    chart.set_x_axis({"num_format": "0", "num_font": {"name": "Times New Roman"}})
    chart.set_y_axis({"reverse": True, "num_font": {"name": "Times New Roman"}})
    chart.set_size({"width": 720, "height": 24 * (rows - first + 1) + 80})
    ws.insert_chart(xl_rowcol_to_cell(last_row + 12, 1), chart)


def _sources_sheet(workbook, styles: Styles, catalogue: Catalogue, reports: list[Report]) -> None:
    """Which file (version) of each unit the reports used, and who is missing."""
    ws = workbook.add_worksheet(SOURCES_SHEET)
    headers = [("STT", 6), ("Mã đơn vị", 12), ("Tên đơn vị", 40), ("Trạng thái", 24), ("Tệp đã dùng", 40),
               ("Thời điểm nhận", 20), ("Mã băm (SHA-256, 12 ký tự đầu)", 18), ("Ghi chú", 50)]
    for col, (name, width) in enumerate(headers):
        ws.set_column(col, col, width)
        ws.write_string(0, col, name, styles.header())
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
            ws.write_string(n, col, text, styles.text())
    ws.freeze_panes(1, 0)
    page_setup(ws, landscape=True, header_rows=(0, 0))
