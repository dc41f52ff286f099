"""A unit's pages (which the district's officers see too): its upload form with the blank
template, the verdict at once with the next step and "Gửi lại", its history, and its
feedback workbooks under a name the official recognises. A unit sees only itself; asking
about another unit answers the same 404 as asking about nothing."""

from __future__ import annotations

import itertools
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from pipeline.checking.feedback import unit_feedback_name
from pipeline.periods import PeriodError, is_closed, refuse_if_closed
from pipeline.states import SubmissionState, Verdict
from pipeline.text import slug
from pipeline.web.auth import check_csrf, may_see_unit, members, units, visitor
from pipeline.web.review import own_review
from pipeline.web.site import Site, findings_of, late, shown_name, site_of, templates
from pipeline.web.upload import (
    PLAN_SENDER,
    REFUSALS,
    VERDICTS,
    TooLarge,
    read_form,
    submit,
    too_large_message,
    unit_arrivals,
)

UNIT_TEMPLATE = "mau-bao-cao-don-vi.xlsx"
NEXT_STEPS = {  # what to do after a verdict
    Verdict.VALID: "Huyện đã nhận báo cáo. Số liệu sẽ được tổng hợp ở lần chạy tới: đơn vị không cần làm gì thêm.",
    Verdict.INVALID: "Hãy sửa các lỗi dưới đây trong tệp của đơn vị (tệp phản hồi tô màu các ô có lỗi), lưu lại "
                     "rồi bấm “Gửi lại” ngay bên dưới.",
}
REFUSED_NEXT_STEP = ("Hãy chọn đúng tệp báo cáo của đơn vị (làm trên mẫu báo cáo), rồi bấm “Gửi lại” ngay bên "
                     "dưới.")
PLAN_NEXT_STEPS = {  # the same, for the district's plan sent by an officer
    Verdict.VALID: "Kế hoạch đã vào hộp thư đến: số liệu được dùng khi huyện tiếp nhận và tổng hợp lại.",
    Verdict.INVALID: "Hãy sửa các lỗi dưới đây trong kế hoạch, lưu lại rồi bấm “Gửi lại” ngay bên dưới.",
}
PLAN_REFUSED_NEXT_STEP = "Hãy chọn đúng tệp kế hoạch của huyện (làm trên mẫu kế hoạch), rồi bấm “Gửi lại” ngay bên dưới."


def upload_url(period: str, unit: str, upload_id: str) -> str:
    return f"/tai-len/{quote(period)}/{quote(unit)}/{upload_id}"


def feedback_download_name(site: Site, unit: str, period: str) -> str:
    """The name a feedback workbook downloads under: phan-hoi-xa-phinh-sang-2023.xlsx."""
    who = "ke-hoach-huyen" if unit == PLAN_SENDER else slug(site.unit_name(unit))
    return f"phan-hoi-{who}-{slug(period)}.xlsx"


def findings_table(findings: list[dict]) -> str:
    """The findings as the verdict page shows them."""
    return templates.get_template("_findings.html").render(findings_of(findings))


def history(site: Site, key: str, unit: str) -> dict:
    """A unit's submissions for a period: its uploads (the name it sent, whether the district
    received it, whether its figures are in use), other files the district received, its state."""
    state = site.unit_status(key, unit)
    using = state.get("using", "")
    deadline = site.catalogue.periods[key].deadline
    records = site.uploads.records(key, unit)
    arrived = unit_arrivals(site.places, key, unit)
    received = {a["file_name"]: a["received_at"] for a in arrived}
    uploads = [{**r, "late": late(r["time"], deadline), "received": received.get(r["inbox_name"], ""),
                "in_use": bool(using) and r["inbox_name"] == using, "url": upload_url(key, unit, r["id"])}
               for r in records]
    sent = {r["inbox_name"] for r in records}
    others = [a | {"file_name": shown_name(a["file_name"]), "in_use": a["file_name"] == using}
              for a in arrived if a["file_name"] not in sent]
    sent_as = next((r["file_name"] for r in records if using and r["inbox_name"] == using), shown_name(using))
    newer = list(itertools.takewhile(lambda u: not u["received"], uploads))  # sent since the district last took one
    pending = [u for u in newer if u["inbox_name"]]
    return {"state": state, "using": sent_as, "uploads": uploads, "others": others, "pending": pending,
            "feedback": f"/tep/{quote(key)}/{state['feedback']}" if state.get("feedback") else ""}


