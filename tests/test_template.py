"""Tests of the unit and plan templates, read back from real .xlsx files."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import openpyxl
import pytest
from openpyxl.utils import column_index_from_string, get_column_letter
from python_calamine import CalamineWorkbook

from pipeline.catalogue import CATALOGUE_DIR, CatalogueError, default_catalogue, load_catalogue
from pipeline.cli import main
from pipeline.catalogue.contract import PLAN_TEMPLATE_NAME, UNIT_TEMPLATE_NAME
from pipeline.workbook.template import write_plan_workbook, write_unit_workbook
from tests.conftest import ROOT, libreoffice_convert, needs_libreoffice

CAT = default_catalogue()
FORM_CODES = list(CAT.forms)
VIETNAMESE = set("ăâđêôơưáàảãạấầẩẫậắằẳẵặéèẻẽẹếềểễệíìỉĩịóòỏõọốồổỗộớờởỡợúùủũụứừửữựýỳỷỹỵ")
DV_TYPES = {"count": "whole", "flag": "whole", "money": "decimal"}
NOT_APPLICABLE = "KHÔNG ÁP DỤNG"
CELL_REF = re.compile(r"([+-]?)\$?([A-Z]+)\$?([0-9]+)")


def vietnamese(text: str | None) -> bool:
    return bool(text) and bool(VIETNAMESE & set(text.lower()))


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> dict[str, Path]:
    """The blank unit and plan templates and two pre-filled ones, written once."""
    d = tmp_path_factory.mktemp("templates")
    return {
        "unit": write_unit_workbook(d / UNIT_TEMPLATE_NAME, CAT),
        "plan": write_plan_workbook(d / PLAN_TEMPLATE_NAME, CAT),
        "agency": write_unit_workbook(d / "agency.xlsx", CAT, unit=CAT.unit("099-TCKH")),
        "commune": write_unit_workbook(d / "commune.xlsx", CAT, unit=CAT.unit("03253")),
    }


@pytest.fixture(scope="module")
def books(written) -> dict[str, openpyxl.Workbook]:
    return {name: openpyxl.load_workbook(path) for name, path in written.items()}


def coded(ws) -> tuple[dict[str, int], dict[str, int]]:
    """Row of each code in hidden column A, column of each code in hidden row 1."""
    rows = {ws.cell(r, 1).value: r for r in range(2, ws.max_row + 1) if ws.cell(r, 1).value}
    cols = {ws.cell(1, c).value: c for c in range(2, ws.max_column + 1) if ws.cell(1, c).value}
    return rows, cols


def validations(ws) -> dict[str, object]:
    """Cell coordinate -> the data validation covering it."""
    return {f"{get_column_letter(c)}{r}": dv
            for dv in ws.data_validations.dataValidation for rng in dv.sqref.ranges for r, c in rng.cells}


def input_cells(ws, form) -> dict[str, str]:
    """Coordinate -> cell type of every input cell of a form sheet, found by code."""
    rows, cols = coded(ws)
    return {ws.cell(rows[i.code], cols[c.code]).coordinate: c.type if form.is_grid else i.type
            for i in form.input_items for c in form.input_columns}


def unlocked(ws) -> set[str]:
    return {c.coordinate for row in ws.iter_rows() for c in row if not c.protection.locked}


# --------------------------------------------------------------------------- reproducibility


@pytest.mark.parametrize("kind", ["unit", "plan"])
def test_regeneration_is_byte_identical(tmp_path, kind):
    write = write_unit_workbook if kind == "unit" else write_plan_workbook
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = write(tmp_path / "a" / "x.xlsx", CAT)
    time.sleep(1.1)  # a clock in the file (zip or document dates) would show as a difference
    second = write(tmp_path / "b" / "y.xlsx", CAT)
    assert first.read_bytes() == second.read_bytes()


@pytest.mark.parametrize("name", [UNIT_TEMPLATE_NAME, PLAN_TEMPLATE_NAME])
def test_committed_template_is_up_to_date(tmp_path, name):
    write = write_unit_workbook if name == UNIT_TEMPLATE_NAME else write_plan_workbook
    committed = ROOT / "templates_xlsx" / name
    if not committed.exists():
        pytest.skip(f"templates_xlsx/{name} is not committed yet (make template)")
    assert committed.read_bytes() == write(tmp_path / name, CAT).read_bytes(), "run `make template` and commit"


# --------------------------------------------------------------------------- the blank unit template


def test_unit_template_sheets(books):
    names = books["unit"].sheetnames
    assert names[:4] == ["Hướng dẫn", "Thông tin", "01 Chỉ tiêu", "02 Nguồn vốn"]
    assert [n[:2] for n in names[4:17]] == [f"{n:02d}" for n in range(3, 16)]
    assert names[2:17] == [f.sheet for f in CAT.forms.values()]
    assert books["unit"]["Danh mục"].sheet_state == "hidden"


@pytest.mark.parametrize("code", FORM_CODES)
def test_form_sheet_codes_and_protection(books, code):
    form, ws = CAT.form(code), books["unit"][CAT.form(code).sheet]
    assert ws["A1"].value == f"BIEU:{code}"
    assert ws.row_dimensions[1].hidden and ws.column_dimensions["A"].hidden
    rows, cols = coded(ws)
    assert {i.code for i in form.input_items} <= set(rows)
    assert list(cols) == ([c.code for c in form.columns] if form.is_grid else ["GIA_TRI"])
    assert ws.protection.sheet and not ws.protection.password


@pytest.mark.parametrize("code", FORM_CODES)
def test_input_cells_are_unlocked_and_validated(books, code):
    form, ws = CAT.form(code), books["unit"][CAT.form(code).sheet]
    inputs = input_cells(ws, form)
    assert inputs and unlocked(ws) == set(inputs)  # exactly the input cells are unlocked
    dvs = validations(ws)
    for coord, kind in inputs.items():
        dv = dvs.get(coord)
        assert dv is not None, f"{ws.title}!{coord} has no validation"
        assert dv.type == DV_TYPES[kind], f"{ws.title}!{coord}"
        assert vietnamese(dv.prompt) and vietnamese(dv.error) and dv.showErrorMessage
        assert (dv.formula1, dv.formula2) == ("0", "1" if kind == "flag" else None)  # never negative; flags 0/1
    rows, _ = coded(ws)
    label = next(c for c in ws[rows[form.items[0].code]] if c.value == form.items[0].label)
    assert label.protection.locked and label.font.name == "Times New Roman"


@pytest.mark.parametrize("code", [c for c in FORM_CODES if any(x.derived for x in CAT.form(c).items + CAT.form(c).columns)])
def test_derived_cells_are_formulas_of_the_right_cells(books, code):
    form, ws = CAT.form(code), books["unit"][CAT.form(code).sheet]
    rows, cols = coded(ws)
    code_of_row, code_of_col = {r: k for k, r in rows.items()}, {c: k for k, c in cols.items()}
    if form.is_grid:
        cells = [(i.code, c) for i in form.items for c in form.columns if c.derived]
    else:
        cells = [(i.code, i) for i in form.items if i.derived]
    for row_code, derived in cells:
        cell = ws.cell(rows[row_code], cols[derived.code if form.is_grid else "GIA_TRI"])
        assert isinstance(cell.value, str) and cell.value.startswith("="), f"{ws.title}!{cell.coordinate}"
        assert cell.protection.locked
        found = [(-1 if s == "-" else 1, int(r), col) for s, col, r in CELL_REF.findall(cell.value[1:])]
        if form.is_grid:
            assert all(r == cell.row for _, r, _ in found)
            got = [(s, code_of_col[column_index_from_string(c)]) for s, _, c in found]
        else:
            got = [(s, code_of_row[r]) for s, r, _ in found]
        want = [(t.sign, t.ref.column if form.is_grid else t.ref.row) for t in derived.formula]
        assert got == want, f"{ws.title}!{cell.coordinate} = {cell.value}"


def test_info_sheet(books):
    ws = books["unit"]["Thông tin"]
    assert ws["A1"].value == "THONG_TIN" and ws.protection.sheet
    rows, cols = coded(ws)
    value = lambda field: ws.cell(rows[field], cols["GIA_TRI"])  # noqa: E731
    code_cell = value("MA_DON_VI")
    assert not code_cell.protection.locked
    dv = validations(ws)[code_cell.coordinate]
    assert dv.type == "list" and "Danh mục" in dv.formula1 and vietnamese(dv.prompt)
    listed = [r[0].value for r in books["unit"]["Danh mục"].iter_rows(min_row=2)]
    assert listed == [u.code for u in CAT.reporting_units(["2023"])]  # the units of the period it offers (the open one)
    assert value("PHIEN_BAN_MAU").value == CAT.version and ws.row_dimensions[rows["PHIEN_BAN_MAU"]].hidden
    assert value("TEN_DON_VI").value.startswith("=") and "VLOOKUP" in value("TEN_DON_VI").value
    assert f"${code_cell.column_letter}${code_cell.row}" in value("TEN_DON_VI").value  # looks up the code cell
    assert value("LOAI_TEP").value == "don_vi"
    typed = ["MA_DON_VI", "KY_BAO_CAO", "NGUOI_LAP", "DIEN_THOAI", "NGAY_LAP"]
    assert unlocked(ws) == {value(field).coordinate for field in typed}


def test_plan_template(books):
    wb = books["plan"]
    assert wb.sheetnames == ["Hướng dẫn", "Thông tin", "Kế hoạch"]
    info_rows, _ = coded(wb["Thông tin"])
    assert wb["Thông tin"].cell(info_rows["PHIEN_BAN_MAU"], 3).value == CAT.version
    ws = wb["Kế hoạch"]
    assert ws["A1"].value == "KE_HOACH" and ws.protection.sheet and not ws.protection.password
    rows, cols = coded(ws)
    assert list(rows) == [t.code for t in CAT.targets]
    assert list(cols) == ["DANH_GIA", "KE_HOACH", "THUC_HIEN_NAM_TRUOC"]
    inputs = {ws.cell(r, c).coordinate for r in rows.values() for c in cols.values()}
    assert unlocked(ws) == inputs
    dvs = validations(ws)
    assert {dvs[ws.cell(r, cols["DANH_GIA"]).coordinate].formula1 for r in rows.values()} == {'"Có,Không"'}
    assert {dvs[ws.cell(r, cols["KE_HOACH"]).coordinate].type for r in rows.values()} == {"decimal"}


# --------------------------------------------------------------------------- pre-filled for one unit


def test_prefilled_for_an_agency(books):
    wb, unit = books["agency"], CAT.unit("099-TCKH")
    info = wb["Thông tin"]
    rows, _ = coded(info)
    cell = info.cell(rows["MA_DON_VI"], 3)
    assert cell.value == "099-TCKH" and cell.data_type == "s"
    for form in CAT.forms.values():
        ws = wb[form.sheet]
        texts = [c for row in ws.iter_rows() for c in row if isinstance(c.value, str) and c.value.startswith(NOT_APPLICABLE)]
        if CAT.reports(unit, form):
            assert not texts and unlocked(ws) == set(input_cells(ws, form)), ws.title
        else:
            assert unlocked(ws) == set(), ws.title
            assert any(not ws.row_dimensions[c.row].hidden and not ws.column_dimensions[c.column_letter].hidden
                       for c in texts), f"{ws.title} does not say {NOT_APPLICABLE}"
    assert {f.code for f in CAT.forms.values() if CAT.reports(unit, f)} == {"02", "14", "15"}


def test_prefilled_for_a_commune_keeps_the_code_as_text(written, books):
    info = books["commune"]["Thông tin"]
    rows, _ = coded(info)
    cell = info.cell(rows["MA_DON_VI"], 3)
    assert cell.value == "03253" and cell.data_type == "s"
    # The cached values a spreadsheet shows before recalculating: the code and the unit's name.
    grid = CalamineWorkbook.from_path(str(written["commune"])).get_sheet_by_name("Thông tin").to_python()
    values = {r[0]: r[2] for r in grid if r and r[0]}
    assert values["MA_DON_VI"] == "03253" and values["TEN_DON_VI"] == "Thị trấn Tuần Giáo"
    assert unlocked(books["commune"]["01 Chỉ tiêu"]) == set(input_cells(books["commune"]["01 Chỉ tiêu"], CAT.form("01")))


# --------------------------------------------------------------------------- catalogue edge cases


@pytest.mark.parametrize("sheet", ["Thông tin", "12 da6.tda1", "'13 DA6"])
def test_sheet_names_a_workbook_cannot_hold_are_rejected(tmp_path, sheet):
    """A fixed sheet's name, a case-only duplicate or an apostrophe at either end."""
    directory = Path(shutil.copytree(CATALOGUE_DIR, tmp_path / "catalogue"))
    form = directory / "forms/13.toml"
    form.write_text(form.read_text(encoding="utf-8").replace('sheet = "13 DA6.TDA2"', f'sheet = "{sheet}"'), encoding="utf-8")
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(directory)
    assert caught.value.file == "forms/13.toml" and sheet in str(caught.value)


