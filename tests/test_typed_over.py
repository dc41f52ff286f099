"""Every number a unit can write is read or refused: a computed cell typed over must equal the
sum of its parts, and a number outside the coded cells is named (real workbooks, edited as a
unit would in a spreadsheet program)."""

from __future__ import annotations

import shutil
from pathlib import Path

import openpyxl
import pytest

from pipeline.checking.feedback import write_feedback
from pipeline.checking.validation import check_file
from tests.conftest import SAMPLE_DIR, libreoffice_convert, needs_libreoffice

COMMUNE = "03259-xa-phinh-sang.xlsx"


def _row(sheet, code: str) -> int:
    """The row of a hidden code (column A), as the reader finds it."""
    return next(cell.row for cell in sheet["A"] if cell.value == code)


def _column(sheet, code: str) -> str:
    """The column letter of a hidden column code (row 1)."""
    return next(cell.column_letter for cell in sheet[1] if cell.value == code)


@pytest.fixture
def edited(tmp_path):
    """Edit a copy of a commune's sample file: ``edit(function)`` runs it on the workbook and saves."""
    path = tmp_path / COMMUNE
    shutil.copy(SAMPLE_DIR / COMMUNE, path)

    def edit(change) -> Path:
        workbook = openpyxl.load_workbook(path)
        change(workbook)
        workbook.save(path)
        return path

    return edit


def _codes(result) -> list[str]:
    return [f.code for f in result.findings]


def test_a_total_typed_over_is_refused_with_its_parts(catalogue, edited):
    def type_over(workbook):
        sheet = workbook["03 DA1.TDA1"]
        parts = [sheet[f"E{_row(sheet, code)}"].value for code in ("CT_KHOI_CONG_MOI", "CT_CHUYEN_TIEP")]
        assert parts == [2, 1]  # the sample's commune: 2 new works and 1 continued
        sheet[f"E{_row(sheet, 'CT_THUC_HIEN')}"] = 5  # the formula E5+E6 replaced by a number

    result = check_file(catalogue, edited(type_over))
    assert not result.accepted
    [found] = [f for f in result.findings if f.code == "tong_khong_khop"]
    assert (found.sheet, found.cell, found.value) == ("03 DA1.TDA1", "E7", "5")
    assert "= 5 nhưng tổng các thành phần là 3 (E5 + E6)" in found.message
    assert found.item_label == "Tổng số công trình thực hiện trong năm"


def test_a_grid_total_row_typed_over_is_refused(catalogue, edited):
    def type_over(workbook):
        sheet = workbook["02 Nguồn vốn"]
        sheet[f"{_column(sheet, 'NSTW_DT')}{_row(sheet, 'TONG')}"] = 1  # TỔNG CỘNG row, NSTW giao – đầu tư

    result = check_file(catalogue, edited(type_over))
    [found] = [f for f in result.findings if f.code == "tong_khong_khop"]
    assert found.cell == "D6" and found.value == "1"
    assert found.item_label == "TỔNG CỘNG · Vốn NSTW giao trong năm – đầu tư phát triển"
    assert "(D8 + D9 + D10" in found.message  # the sub-project rows it adds


def test_a_project_subtotal_and_a_derived_column_are_checked_too(catalogue, edited):
    def type_over(workbook):
        sheet = workbook["02 Nguồn vốn"]
        sheet[f"{_column(sheet, 'GN_SN')}{_row(sheet, 'DA1')}"] = 99999
        sheet[f"{_column(sheet, 'TONG')}{_row(sheet, 'DA1.TDA1')}"] = 1

    result = check_file(catalogue, edited(type_over))
    found = {f.item: f for f in result.findings if f.code == "tong_khong_khop"}
    assert set(found) == {"02:DA1:GN_SN", "02:DA1.TDA1:TONG"}
    assert "(L8 + M8)" in found["02:DA1.TDA1:TONG"].message  # TONG = TONG_DT + TONG_SN of its own row


def test_a_typed_total_equal_to_its_parts_is_accepted(catalogue, edited):
    def type_right(workbook):
        sheet = workbook["03 DA1.TDA1"]
        sheet[f"E{_row(sheet, 'CT_THUC_HIEN')}"] = 3

    result = check_file(catalogue, edited(type_right))
    assert result.accepted and result.findings == []
    assert [c.cell for c in result.submission.derived] == ["E7"]  # read, and found equal to E5 + E6


def test_numbers_outside_the_coded_cells_are_named_not_dropped(catalogue, edited):
    def stray(workbook):
        sheet = workbook["03 DA1.TDA1"]
        sheet["G5"] = 12  # a spare column beside the table
        sheet["C20"] = 7.5  # below the table
        sheet["D6"] = 4  # the unit column of a coded row

    result = check_file(catalogue, edited(stray))
    assert result.accepted  # warnings: the file is still used
    found = [(f.sheet, f.cell, f.value) for f in result.findings if f.code == "so_ngoai_o_nhap"]
    assert sorted(found) == [("03 DA1.TDA1", "C20", "7,5"), ("03 DA1.TDA1", "D6", "4"), ("03 DA1.TDA1", "G5", "12")]
    assert all(f.severity == "cảnh báo" for f in result.findings)


@needs_libreoffice
def test_results_cached_by_libreoffice_are_read_and_match(catalogue, tmp_path):
    """LibreOffice saves every formula's result: all are read, none differs from its parts."""
    source = tmp_path / "in" / COMMUNE
    source.parent.mkdir()
    shutil.copy(SAMPLE_DIR / COMMUNE, source)
    converted = libreoffice_convert(source, tmp_path / "out", "xlsx:Calc MS Excel 2007 XML", tmp_path / "profile")
    result = check_file(catalogue, converted)
    assert result.accepted and result.findings == []
    derived = {c.ref for c in result.submission.derived}
    assert len(derived) > 100  # the grid's totals, subtotals and derived columns, the forms' derived items
    assert {"02:TONG:TONG", "02:DA1:GN", "03:CT_THUC_HIEN"} <= {str(ref) for ref in derived}


def test_the_feedback_copy_marks_the_total_typed_over(catalogue, edited, tmp_path):
    def type_over(workbook):
        sheet = workbook["03 DA1.TDA1"]
        sheet[f"E{_row(sheet, 'CT_THUC_HIEN')}"] = 5

    result = check_file(catalogue, edited(type_over))
    path = write_feedback(tmp_path / "phan-hoi.xlsx", catalogue, result, "2023")
    copy = openpyxl.load_workbook(path)["03 DA1.TDA1"]
    cell = copy[f"E{_row(copy, 'CT_THUC_HIEN')}"]
    assert cell.value == "=E5+E6"  # the copy keeps the formula, marked with what was wrong
    assert cell.comment is not None and "= 5 nhưng tổng các thành phần là 3" in cell.comment.text
