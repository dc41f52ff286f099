"""The published Biểu are catalogue data: the sample's set stays byte-identical to the
recorded hashes; a new sub-project with its form 16 goes through every stage with no code
change; a column added to form 02 is published with its totals; a column that a rule or a
layout still names cannot be removed without a catalogue error naming file and entry."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
from decimal import Decimal
from importlib.metadata import version
from pathlib import Path

import openpyxl
import pytest
from starlette.testclient import TestClient

from pipeline.catalogue import CATALOGUE_DIR, TOTAL_ROW, CatalogueError, Ref, load_catalogue
from pipeline.text import ERROR
from pipeline.checking.validation import check_files
from pipeline.intake.take_in import take_in_batch, take_in_plan
from pipeline.publication.publish import publish_period
from pipeline.publication.status import write_status
from pipeline.publication.tables import build_reports
from pipeline.settings import Places
from pipeline.states import Verdict
from pipeline.tools.sample import sample_values, write_sample
from pipeline.warehouse import connect, create_schema, load_submission, record_catalogue_lists
from pipeline.web.app import create_app
from pipeline.catalogue.contract import PERIOD_FIELD, UNIT_FIELD
from pipeline.workbook.reader import read_workbook
from pipeline.workbook.template import Filling, write_unit_workbook
from tests.conftest import take_in_everything

HASHES = Path(__file__).parent / "bieu_hashes.json"
UPDATE = "UPDATE_BIEU_HASHES"  # set to 1 to record a deliberate change of the published Biểu
T0 = dt.datetime(2023, 8, 10, 17, 0)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_sample_set_stays_byte_identical(catalogue, sample_files, tmp_path):
    recorded = json.loads(HASHES.read_text(encoding="utf-8"))
    installed = version("xlsxwriter")
    assert recorded["xlsxwriter"] == installed or os.environ.get(UPDATE), (
        f"hashes recorded with xlsxwriter {recorded['xlsxwriter']}, installed {installed}: install with "
        f"constraints.txt (make), or re-record with {UPDATE}=1 after `make constraints`")
    places = take_in_everything(catalogue, Places.under(tmp_path / "data"), T0, sample_files)
    _, publication = publish_period(catalogue, places.warehouse, places.out, "2023")
    written = {p.name: _sha256(p) for p in [*publication.files.values(), publication.all_in_one, publication.archive]}
    if os.environ.get(UPDATE):
        recorded = {"xlsxwriter": installed, "files": dict(sorted(written.items()))}
        HASHES.write_text(json.dumps(recorded, indent=2) + "\n", encoding="utf-8")
    assert written == recorded["files"], f"a published Biểu changed: if on purpose, run the test with {UPDATE}=1"


# --------------------------------------------------------------------------- a copy of the catalogue


def _copy(tmp_path: Path) -> Path:
    folder = tmp_path / "catalogue"
    shutil.copytree(CATALOGUE_DIR, folder, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return folder


def _edit(folder: Path, file: str, old: str, new: str) -> None:
    path = folder / file
    text = path.read_text(encoding="utf-8")
    assert old in text, (file, old)
    path.write_text(text.replace(old, new), encoding="utf-8")


NEW_PROJECT = """
[[projects]]
code = "DA8"
name = "Dự án 8: Hỗ trợ thử nghiệm của huyện"
sub_projects = [
  { code = "DA8", form = "16", name = "Dự án 8: Hỗ trợ thử nghiệm của huyện" },
]
"""
NEW_FORM = """code = "16"
sheet = "16 DA8"
sub_project = "DA8"
reported_by = ["xa", "thi_tran"]

