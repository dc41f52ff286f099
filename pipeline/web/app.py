"""The district's page: periods, the published Biểu and the blank templates for everyone
(``public``); for a signed-in unit, its upload form, the verdict at once and its own history
and feedback (``unit``); for the district's officers, every unit's status, the files no unit
could be told for, the report's draft and the audit log (``officer``). HTML from Jinja2
templates (``templates/``), no JavaScript, readable on a phone.

This module puts the pieces together: the routes of the three audiences, Starlette's
authentication middleware over the server-side sessions (``auth``, ``access``), the security
headers, the body deadline and the error pages. The page reads only the status files the
pipeline writes and the upload records; it never opens the database; uploads go into the
inbox (``upload``)."""

from __future__ import annotations

import time
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import RedirectResponse, Response

from pipeline.settings import PROJECT_ROOT, Settings
from pipeline.web import health, officer, public, review, unit
from pipeline.web.auth import SessionBackend
from pipeline.web.server import BodyDeadline, SlowBody
from pipeline.web.site import PRIVATE, STYLE_HASH, Site, site_of
from pipeline.web.upload import UPLOAD_LIMIT_BYTES

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"content-security-policy", f"default-src 'none'; style-src 'sha256-{STYLE_HASH}'; img-src 'self'; "
                                 "form-action 'self'; frame-ancestors 'none'; base-uri 'none'".encode()),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]
ROUTES = public.ROUTES + unit.ROUTES + officer.ROUTES + review.ROUTES + health.ROUTES


class SecurityHeaders:
    """Adds the security headers to every response, and ``Cache-Control: private, no-store``
    unless the response chose its own."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def with_headers(message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"cache-control" for name, _ in headers):
                    headers.append((b"cache-control", PRIVATE.encode()))
                message["headers"] = headers + SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, with_headers)


async def _http_error(request: Request, exc: HTTPException) -> Response:
    site = site_of(request)
    if exc.status_code == 401:  # not signed in: the way in, whatever was asked
        return RedirectResponse("/dang-nhap", 303)
    if exc.status_code == 404:
        return site.not_found(request)
    if exc.status_code == 403:
        return site.message(request, "Yêu cầu không hợp lệ", "Biểu mẫu đã hết hạn hoặc không phải từ trang này gửi "
                            "đi. Hãy tải lại trang rồi làm lại.", 403, "/dang-nhap")
    if exc.status_code == 405:
        return site.message(request, "Không hợp lệ", "Trang này không nhận kiểu yêu cầu đó.", 405)
    return site.message(request, "Không hợp lệ", "Yêu cầu không hợp lệ: hãy tải lại trang rồi làm lại.", exc.status_code)


async def _slow_body(request: Request, exc: SlowBody) -> Response:
    return site_of(request).message(request, "Gửi quá chậm", "Tệp gửi lên quá chậm nên đã bị dừng: hãy thử lại khi "
                                    "mạng ổn định hơn.", 408)


async def _gone(request: Request, exc: ClientDisconnect) -> Response:
    """The client went away mid-request: nobody to answer, nothing to log."""
    return Response(status_code=400)


def create_app(data: Path, templates: Path = PROJECT_ROOT / "templates_xlsx", settings: Settings | None = None,
               clock=time.time, upload_limit: int = UPLOAD_LIMIT_BYTES) -> Starlette:
    """The page for the data folder ``data``; ``settings`` (the unit list, the inbox, the clock,
    quotas and deadlines) default to the ``TUANGIAO_*`` variables; ``clock`` times the sessions."""
    settings = settings or Settings.from_environment(data_dir=str(data))
    site = Site(settings, templates, upload_limit, clock)
    app = Starlette(routes=ROUTES, middleware=[
        Middleware(SecurityHeaders),
        Middleware(BodyDeadline, seconds=settings.body_seconds, rate=settings.body_bytes_per_second),
        Middleware(AuthenticationMiddleware, backend=SessionBackend(site.sessions)),
    ], exception_handlers={HTTPException: _http_error, SlowBody: _slow_body, ClientDisconnect: _gone})
    app.router.redirect_slashes = False  # a path with a slash added is not another name for a page
    app.state.site = site
    return app


def screenshot_pages(data: Path, period: str, out: Path) -> list[Path]:
    """The main page and a period's page, served on a free local port and photographed by
    headless Chromium (Debian's chromium with the playwright package), as a phone shows them."""
    import shutil
    import socket
    import threading

    import uvicorn

    from pipeline.errors import UserError

    chromium = shutil.which("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    if chromium is None or sync_playwright is None:
        raise UserError("Chưa có Chromium (gói chromium) hoặc playwright: bỏ qua ảnh chụp trang tải về.")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(data), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    out.mkdir(parents=True, exist_ok=True)
    shots = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--no-first-run", "--disable-sync"])
            page = browser.new_page(viewport={"width": 390, "height": 844})
            for name, path in (("trang-tai-ve.png", "/"), (f"trang-ky-{period}.png", f"/ky/{period}")):
                page.goto(f"http://127.0.0.1:{port}{path}")
                page.screenshot(path=str(out / name), full_page=True)
                shots.append(out / name)
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    return shots
