"""Tests of the form catalogue: the shipped data, the model, the version hash, the
checks that reject broken catalogues, and the ``catalogue check`` command."""

from __future__ import annotations

import shutil
import unicodedata
from pathlib import Path

import pytest

from pipeline.catalogue import (
    CATALOGUE_DIR,
    VALUE_COLUMN,
    CatalogueError,
    Ref,
    Term,
    default_catalogue,
    load_catalogue,
)
from pipeline.cli import main

FUND_INPUTS = ["NSTW_DT", "NSTW_SN", "DOI_UNG", "CHUYEN_DT", "CHUYEN_SN", "HUY_DONG"]
GRID_INPUTS = FUND_INPUTS + ["GN_DT", "GN_SN"]


@pytest.fixture(scope="module")
def cat():
    return default_catalogue()


@pytest.fixture
def cat_dir(tmp_path) -> Path:
    """A private copy of the shipped catalogue, safe to break."""
    return Path(shutil.copytree(CATALOGUE_DIR, tmp_path / "catalogue"))


def edit(path: Path, old: str, new: str) -> int:
    """Replace the one occurrence of ``old`` in ``path``; return its 1-based line number."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} must occur exactly once in {path.name}"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return text[: text.index(old)].count("\n") + 1


def terms(ts) -> list[tuple[int, str]]:
    """Terms as (sign, 'form:row[:column]') for readable comparisons."""
    return [(t.sign, str(t.ref)) for t in ts]


# --------------------------------------------------------------------------- the shipped catalogue


def test_shipped_forms(cat):
    assert list(cat.forms) == [f"{n:02d}" for n in range(1, 16)]
    grid = cat.form("02")
    assert grid.is_grid and not any(cat.form(c).is_grid for c in cat.forms if c != "02")
    assert [i.code for i in grid.items] == [s.code for s in cat.sub_projects]
    assert len(grid.items) == 13
    assert [c.code for c in grid.input_columns] == GRID_INPUTS
    assert {i.code for i in cat.form("04").input_items} == {i.code for i in cat.form("03").input_items}
    # Every sub-project owns exactly one form, and that form names it back.
    assert sorted(s.form for s in cat.sub_projects) == [f"{n:02d}" for n in range(3, 16)]
    assert all(cat.form(s.form).sub_project == s.code for s in cat.sub_projects)


def test_shipped_targets_units_periods(cat):
    assert [t.code for t in cat.targets] == [f"T{n:02d}" for n in range(1, 26)]
    units = cat.units_in("2023")  # the units of 2023 (units.csv lists the later ones too: tests/test_units.py)
    communes = [u for u in units if u.is_commune]
    agencies = [u for u in units if not u.is_commune]
    assert len(units) == 23 and len(communes) == 19 and len(agencies) == 4
    assert all(isinstance(u.code, str) and len(u.code) == 5 and u.code.isdigit() for u in communes)
    assert cat.unit("03253").code == "03253" and cat.unit("03253").kind == "thi_tran"
    assert {u.kind for u in agencies} == {"co_quan_huyen"}
    assert "099-TCKH" in {u.code for u in agencies}
    assert cat.periods["2023"].is_open


def test_scope_of_district_agencies(cat):
    agency_forms = {code for code, f in cat.forms.items() if "co_quan_huyen" in f.reported_by}
    assert agency_forms == {"02", "14", "15"}
    assert not cat.reports(cat.unit("099-TCKH"), cat.form("01"))
    assert cat.reports(cat.unit("03253"), cat.form("01"))


def test_every_label_is_nfc(cat):
    labels = [v for v in cat.district.values() if isinstance(v, str)]
    for form in cat.forms.values():
        labels += [form.title, form.sheet] + [i.label for i in form.items] + [i.unit for i in form.items]
        labels += [c.label for c in form.columns] + [c.full_label for c in form.columns]
        labels += [r.message for r in form.rules]
    labels += [t.label for t in cat.targets] + [u.name for u in cat.units] + [p.label for p in cat.periods.values()]
    labels += [p.name for p in cat.projects] + [s.name for s in cat.sub_projects]
    assert len(labels) > 300
    assert [s for s in labels if not unicodedata.is_normalized("NFC", s)] == []


# --------------------------------------------------------------------------- model: expansion and rules


def test_expand_derived_item(cat):
    assert terms(cat.expand(Ref("01", "HO_HN_HCN"))) == [(1, "01:HO_NGHEO"), (1, "01:HO_CAN_NGHEO")]
    assert terms(cat.expand(Ref("11", "NHA_DANG_THI_CONG"))) == [(1, "11:NHA_KHOI_CONG"), (-1, "11:NHA_HOAN_THANH")]
    assert terms(cat.expand(Ref("01", "HO_TONG"))) == [(1, "01:HO_TONG")]  # an input is itself


def test_expand_grid_total_gives_the_six_fund_inputs_of_the_same_row(cat):
    expanded = cat.expand(Ref("02", "DA5", "TONG"))
    assert sorted(terms(expanded)) == sorted((1, f"02:DA5:{c}") for c in FUND_INPUTS)
    assert terms(cat.expand(Ref("02", "DA5", "GN"))) == [(1, "02:DA5:GN_DT"), (1, "02:DA5:GN_SN")]


def test_parent_items_generate_rules(cat):
    for form in cat.forms.values():
        generated = {(r.left, r.right) for r in form.rules if r.op == "<="}
        for item in form.items:
            if item.parent:
                pair = ((Term(Ref(form.code, item.code), 1),), (Term(Ref(form.code, item.parent), 1),))
                assert pair in generated, f"{form.code}:{item.code} has no rule against {item.parent}"
    assert len([r for r in cat.form("01").rules if len(r.left) == 1]) == sum(1 for i in cat.form("01").items if i.parent)


def test_sum_rule_is_parsed_with_two_left_terms(cat):
    rule = next(r for r in cat.form("01").rules if r.text == "HO_NGHEO + HO_CAN_NGHEO <= HO_TONG")
    assert terms(rule.left) == [(1, "01:HO_NGHEO"), (1, "01:HO_CAN_NGHEO")]
    assert rule.op == "<=" and terms(rule.right) == [(1, "01:HO_TONG")]
    assert rule.severity == "lỗi" and rule.message


def test_grid_rules_apply_to_the_same_row(cat):
    rule = next(r for r in cat.form("02").rules if r.text == "GN_DT <= TONG_DT")
    assert rule.left[0].ref == Ref("02", "*", "GN_DT") and rule.right[0].ref == Ref("02", "*", "TONG_DT")
    assert VALUE_COLUMN not in {t.ref.column for t in rule.left + rule.right}


# --------------------------------------------------------------------------- version


def test_version_is_stable(cat):
    again = load_catalogue(CATALOGUE_DIR)
    assert again.version == cat.version and len(cat.version) == 12


@pytest.mark.parametrize("file, old, new, changes", [
    ("forms/01.toml", 'label = "Số hộ nghèo"', 'label = "Số hộ nghèo (sau rà soát)"', False),
    ("forms/15.toml", 'unit = "cuộc", type = "count"', 'unit = "cuộc", type = "money"', True),
    ("forms/01.toml", 'rule = "HO_NGHEO + HO_CAN_NGHEO <= HO_TONG"', 'rule = "HO_NGHEO + HO_CAN_NGHEO < HO_TONG"', True),
    ("forms/14.toml", '["xa", "thi_tran", "co_quan_huyen"]', '["xa", "thi_tran"]', True),
    ("forms/01.toml", 'rule = "HO_NGHEO + HO_CAN_NGHEO <= HO_TONG",',
     'rule = "HO_NGHEO + HO_CAN_NGHEO <= HO_TONG", severity = "cảnh báo",', True),
], ids=["label", "type", "rule", "scope", "severity"])
def test_version_follows_shape_not_labels(cat, cat_dir, file, old, new, changes):
    edit(cat_dir / file, old, new)
    edited = load_catalogue(cat_dir)
    if not changes:
        assert edited.form("01").item("HO_NGHEO").label == "Số hộ nghèo (sau rà soát)"  # the edit took
    assert (edited.version != cat.version) is changes


# --------------------------------------------------------------------------- broken catalogues

BROKEN = [
    # (id, file to edit, old text, new text, file named in the error, entry named in the error)
    ("duplicate-item", "forms/15.toml", 'code = "DON_VI_DUOC_GS"', 'code = "CUOC_KIEM_TRA"', "forms/15.toml", "CUOC_KIEM_TRA"),
    ("missing-parent", "forms/01.toml", 'parent = "HO_NGHEO" }', 'parent = "HO_KHONG_CO" }', "forms/01.toml", "HO_NGHEO_DTTS"),
    ("rule-unknown-item", "forms/01.toml", "HO_NGHEO + HO_CAN_NGHEO <= HO_TONG", "HO_NGHEO + HO_KHONG_CO <= HO_TONG",
     "forms/01.toml", "HO_KHONG_CO"),
    ("target-unknown-item", "targets.toml", 'numerator = "01:HO_NGHEO"', 'numerator = "01:KHONG_CO"', "targets.toml", "T01"),
    ("target-bare-item", "targets.toml", 'numerator = "01:HO_CAN_NGHEO"', 'numerator = "HO_CAN_NGHEO"', "targets.toml", "T02"),
    ("self-cycle", "forms/11.toml", 'formula = "NHA_KHOI_CONG - NHA_HOAN_THANH"', 'formula = "NHA_KHOI_CONG - NHA_DANG_THI_CONG"',
     "forms/11.toml", "NHA_DANG_THI_CONG"),
    ("grid-cycle", "forms/02.toml", 'formula = "NSTW_DT + CHUYEN_DT"', 'formula = "NSTW_DT + TONG"', "forms/02.toml", "TONG"),
    ("unknown-type", "forms/14.toml", 'unit = "lớp", type = "count"', 'unit = "lớp", type = "integer"', "forms/14.toml", "LOP_TAP_HUAN"),
    ("unknown-column-type", "forms/02.toml", 'full_label = "Vốn huy động khác", unit = "triệu đồng", type = "money"',
     'full_label = "Vốn huy động khác", unit = "triệu đồng", type = "tien"', "forms/02.toml", "HUY_DONG"),
    ("unknown-unit-kind", "forms/14.toml", '["xa", "thi_tran", "co_quan_huyen"]', '["xa", "thi_tran", "huyen"]', "forms/14.toml", "14"),
    ("duplicate-unit", "units.csv", "03259,Xã Phình Sáng", "03253,Xã Phình Sáng", "units.csv", "03253"),
    ("nfd-label", "forms/01.toml", '"Số hộ cận nghèo"', unicodedata.normalize("NFD", '"Số hộ cận nghèo"'),
     "forms/01.toml", "dòng {line}"),
    ("toml-syntax", "forms/07.toml", 'code = "07"', 'code = "07', "forms/07.toml", "-"),
    ("period-state", "periods.toml", 'state = "mo"', 'state = "open"', "periods.toml", "2023"),
    ("long-sheet-name", "forms/13.toml", 'sheet = "13 DA6.TDA2"', 'sheet = "13 DA6.TDA2 Truyền thông giảm nghèo"',
     "forms/13.toml", "13 DA6.TDA2 Truyền thông"),
    ("rule-severity", "forms/01.toml", 'rule = "HO_NGHEO + HO_CAN_NGHEO <= HO_TONG",',
     'rule = "HO_NGHEO + HO_CAN_NGHEO <= HO_TONG", severity = "warning",', "forms/01.toml",
     "HO_NGHEO + HO_CAN_NGHEO <= HO_TONG"),
    ("unknown-sub-project", "forms/12.toml", 'sub_project = "DA6.TDA1"', 'sub_project = "DA6.TDA9"', "forms/12.toml", "12"),
]


@pytest.mark.parametrize("file, old, new, err_file, err_entry", [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN])
def test_broken_catalogue_is_rejected(cat_dir, file, old, new, err_file, err_entry):
    line = edit(cat_dir / file, old, new)
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(cat_dir)
    err, entry = caught.value, err_entry.format(line=line)
    assert err.file == err_file and f'"{err_file}"' in str(err)
    assert entry in err.entry and entry in str(err)


def test_bare_target_item_error_names_the_item(cat_dir):
    edit(cat_dir / "targets.toml", 'numerator = "01:HO_CAN_NGHEO"', 'numerator = "HO_CAN_NGHEO"')
    with pytest.raises(CatalogueError, match="HO_CAN_NGHEO"):
        load_catalogue(cat_dir)


def test_error_names_the_real_file_of_a_form(cat_dir):
    (cat_dir / "forms/15.toml").rename(cat_dir / "forms/15-giam-sat.toml")
    edit(cat_dir / "forms/15-giam-sat.toml", 'unit = "cuộc", type = "count"', 'unit = "cuộc", type = "integer"')
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(cat_dir)
    assert caught.value.file == "forms/15-giam-sat.toml"


# --------------------------------------------------------------------------- keys the catalogue does not know

UNKNOWN_KEYS = [
    # (id, file to edit, old text, new text, entry named in the error, message)
    # A misspelt "parent" used to cut form 03 from 4 rules to 1 without a word.
    ("misspelt-parent", "forms/03.toml", 'giao thông", unit = "công trình", type = "count", parent',
     'giao thông", unit = "công trình", type = "count", parnet', "03, CT_GIAO_THONG",
     '"parnet": không có khoá này — có phải "parent"?'),
    ("unknown-top-key", "forms/03.toml", 'sheet = "03 DA1.TDA1"', 'sheet = "03 DA1.TDA1"\nsheet_titel = "Hạ tầng"', "03",
     '"sheet_titel": không có khoá này — có phải "sheet"?'),
    ("unit-column", "units.csv", "ma_don_vi,ten_don_vi,kieu,", "ma_don_vi,ten_don_vi,kiểu,", "dòng 2",
     '"kiểu": không có khoá này — có phải "kieu"?'),
    ("unit-row-too-long", "units.csv", "03253,Thị trấn Tuần Giáo,thi_tran,thanh_thi,099,Huyện Tuần Giáo,11,Tỉnh Điện Biên,,",
     "03253,Thị trấn Tuần Giáo,thi_tran,thanh_thi,099,Huyện Tuần Giáo,11,Tỉnh Điện Biên,,,x", "dòng 2",
     "dòng có nhiều ô hơn dòng tiêu đề"),
    ("report-block", "report.toml", 'where = "GN"\npick = "zero"', 'where = "GN"\npik = "zero"', "khối 71",
     '"pik": không có khoá này — có phải "pick"?'),
    ("district-headline", "district.toml", '{ label = "Tổng số hộ", ref = ', '{ label = "Tổng số hộ", reff = ', "Tổng số hộ",
     '"reff": không có khoá này — có phải "ref"?'),
    ("quoted-date", "periods.toml", "report_date = 2023-08-15", 'report_date = "2023-08-15"', "2023",
     '"report_date" = "2023-08-15": phải là ngày dạng 2023-08-15'),
    ("number-for-a-word", "targets.toml", 'denominator = "01:HO_TONG"\ndirection = "down"\n\n[[targets]]\ncode = "T02"',
     'denominator = "01:HO_TONG"\ndirection = 1\n\n[[targets]]\ncode = "T02"', "T01",
     '"direction" = 1: phải là một trong "up", "down"'),
    ("empty-label", "programme.toml", 'form = "03", name = "Tiểu dự án 1: Hỗ trợ đầu tư phát triển hạ tầng kinh tế - xã hội '
     'các huyện nghèo"', 'form = "03", name = ""', "DA1, DA1.TDA1", '"name" không được để trống'),
    ("rules-of-a-copy", "forms/04.toml", 'same_items_as = "03"', 'same_items_as = "03"\nrules = [{ rule = "CT_DUY_TU <= 5" }]',
     "04", '"rules" không dùng cùng "same_items_as"'),
    ("grid-key-on-items", "forms/01.toml", 'code = "01"', 'code = "01"\ntotal_column = "HO_TONG"', "01",
     '"total_column" chỉ dùng cho biểu lưới'),
]


@pytest.mark.parametrize("file, old, new, entry, message", [u[1:] for u in UNKNOWN_KEYS], ids=[u[0] for u in UNKNOWN_KEYS])
def test_what_the_catalogue_does_not_know_is_refused(cat_dir, file, old, new, entry, message):
    edit(cat_dir / file, old, new)
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(cat_dir)
    assert (caught.value.file, caught.value.entry) == (file, entry)
    assert message in str(caught.value)


# --------------------------------------------------------------------------- command line


def test_cli_catalogue_check(cat, capsys):
    assert main(["catalogue", "check"]) == 0
    out = capsys.readouterr().out
    assert "Danh mục hợp lệ" in out and "15 biểu" in out and "25 chỉ tiêu" in out and "25 đơn vị" in out  # 23 until 30/6/2025, Búng Lao and Sáng Nhè after
    assert cat.version in out


def test_cli_catalogue_check_broken(cat_dir, capsys):
    edit(cat_dir / "periods.toml", 'state = "mo"', 'state = "open"')
    assert main(["catalogue", "check", "--dir", str(cat_dir)]) == 2
    captured = capsys.readouterr()
    assert "periods.toml" in captured.err and "2023" in captured.err
    assert "Danh mục hợp lệ" not in captured.out
