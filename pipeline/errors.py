"""The errors told to a person: ``UserError`` (bad input, a refused command) and
``MachineError`` (the machine refused: disk full, read-only folder, no permission, the
database held by another process), each one Vietnamese line without a traceback."""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path


class UserError(Exception):
    """A problem to tell a person (in Vietnamese), not a bug: commands print it without a traceback."""


class MachineError(UserError):
    """The machine refused a read or a write; the message names the file or folder and what to do."""


_FAULTS = {
    errno.ENOSPC: 'Ổ đĩa đầy: không ghi được "{path}". Hãy giải phóng dung lượng trên ổ chứa thư mục "{folder}" '
                  "(hoặc chuyển thư mục dữ liệu sang ổ khác) rồi chạy lại; chưa có tệp nào bị ghi dở.",
    errno.EDQUOT: 'Đã hết hạn mức dung lượng của tài khoản: không ghi được "{path}". Hãy xóa bớt tệp hoặc xin '
                  'thêm hạn mức cho thư mục "{folder}" rồi chạy lại; chưa có tệp nào bị ghi dở.',
    errno.EROFS: 'Thư mục "{folder}" nằm trên ổ chỉ cho đọc: không ghi được "{path}". Hãy gắn lại ổ ở chế độ '
                 "ghi được (hoặc chọn thư mục dữ liệu khác bằng TUANGIAO_DATA_DIR) rồi chạy lại.",
    errno.EACCES: 'Không có quyền ghi "{path}". Hãy cấp quyền ghi thư mục "{folder}" cho tài khoản chạy quy '
                  "trình tổng hợp rồi chạy lại.",
}
_FAULTS[errno.EPERM] = _FAULTS[errno.EACCES]


def machine_fault(error: BaseException) -> OSError | None:
    """The OSError behind ``error`` if it is one of the machine's faults above: itself, one it
    wraps (xlsxwriter wraps it in its own exception) or its cause. Other errors (a file that
    vanished, a bug) are not the machine's and give None."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError):
            return error if error.errno in _FAULTS else None
        wrapped = next((a for a in error.args if isinstance(a, OSError)), None)
        error = wrapped or error.__cause__ or error.__context__
    return None


def machine_fault_named(message: str, path: Path | str | None) -> OSError | None:
    """The machine fault a library names only in its message (DuckDB says "Read-only file system");
    without ``path``, the first quoted path of the message (DuckDB's 'Could not write file "…"'),
    else None."""
    code = next((code for code in _FAULTS if os.strerror(code) in message), None)
    if code is None:
        return None
    if path is None:
        quoted = re.search(r'"(/[^"]+)"', message)
        if quoted is None:
            return None
        path = quoted.group(1)
    return OSError(code, os.strerror(code), str(path))


def machine_error(error: OSError, path: Path | str | None = None) -> MachineError:
    """One Vietnamese line for a machine fault (``machine_fault``) met while writing ``path``
    (by default the file the error names)."""
    target = Path(path if path is not None else error.filename or ".")
    return MachineError(_FAULTS[error.errno].format(path=target, folder=target.parent))
