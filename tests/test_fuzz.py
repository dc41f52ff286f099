"""The seeded mutation fuzzer (pipeline/tools/fuzz.py) over valid submissions: a few hundred
cases here (``make fuzz`` runs thousands); each ends in a verdict, never an exception, and an
unreadable file's reason names it. A sample goes through the command line too: exit 0, 1 or
2, a Vietnamese line naming the file, no traceback."""

from __future__ import annotations

import subprocess
import sys

from pipeline.tools.fuzz import cases, problems
from tests.conftest import ROOT

SEED = 20230810


def test_mutated_submissions_never_crash_the_checker(tmp_path):
    paths = list(cases(SEED, 300, tmp_path))
    assert problems(paths) == []


def test_mutated_submissions_through_the_command_line(tmp_path):
    for path in list(cases(SEED + 1, 12, tmp_path)):
        completed = subprocess.run([sys.executable, "-m", "pipeline", "check", str(path)], cwd=ROOT,
                                   capture_output=True, text=True, timeout=120)
        assert completed.returncode in (0, 1, 2), completed.stderr
        assert "Traceback" not in completed.stdout + completed.stderr
        assert f"Tệp {path.name}:" in completed.stdout
