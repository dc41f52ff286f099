"""The national scale, for real but smaller: a synthetic inbox of 102 communes over the 34
provinces of the country after 2025 (pipeline/tools/national.py), taken in by province through
``python -m assets run`` (the same Definitions, configured by TUANGIAO_UNITS / TUANGIAO_BATCH),
consolidated and published. The benchmark runs the full 3.321, and 10.600 as a stress case.
The register's shape (34 provinces, no district level) is checked without a run."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections import Counter
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pytest
from python_calamine import CalamineWorkbook

from pipeline.catalogue import default_catalogue
from pipeline.tools import national
from pipeline.workbook.reader import read_workbook

ROOT = Path(__file__).resolve().parent.parent
# Three communes a province on average, at least one in each (Lai Châu, the smallest, has 38 of 3.321:
# 1,2 of 102); six of them with an error. The time is the 34 provinces' runs, not the communes.
COMMUNES, BAD_EVERY = 102, 17


def test_the_country_after_2025_is_34_provinces_of_3321_communes_without_districts(tmp_path):
    register = national.national_communes()
    assert len(register) == national.COMMUNES == 3321
    per_province = Counter((c.province_code, c.province_name) for c in register)
    assert len(per_province) == len(national.PROVINCES) == 34
    assert per_province[("79", "Thành phố Hồ Chí Minh")] == 168 and per_province[("46", "Thành phố Huế")] == 40
    codes = [c.code for c in register]
    assert len(set(codes)) == len(codes) and min(codes) > "32248"  # synthetic: past every real commune code
    assert {c.bad for c in register[996:997]} == {True} and sum(c.bad for c in register) == 3
    # the stress case: the 10.600 communes of before 2025 over the same provinces, in proportion
    stress = Counter(c.province_code for c in national.national_communes(national.STRESS_COMMUNES))
    assert sum(stress.values()) == 10_600 and len(stress) == 34
    assert stress["79"] == round(10_600 * 168 / 3321)
    # the register the catalogue loads: communes report to their province, no district
    national.write_register(tmp_path / national.REGISTER, register[:50])
    with (tmp_path / national.REGISTER).open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert {(r["ma_huyen"], r["ten_huyen"]) for r in rows} == {("", "")}
    units = default_catalogue(tmp_path / national.REGISTER).units
    assert [u.code for u in units] == codes[:50] and {u.province_name for u in units} == {"Thành phố Hà Nội"}


@pytest.fixture(scope="module")
def national_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("national")
    register = national.generate(folder, COMMUNES, BAD_EVERY, progress=lambda _: None)
    env = {**os.environ, "DAGSTER_HOME": str(folder / "home"), "TUANGIAO_DATA_DIR": str(folder / "data")}
    run = subprocess.run(
        [sys.executable, "-m", "assets", "run", "--inbox", str(folder / "inbox"), "--units",
         str(folder / national.REGISTER), "--batch", "province", "--workers", "2", "--period", "2023",
         "--clock", "2023-08-10T17:00:00"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return folder, register, run.stdout


@pytest.mark.slow
def test_every_province_is_one_run_with_progress(national_run):
    _, register, output = national_run
    progress = [line for line in output.splitlines() if line.startswith("[")]
    assert len(progress) == len(national.PROVINCES) == 34
    assert progress[-1].startswith("[34/34] Kỳ 2023 · Tỉnh Cà Mau:")
    bad = [c for c in register if c.bad]
    assert len(bad) == COMMUNES // BAD_EVERY
    for commune in bad:  # the unit with the error is named under its province's line
        assert f"Không hợp lệ: {commune.code} – {commune.name}" in output


@pytest.mark.slow
def test_national_totals_are_the_sum_of_every_valid_commune(national_run):
    folder, register, _ = national_run
    catalogue = default_catalogue()
    copies = Counter(c.source for c in register if not c.bad)
    disbursed = Decimal(0)
    for source, count in copies.items():
        values = read_workbook(source, catalogue).values
        disbursed += count * sum(v for ref, v in values.items() if ref.form == "02" and ref.column in ("GN_DT", "GN_SN")
                                 and v is not None)
    workbook = CalamineWorkbook.from_path(str(folder / "data" / "out" / "2023" / "Bieu_02_2023.xlsx"))
    rows = workbook.get_sheet_by_name("Biểu 02").to_python()
    total = next(row for row in rows if row[1] == "TỔNG CỘNG")
    assert Decimal(str(total[13])).quantize(Decimal("0.01")) == disbursed.quantize(Decimal("0.01"))
    # Biểu 03: a row per province, then the total
    rows = CalamineWorkbook.from_path(str(folder / "data" / "out" / "2023" / "Bieu_03_2023.xlsx")) \
        .get_sheet_by_name("Biểu 03").to_python()
    labels = [row[1] for row in rows]
    assert labels.count("Thành phố Hà Nội") == 1 and labels.count("Tỉnh Cà Mau") == 1
    assert not any(str(label).startswith("Xã mẫu") for label in labels)


@pytest.mark.slow
def test_every_units_result_is_in_the_status_table_and_the_ui(national_run, monkeypatch):
    folder, register, _ = national_run
    status = json.loads((folder / "data" / "out" / "status.json").read_text(encoding="utf-8"))
    units = {u["code"]: u for p in status["periods"] if p["key"] == "2023" for u in p["units"]}
    assert len(units) == COMMUNES
    assert {code for code, u in units.items() if u["state"] != "hop_le"} == {c.code for c in register if c.bad}
    # the failed check of a province's partition names its bad unit and the cell
    monkeypatch.setenv("DAGSTER_HOME", str(folder / "home"))
    instance = dg.DagsterInstance.get()
    records = instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(dg.AssetKey("unit_submission"), "valid_submission"), limit=1000)
    assert {r.partition for r in records} == {f"2023|{code}" for code, _, _ in national.PROVINCES}
    evaluations = [r.event.dagster_event.event_specific_data for r in records]
    failed = [e for e in evaluations if not e.passed]
    assert len(failed) == len({c.province_code for c in register if c.bad})
    rows = [(r.data["Đơn vị"], r.data["Mức độ"], r.data["Sheet"], r.data["Ô"])
            for e in failed for r in e.metadata["Phát hiện"].records]  # a table: a row per finding
    for commune in (c for c in register if c.bad):
        assert (commune.code, "lỗi", "02 Nguồn vốn", national.BAD_CELL) in rows
