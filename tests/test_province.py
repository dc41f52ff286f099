"""The province as the reporting level (issue 30): the shipped 2025 period (after 1/7/2025: the
province regime, the 7 new communes), its synthetic sample, and its Biểu 01 published with the
2024 column restated onto the new communes (counts added, rates recomputed, coverage noted)."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import zipfile
from decimal import Decimal

import openpyxl
import pytest

from pipeline.catalogue import Ref, load_catalogue
from pipeline.publication.phase import build_phase_reports
from pipeline.publication.publish import publish_period
from pipeline.catalogue.contract import PERIOD_FIELD, PREPARER_FIELD
from pipeline.publication.tables import round_half_up
from pipeline.checking.findings import LARGE_CHANGE
from pipeline.cli import main
from pipeline.warehouse import connect
from pipeline.warehouse.restate import previous_on_units, units_differ
from pipeline.settings import Places
from pipeline.states import Verdict
from pipeline.text import ratio, show_number
from pipeline.tools.sample import SYNTHETIC_PREPARER, sample_values, take_in_history, write_merged_sample
from pipeline.workbook.template import write_unit_workbook
from pipeline.workbook.reader import read_workbook
from tests.conftest import ROOT

NEW_COMMUNES = ["03253", "03295", "03268", "03260", "03283", "03301", "03244"]
HO_TONG, HO_NGHEO, HO_CAN_NGHEO = Ref("01", "HO_TONG"), Ref("01", "HO_NGHEO"), Ref("01", "HO_CAN_NGHEO")


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue()


def test_2025_is_reported_by_the_province_from_the_new_communes(catalogue):
    period = catalogue.periods["2025"]
    assert not period.is_open  # a shipped year taken in as history, like 2021, 2022 and 2024
    assert catalogue.body("2025").authority == "UBND TỈNH ĐIỆN BIÊN"
    assert catalogue.body("2024").authority == "UBND HUYỆN TUẦN GIÁO"
    assert [u.code for u in catalogue.units_in("2025")] == NEW_COMMUNES
    assert all(u.is_commune and u.parent[0] == "11" for u in catalogue.units_in("2025"))  # the province, no district
    assert units_differ(catalogue, "2024", "2025")
    assert not units_differ(catalogue, "2022", "2023")  # 2023 reads its 2022 as it was


def _unit_list(path):
    workbook = openpyxl.load_workbook(path)
    hidden = next(ws for ws in workbook.worksheets if ws.sheet_state == "hidden" and ws.cell(1, 1).value == "Mã đơn vị")
    return {row[0]: row[1] for row in hidden.iter_rows(min_row=2, values_only=True)}


def test_the_template_lists_the_units_of_its_periods_not_the_2025_names(catalogue, tmp_path):
    """03253 is Thị trấn Tuần Giáo until 30/6/2025 and Xã Tuần Giáo after: the blank template
    (offering 2023) keeps the old name, a 2025 file the new one."""
    blank = _unit_list(write_unit_workbook(tmp_path / "blank.xlsx", catalogue))
    assert blank["03253"] == "Thị trấn Tuần Giáo" and "03301" not in blank
    of_2025 = _unit_list(next(p for p in write_merged_sample(tmp_path, catalogue, "2025") if p.name.startswith("03253")))
    assert of_2025["03253"] == "Xã Tuần Giáo" and "03301" in of_2025


def test_the_2025_sample_is_the_new_communes_marked_synthetic(catalogue):
    files = sorted((ROOT / "data" / "sample" / "2025").glob("*.xlsx"))
    assert sorted(f.name[:5] for f in files) == sorted(NEW_COMMUNES)
    for path in files:
        assert path.name.endswith("-gia-lap.xlsx")
        submission = read_workbook(path, catalogue)
        assert submission.info[PREPARER_FIELD][0] == SYNTHETIC_PREPARER and str(submission.info[PERIOD_FIELD][0]) == "2025"


@pytest.fixture(scope="module")
def taken_in(catalogue, tmp_path_factory):
    """The shipped 2024 and 2025 samples taken in as history (as make run does)."""
    places = Places.under(tmp_path_factory.mktemp("province") / "data", ROOT / "data" / "sample")
    results = take_in_history(catalogue, places, ["2024", "2025"])
    assert all(r.status == Verdict.VALID for r in results["2024"]), results["2024"]
    assert sum(r.status == Verdict.VALID for r in results["2025"]) == 7  # no plan workbook for 2025
    return places, results


@pytest.fixture(scope="module")
def published_2025(catalogue, taken_in):
    """2025 published after its history was taken in (as make run does)."""
    places, _ = taken_in
    publish_period(catalogue, places.warehouse, places.out, "2025", today=dt.date(2025, 12, 15))
    return openpyxl.load_workbook(places.out / "2025" / "Bieu_01_2025.xlsx")


def _restated_2024(catalogue):
    """The 2024 sample's sums over the old units lineage.csv maps into the 2025 communes (read
    from the files' generator and the CSV, not through the restatement code)."""
    with open(ROOT / "pipeline" / "catalogue" / "lineage.csv", encoding="utf-8") as f:
        old = {row["old_code"] for row in csv.DictReader(f) if row["new_code"] in NEW_COMMUNES}
    values = sample_values(catalogue, "2024")
    assert "03263" not in old and "03263" in values  # Nà Tòng went to Xã Tủa Chùa: not in the province's rows here
    return {ref: sum(Decimal(values[u][ref]) for u in old if u in values) for ref in (HO_TONG, HO_NGHEO, HO_CAN_NGHEO)}, values


