"""The inbox: which submission files wait in ``<inbox>/<period>/`` and whose they are, and
which of them are new since the last look (for the sensor).

Identity (unit, period, kind of file) is read from each workbook's Thông tin sheet; the
file name is never trusted. A file whose identity cannot be read is listed without one;
checking it says why. Only regular files with one name inside the inbox are read: a link, a
hard link (its other name may be anywhere), a pipe, a device, or a period folder whose real
place is elsewhere is listed as refused (with the reason) and never opened, and so is a file
this account may not read. Each file is opened once (``pipeline.files.regular_file``): its
hash and its identity come from that one descriptor, so a link or a pipe swapped in after the
look is never read. A file that disappears or changes kind while it is looked at is left for
the next look.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from typing import NamedTuple

from pipeline.checking.findings import (
    DENIED,
    HARDLINK,
    LINK,
    NOT_A_FILE,
    NOT_A_UNIT_REPORT,
    OUTSIDE_INBOX,
    Finding,
    finding,
)
from pipeline.text import nfc
from pipeline.files import Denied, Vanished, atomic_output, regular_file
from pipeline.parallel import parallel_map
from pipeline.states import ArrivalState
from pipeline.catalogue.contract import PLAN_FILE
from pipeline.workbook.reader import Identity, UnreadableWorkbook, read_identity
from pipeline.workbook.safety import MAX_FILE_BYTES

WORKBOOK_SUFFIXES = (".xlsx", ".ods", ".xls")
UPLOAD_ID_PATTERN = "[0-9]{8}-[0-9]{6}-[0-9a-f]{8}"
UPLOADED = re.compile(f"^(?P<unit>.+)-tai-len-{UPLOAD_ID_PATTERN}\\.[a-z]+$")  # what the page names a unit's upload
SENSOR_READ_SECONDS = 4.0  # the sensor's reading of new files per look; a national inbox arriving at once takes several looks


@dataclass(frozen=True)
class InboxFile:
    path: Path
    mtime: float
    identity: Identity | None  # None: not a workbook whose unit can be read, or refused
    size: int = 0
    mtime_ns: int = 0
    refused: Finding | None = None  # why it is not read at all (a link, a pipe, outside the inbox, no permission)
    ctime_ns: int = 0  # when it arrived in the inbox (or last changed there), whatever its modification time says
    inode: int = 0
    file_hash: str = ""  # its content's SHA-256, once read


def uploaded_name(unit: str, upload_id: str, suffix: str) -> str:
    """The inbox name of a file a unit uploaded on the page."""
    return f"{unit}-tai-len-{upload_id}{suffix}"


def plan_name(upload_id: str, suffix: str) -> str:
    """The inbox name of the district's plan an officer sent on the page."""
    return f"ke-hoach-can-bo-{upload_id}{suffix}"


def _sent_by_a_unit(path: Path, identity: Identity | None) -> Finding | None:
    """A plan in a file that came through a unit's upload: refused, never taken as the plan
    (the page refuses it already; this holds whatever reaches the inbox under such a name)."""
    uploaded = UPLOADED.match(path.name)
    if identity is None or identity.file_kind != PLAN_FILE or uploaded is None:
        return None
    return finding(NOT_A_UNIT_REPORT, "inbox", file=nfc(path.name), unit=uploaded["unit"])


def period_dir(inbox: Path, period: str) -> Path:
    return Path(inbox) / period


def _look(inbox: Path, folder: Path) -> tuple[list[tuple[os.DirEntry, os.stat_result]],
                                              dict[str, tuple[Finding, os.stat_result]]]:
    """The folder's regular files with one name with their status, by name, and the refused
    entries with their reason; folders, hidden files, Office lock files and vanished files are
    left out."""
    inside = Path(os.path.realpath(folder)).is_relative_to(os.path.realpath(inbox))
    files, refused = [], {}
    with os.scandir(folder) as listing:
        entries = sorted(listing, key=lambda e: e.name)
    for entry in entries:
        if entry.name.startswith((".", "~$")):
            continue
        name = nfc(entry.name)
        try:
            status = entry.stat(follow_symlinks=False)
            if entry.is_symlink():
                refused[entry.name] = (finding(LINK, file=name), status)
            elif entry.is_dir(follow_symlinks=False):
                continue
            elif not entry.is_file(follow_symlinks=False):
                refused[entry.name] = (finding(NOT_A_FILE, file=name), status)
            elif status.st_nlink != 1:
                refused[entry.name] = (finding(HARDLINK, file=name, links=status.st_nlink), status)
            elif not inside:
                refused[entry.name] = (finding(OUTSIDE_INBOX, file=name, target=nfc(os.path.realpath(folder))), status)
            else:
                files.append((entry, status))
        except FileNotFoundError:
            continue  # gone meanwhile: the next look sees what replaced it
    return files, refused


