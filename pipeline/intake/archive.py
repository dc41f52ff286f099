"""The archive: every received file kept unchanged, once per content, and a record of every
arrival. The warehouse can be rebuilt from the archive alone.

``data/archive/<period>/<unit>/<first received>_<hash>.xlsx`` is a content, mode 0o640
whatever the source's; ``<n>.arrival.json`` records the n-th arrival of a file: its
original name (NFC), when it arrived, its hash, and the inbox file's size, modification time,
change time and inode, which tell a new arrival (an older file sent again included, even
with its old modification time, as ``cp -p`` keeps it) from the same file seen again. The
latest arrival of a unit decides which valid version is current.

A file is received by copying it once into a private working folder under its own name
(hashing it on the way; never through a link, never from a pipe or device, never a file
with another name elsewhere: ``pipeline.files.regular_file``), so what is
checked is exactly what is archived, whatever happens to the inbox meanwhile. The content
is linked into the archive before its arrival is recorded, and each record is created
whole under a new number: a kill between them leaves a content without a record, which is
not used until the file is received again (the next look records it); a record that cannot
be read is ignored; temporary files of killed processes are removed on the next arrival.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pipeline.text import nfc
from pipeline.failpoints import failpoint
from pipeline.files import WORK_PREFIX, regular_file, remove_leftovers

UNIDENTIFIED = "_khong_xac_dinh"
PLAN = "_ke_hoach"
ARCHIVE_MODE = 0o640
RECORD_SUFFIX = ".arrival.json"


@dataclass(frozen=True)
class Archived:
    """One arrival: the archived content, and the name, time and inbox file it came as."""

    path: Path
    original_name: str
    received_at: dt.datetime
    file_hash: str
    size: int = 0
    mtime_ns: int = 0
    ctime_ns: int = 0  # when the inbox file last changed: an arrival even if its modification time is old
    inode: int = 0

    @property
    def relative_path(self) -> str:
        """<period>/<unit>/<file>: where the content is inside the archive folder."""
        return "/".join(self.path.parts[-3:])

    def came_as(self, name: str, size: int, mtime_ns: int, ctime_ns: int, inode: int) -> bool:
        """This arrival was the inbox file ``name`` with this status (a record written before
        change times were kept: the name, size and modification time)."""
        return (self.original_name, self.size, self.mtime_ns) == (name, size, mtime_ns) and \
            (not self.ctime_ns or (self.ctime_ns, self.inode) == (ctime_ns, inode))

    def same_file(self, other: Archived) -> bool:
        """``other`` is this arrival's inbox file seen again."""
        return self.file_hash == other.file_hash and \
            self.came_as(other.original_name, other.size, other.mtime_ns, other.ctime_ns, other.inode)


@dataclass(frozen=True)
class Received:
    """A file taken in: its content's first arrival (``version``: the name, time and archived
    path it is loaded with), the name it came under this time, a private copy to read under
    that name, and whether it is its unit's latest arrival (which alone may become current)."""

    version: Archived
    name: str
    copy: Path
    latest: bool

    @property
    def file_hash(self) -> str:
        return self.version.file_hash


def _folder(archive: Path, period: str, unit: str) -> Path:
    return archive / period / (unit or PLAN)


@contextmanager
def working_folder(data: Path) -> Iterator[Path]:
    """A private folder for one intake's copies, removed afterwards; the ones of killed
    processes are removed first."""
    root = data / ".intake"
    root.mkdir(parents=True, exist_ok=True)
    remove_leftovers(root)
    folder = Path(tempfile.mkdtemp(prefix=WORK_PREFIX.format(pid=os.getpid()), dir=root))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _copy(source: Path, target: Path) -> tuple[str, os.stat_result]:
    """Copy a regular file with one name, opened once (``regular_file``), to ``target`` (mode
    ``ARCHIVE_MODE``, flushed to disk); its SHA-256 and its status."""
    digest = hashlib.sha256()
    with regular_file(source) as (reader, status):
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "xb") as writer:
            os.fchmod(writer.fileno(), ARCHIVE_MODE)
            for chunk in iter(lambda: reader.read(1 << 20), b""):
                digest.update(chunk)
                writer.write(chunk)
            writer.flush()
            os.fsync(writer.fileno())
    return digest.hexdigest(), status


def _content(folder: Path, file_hash: str) -> Path | None:
    return next(iter(sorted(folder.glob(f"*_{file_hash[:16]}.xlsx"))), None)


