"""Kill at every failpoint, then recover without a hand step.

Every ``failpoint("…")`` in pipeline/ and assets/ is found in the sources. For each, a real
``python -m assets run`` (or, for a point that run never reaches, the other command that
does: close-period, rebuild) is started on a copy of a published state with one more unit in
the inbox, armed to die there by SIGKILL. Then: the period's folder holds the whole old set
or the whole new set, never a mix; the next run completes by itself (no stuck pool slot);
the warehouse opens with whole batches; and the folder is the whole new set, the clean run's
bytes, with no temporary file left."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.conftest import CLOSING, ROOT, SAMPLE_DIR, SOFFICE, made_once
from tests.test_intake_safety import CLOSING_POINTS, INTAKE_POINTS, REBUILD_POINTS, REOPENING_POINTS
from tests.test_review import REVIEW_POINTS

UNITS = ["03253", "03259", "03260"]  # published before the kill
ARRIVING = "03262"  # arrives before the killed run: its set is the new one
PERIOD = "2023"
CLOCK = "2023-08-10T17:00:00"
OTHER_COMMANDS = [["close-period", PERIOD, *CLOSING], ["rebuild"]]  # python -m pipeline …, for points `run` never reaches
TIMEOUT = 300
PDF_POINTS = ["publish.after_pdf"]  # reached only when the set's PDFs are rendered


def failpoint_names() -> list[str]:
    pattern = re.compile(r"""\bfailpoint\(\s*["']([\w.]+)["']\s*\)""")
    names = set()
    for folder in ("pipeline", "assets"):
        for path in (ROOT / folder).rglob("*.py"):
            names |= set(pattern.findall(path.read_text(encoding="utf-8")))
    return sorted(names)


def _env(place: Path, failpoint: str = "") -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUANGIAO_")}
    env.update(DAGSTER_HOME=str(place / "home"), TUANGIAO_DATA_DIR=str(place / "data"), TUANGIAO_CLOCK=CLOCK,
               TUANGIAO_INBOX=str(place / "inbox"), TUANGIAO_UNITS=str(place / "units.csv"),
               TUANGIAO_BATCH="district", PYTHONPATH=str(ROOT),  # one intake run for the four units
               TUANGIAO_PDF="1" if failpoint in PDF_POINTS else "0")  # PDFs only where a point needs them
    if failpoint:
        env["TUANGIAO_FAILPOINT"] = failpoint
    return env


def _run(place: Path, failpoint: str = "", command: list[str] | None = None) -> subprocess.CompletedProcess:
    args = ["-m", "pipeline", *command] if command else ["-m", "assets", "run", "--period", PERIOD]
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=_env(place, failpoint), capture_output=True,
                          text=True, timeout=TIMEOUT)


def _ok(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, (result.stdout[-1500:], result.stderr[-3000:])
    assert "Traceback" not in result.stderr, result.stderr[-3000:]


def _arrive(place: Path, code: str) -> None:
    source = next(SAMPLE_DIR.glob(f"{code}-*.xlsx"))
    target = place / "inbox" / PERIOD / source.name
    shutil.copy(source, target)
    os.utime(target, (1_700_000_000, 1_700_000_000))


def _published(place: Path) -> dict[str, bytes]:
    """The period's set as people see it: every lasting name, followed through its link."""
    folder = place / "data" / "out" / PERIOD
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())
            if p.is_file() and p.suffix in (".xlsx", ".zip", ".docx")}


def _valid_in_set_status(place: Path) -> int:
    document = json.loads((place / "data" / "out" / PERIOD / "status.json").read_text(encoding="utf-8"))
    return sum(u["state"] == "hop_le" for u in document["units"])


