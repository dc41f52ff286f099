"""The download page: periods, each unit's status (a coloured grid), the published Biểu,
the feedback workbooks and the blank templates. Plain HTML, no JavaScript, readable on a
phone. It serves only files under ``data/out/`` and ``templates_xlsx/`` and reads the
status files the pipeline writes (a period's Biểu from the set in use, so the page never
mixes two sets; its units as the latest intake told them, and the files nobody could
attribute to a unit); it never opens the database."""

from __future__ import annotations

import html
import json
from pathlib import Path
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Route

from pipeline.publication.status import STATUS_FILE, current_view
from pipeline.settings import PROJECT_ROOT

DOWNLOADABLE = {".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".zip": "application/zip"}
STYLE = """
body{font-family:"Times New Roman",serif;margin:0 auto;max-width:960px;padding:12px;color:#111}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.4em}table{border-collapse:collapse;width:100%}
td,th{border:1px solid #999;padding:4px 6px;text-align:left;vertical-align:top}th{background:#ddebf7}
.hop_le{background:#c6efce}.khong_hop_le{background:#ffc7ce}.chua_nop{background:#eee}
.legend span{display:inline-block;padding:2px 8px;margin-right:6px;border:1px solid #999}
a{color:#1f4e9a}ul{padding-left:1.2em}li{margin:3px 0}.note{color:#555;font-size:.9em}
@media (max-width:600px){td,th{font-size:.85em;padding:3px}.hide-small{display:none}}
"""


def _page(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(
        f'<!doctype html><html lang="vi"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{html.escape(title)}</title>'
        f"<style>{STYLE}</style></head><body>{body}</body></html>"
    )


def _link(href: str, text: str) -> str:
    return f'<a href="{html.escape(href)}">{html.escape(text)}</a>'


def _inside(base: Path, relative: str) -> Path | None:
    """The file at ``relative`` under ``base``, or None if it escapes ``base`` or is not downloadable."""
    try:
        candidate = (base / relative).resolve()
    except (OSError, ValueError):
        return None
    if not candidate.is_relative_to(base.resolve()) or not candidate.is_file() or candidate.suffix not in DOWNLOADABLE:
        return None
    return candidate


def _download(path: Path | None) -> Response:
    if path is None:
        return HTMLResponse("<h1>404 – Không tìm thấy tệp</h1>", status_code=404)
    ascii_name = path.name.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(path.name)}"
    return FileResponse(path, media_type=DOWNLOADABLE[path.suffix], headers={"Content-Disposition": disposition})


def _bieu_heading(document: dict) -> str:
    span = document.get("bieu_span")
    return f"Biểu {span} của huyện" if span else "Các biểu của huyện"


def create_app(data: Path, templates: Path = PROJECT_ROOT / "templates_xlsx") -> Starlette:
    out = data / "out"

    def status() -> dict:
        try:
            return json.loads((out / STATUS_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {"periods": []}

    async def index(request: Request) -> HTMLResponse:
        periods = status()["periods"]
        items = "".join(f"<li>{_link('/ky/' + quote(p['key']), p['label'])}"
                        f"{' – đã khóa sổ' if p['closed'] else ''}</li>" for p in periods)
        if not items:
            items = "<li>Chưa có kết quả tổng hợp nào: hãy chạy quy trình tổng hợp.</li>"
        blanks = "".join(f"<li>{_link('/mau/' + quote(p.name), p.name)}</li>" for p in sorted(templates.glob("*.xlsx")))
        body = (f"<h1>Báo cáo giảm nghèo bền vững – tải về</h1><h2>Kỳ báo cáo</h2><ul>{items}</ul>"
                f"<h2>Mẫu báo cáo để gửi các đơn vị</h2><ul>{blanks}</ul>")
        return _page("Báo cáo giảm nghèo bền vững", body)

    async def period_page(request: Request) -> HTMLResponse:
        key = request.path_params["period"]
        document = status()
        period = next((p for p in document["periods"] if p["key"] == key), None)
        if period is None:
            return HTMLResponse("<h1>404 – Không có kỳ báo cáo này</h1>", status_code=404)
        period = {**period, **current_view(out, key)}
        base = f"/tep/{quote(key)}/"
        rows = "".join(
            f'<tr class="{u["state"]}"><td>{html.escape(u["code"])}</td><td>{html.escape(u["name"])}</td>'
            f'<td>{html.escape(u["label"])}</td><td>{u["errors"]}</td><td>{u["warnings"]}</td>'
            f'<td class="hide-small">{html.escape(u["received_at"])}</td>'
            f'<td>{_link(base + u["feedback"], "Phản hồi") if u["feedback"] else ""}</td></tr>'
            for u in period["units"])
        counts = {state: sum(u["state"] == state for u in period["units"]) for state in ("hop_le", "khong_hop_le", "chua_nop")}
        bieu = "".join(f"<li>{_link(base + name, name)}</li>" for name in period["bieu"] + period["all_in_one"])
        unidentified = "".join(
            f"<tr><td>{html.escape(f['file_name'])}</td><td>{html.escape(f['reason'])}</td>"
            f'<td class="hide-small">{html.escape(f["received_at"])}</td>'
            f"<td>{_link(base + f['feedback'], 'Phản hồi') if f['feedback'] else ''}</td></tr>"
            for f in period["unidentified"])
        final = "".join(f"<li>{_link(base + 'chinh-thuc/' + name, name)}</li>" for name in period["final"])
        body = (
            f"<p>{_link('/', '← Các kỳ báo cáo')}</p><h1>{html.escape(period['label'])}</h1>"
            f"<p>Hạn nộp: {html.escape(period['deadline'])}{' · Kỳ đã khóa sổ' if period['closed'] else ''}</p>"
            f'<h2>Tình trạng báo cáo của các đơn vị</h2><p class="legend"><span class="hop_le">Hợp lệ: {counts["hop_le"]}</span>'
            f'<span class="khong_hop_le">Không hợp lệ: {counts["khong_hop_le"]}</span>'
            f'<span class="chua_nop">Chưa nộp: {counts["chua_nop"]}</span></p>'
            f"<table><tr><th>Mã</th><th>Đơn vị</th><th>Trạng thái</th><th>Lỗi</th><th>Cảnh báo</th>"
            f'<th class="hide-small">Nhận lúc</th><th>Tệp phản hồi</th></tr>{rows}</table>'
            + (f"<h2>Tệp không xác định được đơn vị</h2><table><tr><th>Tệp</th><th>Lý do</th>"
               f'<th class="hide-small">Nhận lúc</th><th>Tệp phản hồi</th></tr>{unidentified}</table>' if unidentified else "")
            +
            f"<h2>{html.escape(_bieu_heading(document))}</h2><ul>{bieu or '<li>Chưa có biểu nào.</li>'}</ul>"
            + (f"<h2>Bộ biểu chính thức (đã khóa sổ)</h2><ul>{final}</ul>" if final else "")
            + '<p class="note">Trang này chỉ đọc các tệp do quy trình tổng hợp ghi ra.</p>'
        )
        return _page(period["label"], body)

    async def period_file(request: Request) -> Response:
        key = request.path_params["period"]
        if "/" in key or key.startswith("."):
            return _download(None)
        return _download(_inside(out / key, request.path_params["path"]))

    async def blank(request: Request) -> Response:
        return _download(_inside(templates, request.path_params["name"]))

    return Starlette(routes=[
        Route("/", index),
        Route("/ky/{period}", period_page),
        Route("/tep/{period}/{path:path}", period_file),
        Route("/mau/{name}", blank),
    ])


def screenshot_pages(data: Path, period: str, out: Path) -> list[Path]:
    """The main page and a period's page, served on a free local port and photographed by
    headless Chromium (Debian's chromium with the playwright package), as a phone shows them."""
    import shutil
    import socket
    import threading
    import time

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
            for name, path in (("trang-tai-ve.png", "/"), (f"trang-ky-{period}.png", f"/ky/{quote(period)}")):
                page.goto(f"http://127.0.0.1:{port}{path}")
                page.screenshot(path=str(out / name), full_page=True)
                shots.append(out / name)
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    return shots
