"""Validation on real workbooks: the committed corpus of bad and hostile files, every rule of
the catalogue made to fire, the warnings across forms and periods, the CLI contract, the
feedback workbook, and a run that goes on whatever the inbox holds."""

from __future__ import annotations

import datetime as dt
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unicodedata
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from pipeline.catalogue import Ref, default_catalogue
from pipeline.checking.feedback import SUMMARY_SHEET, feedback_name, write_feedback
from pipeline.checking.findings import (
    FUNDS_WITHOUT_OUTPUTS,
    LARGE_CHANGE,
    OUTPUTS_WITHOUT_FUNDS,
    RULE,
    SUPERSEDED,
    WRONG_TYPE,
)
from pipeline.text import show_number
from pipeline.checking.validation import check_file, check_files
from pipeline.cli import main
from pipeline.files import atomic_output
from pipeline.intake.take_in import take_in_unit, unidentified_files
from pipeline.settings import Places
from pipeline.tools.corpus import CORPUS, UNIT, build
from pipeline.tools.sample import sample_values
from pipeline.workbook.reader import read_workbook
from pipeline.workbook.template import Filling, write_unit_workbook
from pipeline.workbook.unreadable import UNREADABLE_KINDS
from tests.conftest import ROOT

T0 = dt.datetime(2023, 8, 10, 8, 0)
UNREADABLE_CODES = {kind.code for kind in UNREADABLE_KINDS}


# The corpus as the generator makes it now, with the finding each file must give.
_FRESH = tempfile.TemporaryDirectory(prefix="corpus-")
CASES = build(Path(_FRESH.name))


def test_committed_corpus_is_what_the_generator_makes():
    out, cases = Path(_FRESH.name), CASES
    committed = sorted(p.relative_to(CORPUS).as_posix() for p in CORPUS.rglob("*") if p.is_file())
    assert committed == sorted(c.name for c in cases)
    for case in cases:
        assert (out / case.name).read_bytes() == (CORPUS / case.name).read_bytes(), case.name


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_corpus_case_gives_its_exact_finding(catalogue, case):
    result = check_file(catalogue, CORPUS / case.name, "2023")
    matching = [f for f in result.findings if f.code == case.code and f.sheet == case.sheet and f.cell == case.cell]
    assert matching, [f.line() for f in result.findings]
    assert any(case.words in f.message for f in matching), [f.message for f in matching]
    assert result.accepted == case.accepted
    if case.code in UNREADABLE_CODES:
        assert result.submission is None
        assert result.findings[0].file == Path(case.name).name
        assert f'"{Path(case.name).name}"' in result.findings[0].message


# --------------------------------------------------------------------------- every rule fires


def _rules():
    for form in default_catalogue().forms.values():
        for number, rule in enumerate(form.rules):
            yield pytest.param(form.code, number, id=f"{form.code}:{rule.text}")


def _value(catalogue, values, ref):
    return sum((t.sign * values[t.ref] for t in catalogue.expand(ref)), Decimal(0))


def _breaking(catalogue, values, form, rule):
    """Values that break ``rule`` (on the DA1.TDA1 row of a grid): raise the first input of
    the left side just past the right side."""
    row = "DA1.TDA1"
    bind = (lambda ref: Ref(ref.form, row, ref.column) if ref.row == "*" else ref)
    left = sum(t.sign * _value(catalogue, values, bind(t.ref)) for t in rule.left)
    right = sum(t.sign * _value(catalogue, values, bind(t.ref)) for t in rule.right)
    target = catalogue.expand(bind(rule.left[0].ref))[0].ref
    assert rule.op == "<=", "only <= rules exist; teach this test the others when one is added"
    return {**values, target: values[target] + (right - left) + 1}, bind(rule.left[0].ref), right + 1


