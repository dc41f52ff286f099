"""What every page of the site shares: the data folder's stores, the status files the pipeline
writes (the page never opens the database), the allowlists of what may be downloaded, the
audit, and the rendering of the Jinja2 templates (``templates/``, autoescaped) with the
filters that show dates as people in Vietnam read them (dd/mm/yyyy, Vietnam's time)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.templating import Jinja2Templates

from pipeline.catalogue import Catalogue
from pipeline.intake.inbox import UPLOADED
from pipeline.checking.findings import Finding
from pipeline.checking.report import FindingsReport
from pipeline.publication.status import STATUS_FILE, current_view
from pipeline.settings import Places, Settings, moment_of, shown_day, shown_moment
from pipeline.states import ReviewState, SubmissionState, Verdict
from pipeline.text import show_number
from pipeline.web.access import AccessStore, Audit, Sessions, SignInLimit, signing_key
from pipeline.web.auth import visitor
from pipeline.web.upload import Uploads

HERE = Path(__file__).resolve().parent
DOWNLOADABLE = {".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".zip": "application/zip",
                ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document", ".pdf": "application/pdf"}
STYLE = (HERE / "templates" / "site.css").read_text(encoding="utf-8")
STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
PRIVATE = "private, no-store"
QUOTED = re.compile(r'"([^"]+)"')
PREVIEW_FOLDER = "xem-truoc"  # <data>/xem-truoc/<period>/: previews and report renders, never under out/


def shown_name(inbox_name: str) -> str:
    """A file of the inbox as its sender knows it: an upload whose record is gone is told by
    when it was sent, never by the name the server gave it."""
    if UPLOADED.match(inbox_name) is None:
        return inbox_name
    sent = dt.datetime.strptime(inbox_name.rsplit("-tai-len-", 1)[1][:15], "%Y%m%d-%H%M%S")  # the upload's id
    return f"gửi qua trang lúc {shown_moment(sent)}"


def late(value, deadline: dt.date | str) -> bool:
    """Whether a time falls after the deadline's day."""
    moment = moment_of(value)
    deadline = dt.date.fromisoformat(deadline) if isinstance(deadline, str) else deadline
    return moment is not None and moment.date() > deadline


templates = Jinja2Templates(directory=HERE / "templates")
templates.env.globals.update(style=Markup(STYLE), states=SubmissionState, states_review=ReviewState, Verdict=Verdict,
                             quote=quote)
templates.env.filters.update(day=shown_day, moment=shown_moment, number=show_number, q=lambda text: quote(str(text)))


@dataclass
class Site:
    """The stores of the data folder ``data`` and what the pages read from it."""

    settings: Settings
    blanks_folder: Path
    upload_limit: int
    clock: object = time.time
    catalogue: Catalogue = field(init=False)
    places: Places = field(init=False)

    def __post_init__(self) -> None:
        self.catalogue, self.places = self.settings.catalogue, self.settings.places
        self.data, self.out = self.places.data, self.places.out
        self.store, self.audit, self.uploads = AccessStore(self.data), Audit(self.data, self.places.audit), Uploads.under(self.data)
        self.sessions = Sessions(signing_key(self.data), self.store, self.clock)
        self.limit = SignInLimit(self.clock)

    # The pipeline's status files.
    def status(self) -> dict:
        try:
            return json.loads((self.out / STATUS_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {"periods": []}

    def period(self, key: str) -> dict | None:
        """The period's status: its files as in the set in use, its units as the latest intake told them."""
        period = next((p for p in self.status()["periods"] if p["key"] == key), None)
        return None if period is None else {**period, **current_view(self.out, key)}

    def unit_status(self, key: str, unit: str) -> dict:
        period = self.period(key) or {"units": []}
        return next((u for u in period["units"] if u["code"] == unit), {})

    def unit_name(self, code: str) -> str:
        unit = self.catalogue.find_unit(code)
        return unit.name if unit else code

    # What may be downloaded: by name, from lists, never by a path the client sent.
    def published(self, key: str) -> set[str]:
        """The period's published set: its Biểu, their PDFs, the all-in-one workbook and the zip."""
        period = self.period(key) or {}
        return {*period.get("bieu", []), *period.get("all_in_one", []), *period.get("pdf", [])}

    def final(self, key: str) -> set[str]:
        period = self.period(key) or {}
        return set(period.get("final", []))

    def blanks(self) -> dict[str, Path]:
        return {p.name: p for p in sorted(self.blanks_folder.glob("*.xlsx"))}

    def preview_folder(self, key: str) -> Path:
        return self.data / PREVIEW_FOLDER / key

    # Pages.
    def note(self, event: str, request: Request, **details) -> None:
        who = visitor(request)
        self.audit.record(event, self.settings.now(), account=who.display_name,
                          client=request.client.host if request.client else "", **details)

    def send(self, request: Request, path: Path | None, name: str = "", private: bool = False,
             **noted) -> Response:
        """``path`` as a download named ``name`` (noted in the audit with ``noted``), or the page's
        404 when it is not there or not allowed (``path`` None): the same answer either way."""
        response = download(path, name, private)
        if response is None:
            return self.not_found(request)
        self.note("download", request, **noted)
        return response

    def page(self, request: Request, template: str, status_code: int = 200, **context) -> Response:
        return templates.TemplateResponse(request, template, {"who": visitor(request), **context},
                                          status_code=status_code)

    def message(self, request: Request, title: str, text: str, status_code: int, back: str = "") -> Response:
        return self.page(request, "message.html", status_code, title=title, text=text, back=back)

    def not_found(self, request: Request) -> Response:
        return self.page(request, "not_found.html", 404)


def findings_of(findings: list[dict]) -> dict:
    """Findings (as an upload record or the warehouse stores them) in the report's columns, for ``_findings.html``."""
    report = FindingsReport([Finding(**f) for f in findings])
    return {"headers": report.headers, "findings": [{"error": f.is_error, "cells": list(zip(report.headers, cells))}
                                                    for f, cells in zip(report.findings, report.flatten())]}


def without_server_names(text: str) -> str:
    """A message naming files (in quotes) with each upload's server name told as its sender
    knows it (``shown_name``)."""
    return QUOTED.sub(lambda m: shown_name(m[1]) if UPLOADED.match(m[1]) else m[0], text)


def site_of(request: Request) -> Site:
    return request.app.state.site


def download(path: Path | None, name: str = "", private: bool = False) -> Response | None:
    """A file as an attachment named ``name`` (its own name by default); None if it is not there."""
    if path is None or not path.is_file() or path.suffix not in DOWNLOADABLE:
        return None
    name = name or path.name
    ascii_name = name.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
    return FileResponse(path, media_type=DOWNLOADABLE[path.suffix], headers={
        "Content-Disposition": disposition, "Cache-Control": PRIVATE if private else "no-cache"})
