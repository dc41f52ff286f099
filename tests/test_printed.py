"""The published Biểu as the officer prints them: every workbook of the 2023 sample rendered
by a real LibreOffice under an English locale (LANG=C and an en-US profile), read back with
pdftotext: page numbers, the signature block kept with table rows, Vietnamese numbers, the
signer and dates; and the page arithmetic itself."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path
from xml.etree import ElementTree

import openpyxl
import pytest
from openpyxl.utils import get_column_letter

from pipeline.catalogue import CATALOGUE_DIR, TOTAL_ROW, load_catalogue
from pipeline.office import convert_all
from pipeline.publication.pages import A4, PRINTABLE, column_groups, page_starts
from pipeline.publication.publish import publish_period
from pipeline.workbook.style import column_points
from tests.conftest import needs_render, sample_taken_in

T0 = dt.datetime(2023, 8, 10, 8, 0)


ENGLISH_PROFILE = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema" \
xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Setup/L10N"><prop oor:name="ooSetupSystemLocale" oor:op="fuse">\
<value>en-US</value></prop></item>
</oor:items>
"""
SIGNATURE = ("Tuần Giáo, ngày 15 tháng 8 năm 2023", "NGƯỜI LẬP BIỂU", "TM. ỦY BAN NHÂN DÂN", "KT. CHỦ TỊCH",
             "PHÓ CHỦ TỊCH", "Mùa Va Hồ")


def squeezed(text: str) -> str:
    """The text without white space: pdftotext puts spaces inside some words ("c ủa")."""
    return "".join(text.split())


def table_rows(page: str) -> int:
    """Lines of table rows: those that begin with the row's number (STT), not the row of column
    numbers (1 2 3 …), and the total row."""
    return sum(1 for line in page.splitlines()
               if (tokens := line.split()) and (tokens[0].isdigit() and not all(t.isdigit() for t in tokens)
                                                or line.lstrip().startswith("TỔNG CỘNG")))


@pytest.fixture(scope="module")
def published(catalogue, tmp_path_factory):
    """The sample's set: (data folder, reports, publication)."""
    data = tmp_path_factory.mktemp("printed")
    sample_taken_in(catalogue, tmp_path_factory, data, T0)
    reports, publication = publish_period(catalogue, data / "warehouse.duckdb", data / "out", "2023")
    return data, reports, publication


@pytest.fixture(scope="module")
def printed(published):
    """{Biểu code: [text of each printed page]} and the reports, rendered in one LibreOffice start."""
    data, reports, publication = published
    profile = data / "profile"
    (profile / "user").mkdir(parents=True)
    (profile / "user" / "registrymodifications.xcu").write_text(ENGLISH_PROFILE, encoding="utf-8")
    sources = [path.resolve() for path in publication.files.values()]
    pdfs = convert_all(sources, data / "pdf", "pdf", profile=profile)
    pages = {}
    for code, pdf in zip(publication.files, pdfs):
        text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True,
                              env={"LANG": "C", "LC_ALL": "C", "PATH": "/usr/bin:/bin"}).stdout
        pages[code] = [page for page in text.split("\f") if page.strip()]
    return pages, reports


