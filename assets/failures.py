"""Problems told to people, in the Dagster UI too: an asset's ``UserError`` (bad input, a full
disk, a read-only folder, the database held too long) fails its step as a ``dagster.Failure``
whose description is the Vietnamese line, without a Python traceback. So does a machine fault
met anywhere in a step that no writer of the pipeline translated (an ``OSError`` of a full disk
or a missing permission, DuckDB's "Could not write file … No space left on device"): one line
naming the place. A fault of Dagster's own storage (its SQLite files under DAGSTER_HOME) is
one line too (``dagster_storage_fault``), and the lines Dagster itself writes to stderr when
that storage refuses a log event are held back while ``python -m assets run`` runs
(``storage_noise_hidden``): the line naming DAGSTER_HOME replaces them."""

from __future__ import annotations

import errno
import functools
import inspect
import os
import sys
from contextlib import contextmanager
from pathlib import Path

import dagster as dg

from pipeline.errors import UserError, machine_error, machine_fault, machine_fault_named
from pipeline.settings import PROJECT_ROOT

# What SQLite says when Dagster's storage cannot be written, and how we say it.
_FREE = "Hãy giải phóng dung lượng trên ổ chứa thư mục đó"
_GRANT = "Hãy cấp quyền ghi thư mục đó cho tài khoản chạy quy trình"
_EITHER = f"{_FREE} hoặc cấp quyền ghi cho tài khoản chạy quy trình"
_SQLITE_FAULTS = {"database or disk is full": ("ổ đĩa đầy", _FREE),
                  "disk I/O error": ("lỗi ghi ổ đĩa, thường do ổ đầy", _EITHER),
                  "readonly database": ("không có quyền ghi", _GRANT),
                  "unable to open database file": ("không mở được tệp", _EITHER)}
_OS_FAULTS = {errno.ENOSPC: ("ổ đĩa đầy", _FREE), errno.EDQUOT: ("hết hạn mức dung lượng", _FREE),
              errno.EROFS: ("ổ chỉ cho đọc", "Hãy gắn lại ổ chứa thư mục đó ở chế độ ghi được"),
              errno.EACCES: ("không có quyền ghi", _GRANT), errno.EPERM: ("không có quyền ghi", _GRANT)}
# The line dagster._core.instance.types._EventListenerLogHandler writes to stderr when a log event
# cannot be stored (the run goes on, or fails on its next system event, which we tell in one line).
DAGSTER_LOG_FAILURE = "Exception while writing logger call to event log"


def dagster_home() -> str:
    return os.environ.get("DAGSTER_HOME", str(PROJECT_ROOT / ".dagster_home"))


def dagster_storage_fault(error: BaseException) -> str | None:
    """One Vietnamese line for a fault of Dagster's own storage (its SQLite files under
    DAGSTER_HOME: a full disk, no permission), or None if ``error`` is not one."""
    import sqlite3

    home = Path(dagster_home()).resolve()
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        text = str(error)
        told = next((told for key, told in _SQLITE_FAULTS.items() if key in text), None)
        if isinstance(error, OSError) and error.errno in _OS_FAULTS and error.filename and \
                Path(os.fsdecode(error.filename)).resolve().is_relative_to(home):  # its lock, its compute logs
            told = _OS_FAULTS[error.errno]
        if told or isinstance(error, sqlite3.Error):
            reason, advice = told or (text, _EITHER)
            return (f'Dagster không ghi được lịch sử chạy vào thư mục "{dagster_home()}" (DAGSTER_HOME: {reason}). '
                    f"{advice} (hoặc đặt DAGSTER_HOME sang ổ khác) rồi chạy lại.")
        error = error.__cause__ or error.__context__
    return None


class _WithoutStorageNoise:
    """A text stream writing through to ``stream`` all but Dagster's own report of a log event its
    storage refused for a machine fault (one ``write`` call each)."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text: str) -> int:
        if text.startswith(DAGSTER_LOG_FAILURE) and any(key in text for key in _SQLITE_FAULTS):
            return len(text)
        return self._stream.write(text)

    def __getattr__(self, name):
        return getattr(self._stream, name)


@contextmanager
def storage_noise_hidden():
    """For the block, stderr without Dagster's own lines about its storage's faults."""
    stream = sys.stderr
    sys.stderr = _WithoutStorageNoise(stream)
    try:
        yield
    finally:
        sys.stderr = stream


def _told(error: Exception) -> dg.Failure | None:
    """The Failure telling ``error`` to people, or None for a bug (its traceback is kept)."""
    if isinstance(error, UserError):
        return dg.Failure(description=str(error), allow_retries=False)
    fault = machine_fault(error) or machine_fault_named(str(error), None)
    if fault is None:
        return None
    return dg.Failure(description=str(machine_error(fault)), allow_retries=False)


def told(fn):
    """Wrap an asset function (plain or generator) so a UserError becomes a dagster.Failure."""
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def generator(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except Exception as e:
                failure = _told(e)
                if failure is None:
                    raise
                raise failure from None
        return generator

    @functools.wraps(fn)
    def function(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as e:
            failure = _told(e)
            if failure is None:
                raise
            raise failure from None
    return function
