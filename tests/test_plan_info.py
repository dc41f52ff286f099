"""The district plan's Thông tin fields (who signs, the report's number and date): checked,
stored per version on a real DuckDB file, returned for the current valid plan only, kept by a
rebuild; and Biểu 01's "Thực hiện năm trước" from the year before, the plan, or left out."""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from pipeline.catalogue import Ref
from pipeline.checking.validation import check_file
from pipeline.intake.take_in import rebuild, take_in_plan
from pipeline.settings import Places
from pipeline.tools.sample import load_figures
from pipeline.warehouse import connect, create_schema, load_submission, plan_info, record_catalogue_lists
from pipeline.catalogue.contract import (
    PERIOD_FIELD,
    REPORT_DATE_FIELD,
    REPORT_NUMBER_FIELD,
    SIGNER_FIELD,
    SIGNER_ON_BEHALF_FIELD,
    SIGNER_TITLE_FIELD,
)
from pipeline.workbook.template import PlanFilling, write_plan_workbook

T0 = dt.datetime(2023, 8, 10, 8, 0)
SIGNER = {SIGNER_ON_BEHALF_FIELD: "KT. CHỦ TỊCH", SIGNER_TITLE_FIELD: "PHÓ CHỦ TỊCH", SIGNER_FIELD: "Mùa Va Hồ"}


def _plan(catalogue, path, info, period="2023", last_year=None):
    """A plan workbook: the sample's targets and plan values, ``info`` in Thông tin."""
    plan = load_figures()["plan"]
    targets = {t.code: (t.code not in plan["not_due"],
                        None if plan["values"].get(t.code) is None else Decimal(str(plan["values"][t.code])),
                        (last_year or {}).get(t.code))
               for t in catalogue.targets}
    return write_plan_workbook(path, catalogue, PlanFilling({PERIOD_FIELD: period, **info}, targets))



def _load(conn, catalogue, path, at):
    checked = check_file(catalogue, path, "2023")
    load_submission(conn, checked.submission, checked.findings, at)
    return checked


def test_plan_info_is_the_current_valid_plans(db, catalogue, tmp_path):
    first = _plan(catalogue, tmp_path / "kh1.xlsx", {**SIGNER, REPORT_NUMBER_FIELD: 125,
                                                     REPORT_DATE_FIELD: dt.date(2023, 8, 15)})
    broken = _plan(catalogue, tmp_path / "kh2.xlsx", {SIGNER_FIELD: "Người Khác", REPORT_DATE_FIELD: "31/02/2023"})
    with connect(db) as conn:
        assert plan_info(conn, "2023") == {}
        assert _load(conn, catalogue, first, T0).accepted
        expected = {**SIGNER, REPORT_NUMBER_FIELD: "125", REPORT_DATE_FIELD: "2023-08-15"}
        assert expected.items() <= plan_info(conn, "2023").items()
        assert not _load(conn, catalogue, broken, T0 + dt.timedelta(hours=1)).accepted
        assert plan_info(conn, "2023")[SIGNER_FIELD] == "Mùa Va Hồ"  # the invalid newer plan signs nothing
        assert plan_info(conn, "2022") == {}
        stored = conn.execute("SELECT COUNT(DISTINCT submission_id) FROM submission_info").fetchone()[0]
        assert stored == 2  # every version's fields are kept, the invalid one's too


def test_a_bad_date_and_a_long_text_are_findings_naming_the_cell(catalogue, tmp_path):
    path = _plan(catalogue, tmp_path / "kh.xlsx", {REPORT_DATE_FIELD: "31/02/2023", SIGNER_TITLE_FIELD: "P" * 61})
    checked = check_file(catalogue, path, "2023")
    found = {f.item: f for f in checked.findings if f.code == "thong_tin_khong_hop_le"}
    cells = {code: cell for code, (_, cell) in checked.submission.info.items()}
    date, title = found[REPORT_DATE_FIELD], found[SIGNER_TITLE_FIELD]
    assert date.is_error and date.line() == (
        f'[lỗi] Sheet "Thông tin", ô {cells[REPORT_DATE_FIELD]} (Ngày báo cáo) = "31/02/2023" không phải là một '
        "ngày: nhập ngày dạng ngày/tháng/năm, ví dụ 15/08/2023.")
    assert title.cell == cells[SIGNER_TITLE_FIELD] and "dài 61 ký tự, quá 60 ký tự" in title.message