def period_sections(site: Site, unit_code: str) -> list[dict]:
    unit = site.catalogue.find_unit(unit_code)
    return [{"key": key, "period": period, "closed": is_closed(site.catalogue, site.out, key),
             "history": history(site, key, unit_code), "review": own_review(site, key, unit_code)}
            for key, period in site.catalogue.periods.items() if unit is not None and site.catalogue.find_unit(unit_code, key)]


@units
async def unit_home(request: Request) -> Response:
    site, who = site_of(request), visitor(request)
    return site.page(request, "unit_home.html", unit=who.unit, name=site.unit_name(who.unit),
                     sections=period_sections(site, who.unit), blank=UNIT_TEMPLATE,
                     limit_mb=site.upload_limit // (1024 * 1024))


async def take_upload(request: Request, sender: str, home: str, what: str) -> Response:
    """A unit's report or the district's plan: within the quota, streamed up to the size
    limit, CSRF-checked, checked and (unless refused or already sent) put into the inbox."""
    site = site_of(request)
    key = request.path_params["period"]
    if key not in site.catalogue.periods:
        return site.not_found(request)
    try:
        refuse_if_closed(site.catalogue, site.out, key)
    except PeriodError as e:
        return site.message(request, "Kỳ đã khóa sổ", str(e), 409, home)
    def over_quota(coming: int) -> Response | None:
        told = site.uploads.over_quota(sender, site.settings.now().date(), coming, site.settings.upload_count_per_day,
                                       site.settings.upload_bytes_per_day)
        if not told:
            return None
        site.note("upload_over_quota", request, period=key, unit=sender)
        return site.message(request, "Đã gửi quá nhiều trong ngày", told, 429, home)

    if refused := over_quota(0):
        return refused
    try:
        form = await read_form(request, site.upload_limit)
    except TooLarge:
        site.note("upload_too_large", request, period=key)
        return site.message(request, "Tệp quá lớn", too_large_message(site.upload_limit), 413, home)
    try:
        check_csrf(request, form)
        sent = form.get("tep")
        if sent is None or isinstance(sent, str) or not sent.filename:
            return site.message(request, "Chưa chọn tệp", f"Hãy chọn tệp {what} rồi bấm “Gửi”.", 400, home)
        quota = (site.settings.upload_count_per_day, site.settings.upload_bytes_per_day)
        record = await run_in_threadpool(submit, site.catalogue, site.places, key, sender, sent.filename, sent.file,
                                         site.settings.now(), quota)
    finally:
        await form.close()
    if "over_quota" in record:  # checked again with the file in hand, one upload at a time
        site.note("upload_over_quota", request, period=key, unit=sender)
        return site.message(request, "Đã gửi quá nhiều trong ngày", record["over_quota"], 429, home)
    if record.get("repeated"):
        site.note("upload_repeated", request, period=key, unit=sender, file=record["sent_as"], same_as=record["id"])
        return RedirectResponse(upload_url(key, sender, record["id"]) + "?giong-het=1", 303)
    event = ("plan_upload" if sender == PLAN_SENDER else "upload") + ("_refused" if record["verdict"] in REFUSALS else "")
    changes = {"changes": "; ".join(record["changes"])} if record["changes"] else {}
    site.note(event, request, period=key, unit=sender, file=record["file_name"], size=record["size"],
              sha256=record["sha256"], verdict=record["verdict"], errors=record["errors"], warnings=record["warnings"],
              **changes)
    return RedirectResponse(upload_url(key, sender, record["id"]), 303)


@units
async def upload(request: Request) -> Response:
    return await take_upload(request, visitor(request).unit, "/don-vi", "báo cáo")


def _upload_asked(request: Request) -> tuple[str, str, str, bool]:
    key, unit, upload_id = (request.path_params[k] for k in ("period", "unit", "id"))
    allowed = may_see_unit(request, unit) or (unit == PLAN_SENDER and visitor(request).officer)
    return key, unit, upload_id, allowed


@members
async def verdict(request: Request) -> Response:
    site, who = site_of(request), visitor(request)
    key, unit, upload_id, allowed = _upload_asked(request)
    record = site.uploads.record(key, unit, upload_id) if allowed and key in site.catalogue.periods else None
    if record is None:
        return site.not_found(request)
    verdict = record["verdict"]
    plan = unit == PLAN_SENDER
    steps, refused = (PLAN_NEXT_STEPS, PLAN_REFUSED_NEXT_STEP) if plan else (NEXT_STEPS, REFUSED_NEXT_STEP)
    may_resend = (who.officer if plan else who.unit == unit) and verdict != Verdict.VALID \
        and not is_closed(site.catalogue, site.out, key)
    return site.page(
        request, "verdict.html", record=record, key=key, unit=unit, plan=plan, state=SubmissionState.of(verdict),
        told=VERDICTS[verdict], next_step=steps.get(verdict, refused), **findings_of(record["findings"]),
        late=late(record["time"], site.catalogue.periods[key].deadline), repeated="giong-het" in request.query_params,
        feedback=upload_url(key, unit, upload_id) + "/phan-hoi",
        resend_to=(f"/ke-hoach/{quote(key)}" if plan else f"/nop/{quote(key)}") if may_resend else "",
        back="/don-vi" if who.unit else "/can-bo" if plan else f"/lich-su/{quote(key)}/{quote(unit)}",
        limit_mb=site.upload_limit // (1024 * 1024))


@members
async def verdict_feedback(request: Request) -> Response:
    site = site_of(request)
    key, unit, upload_id, allowed = _upload_asked(request)
    name = feedback_download_name(site, unit, key)
    return site.send(request, site.uploads.feedback(key, unit, upload_id) if allowed else None, name, private=True,
                     period=key, unit=unit, file=name)


@members
async def published_feedback(request: Request) -> Response:
    """A feedback workbook the pipeline published: a unit's own, or any for an officer (those of
    the units and of the files no unit could be told for)."""
    site, who = site_of(request), visitor(request)
    key, name = request.path_params["period"], request.path_params["name"]
    if key not in site.catalogue.periods:
        return site.not_found(request)
    owners = {unit_feedback_name(u.code, key): u.code for u in site.catalogue.units_in(key)}
    listed = {f["feedback"] for f in (site.period(key) or {}).get("unidentified", []) if f.get("feedback")}
    owner = owners.get(name)
    allowed = (who.officer and (owner is not None or f"phan-hoi/{name}" in listed)) or (owner is not None and owner == who.unit)
    shown = feedback_download_name(site, owner, key) if owner else name
    return site.send(request, site.out / key / "phan-hoi" / name if allowed else None, shown, private=True,
                     period=key, unit=owner or "", file=shown)


@members
async def unit_history(request: Request) -> Response:
    site, who = site_of(request), visitor(request)
    key, unit = request.path_params["period"], request.path_params["unit"]
    known = site.catalogue.find_unit(unit)
    if not may_see_unit(request, unit) or key not in site.catalogue.periods or known is None:
        return site.not_found(request)
    return site.page(request, "history_page.html", unit=unit, name=known.name, key=key,
                     period=site.catalogue.periods[key], history=history(site, key, unit),
                     back="/can-bo" if who.officer else "/don-vi")


ROUTES = [
    Route("/don-vi", unit_home),
    Route("/nop/{period}", upload, methods=["POST"]),
    Route("/tai-len/{period}/{unit}/{id}", verdict),
    Route("/tai-len/{period}/{unit}/{id}/phan-hoi", verdict_feedback),
    Route("/tep/{period}/phan-hoi/{name}", published_feedback),
    Route("/lich-su/{period}/{unit}", unit_history),
]
