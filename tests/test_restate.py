"""Restated series (issue 30): 2024 figures of the old communes shown on the new communes of
2025 (counts add, a rate recomputed from restated counts, a yes/no item by its declared rule),
with its coverage; explain names the old units and cells; a later split is data only."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from pipeline.catalogue import CatalogueError, Ref, Term, load_catalogue
from pipeline.intake.take_in import take_in_unit
from pipeline.publication.provenance import explain
from pipeline.settings import Places
from pipeline.tools.sample import sample_values
from pipeline.warehouse import connect, create_schema
from pipeline.warehouse.restate import restate, restate_rate
from pipeline.workbook.template import Filling, write_unit_workbook
from tests.test_units import copy_catalogue, period_entry, put_periods

T0 = dt.datetime(2024, 12, 1, 8, 0)
PERIODS = period_entry(2024) + period_entry(2025)
# 2024 data of the three communes that became Xã Tuần Giáo, and of Chiềng Đông (Xã Búng Lao
# took it with two communes of Mường Ảng, whose data this district does not load).
LOADED = ("03253", "03274", "03289", "03299")
TUAN_GIAO = ("03253", "03274", "03289")
HO_TONG, HO_NGHEO, XA_DBKK = Ref("01", "HO_TONG"), Ref("01", "HO_NGHEO"), Ref("12", "XA_DBKK")


def _catalogue(folder: Path, periods: str = PERIODS):
    put_periods(folder, periods)
    return load_catalogue(folder)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """A warehouse with the 2024 files of LOADED (the 2023 sample's figures, XA_DBKK yes for
    two of the three communes of Xã Tuần Giáo) taken in."""
    tmp = tmp_path_factory.mktemp("restate")
    catalogue = _catalogue(copy_catalogue(tmp))
    values = sample_values(catalogue)
    places = Places.under(tmp / "data")
    inbox = places.inbox / "2024"
    inbox.mkdir(parents=True)
    for code in LOADED:
        filled = {**values[code], XA_DBKK: int(code in ("03274", "03289")), Ref("12", "XA_DBKK_DAI_TT"): 0}
        write_unit_workbook(inbox / f"{code}-2024.xlsx", catalogue, catalogue.unit(code, "2024"),
                            Filling({"KY_BAO_CAO": "2024"}, filled))
        assert take_in_unit(catalogue, places, "2024", code, T0).status == "valid"
    return catalogue, places, values


def _on(restated, code):
    return next(r for r in restated if r.unit.code == code)


def test_counts_add_and_a_rate_is_recomputed_not_averaged(loaded):
    catalogue, places, values = loaded
    with connect(places.warehouse) as conn:
        create_schema(conn)
        total = restate(conn, catalogue, "2024", "2025", [Term(HO_TONG, 1)])
        rate = restate_rate(conn, catalogue, "2024", "2025", [Term(HO_NGHEO, 1)], [Term(HO_TONG, 1)])
    assert [r.unit.code for r in total] == ["03253", "03295", "03268", "03260", "03283", "03301", "03244"]
    households = sum(Decimal(values[c][HO_TONG]) for c in TUAN_GIAO)
    poor = sum(Decimal(values[c][HO_NGHEO]) for c in TUAN_GIAO)
    tuan_giao = _on(total, "03253")
    assert tuan_giao.value == households and tuan_giao.coverage == ""
    assert all(link.confirmed for b in tuan_giao.behind for link in b.links)
    assert [b.unit.name for b in tuan_giao.behind] == ["Thị trấn Tuần Giáo", "Xã Quài Nưa", "Xã Quài Cang"]
    recomputed = _on(rate, "03253").value
    assert recomputed == (100 * poor / households).quantize(Decimal("1e-12"))
    averaged = sum(100 * Decimal(values[c][HO_NGHEO]) / Decimal(values[c][HO_TONG]) for c in TUAN_GIAO) / 3
    assert abs(recomputed - averaged) > Decimal("0.01")  # the sample's communes differ: the two are not the same


def test_a_partly_loaded_new_commune_states_its_coverage(loaded):
    catalogue, places, values = loaded
    with connect(places.warehouse) as conn:
        create_schema(conn)
        total = restate(conn, catalogue, "2024", "2025", [Term(HO_TONG, 1)])
    bung_lao = _on(total, "03301")
    assert bung_lao.value == Decimal(values["03299"][HO_TONG])
    assert bung_lao.coverage == "chỉ gồm phần thuộc huyện Tuần Giáo cũ (1/3 đơn vị)"
    assert [(b.unit.name, b.loaded) for b in bung_lao.behind] == [
        ("Xã Chiềng Đông", True), ("Xã Búng Lao", False), ("Xã Ẳng Tở", False)]
    quai_to = _on(total, "03295")
    assert quai_to.value is None and quai_to.coverage == "chưa có số liệu của đơn vị cũ nào (0/3 đơn vị)"


@pytest.mark.parametrize("rule, expected", [("count", 2), ("any", 1), ("all", 0)])
def test_a_yes_no_item_follows_its_declared_rule(loaded, tmp_path, rule, expected):
    """XA_DBKK was yes for two of the three old communes of Xã Tuần Giáo."""
    _, places, _ = loaded
    folder = copy_catalogue(tmp_path)
    form = folder / "forms" / "12.toml"
    form.write_text(form.read_text(encoding="utf-8").replace('type = "flag", restate = "count" },',
                                                             f'type = "flag", restate = "{rule}" }},'), encoding="utf-8")
    catalogue = _catalogue(folder)
    assert catalogue.form("12").item("XA_DBKK").restate == rule
    with connect(places.warehouse) as conn:
        create_schema(conn)
        assert _on(restate(conn, catalogue, "2024", "2025", [Term(XA_DBKK, 1)]), "03253").value == expected


def test_an_unknown_rule_or_a_rule_on_a_count_is_refused(tmp_path):
    folder = copy_catalogue(tmp_path)
    form = folder / "forms" / "12.toml"
    text = form.read_text(encoding="utf-8")
    form.write_text(text.replace('type = "flag", restate = "count" }', 'type = "flag", restate = "average" }'),
                    encoding="utf-8")
    with pytest.raises(CatalogueError, match='"restate" = "average": phải là một trong "any", "all", "count"'):
        load_catalogue(folder)
    form.write_text(text.replace('unit = "sản phẩm", type = "count" }', 'unit = "sản phẩm", type = "count", restate = "any" }'),
                    encoding="utf-8")
    with pytest.raises(CatalogueError, match='"restate" chỉ dùng cho chỉ tiêu có/không'):
        load_catalogue(folder)


def test_explain_shows_the_old_units_and_cells_behind_a_restated_number(loaded):
    catalogue, places, values = loaded
    with connect(places.warehouse) as conn:
        create_schema(conn)
        figure = explain(conn, catalogue, "2024", "01", "T01", onto="2025", unit="03301")
    assert figure.restated and figure.coverage == "chỉ gồm phần thuộc huyện Tuần Giáo cũ (1/3 đơn vị)"
    numerator = figure.parts[0]
    assert [(c.unit, c.unit_name, c.sheet) for c in numerator.contributions] == [("03299", "Xã Chiềng Đông", "01 Chỉ tiêu")]
    assert numerator.total == Decimal(values["03299"][HO_NGHEO])
    assert figure.value == (100 * Decimal(values["03299"][HO_NGHEO]) / Decimal(values["03299"][HO_TONG])
                            ).quantize(Decimal("1e-12"))
    assert [line for line in figure.lineage] == [
        "03299 – Xã Chiềng Đông (Huyện Tuần Giáo) → 03301 – Xã Búng Lao từ 01/07/2025, toàn bộ, đã xác nhận: có số liệu",
        "03301 – Xã Búng Lao (Huyện Mường Ảng) → 03301 – Xã Búng Lao từ 01/07/2025, toàn bộ, đã xác nhận: chưa có số liệu",
        "03292 – Xã Ẳng Tở (Huyện Mường Ảng) → 03301 – Xã Búng Lao từ 01/07/2025, toàn bộ, đã xác nhận: chưa có số liệu",
    ]


def test_cli_explain_restated(loaded, capsys, monkeypatch):
    catalogue, places, values = loaded
    # The command reads the project's catalogue with this unit list (and the lineage beside it).
    monkeypatch.setenv("TUANGIAO_UNITS", str(places.data.parent / "catalogue" / "units.csv"))
    from pipeline.cli import main

    assert main(["explain", "--data", str(places.data), "--period", "2024", "--onto", "2025", "--unit", "03253",
                 "--bieu", "01", "--row", "T01"]) == 0
    out = capsys.readouterr().out
    assert "tính lại theo đơn vị kỳ 2025: 03253 – Xã Tuần Giáo – kỳ 2024" in out
    assert "  03274 – Xã Quài Nưa (Huyện Tuần Giáo) → 03253 – Xã Tuần Giáo từ 01/07/2025, toàn bộ, đã xác nhận: có số liệu" in out
    assert 'Xã Quài Nưa · 01:HO_NGHEO · tệp "03274-2024.xlsx", sheet "01 Chỉ tiêu"' in out
    assert "Phạm vi" not in out and "Tỷ lệ = 100 × tử số / mẫu số" in out


def test_a_later_split_of_one_unit_is_data_only(loaded, tmp_path):
    """Xã Búng Lao split in two on 1/1/2028 (provisional codes, rows not confirmed): only
    units.csv, lineage.csv and periods.toml change; 2024 figures follow both steps."""
    _, places, values = loaded
    folder = copy_catalogue(tmp_path)
    units = folder / "units.csv"
    text = units.read_text(encoding="utf-8")
    old = "03301,Xã Búng Lao,xa,nong_thon,,,11,Tỉnh Điện Biên,2025-07-01,,"
    assert old in text
    units.write_text(text.replace(old, "03301,Xã Búng Lao,xa,nong_thon,,,11,Tỉnh Điện Biên,2025-07-01,2027-12-31,")
                     + "TAM-0001,Xã Búng Lao Thượng,xa,nong_thon,,,11,Tỉnh Điện Biên,2028-01-01,,,no,Mã tạm\n"
                     + "TAM-0002,Xã Búng Lao Hạ,xa,nong_thon,,,11,Tỉnh Điện Biên,2028-01-01,,,no,Mã tạm\n",
                     encoding="utf-8")
    with (folder / "lineage.csv").open("a", encoding="utf-8") as f:
        f.write("03301,TAM-0001,2028-01-01,part,0.6,no,thử,\n03301,TAM-0002,2028-01-01,part,0.4,no,thử,\n")
    catalogue = _catalogue(folder, PERIODS + period_entry(2028))
    assert [u.code for u in catalogue.units_in("2028")] == [
        "03253", "03295", "03268", "03260", "03283", "03244", "TAM-0001", "TAM-0002"]
    assert not catalogue.unit("TAM-0001", "2028").code_confirmed
    with connect(places.warehouse) as conn:
        create_schema(conn)
        restated = restate(conn, catalogue, "2024", "2028", [Term(HO_TONG, 1)])
    upper, lower = _on(restated, "TAM-0001"), _on(restated, "TAM-0002")
    chieng_dong = Decimal(values["03299"][HO_TONG])
    assert (upper.value, lower.value) == (chieng_dong * Decimal("0.6"), chieng_dong * Decimal("0.4"))
    assert upper.value + lower.value == chieng_dong
    assert upper.coverage == "chỉ gồm phần thuộc huyện Tuần Giáo cũ (1/3 đơn vị)"
    assert [link.confirmed for link in upper.behind[0].links] == [True, False]
    assert [link.new for link in upper.behind[0].links] == ["03301", "TAM-0001"]
    assert _on(restated, "03253").value == sum(Decimal(values[c][HO_TONG]) for c in TUAN_GIAO)  # untouched


@pytest.mark.parametrize("new_code, new_name", [("03295", "Xã Quài Tở Mới"), ("TAM-0003", "Xã Quài Tở")],
                         ids=["renamed", "code-corrected"])
def test_a_renamed_unit_or_a_corrected_code_is_data_only(loaded, tmp_path, new_code, new_name):
    """Xã Quài Tở renamed on 1/1/2027, or its code corrected: a new version, a whole row."""
    _, places, values = loaded
    folder = copy_catalogue(tmp_path)
    units = folder / "units.csv"
    old = "03295,Xã Quài Tở,xa,nong_thon,,,11,Tỉnh Điện Biên,2025-07-01,,"
    text = units.read_text(encoding="utf-8")
    assert old in text
    units.write_text(text.replace(old, "03295,Xã Quài Tở,xa,nong_thon,,,11,Tỉnh Điện Biên,2025-07-01,2026-12-31,")
                     + f"{new_code},{new_name},xa,nong_thon,,,11,Tỉnh Điện Biên,2027-01-01,,,"
                     + ("no,Mã tạm\n" if new_code.startswith("TAM-") else ",\n"), encoding="utf-8")
    with (folder / "lineage.csv").open("a", encoding="utf-8") as f:
        f.write(f"03295,{new_code},2027-01-01,whole,,yes,thử,\n")
    catalogue = _catalogue(folder, PERIODS + period_entry(2027))
    assert catalogue.unit(new_code, "2027").name == new_name and catalogue.unit("03295", "2025").name == "Xã Quài Tở"
    with connect(places.warehouse) as conn:
        create_schema(conn)
        restated = _on(restate(conn, catalogue, "2024", "2027", [Term(HO_TONG, 1)]), new_code)
    assert [b.unit.name for b in restated.behind] == ["Xã Tỏa Tình", "Xã Quài Tở", "Xã Tênh Phông"]
    assert [link.new for link in restated.behind[0].links] == ["03295", new_code]


def test_the_synthetic_sample_of_the_new_communes_is_valid_and_marked(tmp_path):
    """The 2023 sample's old communes added onto the new communes of 2025: every file is
    accepted, says it is synthetic, and holds the sums of its old communes."""
    import openpyxl

    from pipeline.checking.validation import check_files
    from pipeline.text import ERROR
    from pipeline.tools.sample import SYNTHETIC_PREPARER, write_merged_sample

    catalogue = _catalogue(copy_catalogue(tmp_path))
    values = sample_values(catalogue)
    paths = write_merged_sample(tmp_path / "2025", catalogue, "2025")
    assert [p.name for p in paths][:2] == ["03253-xa-tuan-giao-gia-lap.xlsx", "03295-xa-quai-to-gia-lap.xlsx"]
    results = check_files(catalogue, paths, "2025")
    assert [(r.submission.unit_code, f.message) for r in results for f in r.findings if f.severity == ERROR] == []
    by_unit = {r.submission.unit_code: {c.ref: c.value for c in r.submission.cells} for r in results}
    assert by_unit["03253"][HO_TONG] == sum(values[c][HO_TONG] for c in TUAN_GIAO)
    assert by_unit["03301"][HO_TONG] == values["03299"][HO_TONG]  # only its Tuần Giáo part
    assert by_unit["03253"][XA_DBKK] in (0, 1)
    texts = [c.value for row in openpyxl.load_workbook(paths[0])["Thông tin"].iter_rows() for c in row]
    assert SYNTHETIC_PREPARER in texts and "2025" in texts


def test_cli_sample_merged(tmp_path, capsys):
    from pipeline.cli import main

    assert main(["sample-merged", "--out", str(tmp_path / "2025")]) == 0
    assert "Đã ghi 7 tệp giả lập" in capsys.readouterr().out
    assert sorted(p.name.split("-")[0] for p in (tmp_path / "2025").iterdir()) == sorted(
        ["03253", "03295", "03268", "03260", "03283", "03301", "03244"])
