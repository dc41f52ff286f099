"""``python -m assets doctor``: the screen of ``python -m pipeline doctor`` with the line only
the Dagster side can fill, the daemon's heartbeat: every daemon the instance needs
(``get_required_daemon_types``) must have beaten within ``FRESH_SECONDS`` (it beats every 30 s)
and without errors."""

from __future__ import annotations

import time

import dagster as dg

from pipeline.operations.doctor import DAEMON, Check, checks, screen
from pipeline.settings import Settings
from pipeline.text import show_number

FRESH_SECONDS = 60


def daemon(instance: dg.DagsterInstance, now: float | None = None) -> Check:
    """The daemon's line: fine when every required daemon beat recently without errors."""
    now = time.time() if now is None else now
    beats = instance.get_daemon_heartbeats()
    required = instance.get_required_daemon_types()
    silent = [kind for kind in required if kind not in beats or now - beats[kind].timestamp > FRESH_SECONDS]
    failing = [kind for kind in required if kind in beats and kind not in silent and beats[kind].errors]
    if not required:
        return Check(DAEMON.name, None, "phiên bản Dagster tạm (không có DAGSTER_HOME): không có tiến trình nền")
    if len(silent) == len(required):
        last = max((beats[kind].timestamp for kind in required if kind in beats), default=None)
        since = f"; nhịp cuối cách đây {show_number((now - last) / 60, 0)} phút" if last else ""
        return Check(DAEMON.name, False, f"không chạy (không có nhịp trong {FRESH_SECONDS} giây qua{since}): "
                                         "systemctl start tuangiao-dagster-daemon, hoặc make dev")
    if silent or failing:
        parts = ([f"không có nhịp gần đây: {', '.join(silent)}"] if silent else []) + (
            [f"báo lỗi: {', '.join(failing)} ({_first_error(beats[failing[0]])})"] if failing else [])
        return Check(DAEMON.name, False, "; ".join(parts) + ": xem journalctl -u tuangiao-dagster-daemon")
    return Check(DAEMON.name, True, f"đang chạy: {len(required)} phần đều có nhịp trong {FRESH_SECONDS} giây qua")


def _first_error(beat) -> str:
    return beat.errors[0].message.strip().splitlines()[-1] if beat.errors else ""


def doctor(settings: Settings) -> int:
    """Print the screen; 0 when nothing needs the administrator, 1 otherwise."""
    found = checks(settings) + [daemon(dg.DagsterInstance.get())]
    print(screen(found))
    return 1 if any(c.fine is False for c in found) else 0
