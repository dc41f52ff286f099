"""The inbox: which submission files wait in ``<inbox>/<period>/`` and whose they are.

Identity (unit, period, kind of file) is read from each workbook's Thông tin sheet; the
file name is never trusted. A file whose identity cannot be read is kept with its error.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.reader import Identity, UnreadableWorkbook, read_identity
from pipeline.template import PLAN_FILE

WORKBOOK_SUFFIXES = (".xlsx",)


@dataclass(frozen=True)
class InboxFile:
    path: Path
    mtime: float
    identity: Identity | None
    error: str | None = None


def period_dir(inbox: Path, period: str) -> Path:
    return Path(inbox) / period


def scan_inbox(inbox: Path, period: str) -> list[InboxFile]:
    """Every file of the period's inbox folder, oldest first, with its identity or error."""
    folder = period_dir(inbox, period)
    if not folder.is_dir():
        return []
    files = []
    for path in sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith((".", "~$"))):
        mtime = path.stat().st_mtime
        try:
            files.append(InboxFile(path, mtime, read_identity(path)))
        except UnreadableWorkbook as e:
            files.append(InboxFile(path, mtime, None, str(e)))
    return sorted(files, key=lambda f: (f.mtime, f.path.name))


def unit_files(files: list[InboxFile], unit: str) -> list[InboxFile]:
    """The unit's submission files, oldest first (the last one is the latest received)."""
    return [f for f in files if f.identity and f.identity.file_kind != PLAN_FILE and f.identity.unit_code == unit]
