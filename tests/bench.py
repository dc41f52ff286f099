"""``make bench``: timings of reading and checking the shipped sample, printed as one table
and written as JSON under data/out/bench/. Each case runs several rounds; median, min and
max in milliseconds (per workbook for the reading cases)."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import openpyxl
from python_calamine import CalamineWorkbook

import csv
import datetime as dt
import os
import shutil
import tempfile

import pandas as pd

from pipeline.catalogue import CATALOGUE_DIR, default_catalogue, load_catalogue
from pipeline.consolidation import consolidate
from pipeline.intake import Places, take_in_plan, take_in_unit
from pipeline.publication import publish_period
from pipeline.reader import read_identity, read_workbook
from pipeline.validation import check_files
from pipeline.warehouse import connect, ensure_schema

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = sorted((ROOT / "data" / "sample" / "2023").glob("*.xlsx"))
OUT = ROOT / "data" / "out" / "bench"
ROUNDS = 7


def _unzip(path: Path) -> None:
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if name.endswith(".xml"):
                archive.read(name)


def _calamine_all_cells(path: Path) -> None:
    workbook = CalamineWorkbook.from_path(str(path))
    for name in workbook.sheet_names:
        workbook.get_sheet_by_name(name).to_python()
    workbook.close()


def _openpyxl_read_only(path: Path) -> None:
    workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    for sheet in workbook.worksheets:
        for _ in sheet.iter_rows(values_only=True):
            pass
    workbook.close()


def _stats(times: list[float]) -> dict:
    return {"median_ms": statistics.median(times), "min_ms": min(times), "max_ms": max(times)}


def measure(case) -> dict:
    """Per-workbook milliseconds over ROUNDS passes of the whole sample."""
    per_file = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for path in SAMPLE:
            case(path)
        per_file.append((time.perf_counter() - start) * 1000 / len(SAMPLE))
    return _stats(per_file)


def measure_once(action, rounds: int = ROUNDS) -> dict:
    """Milliseconds of one whole action, over several rounds."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return _stats(times)


def _check_command() -> None:
    """`python -m pipeline check FILE`, start-up included."""
    subprocess.run([sys.executable, "-m", "pipeline", "check", str(SAMPLE[1])], cwd=ROOT, check=True,
                   capture_output=True)


def _consolidate_and_publish(catalogue, places: Places) -> None:
    consolidate(catalogue, places.warehouse, "2023")
    publish_period(catalogue, places.warehouse, places.out, "2023")


def _sample_warehouse(folder: Path) -> Places:
    catalogue = default_catalogue()
    places = Places.under(folder, ROOT / "data" / "sample")
    for unit in catalogue.units_in("2023"):
        take_in_unit(catalogue, places, "2023", unit.code, dt.datetime(2023, 8, 10))
    take_in_plan(catalogue, places, "2023", dt.datetime(2023, 8, 10))
    return places


def _synthetic_warehouse(folder: Path, communes: int, agencies: int):
    """A catalogue with ``communes`` + ``agencies`` units and a warehouse where each holds the
    values of a sample commune (or agency): what consolidation and publication cost at that size."""
    catalogue_dir = folder / "catalogue"
    shutil.copytree(CATALOGUE_DIR, catalogue_dir)
    with (catalogue_dir / "units.csv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["ma_don_vi", "ten_don_vi", "kieu", "khu_vuc", "ma_huyen", "ten_huyen", "ma_tinh", "ten_tinh",
                         "valid_from", "valid_to"])
        for n in range(communes):
            writer.writerow([f"{10000 + n}", f"Xã Thử Nghiệm {n + 1}", "xa", "nong_thon", "", "", "", "", "", ""])
        for n in range(agencies):
            writer.writerow([f"A{n:03d}", f"Cơ quan thử nghiệm {n + 1}", "co_quan_huyen", "", "", "", "", "", "", ""])
    catalogue = load_catalogue(catalogue_dir)
    sample = _sample_warehouse(folder / "sample")
    places = Places.under(folder / "big")
    with connect(sample.warehouse) as conn:
        model = conn.execute("""SELECT unit, form, item, "column", value, sheet, cell FROM current_values
                                WHERE unit IN ('03259', '099-LDTBXH', '')""").df()
    rows = []
    for number, unit in enumerate(catalogue.units, start=1):
        source = model[model.unit == ("03259" if unit.is_commune else "099-LDTBXH")]
        rows.append(source.assign(submission_id=number, unit=unit.code))
    plan = model[model.unit == ""].assign(submission_id=len(catalogue.units) + 1)
    values = pd.concat(rows + [plan])
    with connect(places.warehouse) as conn:
        ensure_schema(conn, catalogue)
        conn.executemany(
            "INSERT INTO submissions (submission_id, period, unit, file_name, file_hash, received_at, status, errors,"
            " warnings, is_current) VALUES (?, '2023', ?, ?, ?, ?, 'valid', 0, 0, TRUE)",
            [(n, u.code, f"{u.code}.xlsx", f"hash{n}", dt.datetime(2023, 8, 10)) for n, u in enumerate(catalogue.units, 1)]
            + [(len(catalogue.units) + 1, "", "ke-hoach.xlsx", "plan", dt.datetime(2023, 8, 10))],
        )
        conn.register("synthetic", values)
        conn.execute("""INSERT INTO submission_values SELECT submission_id, '2023', unit, form, item, "column",
                        value, sheet, cell FROM synthetic""")
    return catalogue, places


