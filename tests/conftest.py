"""Shared fixtures: the project's catalogue, the shipped sample, LibreOffice conversion."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.catalogue import default_catalogue
from pipeline.office import SOFFICE, convert

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DIR = ROOT / "data" / "sample" / "2023"
needs_libreoffice = pytest.mark.skipif(SOFFICE is None, reason="LibreOffice (soffice) not installed")


@pytest.fixture(scope="session")
def catalogue():
    return default_catalogue()


@pytest.fixture(scope="session")
def sample_files() -> list[Path]:
    return sorted(SAMPLE_DIR.glob("*.xlsx"))


def libreoffice_convert(source: Path, out_dir: Path, target: str, profile: Path) -> Path:
    """Convert with headless LibreOffice (its own profile folder); return the new file."""
    return convert(source, out_dir, target, profile)
