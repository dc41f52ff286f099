"""``make bench``: the benchmark suite. Prints one table (median, min and max of several
rounds, in milliseconds) and writes it as JSON to data/out/bench/bench.json (bench-quick.json
for ``--quick``).

Cases: reading a workbook beside the unzip floor and other readers; ``check`` of a file,
in process and as a command, beside the import floor (``import pandas, pandera``) and its
ratio to it; consolidation and publication of the sample; ``make run``
and the nightly job as the daemon runs it; and the national case: a synthetic inbox of the
country after 2025, 3.321 communes in 34 provinces (pipeline/tools/national.py, generated once
into data/out/bench/national/3321/), the inbox sensor over it, and ``python -m assets run``
over it by province with its peak memory (the resident memory of the whole process tree,
sampled); ``--stress`` adds the same over 10.600 communes (the country before 2025).
Backups: ``backup``, ``restore`` into a new folder and ``rebuild`` there, as commands, on the
sample's data folder and on a province's (700 communes of the same generator, taken in once).
``--skip-national`` leaves the national case out; ``--national`` runs only it; ``--quick``
runs only the single-file cases (the readers, and ``check`` beside its import floor).

Deadline day under ``make dev`` (``pipeline.tools.burst``): the sample's 24 files and a province's
45 dropped at once, then one corrected file: seconds until the page and Biểu 01 show them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import openpyxl
from python_calamine import CalamineWorkbook

from pipeline.catalogue import default_catalogue
from pipeline.checking.validation import check_files
from pipeline.intake.inbox import SENSOR_READ_SECONDS, watch
from pipeline.intake.take_in import take_in_batch, take_in_plan
from pipeline.publication.consolidation import consolidate
from pipeline.publication.publish import publish_period
from pipeline.settings import PROJECT_ROOT, Places
from pipeline.text import show_number
from pipeline.tools import national
from pipeline.tools import burst  # the deadline-day cases under make dev
from pipeline.workbook.reader import read_identity, read_workbook

SAMPLE = sorted((PROJECT_ROOT / "data" / "sample" / "2023").glob("*.xlsx"))
OUT = PROJECT_ROOT / "data" / "out" / "bench"
NATIONAL = OUT / "national"
ROUNDS = 7
READER_ROUNDS = 31  # a pass of the sample takes a fraction of a second: many rounds steady the median
UNZIP = "unzip of the XML (floor), per workbook"
UNZIP_RATIO = "reader / unzip floor, in turns"
CALAMINE = "python-calamine, all cells, per workbook"
READER = "reader: whole submission, per workbook"
READER_RATIO = "reader / python-calamine, in turns"
CHECK_COMMAND = "check: `python -m pipeline check FILE`, start-up included"
IMPORT_FLOOR = "import floor: `python -c \"import pandas, pandera\"`"
CHECK_RATIO = "check command / import floor (medians)"
CLOCK = "2023-08-10T17:00:00"


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


def _stats(values: list[float], unit: str = "ms") -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "unit": unit}


def per_workbook(cases: dict, rounds: int = ROUNDS) -> dict:
    """Milliseconds per workbook of each case over ``rounds`` passes of the whole sample, the
    cases taken in turns (so a change in the machine's speed touches them alike)."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, case in cases.items():
            start = time.perf_counter()
            for path in SAMPLE:
                case(path)
            times[name].append((time.perf_counter() - start) * 1000 / len(SAMPLE))
    return {name: _stats(values) for name, values in times.items()}


def whole(action, rounds: int = ROUNDS) -> dict:
    """Milliseconds of one whole action, over several rounds."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return _stats(times)


TICKS = os.sysconf("SC_CLK_TCK")


def _tree(root: int) -> dict[tuple[int, int], tuple[float, float]]:
    """A process and all its descendants: (pid, start time) -> (resident MB, processor seconds so far)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = {}, [root]
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            status = Path(f"/proc/{pid}/status").read_text()
        except (OSError, IndexError):
            continue
        rss = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
        found[(pid, int(fields[19]))] = (rss / 1024, (int(fields[11]) + int(fields[12])) / TICKS)
    return found


def run_measured(command: list[str], env: dict, show: bool = False) -> tuple[float, float, float]:
    """Run a command to the end: (milliseconds, peak MB of its process tree, processor seconds of
    its process tree). Both are sampled every 0,2 s, so the processor time is a lower bound (it
    misses each process's last moments): the readers' workers are not the command's children
    (they are its fork server's, which it never waits for), so its own rusage would leave them
    out. Its output is shown as it goes when ``show`` (the progress of long work)."""
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    peak, cpu = [0.0], {}

    def sample() -> None:
        while process.poll() is None:
            tree = _tree(process.pid)
            peak[0] = max(peak[0], sum(rss for rss, _ in tree.values()))
            cpu.update((key, seconds) for key, (_, seconds) in tree.items())
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    lines = []
    for line in process.stdout:
        lines.append(line)
        if show and not line.startswith("bieu_"):
            print("   ", line.rstrip(), flush=True)
    process.wait()
    sampler.join()
    if process.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{''.join(lines[-30:])}")
    return (time.perf_counter() - start) * 1000, peak[0], sum(cpu.values())


def _environment(folder: Path, **settings: str) -> dict:
    shutil.rmtree(folder, ignore_errors=True)
    return {**os.environ, "DAGSTER_HOME": str(folder / "home"), "TUANGIAO_DATA_DIR": str(folder / "data"),
            **settings}


def _run_command(folder: Path) -> float:
    """What `make run` does once the environment is installed, on a new data folder and instance."""
    env = _environment(folder)
    return run_measured([sys.executable, "-m", "assets", "run", "--inbox", str(PROJECT_ROOT / "data" / "sample"),
                         "--period", "2023", "--clock", CLOCK], env)[0]


def _nightly_job(folder: Path) -> float:
    """The nightly job as the daemon launches it (`dagster job execute`), warehouse up to date."""
    env = {**os.environ, "DAGSTER_HOME": str(folder / "home"), "TUANGIAO_DATA_DIR": str(folder / "data"),
           "TUANGIAO_INBOX": str(PROJECT_ROOT / "data" / "sample")}
    dagster = Path(sys.executable).with_name("dagster")
    return run_measured([str(dagster), "job", "execute", "-m", "assets.definitions", "-j", "nightly_job"], env)[0]


def _sample_warehouse(folder: Path) -> Places:
    catalogue = default_catalogue()
    places = Places.under(folder, PROJECT_ROOT / "data" / "sample")
    take_in_batch(catalogue, places, "2023", [u.code for u in catalogue.units_in("2023")], dt.datetime(2023, 8, 10))
    take_in_plan(catalogue, places, "2023", dt.datetime(2023, 8, 10))
    return places


def national_inbox(communes: int) -> Path:
    """The synthetic national inbox of ``communes`` communes, generated on first use (about 4 ms a file)."""
    folder = NATIONAL / str(communes)
    if len(list((folder / "inbox" / national.PERIOD).glob("*.xlsx"))) != communes:
        shutil.rmtree(folder, ignore_errors=True)
        print(f"Tạo hộp thư đến giả lập cả nước, {show_number(communes)} xã (một lần):", flush=True)
        national.generate(folder, communes, progress=lambda line: print("   ", line, flush=True))
    return folder


def national_cases(folder: Path, communes: int, rounds: int = 1) -> dict:
    """The sensor over ``communes`` new files and an unchanged inbox, and the run by province
    (``rounds`` times, each on a new data folder): its time, its processor time (every process
    of the run, the readers included, sampled) and the load average of the machine around it."""
    source = national_inbox(communes)
    inbox, count = source / "inbox", show_number(communes)
    now = time.time() + 3600
    looks, cursor = [], {}
    while len(cursor) < communes:  # every file new at once: read within the sensor's budget per look
        start = time.perf_counter()
        _, cursor = watch(inbox, [national.PERIOD], cursor, now, budget_seconds=SENSOR_READ_SECONDS)
        looks.append((time.perf_counter() - start) * 1000)
    results = {f"sensor: {len(looks)} looks read {count} new files, per look": _stats(looks),
               f"sensor: unchanged inbox of {count} files": whole(lambda: watch(inbox, ["2023"], cursor, now), 5)}
    command = [sys.executable, "-m", "assets", "run", "--inbox", str(inbox), "--units", str(source / national.REGISTER),
               "--batch", "province", "--workers", str(os.cpu_count() or 1), "--period", national.PERIOD, "--clock", CLOCK]
    elapsed, cpu, peaks, loads = [], [], [], []
    for number in range(1, rounds + 1):
        env = _environment(folder / count)
        print(f"Chạy toàn quốc, {count} xã (lượt {number}/{rounds}): python -m assets run --batch province …", flush=True)
        load_before = os.getloadavg()[0]
        milliseconds, peak, seconds = run_measured(command, env, show=True)
        elapsed.append(milliseconds / 1000)
        cpu.append(seconds)
        peaks.append(peak)
        loads += [load_before, os.getloadavg()[0]]
    name = f"national: {count} units in {len(national.PROVINCES)} provinces read, checked, loaded, Biểu 01–15 published"
    results[name] = _stats(elapsed, "s")
    results[f"{name}, processor time (user + system)"] = _stats(cpu, "s")
    results[f"national: {count} units, peak memory of the process tree"] = _stats(peaks, "MB")
    results["national: load average (1 min) before and after each round"] = _stats(loads, "")
    return results


def all_national_cases(folder: Path, stress: bool, rounds: int = 1) -> dict:
    """The country after 2025 (3.321 communes, ``rounds`` times) and, with ``stress``, the 10.600
    of before (once)."""
    results = national_cases(folder, national.COMMUNES, rounds)
    if stress:
        results.update(national_cases(folder, national.STRESS_COMMUNES))
    return results


PROVINCE_COMMUNES = 700  # a province's data folder for the backup case


def _back_up_restore_rebuild(data: Path, folder: Path, env: dict) -> dict[str, float]:
    """``backup``, ``restore`` into a new folder and ``rebuild`` there, each as its command: milliseconds."""
    shutil.rmtree(folder, ignore_errors=True)
    command = [sys.executable, "-m", "pipeline"]
    times = {"backup": run_measured(command + ["backup", str(folder / "sao-luu"), "--data", str(data)], env)[0]}
    made = next((folder / "sao-luu").iterdir())
    times["restore"] = run_measured(command + ["restore", str(made), "--data", str(folder / "khoi-phuc")], env)[0]
    times["rebuild"] = run_measured(command + ["rebuild", "--data", str(folder / "khoi-phuc")], env)[0]
    return times


def backup_cases(sample: Places, folder: Path) -> dict:
    """Backup, restore and rebuild of the sample's data folder (3 rounds) and of a province's (once)."""
    results = {}
    rounds = [_back_up_restore_rebuild(sample.data, folder / "sample", dict(os.environ)) for _ in range(3)]
    for step in rounds[0]:
        results[f"{step}: 2023 sample data folder, command"] = _stats([r[step] for r in rounds])
    province = folder / "province"
    national.generate(province, PROVINCE_COMMUNES, progress=lambda line: None)
    catalogue = default_catalogue(province / national.REGISTER)
    places = Places.under(province / "data", province / "inbox")
    take_in_batch(catalogue, places, national.PERIOD, [u.code for u in catalogue.units_in(national.PERIOD)],
                  dt.datetime(2023, 8, 10), workers=os.cpu_count() or 1)
    env = {**os.environ, "TUANGIAO_UNITS": str(province / national.REGISTER)}
    for step, elapsed in _back_up_restore_rebuild(places.data, folder / "province-copies", env).items():
        results[f"{step}: data folder of {PROVINCE_COMMUNES} communes, command"] = _stats([elapsed])
    return results


def single_file_cases(catalogue) -> dict:
    """The readers per workbook, and the check of one file in process and as a command beside
    its import floor (taken in turns, so a change in the machine's speed touches both alike)."""
    results = per_workbook({"openpyxl read-only, all cells, per workbook": _openpyxl_read_only})
    results.update(per_workbook({
        UNZIP: _unzip,
        CALAMINE: _calamine_all_cells,
        "reader: identity (Thông tin only), per workbook": read_identity,
        READER: lambda p: read_workbook(p, catalogue),
    }, READER_ROUNDS))
    for measure in ("median", "min"):
        results[f"{READER_RATIO} ({measure})"] = _stats([results[READER][measure] / results[CALAMINE][measure]], "×")
        results[f"{UNZIP_RATIO} ({measure})"] = _stats([results[READER][measure] / results[UNZIP][measure]], "×")
    results["check: one file, in process"] = whole(lambda: check_files(catalogue, SAMPLE[1:2], "2023"))
    command = [sys.executable, "-m", "pipeline", "check", str(SAMPLE[1])]
    floor = [sys.executable, "-c", "import pandas, pandera"]
    checks, floors = [], []
    for _ in range(7):
        checks.append(run_measured(command, dict(os.environ))[0])
        floors.append(run_measured(floor, dict(os.environ))[0])
    results[CHECK_COMMAND], results[IMPORT_FLOOR] = _stats(checks), _stats(floors)
    results[CHECK_RATIO] = _stats([results[CHECK_COMMAND]["median"] / results[IMPORT_FLOOR]["median"]], "×")
    return results


def batch_cases(catalogue, skip_national: bool, stress: bool, rounds: int = 1) -> dict:
    """The sample in one batch, consolidation and publication, `make run`, the nightly job and
    the national case."""
    results = {"check: whole sample (24 files) in one batch": whole(lambda: check_files(catalogue, SAMPLE, "2023"))}
    with tempfile.TemporaryDirectory() as folder:
        places = _sample_warehouse(Path(folder) / "sample")
        results["consolidate + publish Biểu 01–15, 2023 sample"] = whole(lambda: (
            consolidate(catalogue, places.warehouse, "2023"),
            publish_period(catalogue, places.warehouse, places.out, "2023")), rounds=5)
        run = Path(folder) / "run"
        results["`make run` on the 2023 sample (environment installed)"] = _stats([_run_command(run) for _ in range(5)])
        results["nightly job as the daemon runs it, warehouse up to date"] = _stats([_nightly_job(run) for _ in range(3)])
        results.update(backup_cases(places, Path(folder) / "backups"))
        # Deadline day under make dev (issue 29): one round each, a few minutes; targets 120, 180 and 60 s
        results.update({name: _stats([seconds], "s") for name, seconds in burst.cases(Path(folder) / "burst").items()})
        if not skip_national:
            results.update(all_national_cases(Path(folder) / "national", stress, rounds))
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pipeline.tools.bench")
    parser.add_argument("--skip-national", action="store_true", help="leave out the national case (about 2 min)")
    parser.add_argument("--national", action="store_true", help="only the national case")
    parser.add_argument("--stress", action="store_true", help="add the national case over 10.600 communes (about 5 min)")
    parser.add_argument("--quick", action="store_true", help="only the readers and the check of one file (about 1 min)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds of the national case (3.321 communes), default 1")
    args = parser.parse_args(argv)
    catalogue = default_catalogue()
    if args.national:
        with tempfile.TemporaryDirectory() as folder:
            results = all_national_cases(Path(folder), args.stress, args.rounds)
    else:
        results = single_file_cases(catalogue)
    if not args.quick and not args.national:
        results.update(batch_cases(catalogue, args.skip_national, args.stress, args.rounds))
    width = max(map(len, results))
    print(f"\n{len(SAMPLE)} workbooks of the 2023 sample; median, min and max of several rounds")
    print(f"{'case'.ljust(width)}     median        min        max")
    for name, r in results.items():
        print(f"{name.ljust(width)}  {r['median']:9.1f}  {r['min']:9.1f}  {r['max']:9.1f}  {r['unit']}")
    OUT.mkdir(parents=True, exist_ok=True)
    name = "bench-quick.json" if args.quick else "bench-national.json" if args.national else "bench.json"
    (OUT / name).write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()