@pytest.fixture(scope="module")
def rule_results(catalogue, tmp_path_factory):
    """One workbook per rule of the catalogue, each breaking that rule, checked in one batch."""
    out = tmp_path_factory.mktemp("rules")
    values = sample_values(catalogue)[UNIT]
    info = {"MA_DON_VI": UNIT, "KY_BAO_CAO": "2023"}
    paths, expected = [], {}
    for form in catalogue.forms.values():
        for number, rule in enumerate(form.rules):
            broken, first, left = _breaking(catalogue, values, form, rule)
            path = write_unit_workbook(out / f"{form.code}-{number}.xlsx", catalogue, catalogue.unit(UNIT),
                                       Filling(dict(info), broken))
            paths.append(path)
            expected[(form.code, number)] = (path, first, left)
    results = {r.path: r for r in check_files(catalogue, paths, "2023")}
    return {key: (results[path], first, left) for key, (path, first, left) in expected.items()}


@pytest.mark.parametrize(("form_code", "number"), list(_rules()))
def test_every_rule_fires_on_a_real_workbook(catalogue, rule_results, form_code, number):
    result, first, left = rule_results[(form_code, number)]
    form = catalogue.form(form_code)
    address = result.submission.address(first)
    fired = [f for f in result.findings if f.code == RULE.code and f.cell == address and f.sheet == form.sheet]
    assert fired, [f.line() for f in result.findings]
    assert any(f"= {show_number(left)} lớn hơn" in f.message for f in fired), [f.message for f in fired]
    assert not result.accepted


def test_rule_message_shows_both_sides_with_cells(catalogue, tmp_path):
    values = sample_values(catalogue)[UNIT]
    values[Ref("02", "DA4.TDA1", "GN_SN")] = Decimal(250)
    path = write_unit_workbook(tmp_path / "x.xlsx", catalogue, catalogue.unit(UNIT),
                               Filling({"MA_DON_VI": UNIT, "KY_BAO_CAO": "2023"}, values))
    recurrent = sum(values[Ref("02", "DA4.TDA1", c)] for c in ("NSTW_SN", "DOI_UNG", "CHUYEN_SN", "HUY_DONG"))
    [finding] = [f for f in check_file(catalogue, path).findings if f.code == RULE.code]
    assert finding.line() == (
        f'[lỗi] Sheet "02 Nguồn vốn", ô K15 (DA4.TDA1 · Đã giải ngân – sự nghiệp) = 250 lớn hơn '
        f"DA4.TDA1 · Tổng vốn sự nghiệp = {show_number(recurrent)} (ô M15). "
        "Vốn sự nghiệp đã giải ngân không được lớn hơn tổng vốn sự nghiệp. "
        f"Nếu các số còn lại đúng: ô K15 ghi tối đa {show_number(recurrent)}."  # the total is a formula: no hint
    )


def test_a_rule_names_the_value_a_typed_cell_must_hold(catalogue, tmp_path):
    """HO_NGHEO + HO_CAN_NGHEO <= HO_TONG: the total of households the sum asks for."""
    values = sample_values(catalogue)[UNIT]
    values[Ref("01", "HO_TONG")] = Decimal(2300)
    values[Ref("01", "HO_NGHEO")] = Decimal(2000)
    values[Ref("01", "HO_CAN_NGHEO")] = Decimal(349)
    result = check_file(catalogue, _write(catalogue, tmp_path, values))
    [finding] = [f for f in result.findings if f.code == RULE.code and f.item == "01:HO_NGHEO"
                 and "HO_TONG" not in f.message and "2.349" in f.message]
    address = result.submission.address(Ref("01", "HO_TONG"))
    assert finding.message.endswith(f"Nếu các số còn lại đúng: ô {address} ghi ít nhất 2.349."), finding.message


