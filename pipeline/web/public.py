"""The pages for everyone: the periods, the published Biểu and the blank templates; signing
in and out. A file is served only if its name is on a list (the period's published set, the
final set of a closed period, the templates folder); any other name, existing or not, gets
the same 404."""

from __future__ import annotations

import datetime as dt

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from pipeline.catalogue.lineage import changes
from pipeline.periods import final_folder
from pipeline.publication.workbooks import INCOMPLETE
from pipeline.states import SubmissionState
from pipeline.web.access import COOKIE, OFFICER, typed_login
from pipeline.web.auth import check_csrf, members, public, visitor
from pipeline.web.site import Site, site_of

BIEU_PREFIX = "Bieu_"


def with_cookie(site: Site, response: Response, request: Request, cookie: str | None) -> Response:
    if cookie is None:
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax")
    else:
        response.set_cookie(COOKIE, cookie, max_age=int(site.sessions.seconds), path="/", httponly=True,
                            samesite="lax", secure=request.url.scheme == "https")
    return response


@public
async def index(request: Request) -> Response:
    site = site_of(request)
    return site.page(request, "index.html", periods=site.status()["periods"], blanks=list(site.blanks()))


def bieu_rows(site: Site, period: dict) -> list[dict]:
    """The period's published workbooks with their titles (from the catalogue), PDF copies and
    the units missing from each."""
    pdfs, missing = set(period.get("pdf", [])), period.get("incomplete", {})
    rows = []
    for name in period.get("bieu", []) + period.get("all_in_one", []):
        code = name.removeprefix(BIEU_PREFIX).rsplit("_", 1)[0]
        bieu = site.catalogue.bieu.get(code)
        title = f"Biểu {code}: {bieu.title}" if bieu else ("Tất cả các biểu trong một tệp nén" if name.endswith(".zip")
                                                         else "Tất cả các biểu trong một tệp")
        pdf = name.rsplit(".", 1)[0] + ".pdf"
        rows.append({"name": name, "title": title, "pdf": pdf if name.endswith(".xlsx") and pdf in pdfs else "",
                     "missing": missing.get(name, [])})
    return rows


@public
async def units_page(request: Request) -> Response:
    """The units by period of validity and what became of them (lineage.csv), with whether each
    row and each code is confirmed; an unconfirmed code asks an officer to fill it."""
    site = site_of(request)
    catalogue = site.catalogue
    listed = sorted((u for u in catalogue.units if u.reports), key=lambda u: (u.valid_from or dt.date.min, not u.is_commune))
    return site.page(request, "units.html", units=listed, changes=changes(catalogue.lineage, catalogue.units))


@public
async def period_page(request: Request) -> Response:
    site, who = site_of(request), visitor(request)
    key = request.path_params["period"]
    period = site.period(key)
    if period is None:
        return site.not_found(request)
    shown = [u for u in period["units"] if who.officer or (who.unit and u["code"] == who.unit)]
    counts = {state: sum(u["state"] == state for u in period["units"]) for state in SubmissionState}
    bieu = bieu_rows(site, period)
    missing = {tuple(b["missing"]) for b in bieu if b["missing"]}
    return site.page(request, "period.html", period=period, key=key, units=shown, counts=counts, bieu=bieu,
                     missing_once=list(missing.pop()) if len(missing) == 1 else [], span=site.status().get("bieu_span", ""), incomplete=INCOMPLETE,
                     deadline=site.catalogue.periods[key].deadline if key in site.catalogue.periods else None)


@public
async def published_file(request: Request) -> Response:
    site = site_of(request)
    key, name = request.path_params["period"], request.path_params["name"]
    return site.send(request, site.out / key / name if name in site.published(key) else None, period=key, file=name)


@public
async def final_file(request: Request) -> Response:
    site = site_of(request)
    key, name = request.path_params["period"], request.path_params["name"]
    return site.send(request, final_folder(site.out, key) / name if name in site.final(key) else None,
                     period=key, file=f"chính thức/{name}")


@public
async def blank(request: Request) -> Response:
    site = site_of(request)
    return site.send(request, site.blanks().get(request.path_params["name"]), file=f"mẫu/{request.path_params['name']}")


def sign_in_page(request: Request, session, message: str = "", status_code: int = 200) -> Response:
    return site_of(request).page(request, "sign_in.html", status_code, csrf=session.csrf, message=message)


@public
async def sign_in_form(request: Request) -> Response:
    site, session = site_of(request), visitor(request).session
    if session is not None and session.account is not None:
        return RedirectResponse("/can-bo" if session.officer else "/don-vi", 303)
    cookie = None
    if session is None:
        session, cookie = site.sessions.new()
    response = sign_in_page(request, session)
    return with_cookie(site, response, request, cookie) if cookie else response


@public
async def sign_in(request: Request) -> Response:
    site, session = site_of(request), visitor(request).session
    form = await request.form(max_files=0, max_fields=4, max_part_size=1024)
    check_csrf(request, form)
    if session.account is not None:
        return RedirectResponse("/can-bo" if session.officer else "/don-vi", 303)
    login, code = typed_login(str(form.get("ten", ""))), str(form.get("ma", ""))[:64]
    address = request.client.host if request.client else ""
    if site.limit.wait(address, login) > 0:
        count = site.limit.refused(address)
        if count:
            site.note("sign_in_refused", request, login=login, count=count)
        return sign_in_page(request, session, "Địa chỉ này đã nhập sai mã nhiều lần: hãy chờ vài phút rồi thử lại.", 429)
    account = await run_in_threadpool(site.store.verify, login, code)
    if account is None:
        site.limit.failed(address, login)
        site.note("sign_in_failed", request, login=login)
        return sign_in_page(request, session, "Mã đơn vị (tên tài khoản) hoặc mã truy cập không đúng.", 401)
    signed, cookie = site.sessions.new(account, address)
    site.audit.record("sign_in", site.settings.now(), account=account.login, client=address)
    return with_cookie(site, RedirectResponse("/can-bo" if account.role == OFFICER else "/don-vi", 303), request, cookie)


@members
async def sign_out(request: Request) -> Response:
    site = site_of(request)
    form = await request.form(max_files=0, max_fields=2, max_part_size=1024)
    check_csrf(request, form)
    site.note("sign_out", request)
    site.sessions.end(visitor(request).session)
    return with_cookie(site, RedirectResponse("/", 303), request, None)


ROUTES = [
    Route("/", index),
    Route("/ky/{period}", period_page),
    Route("/don-vi-hanh-chinh", units_page),
    Route("/tep/{period}/chinh-thuc/{name}", final_file),
    Route("/tep/{period}/{name}", published_file),
    Route("/mau/{name}", blank),
    Route("/dang-nhap", sign_in_form, methods=["GET"]),
    Route("/dang-nhap", sign_in, methods=["POST"]),
    Route("/dang-xuat", sign_out, methods=["POST"]),
]