def normalized(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def raw_text(published, printed):
    """{Biểu code: the PDF's text in drawing order (pdftotext -raw), white space normalized}:
    a wrapped cell's lines follow one another, so a cell's text reads back whole."""
    data, _, publication = published
    return {code: normalized(subprocess.run(["pdftotext", "-raw", str(data / "pdf" / f"{path.stem}.pdf"), "-"],
                                            capture_output=True, text=True, check=True).stdout)
            for code, path in publication.files.items()}


@needs_render
def test_every_title_header_and_note_reads_back_whole(published, raw_text):
    """A row too short for its wrapped text cuts the marks off its letters (Biểu 11's title
    once read "DỰ AN 5: HO TRỢ NHA Ơ …"): every title, column header and note of every Biểu
    is in the PDF's text exactly as the catalogue writes it."""
    _, reports, _ = published
    for report in reports:
        text = raw_text[report.code]
        for table in report.tables:
            expected = [table.title, table.unit_note, *table.notes, *(c.label for c in table.columns),
                        *(c.group for c in table.columns if c.group)]
            for line in expected:
                assert normalized(line) in text, (report.code, line)


def words(pdf: Path, page: int) -> list[tuple[float, float, str]]:
    """The words of a PDF page with their top and bottom (points from the page's top)."""
    xhtml = subprocess.run(["pdftotext", "-bbox", "-f", str(page), "-l", str(page), str(pdf), "-"],
                           capture_output=True, text=True, check=True).stdout
    found = ElementTree.fromstring(xhtml).iter("{http://www.w3.org/1999/xhtml}word")
    return [(float(w.get("yMin")), float(w.get("yMax")), w.text) for w in found]


@needs_render
def test_a_title_of_two_lines_stays_inside_its_row(published, tmp_path):
    """A title's row is as tall as its wrapped lines (Biểu 11's 77 capitals once wrapped to two
    lines in a row of one, and the marks of the first line were cut off: "DỰ AN 5: HO TRỢ…")."""
    data, _, _ = published
    folder = tmp_path / "catalogue"
    shutil.copytree(CATALOGUE_DIR, folder, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    layout = folder / "bieu" / "sub_project.toml"
    layout.write_text(layout.read_text(encoding="utf-8").replace('title = "{WITHIN_PROJECT}"', 'title = "{SUB_PROJECT} – {SUB_PROJECT}"'),
                      encoding="utf-8")
    reports, publication = publish_period(load_catalogue(folder), data / "warehouse.duckdb", tmp_path / "out", "2023")
    [title] = [r.tables[0].title for r in reports if r.code == "11"]
    [pdf] = convert_all([publication.files["11"].resolve()], tmp_path / "pdf", "pdf")
    sheet = openpyxl.load_workbook(publication.files["11"])["Biểu 11"]
    scale = (sheet.page_setup.scale or 100) / 100
    heights = [sheet.row_dimensions[row].height * scale for row in range(1, 5)]  # the title is row 4
    top = sheet.page_margins.top * 72 + sum(heights[:3])
    page = words(pdf, 1)
    stamp = {(y0, y1) for y0, y1, word in page if word == "THẢO"}  # "DỰ THẢO – chưa duyệt đủ", the line above
    printed = [(y0, y1) for y0, y1, word in page
               if word in title.split() and top - 30 < y0 < top + heights[3] and (y0, y1) not in stamp]
    assert len(printed) == len(title.split())
    assert len({y0 for y0, _ in printed}) >= 2  # it wraps
    assert all(top - 1 <= y0 and y1 <= top + heights[3] + 1 for y0, y1 in printed), (top, heights[3], printed)


@needs_render
def test_every_page_is_a4_and_its_text_9_pt_or_more(published, printed):
    data, reports, publication = published
    for code, path in publication.files.items():
        info = subprocess.run(["pdfinfo", "-f", "1", "-l", "999", str(data / "pdf" / f"{path.stem}.pdf")],
                              capture_output=True, text=True, check=True).stdout
        sizes = [sorted(round(float(n)) for n in line.split(":")[1].split("pts")[0].split(" x "))
                 for line in info.splitlines() if line.startswith("Page") and " size:" in line]
        assert sizes and all(size == [595, 842] for size in sizes), (code, sizes)
        for ws in openpyxl.load_workbook(path).worksheets:
            if ws.sheet_state == "visible":
                smallest = min([c.font.sz for row in ws.iter_rows() for c in row if c.value is not None]
                               + [ws.oddFooter.center.size])  # "Trang x/y" too
                assert smallest * (ws.page_setup.scale or 100) / 100 >= 9, (code, ws.title)


@needs_render
def test_a_wide_table_repeats_its_row_labels_in_each_column_group(printed):
    pages, _ = printed
    continued = [page for page in pages["02"] if "Biểu số 02 (tiếp theo)" in page]
    assert continued
    for page in [pages["02"][0], *continued]:
        assert "TỔNG CỘNG" in page and squeezed("Dự án 1: Hỗ trợ đầu tư") in squeezed(page)
    numbers = {int(t) for page in pages["02"] for line in page.splitlines()
               if (tokens := line.split()) and all(t.isdigit() for t in tokens) for t in tokens}
    assert set(range(1, 20)) <= numbers  # every column printed (its number in the row of column numbers)


def test_a_narrow_table_fills_the_page_width(published):
    sheet = openpyxl.load_workbook(published[2].files["01"])["Biểu 01"]
    width = sum(column_points(sheet.column_dimensions[get_column_letter(n)].width) for n in range(1, sheet.max_column + 1))
    assert width * (sheet.page_setup.scale or 100) / 100 >= 0.9 * PRINTABLE[A4][0]


@needs_render
def test_every_header_stays_inside_its_rows(published, printed):
    """The header of every table prints inside its rows on the first page: no label's first or
    last line cut by a row too low for it."""
    data, reports, publication = published
    for report in reports:
        pdf = data / "pdf" / f"{publication.files[report.code].stem}.pdf"
        workbook = openpyxl.load_workbook(publication.files[report.code])
        page = 1
        for table in report.tables:
            sheet = workbook[table.sheet]
            scale = (sheet.page_setup.scale or 100) / 100
            heights = [sheet.row_dimensions[row].height * scale for row in range(1, 11)]
            levels = 2 if any(c.group for c in table.columns) else 1
            top = sheet.page_margins.top * 72 + sum(heights[:7])
            bottom = top + sum(heights[7:7 + levels])
            inside = [(y0, y1, word) for y0, y1, word in words(pdf, page) if top < (y0 + y1) / 2 < bottom]
            assert inside, (report.code, table.sheet)
            assert all(top - 1 <= y0 and y1 <= bottom + 1 for y0, y1, _ in inside), (report.code, table.sheet, top, bottom)
            page += len(sheet.row_breaks.brk) + 1 if not sheet.col_breaks.brk else \
                (len(sheet.row_breaks.brk) + 1) * (len(sheet.col_breaks.brk) + 1)


@needs_render
def test_every_page_has_its_number(printed):
    for code, pages in printed[0].items():
        for n, page in enumerate(pages, start=1):
            assert f"Trang {n}/{len(pages)}" in page, (code, n)


INTERNAL = ("Nguồn số liệu", "NGUỒN SỐ LIỆU", "SHA-256", ".xlsx", "kho dữ liệu", "Chưa có số liệu thực hiện năm trước")


@needs_render
def test_the_signed_document_ends_at_the_signature(printed, raw_text):
    """Nothing meant for the district's staff (file names, hashes, remarks on missing data) on
    a Biểu: its last page is signed (or, after a signed table, its chart)."""
    pages, reports = printed
    for report in reports:
        text = raw_text[report.code]
        assert not [word for word in INTERNAL if word in text], report.code
        signed = -2 if report.tables[-1].chart else -1
        assert "NGƯỜI LẬP BIỂU" in pages[report.code][signed], report.code


def test_one_number_format_per_column(published):
    """A money column prints with decimals on every row or on none ("132.310" once stood above
    "79.040,63"); only the columns of the row's own kind (Biểu 01's targets) differ by row."""
    _, reports, publication = published
    for report in reports:
        workbook = openpyxl.load_workbook(publication.files[report.code])
        for table in report.tables:
            rows = list(workbook[table.sheet].iter_rows())
            first = next(n for n, row in enumerate(rows) if (row[0].value, row[1].value) == (1, 2)) + 1
            for col, column in enumerate(table.columns):
                if column.kind not in ("text", "row"):
                    formats = {row[col].number_format for row, data in zip(rows[first:], table.rows)
                               if isinstance(row[col].value, (int, float))
                               and not (column.kind == "flag" and data.code == TOTAL_ROW)}  # a count of units
                    assert len(formats) <= 1, (report.code, column.key, formats)


@needs_render
def test_the_chart_page_is_headed(printed):
    pages, _ = printed
    chart = squeezed(pages["01"][-1])
    assert squeezed("Phụ biểu của Biểu số 01 – CÁC TỶ LỆ THEO TỪNG ĐƠN VỊ") in chart and "NGƯỜILẬPBIỂU" not in chart


@needs_render
def test_signature_block_is_whole_and_never_alone(printed):
    for code, pages in printed[0].items():
        signed = [page for page in pages if "NGƯỜI LẬP BIỂU" in page]
        assert signed, code
        for page in signed:
            for line in SIGNATURE:
                assert squeezed(line) in squeezed(page), (code, line)
            assert table_rows(page) >= 2, code  # table rows on the same page as the block


@needs_render
def test_numbers_print_vietnamese_under_an_english_locale(printed):
    bieu_02, bieu_01 = "\n".join(printed[0]["02"]), "\n".join(printed[0]["01"])
    for figure in ("13.334,47", "132.310,00", "98.468", "32.389"):  # a column with decimals: on every row
        assert figure in bieu_02, figure
    assert "132,310" not in bieu_02 and "98.468,00" not in bieu_02  # a column of whole amounts without ",00"
    assert "7.966" in bieu_01 and "19.336" in bieu_01 and "41,2" in bieu_01


@needs_render
def test_reference_line_and_dates(printed):
    for code, pages in printed[0].items():
        text = squeezed("\n".join(pages))
        assert squeezed("tháng 08") not in text, code  # Nghị định 30: "ngày 15 tháng 8"
        assert squeezed("(Kèm theo Báo cáo số ……/BC-UBND ngày …… tháng …… năm 2023 của UBND huyện Tuần Giáo)") in text
    assert squeezed("Phụ biểu của Biểu số 01") in squeezed("\n".join(printed[0]["01"]))


@needs_render
def test_flags_print_as_marks_and_their_total_as_a_count(printed):
    text = squeezed("\n".join(printed[0]["12"]))
    assert squeezed("(1 = có, 0 = không)") not in text and squeezed("(có/không)") in text
    assert squeezed("Cột có/không: “x” là có; dòng tổng cộng ghi số đơn vị có.") in text
    unit_rows = [line.split() for line in printed[0]["12"][0].splitlines() if "Xã Phình Sáng" in line]
    assert unit_rows and unit_rows[0][4:6] == ["x", "x"]  # STT, "Xã Phình Sáng", then its two flags


def test_agency_rows_without_figures_are_left_out(catalogue, published):
    for report in published[1]:
        for table in report.tables:
            for row in table.rows:
                unit = catalogue.find_unit(row.code)
                if unit is not None and not unit.is_commune:
                    assert any(v for v in row.values.values() if not isinstance(v, str)), (report.code, row.label)


def test_a_wide_table_goes_in_column_groups_on_a4():
    narrow = column_groups(308, [76.0] * 5, [str(n) for n in range(5)])
    assert (narrow[0].code, narrow[0].scale, narrow[1]) == (A4, 100, [range(0, 5)])  # fits: whole, at 12 pt
    # Biểu 02: 17 columns in header groups of 3, 3, 1, 3, 1, 3, 3
    runs = ["a"] * 3 + ["b"] * 3 + ["c"] + ["d"] * 3 + ["e"] + ["f"] * 3 + ["g"] * 3
    paper, groups = column_groups(224, [76.0] * 17, runs)
    assert paper.code == A4 and paper.scale * 12 / 100 >= 9 and len(groups) == 2
    assert [c for g in groups for c in g] == list(range(17))
    assert all(runs[g.start] != runs[g.start - 1] for g in groups[1:])  # a header group is not cut
    assert all(224 + 76 * len(g) <= paper.width for g in groups)
    # the last group has two columns at least: the signature block stands under it, the preparer beside the signer
    *_, last = column_groups(308, [76.0] * 10, [str(n) for n in range(10)])[1]  # 9 fit on a page
    assert len(last) == 2


def test_last_page_holds_rows_with_the_block():
    rows = [30.0] * 12
    # greedy: 12 rows fill two pages exactly and the block would stand alone on a third
    starts = page_starts(first_page=100, repeated=40, rows=rows, tail=150, capacity=460)
    last = starts[-1]
    assert len(rows) - last >= 2 and 40 + sum(rows[last:]) + 150 <= 460
    pages = [0, *starts, len(rows)]
    assert all(sum(rows[a:b]) + (100 if a == 0 else 40) <= 460 for a, b in zip(pages, pages[1:]))
    assert page_starts(first_page=100, repeated=40, rows=[30.0] * 3, tail=150, capacity=460) == []  # one page
    # the last row alone would begin a page that holds the block: it takes the row before it along
    assert page_starts(first_page=100, repeated=40, rows=[30.0] * 13, tail=40, capacity=460) == [11]
