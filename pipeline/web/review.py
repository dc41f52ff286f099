"""The review on the page (issue 28): each unit's review state in the officers' grid; an
officer's page per unit (the version in use told by when it came, its findings, its figures
against the unit's previous version and previous period, the largest changes first) with the
forms to approve or return with a comment; several units approved at once from the grid; and a
returned unit's written reply. Every decision goes through ``pipeline.review`` (the rules the
command line meets too, and its audit line), is CSRF-checked; a refusal is its Vietnamese reason.

The grid and the unit's page read the states from the status files and the decision records,
never waiting for the warehouse; a unit's review page and a decision use it (as the command
line does)."""

from __future__ import annotations

from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pipeline.errors import UserError
from pipeline.intake.take_in import decide_and_tell
from pipeline.review import (
    OFFICER,
    UNIT,
    ACTION_WORDS,
    Action,
    Actor,
    Decision,
    ReviewRefused,
    examine,
    reply,
    read_decisions,
    unit_history,
)
from pipeline.states import ReviewState
from pipeline.text import show_number
from pipeline.web.auth import check_csrf, officers, units, visitor
from pipeline.web.site import Site, findings_of, site_of, without_server_names

COMMENT_FIELD, VERSION_FIELD, ACTION_FIELD, UNITS_FIELD, REPLY_FIELD = "y-kien", "phien-ban", "viec", "don-vi", "giai-trinh"
FORM_PART_BYTES = 16 * 1024  # a comment or a reply, with room to spare
ACTIONS = {"duyet": Action.APPROVE, "tra-lai": Action.RETURN}
DONE = {Action.APPROVE: "Đã duyệt báo cáo của {names}.",
        Action.RETURN: "Đã trả lại báo cáo của {names} kèm ý kiến: đơn vị sẽ thấy ý kiến trên trang của mình."}
DECIDABLE = (ReviewState.RECEIVED, ReviewState.RETURNED)
SPOKEN = {Action.APPROVE: "Cán bộ huyện duyệt", Action.RETURN: "Cán bộ huyện trả lại", Action.REOPEN: "Cán bộ huyện mở lại",
          Action.REPLY: "Đơn vị giải trình"}


def review_url(period: str, unit: str = "") -> str:
    return f"/can-bo/xet-duyet/{quote(period)}" + (f"/{quote(unit)}" if unit else "")


def states(site: Site, key: str) -> dict[str, tuple[str, str]]:
    """Each expected unit's review state (value, label) without opening the warehouse (a run may
    hold it for minutes): as the pipeline last wrote it in the status files, with the decisions
    recorded since on the version the status names (the records are read as they are written)."""
    period = site.period(key) or {"units": []}
    last = {}
    for decision in read_decisions(site.places.archive, key):
        if decision.action in ACTION_WORDS:
            last[decision.unit] = decision
    found = {}
    for unit in period["units"]:
        state = unit.get("review", "")
        decision = last.get(unit["code"])
        if decision is not None and state in DECIDABLE + (ReviewState.APPROVED,) and decision.file_name == unit.get("using"):
            state = decision.state
        if state:
            found[unit["code"]] = (state, ReviewState(state).label)
    return found


def spoken(decision: Decision) -> dict:
    """A decision or a reply as a unit's page and the officer's page tell it."""
    return {"what": SPOKEN.get(decision.action, decision.action), "by": decision.by, "at": decision.at,
            "comment": decision.comment, "kind": decision.action}


def own_review(site: Site, key: str, unit: str) -> dict:
    """A unit's own review for its page: its state and its own decisions and replies (never
    another unit's), and whether it may answer in writing now."""
    state = states(site, key).get(unit)
    said = [spoken(d) for d in unit_history(site.places, key, unit)]
    return {"state": state[0] if state else "", "label": state[1] if state else "", "said": said,
            "may_reply": bool(state) and state[0] == ReviewState.RETURNED}


def _outcome_page(site: Site, request: Request, key: str, action: Action, outcomes, back: str) -> Response:
    taken = [o for o in outcomes if o.decision]  # each audited by pipeline.review as it was recorded
    refused = [o.refusal for o in outcomes if o.refusal]
    if refused and not taken:
        return site.message(request, "Không thực hiện được", " ".join(refused), 409, back)
    done = DONE[action].format(names=", ".join(site.unit_name(o.unit) for o in taken))
    return site.page(request, "review_done.html", title="Đã ghi quyết định", done=done, refused=refused, back=back)


def _change(share) -> str:
    """"giảm 48%", "tăng 6%" ("" when the figure did not change)."""
    if not share:
        return ""
    return f"{'tăng' if share > 0 else 'giảm'} {show_number(round(abs(share) * 100))}%"


