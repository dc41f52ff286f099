"""Safe file input and output. A file received from someone else is opened once, never
through a link, and checked on the open descriptor (``regular_file``). A file written appears
complete under its name or not at all; a write the machine refuses (disk full, read-only
folder, no permission) becomes one ``MachineError`` naming the file, with nothing
half-written left behind; what a killed process left half-done is removed later."""

from __future__ import annotations

import errno
import os
import re
import shutil
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from pipeline.errors import MachineError, machine_error, machine_fault


class Vanished(Exception):
    """The file was renamed or removed, or replaced by something that is not a regular file
    with one name, while it was taken in."""


class Denied(Exception):
    """The account this runs as may not read the file."""


_BECAME_SOMETHING_ELSE = {errno.ENOENT, errno.ELOOP, errno.ENXIO, errno.ENODEV, errno.ENOTDIR}


@contextmanager
def regular_file(path: Path) -> Iterator[tuple[BinaryIO, os.stat_result]]:
    """``path`` opened once for reading, with its status taken from the open descriptor: a
    link is never followed, a pipe never waited on, and only a regular file with one name is
    yielded (another name of it, a hard link, may be anywhere: /etc/passwd). Whatever is read
    after the check reads this descriptor, so what was checked is what is read. ``Vanished``
    if it is gone or no longer such a file (the next look sees what it became), ``Denied`` if
    this account may not read it."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except PermissionError:
        raise Denied(path) from None
    except OSError as e:
        if e.errno in _BECAME_SOMETHING_ELSE:
            raise Vanished(path) from None
        raise
    with open(descriptor, "rb") as reader:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode) or status.st_nlink != 1:
            raise Vanished(path)
        yield reader, status


@contextmanager
def atomic_output(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` only if the block succeeds."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with machine_faults(path):
            path.parent.mkdir(parents=True, exist_ok=True)
            yield temporary
            os.replace(temporary, path)
    finally:
        try:
            temporary.unlink(missing_ok=True)
        except OSError:  # a read-only folder: nothing was written there
            pass


@contextmanager
def machine_faults(path: Path) -> Iterator[None]:
    """Turn a machine fault (disk full, read-only, no permission) met while writing ``path`` into a MachineError."""
    try:
        yield
    except MachineError:
        raise
    except Exception as e:
        error = machine_fault(e)
        if error is None:
            raise
        raise machine_error(error, path) from None


_LEFTOVER = re.compile(r"^\.(?P<name>.+)\.(?P<pid>[0-9]+)\.tmp$|^work-(?P<folder_pid>[0-9]+)-")
WORK_PREFIX = "work-{pid}-"  # a process's working folder: work-<pid>-<anything>


def _process_is_gone(pid: int) -> bool:
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, another user's
    return False


def remove_leftovers(folder: Path) -> None:
    """Remove from ``folder`` what processes that are gone left behind: ``atomic_output``'s
    ``.<name>.<pid>.tmp`` files and working folders named ``work-<pid>-…``."""
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        match = _LEFTOVER.match(entry.name)
        if not match or not _process_is_gone(int(match["pid"] or match["folder_pid"])):
            continue
        if match["folder_pid"] and entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        elif match["pid"] and not entry.is_dir():
            entry.unlink(missing_ok=True)
