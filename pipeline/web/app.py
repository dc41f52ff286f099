"""The district's page: periods, the published Biểu and the blank templates for everyone;
for a signed-in unit, its upload form, the verdict at once and its own history and
feedback; for the district's officers, every unit's status (a coloured grid), history and
the audit log. Plain HTML, no JavaScript, readable on a phone.

Who may see what (``pipeline.web.access`` holds the accounts and sessions): the Biểu and
templates are public, as they are the district's published aggregates and what a unit
needs before it has access; a feedback workbook, an upload's verdict and a unit's history
belong to that unit and to the officers; the status grid, other units, the draft of the
evaluation report and the audit log to the officers. Every file is authorised by the session, whatever its name.

The page serves only files under ``data/out/``, ``templates_xlsx/`` and the upload records,
reads the status files the pipeline writes (a period's Biểu from the set in use, so the page
never mixes two sets; its units as the latest intake told them, and the files nobody could
attribute to a unit) and the archive's arrival records; it never opens the
database. Uploads go into the inbox (``pipeline.web.upload``)."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import time
from pathlib import Path
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from pipeline.checking.feedback import unit_feedback_name
from pipeline.checking.findings import Finding
from pipeline.checking.report import FindingsReport
from pipeline.intake.take_in import feedback_dir
from pipeline.periods import PeriodError, is_closed, refuse_if_closed
from pipeline.publication.report import report_name
from pipeline.publication.workbooks import INCOMPLETE
from pipeline.publication.status import STATUS_FILE, current_view
from pipeline.settings import PROJECT_ROOT, Settings
from pipeline.states import SubmissionState, Verdict
from pipeline.text import name_list, show_number
from pipeline.web.access import (
    COOKIE,
    OFFICER,
    UNIT,
    AccessStore,
    Audit,
    Session,
    Sessions,
    SignInLimit,
    role_name,
    signing_key,
)
from pipeline.web.upload import (
    PLAN_SENDER,
    REFUSALS,
    UPLOAD_LIMIT_BYTES,
    VERDICTS,
    TooLarge,
    Uploads,
    read_form,
    submit,
    too_large_message,
    unit_arrivals,
)

DOWNLOADABLE = {".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".zip": "application/zip",
                ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document", ".pdf": "application/pdf"}
STATE_COLOURS = {SubmissionState.VALID: "#c6efce", SubmissionState.INVALID: "#ffc7ce", SubmissionState.MISSING: "#eee"}
STYLE = """
body{font-family:"Times New Roman",serif;margin:0 auto;max-width:960px;padding:12px;color:#111}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.4em}table{border-collapse:collapse;width:100%}
td,th{border:1px solid #999;padding:4px 6px;text-align:left;vertical-align:top}th{background:#ddebf7}
""" + "".join(f".{state}{{background:{colour}}}" for state, colour in STATE_COLOURS.items()) + """
.legend span{display:inline-block;padding:2px 8px;margin-right:6px;border:1px solid #999}
a{color:#1f4e9a}ul{padding-left:1.2em}li{margin:3px 0}.note{color:#555;font-size:.9em}
.bar{border-bottom:1px solid #999;padding-bottom:6px}.bar form{display:inline;margin-left:6px}
form.box{border:1px solid #999;padding:8px;margin:8px 0}label{display:block;margin:6px 0}
input[type=text],input[type=password]{font-size:1em;padding:4px;width:16em;max-width:90%}
button{font-size:1em;padding:4px 12px}.message{border:2px solid #c00;padding:6px;background:#fff0f0}
@media (max-width:600px){td,th{font-size:.85em;padding:3px}.hide-small{display:none}}
"""
STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"content-security-policy", f"default-src 'none'; style-src 'sha256-{STYLE_HASH}'; img-src 'self'; "
                                 "form-action 'self'; frame-ancestors 'none'; base-uri 'none'".encode()),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]
EVENT_LABELS = {
    "sign_in": "Đăng nhập", "sign_in_failed": "Đăng nhập sai mã", "sign_in_refused": "Đăng nhập bị chặn (sai quá nhiều)",
    "sign_out": "Đăng xuất", "upload": "Nộp báo cáo", "upload_refused": "Nộp báo cáo bị từ chối",
    "upload_too_large": "Tệp gửi lên quá lớn", "access_issued": "Cấp mã truy cập", "access_revoked": "Thu hồi quyền truy cập",
    "download": "Tải tệp", "plan_upload": "Gửi kế hoạch của huyện", "plan_upload_refused": "Gửi kế hoạch bị từ chối",
}
AUDIT_FIELDS = {"period": "kỳ", "unit": "đơn vị", "file": "tệp", "size": "cỡ (byte)", "sha256": "SHA-256",
                "verdict": "kết quả", "errors": "lỗi", "warnings": "cảnh báo", "role": "vai trò", "by": "bởi",
                "login": "tên đã nhập", "changes": "thay đổi"}
PRIVATE = "private, no-store"


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


def _page(title: str, body: str, session: Session | None = None, status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(
        f'<!doctype html><html lang="vi"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{html.escape(title)}</title>'
        f"<style>{STYLE}</style></head><body>{_bar(session)}{body}</body></html>",
        status_code=status_code,
    )


def _bar(session: Session | None) -> str:
    """Who is signed in, with the way to their page and out; or the way in."""
    if session is None or session.account is None:
        return f'<div class="bar">{_link("/", "Trang chủ")} · {_link("/dang-nhap", "Đăng nhập")}</div>'
    home = ("/can-bo", "Trang cán bộ huyện") if session.officer else ("/don-vi", "Trang của đơn vị")
    who = f"cán bộ {session.account.login}" if session.officer else f"đơn vị {session.account.login}"
    return (f'<div class="bar">{_link("/", "Trang chủ")} · {_link(*home)} · Đang đăng nhập: {html.escape(who)}'
            f'<form method="post" action="/dang-xuat">{_csrf(session)}<button>Đăng xuất</button></form></div>')


def _csrf(session: Session) -> str:
    return f'<input type="hidden" name="csrf" value="{html.escape(session.csrf)}">'


def _link(href: str, text: str) -> str:
    return f'<a href="{html.escape(href)}">{html.escape(text)}</a>'


def _not_found(session: Session | None = None, what: str = "Không tìm thấy trang hoặc tệp này") -> HTMLResponse:
    return _page("Không tìm thấy", f"<h1>404 – {html.escape(what)}</h1>", session, 404)


def _inside(base: Path, relative: str) -> Path | None:
    """The file at ``relative`` under ``base``, or None if it escapes ``base``, is not
    downloadable or its name cannot be a file's (too long, a NUL)."""
    try:
        candidate = (base / relative).resolve()
        if not candidate.is_relative_to(base.resolve()) or candidate.suffix not in DOWNLOADABLE or not candidate.is_file():
            return None
    except (OSError, ValueError):
        return None
    return candidate


def _download(path: Path | None, private: bool = False) -> Response:
    if path is None:
        return _not_found(what="Không tìm thấy tệp")
    ascii_name = path.name.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(path.name)}"
    return FileResponse(path, media_type=DOWNLOADABLE[path.suffix], headers={
        "Content-Disposition": disposition, "Cache-Control": PRIVATE if private else "no-cache"})


def _pdf_link(base: str, workbook: str, pdfs: list[str]) -> str:
    """The print-ready PDF next to its workbook, when the set has one."""
    pdf = Path(workbook).with_suffix(".pdf").name
    return f" · {_link(base + pdf, 'Bản PDF để in')}" if workbook.endswith(".xlsx") and pdf in pdfs else ""


def _bieu_heading(document: dict) -> str:
    span = document.get("bieu_span")
    return f"Biểu {span} của huyện" if span else "Các biểu của huyện"


def _audit_details(entry: dict, shown: tuple[str, ...]) -> str:
    """An audit entry's other fields, in Vietnamese."""
    def value(key: str, raw) -> str:
        if key == "verdict":
            return Verdict(raw).label
        if key == "role":
            return role_name(raw) if raw in (UNIT, OFFICER) else str(raw)
        return str(raw)
    return "; ".join(f"{AUDIT_FIELDS.get(k, k)}: {value(k, v)}" for k, v in entry.items() if k not in shown)


def _upload_url(period: str, unit: str, upload_id: str) -> str:
    return f"/tai-len/{quote(period)}/{quote(unit)}/{upload_id}"


def _findings_table(findings: list[dict]) -> str:
    """An upload record's findings (as stored) in the report's columns."""
    report = FindingsReport([Finding(**f) for f in findings])
    if not report.findings:
        return "<p>Không có lỗi hay cảnh báo nào.</p>"
    head = "".join(f"<th>{html.escape(header)}</th>" for header in report.headers)
    rows = "".join(f'<tr class="{SubmissionState.INVALID if f.is_error else ""}">'
                   + "".join(f"<td>{html.escape(cell)}</td>" for cell in cells) + "</tr>"
                   for f, cells in zip(report.findings, report.flatten()))
    return f"<table><tr>{head}</tr>{rows}</table>"


def create_app(data: Path, templates: Path = PROJECT_ROOT / "templates_xlsx", settings: Settings | None = None,
               clock=time.time, upload_limit: int = UPLOAD_LIMIT_BYTES) -> Starlette:
    """The page for the data folder ``data``; ``settings`` (the unit list, the inbox, the clock)
    default to the ``TUANGIAO_*`` variables; ``clock`` times the sessions."""
    settings = settings or Settings.from_environment(data_dir=str(data))
    catalogue, places = settings.catalogue, settings.places
    out = data / "out"
    store, audit, uploads = AccessStore(data), Audit(data), Uploads.under(data)
    sessions = Sessions(signing_key(data), store, clock)
    limit = SignInLimit()

    def status() -> dict:
        try:
            return json.loads((out / STATUS_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {"periods": []}

    def period_of(key: str) -> dict | None:
        """The period's status: its files as in the set in use, its units as the latest intake told them."""
        period = next((p for p in status()["periods"] if p["key"] == key), None)
        return None if period is None else {**period, **current_view(out, key)}

    def unit_status(key: str, unit: str) -> dict:
        period = period_of(key) or {"units": []}
        return next((u for u in period["units"] if u["code"] == unit), {})

    def session_of(request: Request) -> Session | None:
        return sessions.read(request.cookies.get(COOKIE))

    def with_cookie(response: Response, request: Request, cookie: str | None) -> Response:
        if cookie is None:
            response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax")
        else:
            response.set_cookie(COOKIE, cookie, max_age=int(sessions.seconds), path="/", httponly=True,
                                samesite="lax", secure=request.url.scheme == "https")
        return response

    def client(request: Request) -> str:
        return request.client.host if request.client else ""

    def note(event: str, request: Request, session: Session | None, **details) -> None:
        audit.record(event, settings.now(), account=session.account.login if session and session.account else "",
                     client=client(request), **details)

    def refused(session: Session | None) -> HTMLResponse:
        return _page("Không hợp lệ", "<h1>Yêu cầu không hợp lệ</h1><p class=\"message\">Biểu mẫu đã hết hạn hoặc không "
                     f"phải từ trang này gửi đi. Hãy tải lại trang rồi làm lại. {_link('/dang-nhap', 'Đăng nhập')}</p>",
                     session, 403)

    def sign_in_needed() -> Response:
        return RedirectResponse("/dang-nhap", status_code=303)

    async def index(request: Request) -> HTMLResponse:
        periods = status()["periods"]
        items = "".join(f"<li>{_link('/ky/' + quote(p['key']), p['label'])}"
                        f"{' – đã khóa sổ' if p['closed'] else ''}</li>" for p in periods)
        if not items:
            items = "<li>Chưa có kết quả tổng hợp nào: hãy chạy quy trình tổng hợp.</li>"
        blanks = "".join(f"<li>{_link('/mau/' + quote(p.name), p.name)}</li>" for p in sorted(templates.glob("*.xlsx")))
        body = (f"<h1>Báo cáo giảm nghèo bền vững – tải về</h1><h2>Kỳ báo cáo</h2><ul>{items}</ul>"
                f"<h2>Mẫu báo cáo để gửi các đơn vị</h2><ul>{blanks}</ul>"
                '<p class="note">Các đơn vị nộp báo cáo và xem phản hồi sau khi đăng nhập bằng mã truy cập do huyện cấp.</p>')
        return _page("Báo cáo giảm nghèo bền vững", body, session_of(request))

    async def period_page(request: Request) -> HTMLResponse:
        session = session_of(request)
        key = request.path_params["period"]
        document = status()
        period = period_of(key)
        if period is None:
            return _not_found(session, "Không có kỳ báo cáo này")
        base = f"/tep/{quote(key)}/"
        shown = [u for u in period["units"] if session is not None and (session.officer or u["code"] == session.unit)]
        rows = "".join(
            f'<tr class="{u["state"]}"><td>{html.escape(u["code"])}</td><td>{html.escape(u["name"])}</td>'
            f'<td>{html.escape(u["label"])}</td><td>{u["errors"]}</td><td>{u["warnings"]}</td>'
            f'<td class="hide-small">{html.escape(u["received_at"])}</td>'
            f'<td>{_link(base + u["feedback"], "Phản hồi") if u["feedback"] else ""}</td></tr>'
            for u in shown)
        counts = {state: sum(u["state"] == state for u in period["units"]) for state in SubmissionState}
        missing = period.get("incomplete", {})
        bieu = "".join(f"<li>{_link(base + name, name)}{_pdf_link(base, name, period.get('pdf', []))}"
                       + (f' <span class="{SubmissionState.INVALID}">{INCOMPLETE}: thiếu '
                          f"{html.escape(name_list(missing[name]))}</span>" if name in missing else "") + "</li>"
                       for name in period["bieu"] + period["all_in_one"])
        if period.get("pdf_note"):  # the set was published without its PDFs: say so beside the Biểu
            bieu += f'<li class="{SubmissionState.INVALID}">Chưa có bản PDF để in: {html.escape(period["pdf_note"])}</li>'
        officer = session is not None and session.officer
        report = "".join(f"<li>{_link(base + name, name)}</li>" for name in period.get("report", []) if officer)
        unidentified = "".join(
            f"<tr><td>{html.escape(f['file_name'])}</td><td>{html.escape(f['reason'])}</td>"
            f'<td class="hide-small">{html.escape(f["received_at"])}</td>'
            f"<td>{_link(base + f['feedback'], 'Phản hồi') if f['feedback'] else ''}</td></tr>"
            for f in period["unidentified"]) if officer else ""
        final = "".join(f"<li>{_link(base + 'chinh-thuc/' + name, name)}</li>" for name in period["final"])
        if session is not None and session.officer:
            legend = '<p class="legend">' + "".join(f'<span class="{state}">{state.label}: {count}</span>'
                                                    for state, count in counts.items()) + "</p>"
        elif session is not None and session.unit:
            legend = '<p class="note">Đơn vị chỉ xem được dòng của mình.</p>'
        else:
            legend = f'<p class="note">{_link("/dang-nhap", "Đăng nhập")} để xem tình trạng báo cáo.</p>'
        body = (
            f"<p>{_link('/', '← Các kỳ báo cáo')}</p><h1>{html.escape(period['label'])}</h1>"
            f"<p>Hạn nộp: {html.escape(period['deadline'])}{' · Kỳ đã khóa sổ' if period['closed'] else ''}</p>"
            f'<h2>Tình trạng báo cáo của các đơn vị</h2>{legend}'
            + (f"<table><tr><th>Mã</th><th>Đơn vị</th><th>Trạng thái</th><th>Lỗi</th><th>Cảnh báo</th>"
               f'<th class="hide-small">Nhận lúc</th><th>Tệp phản hồi</th></tr>{rows}</table>' if shown else "")
            + (f"<h2>Tệp không xác định được đơn vị</h2><table><tr><th>Tệp</th><th>Lý do</th>"
               f'<th class="hide-small">Nhận lúc</th><th>Tệp phản hồi</th></tr>{unidentified}</table>' if unidentified else "")
            + f"<h2>{html.escape(_bieu_heading(document))}</h2><ul>{bieu or '<li>Chưa có biểu nào.</li>'}</ul>"
            + (f"<h2>Dự thảo báo cáo đánh giá</h2><ul>{report}</ul>"
               '<p class="note">Số liệu trong dự thảo ghi từ các biểu trên; các phần trong ngoặc vuông do cán bộ '
               "soạn thảo viết.</p>" if report else "")
            + (f"<h2>Bộ biểu chính thức (đã khóa sổ)</h2><ul>{final}</ul>" if final else "")
            + '<p class="note">Trang này chỉ đọc các tệp do quy trình tổng hợp ghi ra.</p>'
        )
        return _page(period["label"], body, session)

    async def period_file(request: Request) -> Response:
        """A published file for everyone; a feedback workbook only for its unit and the officers; the
        report's draft only for the officers."""
        session = session_of(request)
        key = request.path_params["period"]
        if "/" in key or key.startswith(".") or period_of(key) is None:
            return _not_found(session, "Không tìm thấy tệp")
        path = _inside(out / key, request.path_params["path"])
        private = path is not None and path.is_relative_to(feedback_dir(out, key).resolve())
        draft = path is not None and path.name == report_name(key)
        if draft and (session is None or not session.officer):
            return sign_in_needed() if session is None or session.account is None else _not_found(session, "Không tìm thấy tệp")
        private = private or draft
        if private:
            if session is None or session.account is None:
                return sign_in_needed()
            if not session.officer and path.name != unit_feedback_name(session.unit, key):
                return _not_found(session, "Không tìm thấy tệp")
        if path is not None:
            note("download", request, session, file=f"{key}/{path.relative_to((out / key).resolve())}")
        return _download(path, private)

    async def blank(request: Request) -> Response:
        path = _inside(templates, request.path_params["name"])
        if path is not None:
            note("download", request, session_of(request), file=f"mẫu/{path.name}")
        return _download(path)

    async def sign_in_form(request: Request) -> Response:
        session = session_of(request)
        cookie = None
        if session is None:
            session, cookie = sessions.new()
        response = _sign_in_page(session)
        return with_cookie(response, request, cookie) if cookie else response

    def _sign_in_page(session: Session, message: str = "", status_code: int = 200) -> HTMLResponse:
        shown = f'<p class="message">{html.escape(message)}</p>' if message else ""
        body = (f"<h1>Đăng nhập</h1>{shown}<form class=\"box\" method=\"post\" action=\"/dang-nhap\">{_csrf(session)}"
                '<label>Mã đơn vị (hoặc tên tài khoản cán bộ huyện)<br><input type="text" name="ten" required '
                'autocomplete="username"></label><label>Mã truy cập<br><input type="password" name="ma" required '
                'autocomplete="current-password"></label><button>Đăng nhập</button></form>'
                '<p class="note">Mã truy cập do cán bộ huyện cấp cho từng đơn vị. Quên hay lộ mã: hãy báo cán bộ huyện '
                "để được cấp mã mới (mã cũ thôi dùng được).</p>")
        return _page("Đăng nhập", body, None, status_code)

    async def sign_in(request: Request) -> Response:
        session = session_of(request)
        form = await request.form(max_files=0, max_fields=4, max_part_size=1024)
        if session is None or session.account is not None or form.get("csrf") != session.csrf:
            return refused(session)
        login, code = str(form.get("ten", "")).strip(), str(form.get("ma", ""))
        keys = [f"account:{login}", f"client:{client(request)}"]
        if limit.blocked(keys):
            note("sign_in_refused", request, None, login=login)
            return _sign_in_page(session, "Đã nhập sai mã quá nhiều lần trong một phút: hãy chờ một phút rồi thử lại.", 429)
        account = await run_in_threadpool(store.verify, login, code)
        if account is None:
            limit.failed(keys)
            note("sign_in_failed", request, None, login=login)
            return _sign_in_page(session, "Mã đơn vị (tên tài khoản) hoặc mã truy cập không đúng.", 401)
        signed, cookie = sessions.new(account)
        note("sign_in", request, signed)
        return with_cookie(RedirectResponse("/can-bo" if account.role == OFFICER else "/don-vi", 303), request, cookie)

    async def sign_out(request: Request) -> Response:
        session = session_of(request)
        form = await request.form(max_files=0, max_fields=2, max_part_size=1024)
        if session is None or form.get("csrf") != session.csrf:
            return refused(session)
        note("sign_out", request, session)
        return with_cookie(RedirectResponse("/", 303), request, None)

    def history(key: str, unit: str) -> str:
        """A unit's submissions for a period: its uploads, what intake recorded, which file is in use."""
        state = unit_status(key, unit)
        using = state.get("using", "")
        records = uploads.records(key, unit)
        sent_as = next((r["file_name"] for r in records if using and r["inbox_name"] == using), using)
        line = (f"<p>Tình trạng tổng hợp: <b>{html.escape(state['label'])}</b>"
                + (f" · đang dùng tệp {html.escape(sent_as)}" if using else "")
                + (f" · {_link(f'/tep/{quote(key)}/' + state['feedback'], 'Tệp phản hồi của huyện')}" if state.get("feedback") else "")
                + "</p>") if state else "<p>Chưa có trong kết quả tổng hợp (quy trình tổng hợp chưa chạy lại).</p>"
        rows = "".join(
            f'<tr class="{SubmissionState.of(r["verdict"])}"><td>{html.escape(r["time"].replace("T", " "))}</td>'
            f'<td>{html.escape(r["file_name"])}</td><td>{html.escape(VERDICTS[r["verdict"]])}</td><td>{r["errors"]}</td>'
            f'<td>{r["warnings"]}</td><td>{"Đang dùng" if using and r["inbox_name"] == using else ""}</td>'
            f'<td>{_link(_upload_url(key, unit, r["id"]), "Xem")}</td></tr>' for r in records)
        uploaded = (f"<table><tr><th>Lúc</th><th>Tệp</th><th>Kết quả</th><th>Lỗi</th><th>Cảnh báo</th><th>Số liệu</th>"
                    f"<th></th></tr>{rows}</table>") if rows else "<p>Chưa nộp tệp nào qua trang này.</p>"
        arrived = "".join(
            f"<tr><td>{html.escape(a['received_at'])}</td><td>{html.escape(a['file_name'])}</td>"
            f"<td>{'Đang dùng' if a['file_name'] == using else ''}</td></tr>" for a in unit_arrivals(places, key, unit))
        received = (f"<table><tr><th>Nhận lúc</th><th>Tệp trong hộp thư đến</th><th>Số liệu</th></tr>{arrived}</table>"
                    if arrived else "<p>Huyện chưa tiếp nhận tệp nào.</p>")
        return f"{line}<h3>Các lần nộp qua trang này</h3>{uploaded}<h3>Huyện đã tiếp nhận</h3>{received}"

    async def unit_home(request: Request) -> Response:
        session = session_of(request)
        if session is None or session.account is None:
            return sign_in_needed()
        if session.officer:
            return RedirectResponse("/can-bo", 303)
        unit = catalogue.find_unit(session.unit)
        sections = []
        for key, period in catalogue.periods.items():
            if unit is None or not unit.valid_in(key):
                continue
            if is_closed(catalogue, out, key):
                form = f'<p class="message">Kỳ {html.escape(key)} đã khóa sổ: không nhận thêm báo cáo.</p>'
            else:
                form = (f'<form class="box" method="post" action="/nop/{quote(key)}" enctype="multipart/form-data">'
                        f'{_csrf(session)}<label>Tệp báo cáo (.xlsx, tối đa {upload_limit // (1024 * 1024)} MB)<br>'
                        '<input type="file" name="tep" required accept=".xlsx,.ods,.xls"></label>'
                        "<button>Gửi báo cáo</button></form>")
            sections.append(f"<h2>{html.escape(period.label)} – hạn nộp {period.deadline:%d/%m/%Y}</h2>"
                            f"{form}{history(key, session.unit)}")
        name = unit.name if unit else session.unit
        body = f"<h1>{html.escape(name)} ({html.escape(session.unit)})</h1>" + "".join(sections)
        return _page(name, body, session)

    async def upload(request: Request) -> Response:
        """A unit's report, or (``/ke-hoach/…``) the district's plan from an officer."""
        session = session_of(request)
        plan = request.url.path.startswith("/ke-hoach/")
        if session is None or session.account is None or not (session.officer if plan else session.unit):
            return sign_in_needed() if session is None or session.account is None else _not_found(session)
        sender, home, what = (PLAN_SENDER, "/can-bo", "kế hoạch") if plan else (session.unit, "/don-vi", "báo cáo")
        key = request.path_params["period"]
        if key not in catalogue.periods:
            return _not_found(session, "Không có kỳ báo cáo này")
        try:
            refuse_if_closed(catalogue, out, key)
        except PeriodError as e:
            return _page("Kỳ đã khóa sổ", f'<h1>Không nhận {what}</h1><p class="message">{html.escape(str(e))}</p>'
                             f"<p>{_link(home, '← Quay lại')}</p>", session, 409)
        try:
            form = await read_form(request, upload_limit)
        except TooLarge:
            note("upload_too_large", request, session, period=key)
            return _page("Tệp quá lớn", f'<h1>Không nhận tệp</h1><p class="message">{html.escape(too_large_message(upload_limit))}'
                         f"</p><p>{_link(home, '← Quay lại')}</p>", session, 413)
        try:
            if form.get("csrf") != session.csrf:
                return refused(session)
            sent = form.get("tep")
            if sent is None or isinstance(sent, str) or not sent.filename:
                return _page("Chưa chọn tệp", f'<h1>Chưa chọn tệp</h1><p class="message">Hãy chọn tệp {what} rồi bấm '
                             f"“Gửi”.</p><p>{_link(home, '← Quay lại')}</p>", session, 400)
            record = await run_in_threadpool(submit, catalogue, places, key, sender, sent.filename, sent.file,
                                             settings.now())
        finally:
            await form.close()
        event = ("plan_upload" if plan else "upload") + ("_refused" if record["verdict"] in REFUSALS else "")
        changes = {"changes": "; ".join(record["changes"])} if record["changes"] else {}
        note(event, request, session, period=key, unit=sender, file=record["file_name"], size=record["size"],
             sha256=record["sha256"], verdict=record["verdict"], errors=record["errors"], warnings=record["warnings"],
             **changes)
        return RedirectResponse(_upload_url(key, sender, record["id"]), 303)

    def owner_or_officer(request: Request) -> tuple[Session | None, bool]:
        session = session_of(request)
        unit = request.path_params["unit"]
        return session, session is not None and (session.officer or (session.unit != "" and session.unit == unit))

    async def verdict(request: Request) -> Response:
        session, allowed = owner_or_officer(request)
        if session is None or session.account is None:
            return sign_in_needed()
        key, unit, upload_id = (request.path_params[k] for k in ("period", "unit", "id"))
        record = uploads.record(key, unit, upload_id) if allowed else None
        if record is None:
            return _not_found(session)
        state = SubmissionState.of(record["verdict"])
        feedback = _upload_url(key, unit, upload_id) + "/phan-hoi"
        back = "/don-vi" if session.unit else "/can-bo" if unit == PLAN_SENDER else f"/lich-su/{quote(key)}/{quote(unit)}"
        body = (f"<p>{_link(back, '← Quay lại')}</p>"
                f"<h1>Kết quả kiểm tra tệp {html.escape(record['file_name'])}</h1>"
                f'<p class="{state}"><b>{html.escape(VERDICTS[record["verdict"]])}</b> – {record["errors"]} lỗi, '
                f"{record['warnings']} cảnh báo.</p><p>Gửi lúc {html.escape(record['time'].replace('T', ' '))}, "
                f"{show_number(record['size'])} byte</p>"
                f"<p>{_link(feedback, 'Tải tệp phản hồi (Excel, các ô có lỗi được tô màu)')}</p>"
                + ("<h2>Thay đổi so với kế hoạch nhận trước</h2><ul>"
                   + "".join(f"<li>{html.escape(c)}</li>" for c in record["changes"]) + "</ul>"
                   if record.get("changes") else "")
                + f"<h2>Các lỗi và cảnh báo</h2>{_findings_table(record['findings'])}")
        return _page("Kết quả kiểm tra", body, session)

    async def verdict_feedback(request: Request) -> Response:
        session, allowed = owner_or_officer(request)
        if session is None or session.account is None:
            return sign_in_needed()
        key, unit, upload_id = (request.path_params[k] for k in ("period", "unit", "id"))
        path = uploads.feedback(key, unit, upload_id) if allowed else None
        if path is not None:
            note("download", request, session, file=f"tải lên/{key}/{unit}/{path.name}")
        return _download(path, private=True)

    def officer_only(request: Request) -> tuple[Session | None, Response | None]:
        session = session_of(request)
        if session is None or session.account is None:
            return session, sign_in_needed()
        if not session.officer:
            return session, _not_found(session)
        return session, None

    async def unit_history(request: Request) -> Response:
        session, allowed = owner_or_officer(request)
        if session is None or session.account is None:
            return sign_in_needed()
        key, unit = request.path_params["period"], request.path_params["unit"]
        known = catalogue.find_unit(unit)
        if not allowed or key not in catalogue.periods or known is None:
            return _not_found(session)
        body = (f"<p>{_link('/can-bo' if session.officer else '/don-vi', '← Quay lại')}</p>"
                f"<h1>{html.escape(known.name)} ({html.escape(unit)}) – {html.escape(catalogue.periods[key].label)}</h1>"
                f"{history(key, unit)}")
        return _page(known.name, body, session)

    async def officer_home(request: Request) -> Response:
        session, denied = officer_only(request)
        if denied:
            return denied
        sections = []
        for key, period in catalogue.periods.items():
            states = {u["code"]: u for u in (period_of(key) or {"units": []})["units"]}
            rows = "".join(
                f'<tr class="{states.get(u.code, {}).get("state", SubmissionState.MISSING)}"><td>{html.escape(u.code)}</td>'
                f"<td>{html.escape(u.name)}</td>"
                f'<td>{html.escape(states.get(u.code, {}).get("label", SubmissionState.MISSING.label))}</td>'
                f"<td>{len(uploads.records(key, u.code))}</td>"
                f"<td>{_link(f'/lich-su/{quote(key)}/{quote(u.code)}', 'Lịch sử')}</td></tr>"
                for u in catalogue.units_in(key))
            plans = "".join(f"<li>{_link(_upload_url(key, PLAN_SENDER, r['id']), r['time'].replace('T', ' '))}: "
                            f"{html.escape(r['file_name'])} – {html.escape(VERDICTS[r['verdict']])}</li>"
                            for r in uploads.records(key, PLAN_SENDER))
            plan_form = "" if is_closed(catalogue, out, key) else (
                f'<form class="box" method="post" action="/ke-hoach/{quote(key)}" enctype="multipart/form-data">'
                f"{_csrf(session)}<label>Kế hoạch của huyện (làm trên mẫu kế hoạch)<br>"
                '<input type="file" name="tep" required accept=".xlsx,.ods,.xls"></label>'
                "<button>Gửi kế hoạch</button></form>")
            sections.append(f"<h2>{html.escape(period.label)} · {_link('/ky/' + quote(key), 'Bảng tình trạng và các biểu')}</h2>"
                            f"{plan_form}" + (f"<ul>{plans}</ul>" if plans else "") +
                            "<table><tr><th>Mã</th><th>Đơn vị</th><th>Trạng thái</th><th>Số lần nộp qua trang</th><th></th>"
                            f"</tr>{rows}</table>")
        body = f"<h1>Trang cán bộ huyện</h1><p>{_link('/nhat-ky', 'Nhật ký truy cập')}</p>" + "".join(sections)
        return _page("Trang cán bộ huyện", body, session)

    async def audit_page(request: Request) -> Response:
        session, denied = officer_only(request)
        if denied:
            return denied
        shown = ("time", "event", "account", "client")
        rows = "".join(
            f"<tr><td>{html.escape(str(e.get('time', '')).replace('T', ' '))}</td>"
            f"<td>{html.escape(EVENT_LABELS.get(e.get('event', ''), str(e.get('event', ''))))}</td>"
            f"<td>{html.escape(str(e.get('account', '')))}</td><td>{html.escape(str(e.get('client', '')))}</td>"
            f"<td>{html.escape(_audit_details(e, shown))}</td></tr>"
            for e in audit.lines())
        body = ("<h1>Nhật ký truy cập</h1><p class=\"note\">200 dòng mới nhất; toàn bộ ở tệp access/audit.jsonl "
                "trong thư mục dữ liệu, hoặc lệnh <code>python -m pipeline access log</code>.</p>"
                f"<table><tr><th>Lúc</th><th>Việc</th><th>Tài khoản</th><th>Địa chỉ</th><th>Chi tiết</th></tr>{rows}</table>")
        return _page("Nhật ký truy cập", body, session)

    async def not_found(request: Request, exc: Exception) -> Response:
        return _not_found(session_of(request))

    async def bad_request(request: Request, exc: HTTPException) -> Response:
        if exc.status_code == 404:
            return _not_found(session_of(request))
        if exc.status_code == 405:
            return _page("Không hợp lệ", "<h1>405 – Trang này không nhận kiểu yêu cầu đó</h1>", session_of(request), 405)
        return _page("Không hợp lệ", "<h1>Yêu cầu không hợp lệ</h1><p>Hãy tải lại trang rồi làm lại.</p>",
                     session_of(request), exc.status_code)

    app = Starlette(routes=[
        Route("/", index),
        Route("/ky/{period}", period_page),
        Route("/tep/{period}/{path:path}", period_file),
        Route("/mau/{name}", blank),
        Route("/dang-nhap", sign_in_form, methods=["GET"]),
        Route("/dang-nhap", sign_in, methods=["POST"]),
        Route("/dang-xuat", sign_out, methods=["POST"]),
        Route("/don-vi", unit_home),
        Route("/nop/{period}", upload, methods=["POST"]),
        Route("/ke-hoach/{period}", upload, methods=["POST"]),
        Route("/tai-len/{period}/{unit}/{id}", verdict),
        Route("/tai-len/{period}/{unit}/{id}/phan-hoi", verdict_feedback),
        Route("/lich-su/{period}/{unit}", unit_history),
        Route("/can-bo", officer_home),
        Route("/nhat-ky", audit_page),
    ], exception_handlers={404: not_found, HTTPException: bad_request})
    app.add_middleware(SecurityHeaders)
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
            for name, path in (("trang-tai-ve.png", "/"), (f"trang-ky-{period}.png", f"/ky/{quote(period)}")):
                page.goto(f"http://127.0.0.1:{port}{path}")
                page.screenshot(path=str(out / name), full_page=True)
                shots.append(out / name)
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    return shots
