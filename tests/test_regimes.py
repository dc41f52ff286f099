"""The rules in force chosen by period (regimes.toml): the shipped regimes and bodies, the
catalogue's refusals (an unknown form set, overlapping regimes, a period in no regime), and two
form sets side by side: a second version made here (a form renamed, an item added, a project
removed) and the 2021–2025 one publish their periods' Biểu from real files with no code change,
while the 2023 files are still read and published, byte for byte, under the 2021–2025 rules."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import re
import shutil
from pathlib import Path

import openpyxl
import pytest

from pipeline.catalogue import CATALOGUE_DIR, CatalogueError, Ref, load_catalogue
from pipeline.catalogue.contract import PERIOD_FIELD, UNIT_FIELD
from pipeline.publication.publish import publish_period
from pipeline.settings import Places
from pipeline.tools.sample import sample_values
from pipeline.workbook.reader import read_workbook
from pipeline.workbook.template import Filling, write_unit_workbook
from tests.conftest import ROOT, take_in_everything
from tests.test_units import put_periods

T0 = dt.datetime(2023, 8, 10, 17, 0)  # as tests/test_bieu_layouts.py records the 2023 hashes
T26 = dt.datetime(2026, 8, 10, 17, 0)
NEW_ITEM = Ref("08", "DT_KY_NANG_SO")
SHIPPED_YEARS = ["2021", "2022", "2023", "2024", "2025"]  # the shipped periods units send files for (not the phase)
RENAMED = "Tiểu dự án 1: Chuyển đổi số và giảm nghèo về thông tin"
PERIOD_2026 = '\n[[periods]]\nkey = "2026"\nlabel = "Năm 2026"\nreport_date = 2026-08-15\ndeadline = 2026-08-10\nstate = "mo"\n'


def _copy(tmp_path: Path) -> Path:
    return Path(shutil.copytree(CATALOGUE_DIR, tmp_path / "catalogue", ignore=shutil.ignore_patterns("*.py", "__pycache__")))


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, (path.name, old)
    path.write_text(text.replace(old, new), encoding="utf-8")


def _add_period(folder: Path, key: str, report_date: str, extra: str = "") -> None:
    put_periods(folder, f'\n[[periods]]\nkey = "{key}"\nreport_date = {report_date}\ndeadline = {report_date}\nstate = "mo"\n{extra}')


def _second_version(folder: Path) -> Path:
    """A form set "thu" beside the shipped one, for 2026: form 12's sub-project renamed, an item
    added to form 08, project DA7 (forms 14 and 15) removed; the 2026 regime takes it."""
    version = folder / "versions" / "thu"
    version.mkdir(parents=True)
    for name in ("forms", "bieu"):
        shutil.copytree(folder / name, version / name)
    for name in ("programme.toml", "targets.toml", "report.toml", "phase.toml"):
        shutil.copy(folder / name, version / name)
    _edit(version / "programme.toml", 'name = "Tiểu dự án 1: Giảm nghèo về thông tin"', f'name = "{RENAMED}"')
    _edit(version / "forms/08.toml", '  { code = "LD_NHU_CAU_DTKN"',
          f'  {{ code = "{NEW_ITEM.row}", label = "Số người được đào tạo kỹ năng số", unit = "người", type = "count" }},\n'
          '  { code = "LD_NHU_CAU_DTKN"')
    programme = (version / "programme.toml").read_text(encoding="utf-8")
    (version / "programme.toml").write_text(programme[:programme.index('[[projects]]\ncode = "DA7"')], encoding="utf-8")
    (version / "forms/14.toml").unlink()
    (version / "forms/15.toml").unlink()
    # Its report wording says nothing of forms 14 and 15: their outputs, the inspection sentence,
    # the training clause of the summary of outputs.
    wording = (version / "report.toml").read_text(encoding="utf-8")
    wording = re.sub(r'^"DA7\.TDA\d" = .*\n', "", wording, flags=re.M)
    wording = re.sub(r'\[\[blocks\]\]\ntext = "[^"\n]*\{15/[^\n]*\n', "", wording)
    wording = re.sub(r'; tổ chức \{14/[^"]*\."', '."', wording)
    assert "{14/" not in wording and "{15/" not in wording
    (version / "report.toml").write_text(wording, encoding="utf-8")
    for form in ("14", "15"):  # nor does its phase summary
        _edit(version / "phase.toml", f'[[aggregation]]\nform = "{form}"\ndefault = "sum"\n', "")
    for sub_project in ("DA7.TDA1", "DA7.TDA2"):
        _edit(version / "phase.toml", re.search(f'"{sub_project}" = .*\n', (version / "phase.toml").read_text(encoding="utf-8"))[0], "")
    regimes = folder / "regimes.toml"
    _edit(regimes, '[[programmes]]\nkey = "2021-2025"',
          '[[form_sets]]\nkey = "thu"\ndirectory = "versions/thu"\nname = "Bộ biểu thử"\nsource = "kiểm thử"\n'
          'verified = false\n\n[[programmes]]\nkey = "2021-2025"')
    text = regimes.read_text(encoding="utf-8")
    start = text.index('key = "2026"\n')
    block = text[start:text.index("[[regimes]]", start)]
    new_block = block.replace('form_set = "2021-2025"', 'form_set = "thu"')  # its own forms: no note
    regimes.write_text(text.replace(block, new_block[:new_block.index("forms_note")] + "\n"), encoding="utf-8")
    with (folder / "periods.toml").open("a", encoding="utf-8") as f:
        f.write(PERIOD_2026)
    return folder


def _files_2026(catalogue, out: Path, units: list[str] | None = None) -> list[Path]:
    """Unit files for 2026 made with the 2026 form set's template, one per unit of 2026: the 2023
    sample values (of the unit with its code, else the first one) of the cells that form set still
    has, and 7 people trained in digital skills per unit reporting 08."""
    forms = catalogue.forms
    out.mkdir(parents=True, exist_ok=True)
    files = []
    samples = sample_values(catalogue.for_period("2023"))
    for unit in catalogue.units_in("2026"):  # the communes of after 1/7/2025
        code = unit.code
        if units is not None and code not in units:
            continue
        values = samples.get(code) or next(iter(samples.values()))  # a new commune: the first unit's figures
        kept = {ref: value for ref, value in values.items() if ref.form in forms
                and (not forms[ref.form].is_grid or any(i.code == ref.row for i in forms[ref.form].items))}
        if "08" in forms and catalogue.reports(unit, forms["08"]) and NEW_ITEM.row in {i.code for i in forms["08"].items}:
            kept[NEW_ITEM] = 7
        info = {UNIT_FIELD: code, PERIOD_FIELD: "2026", "NGUOI_LAP": "Lò Văn Minh", "DIEN_THOAI": "0215 3800 100",
                "NGAY_LAP": dt.date(2026, 8, 1)}
        files.append(write_unit_workbook(out / f"{code}.xlsx", catalogue, unit, Filling(info, kept)))
    return files


def _heading(path: Path, sheet: str | None = None) -> list[str]:
    """The texts of the heading rows of a published Biểu (authority, title, reference, period)."""
    ws = openpyxl.load_workbook(path)[sheet] if sheet else openpyxl.load_workbook(path).worksheets[0]
    return [str(ws.cell(row, 1).value or "") for row in range(1, 8)]


# --------------------------------------------------------------------------- the shipped regimes


def test_shipped_regimes_choose_body_programme_and_standard_by_date(tmp_path):
    folder = _copy(tmp_path)
    for key, day in (("2021", "2021-12-20"), ("2025-6T", "2025-06-30"), ("2025", "2025-12-15"), ("2026", "2026-08-15"), ("2027", "2027-08-15")):
        _add_period(folder, key, day)
    cat = load_catalogue(folder)
    assert cat.body("2023").authority == "UBND HUYỆN TUẦN GIÁO" and cat.body("2023").place == "Tuần Giáo"
    assert cat.body("2025-6T").authority_in_text == "UBND huyện Tuần Giáo"  # the district until 30/6/2025
    assert [cat.body(p).authority for p in ("2025", "2026", "2027")] == ["UBND TỈNH ĐIỆN BIÊN"] * 3
    assert cat.regime("2025").programme.key == "2021-2025" and cat.regime("2026").programme.key == "2026-2035"
    assert "257/2025/QH15" in cat.regime("2026").programme.basis
    # 2021 keeps the 2016–2020 standard, 2026 the 2022–2025 one; from 2027 the lines of Nghị định 351/2025/NĐ-CP
    assert [cat.regime(p).standard.key for p in ("2021", "2023", "2026")] == ["2016-2020", "2022-2025", "2022-2025"]
    assert cat.body("2021").authority == "UBND HUYỆN TUẦN GIÁO"
    assert (cat.regime("2027").standard.income_rural, cat.regime("2027").standard.income_urban) == (2_200_000, 2_800_000)
    # until new forms exist, 2026 carries the 2021–2025 forms, and says so
    assert all(cat.for_period(p) is cat for p in cat.periods)
    assert not cat.regime("2025").forms_note and "Thông tư 10/2022/TT-BLĐTBXH" in cat.regime("2026").forms_note
    for regime in cat.regimes:  # every fact names where it was checked
        assert regime.programme.source and regime.standard.source and regime.body.source


def test_a_period_may_name_its_regime(tmp_path):
    """A phase summary of 2021–2025 written in 2026 keeps the 2021–2025 rules when it says so."""
    folder = _copy(tmp_path)
    _add_period(folder, "2021-2025", "2026-03-31", 'regime = "2021-2025-tinh"\n')
    cat = load_catalogue(folder)
    assert cat.regime("2021-2025").key == "2021-2025-tinh" and cat.regime("2021-2025").programme.key == "2021-2025"


@pytest.mark.parametrize("edit, entry, message", [
    (('form_set = "2021-2025"\nstandard = "2022-2025"\nbody = "huyen"',
      'form_set = "2031-2035"\nstandard = "2022-2025"\nbody = "huyen"'), "2021-2025-huyen",
     '"2031-2035" không có trong [[form_sets]]'),
    (("start = 2025-07-01", "start = 2025-06-01"), "2021-2025-tinh",
     'thời gian hiệu lực (01/06/2025 – 31/12/2025) trùng với chế độ "2021-2025-huyen" (01/01/2022 – 30/06/2025)'),
    (("start = 2022-01-01", "start = 2023-09-01"), "2023", "ngày báo cáo 15/08/2023 không thuộc chế độ nào trong regimes.toml"),
    (("end = 2026-12-31", "end = 2025-12-31"), "2026", "ngày kết thúc (end) trước ngày bắt đầu (start)"),
    (('directory = "."', 'directory = "versions/khong-co"'), "2021-2025", 'bộ biểu không có thư mục "versions/khong-co/forms"'),
])
def test_broken_regimes_are_refused(tmp_path, edit, entry, message):
    folder = _copy(tmp_path)
    _edit(folder / "regimes.toml", *edit)
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(folder)
    assert caught.value.file in ("regimes.toml", "periods.toml") and caught.value.entry == entry
    assert message in str(caught.value)


def test_a_period_naming_an_unknown_regime_is_refused(tmp_path):
    folder = _copy(tmp_path)
    _add_period(folder, "2024", "2024-08-15", 'regime = "2024-khac"\n')
    with pytest.raises(CatalogueError, match='chế độ "2024-khac" không có trong regimes.toml') as caught:
        load_catalogue(folder)
    assert (caught.value.file, caught.value.entry) == ("periods.toml", "2024")


# --------------------------------------------------------------------------- two form sets side by side


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory):
    """The 2023 sample and 2026 files made with the second version, taken in and published by
    one catalogue holding both form sets."""
    root = tmp_path_factory.mktemp("two-versions")
    cat = load_catalogue(_second_version(_copy(root)))
    places = Places.under(root / "data")
    take_in_everything(cat, places, T0, sorted((ROOT / "data" / "sample" / "2023").glob("*.xlsx")), "2023")
    take_in_everything(cat, places, T26, _files_2026(cat.for_period("2026"), root / "files-2026"), "2026")
    published = {p: publish_period(cat, places.warehouse, places.out, p)[1] for p in ("2023", "2026")}
    return cat, published, root


@pytest.mark.slow
def test_each_period_takes_its_own_form_set(two_versions):
    cat, _, root = two_versions
    old, new = cat.for_period("2023"), cat.for_period("2026")
    assert (old.form_set, new.form_set) == ("2021-2025", "thu") and old is cat
    assert old.version != new.version
    assert "14" in old.forms and "14" not in new.forms and "DA7" not in {p.code for p in new.projects}
    assert NEW_ITEM.row in {i.code for i in new.form("08").items}
    assert NEW_ITEM.row not in {i.code for i in old.form("08").items}
    # each version's template offers its own periods, and a 2026 file is read with its items
    assert (old.own_periods(), new.own_periods()) == (SHIPPED_YEARS, ["2026"])
    submission = read_workbook(root / "files-2026" / "03253.xlsx", new)
    assert submission.template_version == new.version and submission.period == "2026"
    assert submission.values[NEW_ITEM] == 7


@pytest.mark.slow
def test_two_periods_publish_side_by_side(two_versions):
    cat, published, _ = two_versions
    old, new = published["2023"], published["2026"]
    assert sorted(old.files) == [f"{n:02d}" for n in range(1, 16)]
    assert sorted(new.files) == [f"{n:02d}" for n in range(1, 14)]  # DA7's Biểu 14 and 15 removed
    # the renamed form titles its Biểu; 2023 keeps the old name
    assert RENAMED.upper() in _heading(new.files["12"])[3].upper()
    assert RENAMED.upper() not in _heading(old.files["12"])[3].upper()
    # the added item is a column of Biểu 08, totalled over the units that report it
    ws = openpyxl.load_workbook(new.files["08"]).worksheets[0]
    header = [c.value for row in ws.iter_rows(min_row=8, max_row=9) for c in row]
    assert any(str(h).startswith("Số người được đào tạo kỹ năng số") for h in header)
    form = cat.for_period("2026").form("08")
    reporting = [u for u in cat.units_in("2026") if cat.reports(u, form)]
    column = next(c.column for row in ws.iter_rows(min_row=8, max_row=9) for c in row
                  if str(c.value).startswith("Số người được đào tạo kỹ năng số"))
    total = next(r for r in ws.iter_rows(values_only=True) if r[1] == "TỔNG CỘNG")
    assert total[column - 1] == 7 * len(reporting)
    # the funds grid of 2026 has no row of the removed project
    def labels(path):
        return [str(r[1]) for r in openpyxl.load_workbook(path).worksheets[0].iter_rows(values_only=True)]
    assert any("Dự án 7" in label for label in labels(old.files["02"]))
    assert not any("Dự án 7" in label for label in labels(new.files["02"]))
    # each period is headed by its own body and programme
    heading = _heading(old.files["01"])
    assert heading[0] == "UBND HUYỆN TUẦN GIÁO" and "giảm nghèo bền vững giai đoạn 2021 – 2025" in heading[5]
    heading = _heading(new.files["01"])
    assert heading[0] == "UBND TỈNH ĐIỆN BIÊN" and heading[4].endswith("của UBND tỉnh Điện Biên)")
    assert "giai đoạn 2026 – 2035" in heading[5] and "\n" not in heading[5]  # its own forms: no note


@pytest.mark.slow
def test_2023_is_published_byte_for_byte_when_2026_rules_exist(two_versions):
    _, published, _ = two_versions
    pub = published["2023"]
    recorded = json.loads((ROOT / "tests" / "bieu_hashes.json").read_text(encoding="utf-8"))["files"]
    written = {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
               for p in [*pub.files.values(), pub.all_in_one, pub.archive]}
    assert written == recorded


@pytest.mark.slow
def test_a_2026_bieu_carrying_the_old_forms_says_so(tmp_path):
    """The shipped 2026 regime: the 2021–2025 forms under the merged programme, headed by the
    province, a line under the title saying which forms it carries."""
    folder = _copy(tmp_path)
    with (folder / "periods.toml").open("a", encoding="utf-8") as f:
        f.write(PERIOD_2026)
    cat = load_catalogue(folder)
    places = Places.under(tmp_path / "data")
    files = _files_2026(cat, tmp_path / "files", ["03253", "03260", "03301"])
    take_in_everything(cat, places, T26, files, "2026")
    publication = publish_period(cat, places.warehouse, places.out, "2026")[1]
    heading = _heading(publication.files["01"])
    assert heading[0] == "UBND TỈNH ĐIỆN BIÊN"
    programme, note = heading[5].split("\n")
    assert programme == ("Kỳ báo cáo: Năm 2026 – Chương trình mục tiêu quốc gia xây dựng nông thôn mới, giảm nghèo bền "
                         "vững và phát triển kinh tế - xã hội vùng đồng bào dân tộc thiểu số và miền núi giai đoạn 2026 – 2035")
    assert note == cat.regime("2026").forms_note and "Thông tư 10/2022/TT-BLĐTBXH" in note


def test_cli_template_of_a_period(tmp_path, capsys):
    from pipeline.cli import main

    assert main(["template", "--period", "2023", "--out", str(tmp_path)]) == 0
    written = sorted(tmp_path.glob("*.xlsx"))
    assert len(written) == 2
    for path in written:  # the 2023 form set's template is the committed one
        assert path.read_bytes() == (ROOT / "templates_xlsx" / path.name).read_bytes()
    assert main(["template", "--period", "2099", "--out", str(tmp_path / "khac")]) != 0
    assert 'Không có kỳ báo cáo "2099"' in capsys.readouterr().err


def test_an_error_in_another_form_set_names_its_folder(tmp_path):
    folder = _second_version(_copy(tmp_path))
    _edit(folder / "versions/thu/forms/08.toml", f'code = "{NEW_ITEM.row}", label', f'code = "{NEW_ITEM.row}", lable')
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(folder)
    assert caught.value.file == "versions/thu/forms/08.toml" and '"lable"' in str(caught.value)


def test_every_bieu_of_every_form_set_is_known(tmp_path):
    """A form set with one Biểu more than this one's: the Dagster assets are made for the union."""
    folder = _second_version(_copy(tmp_path))
    version = folder / "versions/thu"
    shutil.copy(version / "forms/13.toml", version / "forms/16.toml")
    _edit(version / "forms/16.toml", 'code = "13"', 'code = "16"')
    _edit(version / "forms/16.toml", 'sheet = "13 DA6.TDA2"', 'sheet = "16 DA8"')
    _edit(version / "forms/16.toml", 'sub_project = "DA6.TDA2"', 'sub_project = "DA8"')
    with (version / "programme.toml").open("a", encoding="utf-8") as f:
        f.write('\n[[projects]]\ncode = "DA8"\nname = "Dự án 8: Thử"\n'
                'sub_projects = [{ code = "DA8", form = "16", name = "Dự án 8: Thử" }]\n')
    cat = load_catalogue(folder)
    assert "16" not in cat.bieu and "16" in cat.for_period("2026").bieu
    assert cat.every_bieu() == [f"{n:02d}" for n in range(1, 17)]


def test_a_changed_copy_of_a_catalogue_keeps_itself_for_its_own_periods(catalogue):
    """A copy made with dataclasses.replace (another template version, more periods) is not
    swapped back for the loaded one by for_period."""
    changed = dataclasses.replace(catalogue, version="000000000000")
    assert changed.for_period("2023") is changed and changed.own_periods() == SHIPPED_YEARS


def test_cli_catalogue_check_names_each_form_set_and_its_periods(tmp_path, capsys):
    from pipeline.cli import main

    folder = _second_version(_copy(tmp_path))
    assert main(["catalogue", "check", "--dir", str(folder)]) == 0
    out = capsys.readouterr().out
    versions = {key: c.version for key, c in load_catalogue(folder).form_sets().items()}
    assert f'Bộ biểu "2021-2025": 15 biểu, phiên bản mẫu {versions["2021-2025"]}; kỳ báo cáo: {", ".join(SHIPPED_YEARS)}.' in out
    assert f'Bộ biểu "thu": 13 biểu, phiên bản mẫu {versions["thu"]}; kỳ báo cáo: 2026.' in out
