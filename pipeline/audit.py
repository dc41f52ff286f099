"""The audit log, ``<data>/access/audit.jsonl``: one JSON object per line (time, event, details,
texts NFC), appended in one write and never rewritten. The page's ``pipeline.web.access.Audit``
writes the same lines (and reads them back); this is the writer the lower layers use (the review
decisions), so both logs are one.

Rotation by size (``Rotation``, the settings ``audit_max_bytes`` and ``audit_keep``): a writer
that would take the log past ``max_bytes`` first renames it ``audit.jsonl.1`` (the older ones
one step on, ``audit.jsonl.<keep>`` dropped) and starts a new one. Every writer (the page, the
command line, a Dagster run) appends and rotates under an exclusive ``flock`` on the ``access``
folder, so a line is never written into a file being renamed, never split between two files and
never lost; a reader opens the files under the shared lock (``open_newest_first``) and reads
them after, however the writers rotate meanwhile."""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from pipeline.text import nfc

AUDIT_FILE = Path("access") / "audit.jsonl"


@dataclass(frozen=True)
class Rotation:
    """When the log is rotated: past ``max_bytes``, keeping ``keep`` older files beside it."""

    max_bytes: int = 10 * 1024 * 1024
    keep: int = 5


def audit_path(data: Path) -> Path:
    return data / AUDIT_FILE


def rotated_path(data: Path, number: int) -> Path:
    """The ``number``-th older file (``audit.jsonl.1`` the newest of them); 0: the log itself."""
    path = audit_path(data)
    return path.with_name(f"{path.name}.{number}") if number else path


@contextmanager
def audit_lock(data: Path, exclusive: bool = True) -> Iterator[None]:
    """The ``access`` folder's ``flock``: exclusive while a line is written (and the log rotated),
    shared while readers open the files; released by the kernel however the process ends."""
    folder = audit_path(data).parent
    folder.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(descriptor)


def append_audit(data: Path, event: str, now: dt.datetime, rotation: Rotation = Rotation(), **details) -> None:
    """One line for ``event`` at ``now``, in one ``write`` on an append-only descriptor, under
    the exclusive lock, the log rotated first if the line would take it past ``rotation``."""
    line = (json.dumps({"time": now.isoformat(timespec="seconds"), "event": event,
                        **{k: nfc(v) if isinstance(v, str) else v for k, v in details.items()}},
                       ensure_ascii=False) + "\n").encode()
    path = audit_path(data)
    with audit_lock(data):
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            size = 0
        if size and size + len(line) > rotation.max_bytes:
            _rotate(data, rotation.keep)
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(descriptor, line)
        finally:
            os.close(descriptor)


def _rotate(data: Path, keep: int) -> None:
    """``audit.jsonl.<n>`` → ``.<n+1>`` from the oldest kept, then the log → ``.1`` (the caller
    holds the exclusive lock); the oldest beyond ``keep`` is dropped (keep 0: none are kept)."""
    for number in range(keep, -1, -1):
        try:
            os.rename(rotated_path(data, number), rotated_path(data, number + 1))
        except FileNotFoundError:
            pass
    rotated_path(data, keep + 1).unlink(missing_ok=True)


def open_newest_first(data: Path) -> list[BinaryIO]:
    """The log and its rotated files, newest first, opened under the shared lock (a rotation
    meanwhile renames them, but what was opened is read whole and in order). A gap in the
    numbers (a rotation killed halfway) hides no file."""
    path = audit_path(data)
    opened = []
    with audit_lock(data, exclusive=False):
        older = sorted(int(p.suffix[1:]) for p in path.parent.glob(f"{path.name}.*") if p.suffix[1:].isdigit())
        for number in [0, *older]:
            try:
                opened.append(rotated_path(data, number).open("rb"))
            except FileNotFoundError:  # no log yet, or no more
                pass
    return opened