def test_every_cell_of_a_row_that_breaks_its_type_is_named(catalogue, tmp_path):
    """One frame-wide type check per form flags the row; each broken cell gets its own finding."""
    values = sample_values(catalogue)[UNIT]
    values[Ref("01", "HO_NGHEO")] = Decimal("2.5")  # a count with a fraction
    values[Ref("01", "HO_CAN_NGHEO")] = Decimal(-3)
    values[Ref("02", "DA4.TDA1", "NSTW_SN")] = Decimal("1.2345")  # money to four decimals
    values[Ref("02", "DA4.TDA1", "DOI_UNG")] = Decimal(-1)
    result = check_file(catalogue, _write(catalogue, tmp_path, values))
    wrong = sorted((f.item, f.value) for f in result.findings if f.code == WRONG_TYPE.code)
    assert wrong == [("01:HO_CAN_NGHEO", "-3"), ("01:HO_NGHEO", "2,5"),
                     ("02:DA4.TDA1:DOI_UNG", "-1"), ("02:DA4.TDA1:NSTW_SN", "1,2345")]


# --------------------------------------------------------------------------- warnings


def _write(catalogue, tmp_path, values, name="x.xlsx", unit=UNIT):
    return write_unit_workbook(tmp_path / name, catalogue, catalogue.unit(unit),
                               Filling({"MA_DON_VI": unit, "KY_BAO_CAO": "2023"}, values))


def test_outputs_without_funds_and_funds_without_outputs(catalogue, tmp_path):
    values = sample_values(catalogue)[UNIT]
    for column in ("NSTW_SN", "DOI_UNG", "CHUYEN_SN"):
        values[Ref("02", "DA4.TDA3", column)] = Decimal(0)
    for item in catalogue.form("09").input_items:
        values[Ref("09", item.code)] = 0
    result = check_file(catalogue, _write(catalogue, tmp_path, values))
    codes = {(f.code, f.item, f.sheet) for f in result.findings}
    assert (OUTPUTS_WITHOUT_FUNDS.code, "DA4.TDA3", "10 DA4.TDA3") in codes
    assert (FUNDS_WITHOUT_OUTPUTS.code, "DA4.TDA2", "02 Nguồn vốn") in codes
    assert result.accepted and result.errors == 0  # warnings never block


def test_large_change_from_the_last_valid_period(catalogue, sample_files):
    path = next(p for p in sample_files if p.name.startswith(UNIT))
    current = {c.ref: c.value for c in read_workbook(path, catalogue).cells}
    households = Ref("01", "HO_TONG")
    previous = {households: current[households] / 3, Ref("01", "HO_NGHEO"): current[Ref("01", "HO_NGHEO")]}
    [result] = check_files(catalogue, [path], "2023", {UNIT: previous})
    [finding] = [f for f in result.findings if f.code == LARGE_CHANGE.code]
    assert (finding.sheet, finding.cell, finding.item) == ("01 Chỉ tiêu", "E5", "01:HO_TONG")
    assert "thay đổi 200% (ngưỡng 50%)" in finding.message
    assert result.accepted


def test_superseded_file_of_the_same_unit(catalogue, sample_files, tmp_path):
    inbox = tmp_path / "inbox" / "2023"
    inbox.mkdir(parents=True)
    source = next(p for p in sample_files if p.name.startswith(UNIT))
    first, second = inbox / "lan-1.xlsx", inbox / "lan-2.xlsx"
    shutil.copy(source, first)
    values = sample_values(catalogue)[UNIT]
    values[Ref("01", "HO_NGHEO_DTTS")] -= 1
    _write(catalogue, inbox, values, "lan-2.xlsx")
    os.utime(first, (1_000_000, 1_000_000))
    os.utime(second, (2_000_000, 2_000_000))
    result = take_in_unit(catalogue, Places.under(tmp_path, tmp_path / "inbox"), "2023", UNIT, T0)
    assert result.file == second and result.status == "valid"
    [superseded] = [f for f in result.findings if f.code == SUPERSEDED.code]
    assert superseded.file == "lan-1.xlsx" and '"lan-2.xlsx"' in superseded.message


