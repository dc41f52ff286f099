"""The reader on real workbooks: every sample value at its cell, and robustness to what
units do to a workbook (inserted rows, hidden columns, re-ordered sheets, LibreOffice)."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from decimal import Decimal

import openpyxl
import pytest

from pipeline.catalogue import Ref
from pipeline.tools.corpus import _rewrite, _sheet_part
from pipeline.tools.sample import sample_values
from pipeline.workbook.reader import (
    CodedSheets,
    UnreadableWorkbook,
    cell_address,
    normalise_unit_code,
    read_identity,
    read_workbook,
    to_decimal,
)
from tests.conftest import libreoffice_convert, needs_libreoffice


@pytest.fixture(scope="module")
def expected(catalogue):
    return sample_values(catalogue)


def _values(submission) -> dict[Ref, Decimal]:
    return {c.ref: c.value for c in submission.cells}


def _commune_file(sample_files, code="03259"):
    return next(p for p in sample_files if p.name.startswith(code))


def test_cell_address_is_the_spreadsheet_reference():
    for column in [*range(60), 675, 676, 701, 702, 16383]:
        for row in (0, 8, 1048575):
            assert cell_address(row, column) == f"{openpyxl.utils.get_column_letter(column + 1)}{row + 1}"


def test_reader_recovers_every_sample_value(catalogue, sample_files, expected):
    units = [p for p in sample_files if not p.name.startswith("ke-hoach")]
    assert len(units) == 23
    for path in units:
        submission = read_workbook(path, catalogue)
        assert submission.period == "2023"
        assert submission.template_version == catalogue.version
        assert [c for c in submission.cells if c.problem] == []
        assert _values(submission) == {ref: Decimal(v) for ref, v in expected[submission.unit_code].items()}


def test_reader_gives_sheet_and_cell_of_each_value(catalogue, sample_files, expected):
    submission = read_workbook(_commune_file(sample_files), catalogue)
    cells = {c.ref: c for c in submission.cells}
    ho_tong = cells[Ref("01", "HO_TONG")]
    workbook = openpyxl.load_workbook(submission.path)
    assert ho_tong.sheet == "01 Chỉ tiêu"
    assert workbook[ho_tong.sheet][ho_tong.cell].value == expected["03259"][Ref("01", "HO_TONG")]
    gn_sn = cells[Ref("02", "DA4.TDA1", "GN_SN")]
    assert workbook[gn_sn.sheet]["A1"].value == "BIEU:02"
    assert Decimal(str(workbook[gn_sn.sheet][gn_sn.cell].value)) == gn_sn.value
    tidy = submission.tidy()
    assert list(tidy.columns) == ["period", "unit", "form", "item", "column", "value", "sheet", "cell", "file_hash"]
    assert len(tidy) == len(catalogue.form("01").input_items) + sum(
        len(catalogue.form(f).input_cells()) for f in catalogue.forms if f != "01"
    )


def test_derived_cells_are_not_read(catalogue, sample_files):
    submission = read_workbook(_commune_file(sample_files), catalogue)
    refs = {c.ref for c in submission.cells}
    assert Ref("01", "HO_HN_HCN") not in refs
    assert Ref("02", "DA1.TDA1", "TONG") not in refs
    assert Ref("11", "NHA_DANG_THI_CONG") not in refs


def test_agency_reads_only_its_forms(catalogue, sample_files):
    submission = read_workbook(next(p for p in sample_files if p.name.startswith("099-TCKH")), catalogue)
    assert {c.ref.form for c in submission.cells} == {"02", "14", "15"}


def test_plan_workbook_is_read(catalogue, sample_files):
    submission = read_workbook(next(p for p in sample_files if p.name.startswith("ke-hoach")), catalogue)
    values = _values(submission)
    assert submission.file_kind == "ke_hoach"
    assert values[Ref("KH", "T01", "DANH_GIA")] == 0
    assert values[Ref("KH", "T04", "DANH_GIA")] == 1
    assert values[Ref("KH", "T04", "KE_HOACH")] == 1000
    assert values[Ref("KH", "T08", "KE_HOACH")] == Decimal("28.6")


def _edit(path, tmp_path, change):
    workbook = openpyxl.load_workbook(path)
    change(workbook)
    out = tmp_path / ("edited-" + path.name)
    workbook.save(out)
    return out


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda wb: wb["01 Chỉ tiêu"].insert_rows(6, amount=3), id="rows-inserted-in-01"),
        pytest.param(lambda wb: wb["02 Nguồn vốn"].insert_rows(9, amount=2), id="rows-inserted-in-02"),
        pytest.param(lambda wb: [setattr(wb[s].column_dimensions[c], "hidden", True)
                                 for s in ("01 Chỉ tiêu", "02 Nguồn vốn") for c in "BCDE"], id="columns-hidden"),
        pytest.param(lambda wb: wb._sheets.reverse(), id="sheets-reordered"),
        pytest.param(lambda wb: wb["Thông tin"].insert_rows(2, amount=4), id="rows-inserted-in-info"),
    ],
)
def test_reader_survives_what_units_do(catalogue, sample_files, tmp_path, change):
    original = _commune_file(sample_files)
    before = read_workbook(original, catalogue)
    after = read_workbook(_edit(original, tmp_path, change), catalogue)
    assert after.unit_code == before.unit_code == "03259"
    assert after.period == "2023"
    assert [c for c in after.cells if c.problem] == []
    assert _values(after) == _values(before)


def test_inserted_row_moves_the_cell_address(catalogue, sample_files, tmp_path):
    original = _commune_file(sample_files)
    edited = _edit(original, tmp_path, lambda wb: wb["01 Chỉ tiêu"].insert_rows(5, amount=2))
    before = {c.ref: c.cell for c in read_workbook(original, catalogue).cells}
    after = {c.ref: c.cell for c in read_workbook(edited, catalogue).cells}
    assert before[Ref("01", "HO_TONG")] == "E5"
    assert after[Ref("01", "HO_TONG")] == "E7"


@needs_libreoffice
@pytest.mark.parametrize("prefix", ["03253", "099-LDTBXH", "ke-hoach"])
def test_reader_after_libreoffice_round_trip(catalogue, sample_files, tmp_path, prefix):
    original = next(p for p in sample_files if p.name.startswith(prefix))
    source = tmp_path / "in" / original.name
    source.parent.mkdir()
    shutil.copy(original, source)
    converted = libreoffice_convert(source, tmp_path / "out", "xlsx:Calc MS Excel 2007 XML", tmp_path / "profile")
    before, after = read_workbook(original, catalogue), read_workbook(converted, catalogue)
    assert after.file_hash != before.file_hash  # LibreOffice really rewrote it
    assert (after.unit_code, after.period, after.file_kind) == (before.unit_code, before.period, before.file_kind)
    assert [c for c in after.cells if c.problem] == [c for c in before.cells if c.problem]
    assert _values(after) == _values(before)


def test_identity_reads_only_thong_tin(sample_files):
    identity = read_identity(_commune_file(sample_files, "03253"))
    assert (identity.file_kind, identity.unit_code, identity.period) == ("don_vi", "03253", "2023")


@pytest.mark.parametrize(
    ("raw", "value", "problem"),
    [
        (12, Decimal(12), None),
        (13334.47, Decimal("13334.47"), None),
        ("1.234", Decimal(1234), "text_number"),
        ("13.334,47", Decimal("13334.47"), "text_number"),
        ("41,2%", Decimal("41.2"), "text_number"),
        ("1\u00a0234", Decimal(1234), "text_number"),
        ("1.5", None, "decimal_point"),  # strict: "1.5" is not a Vietnamese number, but a hint is due
        ("176.36", None, "decimal_point"),
        (925.0, Decimal(925), None),  # as the workbook shows it, not 925.0
        (float("inf"), None, "out_of_range"),
        (float("nan"), None, "out_of_range"),
        (1e300, None, "out_of_range"),
        (10**15, None, "out_of_range"),
        ("NaN", None, "out_of_range"),
        ("Infinity", None, "out_of_range"),
        ("sNaN", None, "out_of_range"),
        ("1E+5000", None, "out_of_range"),
        ("9E+99999999", None, "out_of_range"),
        ("1" * 60, None, "not_number"),
        (dt.datetime(9999, 12, 31), None, "not_number"),
        ("mười", None, "not_number"),
        ("", None, "empty"),
        (None, None, "empty"),
        (True, None, "not_number"),
    ],
)
def test_numbers_as_people_type_them(raw, value, problem):
    assert to_decimal(raw) == (value, problem)


@pytest.mark.parametrize(("raw", "code"), [(3253, "03253"), (3253.0, "03253"), ("03253", "03253"),
                                           (" 099-LDTBXH ", "099-LDTBXH")])
def test_unit_codes_are_text(raw, code):
    assert normalise_unit_code(raw) == code


def test_not_a_workbook_is_a_clear_error(catalogue, tmp_path):
    fake = tmp_path / "bao-cao.xlsx"
    fake.write_bytes(b"%PDF-1.4 not a workbook")
    with pytest.raises(UnreadableWorkbook, match="bao-cao.xlsx"):
        read_workbook(fake, catalogue)


def test_workbook_without_thong_tin_is_a_clear_error(catalogue, tmp_path):
    other = tmp_path / "khac.xlsx"
    workbook = openpyxl.Workbook()
    workbook.active["A1"] = "xin chào"
    workbook.save(other)
    with pytest.raises(UnreadableWorkbook, match="Thông tin"):
        read_workbook(other, catalogue)


def test_the_sheet_the_catalogue_names_wins_over_a_copy_before_it(catalogue, sample_files, tmp_path):
    """Excel's "Move or Copy" puts the copy before the sheet: the report is still read from
    the sheet the template named, not from whichever comes first."""
    def copy_before(wb):
        original = wb["01 Chỉ tiêu"]
        copy = wb.copy_worksheet(original)
        copy["E5"] = 1
        wb._sheets.remove(copy)
        wb._sheets.insert(wb._sheets.index(original), copy)

    original = _commune_file(sample_files)
    edited = read_workbook(_edit(original, tmp_path, copy_before), catalogue)
    assert edited.values[Ref("01", "HO_TONG")] == read_workbook(original, catalogue).values[Ref("01", "HO_TONG")] == 925
    assert edited.sheet_name(catalogue.form("01")) == "01 Chỉ tiêu"


def test_a_damaged_sheet_the_report_does_not_need_is_not_read(catalogue, sample_files, tmp_path):
    """Only Thông tin and the unit's forms are parsed: a broken guide sheet costs nothing."""
    source = _commune_file(sample_files)
    guide = _sheet_part(source, "Hướng dẫn")
    damaged = tmp_path / "huong-dan-hong.xlsx"
    _rewrite(source, damaged, lambda name, data: data.replace(b"<sheetData>", b"<sheetData><row r=") if name == guide
             else data)
    with CodedSheets(damaged) as sheets, pytest.raises(UnreadableWorkbook, match="Hướng dẫn"):
        sheets.get("KHONG_CO", "")  # looking for a marker no sheet has reads them all: the guide really is broken
    assert _values(read_workbook(damaged, catalogue)) == _values(read_workbook(source, catalogue))


