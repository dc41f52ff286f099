"""Units as dated data (issue 30): each unit with its validity and its parent at each date; a
period's expected units are those valid on its report date; 2023 keeps its 23 units."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import pytest

from pipeline.catalogue import CATALOGUE_DIR, CatalogueError, load_catalogue
from pipeline.catalogue.model import UNIT_KIND_NAMES, UNIT_KINDS
from pipeline.warehouse import connect, create_schema, record_catalogue_lists

UNITS_2023 = ["03253", "03259", "03260", "03262", "03263", "03265", "03268", "03269", "03271", "03274", "03277",
              "03280", "03283", "03284", "03289", "03295", "03298", "03299", "03304",
              "099-LDTBXH", "099-NNPTNT", "099-TCKH", "099-GDNN"]
NEW_COMMUNES = {"03253": "Xã Tuần Giáo", "03295": "Xã Quài Tở", "03268": "Xã Mường Mùn", "03260": "Xã Pú Nhung",
                "03283": "Xã Chiềng Sinh", "03301": "Xã Búng Lao", "03244": "Xã Sáng Nhè"}


def period_entry(year: int) -> str:
    """An open annual period of periods.toml, reported on 15 December (from 2025: by the new units)."""
    return (f'\n[[periods]]\nkey = "{year}"\nlabel = "Năm {year}"\nreport_date = {year}-12-15\n'
            f'deadline = {year}-12-10\nstate = "mo"\n')


PERIOD_2025 = period_entry(2025)


def copy_catalogue(tmp_path: Path) -> Path:
    """The shipped catalogue's data files in a folder a test may edit."""
    folder = tmp_path / "catalogue"
    shutil.copytree(CATALOGUE_DIR, folder, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return folder


def put_periods(folder: Path, text: str) -> None:
    """Add the ``[[periods]]`` entries of ``text`` to a catalogue copy's periods.toml, each
    replacing a shipped entry with its key."""
    path = folder / "periods.toml"
    keys = re.findall(r'^key = "([^"]+)"', text, flags=re.M)
    head, *entries = path.read_text(encoding="utf-8").split("[[periods]]")
    kept = [e for e in entries if not any(f'\nkey = "{key}"\n' in e for key in keys)]
    path.write_text("[[periods]]".join([head, *kept]) + text, encoding="utf-8")


def with_2025(tmp_path: Path):
    """The shipped catalogue with a 2025 period reported in December 2025 (after the reorganisation)."""
    folder = copy_catalogue(tmp_path)
    put_periods(folder, PERIOD_2025)
    return load_catalogue(folder)


def test_2023_expects_its_23_units_in_their_order(catalogue):
    assert [u.code for u in catalogue.units_in("2023")] == UNITS_2023
    assert [u.code for u in catalogue.reporting_units(["2023"])] == UNITS_2023  # the template's list
    assert [u.code for u in catalogue.reporting_units()] == UNITS_2023 + ["03301", "03244"]  # the partitions: 2025's too
    assert catalogue.unit("03253", "2023").name == "Thị trấn Tuần Giáo"


def test_a_period_after_july_2025_expects_the_new_communes_and_no_agency(tmp_path):
    cat = with_2025(tmp_path)
    assert {u.code: u.name for u in cat.units_in("2025")} == NEW_COMMUNES
    assert len(cat.units_in("2023")) == 23
    # A code the reorganisation gave again: the old commune in 2023, the new one in 2025.
    assert (cat.unit("03260", "2023").name, cat.unit("03260", "2025").name) == ("Xã Rạng Đông", "Xã Pú Nhung")
    assert cat.find_unit("099-TCKH", "2025") is None and cat.find_unit("03271", "2025") is None
    # Neighbouring communes are listed for the lineage, never expected to report.
    assert cat.find_unit("03292") is None and cat.find_unit("03301", "2023") is None
    assert [u.code for u in cat.reporting_units()] == UNITS_2023 + ["03301", "03244"]
    assert cat.reporting_units()[0].name == "Xã Tuần Giáo"  # the latest version of a code


def test_parent_is_the_district_until_june_2025_then_the_province(catalogue):
    before, after = dt.date(2025, 6, 30), dt.date(2025, 7, 1)
    on = {day: {u.code: u for u in catalogue.units if u.valid_on(day) and u.code == "03253"} for day in (before, after)}
    assert on[before]["03253"].parent == ("099", "Huyện Tuần Giáo")
    assert on[after]["03253"].parent == ("11", "Tỉnh Điện Biên")
    agencies = [u for u in catalogue.units if u.kind == "co_quan_huyen"]
    assert len(agencies) == 4 and all(u.valid_to == before for u in agencies)  # they end with the district
    assert all(not u.valid_on(after) for u in catalogue.units if u.district_code)


def test_new_codes_state_whether_and_where_they_were_confirmed(catalogue):
    new = [u for u in catalogue.units if u.valid_from == dt.date(2025, 7, 1)]
    assert {u.code for u in new} >= set(NEW_COMMUNES)
    assert all(u.code_confirmed and "VietnamProvinces" in u.code_source for u in new)
    assert all(u.code.isdigit() and len(u.code) == 5 for u in new)  # no invented code scheme among confirmed ones


def _rewrite_units(folder: Path, edit) -> None:
    path = folder / "units.csv"
    path.write_text(edit(path.read_text(encoding="utf-8")), encoding="utf-8")


def test_two_versions_of_a_code_on_the_same_day_are_refused(tmp_path):
    folder = copy_catalogue(tmp_path)
    _rewrite_units(folder, lambda t: t.replace("03253,Xã Tuần Giáo,xa,nong_thon,,,11,Tỉnh Điện Biên,2025-07-01",
                                               "03253,Xã Tuần Giáo,xa,nong_thon,,,11,Tỉnh Điện Biên,2025-06-01"))
    with pytest.raises(CatalogueError, match='"units.csv", mục "03253": mã đơn vị bị trùng: "Thị trấn Tuần Giáo" '
                                            'và "Xã Tuần Giáo" cùng có hiệu lực'):
        load_catalogue(folder)


@pytest.mark.parametrize("bad, message", [
    ("2025-02-30", '"valid_to" = "2025-02-30": không phải ngày có thật'),
    ("30/06/2025", '"valid_to" = "30/06/2025"'),
])
def test_a_day_that_is_not_a_day_is_refused(tmp_path, bad, message):
    folder = copy_catalogue(tmp_path)
    _rewrite_units(folder, lambda t: t.replace("Phòng Tài chính - Kế hoạch,co_quan_huyen,,099,Huyện Tuần Giáo,11,"
                                               "Tỉnh Điện Biên,,2025-06-30",
                                               f"Phòng Tài chính - Kế hoạch,co_quan_huyen,,099,Huyện Tuần Giáo,11,"
                                               f"Tỉnh Điện Biên,,{bad}"))
    with pytest.raises(CatalogueError, match=message):
        load_catalogue(folder)


def test_the_warehouse_keeps_each_periods_units(tmp_path):
    """The warehouse lists each period's own units, so a code given again joins the right name."""
    cat = with_2025(tmp_path)
    with connect(tmp_path / "kho.duckdb") as conn:
        create_schema(conn)
        record_catalogue_lists(conn, cat)
        rows = conn.execute("SELECT period, code, name FROM units ORDER BY period, position").fetchall()
    assert [(c, n) for p, c, n in rows if p == "2023"][:1] == [("03253", "Thị trấn Tuần Giáo")]
    assert len([r for r in rows if r[0] == "2023"]) == 23
    assert {c: n for p, c, n in rows if p == "2025"} == NEW_COMMUNES


def test_a_unit_as_a_period_knows_it(tmp_path):
    cat = with_2025(tmp_path)
    assert cat.find_unit_for("03253", "2025").name == "Xã Tuần Giáo"
    assert cat.find_unit_for("03253", "2023").name == "Thị trấn Tuần Giáo"
    assert cat.find_unit_for("03271", "2025").name == "Xã Pú Nhung"  # not expected in 2025: its first version
    assert cat.find_unit_for("03253", "năm nay").name == "Thị trấn Tuần Giáo"  # a key naming no period
    assert cat.find_unit_for("99999", "2025") is None and cat.find_unit("03253", "năm nay") is None


def test_communes_without_a_district_are_rows_of_their_own_at_district_level(tmp_path):
    """After 1/7/2025 a commune has no district: grouped by district it is its own row, never
    the total's (whose key is "")."""
    from pipeline.catalogue import Ref
    from pipeline.catalogue.batches import DISTRICT
    from pipeline.intake.take_in import take_in_unit
    from pipeline.settings import Places
    from pipeline.tools.sample import sample_values
    from pipeline.warehouse import current_value_sums
    from pipeline.workbook.template import Filling, write_unit_workbook

    cat = with_2025(tmp_path)
    values = sample_values(cat)
    places = Places.under(tmp_path / "data")
    (places.inbox / "2025").mkdir(parents=True)
    for new, old in (("03253", "03253"), ("03295", "03295")):
        write_unit_workbook(places.inbox / "2025" / f"{new}.xlsx", cat, cat.unit(new, "2025"),
                            Filling({"KY_BAO_CAO": "2025"}, values[old]))
        assert take_in_unit(cat, places, "2025", new, dt.datetime(2025, 12, 1, 8)).status == "valid"
    with connect(places.warehouse) as conn:
        sums = {key: value for key, form, item, column, value in current_value_sums(conn, "2025", DISTRICT)
                if (form, item) == ("01", "HO_TONG")}
    ho_tong = Ref("01", "HO_TONG")
    assert sums == {"03253": values["03253"][ho_tong], "03295": values["03295"][ho_tong],
                    "": values["03253"][ho_tong] + values["03295"][ho_tong]}


def test_every_kind_of_unit_has_the_name_a_completeness_note_counts_it_by():
    assert set(UNIT_KIND_NAMES) == set(UNIT_KINDS)
