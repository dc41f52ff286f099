"""The district officers' pages: every unit's status with its error counts (linking to the
reasons), the files no unit could be told for, the plan's upload, the report's draft, the
signed-in sessions (which an officer can end) and the audit log, a page at a time and
filtered by unit, action and day."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from pipeline.periods import is_closed
from pipeline.publication.report import report_name
from pipeline.states import ReviewState, Verdict
from pipeline.web.access import OFFICER, UNIT, AuditQuery, end_sessions, role_name
from pipeline.web.auth import check_csrf, officers, visitor
from pipeline.web.review import review_url
from pipeline.web.review import states as review_states
from pipeline.web.site import Site, site_of
from pipeline.web.unit import take_upload, upload_url
from pipeline.web.upload import PLAN_SENDER, VERDICTS

AUDIT_PAGE = 50
EVENT_LABELS = {
    "sign_in": "Đăng nhập", "sign_in_failed": "Đăng nhập sai mã", "sign_in_refused": "Đăng nhập bị chặn (sai quá nhiều)",
    "sign_out": "Đăng xuất", "sessions_ended": "Cán bộ kết thúc phiên", "upload": "Nộp báo cáo",
    "upload_refused": "Nộp báo cáo bị từ chối", "upload_repeated": "Gửi lại tệp giống hệt",
    "upload_over_quota": "Vượt mức gửi trong ngày", "upload_too_large": "Tệp gửi lên quá lớn",
    "access_issued": "Cấp mã truy cập", "access_revoked": "Thu hồi quyền truy cập", "download": "Tải tệp",
    "plan_upload": "Gửi kế hoạch của huyện", "plan_upload_refused": "Gửi kế hoạch bị từ chối",
    "review_approve": "Duyệt báo cáo", "review_return": "Trả lại báo cáo", "review_reopen": "Mở lại báo cáo đã duyệt",
    "review_reply": "Đơn vị giải trình", "review_hold": "Giữ lại tệp mới của đơn vị đã duyệt",
    "review_close_override": "Khóa sổ khi chưa duyệt đủ",
}
AUDIT_FIELDS = {"period": "kỳ", "file": "tệp", "size": "cỡ (byte)", "verdict": "kết quả", "errors": "lỗi",
                "warnings": "cảnh báo", "role": "vai trò", "by": "bởi", "login": "tên đã nhập", "changes": "thay đổi",
                "count": "số lần", "ended": "số phiên", "comment": "ý kiến",
                "state": "trạng thái"}
AUDIT_HIDDEN = ("time", "event", "account", "client", "unit", "sha256", "same_as", "file_hash")  # shown in columns, or internal


def grid(site: Site, key: str, reviews: dict[str, tuple[str, str]]) -> list[dict]:
    """The period's units as the latest intake told them, with where their errors are explained,
    and their review state (``reviews``: unit -> the state's value and label)."""
    period = site.period(key) or {"units": []}
    states = {u["code"]: u for u in period["units"]}
    rows = []
    for unit in site.catalogue.units_in(key):
        state = states.get(unit.code, {"state": "chua_nop", "label": "Chưa nộp", "errors": 0, "warnings": 0})
        history = f"/lich-su/{key}/{unit.code}"
        latest = next(iter(site.uploads.records(key, unit.code)), None)
        reasons = (f"/tep/{key}/{state['feedback']}" if state.get("feedback")
                   else upload_url(key, unit.code, latest["id"]) if latest else history)
        rows.append({"code": unit.code, "name": unit.name, **state, "history": history, "reasons": reasons,
                     "uploads": len(site.uploads.records(key, unit.code)),
                     "late": state.get("on_time") is False, "review": reviews.get(unit.code, ("", ""))[0],
                     "review_label": reviews.get(unit.code, ("", ""))[1], "review_url": review_url(key, unit.code)})
    return rows


def report_files(site: Site, key: str) -> dict[str, Path]:
    """The officers' files of a period, by name: the report's draft as published with the set,
    and its PDF render when `pipeline report` made one (outside out/)."""
    draft = report_name(key)
    render = site.preview_folder(key) / Path(draft).with_suffix(".pdf").name
    files = {draft: site.out / key / draft} if draft in (site.period(key) or {}).get("report", []) else {}
    return files | ({render.name: render} if render.is_file() else {})


@officers
async def officer_home(request: Request) -> Response:
    site = site_of(request)
    sections = []
    for key, period in site.catalogue.periods.items():
        status = site.period(key) or {}
        reviews = review_states(site, key)
        sections.append({
            "key": key, "period": period, "closed": is_closed(site.catalogue, site.out, key),
            "units": grid(site, key, reviews), "approvable": ReviewState.RECEIVED.value,
            "approve_url": review_url(key),
            "unidentified": status.get("unidentified", []),
            "plans": [r | {"url": upload_url(key, PLAN_SENDER, r["id"])} for r in site.uploads.records(key, PLAN_SENDER)],
            "report": list(report_files(site, key))})
    by_login: dict[str, list[dict]] = {}
    for session in site.sessions.active():
        by_login.setdefault(session["login"], []).append(session)
    active = [{"login": login, "name": site.unit_name(login), "count": len(held), "started": held[-1]["started"],
               "clients": ", ".join(sorted({s["client"] for s in held}))} for login, held in by_login.items()]
    return site.page(request, "officer_home.html", sections=sections, sessions=active, verdicts=VERDICTS,
                     csrf=visitor(request).session.csrf)


@officers
async def plan_upload(request: Request) -> Response:
    return await take_upload(request, PLAN_SENDER, "/can-bo", "kế hoạch")


@officers
async def officer_file(request: Request) -> Response:
    """The report's draft (published with the set) and its PDF render (kept outside out/)."""
    site = site_of(request)
    key, name = request.path_params["period"], request.path_params["name"]
    return site.send(request, report_files(site, key).get(name), private=True, period=key, file=name)


@officers
async def end_unit_sessions(request: Request) -> Response:
    site = site_of(request)
    form = await request.form(max_files=0, max_fields=2, max_part_size=1024)
    check_csrf(request, form)
    login = request.path_params["login"]
    ended = end_sessions(site.store.folder, login)
    site.note("sessions_ended", request, unit=login, ended=ended)
    return RedirectResponse("/can-bo", 303)


def _details(site: Site, entry: dict) -> str:
    """An audit entry's other fields, in Vietnamese: unit names, file names without folders."""
    def value(key: str, raw) -> str:
        if key == "verdict":
            try:
                return Verdict(raw).label
            except ValueError:
                return str(raw)
        if key == "state" and raw in set(ReviewState):
            return ReviewState(raw).label
        if key == "role":
            return role_name(raw) if raw in (UNIT, OFFICER) else str(raw)
        if key == "file":
            return str(raw).rsplit("/", 1)[-1]
        return str(raw)
    return "; ".join(f"{AUDIT_FIELDS.get(k, k)}: {value(k, v)}" for k, v in entry.items() if k not in AUDIT_HIDDEN)


def _who(site: Site, login: str) -> str:
    unit = site.catalogue.find_unit(login) if login else None
    return f"{unit.name} ({unit.code})" if unit else login


@officers
async def audit_page(request: Request) -> Response:
    site = site_of(request)
    asked = request.query_params
    day = asked.get("ngay", "")
    try:
        day = dt.date.fromisoformat(day).isoformat() if day else ""
    except ValueError:
        day = ""
    query = AuditQuery(unit=asked.get("don-vi", "")[:32], event=asked.get("viec", "") if asked.get("viec") in EVENT_LABELS else "",
                       day=day)
    page = int(asked["trang"]) if asked.get("trang", "").isdigit() and 0 < int(asked["trang"]) < 10**6 else 1
    entries, more = site.audit.entries(query, skip=(page - 1) * AUDIT_PAGE, last=AUDIT_PAGE)
    rows = [{"time": e.get("time", ""), "event": EVENT_LABELS.get(e.get("event", ""), str(e.get("event", ""))),
             "who": _who(site, str(e.get("account") or "")), "client": str(e.get("client", "")),
             "unit": _who(site, str(e.get("unit") or "")) if e.get("unit") not in (None, "", e.get("account")) else "",
             "details": _details(site, e)} for e in entries]

    def link(to: int) -> str:
        return "/nhat-ky?" + urlencode({k: v for k, v in (("don-vi", query.unit), ("viec", query.event),
                                                          ("ngay", query.day), ("trang", to)) if v})
    units = [(u.code, u.name) for u in site.catalogue.units]
    return site.page(request, "audit.html", rows=rows, query=query, events=EVENT_LABELS, units=units, page=page,
                     newer=link(page - 1) if page > 1 else "", older=link(page + 1) if more else "")


ROUTES = [
    Route("/can-bo", officer_home),
    Route("/can-bo/tep/{period}/{name}", officer_file),
    Route("/can-bo/phien/{login}/ket-thuc", end_unit_sessions, methods=["POST"]),
    Route("/ke-hoach/{period}", plan_upload, methods=["POST"]),
    Route("/nhat-ky", audit_page),
]
