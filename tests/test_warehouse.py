"""The DuckDB warehouse on a real database file: versions, idempotence, exact money."""

from __future__ import annotations

import datetime as dt
import shutil
from decimal import Decimal

import duckdb
import openpyxl

from pipeline.catalogue import Ref
from pipeline.checking.validation import check_file
from pipeline.intake.take_in import take_in_unit
from pipeline.publication.consolidation import consolidate
from pipeline.settings import Places
from pipeline.states import Verdict
from pipeline.warehouse import connect, load_submission
from pipeline.workbook.reader import read_workbook

T0 = dt.datetime(2023, 8, 10, 8, 0)



def _sample(sample_files, code):
    return next(p for p in sample_files if p.name.startswith(code))


def _edited_copy(path, tmp_path, sheet, cell, value, name):
    workbook = openpyxl.load_workbook(path)
    workbook[sheet][cell] = value
    out = tmp_path / name
    workbook.save(out)
    return out


def _current(conn, unit, item):
    return conn.execute(
        "SELECT value, file_name FROM current_values WHERE unit = ? AND form = '01' AND item = ?", [unit, item]
    ).fetchone()


def test_same_file_twice_changes_nothing(db, catalogue, sample_files):
    submission = read_workbook(_sample(sample_files, "03259"), catalogue)
    with connect(db) as conn:
        first = load_submission(conn, submission, [], T0)
        rows = conn.execute("SELECT COUNT(*) FROM submission_values").fetchone()[0]
        second = load_submission(conn, submission, [], T0 + dt.timedelta(days=1))
        assert (first.new, second.new, second.submission_id) == (True, False, first.submission_id)
        assert conn.execute("SELECT COUNT(*) FROM submission_values").fetchone()[0] == rows == len(submission.cells)
        assert conn.execute("SELECT received_at FROM submissions").fetchall() == [(T0,)]


def test_invalid_newer_version_keeps_the_valid_one(db, catalogue, sample_files, tmp_path):
    original = _sample(sample_files, "03259")
    valid = read_workbook(original, catalogue)
    cells = {c.ref.row: c for c in valid.cells if c.ref.form == "01"}
    broken_path = _edited_copy(original, tmp_path, "01 Chỉ tiêu", cells["HO_NGHEO"].cell, 999999, "moi.xlsx")
    checked = check_file(catalogue, broken_path, "2023")
    assert checked.errors > 0
    with connect(db) as conn:
        load_submission(conn, valid, [], T0)
        result = load_submission(conn, checked.submission, checked.findings, T0 + dt.timedelta(hours=1))
        assert result.new and not result.current
        value, file_name = _current(conn, "03259", "HO_NGHEO")
        assert value == cells["HO_NGHEO"].value and file_name == original.name
        statuses = conn.execute("SELECT status, is_current, errors FROM submissions ORDER BY submission_id").fetchall()
        assert statuses == [(Verdict.VALID, True, 0), (Verdict.INVALID, False, checked.errors)]
        stored = conn.execute("SELECT code, cell FROM findings").fetchall()
        assert ("vi_pham_quy_tac", cells["HO_NGHEO"].cell) in stored


def test_valid_newer_version_replaces_and_old_stays_queryable(db, catalogue, sample_files, tmp_path):
    original = _sample(sample_files, "03259")
    old = read_workbook(original, catalogue)
    cell = next(c for c in old.cells if c.ref.row == "HO_NGHEO_DTTS")
    new_path = _edited_copy(original, tmp_path, "01 Chỉ tiêu", cell.cell, int(cell.value) - 1, "sua.xlsx")
    checked = check_file(catalogue, new_path, "2023")
    assert checked.findings == []
    with connect(db) as conn:
        load_submission(conn, old, [], T0)
        load_submission(conn, checked.submission, [], T0 + dt.timedelta(hours=1))
        assert _current(conn, "03259", "HO_NGHEO_DTTS") == (cell.value - 1, "sua.xlsx")
        history = conn.execute(
            """SELECT s.file_name, v.value FROM submission_values v JOIN submissions s USING (submission_id)
               WHERE v.item = 'HO_NGHEO_DTTS' ORDER BY s.received_at"""
        ).fetchall()
        assert history == [(original.name, cell.value), ("sua.xlsx", cell.value - 1)]