def _sensor_cases(folder: Path) -> dict:
    """The inbox sensor's look over 10.600 files (hard links of one sample file): the first
    look (every file hashed) and a look at the unchanged inbox (one stat per file)."""
    from pipeline.inbox import watch

    inbox = folder / "inbox"
    (inbox / "2023").mkdir(parents=True)
    source = SAMPLE[1]
    for n in range(10_600):
        os.link(source, inbox / "2023" / f"{n:05d}.xlsx")
    now = time.time() + 3600
    start = time.perf_counter()
    _, cursor = watch(inbox, ["2023"], {}, now)
    first = (time.perf_counter() - start) * 1000
    unchanged = measure_once(lambda: watch(inbox, ["2023"], cursor, now), rounds=5)
    return {"sensor: first look at 10.600 files (ms)": _stats([first]),
            "sensor: unchanged inbox of 10.600 files (ms)": unchanged}


def _run_command(folder: Path) -> None:
    """What `make run` does once the environment is installed: `python -m assets run` on the sample."""
    shutil.rmtree(folder, ignore_errors=True)
    env = {**os.environ, "DAGSTER_HOME": str(folder / "home"), "TUANGIAO_DATA_DIR": str(folder / "data")}
    subprocess.run([sys.executable, "-m", "assets", "run", "--inbox", str(ROOT / "data" / "sample"), "--period",
                    "2023", "--clock", "2023-08-10T17:00:00"], cwd=ROOT, env=env, check=True, capture_output=True)


def _nightly_job(folder: Path) -> None:
    """The nightly job as the daemon launches it: `dagster job execute` (multiprocess executor),
    on a data folder whose inbox holds the sample and whose warehouse is up to date."""
    env = {**os.environ, "DAGSTER_HOME": str(folder / "home"), "TUANGIAO_DATA_DIR": str(folder / "data"),
           "TUANGIAO_INBOX": str(ROOT / "data" / "sample")}
    dagster = Path(sys.executable).with_name("dagster")
    subprocess.run([str(dagster), "job", "execute", "-m", "assets.definitions", "-j", "nightly_job"], cwd=ROOT, env=env,
                   check=True, capture_output=True)


def main() -> None:
    catalogue = default_catalogue()
    cases = {
        "unzip of the XML (floor)": _unzip,
        "python-calamine, all cells": _calamine_all_cells,
        "openpyxl read-only, all cells": _openpyxl_read_only,
        "reader: identity (Thông tin only)": read_identity,
        "reader: whole submission": lambda p: read_workbook(p, catalogue),
    }
    results = {name: measure(case) for name, case in cases.items()}
    results["check: whole sample in one batch (ms per batch)"] = measure_once(lambda: check_files(catalogue, SAMPLE, "2023"))
    results["check: one file, in process (ms)"] = measure_once(lambda: check_files(catalogue, SAMPLE[1:2], "2023"))
    results["check: `python -m pipeline check` (ms, start-up included)"] = measure_once(_check_command, rounds=5)
    with tempfile.TemporaryDirectory() as folder:
        places = _sample_warehouse(Path(folder))
        results["consolidate + publish Biểu 01–15, 2023 sample (ms)"] = measure_once(
            lambda: _consolidate_and_publish(catalogue, places), rounds=5)
        big, big_places = _synthetic_warehouse(Path(folder) / "synthetic", 980, 20)
        results["consolidate + publish Biểu 01–15, 1.000 units (ms)"] = measure_once(
            lambda: _consolidate_and_publish(big, big_places), rounds=3)
        results.update(_sensor_cases(Path(folder) / "sensor"))
        run = Path(folder) / "run"
        results["`make run` on the 2023 sample, environment installed (ms)"] = measure_once(
            lambda: _run_command(run), rounds=3)
        results["nightly job as the daemon runs it, warehouse up to date (ms)"] = measure_once(
            lambda: _nightly_job(run), rounds=3)
    width = max(map(len, results))
    print(f"{len(SAMPLE)} workbooks of the 2023 sample, {ROUNDS} rounds, ms (per workbook unless said)")
    print(f"{'case'.ljust(width)}  median     min     max")
    for name, r in results.items():
        print(f"{name.ljust(width)}  {r['median_ms']:6.2f}  {r['min_ms']:6.2f}  {r['max_ms']:6.2f}")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "reader.json").write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()