def receive(archive: Path, period: str, unit: str, source: Path, now: dt.datetime, work: Path) -> Received:
    """Archive ``source`` as an arrival of ``unit``'s (a content already archived is kept once,
    with its first time) and copy it into the folder ``work`` to be read; ``Vanished`` if it
    is gone or no longer a regular file with one name, ``Denied`` if it may not be read."""
    folder = _folder(archive, period, unit)
    folder.mkdir(parents=True, exist_ok=True)
    remove_leftovers(folder)
    name = nfc(source.name)
    copy = work / name
    file_hash, status = _copy(source, copy)
    content = _content(folder, file_hash)
    if content is None:
        content = folder / f"{now:%Y%m%dT%H%M%S}_{file_hash[:16]}.xlsx"
        temporary = folder / f".{content.name}.{os.getpid()}.tmp"
        os.link(copy, temporary)
        os.replace(temporary, content)
    failpoint("archive.copied")
    this = Archived(content, name, now, file_hash, status.st_size, status.st_mtime_ns, status.st_ctime_ns,
                    status.st_ino)
    log = arrivals(archive, period, unit)
    if not any(seen.same_file(this) for seen in log):
        _record(folder, this, len(log) + 1)
        log.append(this)
        failpoint("archive.recorded")
    first = next(seen for seen in log if seen.file_hash == file_hash)
    return Received(first, name, copy, log[-1].same_file(this))


def _record(folder: Path, arrival: Archived, number: int) -> None:
    """Create the arrival's record whole under the first free number from ``number`` on."""
    data = {"original_name": arrival.original_name, "received_at": arrival.received_at.isoformat(),
            "file_hash": arrival.file_hash, "size": arrival.size, "mtime_ns": arrival.mtime_ns,
            "ctime_ns": arrival.ctime_ns, "inode": arrival.inode}
    temporary = folder / f".{RECORD_SUFFIX[1:]}.{os.getpid()}.tmp"
    try:
        with open(temporary, "w", encoding="utf-8") as f:
            f.write(json.dumps(data, ensure_ascii=False, indent=2))
            f.flush()
            os.fsync(f.fileno())
        while True:
            try:
                os.link(temporary, folder / f"{number:06d}{RECORD_SUFFIX}")
                return
            except FileExistsError:
                number += 1  # another process recorded an arrival meanwhile
    finally:
        temporary.unlink(missing_ok=True)


def _read_record(path: Path, contents: dict[str, Path]) -> Archived | None:
    """An arrival record, or None if it cannot be read or its content is not archived."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        content = contents.get(data["file_hash"][:16])
        if content is None:
            return None
        return Archived(content, nfc(data["original_name"]), dt.datetime.fromisoformat(data["received_at"]),
                        data["file_hash"], *(int(data.get(k, 0)) for k in ("size", "mtime_ns", "ctime_ns", "inode")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


# A unit's arrivals as last read, by folder, with the folder's status then. Records and contents
# are only ever added (each whole, under a new name), which changes the folder's modification and
# change times; a folder unchanged for SETTLED_NS is read again only when they change. (A younger
# one is always read again: a change within the clock's resolution could leave its times as they
# were.) A national run's status reads every unit's folder after each province.
_READ: dict[Path, tuple[tuple[int, int, int], list[Archived]]] = {}
SETTLED_NS = 2_000_000_000


def arrivals(archive: Path, period: str, unit: str) -> list[Archived]:
    """Every recorded arrival of a unit's (or the plan's, unit "") files, in the order they came.
    Records of the first layout (``<received>_<hash>.json`` beside each content) come first."""
    folder = _folder(archive, period, unit)
    try:
        status = os.stat(folder)
    except OSError:
        return []
    seen = (status.st_ino, status.st_mtime_ns, status.st_ctime_ns)
    known = _READ.get(folder)
    if known is not None and known[0] == seen:
        return list(known[1])
    found = _read_arrivals(folder)
    if time.time_ns() - max(status.st_mtime_ns, status.st_ctime_ns) > SETTLED_NS:
        _READ[folder] = (seen, found)
    return list(found)


def _read_arrivals(folder: Path) -> list[Archived]:
    try:
        names = os.listdir(folder)  # one look at the folder, not one per pattern
    except OSError:  # not a folder, or not readable: as no arrival
        return []
    present = set(names)
    contents = {n[:-5].rpartition("_")[2]: folder / n for n in names if n.endswith(".xlsx")}
    first_layout = sorted((r for p in contents.values() if f"{p.stem}.json" in present
                           and (r := _read_record(p.with_suffix(".json"), contents))), key=lambda r: r.received_at)
    numbered = [_read_record(folder / n, contents) for n in sorted(n for n in names if n.endswith(RECORD_SUFFIX))]
    return first_layout + [r for r in numbered if r is not None]


def archived_versions(archive: Path, period: str, unit: str) -> list[Archived]:
    """Every archived content of a unit's (or the plan's) submissions as first received, oldest first."""
    firsts: dict[str, Archived] = {}
    for arrival in arrivals(archive, period, unit):
        firsts.setdefault(arrival.file_hash, arrival)
    return list(firsts.values())


def archived_units(archive: Path) -> list[tuple[str, str]]:
    """(period, unit) pairs with archived files, periods in order (the plan's unit is "")."""
    pairs = []
    for period in sorted(p for p in archive.iterdir() if p.is_dir()) if archive.is_dir() else []:
        for folder in sorted(f for f in period.iterdir() if f.is_dir() and f.name != UNIDENTIFIED):
            pairs.append((period.name, "" if folder.name == PLAN else folder.name))
    return pairs