def test_money_is_exact_decimal(db, catalogue, sample_files):
    submission = read_workbook(_sample(sample_files, "03259"), catalogue)
    with connect(db) as conn:
        load_submission(conn, submission, [], T0)
        column_type = conn.execute(
            "SELECT data_type FROM information_schema.columns WHERE table_name = 'submission_values' AND column_name = 'value'"
        ).fetchone()[0]
        assert column_type == "DECIMAL(18,3)"
        stored = dict(conn.execute(
            "SELECT \"column\", value FROM submission_values WHERE form = '02' AND item = 'DA1.TDA1'"
        ).fetchall())
    expected = {c.ref.column: c.value for c in submission.cells if c.ref.form == "02" and c.ref.row == "DA1.TDA1"}
    assert stored == expected and all(isinstance(v, Decimal) for v in stored.values())


def test_consolidation_of_the_whole_sample(tmp_path, catalogue, sample_files):
    inbox = tmp_path / "inbox"
    (inbox / "2023").mkdir(parents=True)
    for path in sample_files:
        shutil.copy(path, inbox / "2023" / path.name)
    warehouse = tmp_path / "warehouse.duckdb"
    for unit in catalogue.units_in("2023"):
        assert take_in_unit(catalogue, Places.under(tmp_path, inbox), "2023", unit.code, T0).status == Verdict.VALID
    result = consolidate(catalogue, warehouse, "2023")
    assert result.figures.value(Ref("01", "HO_TONG")) == 19336
    assert sum(result.figures.value(Ref("02", s.code, "GN_DT")) for s in catalogue.sub_projects) == Decimal("13334.47")
    assert result.missing_units == [] and len(result.loaded_units) == 23
    headline = {figure.label: value for figure, value in result.headline}
    assert headline["Số hộ nghèo"] == 7966 and len(headline) == len(catalogue.headline)
    with duckdb.connect(str(warehouse), read_only=True) as conn:  # nothing is written that nothing reads
        assert not conn.execute("SELECT * FROM duckdb_tables() WHERE table_name = 'district_totals'").fetchall()


def test_missing_unit_is_named(tmp_path, catalogue, sample_files):
    inbox = tmp_path / "inbox"
    (inbox / "2023").mkdir(parents=True)
    shutil.copy(_sample(sample_files, "03259"), inbox / "2023")
    warehouse = tmp_path / "warehouse.duckdb"
    places = Places.under(tmp_path, inbox)
    assert take_in_unit(catalogue, places, "2023", "03253", T0).status == "missing"
    assert take_in_unit(catalogue, places, "2023", "03259", T0).status == Verdict.VALID
    result = consolidate(catalogue, warehouse, "2023")
    assert result.loaded_units == ["03259"]
    assert "03253" in result.missing_units and len(result.missing_units) == 22


def test_previous_values_come_from_the_last_valid_earlier_period(db, catalogue, tmp_path):
    from pipeline.tools.sample import sample_values
    from pipeline.warehouse import previous_values
    from pipeline.workbook.template import Filling, write_unit_workbook

    values = sample_values(catalogue)["03259"]
    path = write_unit_workbook(tmp_path / "2022.xlsx", catalogue, catalogue.unit("03259"),
                               Filling({"MA_DON_VI": "03259", "KY_BAO_CAO": "2022"}, values))
    earlier = read_workbook(path, catalogue)
    with connect(db) as conn:
        load_submission(conn, earlier, [], T0)
        assert previous_values(conn, ["03259", "03253"], "2023") == {"03259": {ref: Decimal(v) for ref, v in values.items()}}
        assert previous_values(conn, ["03259"], "2022") == {}
