"""The data folder's lock: intake runs share it; ``rebuild`` and ``close-period`` take it
alone, so a rebuild never swaps the warehouse under a run, and a period is never closed while
a run loads into it.

An advisory ``flock`` on the data folder itself (no lock file to leave behind): the kernel
releases it when the process ends, however it ends, so a killed run never keeps it.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipeline.errors import UserError


class DataFolderBusy(UserError):
    """Another command or run is using the data folder; the message is Vietnamese."""


def _open(data: Path) -> int:
    data.mkdir(parents=True, exist_ok=True)
    return os.open(data, os.O_RDONLY | os.O_DIRECTORY)


@contextmanager
def shared_lock(data: Path) -> Iterator[None]:
    """Held by every intake run; waits while a rebuild or a closing holds the folder alone."""
    descriptor = _open(data)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH)
        yield
    finally:
        os.close(descriptor)  # releases the lock


@contextmanager
def exclusive_lock(data: Path, command: str) -> Iterator[None]:
    """Held by ``command`` alone; refused at once, in Vietnamese, while a run or another command holds it."""
    descriptor = _open(data)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DataFolderBusy(f"Thư mục dữ liệu {data} đang được dùng (một lượt tiếp nhận hoặc một lệnh khác "
                                 f"đang chạy): hãy chờ chạy xong rồi chạy lại lệnh {command}.") from None
        yield
    finally:
        os.close(descriptor)