def test_a_clean_version_takes_back_the_feedback_of_a_bad_one(catalogue, sample_files, tmp_path):
    inbox = tmp_path / "inbox" / "2023"
    inbox.mkdir(parents=True)
    places = Places.under(tmp_path, tmp_path / "inbox")
    bad = shutil.copy(ROOT / "tests" / "corpus" / "bad" / "chua-nhap.xlsx", inbox / "lan-1.xlsx")
    os.utime(bad, (1_000_000, 1_000_000))
    first = take_in_unit(catalogue, places, "2023", UNIT, T0)
    assert first.status == "invalid" and first.feedback.exists()
    clean = shutil.copy(next(p for p in sample_files if p.name.startswith(UNIT)), inbox / "lan-2.xlsx")
    os.utime(clean, (2_000_000, 2_000_000))
    second = take_in_unit(catalogue, places, "2023", UNIT, T0 + dt.timedelta(days=1))
    assert second.status == "valid" and [f.code for f in second.findings] == [SUPERSEDED.code]
    summary = openpyxl.load_workbook(second.feedback)[SUMMARY_SHEET]  # only that lan-1 is not used any more:
    assert not any("chưa nhập" in str(c.value) for row in summary.iter_rows() for c in row)  # no fixed error
    (inbox / "lan-1.xlsx").unlink()
    third = take_in_unit(catalogue, places, "2023", UNIT, T0 + dt.timedelta(days=2))
    assert third.feedback is None and not second.feedback.exists()  # nothing to fix: no feedback


# --------------------------------------------------------------------------- hostile inbox


def test_run_goes_on_whatever_the_inbox_holds(catalogue, sample_files, tmp_path):
    inbox = tmp_path / "inbox" / "2023"
    inbox.mkdir(parents=True)
    for path in sample_files:
        shutil.copy(path, inbox / path.name)
    hostile = sorted((CORPUS / "hostile").iterdir())
    for path in hostile:
        shutil.copy(path, inbox / path.name)
    strange = {
        "x" * 200 + ".xlsx": sample_files[1],
        unicodedata.normalize("NFD", "Báo cáo xã Phình Sáng.xlsx"): sample_files[2],
        'bao:cao*?"<>|.xlsx': sample_files[3],
    }
    for name, source in strange.items():
        shutil.copy(source, inbox / name)
    places = Places.under(tmp_path, tmp_path / "inbox")
    results = [take_in_unit(catalogue, places, "2023", u.code, T0) for u in catalogue.units_in("2023")]
    assert {r.status for r in results} == {"valid"}
    unread = unidentified_files(catalogue, places, "2023", T0)
    assert sorted(u.result.path.name for u in unread) == sorted(p.name for p in hostile)
    assert all(u.result.findings[0].code in UNREADABLE_CODES for u in unread)
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    outside = [p for p in written if not p.startswith(("inbox/", "out/2023/phan-hoi/phan-hoi-", "warehouse.duckdb",
                                                         "archive/2023/", ".inbox-index/"))]
    assert outside == [] and not any(p.endswith(".tmp") for p in written)
    # feedback for each hostile file, and for each unit sent twice (the older file is not used)
    assert len([p for p in written if p.startswith("out/")]) == len(hostile) + len(strange)


def test_atomic_output_leaves_nothing_half_written(tmp_path):
    target = tmp_path / "out" / "bieu.xlsx"
    with pytest.raises(RuntimeError):
        with atomic_output(target) as temporary:
            temporary.write_bytes(b"half")
            raise RuntimeError("disk full")
    assert list((tmp_path / "out").iterdir()) == []
    with atomic_output(target) as temporary:
        temporary.write_bytes(b"whole")
    assert target.read_bytes() == b"whole" and list((tmp_path / "out").iterdir()) == [target]


# --------------------------------------------------------------------------- feedback workbook