@officers
async def review_page(request: Request) -> Response:
    site = site_of(request)
    key, unit = request.path_params["period"], request.path_params["unit"]
    if key not in site.catalogue.periods:
        return site.not_found(request)
    try:
        seen = await run_in_threadpool(examine, site.catalogue, site.places, key, unit)
    except UserError as e:
        return site.message(request, "Chưa xem được", str(e), 503, "/can-bo")
    if seen is None:
        return site.not_found(request)
    changes = [{"label": c.label, "form": c.form, "value": _number(c.value), "version": _number(c.before_version),
                "period": _number(c.before_period), "share": _change(c.share)}
               for c in seen.changes]
    said = [spoken(d) for d in unit_history(site.places, key, unit)]
    return site.page(request, "review_unit.html", key=key, period=site.catalogue.periods[key], review=seen.review,
                     changes=changes, earlier_version=seen.earlier_version, earlier_period=seen.earlier_period,
                     said=said, decidable=seen.review.state in DECIDABLE,
                     csrf=visitor(request).session.csrf, action_url=review_url(key, unit),
                     history=f"/lich-su/{quote(key)}/{quote(unit)}",
                     **findings_of([f | {"message": without_server_names(f["message"])} for f in seen.findings]))


def _number(value) -> str:
    return "" if value is None else show_number(value)


@officers
async def review_decide(request: Request) -> Response:
    site = site_of(request)
    key, unit = request.path_params["period"], request.path_params["unit"]
    form = await request.form(max_files=0, max_fields=5, max_part_size=FORM_PART_BYTES)
    check_csrf(request, form)
    action = ACTIONS.get(str(form.get(ACTION_FIELD, "")))
    if key not in site.catalogue.periods or action is None:
        return site.not_found(request)
    return await _decide(request, site, key, [unit], action, str(form.get(COMMENT_FIELD, "")),
                         str(form.get(VERSION_FIELD, "")) or None, review_url(key, unit))


@officers
async def review_approve_many(request: Request) -> Response:
    """Several units approved at once from the grid (the boxes ticked)."""
    site = site_of(request)
    key = request.path_params["period"]
    form = await request.form(max_files=0, max_fields=len(site.catalogue.units) + 2, max_part_size=1024)
    check_csrf(request, form)
    if key not in site.catalogue.periods:
        return site.not_found(request)
    chosen = list(dict.fromkeys(str(u) for u in form.getlist(UNITS_FIELD)))
    if not chosen:
        return site.message(request, "Chưa chọn đơn vị", "Hãy đánh dấu các đơn vị cần duyệt rồi bấm “Duyệt các đơn vị "
                            "đã chọn”.", 400, "/can-bo")
    return await _decide(request, site, key, chosen, Action.APPROVE, "", None, "/can-bo")


async def _decide(request: Request, site: Site, key: str, chosen: list[str], action: Action, comment: str,
                  version: str | None, back: str) -> Response:
    actor = Actor(visitor(request).display_name, OFFICER)
    try:
        outcomes = await run_in_threadpool(decide_and_tell, site.catalogue, site.places, key, chosen, action, actor,
                                           site.settings.now(), comment, version)
    except ReviewRefused as e:
        return site.message(request, "Không thực hiện được", str(e), 409, back)
    except UserError as e:
        return site.message(request, "Chưa ghi được", str(e), 503, back)
    return _outcome_page(site, request, key, action, outcomes, back)


@units
async def unit_reply(request: Request) -> Response:
    site, who = site_of(request), visitor(request)
    key = request.path_params["period"]
    form = await request.form(max_files=0, max_fields=2, max_part_size=FORM_PART_BYTES)
    check_csrf(request, form)
    if key not in site.catalogue.periods:
        return site.not_found(request)
    try:
        outcome = await run_in_threadpool(reply, site.catalogue, site.places, key,
                                          Actor(site.unit_name(who.unit), UNIT, who.unit),
                                          site.settings.now(), str(form.get(REPLY_FIELD, "")))
    except UserError as e:
        return site.message(request, "Chưa gửi được", str(e), 503, "/don-vi")
    if outcome.refusal:
        return site.message(request, "Chưa gửi được", outcome.refusal, 409, "/don-vi")
    return site.page(request, "review_done.html", title="Đã gửi giải trình",
                     done="Đã gửi giải trình của đơn vị cho huyện: cán bộ huyện sẽ xem và duyệt hoặc hỏi thêm.",
                     refused=[], back="/don-vi")


ROUTES = [
    Route("/can-bo/xet-duyet/{period}", review_approve_many, methods=["POST"]),
    Route("/can-bo/xet-duyet/{period}/{unit}", review_page),
    Route("/can-bo/xet-duyet/{period}/{unit}/quyet-dinh", review_decide, methods=["POST"]),
    Route("/giai-trinh/{period}", unit_reply, methods=["POST"]),
]