def _row(sheet, label):
    return next(row for row in sheet.iter_rows(values_only=True) if row[1] == label)


def test_the_page_shows_the_history_years_units_as_taken_in(taken_in):
    """The units of a year taken in as history are on the page as they are (tiep-nhan.json), not
    "Chưa nộp" beside a published set."""
    places, _ = taken_in
    for year, valid in (("2024", 23), ("2025", 7)):
        units = json.loads((places.out / year / "tiep-nhan.json").read_text(encoding="utf-8"))["units"]
        assert [u["label"] for u in units].count("Hợp lệ") == valid == len(units)


def test_a_phase_over_the_change_of_units_is_complete_when_every_year_is(catalogue, taken_in):
    """2024 by the old units and 2025 by the new ones: no unit is missing from the years that
    expect it, so the phase's Biểu are not marked incomplete, and each unit's file is of the last
    year it reported."""
    places, _ = taken_in
    with connect(places.warehouse) as conn:
        reports = build_phase_reports(catalogue, conn, "2021-2025")
    assert all(not r.missing for r in reports)
    files = {s.unit.code + "|" + s.unit.name: s.file_name for s in reports[0].sources}
    assert files["03259|Xã Phình Sáng"] == "03259-xa-phinh-sang.xlsx"  # an old commune: its 2024 file
    assert files["03253|Xã Tuần Giáo"].endswith("-gia-lap.xlsx")  # its 2025 file, not Thị trấn Tuần Giáo's 2024


def test_bieu_01_of_2025_reads_the_restated_2024(catalogue, published_2025):
    sheet = published_2025["Biểu 01"]
    header = next(row for row in sheet.iter_rows(values_only=True) if row[0] == "STT")
    before = header.index("Thực hiện năm trước")
    sums, values = _restated_2024(catalogue)
    poor = _row(sheet, "Tỷ lệ hộ nghèo")[before]
    near = _row(sheet, "Tỷ lệ hộ cận nghèo")[before]
    assert round_half_up(Decimal(str(poor)), 6) == round_half_up(ratio(sums[HO_NGHEO], sums[HO_TONG]), 6)
    assert round_half_up(Decimal(str(near)), 6) == round_half_up(ratio(sums[HO_CAN_NGHEO], sums[HO_TONG]), 6)
    whole = {ref: sum(Decimal(v[ref]) for v in values.values() if ref in v) for ref in (HO_TONG, HO_NGHEO)}
    assert round_half_up(Decimal(str(poor)), 1) != round_half_up(ratio(whole[HO_NGHEO], whole[HO_TONG]), 1)  # not 2024 as it was
    texts = [row[0] for row in sheet.iter_rows(values_only=True) if isinstance(row[0], str)]
    assert "Xã Búng Lao: số liệu năm 2024 chỉ gồm phần thuộc huyện Tuần Giáo cũ (1/3 đơn vị)." in texts
    assert texts[0] == "UBND TỈNH ĐIỆN BIÊN"
    assert any("của UBND tỉnh Điện Biên)" in t for t in texts)


def test_the_2025_rows_are_the_new_communes(catalogue, published_2025):
    sheet = published_2025["Tỷ lệ theo đơn vị"]
    names = [row[1] for row in sheet.iter_rows(values_only=True) if isinstance(row[0], str) and row[0].isdigit()]
    assert names == [catalogue.unit(code, "2025").name for code in NEW_COMMUNES]