items = [
  { code = "HO_THU_NGHIEM", label = "Số hộ tham gia thử nghiệm", unit = "hộ", type = "count" },
  { code = "HO_THU_NGHIEM_NGHEO", label = "Trong đó: hộ nghèo", unit = "hộ", type = "count", parent = "HO_THU_NGHIEM" },
]
"""


@pytest.fixture(scope="module")
def with_bieu_16(tmp_path_factory):
    """A catalogue with a new project DA8 and its form 16, taken through every stage."""
    tmp = tmp_path_factory.mktemp("bieu16")
    folder = _copy(tmp)
    with (folder / "programme.toml").open("a", encoding="utf-8") as f:
        f.write(NEW_PROJECT)
    (folder / "forms" / "16.toml").write_text(NEW_FORM, encoding="utf-8")
    return load_catalogue(folder), tmp


def test_a_new_sub_project_goes_through_every_stage(with_bieu_16):
    catalogue, tmp = with_bieu_16
    assert list(catalogue.bieu)[-1] == "16" and catalogue.bieu_span == "01-16"

    template = write_unit_workbook(tmp / "mau.xlsx", catalogue)
    book = openpyxl.load_workbook(template)
    assert "16 DA8" in book.sheetnames
    assert "DA8" in [c.value for c in book[catalogue.funds_form.sheet]["A"]]

    places = Places.under(tmp / "data")
    files = write_sample(places.inbox / "2023", catalogue)
    results = check_files(catalogue, files, "2023")
    assert [f.message for r in results for f in r.findings if f.severity == ERROR] == []

    units = [u.code for u in catalogue.units_in("2023")]
    assert {r.status for r in take_in_batch(catalogue, places, "2023", units, T0)} == {Verdict.VALID}
    assert take_in_plan(catalogue, places, "2023", T0).status == Verdict.VALID

    reports, publication = publish_period(catalogue, places.warehouse, places.out, "2023")
    assert [r.code for r in reports] == list(catalogue.bieu)
    assert publication.files["16"].name == "Bieu_16_2023.xlsx"
    assert (publication.all_in_one.name, publication.archive.name) == ("Bieu_01-16_2023.xlsx", "Bieu_01-16_2023.zip")
    sheet = openpyxl.load_workbook(publication.files["16"])["Biểu 16"]
    texts = [c.value for row in sheet.iter_rows() for c in row if isinstance(c.value, str)]
    assert "DỰ ÁN 8: HỖ TRỢ THỬ NGHIỆM CỦA HUYỆN" in texts and "Số hộ tham gia thử nghiệm (hộ)" in texts
    assert "Biểu 16" in openpyxl.load_workbook(publication.all_in_one).sheetnames
    funds = openpyxl.load_workbook(publication.files["02"])["Biểu 02"]
    assert "Dự án 8: Hỗ trợ thử nghiệm của huyện" in [c.value for c in funds["B"]]

    with connect(places.warehouse) as conn:
        create_schema(conn)
        status = json.loads(write_status(catalogue, conn, places.out).read_text(encoding="utf-8"))
    [period] = [p for p in status["periods"] if p["key"] == "2023"]
    assert "Bieu_16_2023.xlsx" in period["bieu"] and len(period["bieu"]) == 16
    assert period["all_in_one"] == ["Bieu_01-16_2023.xlsx", "Bieu_01-16_2023.zip"]

    client = TestClient(create_app(places.data, tmp / "no-templates"))
    page = client.get("/ky/2023").text
    assert "Biểu 01–16 của huyện" in page
    assert 'href="/tep/2023/Bieu_16_2023.xlsx"' in page and 'href="/tep/2023/Bieu_01-16_2023.zip"' in page
    assert client.get("/tep/2023/Bieu_16_2023.xlsx").content == publication.files["16"].read_bytes()


def _publish_two_units(catalogue, tmp: Path, extra: dict[Ref, Decimal]):
    """Two units' workbooks (the sample's values plus ``extra``) loaded into a new warehouse
    and published: Biểu 02's rows by code (TOTAL_ROW for the total), and its written sheet."""
    warehouse = tmp / "warehouse.duckdb"
    values = sample_values(catalogue)
    with connect(warehouse) as conn:
        create_schema(conn)
        record_catalogue_lists(conn, catalogue)
        for code in ("03259", "03253"):
            unit = catalogue.unit(code)
            path = write_unit_workbook(tmp / f"{code}.xlsx", catalogue, unit,
                                       Filling({UNIT_FIELD: code, PERIOD_FIELD: "2023"}, {**values[code], **extra}))
            load_submission(conn, read_workbook(path, catalogue), [], T0)
        [funds] = [r for r in build_reports(catalogue, conn, "2023") if r.code == "02"]
    _, publication = publish_period(catalogue, warehouse, tmp / "out", "2023")
    return {row.code: row.values for row in funds.tables[0].rows}, openpyxl.load_workbook(publication.files["02"])["Biểu 02"]


