"""LibreOffice and poppler: convert workbooks to PDF (the published set's print-ready copies,
the previews), PDFs to PNG, so a person (or a test) can see a workbook as an office suite
shows it.

LibreOffice runs headless with its own throwaway profile, under a fixed locale (the
environment's ``C.UTF-8``, Vietnamese ``vi-VN`` for number formats: ``1.234,5`` whatever the
machine's language), in a session of its own that is killed whole when it takes too long, so
a hung LibreOffice never holds a publication. It runs under coreutils' ``timeout`` too, which
stops it on time even when the process that started it was killed first."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import UserError

SOFFICE = shutil.which("soffice")
PDFTOPPM = shutil.which("pdftoppm")
WATCHDOG = shutil.which("timeout")  # coreutils: stops LibreOffice on time even if we are killed first
TIMEOUT_SECONDS = 300.0
DISK_LOW = 1024 * 1024  # bytes free below which a failed conversion is put down to a full disk
FIXED_LOCALE = {"LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
NUMBER_LOCALE = "vi-VN"
_PROFILE_SETTINGS = f"""<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema" \
xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Setup/L10N"><prop oor:name="ooSetupSystemLocale" oor:op="fuse">\
<value>{NUMBER_LOCALE}</value></prop></item>
</oor:items>
"""


def whole_pdf(path: Path) -> bool:
    """Whether a PDF was written to its end: its header, and the end-of-file mark in its last
    bytes (a file cut short by a full disk or a kill has no "%%EOF")."""
    try:
        with open(path, "rb") as pdf:
            head = pdf.read(5)
            pdf.seek(max(0, pdf.seek(0, os.SEEK_END) - 1024))
            return head == b"%PDF-" and b"%%EOF" in pdf.read()
    except OSError:
        return False


class OfficeError(UserError):
    """A conversion failed; the message is Vietnamese."""


@dataclass(frozen=True)
class Office:
    """A LibreOffice program (empty: none installed) and how long one start may take."""

    program: str | None = SOFFICE
    seconds: float = TIMEOUT_SECONDS

    def convert(self, source: Path, out_dir: Path, target: str, profile: Path | None = None) -> Path:
        """Convert with headless LibreOffice (``target``: "pdf", "xlsx", …); return the new file."""
        return self.convert_all([source], out_dir, target, profile)[0]

    def convert_all(self, sources: list[Path], out_dir: Path, target: str, profile: Path | None = None) -> list[Path]:
        """Convert several files in one LibreOffice start; return the new files in order."""
        program = shutil.which(self.program) if self.program else None
        if program is None:
            raise OfficeError("Chưa cài LibreOffice (lệnh soffice" + (f" ở {self.program}" if self.program else "")
                              + "): cài gói libreoffice-calc-nogui.")
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="tuangiao-office-") as scratch:
            own = profile or Path(scratch) / "profile"
            settings = own / "user" / "registrymodifications.xcu"
            if not settings.exists():
                settings.parent.mkdir(parents=True, exist_ok=True)
                settings.write_text(_PROFILE_SETTINGS, encoding="utf-8")
            environment = {k: v for k, v in os.environ.items() if k != "LANGUAGE"} | FIXED_LOCALE
            with open(Path(scratch) / "stderr", "w+b") as stderr:
                returncode = self._run(
                    [program, f"-env:UserInstallation={own.resolve().as_uri()}", "--headless", "--norestore",
                     "--convert-to", target, "--outdir", str(out_dir), *map(str, sources)], environment, stderr)
                stderr.seek(0)
                told = stderr.read().decode("utf-8", "replace").strip()[-500:]
        results = [out_dir / (source.stem + "." + target.split(":")[0]) for source in sources]
        failed = [r.name for r in results if not (whole_pdf(r) if r.suffix == ".pdf" else r.exists())]
        if returncode != 0 or failed:
            free = shutil.disk_usage(out_dir).free
            why = f"đĩa đầy (còn trống {free // 1024} KB)" if free < DISK_LOW else told
            raise OfficeError(f"LibreOffice không ghi được {', '.join(failed) or 'tệp'} vào {out_dir}: {why}")
        return results

    def _run(self, command: list[str], environment: dict[str, str], stderr) -> int:
        """Run LibreOffice in a session of its own; past the time limit, kill every process of it.
        Output goes to a file, not a pipe, so a process it leaves behind cannot hold us."""
        if WATCHDOG:  # signals its whole process group: LibreOffice and what LibreOffice started
            command = [WATCHDOG, "--kill-after=5", f"{self.seconds:g}", *command]
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr,
                                   env=environment, start_new_session=True)
        try:
            returncode = process.wait(timeout=self.seconds + 10)
        except subprocess.TimeoutExpired:
            returncode = None
        finally:
            try:
                os.killpg(process.pid, signal.SIGKILL)  # the whole session, also what LibreOffice started
            except (ProcessLookupError, PermissionError):
                pass
            process.wait()
        if returncode is None or (WATCHDOG and returncode in (124, 137)):  # timeout's "timed out", "killed"
            raise OfficeError(f"LibreOffice chưa xong sau {self.seconds:g} giây: đã dừng.")
        return returncode


DEFAULT = Office()
convert, convert_all = DEFAULT.convert, DEFAULT.convert_all


def pdf_to_png(pdf: Path, out_dir: Path, resolution: int = 80) -> list[Path]:
    """Every page of a PDF as PNG files named after it."""
    if PDFTOPPM is None:
        raise OfficeError("Chưa cài pdftoppm: cài gói poppler-utils.")
    out_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run([PDFTOPPM, "-r", str(resolution), "-png", str(pdf), str(out_dir / pdf.stem)],
                   check=True, capture_output=True, timeout=300)
    return sorted(out_dir.glob(f"{pdf.stem}*.png"))