def test_the_bytes_inspected_are_the_bytes_read_and_hashed(catalogue, sample_files, tmp_path, monkeypatch):
    """A file replaced on disk right after its inspection (another unit's workbook here; a
    bomb would be worse) does not reach the reader: the inspected bytes are read and hashed."""
    from pipeline.workbook import reader, safety

    path = tmp_path / "dang-ghi.xlsx"
    shutil.copy(_commune_file(sample_files), path)
    original = path.read_bytes()

    def inspect_then_replace(p):
        inspected = safety.inspect_file(p)
        shutil.copy(_commune_file(sample_files, "03253"), p)
        return inspected

    monkeypatch.setattr(reader, "inspect_file", inspect_then_replace)
    submission = read_workbook(path, catalogue)
    assert submission.unit_code == "03259"
    assert submission.file_hash == hashlib.sha256(original).hexdigest() != hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_submission_comes_back_from_a_reader_worker_whole(catalogue, sample_files, tmp_path):
    """The worker sends each submission packed (``Submission.__reduce__``): its cells, the numbers
    typed over a total and the stray numbers arrive as read, with their sheets and cells."""
    from pipeline.parallel import parallel_map
    from pipeline.workbook.reader import read_in_worker

    source = _commune_file(sample_files)
    total = read_workbook(source, catalogue).address(Ref("01", "HO_HN_HCN"))
    workbook = openpyxl.load_workbook(source)
    workbook["01 Chỉ tiêu"][total] = 7  # a total typed over
    workbook["01 Chỉ tiêu"]["Z5"] = 3.5  # a number outside the coded cells
    edited = tmp_path / source.name
    workbook.save(edited)
    here = read_workbook(edited, catalogue)
    [there] = parallel_map(read_in_worker, [(edited, None)], 1, catalogue)
    assert there == here
    assert [c.cell for c in there.derived] == [total] and [c.cell for c in there.strays] == ["Z5"]
    assert there.values == here.values and there.values[Ref("01", "HO_TONG")] == Decimal(925)
