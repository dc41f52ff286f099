"""Safe file output: a file appears complete under its name or not at all; a write the
machine refuses (disk full, read-only folder, no permission) becomes one ``MachineError``
naming the file, with nothing half-written left behind."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipeline.errors import MachineError, machine_error, machine_fault


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


def remove_leftovers(folder: Path) -> list[Path]:
    """Remove the temporary files ``atomic_output`` left in ``folder`` when its process died
    (a live process's are kept: it is still writing); returns what was removed."""
    removed = []
    for path in folder.glob(".*.tmp"):
        pid = path.name.rsplit(".", 2)[-2]
        if pid.isdigit() and not _alive(int(pid)):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True
