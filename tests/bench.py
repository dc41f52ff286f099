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

from pipeline.catalogue import default_catalogue
from pipeline.reader import read_identity, read_workbook
from pipeline.validation import check_files

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
    width = max(map(len, results))
    print(f"{len(SAMPLE)} workbooks of the 2023 sample, {ROUNDS} rounds, ms (per workbook unless said)")
    print(f"{'case'.ljust(width)}  median     min     max")
    for name, r in results.items():
        print(f"{name.ljust(width)}  {r['median_ms']:6.2f}  {r['min_ms']:6.2f}  {r['max_ms']:6.2f}")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "reader.json").write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()
