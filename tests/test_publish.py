"""The published Biểu 01–15, read back from the written workbooks: every 2023 figure of the
report in its cell, totals that add up, the official look, byte-for-byte reproducibility,
what a missing or rejected unit does to a Biểu, and the previews. (LibreOffice converting every
Biểu and the all-in-one workbook: tests/test_pdf_set.py, on the same sample's set.)"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from decimal import ROUND_HALF_UP, Decimal

import openpyxl
import pytest
from starlette.testclient import TestClient

from pipeline.catalogue import Ref
from pipeline.intake.take_in import take_in_unit
from pipeline.publication.publish import publish_period
from pipeline.publication.status import write_status
from pipeline.publication.workbooks import INCOMPLETE, SOURCES_SHEET
from pipeline.settings import Places
from pipeline.tools.sample import sample_values
from pipeline.warehouse import connect
from pipeline.web.app import create_app
from pipeline.workbook.template import Filling, write_unit_workbook
from tests.conftest import (
    ROOT,
    needs_libreoffice,
    needs_pdftoppm,
    sample_taken_in,
    take_in_everything,
)

T0 = dt.datetime(2023, 8, 10, 8, 0)


@pytest.fixture(scope="module")
def published(catalogue, tmp_path_factory):
    data = tmp_path_factory.mktemp("data")
    sample_taken_in(catalogue, tmp_path_factory, data, T0)
    reports, publication = publish_period(catalogue, data / "warehouse.duckdb", data / "out", "2023")
    return data, reports, publication


def _sheet(publication, code, sheet=None):
    workbook = openpyxl.load_workbook(publication.files[code])
    return workbook[sheet or f"Biểu {code}"]


def _rows(ws):
    """Data rows after the column-number row: {label (column B): [cells]}."""
    values = [[c.value for c in row] for row in ws.iter_rows()]
    start = next(n for n, row in enumerate(values) if row[0] == 1 and row[1] == 2) + 1
    rows = {}
    for row in values[start:]:
        if row[1] is None:
            break
        rows[str(row[1])] = row
    return rows


def _shown(value, places=1):
    return Decimal(str(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


EXPECTED_01 = {  # target: (result as printed, đánh giá) — forms.md, from the 2023 report
    "T01": ("41.2", "Chưa đánh giá"), "T02": ("11.8", "Chưa đánh giá"), "T03": ("100.0", "Đạt"),
    "T04": ("491", "Chưa đạt"), "T05": ("100.0", "Đạt"), "T06": ("100.0", "Đạt"), "T07": ("14.7", "Đạt"),
    "T08": ("29.3", "Chưa đạt"), "T09": ("98.9", "Vượt"), "T10": ("99.9", "Đạt"), "T11": ("99.8", "Đạt"),
    "T12": ("98.7", "Đạt"), "T13": ("72.7", "Đạt"), "T14": ("99.3", "Vượt"), "T15": ("71.9", "Vượt"),
    "T16": ("22.4", "Chưa đạt"), "T17": ("100.0", "Đạt"), "T18": ("0", "Chưa đạt"), "T19": ("88.0", "Chưa đạt"),
    "T20": ("48.0", "Chưa đạt"), "T21": ("90.0", "Đạt"), "T22": ("95.0", "Đạt"), "T23": ("100.0", "Đạt"),
    "T24": ("0", "Chưa đạt"), "T25": ("0", "Chưa đạt"),
}


def test_bieu_01_reproduces_the_report(catalogue, published):
    ws = _sheet(published[2], "01")
    rows = {str(r[0]): r for r in _rows(ws).values()}
    for n, target in enumerate(catalogue.targets, start=1):
        stt, label, unit, plan, actual, ratio, verdict = rows[str(n)][:7]  # no last year's column: see below
        expected, assessment = EXPECTED_01[target.code]
        places = 1 if target.kind == "rate" else 0
        assert (label, _shown(actual, places), verdict) == (target.label, Decimal(expected), assessment), target.code
    assert rows["4"][3] == 1000 and _shown(rows["4"][5]) == Decimal("49.1")  # trained 491 of planned 1.000
    assert rows["1"][3] == "–" and rows["1"][5] is None  # not due: no plan, no ratio
    texts = [c.value for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    assert "Đạt và vượt 15/25 chỉ tiêu (không tính 02 chỉ tiêu chưa đánh giá)." in texts
    # no 2022 in the warehouse and no last year's figure in the plan: the column is left out, and said so
    # in the sources annex (a remark for the district's staff, not on the signed table)
    assert "Thực hiện năm trước" not in texts and not any(t.startswith("Chưa có số liệu thực hiện năm trước") for t in texts)
    remarks = openpyxl.load_workbook(published[2].annex)["Ghi chú"]
    assert any(str(c.value).startswith("Chưa có số liệu thực hiện năm trước") for row in remarks.iter_rows() for c in row)


def test_bieu_01_rates_per_unit_with_chart(catalogue, published):
    ws = _sheet(published[2], "01", "Tỷ lệ theo đơn vị")
    rows = _rows(ws)
    total = rows["TỔNG CỘNG TOÀN HUYỆN"]
    assert len(rows) == 20 and total[2:5] == [19336, 7966, 2279] and _shown(total[5]) == Decimal("41.2")
    town = rows["Thị trấn Tuần Giáo"]
    values = sample_values(catalogue)["03253"]
    assert Decimal(str(town[5])) == pytest.approx(100 * Decimal(values[Ref("01", "HO_NGHEO")]) / values[Ref("01", "HO_TONG")])
    assert ws["C3"].value == "Phụ biểu của Biểu số 01"  # not a second "Biểu số 01" (over the first column group)
    # the chart is on a chart sheet of its own, right after the table it draws: it covers nothing
    workbook = openpyxl.load_workbook(published[2].files["01"])
    names = workbook.sheetnames
    assert names[names.index("Tỷ lệ theo đơn vị") + 1] == "Biểu đồ – Tỷ lệ theo đơn vị"
    assert not ws._charts and len(workbook.chartsheets[0]._charts) == 1


def test_bieu_02_reproduces_the_report(published):
    rows = _rows(_sheet(published[2], "02"))
    total = rows["TỔNG CỘNG"][2:]
    money, rates = total[:14], total[14:]
    assert [Decimal(str(v)) for v in money] == [Decimal(x) for x in (
        "132310", "73581", "58729", "98468", "50000", "48468", "1453", "32389", "23581", "8808", "0", "17243",
        "13334.47", "3908.53")]
    assert [_shown(v) for v in rates] == [Decimal("13.0"), Decimal("18.1"), Decimal("6.7")]
    disbursing = {"Tiểu dự án 1: Hỗ trợ đầu tư phát triển hạ tầng kinh tế - xã hội các huyện nghèo",
                  "Tiểu dự án 2: Cải thiện dinh dưỡng", "Tiểu dự án 1: Nâng cao năng lực thực hiện Chương trình"}
    for label in disbursing:
        assert rows[label][13] > 0


def test_sub_project_figures(published):
    rows_08, rows_11 = _rows(_sheet(published[2], "08")), _rows(_sheet(published[2], "11"))
    assert rows_08["TỔNG CỘNG"][2] == 491
    header = [c.value for c in _sheet(published[2], "11")[9]]
    assert rows_11["TỔNG CỘNG"][header.index("Số nhà đang thi công (hộ)")] == 266


@pytest.mark.parametrize("code", [f"{n:02d}" for n in range(3, 16)])
def test_totals_row_is_the_sum_of_unit_rows(published, code):
    ws = _sheet(published[2], code)
    rows = _rows(ws)
    total = rows.pop("TỔNG CỘNG")
    header = [c.value for c in ws[9]]
    rate = header.index("Tỷ lệ giải ngân (%)")
    for col in range(2, len(total)):
        if col == rate:
            continue
        assert Decimal(str(total[col])) == sum(Decimal(str(r[col] or 0)) for r in rows.values()), (code, header[col])
    funds, disbursed = Decimal(str(total[rate - 2])), Decimal(str(total[rate - 1]))
    assert total[rate] == pytest.approx(float(100 * disbursed / funds)) if funds else total[rate] is None


def test_official_look(published):
    ws = _sheet(published[2], "02")
    texts = {c.value for row in ws.iter_rows(max_row=8) for c in row if isinstance(c.value, str)}
    assert {"UBND HUYỆN TUẦN GIÁO", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc",
            "Biểu số 02"} <= texts
    footer = {c.value for row in ws.iter_rows() for c in row if isinstance(c.value, str)}
    assert {"NGƯỜI LẬP BIỂU", "TM. ỦY BAN NHÂN DÂN", "Tuần Giáo, ngày 15 tháng 8 năm 2023"} <= footer
    assert not {"Lò Văn Tiến", "Quàng Thị Hương"} & footer  # no name nobody gave
    for code, path in published[2].files.items():  # every Biểu is signed by the sample plan's signer
        workbook = openpyxl.load_workbook(path)
        texts = {c.value for ws in workbook for row in ws.iter_rows() for c in row if isinstance(c.value, str)}
        assert {"KT. CHỦ TỊCH", "PHÓ CHỦ TỊCH", "Mùa Va Hồ"} <= texts, code
    assert ws["A1"].font.name == "Times New Roman"
    # 19 columns: A4 in column groups after the repeated row labels, at a fixed scale that prints 12 pt text at
    # 9 pt or more (fit-to-page would override the breaks)
    assert ws.page_setup.orientation == "landscape" and ws.page_setup.paperSize == 9
    assert ws.page_setup.scale >= 75 and not ws.sheet_properties.pageSetUpPr.fitToPage
    assert ws.print_title_cols == "$A:$B" and ws.col_breaks.brk
    assert ws.oddFooter.center.text == "Trang &P/&N"
    assert _sheet(published[2], "05").page_setup.paperSize == 9  # the others: A4
    assert ws.print_title_rows == "$8:$10"  # both header rows and the column numbers
    assert ws.freeze_panes == "C11"
    assert any(str(m).startswith("C8:E8") for m in ws.merged_cells.ranges) or len(ws.merged_cells.ranges) > 10
    total = _rows(ws)["TỔNG CỘNG"]
    row = next(r for r in ws.iter_rows(min_row=11) if r[1].value == "TỔNG CỘNG")
    # Vietnamese separators whatever the computer's locale; a whole amount without ",00"
    assert row[1].font.b and row[16].number_format == "[$-42A]0.0"
    # money: one format a column, two decimals where a row has some (the total capital), none in a whole column
    assert row[2].value == 132310 and row[2].number_format == "[$-42A]#,##0.00"
    assert row[5].value == 98468 and row[5].number_format == "[$-42A]#,##0"
    assert isinstance(total[2], float | int)


def test_all_in_one_and_zip(published):
    publication = published[2]
    workbook = openpyxl.load_workbook(publication.all_in_one)
    assert workbook.sheetnames[:4] == ["Biểu 01", "Tỷ lệ theo đơn vị", "Biểu đồ – Tỷ lệ theo đơn vị", "Biểu 02"]
    assert [f"Biểu {n:02d}" in workbook.sheetnames for n in range(1, 16)] == [True] * 15
    import zipfile

    with zipfile.ZipFile(publication.archive) as archive:
        assert sorted(archive.namelist()) == sorted([p.name for p in publication.files.values()]
                                                    + [publication.all_in_one.name, publication.annex.name])


def test_publication_is_byte_for_byte_reproducible(catalogue, published, tmp_path):
    data, _, first = published
    _, second = publish_period(catalogue, data / "warehouse.duckdb", tmp_path, "2023")
    for path in [*first.files.values(), first.all_in_one, first.archive]:
        assert path.read_bytes() == (second.folder / path.name).read_bytes(), path.name


def test_missing_and_rejected_units_are_named(catalogue, sample_files, tmp_path):
    inbox = tmp_path / "inbox" / "2023"
    inbox.mkdir(parents=True)
    for path in sample_files:
        if not path.name.startswith("03253"):  # the town never reports
            shutil.copy(path, inbox / path.name)
    take_in_everything(catalogue, Places.under(tmp_path), T0)
    values = sample_values(catalogue)["03259"]
    values[Ref("01", "HO_NGHEO")] = 10 ** 6  # a newer file from Phình Sáng that breaks the rules
    newer = write_unit_workbook(inbox / "phinh-sang-moi.xlsx", catalogue, catalogue.unit("03259"),
                                Filling({"MA_DON_VI": "03259", "KY_BAO_CAO": "2023"}, values))
    os.utime(newer, (4_000_000_000, 4_000_000_000))
    assert take_in_unit(catalogue, Places.under(tmp_path, tmp_path / "inbox"), "2023", "03259",
                        T0 + dt.timedelta(days=1)).status == "invalid"
    reports, publication = publish_period(catalogue, tmp_path / "warehouse.duckdb", tmp_path / "out", "2023")
    ws = _sheet(publication, "01")
    texts = [c.value for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    assert any(INCOMPLETE in t for t in texts)
    assert "Số liệu tổng hợp từ báo cáo hợp lệ của 18/19 xã, thị trấn: thiếu Thị trấn Tuần Giáo." in texts
    rows = _rows(_sheet(publication, "03"))
    assert "Thị trấn Tuần Giáo" not in rows and "Xã Phình Sáng" in rows
    sources = {row[1].value: row for row in openpyxl.load_workbook(publication.files["01"])[SOURCES_SHEET].iter_rows(min_row=3)}
    assert sources["03253"][3].value == "Chưa có số liệu hợp lệ"
    assert sources["03259"][4].value == "03259-xa-phinh-sang.xlsx"
    assert "phinh-sang-moi.xlsx" in sources["03259"][7].value and "phiên bản hợp lệ trước đó" in sources["03259"][7].value
    households = _rows(_sheet(publication, "01", "Tỷ lệ theo đơn vị"))["Xã Phình Sáng"]
    assert households[3] < 10 ** 6 and households[5] < 100  # the older, valid figures are the ones used


@pytest.mark.slow
@needs_libreoffice
@needs_pdftoppm
def test_preview_renders_bieu_01_and_02_to_png(published, tmp_path):
    completed = subprocess.run(
        [sys.executable, "-m", "pipeline", "preview", "--period", "2023", "--folder", str(published[2].folder),
         "--out", str(tmp_path / "preview")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    pngs = sorted(p.name for p in (tmp_path / "preview").glob("*.png"))
    assert any(p.startswith("Bieu_01_2023") for p in pngs) and any(p.startswith("Bieu_02_2023") for p in pngs)
    assert all((tmp_path / "preview" / p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    if shutil.which("chromium"):
        assert {"trang-tai-ve.png", "trang-ky-2023.png"} <= set(pngs)


def test_a_missing_agency_is_missed_on_every_bieu_its_funds_count_in(catalogue, sample_files, tmp_path):
    """The sample without Phòng Tài chính – Kế hoạch: every Biểu that prints form 02's funds
    says so and names it, with the communes and agencies counted apart; the others do not."""
    files = [p for p in sample_files if not p.name.startswith("099-TCKH")]
    places = take_in_everything(catalogue, Places.under(tmp_path / "data"), T0, files)
    reports, publication = publish_period(catalogue, places.warehouse, places.out, "2023")
    missing = {r.code: [u.name for u in r.missing] for r in reports}
    assert missing["01"] == []  # Biểu 01 prints no funds: the communes' forms only
    funds = [code for code, bieu in catalogue.bieu.items() if "02" in bieu.forms]
    assert {"02", "03", "04", "05", "06", "08", "09", "10", "13"} <= set(funds)
    assert all(missing[code] == ["Phòng Tài chính - Kế hoạch"] for code in funds)
    for code in ("03", "04"):
        ws = _sheet(publication, code)
        texts = [c.value for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
        assert any(INCOMPLETE in t for t in texts)
        assert ("Số liệu tổng hợp từ báo cáo hợp lệ của 19/19 xã, thị trấn; 3/4 cơ quan huyện: thiếu Phòng Tài "
                "chính - Kế hoạch.") in texts
        sources = [row[2].value for row in openpyxl.load_workbook(publication.files[code])[SOURCES_SHEET].iter_rows(min_row=3)]
        assert "Phòng Lao động - Thương binh và Xã hội" in sources  # the agencies whose numbers are in the table
        assert "Phòng Tài chính - Kế hoạch" in sources  # … and the one missing, with its state
    status = json.loads((places.out / "2023" / "status.json").read_text(encoding="utf-8"))
    assert status["incomplete"]["Bieu_03_2023.xlsx"] == ["Phòng Tài chính - Kế hoạch"]
    assert "Bieu_01_2023.xlsx" not in status["incomplete"]
    with connect(places.warehouse) as conn:
        write_status(catalogue, conn, places.out, T0.date())
    page = TestClient(create_app(places.data)).get("/ky/2023").text
    assert "(Bieu_03_2023.xlsx)</span>" in page and f"{INCOMPLETE}: thiếu Phòng Tài chính - Kế hoạch" in page


def test_the_full_sample_counts_its_agencies(published):
    _, reports, publication = published
    texts = [c.value for row in _sheet(publication, "03").iter_rows() for c in row if isinstance(c.value, str)]
    assert "Số liệu tổng hợp từ báo cáo hợp lệ của 19/19 xã, thị trấn; 4/4 cơ quan huyện." in texts
    assert all(r.complete for r in reports)