def test_a_column_added_to_form_02_is_published_with_its_totals(tmp_path):
    folder = _copy(tmp_path)
    _edit(folder, "forms/02.toml", '  { code = "GN_DT",',
          '  { code = "VON_KHAC", group = "Vốn khác", label = "Vốn khác", full_label = "Vốn khác", unit = "triệu đồng", '
          'type = "money" },\n  { code = "GN_DT",')
    _edit(folder, "forms/02.toml", 'formula = "NSTW_SN + DOI_UNG + CHUYEN_SN + HUY_DONG"',
          'formula = "NSTW_SN + DOI_UNG + CHUYEN_SN + HUY_DONG + VON_KHAC"')
    catalogue = load_catalogue(folder)
    before, _ = _publish_two_units(load_catalogue(CATALOGUE_DIR), tmp_path / "before", {})
    extra = Decimal("12.5")
    after, sheet = _publish_two_units(catalogue, tmp_path / "after", {Ref("02", "DA1.TDA1", "VON_KHAC"): extra})
    headers = {(sheet.cell(8, col).value, sheet.cell(9, col).value): col for col in range(1, sheet.max_column + 1)}
    total_row = next(r for r in range(1, sheet.max_row + 1) if sheet.cell(r, 2).value == "TỔNG CỘNG")
    assert sheet.cell(total_row, headers[("Vốn khác", "Vốn khác")]).value == float(2 * extra)
    assert after[TOTAL_ROW]["VON_KHAC"] == after["DA1"]["VON_KHAC"] == after["DA1.TDA1"]["VON_KHAC"] == 2 * extra
    assert after[TOTAL_ROW]["TONG"] - before[TOTAL_ROW]["TONG"] == after["DA1"]["TONG_SN"] - before["DA1"]["TONG_SN"] == 2 * extra


@pytest.mark.parametrize(("file", "old", "new", "where", "entry"), [
    # a column that the Biểu 02 layout names, renamed with the form's own formula and rule
    ("forms/02.toml", '"GN_DT', '"GN_DTPT', "bieu/02.toml", "Biểu 02, bảng 1, cột GN_DT"),
    # a column that the shared sub-project layout names
    ("forms/02.toml", 'code = "GN", ', 'code = "GN_TONG", ', "bieu/sub_project.toml", "Biểu 03, bảng 1, cột GN"),
    # the sub-project's total column
    ("forms/02.toml", '  { code = "TONG", group', '  { code = "TONG_VON", group', "forms/02.toml", "total_column"),
    # a column that a formula names
    ("forms/02.toml", '{ code = "GN_SN",', '{ code = "GN_SU_NGHIEP",', "forms/02.toml", "GN"),
    # an item that a target and a headline figure name
    ("forms/08.toml", '{ code = "DT_NGHE",', '{ code = "DT_NGHE_TONG",', "forms/08.toml", "DT_NGHE_DTTS"),
    ("district.toml", "08:DT_NGHE", "08:DT_NGHE_X", "district.toml", "Số lao động được đào tạo nghề"),
    # the layouts themselves: an unknown form, a duplicate key, a bad kind, a bad placeholder
    ("bieu/02.toml", 'form = "02"', 'form = "99"', "bieu/02.toml", "Biểu 02, bảng 1"),
    ("bieu/02.toml", '{ ref = "TONG_DT" }', '{ ref = "TONG_DT", key = "TONG" }', "bieu/02.toml", "Biểu 02, bảng 1, cột TONG"),
    ("bieu/01.toml", 'label = "Chỉ tiêu", show = "label"', 'label = "Chỉ tiêu", show = "label", kind = "phan_tram"',
     "bieu/01.toml", "Biểu 01, bảng 1, cột label"),
    ("bieu/sub_project.toml", 'title = "{WITHIN_PROJECT}"', 'title = "{TIEU_DU_AN}"', "bieu/sub_project.toml",
     "Biểu 03, bảng 1"),
    ("bieu/01.toml", 'target = "*"', 'target = "T99"', "bieu/01.toml", "Biểu 01, bảng 1, cột actual"),
    # a total column that adds up a column the table does not have
    ("bieu/02.toml", 'sum = ["NSTW_DT", "NSTW_SN"]', 'sum = ["NSTW_DT", "NSTW_X"]', "bieu/02.toml",
     "Biểu 02, bảng 1, cột GIAO"),
    # a misspelt or unknown key inside a total, a chart or a rate (once silently left out)
    ("bieu/02.toml", "first = true", "frist = true", "bieu/02.toml", "Biểu 02, bảng 1"),
    ("bieu/01.toml", 'chart = { column = "T01"', 'chart = { column = "T01", type = "bar"', "bieu/01.toml", "Biểu 01, bảng 2"),
    ("bieu/sub_project.toml", 'denominator = "TONG" }', 'denominator = "TONG", percent = true }', "bieu/sub_project.toml",
     "bảng 1, cột TL"),
])
def test_a_name_still_in_use_gives_a_catalogue_error(tmp_path, file, old, new, where, entry):
    folder = _copy(tmp_path)
    _edit(folder, file, old, new)
    with pytest.raises(CatalogueError) as error:
        load_catalogue(folder)
    assert (error.value.file, error.value.entry) == (where, entry), str(error.value)