def _leftovers(place: Path) -> list[Path]:
    out = place / "data" / "out"
    sets = out / PERIOD / ".bo-bieu"
    in_use = {".lock", "hien-hanh", os.readlink(sets / "hien-hanh")} if (sets / "hien-hanh").is_symlink() else set()
    temporary = [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    # the set in use and at most the one before it (kept for a download under way)
    return temporary + sorted(p for p in sets.iterdir() if p.name not in in_use)[1:]


@pytest.fixture(scope="module")
def states(tmp_path_factory):
    """The published state of three units (``old``) and, from a copy of it with a fourth unit
    arrived, the clean run's set (``new``). Made once for the run: the xdist workers share it
    (each test copies ``old`` to a place of its own)."""
    with made_once(tmp_path_factory, "crash-states") as (folder, first):
        old, new = folder / "old", folder / "new"
        if first:
            (old / "inbox" / PERIOD).mkdir(parents=True)
            lines = (ROOT / "pipeline" / "catalogue" / "units.csv").read_text(encoding="utf-8").splitlines()
            (old / "units.csv").write_text(
                "\n".join([lines[0]] + [l for l in lines if l.split(",")[0] in UNITS + [ARRIVING]]), encoding="utf-8")
            for code in UNITS + ["ke-hoach-huyen"]:
                _arrive(old, code)
            _ok(_run(old))
            shutil.copytree(old, new, symlinks=True)
            _arrive(new, ARRIVING)
            _ok(_run(new))
    old_set, new_set = _published(old), _published(new)
    assert len(old_set) == len(new_set) == 19 and old_set != new_set  # 15 Biểu, all-in-one, sources annex, zip, draft
    return old, old_set, new_set


# Points of intake, archive, rebuild and closing are killed by tests/test_intake_safety.py (a review's by
# tests/test_review.py), closer to their step (a run of this harness costs about 15 s); every other point is
# killed here.
ELSEWHERE = INTAKE_POINTS + REBUILD_POINTS + CLOSING_POINTS + REOPENING_POINTS + REVIEW_POINTS
HERE = [name for name in failpoint_names() if name not in ELSEWHERE]


def test_every_failpoint_is_killed_by_a_test():
    assert set(failpoint_names()) == set(HERE) | set(ELSEWHERE), "a failpoint in the sources that no test kills"
    assert {"runner.after_batch", "publish.after_workbook", "publish.after_switch", "status.after_write"} <= set(HERE)


@pytest.mark.slow
@pytest.mark.parametrize("name", HERE)
def test_kill_at_failpoint_then_recover(name, states, tmp_path):
    if name in PDF_POINTS and SOFFICE is None:
        pytest.skip("LibreOffice (soffice) not installed: no PDFs are rendered")
    old, old_set, new_set = states
    place = tmp_path / "place"
    shutil.copytree(old, place, symlinks=True)
    _arrive(place, ARRIVING)

    killed = _run(place, name)
    command = None
    if killed.returncode != -signal.SIGKILL:  # not reached by `assets run`: which command reaches it?
        _ok(killed)
        for command in OTHER_COMMANDS:
            killed = _run(place, name, command)
            if killed.returncode == -signal.SIGKILL:
                break
        else:
            pytest.fail(f"failpoint {name} is reached by no run: neither assets run nor {OTHER_COMMANDS}")
    assert _published(place) in (old_set, new_set), "a mixed set after the kill"
    assert _valid_in_set_status(place) == (3 if _published(place) == old_set else 4), "status of another set"

    if command:
        _ok(_run(place, command=command))  # the interrupted command, again, by itself
    recovered = _run(place)
    _ok(recovered)
    with duckdb.connect(str(place / "data" / "warehouse.duckdb"), read_only=True) as conn:
        current = conn.execute("SELECT unit, COUNT(*) FROM submissions WHERE is_current GROUP BY unit").fetchall()
    assert all(n == 1 for _, n in current) and set(UNITS + [ARRIVING]) <= {unit for unit, _ in current}
    closed = command is not None and command[0] == "close-period"
    if closed:  # the final set is whole (the working set was published before the close)
        final = place / "data" / "out" / PERIOD / "chinh-thuc"
        record = json.loads((final / "khoa-so.json").read_text(encoding="utf-8"))
        assert sorted(record["files"]) == sorted(new_set)
    assert _published(place) == new_set and _valid_in_set_status(place) == 4
    assert _leftovers(place) == []
