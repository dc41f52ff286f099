"""``/suc-khoe``: the machine's health for a monitor and for the district's officers.

Public, so a monitor (or Caddy, or the administrator's phone) can ask it without an account:
everyone gets the status code (200 all fine, 503 something needs the administrator) and one
terse line; only a signed-in officer also sees the checks of ``python -m pipeline doctor``
(``pipeline.operations.doctor``: disk, last consolidation, LibreOffice, typeface), since they
name folders, programs and versions that are nobody else's business. The page cannot import
Dagster, so the daemon's heartbeat line says where it is checked (``python -m assets doctor``).

The checks run programs (soffice, fc-match): they run in a worker thread, at most once per
``FRESH_SECONDS`` for the whole page, so a flood of requests starts no flood of programs."""

from __future__ import annotations

import threading
import time

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pipeline.operations.doctor import DAEMON, Check, checks
from pipeline.settings import Settings
from pipeline.web.auth import public, visitor
from pipeline.web.site import site_of

FRESH_SECONDS = 60


class RecentChecks:
    """The doctor's checks as last seen, looked at again once they are ``FRESH_SECONDS`` old
    (one look at a time: a request meanwhile waits for it and takes its result)."""

    def __init__(self) -> None:
        self.lock, self.seen, self.found = threading.Lock(), float("-inf"), []

    def get(self, settings: Settings) -> list[Check]:
        with self.lock:
            if time.monotonic() - self.seen >= FRESH_SECONDS:
                self.found, self.seen = checks(settings) + [DAEMON], time.monotonic()
            return self.found


@public
async def health(request: Request) -> Response:
    site = site_of(request)
    recent = getattr(request.app.state, "health", None)
    if recent is None:
        recent = request.app.state.health = RecentChecks()
    found = await run_in_threadpool(recent.get, site.settings)
    fine = not any(c.fine is False for c in found)
    return site.page(request, "health.html", 200 if fine else 503, fine=fine,
                     found=found if visitor(request).officer else [])


ROUTES = [Route("/suc-khoe", health)]
