"""Shared fixtures: the project's catalogue, the shipped sample, LibreOffice conversion."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from pipeline.catalogue import default_catalogue

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DIR = ROOT / "data" / "sample" / "2023"
SOFFICE = shutil.which("soffice")
needs_libreoffice = pytest.mark.skipif(SOFFICE is None, reason="LibreOffice (soffice) not installed")


@pytest.fixture(scope="session")
def catalogue():
    return default_catalogue()


@pytest.fixture(scope="session")
def sample_files() -> list[Path]:
    return sorted(SAMPLE_DIR.glob("*.xlsx"))


def libreoffice_convert(source: Path, out_dir: Path, target: str, profile: Path) -> Path:
    """Convert with headless LibreOffice (its own profile folder); return the new file."""
    out_dir.mkdir(parents=True, exist_ok=True)
    completed = subprocess.run(
        [SOFFICE, f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", target,
         "--outdir", str(out_dir), str(source)],
        capture_output=True, text=True, timeout=180,
    )
    result = out_dir / (source.stem + "." + target.split(":")[0])
    assert completed.returncode == 0 and result.exists(), completed.stderr
    return result