def test_the_2025_bieu_word_the_province_not_the_district(published_2025):
    """The fixed texts take the body's level word (regimes.toml): 2023 keeps "huyện" (its Biểu
    bytes are pinned), 2025 says "tỉnh"; "huyện" is left only where a note names the old district."""
    texts = [value for sheet in published_2025.worksheets[:2] for row in sheet.iter_rows(values_only=True)
             for value in row if isinstance(value, str)]
    assert "Chưa có kế hoạch năm của tỉnh: mọi chỉ tiêu ở trạng thái chưa đánh giá." in " ".join(texts)
    assert "TỔNG CỘNG TOÀN TỈNH" in texts
    assert "Cán bộ tỉnh đã duyệt báo cáo của 0/7 đơn vị." in texts
    assert "Số liệu tổng hợp từ báo cáo hợp lệ của 7/7 xã." in texts  # no thị trấn, no agency any more
    assert [t for t in texts if "huyện" in t.lower()] == [
        "Xã Búng Lao: số liệu năm 2024 chỉ gồm phần thuộc huyện Tuần Giáo cũ (1/3 đơn vị).",
        "Xã Sáng Nhè: số liệu năm 2024 chỉ gồm phần thuộc huyện Tuần Giáo cũ (1/3 đơn vị)."]


def test_large_changes_of_2025_are_against_the_restated_2024(catalogue, taken_in):
    """Xã Tuần Giáo (code 03253, that of the former Thị trấn) is compared with its three old
    communes' 2024 added, not with the Thị trấn alone; Xã Búng Lao, whose Mường Ảng part is not
    loaded, with nothing."""
    places, results = taken_in
    sums, values = _restated_2024(catalogue)
    with connect(places.warehouse) as conn:
        before = previous_on_units(conn, catalogue, NEW_COMMUNES, "2025")
    tuan_giao = sum(Decimal(values[c][HO_TONG]) for c in ("03253", "03274", "03289"))
    assert before["03253"][HO_TONG] == tuan_giao != Decimal(values["03253"][HO_TONG])
    assert sum(before[c][HO_TONG] for c in before) + sum(Decimal(values[c][HO_TONG]) for c in ("03259", "03299")) \
        == sums[HO_TONG]
    assert "03301" not in before and "03244" not in before
    result = next(r for r in results["2025"] if r.unit == "03253")
    changes = [f.item for f in result.findings if f.code == LARGE_CHANGE.code]  # other items do change: synthetic years
    assert not [item for item in changes if item.startswith(("01:HO_TONG", "01:HO_NGHEO"))], changes


def test_the_2025_draft_tells_the_change_from_the_restated_2024(catalogue, taken_in, published_2025):
    """The draft's year-on-year sentence: the change of the poverty rate is 2025's less the
    restated 2024's (Biểu 01's two columns)."""
    places, _ = taken_in
    sums, _ = _restated_2024(catalogue)
    with zipfile.ZipFile(places.out / "2025" / "Bao_cao_danh_gia_2025.docx") as docx:
        text = re.sub(r"<[^>]+>", "", docx.read("word/document.xml").decode())
    sheet = published_2025["Biểu 01"]
    header = next(row for row in sheet.iter_rows(values_only=True) if row[0] == "STT")
    poor = _row(sheet, "Tỷ lệ hộ nghèo")
    change = Decimal(str(poor[header.index("Thực hiện năm")])) - ratio(sums[HO_NGHEO], sums[HO_TONG])
    assert change > 0 and f"tỷ lệ hộ nghèo tăng {show_number(round_half_up(change, 2))}%" in text


def test_report_publishes_a_closed_shipped_year_only_when_asked(taken_in, published_2025, capsys, monkeypatch):
    """make run's last step: ``report --period 2025 --history`` publishes the year closed in the
    catalogue; without --history the closed year is refused as before."""
    places, _ = taken_in
    monkeypatch.setenv("TUANGIAO_SOFFICE", "/nonexistent/soffice")  # the draft's PDF copy: skipped with a note
    data = str(places.warehouse.parent)
    assert main(["report", "--period", "2025", "--data", data]) != 0
    assert "đã khóa sổ" in capsys.readouterr().err
    stamp = (places.out / "2025" / "Bieu_01_2025.xlsx").stat().st_mtime_ns
    assert main(["report", "--period", "2025", "--history", "--data", data]) == 0
    assert (places.out / "2025" / "Bieu_01_2025.xlsx").stat().st_mtime_ns != stamp