def test_feedback_workbook(catalogue, tmp_path):
    values = sample_values(catalogue)[UNIT]
    values[Ref("01", "HO_NGHEO")] = "=HYPERLINK(\"http://x\",\"bấm\")"  # unit text stays text
    values[Ref("13", "DOI_THOAI")] = -3
    result = check_file(catalogue, _write(catalogue, tmp_path, values), "2023")
    path = write_feedback(tmp_path / "out" / feedback_name(result), catalogue, result, "2023")
    assert path.name == f"phan-hoi-{UNIT}-2023.xlsx"
    workbook = openpyxl.load_workbook(path)
    assert workbook.sheetnames[0] == SUMMARY_SHEET and workbook.active.title == SUMMARY_SHEET
    summary = workbook[SUMMARY_SHEET]
    texts = [c.value for row in summary.iter_rows() for c in row if isinstance(c.value, str)]
    assert any("KHÔNG ĐƯỢC CHẤP NHẬN" in t for t in texts)
    links = [c.hyperlink.location for row in summary.iter_rows() for c in row if c.hyperlink]
    assert "'01 Chỉ tiêu'!E6" in links and "'13 DA6.TDA2'!E8" in links
    assert len(links) == len(result.findings)
    annotated = workbook["01 Chỉ tiêu"]["E6"]
    assert annotated.data_type == "s" and annotated.value.startswith("=HYPERLINK")  # text, not a formula
    assert annotated.comment is not None and "không phải là số" in annotated.comment.text
    assert annotated.fill.fgColor.rgb.endswith("FF9999")
    assert workbook["13 DA6.TDA2"]["E8"].comment is not None
    assert workbook["01 Chỉ tiêu"]["E5"].comment is None  # a good cell is not flagged


# --------------------------------------------------------------------------- the command line


@pytest.mark.parametrize(
    ("name", "status"),
    [("bad/so-dang-chu.xlsx", 0), ("bad/chua-nhap.xlsx", 1), ("hostile/zip-bomb.xlsx", 2), ("hostile/rong.xlsx", 2)],
)
def test_cli_exit_status(name, status, capsys):
    assert main(["check", str(CORPUS / name), "--period", "2023"]) == status
    out = capsys.readouterr().out
    assert Path(name).name in out and "Traceback" not in out
    assert gc.isenabled()  # the collector paused for the check runs again, whatever the verdict


def test_the_command_exits_with_its_verdict_and_without_a_last_collection(tmp_path):
    """``python -m pipeline`` skips the collector's passes at exit (gc.freeze) and keeps the exit code."""
    script = ("import gc, sys\nimport pipeline.cli as cli\n"
              "cli.main = lambda: print(gc.get_freeze_count() == 0, gc.isenabled()) or 1\ncli.run()")
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                               check=False, cwd=ROOT)
    assert (completed.returncode, completed.stdout.split()) == (1, ["True", "True"])
    frozen = subprocess.run([sys.executable, "-c", "import atexit, gc, pipeline.cli as cli; cli.main = lambda: 0; "
                             "atexit.register(lambda: print(gc.get_freeze_count() > 0)); cli.run()"],
                            capture_output=True, text=True, timeout=60, check=False, cwd=ROOT)
    assert (frozen.returncode, frozen.stdout.strip()) == (0, "True")


def test_cli_json_names_the_file_and_verdict_and_lists_the_findings(capsys):
    assert main(["check", str(CORPUS / "bad" / "so-le-o-o-dem.xlsx"), "--json"]) == 1
    answer = json.loads(capsys.readouterr().out)
    assert (answer["file"], answer["verdict"], answer["accepted"]) == ("so-le-o-o-dem.xlsx", "KHÔNG ĐƯỢC CHẤP NHẬN", False)
    findings = answer["findings"]
    assert answer["errors"] == sum(f["severity"] == "lỗi" for f in findings) > 0
    assert {"severity", "code", "message", "file", "unit", "form", "sheet", "cell", "item", "item_label",
            "value"} == set(findings[0])
    assert {(f["code"], f["sheet"], f["cell"]) for f in findings} >= {("sai_kieu", "07 DA3.TDA2", "E6")}