def test_the_sample_plan_carries_the_2023_signer(catalogue):
    from tests.conftest import SAMPLE_DIR

    checked = check_file(catalogue, SAMPLE_DIR / "ke-hoach-huyen-2023.xlsx", "2023")
    assert checked.accepted
    info = checked.submission.info_texts
    assert {k: info.get(k) for k in SIGNER} == SIGNER
    # The 2023 report leaves its number and day blank ("Số: /BC-UBND", "ngày   tháng 8"); nobody is named as preparer.
    assert not {REPORT_NUMBER_FIELD, REPORT_DATE_FIELD, "NGUOI_LAP"} & info.keys()


def test_plan_info_survives_a_rebuild(catalogue, tmp_path):
    places = Places.under(tmp_path / "data", tmp_path / "inbox")
    (tmp_path / "inbox" / "2023").mkdir(parents=True)
    _plan(catalogue, tmp_path / "inbox" / "2023" / "kh.xlsx", {**SIGNER, REPORT_NUMBER_FIELD: "125"})
    assert take_in_plan(catalogue, places, "2023", T0).status == "valid"
    with connect(places.warehouse) as conn:
        before = plan_info(conn, "2023")
    assert before[SIGNER_FIELD] == "Mùa Va Hồ"
    rebuild(catalogue, places)
    with connect(places.warehouse) as conn:
        assert plan_info(conn, "2023") == before


def test_a_warehouse_made_before_the_table_gains_it(db, catalogue, tmp_path):
    with connect(db) as conn:
        conn.execute("DROP TABLE submission_info")
    with connect(db) as conn:
        create_schema(conn)
        _load(conn, catalogue, _plan(catalogue, tmp_path / "kh.xlsx", SIGNER), T0)
        assert plan_info(conn, "2023")[SIGNER_FIELD] == "Mùa Va Hồ"


# --------------------------------------------------------------------------- Biểu 01: Thực hiện năm trước


def _last_year(reports):
    """Biểu 01's target table: ({target: last year's value}, column keys, remarks: not printed)."""
    table = next(r for r in reports if r.code == "01").tables[0]
    return {r.code: r.values.get("last_year") for r in table.rows}, [c.key for c in table.columns], table.remarks


def _warehouse_of_2023(catalogue, sample_files, path, plan=None):
    """The 2023 sample loaded as it is (no checks: it is valid), with ``plan`` for the sample's plan."""
    from pipeline.workbook.reader import read_workbook

    with connect(path) as conn:
        create_schema(conn)
        record_catalogue_lists(conn, catalogue)
        for file in sample_files if plan is None else [f for f in sample_files if not f.name.startswith("ke-hoach")]:
            load_submission(conn, read_workbook(file, catalogue), [], T0)
        if plan is not None:
            load_submission(conn, read_workbook(plan, catalogue), [], T0)
    return path


