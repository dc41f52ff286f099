"""Failpoints: named places at step boundaries where a crash test makes the process die as a
power cut or ``kill -9`` would (SIGKILL to itself: no cleanup, no ``finally``, no atexit).

``TUANGIAO_FAILPOINT=name`` arms one point; ``name@N`` dies at its N-th pass (default the
first); ``name@N:stop`` stops there instead (SIGSTOP to itself, every lock it holds kept) until
a test sends SIGCONT: a run paused at a known step, to meet another command. The variable is read once, at import, so an unarmed ``failpoint()`` is one
comparison. Every call names its point with a literal string, so a test can find them all
in the sources.
"""

from __future__ import annotations

import os
import signal

_SPEC, _, _ACTION = os.environ.get("TUANGIAO_FAILPOINT", "").partition(":")
_ARMED, _, _AT = _SPEC.partition("@")
_remaining = int(_AT or 1)
_SIGNAL = signal.SIGSTOP if _ACTION == "stop" else signal.SIGKILL


def failpoint(name: str) -> None:
    """Die (or stop) here if this point is armed (at its N-th pass)."""
    global _remaining
    if name != _ARMED:
        return
    _remaining -= 1
    if _remaining == 0 or (_remaining < 0 and _SIGNAL == signal.SIGKILL):
        os.kill(os.getpid(), _SIGNAL)
