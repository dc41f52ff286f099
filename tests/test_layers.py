"""The layers of pyproject.toml's import-linter contracts hold, and an upward import breaks them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(project: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=project, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(project)}, timeout=120)


def copy_of_project(tmp_path: Path) -> Path:
    for name in ("pipeline", "assets"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_project_keeps_its_layers():
    done = lint_imports(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def _add_import(path: Path, line: str) -> None:
    text = path.read_text(encoding="utf-8")
    head, _, rest = text.partition("from __future__ import annotations\n")
    path.write_text(f"{head}from __future__ import annotations\n{line}\n{rest}", encoding="utf-8")


def test_an_upward_import_breaks_the_layers(tmp_path):
    project = copy_of_project(tmp_path)
    _add_import(project / "pipeline" / "catalogue" / "model.py", "import pipeline.publication.tables  # noqa")
    done = lint_imports(project)
    assert done.returncode != 0
    assert "pipeline.catalogue.model -> pipeline.publication.tables" in done.stdout


def test_dagster_in_the_core_breaks_the_contract(tmp_path):
    project = copy_of_project(tmp_path)
    _add_import(project / "pipeline" / "text.py", "import dagster  # noqa")
    done = lint_imports(project)
    assert done.returncode != 0
    assert "pipeline/ never imports Dagster BROKEN" in done.stdout