def test_last_year_comes_from_the_year_before_then_from_the_plan(catalogue, sample_files, tmp_path):
    from pipeline.catalogue.model import Period
    from pipeline.publication.tables import build_reports, year_before
    from pipeline.tools.sample import sample_values
    from pipeline.workbook.reader import read_workbook
    from pipeline.workbook.template import Filling, write_unit_workbook

    one_year = replace(catalogue, periods={"2023": catalogue.periods["2023"]})  # the shipped catalogue has 2021–2024
    two_years = replace(catalogue, periods={"2022": Period("2022", "Năm 2022", dt.date(2022, 8, 15),
                                                           dt.date(2022, 8, 10), "dong"), **one_year.periods})
    assert (year_before(two_years, "2023"), year_before(two_years, "2022"), year_before(one_year, "2023")) == (
        "2022", None, None)
    plan = _plan(catalogue, tmp_path / "kh.xlsx", SIGNER, last_year={"T01": Decimal(50), "T04": Decimal(800)})
    db = _warehouse_of_2023(two_years, sample_files, tmp_path / "warehouse.duckdb", plan)
    values = dict(sample_values(catalogue)["03259"])
    values[Ref("01", "HO_NGHEO")] = values[Ref("01", "HO_TONG")] // 4
    earlier = read_workbook(write_unit_workbook(tmp_path / "2022.xlsx", catalogue, catalogue.unit("03259"),
                                                Filling({"MA_DON_VI": "03259", "KY_BAO_CAO": "2022"}, values)),
                            catalogue)
    earlier.cells = [c for c in earlier.cells if c.ref.form == "01"]  # 2022 has households, no training (T04)
    with connect(db) as conn:
        assert _last_year(build_reports(two_years, conn, "2023"))[0]["T04"] == 800  # no 2022 yet: the plan's
        load_submission(conn, earlier, [], T0)
        last_year, keys, notes = _last_year(build_reports(two_years, conn, "2023"))
    households = values[Ref("01", "HO_TONG")]
    assert last_year["T01"] == (100 * Decimal(households // 4) / households).quantize(Decimal("1e-12"))
    assert last_year["T04"] == 800  # 2022 has no value for it: the plan's
    assert last_year["T07"] is None and "last_year" in keys and not notes


def test_last_year_from_the_plan_alone(catalogue, sample_files, tmp_path):
    from pipeline.publication.tables import build_reports

    plan = _plan(catalogue, tmp_path / "kh.xlsx", SIGNER, last_year={"T01": Decimal("43.5")})
    with connect(_warehouse_of_2023(catalogue, sample_files, tmp_path / "warehouse.duckdb", plan)) as conn:
        last_year, keys, notes = _last_year(build_reports(catalogue, conn, "2023"))
    assert last_year["T01"] == Decimal("43.5") and last_year["T02"] is None
    assert "last_year" in keys and not notes


def test_no_last_year_anywhere_leaves_the_column_out_with_a_note(catalogue, sample_files, tmp_path):
    from pipeline.publication.tables import build_reports

    with connect(_warehouse_of_2023(catalogue, sample_files, tmp_path / "warehouse.duckdb")) as conn:
        _, keys, notes = _last_year(build_reports(catalogue, conn, "2023"))
    assert keys == ["stt", "label", "unit", "plan", "actual", "ratio", "assessment"]
    assert notes == (catalogue.bieu["01"].tables[0].columns[3].previous.format(level="huyện"),)  # 2023: the district's
    assert notes[0].startswith("Chưa có số liệu thực hiện năm trước")


def test_previous_is_only_for_a_plan_column(tmp_path):
    from pipeline.catalogue import CATALOGUE_DIR, CatalogueError, load_catalogue

    folder = Path(shutil.copytree(CATALOGUE_DIR, tmp_path / "catalogue", ignore=shutil.ignore_patterns("*.py")))
    layout = folder / "bieu" / "01.toml"
    text = layout.read_text(encoding="utf-8")
    layout.write_text(text.replace('target = "*", kind = "row"', 'target = "*", kind = "row", previous = "Ghi chú"'),
                      encoding="utf-8")
    with pytest.raises(CatalogueError) as error:
        load_catalogue(folder)
    assert (error.value.file, error.value.entry) == ("bieu/01.toml", "Biểu 01, bảng 1, cột actual")
    assert '"previous" chỉ dùng cho cột kế hoạch' in str(error.value)


def test_the_plan_template_asks_for_the_signer_and_the_reference(catalogue, tmp_path):
    import openpyxl

    from pipeline.catalogue.contract import INFO_SHEET, PLAN_DATE_FIELDS, PLAN_TEXT_FIELDS

    path = write_plan_workbook(tmp_path / "mau.xlsx", catalogue)
    ws = openpyxl.load_workbook(path)[INFO_SHEET]
    labels = {row[0].value: row[1].value for row in ws.iter_rows(min_row=4) if row[0].value}
    assert [(code, labels.get(code)) for code, label, _ in PLAN_TEXT_FIELDS] == [
        ("NGUOI_LAP", "Người lập"), ("KY_THAY", "Ký thay"), ("CHUC_VU_NGUOI_KY", "Chức vụ người ký"),
        ("NGUOI_KY", "Người ký"), ("SO_BAO_CAO", "Số báo cáo")]
    assert [(code, labels.get(code)) for code, _ in PLAN_DATE_FIELDS] == [("NGAY_BAO_CAO", "Ngày báo cáo")]
    kinds = {(v.type, str(v.sqref)) for v in ws.data_validations.dataValidation}
    rows = {row[0].value: row[0].row for row in ws.iter_rows(min_row=4) if row[0].value}
    assert ("textLength", f"C{rows['NGUOI_KY']}") in kinds and ("date", f"C{rows['NGAY_BAO_CAO']}") in kinds
