"""The registry of finding kinds: each code declared once with its severity, Vietnamese
title and message template; the README's table of codes is the registry's. The report of
findings that the command line, the page, Dagster and the feedback workbook render from."""

from __future__ import annotations

import json
import os
import re
import string
import unicodedata

import openpyxl

from pipeline.checking.feedback import SUMMARY_SHEET, write_feedback
from pipeline.checking.findings import REGISTRY, codes_table, finding
from pipeline.checking.validation import check_file
from pipeline.cli import main
from pipeline.text import Severity
from pipeline.web.unit import findings_table
from tests.conftest import ROOT

MIXED = ROOT / "tests" / "corpus" / "bad" / "khong-phai-so.xlsx"


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_each_code_is_declared_once_with_a_vietnamese_title():
    codes = [kind.code for kind in REGISTRY]
    assert len(codes) == len(set(codes))
    for kind in REGISTRY:
        assert kind.code.isascii() and kind.code == kind.code.lower(), kind.code
        assert kind.severity in tuple(Severity), kind.code
        assert kind.title and unicodedata.normalize("NFC", kind.title) == kind.title, kind.code
        for template in (kind.template, *dict(kind.variants).values()):
            assert unicodedata.normalize("NFC", template) == template, kind.code


def test_every_template_is_filled_from_named_values():
    for kind in REGISTRY:
        for variant, template in (("", kind.template), *kind.variants):
            values = {name: f"<{name}>" for name in _placeholders(template)}
            made = finding(kind, variant, **values)
            assert (made.code, made.severity) == (kind.code, kind.severity)
            assert all(f"<{name}>" in made.message for name in values), (kind.code, variant)
            assert getattr(made, "cell", "") == values.get("cell", "")  # location values are stored too


def test_readme_table_of_codes_is_the_registry():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert codes_table() in readme, "paste pipeline.checking.findings.codes_table() into README.md:\n" + codes_table()


def test_the_four_outputs_render_the_rows_of_one_report(catalogue, tmp_path, capsys):
    result = check_file(catalogue, MIXED, "2023")
    report = result.report
    rows = report.flatten()
    assert report.headers == ["Mức độ", "Sheet", "Ô", "Chỉ tiêu", "Giá trị", "Nội dung"]
    assert ["lỗi", "01 Chỉ tiêu", "E6", "Số hộ nghèo", "mười hai"] == rows[0][:5] and report.errors >= 1
    assert main(["check", str(MIXED), "--period", "2023"]) == 1  # the terminal
    *printed, intake = capsys.readouterr().out.splitlines()
    assert printed == report.lines(MIXED.name) == [
        f"Tệp {MIXED.name}: KHÔNG ĐƯỢC CHẤP NHẬN – {report.errors} lỗi, {report.warnings} cảnh báo.",
        *(f"  {f.line()}" for f in report.findings)]
    assert re.fullmatch(r"Khi nhận tệp này, quy trình ghi tệp phản hồi tại: .+/out/2023/phan-hoi/phan-hoi-03259-2023\.xlsx",
                        intake)  # then where intake writes the feedback
    markdown = report.markdown(limit=200).splitlines()  # Dagster
    assert markdown[0] == "| " + " | ".join(report.headers) + " |"
    assert markdown[2:] == ["| " + " | ".join(row) + " |" for row in rows]
    assert report.markdown(limit=0).splitlines()[-1].endswith(f"còn {len(rows)} phát hiện nữa trong các tệp phản hồi |")
    page = findings_table([f.as_dict() for f in report.findings])  # the page, from an upload record
    assert page.count("<tr") == len(rows) + 1 and "<th>Chỉ tiêu</th><th>Giá trị</th>" in page
    assert '<td data-label="Ô">E6</td><td data-label="Chỉ tiêu">Số hộ nghèo</td><td data-label="Giá trị">mười hai</td>' in page
    sheet = openpyxl.load_workbook(write_feedback(tmp_path / "phan-hoi.xlsx", catalogue, result, "2023"))[SUMMARY_SHEET]
    table = [list(row) for row in sheet.iter_rows(values_only=True) if row[0] is not None]
    header = table.index(["STT", *report.headers, "Xem"])
    assert [[cell or "" for cell in row[1:-1]] for row in table[header + 1:]] == rows


def _readme_keys(section: str, after: str) -> list[str]:
    """The keys (first column, in backticks) of the first table after ``after`` in ``section``."""
    lines = section[section.index(after):].splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith("| key |"))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append(line.split("|")[1])
    return [key for row in rows for key in re.findall(r"`([a-z_]+)`", row)]


def test_check_json_has_the_shape_the_readme_documents(capsys):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### `check`"):readme.index("Finding codes")]
    assert main(["check", str(MIXED), "--json"]) == 1
    answer = json.loads(capsys.readouterr().out)  # standard output holds the JSON alone
    assert list(answer) == _readme_keys(section, "`--json` prints")
    assert answer["findings"] and all(list(f) == _readme_keys(section, "Each finding:") for f in answer["findings"])


def test_check_refuses_a_pipe_or_a_folder_by_name_without_opening_it(tmp_path, capsys):
    """A named pipe is not "not found" and is never opened (opening it would block until a writer
    came); a folder is named as a folder."""
    pipe = tmp_path / "bao-cao.xlsx"
    os.mkfifo(pipe)
    assert main(["check", str(pipe)]) == 2
    said = capsys.readouterr().err
    assert "không phải tệp thông thường" in said and "bao-cao.xlsx" in said
    assert main(["read", str(tmp_path)]) == 2
    assert "là một thư mục" in capsys.readouterr().err
