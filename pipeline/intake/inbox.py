"""The inbox: which submission files wait in ``<inbox>/<period>/`` and whose they are, and
which of them are new since the last look (for the sensor).

Identity (unit, period, kind of file) is read from each workbook's Thông tin sheet; the
file name is never trusted. A file whose identity cannot be read is listed without one;
checking it says why.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from pipeline.files import atomic_output
from pipeline.parallel import parallel_map
from pipeline.workbook.contract import PLAN_FILE
from pipeline.workbook.reader import Identity, UnreadableWorkbook, file_sha256, read_identity

WORKBOOK_SUFFIXES = (".xlsx",)


@dataclass(frozen=True)
class InboxFile:
    path: Path
    mtime: float
    identity: Identity | None  # None: not a workbook whose unit can be read


def period_dir(inbox: Path, period: str) -> Path:
    return Path(inbox) / period


def scan_inbox(inbox: Path, period: str, index: Path | None = None, workers: int = 1) -> list[InboxFile]:
    """Every file of the period's inbox folder, oldest first, with its identity (None if unreadable).

    With an ``index`` file, identities already read are kept there by name, size and
    modification time, so a national inbox of 10.600 files is read once, not once per batch;
    new files are read by ``workers`` processes."""
    folder = period_dir(inbox, period)
    if not folder.is_dir():
        return []
    known = _read_index(index)
    entries, unread = {}, []
    with os.scandir(folder) as listing:
        found = sorted((e for e in listing if e.is_file() and not e.name.startswith((".", "~$"))), key=lambda e: e.name)
    for file in found:
        stat = file.stat()
        shape = [stat.st_size, stat.st_mtime_ns, stat.st_mtime]
        entry = known.get(file.name)
        if not isinstance(entry, list) or entry[:3] != shape:
            entry = shape + [None]
            unread.append(folder / file.name)
        entries[file.name] = entry
    for path, identity in zip(unread, parallel_map(_identity, unread, workers)):
        entries[path.name][3] = identity
    if index is not None and (unread or entries.keys() != known.keys()):
        with atomic_output(index) as temporary:
            temporary.write_text(json.dumps(entries, ensure_ascii=False), encoding="utf-8")
    files = [InboxFile(folder / name, mtime, Identity(**identity) if identity else None)
             for name, (_, _, mtime, identity) in entries.items()]
    return sorted(files, key=lambda f: (f.mtime, f.path.name))


def _identity(path: Path) -> dict | None:
    try:
        return asdict(read_identity(path))
    except UnreadableWorkbook:
        return None


def _read_index(index: Path | None) -> dict:
    try:
        return json.loads(index.read_text(encoding="utf-8")) if index else {}
    except (OSError, ValueError):
        return {}  # missing or damaged: identities are read again


def files_by_unit(files: list[InboxFile]) -> dict[str, list[InboxFile]]:
    """Each unit's submission files, oldest first (the last one is the latest received)."""
    found: dict[str, list[InboxFile]] = {}
    for f in files:
        if f.identity and f.identity.file_kind != PLAN_FILE:
            found.setdefault(f.identity.unit_code, []).append(f)
    return found


@dataclass(frozen=True)
class Arrival:
    """A new or changed file, stable and read: whose it is and its content hash."""

    path: Path
    period: str
    file_hash: str
    identity: Identity | None  # None: not a workbook whose unit can be read


def watch(inbox: Path, periods: list[str], cursor: dict, now: float, settle_seconds: float = 5.0,
          budget_seconds: float | None = None) -> tuple[list[Arrival], dict]:
    """Files of the periods' inbox folders that are new or changed since ``cursor`` and stable.

    The cursor maps each file (relative path) to its size, modification time and, once read,
    its hash and identity. An unchanged file is never opened, so an inbox of thousands of
    files costs one ``stat`` each. A file is read only when it is stable: unchanged since the
    previous look, or last modified ``settle_seconds`` ago (a half-copied file waits). A file
    whose content (hash) was already seen for the same period is not reported again. Once
    ``budget_seconds`` have gone on reading, further new files are left out of the cursor,
    so the next look reads them: a national inbox arriving at once is read over several
    looks, each short.
    """
    deadline = time.monotonic() + budget_seconds if budget_seconds is not None else None
    read = 0
    entries = {}
    arrivals = []
    seen_hashes = {(e["period"], e["hash"]) for e in cursor.values() if e.get("hash")}
    for period in periods:
        folder = period_dir(inbox, period)
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if not path.is_file() or path.name.startswith((".", "~$")):
                continue
            key = f"{period}/{path.name}"
            stat = path.stat()
            shape = {"period": period, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
            previous = cursor.get(key, {})
            same = all(previous.get(k) == v for k, v in shape.items())
            if same and previous.get("hash"):
                entries[key] = previous  # unchanged and already read: not opened
                continue
            if not same and now - stat.st_mtime < settle_seconds:
                entries[key] = shape  # still arriving: look again next time
                continue
            if deadline is not None and read and time.monotonic() > deadline:
                continue  # out of time (at least one file read, so every look gets on): read at the next look
            read += 1
            file_hash = file_sha256(path)
            entries[key] = {**shape, "hash": file_hash}
            if (period, file_hash) in seen_hashes:
                continue  # the same content under another name or copied in again
            seen_hashes.add((period, file_hash))
            try:
                arrivals.append(Arrival(path, period, file_hash, read_identity(path)))
            except UnreadableWorkbook:
                arrivals.append(Arrival(path, period, file_hash, None))
    return arrivals, entries