def test_one_sub_project_layout_can_be_overridden_without_python(tmp_path):
    folder = _copy(tmp_path)
    (folder / "bieu" / "05.toml").write_text('code = "05"\ntitle = "{project} – bản sửa của huyện"\n', encoding="utf-8")
    catalogue = load_catalogue(folder)
    assert catalogue.bieu["05"].title == "Dự án 2: Đa dạng hóa sinh kế, phát triển mô hình giảm nghèo – bản sửa của huyện"
    [table] = catalogue.bieu["05"].tables  # the rest comes from the shared layout
    assert (table.sheet, table.title) == ("Biểu 05", "DỰ ÁN 2: ĐA DẠNG HÓA SINH KẾ, PHÁT TRIỂN MÔ HÌNH GIẢM NGHÈO")
    assert catalogue.bieu["05"].source == "bieu/sub_project.toml, bieu/05.toml"
    assert catalogue.bieu["06"].title == "Tiểu dự án 1: Hỗ trợ phát triển sản xuất trong lĩnh vực nông nghiệp"


def test_a_sub_project_is_titled_with_its_project(catalogue):
    """Biểu 03 is "TIỂU DỰ ÁN 1: …" of Dự án 1, not of Dự án 7 (whose Tiểu dự án 1 is Biểu 14)."""
    assert catalogue.bieu["03"].tables[0].title == (
        "DỰ ÁN 1: HỖ TRỢ ĐẦU TƯ PHÁT TRIỂN HẠ TẦNG KINH TẾ - XÃ HỘI CÁC HUYỆN NGHÈO, CÁC XÃ ĐẶC BIỆT KHÓ KHĂN VÙNG BÃI "
        "NGANG, VEN BIỂN VÀ HẢI ĐẢO\nTIỂU DỰ ÁN 1: HỖ TRỢ ĐẦU TƯ PHÁT TRIỂN HẠ TẦNG KINH TẾ - XÃ HỘI CÁC HUYỆN NGHÈO")
    assert catalogue.bieu["14"].tables[0].title.startswith("DỰ ÁN 7: NÂNG CAO NĂNG LỰC")
    assert catalogue.bieu["11"].tables[0].title == "DỰ ÁN 5: HỖ TRỢ NHÀ Ở CHO HỘ NGHÈO, HỘ CẬN NGHÈO TRÊN ĐỊA BÀN CÁC HUYỆN NGHÈO"
