"""Deadline day under the daemon (issue 29): ``python -m assets dev`` (what ``make dev`` runs) on
an empty data folder and instance; a burst of files moved into the inbox at once; the seconds
until the page's intake status (``tiep-nhan.json``) shows every unit valid, and until
``status.json`` does too beside Biểu 01 (the set published); then one unit's file replaced by a
corrected copy, and the seconds until the page shows its second version and Biểu 01 is
written again.

``python -m pipeline.tools.burst`` measures the 24 files of the 2023 sample, and with
``--communes 45`` a synthetic province (``pipeline.tools.national``) instead. ``make bench``
runs both (``pipeline.tools.bench``). Everything is read from the files the page serves: this
module never imports Dagster.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import openpyxl

from pipeline.settings import PROJECT_ROOT
from pipeline.tools import national
from pipeline.tools.postgres import home_for, throwaway_server

SAMPLE = PROJECT_ROOT / "data" / "sample" / "2023"
PERIOD = "2023"
TIMEOUT_SECONDS = 900
POLL_SECONDS = 0.25


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _states(path: Path) -> dict[str, dict]:
    """The units of a status file by code ({} while it is not there or half-read)."""
    try:
        return {u["code"]: u for u in json.loads(path.read_text(encoding="utf-8"))["units"]}
    except (OSError, ValueError, KeyError):
        return {}


def _wait(condition, start: float, what: str) -> float:
    while time.monotonic() - start < TIMEOUT_SECONDS:
        if condition():
            return time.monotonic() - start
        time.sleep(POLL_SECONDS)
    raise SystemExit(f"{what}: not reached in {TIMEOUT_SECONDS} s")


def measure(files: list[Path], folder: Path, units_file: Path | None = None, sensor_seconds: int | None = None,
            postgres: bool = False, log=print) -> dict[str, float]:
    """Seconds from the drop of ``files`` to the page's intake status with every unit valid
    ("page"), to ``status.json`` so and Biểu 01 written after that ("set"); then from one
    corrected file to its second version on the page ("correction") and Biểu 01 written again
    ("correction_set"). ``postgres``: on a throwaway PostgreSQL server's instance storage
    (deploy/dagster-postgres.yaml)."""
    shutil.rmtree(folder, ignore_errors=True)
    with contextlib.ExitStack() as stack:
        extra = home_for(stack.enter_context(throwaway_server()), folder / "home") if postgres else {}
        return _measure(files, folder, units_file, sensor_seconds, extra, log)


def _measure(files: list[Path], folder: Path, units_file: Path | None, sensor_seconds: int | None,
             extra: dict[str, str], log) -> dict[str, float]:
    data, staging = folder / "data", folder / "staging"
    staging.mkdir(parents=True)
    for path in files:
        shutil.copy(path, staging / path.name)
    ui, page = _free_port(), _free_port()
    env = {**os.environ, "DAGSTER_HOME": str(folder / "home"), "TUANGIAO_DATA_DIR": str(data), "TUANGIAO_PDF": "0",
           "TUANGIAO_DOWNLOAD_URL": f"http://127.0.0.1:{page}", **extra}
    if units_file is not None:
        env["TUANGIAO_UNITS"] = str(units_file)
    if sensor_seconds is not None:
        env["TUANGIAO_SENSOR_SECONDS"] = str(sensor_seconds)
    with (folder / "dev.txt").open("w") as output:
        dev = subprocess.Popen([sys.executable, "-m", "assets", "dev", "--port", str(ui), "--page-port", str(page)],
                               cwd=PROJECT_ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
                               start_new_session=True)
    try:
        start = time.monotonic()
        _wait(lambda: _answers(f"http://127.0.0.1:{ui}/server_info"), start, "the Dagster UI")
        time.sleep(5)  # the daemon's first ticks (on an empty inbox)
        log(f"    make dev up after {time.monotonic() - start:.0f} s")
        inbox, out = data / "inbox" / PERIOD, data / "out" / PERIOD
        inbox.mkdir(parents=True, exist_ok=True)
        units = [p for p in files if not p.name.startswith("ke-hoach")]
        drop = time.monotonic()
        for path in sorted(staging.iterdir()):
            os.replace(path, inbox / path.name)  # each file appears whole
        bieu = out / f"Bieu_01_{PERIOD}.xlsx"
        page_seconds = _wait(lambda: _all_valid(out / "tiep-nhan.json", len(units)), drop, "page")
        valid_at = time.time()
        set_seconds = _wait(lambda: _all_valid(out / "status.json", len(units)) and _written_since(bieu, valid_at),
                            drop, "status.json and Biểu 01")
        log(f"    burst of {len(files)} files: page {page_seconds:.1f} s, status.json and Biểu 01 {set_seconds:.1f} s")
        time.sleep(5)  # the run's last step, so that stopping make dev does not interrupt it
        corrected = inbox / units[0].name
        code = next(code for code, u in _states(out / "status.json").items() if u["file_name"] == corrected.name)
        workbook = openpyxl.load_workbook(corrected)  # the same figures saved again: new bytes, a new version
        workbook.save(folder / corrected.name)
        drop = time.monotonic()
        os.replace(folder / corrected.name, corrected)
        correction = _wait(lambda: _states(out / "tiep-nhan.json").get(code, {}).get("versions") == 2, drop, "correction")
        valid_at = time.time()
        republished = _wait(lambda: _written_since(bieu, valid_at), drop, "correction's Biểu 01")
        log(f"    one corrected file: page {correction:.1f} s, Biểu 01 {republished:.1f} s")
        time.sleep(5)
        return {"page": page_seconds, "set": set_seconds, "correction": correction, "correction_set": republished}
    finally:
        os.killpg(dev.pid, signal.SIGINT)  # make dev stops its processes on Ctrl-C
        try:
            dev.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(dev.pid, signal.SIGKILL)
            dev.wait()


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=2).close()
    except OSError:
        return False
    return True


def _written_since(path: Path, moment: float) -> bool:
    try:
        return path.stat().st_mtime >= moment
    except OSError:
        return False


def _all_valid(path: Path, count: int) -> bool:
    states = _states(path)
    return len(states) >= count and sum(u["state"] == "hop_le" for u in states.values()) == count


def province(folder: Path, communes: int) -> tuple[list[Path], Path]:
    """A synthetic province's inbox files and unit list (none of its communes in error)."""
    national.generate(folder, communes, max(1, communes // 15), bad_every=10 ** 9, progress=lambda _: None)
    return sorted((folder / "inbox" / national.PERIOD).glob("*.xlsx")), folder / national.REGISTER


def cases(folder: Path, log=print) -> dict[str, float]:
    """The bench's burst cases, in seconds: the sample, and a province of 45 communes."""
    results = {}
    sample = measure(sorted(SAMPLE.glob("*.xlsx")), folder / "sample", log=log)
    files, units = province(folder / "province-inbox", 45)
    synthetic = measure(files, folder / "province", units, log=log)
    for name, figures in (("24 sample files", sample), ("45 communes", synthetic)):
        results[f"make dev, {name} at once → page valid"] = figures["page"]
        results[f"make dev, {name} at once → status.json and Biểu 01"] = figures["set"]
        results[f"make dev, {name}: one corrected file → page"] = figures["correction"]
        results[f"make dev, {name}: one corrected file → Biểu 01"] = figures["correction_set"]
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pipeline.tools.burst")
    parser.add_argument("--communes", type=int, default=0, help="a synthetic province of this many communes")
    parser.add_argument("--sensor-seconds", type=int, default=None, help="the sensors' interval (default: the settings')")
    parser.add_argument("--postgres", action="store_true", help="on a throwaway PostgreSQL server's instance storage")
    parser.add_argument("--keep", help="keep the data folder and instance here (default: a temporary folder)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(args.keep or temporary)
        if args.communes:
            files, units = province(folder / "province-inbox", args.communes)
        else:
            files, units = sorted(SAMPLE.glob("*.xlsx")), None
        print(json.dumps(measure(files, folder / "burst", units, args.sensor_seconds, args.postgres)))


if __name__ == "__main__":
    main()
