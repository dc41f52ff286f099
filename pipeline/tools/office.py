"""LibreOffice and poppler from the command line: convert workbooks to PDF, PDFs to PNG, so a
person (or a test) can see a workbook as an office suite shows it."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from pipeline.errors import UserError

SOFFICE = shutil.which("soffice")
PDFTOPPM = shutil.which("pdftoppm")


class OfficeError(UserError):
    """A conversion failed; the message is Vietnamese."""


def convert(source: Path, out_dir: Path, target: str, profile: Path | None = None) -> Path:
    """Convert with headless LibreOffice (``target``: "pdf", "xlsx", …); return the new file."""
    return convert_all([source], out_dir, target, profile)[0]


def convert_all(sources: list[Path], out_dir: Path, target: str, profile: Path | None = None) -> list[Path]:
    """Convert several files in one LibreOffice start; return the new files in order."""
    if SOFFICE is None:
        raise OfficeError("Chưa cài LibreOffice (lệnh soffice): cài gói libreoffice-calc-nogui.")
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as own_profile:
        completed = subprocess.run(
            [SOFFICE, f"-env:UserInstallation={(profile or Path(own_profile)).resolve().as_uri()}", "--headless",
             "--convert-to", target, "--outdir", str(out_dir), *map(str, sources)],
            capture_output=True, text=True, timeout=600,
        )
    results = [out_dir / (source.stem + "." + target.split(":")[0]) for source in sources]
    failed = [r.name for r in results if not r.exists()]
    if completed.returncode != 0 or failed:
        raise OfficeError(f"LibreOffice không chuyển được {', '.join(failed) or 'tệp'}: {completed.stderr.strip()[-500:]}")
    return results


def pdf_to_png(pdf: Path, out_dir: Path, resolution: int = 80) -> list[Path]:
    """Every page of a PDF as PNG files named after it."""
    if PDFTOPPM is None:
        raise OfficeError("Chưa cài pdftoppm: cài gói poppler-utils.")
    out_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run([PDFTOPPM, "-r", str(resolution), "-png", str(pdf), str(out_dir / pdf.stem)],
                   check=True, capture_output=True, timeout=300)
    return sorted(out_dir.glob(f"{pdf.stem}*.png"))
