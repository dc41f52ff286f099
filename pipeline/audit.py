"""The audit log, ``<data>/access/audit.jsonl``: one JSON object per line (time, event, details,
texts NFC), appended in one write and never rewritten. The page's ``pipeline.web.access.Audit``
writes the same lines (and reads them back); this is the writer the lower layers use (the review
decisions), so both logs are one."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

from pipeline.text import nfc

AUDIT_FILE = Path("access") / "audit.jsonl"


def audit_path(data: Path) -> Path:
    return data / AUDIT_FILE


def append_audit(data: Path, event: str, now: dt.datetime, **details) -> None:
    """One line for ``event`` at ``now``, in one ``write`` on an append-only descriptor (lines of
    two processes never interleave)."""
    line = json.dumps({"time": now.isoformat(timespec="seconds"), "event": event,
                       **{k: nfc(v) if isinstance(v, str) else v for k, v in details.items()}},
                      ensure_ascii=False) + "\n"
    path = audit_path(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(descriptor, line.encode())
    finally:
        os.close(descriptor)
