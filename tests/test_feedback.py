"""The feedback workbook as a printable document: the summary first with every finding's
sheet, cell and message (and the value a rule computes), then only the sheets with findings,
a wide grid over two pages across with its row labels repeated; ``check --feedback`` writes
it and ``check`` says where intake writes it. Rendered by LibreOffice: a few A4 pages."""

from __future__ import annotations

import re
import subprocess
from decimal import Decimal

import openpyxl
import pytest

from pipeline.catalogue import Ref
from pipeline.checking.feedback import SUMMARY_SHEET, write_feedback
from pipeline.checking.validation import check_file
from pipeline.cli import main
from pipeline.office import convert
from pipeline.tools.sample import sample_values
from pipeline.workbook.template import Filling, write_unit_workbook
from tests.conftest import needs_render

UNIT = "03259"


@pytest.fixture(scope="module")
def broken(catalogue, tmp_path_factory):
    """A commune's report with more poor households than households, a disbursement above
    its funds on the 02 grid and a count with a fraction on 08."""
    folder = tmp_path_factory.mktemp("feedback")
    values = sample_values(catalogue)[UNIT]
    values[Ref("01", "HO_TONG")] = Decimal(100)
    values[Ref("02", "DA4.TDA1", "GN_SN")] = Decimal(250000)
    values[Ref("08", "DT_NGHE")] = Decimal("2.5")
    source = write_unit_workbook(folder / f"{UNIT}.xlsx", catalogue, catalogue.unit(UNIT),
                                 Filling({"MA_DON_VI": UNIT, "KY_BAO_CAO": "2023"}, values))
    result = check_file(catalogue, source, "2023")
    return source, result, write_feedback(folder / "phan-hoi.xlsx", catalogue, result, "2023")


def test_only_the_summary_and_the_sheets_with_findings_are_shown(broken):
    _, result, feedback = broken
    workbook = openpyxl.load_workbook(feedback)
    shown = [ws.title for ws in workbook.worksheets if ws.sheet_state == "visible"]
    assert shown == [SUMMARY_SHEET, "01 Chỉ tiêu", "02 Nguồn vốn", "08 DA4.TDA1"]
    assert {f.sheet for f in result.findings} == set(shown[1:])
    grid = workbook["02 Nguồn vốn"]
    assert grid.page_setup.fitToWidth == 2 and grid.page_setup.orientation == "landscape"
    assert grid.print_title_cols == "$A:$C"  # the row labels on every page across
    assert all(int(workbook[name].page_setup.paperSize) == 9 for name in shown)  # A4


def test_the_summary_lists_every_finding_with_its_sheet_cell_and_the_value_to_write(broken):
    _, result, feedback = broken
    rows = [[c.value for c in row] for row in openpyxl.load_workbook(feedback)[SUMMARY_SHEET].iter_rows()]
    listed = [row for row in rows if isinstance(row[0], int)]
    assert len(listed) == len(result.findings)
    assert {(row[2], row[3]) for row in listed} == {(f.sheet, f.cell) for f in result.findings}
    households = next(row[6] for row in listed if row[3] == "E6" and "Số hộ cận nghèo (ô E7)" in row[6])
    assert households.endswith("Nếu các số còn lại đúng: ô E5 ghi ít nhất 532.")


@needs_render
@pytest.mark.slow
def test_it_prints_as_a_few_a4_pages(broken, tmp_path):
    _, _, feedback = broken
    pdf = convert(feedback, tmp_path, "pdf", tmp_path / "profile")
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    assert pages <= 6  # was 17: every template sheet
    sizes = subprocess.run(["pdfinfo", "-f", "1", "-l", str(pages), str(pdf)], capture_output=True, text=True,
                           check=True).stdout
    assert all(size in ("595.304 x 841.89", "841.89 x 595.304")  # A4, either way
               for size in re.findall(r"size:\s+([0-9.]+ x [0-9.]+) pts", sizes))
    first = subprocess.run(["pdftotext", "-f", "1", "-l", "1", str(pdf), "-"], capture_output=True, text=True,
                           check=True).stdout
    assert "KHÔNG ĐƯỢC CHẤP NHẬN" in first and "ghi ít nhất 532" in first


def test_check_writes_the_feedback_and_says_where_intake_will(broken, tmp_path, capsys, monkeypatch):
    source, _, _ = broken
    monkeypatch.setenv("TUANGIAO_DATA_DIR", str(tmp_path / "data"))
    out = tmp_path / "phan-hoi-cua-toi.xlsx"
    assert main(["check", str(source), "--feedback", str(out)]) == 1
    printed = capsys.readouterr().out
    assert f"Đã ghi tệp phản hồi: {out}" in printed
    assert str(tmp_path / "data" / "out" / "2023" / "phan-hoi" / "phan-hoi-03259-2023.xlsx") in printed
    assert openpyxl.load_workbook(out).sheetnames[0] == SUMMARY_SHEET
    assert main(["check", str(source), "--json", "--feedback", str(tmp_path / "b.xlsx")]) == 1
    assert (tmp_path / "b.xlsx").is_file() and capsys.readouterr().out.lstrip().startswith("{")  # JSON alone