def scan_inbox(inbox: Path, period: str, index: Path | None = None, workers: int = 1) -> list[InboxFile]:
    """Every file of the period's inbox folder, in the order they arrived (changed last, last),
    with its identity (None if unreadable or refused).

    With an ``index`` file, identities already read are kept there by name, size, modification
    and change time and inode, so a national inbox of 10.600 files is read once, not once per
    batch; new files are read by ``workers`` processes."""
    folder = period_dir(inbox, period)
    if not folder.is_dir():
        return []
    found, refused = _look(inbox, folder)
    known = _read_index(index)
    entries, unread = {}, []
    for file, stat in found:
        shape = [*_shape(stat).values(), stat.st_mtime]
        entry = known.get(file.name)
        if not isinstance(entry, list) or entry[:-2] != shape:
            entry = shape + [None, ""]
            unread.append(folder / file.name)
        entries[file.name] = entry
    for path, seen in zip(unread, read_files(unread, workers)):
        if seen is ArrivalState.GONE:
            del entries[path.name]
        else:
            entries[path.name][-2:] = [DENIED.code if seen.denied else seen.identity, seen.file_hash]
    if index is not None and (unread or entries.keys() != known.keys()):
        with atomic_output(index) as temporary:
            temporary.write_text(json.dumps(entries, ensure_ascii=False), encoding="utf-8")
    files = []
    for name, (size, mtime_ns, ctime_ns, inode, mtime, known, file_hash) in entries.items():
        identity = Identity(**known) if isinstance(known, dict) else None
        refusal = finding(DENIED, file=nfc(name)) if known == DENIED.code else _sent_by_a_unit(folder / name, identity)
        files.append(InboxFile(folder / name, mtime, None if refusal else identity, size, mtime_ns, refusal, ctime_ns,
                               inode, file_hash))
    files += [InboxFile(folder / name, stat.st_mtime, None, stat.st_size, stat.st_mtime_ns, reason, stat.st_ctime_ns,
                        stat.st_ino) for name, (reason, stat) in refused.items()]
    return sorted(files, key=lambda f: (f.ctime_ns, f.mtime_ns, f.path.name))


def _shape(stat: os.stat_result) -> dict[str, int]:
    """What tells a file from the one seen before under its name without opening it: the change
    time and inode tell a file sent again with its old modification time (``cp -p``)."""
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "ctime_ns": stat.st_ctime_ns, "inode": stat.st_ino}


class Read(NamedTuple):
    """What one opening of a file told: its SHA-256 ("" if not read to its end) and its identity
    as a dict (None: not a workbook whose unit can be read), or that it may not be read."""

    file_hash: str
    identity: dict | None
    denied: bool = False


def _read(path: Path) -> Read | ArrivalState:
    """Open the file once, hash it and read its identity from the bytes of that one descriptor
    (run in a reader worker process); ``ArrivalState.GONE`` if it disappeared or became a link,
    a pipe or another name of a file meanwhile."""
    try:
        with regular_file(path) as (reader, status):
            head = reader.read(MAX_FILE_BYTES + 1)
            digest = hashlib.sha256(head)
            for chunk in iter(lambda: reader.read(1 << 20), b""):
                digest.update(chunk)
    except Vanished:
        return ArrivalState.GONE
    except Denied:
        return Read("", None, denied=True)
    try:
        identity = asdict(read_identity(path, (head, status.st_size)))
    except (UnreadableWorkbook, MemoryError):
        identity = None
    return Read(digest.hexdigest(), identity)


def _unreadable(path: Path, cause: str) -> Read:
    return Read("", None)  # its reader's worker died or overran: checking the file says so


