"""The data folder's lock: intake and publication share it (each intake and publication step,
and ``python -m assets run`` from its first unit to its publication); ``rebuild``,
``close-period`` and ``reopen-period`` take it alone, so a rebuild never swaps the warehouse
under a run, and a period is never closed while a run loads into it or publishes it.

An advisory ``flock`` on the data folder itself (no lock file to leave behind): the kernel
releases it when the process ends, however it ends, so a killed run never keeps it.
"""

from __future__ import annotations

import fcntl
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from pipeline.errors import UserError

POLL_SECONDS = 0.2
NOTICE_SECONDS = 1.0  # a wait shorter than this is not worth a line


class DataFolderBusy(UserError):
    """Another command or run is using the data folder; the message is Vietnamese."""


def _open(data: Path) -> int:
    data.mkdir(parents=True, exist_ok=True)
    return os.open(data, os.O_RDONLY | os.O_DIRECTORY)


@contextmanager
def shared_lock(data: Path) -> Iterator[None]:
    """Held by every intake and publication; waits while a rebuild or a closing holds the folder alone."""
    descriptor = _open(data)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH)
        yield
    finally:
        os.close(descriptor)  # releases the lock


@contextmanager
def exclusive_lock(data: Path, command: str, wait_seconds: float = 0) -> Iterator[None]:
    """Held by ``command`` alone. While a run or another command holds the folder, waits up to
    ``wait_seconds`` (saying so once, on stderr), then refuses in Vietnamese."""
    descriptor = _open(data)

    def busy() -> None:
        raise DataFolderBusy(
            f"Thư mục dữ liệu {data} đang được dùng (một lượt tiếp nhận, công bố hoặc một lệnh khác đang "
            f"chạy)" + (f" sau {wait_seconds:g} giây chờ" if wait_seconds else "")
            + f": chưa làm gì; hãy chờ lượt đó chạy xong rồi chạy lại lệnh {command}.") from None

    def waiting() -> None:
        print(f"Đang chờ thư mục dữ liệu {data}: một lượt tiếp nhận hoặc công bố đang chạy "
              f"(lệnh {command} chờ tối đa {wait_seconds:g} giây)…", file=sys.stderr, flush=True)

    try:
        wait_for_flock(descriptor, wait_seconds, waiting, busy)
        yield
    finally:
        os.close(descriptor)


def wait_for_flock(descriptor, wait_seconds: float, waiting: Callable[[], None], give_up: Callable[[], None],
                   notice_seconds: float = NOTICE_SECONDS, poll_seconds: float = POLL_SECONDS) -> None:
    """Take an exclusive ``flock`` on ``descriptor`` (a file descriptor or file), polling: once
    the wait passes ``notice_seconds``, ``waiting()`` says so (once); at ``wait_seconds``,
    ``give_up()``, which raises."""
    started, told = time.monotonic(), False
    while True:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            waited = time.monotonic() - started
            if waited >= wait_seconds:
                give_up()
            if not told and waited >= notice_seconds:
                waiting()
                told = True
            time.sleep(poll_seconds)