def test_cli_never_prints_a_traceback_for_bad_input(tmp_path):
    missing = tmp_path / "khong-co.xlsx"
    for target, status in ((CORPUS / "hostile" / "thuc-the-xml.xlsx", 2), (missing, 2), (tmp_path, 2)):
        completed = subprocess.run([sys.executable, "-m", "pipeline", "check", str(target)],
                                   cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert completed.returncode == status
        assert "Traceback" not in completed.stderr + completed.stdout


def test_plan_workbook_is_validated(catalogue, tmp_path):
    from pipeline.workbook.template import PlanFilling, write_plan_workbook

    targets = {t.code: (True, Decimal(90), None) for t in catalogue.targets}
    targets["T04"] = (True, None, None)  # due, but no plan value
    targets["T05"] = (False, None, None)  # not due: no plan value needed
    path = write_plan_workbook(tmp_path / "ke-hoach.xlsx", catalogue, PlanFilling({"KY_BAO_CAO": "2023"}, targets))
    result = check_file(catalogue, path, "2023")
    assert [(f.code, f.sheet, f.item) for f in result.findings] == [("chua_nhap", "Kế hoạch", "KH:T04:KE_HOACH")]
    workbook = openpyxl.load_workbook(path)
    sheet = workbook["Kế hoạch"]
    sheet["E9"] = unicodedata.normalize("NFD", "Có")  # T05 due, typed in decomposed Unicode
    sheet["F9"] = "98,5"
    workbook.save(path)
    result = check_file(catalogue, path, "2023")
    codes = {(f.code, f.item) for f in result.findings}
    assert ("so_dang_chu", "KH:T05:KE_HOACH") in codes and ("chua_nhap", "KH:T04:KE_HOACH") in codes
    assert len(codes) == 2


def test_plan_yes_no_answer_has_its_own_code(catalogue, tmp_path):
    from pipeline.workbook.template import PlanFilling, write_plan_workbook

    targets = {t.code: (True, Decimal(90), None) for t in catalogue.targets}
    path = write_plan_workbook(tmp_path / "ke-hoach.xlsx", catalogue, PlanFilling({"KY_BAO_CAO": "2023"}, targets))
    workbook = openpyxl.load_workbook(path)
    workbook["Kế hoạch"]["E9"] = "Có lẽ"  # T05: neither Có nor Không
    workbook.save(path)
    [found] = check_file(catalogue, path, "2023").findings
    assert (found.code, found.severity, found.cell, found.item, found.value) == (
        "chi_chon_co_khong", "lỗi", "E9", "KH:T05:DANH_GIA", "Có lẽ")
    assert found.message.endswith('= "Có lẽ": chỉ chọn Có hoặc Không.')


def test_a_catalogue_rule_may_be_only_a_warning(tmp_path):
    from pipeline.catalogue import CATALOGUE_DIR, load_catalogue

    folder = Path(shutil.copytree(CATALOGUE_DIR, tmp_path / "catalogue"))
    form = folder / "forms" / "01.toml"
    rule = '{ rule = "HO_NGHEO + HO_CAN_NGHEO <= HO_TONG", '
    form.write_text(form.read_text(encoding="utf-8").replace(rule, rule + 'severity = "cảnh báo", '), encoding="utf-8")
    catalogue = load_catalogue(folder)
    values = sample_values(catalogue)[UNIT]
    values[Ref("01", "HO_CAN_NGHEO")] = values[Ref("01", "HO_TONG")] - values[Ref("01", "HO_NGHEO")] + 1
    path = write_unit_workbook(tmp_path / "x.xlsx", catalogue, catalogue.unit(UNIT),
                               Filling({"MA_DON_VI": UNIT, "KY_BAO_CAO": "2023"}, values))
    result = check_file(catalogue, path, "2023")
    [broken] = [f for f in result.findings if f.code == RULE.code]
    assert broken.severity == "cảnh báo" and "Tổng số hộ nghèo và hộ cận nghèo" in broken.message
    assert result.accepted