def read_files(paths: list[Path], workers: int = 1) -> list[Read | ArrivalState]:
    """Each file read once (``_read``) in reader worker processes."""
    return parallel_map(_read, paths, workers, failed=_unreadable)


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
    """A new or changed file, stable and read: whose it is and its content hash (for a refused
    entry, never read, a digest of its name and status instead)."""

    path: Path
    period: str
    file_hash: str
    identity: Identity | None  # None: not a workbook whose unit can be read, or refused


def watch(inbox: Path, periods: list[str], cursor: dict, now: float, settle_seconds: float = 5.0,
          budget_seconds: float | None = None) -> tuple[list[Arrival], dict]:
    """Files of the periods' inbox folders that are new or changed since ``cursor`` and stable.

    The cursor maps each file (relative path) to its size, modification and change time and
    inode (``_shape``) and, once read, its hash and unit. An unchanged file is never opened, so
    an inbox of thousands of files costs one ``stat`` each; a file sent again with its old
    modification time (``cp -p``) has a new change time, so it is read again. A file is read
    only when it is stable: unchanged since the previous look, or last modified
    ``settle_seconds`` ago (a half-copied file waits). A file
    with the same content as its unit's latest file is not reported (a copy changes nothing);
    an older content sent again is. Once ``budget_seconds`` have gone on reading, further new
    files are left out of the cursor, so the next look reads them: a national inbox arriving
    at once is read over several looks, each short. Refused entries (and a file this account
    may not read) are reported once, unread; a file that cannot be read never fails the look.
    """
    deadline = time.monotonic() + budget_seconds if budget_seconds is not None else None
    read = 0
    entries = {}
    arrivals = []
    latest = {}  # (period, unit) -> (ctime_ns, hash) of its newest file already seen
    for entry in cursor.values():
        if entry.get("hash") and "unit" in entry:
            key = (entry["period"], entry["unit"])
            latest[key] = max(latest.get(key, (0, "")), (entry.get("ctime_ns", 0), entry["hash"]))
    for period in periods:
        folder = period_dir(inbox, period)
        if not folder.is_dir():
            continue
        found, refused = _look(inbox, folder)
        for name, (_, stat) in refused.items():
            key = f"{period}/{name}"
            entries[key] = {"period": period, **_shape(stat), "refused": True}
            if cursor.get(key) != entries[key]:
                arrivals.append(Arrival(folder / name, period, _stand_in(key, stat), None))
        for file, stat in found:
            path = folder / file.name
            key = f"{period}/{file.name}"
            shape = {"period": period, **_shape(stat)}
            previous = cursor.get(key, {})
            same = all(previous.get(k) == v for k, v in shape.items())
            if same and (previous.get("hash") or previous.get("refused")):
                entries[key] = previous  # unchanged and already read (or refused): not opened
                continue
            if not same and now - stat.st_mtime < settle_seconds:
                entries[key] = shape  # still arriving: look again next time
                continue
            if deadline is not None and read and time.monotonic() > deadline:
                continue  # out of time (at least one file read, so every look gets on): read at the next look
            read += 1
            [seen] = read_files([path])
            if seen is ArrivalState.GONE:
                continue  # gone or changed meanwhile: what replaced it is seen at the next look
            if seen.denied:  # told once, unread, as the refused entries are
                entries[key] = {**shape, "refused": True}
                arrivals.append(Arrival(path, period, _stand_in(key, stat), None))
                continue
            identity = Identity(**seen.identity) if seen.identity else None
            if _sent_by_a_unit(path, identity):
                identity = None  # refused as a plan: told with the files no unit can be found for
            unit = identity.unit_code if identity else ""
            file_hash = seen.file_hash or _stand_in(key, stat)  # its reader's worker died: checking says why
            entries[key] = {**shape, "hash": file_hash, "unit": unit}
            newest = latest.get((period, unit))
            if newest is not None and newest[1] == file_hash:
                continue  # the same content as the unit's latest file, copied in again
            if newest is None or stat.st_ctime_ns >= newest[0]:
                latest[(period, unit)] = (stat.st_ctime_ns, file_hash)
            arrivals.append(Arrival(path, period, file_hash, identity))
    return arrivals, entries


def _stand_in(key: str, stat: os.stat_result) -> str:
    """A digest of a file's name and status, in place of its content's for a file not read to its end."""
    return hashlib.sha256(json.dumps([key, *_shape(stat).values()]).encode()).hexdigest()