# --------------------------------------------------------------------------- command line



def test_cli_template_writes_both(tmp_path):
    assert main(["template", "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([UNIT_TEMPLATE_NAME, PLAN_TEMPLATE_NAME])


def test_cli_template_for_one_unit(tmp_path):
    assert main(["template", "--out", str(tmp_path), "--unit", "03253"]) == 0
    [path] = list(tmp_path.iterdir())
    assert "03253" in path.name and path.suffix == ".xlsx"
    info = openpyxl.load_workbook(path)["Thông tin"]
    assert info.cell(coded(info)[0]["MA_DON_VI"], 3).value == "03253"


def test_cli_template_unknown_unit(tmp_path, capsys):
    assert main(["template", "--out", str(tmp_path), "--unit", "NOPE"]) == 2
    assert "NOPE" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- LibreOffice


@needs_libreoffice
@pytest.mark.parametrize("kind", ["unit", "plan"])
def test_libreoffice_opens_the_template(tmp_path, written, kind):
    pdf = libreoffice_convert(written[kind], tmp_path / "pdf", "pdf", tmp_path / "lo-profile")
    assert pdf.stat().st_size > 1000


def test_an_item_is_indented_by_its_depth_under_parents_not_by_its_label(tmp_path):
    """"Số hộ nghèo" is a part of "Tổng số hộ" (parent) without saying "Trong đó": it sits
    under it, unnumbered; a part of a part sits deeper; a main item is numbered."""
    folder = tmp_path / "catalogue"
    shutil.copytree(CATALOGUE_DIR, folder, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    form_file = folder / "forms" / "01.toml"
    text = form_file.read_text(encoding="utf-8")
    form_file.write_text(text.replace('label = "Trong đó: đi học đúng độ tuổi"', 'label = "Đi học đúng độ tuổi"'),
                         encoding="utf-8")
    catalogue = load_catalogue(folder)
    ws = openpyxl.load_workbook(write_unit_workbook(tmp_path / "mau.xlsx", catalogue))[catalogue.form("01").sheet]
    rows = {ws.cell(r, 1).value: r for r in range(1, ws.max_row + 1)}

    def shown(code):
        return ws.cell(rows[code], 2).value, ws.cell(rows[code], 3).alignment.indent

    assert shown("HO_TONG") == ("1", 0)
    assert shown("HO_NGHEO") == ("", 2) and shown("TE_HN_HCN_DI_HOC") == ("", 2)
    assert shown("HO_NGHEO_DTTS") == ("", 4)
    assert shown("NGUOI_HN_HCN")[1] == 0 and shown("NGUOI_HN_HCN")[0] != ""
