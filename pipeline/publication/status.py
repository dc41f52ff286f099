"""Submission status: for every unit of a period, whether it submitted, whether its latest
file is valid, its errors and warnings, which version is used, when it was received and
whether on time. Each published set carries its period's status (``out/<period>/status.json``,
switched in with the Biểu: the units as the Biểu were built from them); every intake writes the
units as they are now (``out/<period>/tiep-nhan.json``) and the files nobody could attribute to
a unit (``out/<period>/khong-xac-dinh.json``), which the page prefers for its grid;
``out/status.json`` lists every period for the download page, which never opens the database.
A unit whose latest file was refused (not readable as a report, so nothing was loaded) is
told "Không hợp lệ" from the archive's record of its arrival, never "Chưa nộp"."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb

from pipeline.catalogue import Catalogue
from pipeline.checking.feedback import unit_feedback_name, unreadable_feedback_name
from pipeline.failpoints import failpoint
from pipeline.files import atomic_output, remove_leftovers
from pipeline.intake.archive import arrivals
from pipeline.periods import closed_at, is_closed
from pipeline.publication.tables import Report
from pipeline.publication.workbooks import Publication
from pipeline.review import unit_reviews
from pipeline.settings import Places, shown_time
from pipeline.states import SubmissionState, Verdict
from pipeline.warehouse import loaded_versions, versions_by_unit

STATUS_FILE = "status.json"
INTAKE_FILE = "tiep-nhan.json"  # out/<period>/: the units as they are now
UNIDENTIFIED_FILE = "khong-xac-dinh.json"  # out/<period>/: files whose unit could not be told
USING_EARLIER = " (đang dùng bản hợp lệ trước)"
REFUSED = " (tệp không đọc được)"


@dataclass
class UnitStatus:
    code: str
    name: str
    state: SubmissionState
    label: str
    errors: int = 0
    warnings: int = 0
    versions: int = 0  # files received for this unit and period
    file_name: str = ""  # the latest file
    received_at: str = ""
    using: str = ""  # the file whose figures are used (the latest valid one)
    on_time: bool | None = None  # None: nothing received yet and the deadline has not passed
    feedback: str = ""  # the feedback workbook, relative to out/<period>/
    review: str = ""  # the ReviewState (pipeline.review); the officers' comments are not in status files
    review_label: str = ""


def period_status(conn: duckdb.DuckDBPyConnection, catalogue: Catalogue, out: Path, period: str,
                  today=None, archive: Path | None = None) -> list[UnitStatus]:
    """One status per unit valid in the period, communes first. With the ``archive``, a unit
    whose latest arrival was refused (never loaded) is invalid with that file as its latest."""
    deadline = catalogue.periods[period].deadline
    latest = versions_by_unit(conn, period)
    loaded = loaded_versions(conn, period) if archive is not None else None
    closed = is_closed(catalogue, out, period)
    since = closed_at(out, period) if closed else None
    statuses = []
    written = _names(out / period / "phan-hoi")  # one look at the folder, not one per unit
    for unit in catalogue.units_in(period):
        feedback = unit_feedback_name(unit.code, period)
        link = f"phan-hoi/{feedback}" if feedback in written else ""
        log = arrivals(archive, period, unit.code) if loaded is not None else []
        refused = log[-1] if log and (unit.code, log[-1].file_hash) not in loaded else None
        after_close = None  # a file received since the period was closed: refused, and told so
        if closed and refused is not None:
            if since is None or refused.received_at >= since:
                after_close = refused
            refused = None  # the unit as the period was closed with it
        if unit.code not in latest and refused is None:
            late = today is not None and today > deadline
            statuses.append(UnitStatus(unit.code, unit.name, SubmissionState.MISSING, SubmissionState.MISSING.label,
                                       on_time=False if late else None))
            if after_close is not None:
                _told_closed(statuses[-1], period, after_close, link)
            continue
        count, status, errors, warnings, file_name, received, using, first_valid = latest.get(
            unit.code, (0, None, 0, 0, "", None, None, None))
        if refused is not None:  # a refused file has exactly one finding: why it could not be read
            count, status, errors, warnings = count + 1, None, 1, 0
            file_name, received = refused.original_name, refused.received_at
            feedback = unreadable_feedback_name(file_name)
            link = f"phan-hoi/{feedback}" if feedback in written else ""
        state = SubmissionState.of(status)
        label = state.label + (REFUSED if refused is not None else "") + \
            (USING_EARLIER if state == SubmissionState.INVALID and using else "")
        statuses.append(UnitStatus(
            unit.code, unit.name, state, label, errors, warnings, count, file_name, shown_time(received),
            using or "", on_time=first_valid is not None and first_valid.date() <= deadline, feedback=link,
        ))
        if after_close is not None:
            _told_closed(statuses[-1], period, after_close, link)
    for status, review in zip(statuses, unit_reviews(conn, catalogue, period)):
        status.review, status.review_label = review.state.value, review.state.label
    return statuses


def _names(folder: Path) -> set[str]:
    """The names of the files in ``folder`` (none if there is no such folder)."""
    try:
        return {entry.name for entry in os.scandir(folder) if entry.is_file()}
    except OSError:
        return set()


def _records(statuses: list[UnitStatus]) -> list[dict]:
    """The statuses as JSON objects: ``asdict`` without its deep copy (every field is a plain
    value), which costs a tenth of a second a national status file."""
    return [dict(vars(s)) for s in statuses]


def _told_closed(status: UnitStatus, period: str, arrival, feedback: str) -> None:
    """A unit of a closed period that sent a file since: its state is the one it was closed with;
    the file is named, refused with its one finding (``ky_da_khoa``, in the unit's feedback)."""
    status.label = (f'Kỳ {period} đã khóa sổ: không nhận tệp "{arrival.original_name}" (số liệu đã khóa sổ: '
                    f"{status.label[0].lower()}{status.label[1:]})")
    status.versions += 1
    status.errors, status.warnings = 1, 0
    status.file_name, status.received_at, status.feedback = arrival.original_name, shown_time(arrival.received_at), feedback


def plan_label(conn: duckdb.DuckDBPyConnection, period: str) -> tuple[bool, str]:
    """Whether the period has a plan in use, and how its state is told: the plan in use comes
    from the warehouse, whichever inbox it was sent to."""
    plan = versions_by_unit(conn, period).get("")
    if plan is None:
        return False, SubmissionState.MISSING.label
    count, status, errors, _, file_name, received, using, _ = plan
    if status == Verdict.VALID:
        return True, f'{Verdict.VALID.label}: đang dùng "{file_name}" (nhận lúc {shown_time(received)})'
    told = f'{Verdict.INVALID.label}: "{file_name}" có {errors} lỗi'
    return bool(using), told + (f'; đang dùng bản hợp lệ trước "{using}"' if using else "")


@dataclass
class Unidentified:
    """A file of the inbox whose unit could not be told: why, when it came, its feedback."""

    file_name: str
    reason: str
    received_at: str = ""
    feedback: str = ""  # relative to out/<period>/


def _write_json(path: Path, document: object) -> Path:
    remove_leftovers(path.parent)
    with atomic_output(path) as temporary:
        temporary.write_text(json.dumps(document, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_intake_status(catalogue: Catalogue, conn: duckdb.DuckDBPyConnection, places: Places, period: str,
                        today=None) -> list[UnitStatus]:
    """After an intake: the period's units as they are now (``tiep-nhan.json``), and status.json."""
    statuses = period_status(conn, catalogue, places.out, period, today, places.archive)
    _write_json(places.out / period / INTAKE_FILE, {"units": _records(statuses)})
    write_status(catalogue, conn, places.out, today)
    return statuses


def write_unidentified(out: Path, period: str, files: list[Unidentified]) -> Path:
    """The period's files whose unit could not be told (``khong-xac-dinh.json``)."""
    return _write_json(out / period / UNIDENTIFIED_FILE, {"files": [asdict(f) for f in files]})


def current_view(out: Path, period: str) -> dict:
    """What the page shows of a period: the set in use (its Biểu and the units they were built
    from), the units as they are now when an intake has told them, and the unidentified files."""
    view = published_set(out, period) or {}
    now = _read_json(out / period / INTAKE_FILE)
    if now and "units" in now:
        view["units"] = now["units"]
    unidentified = _read_json(out / period / UNIDENTIFIED_FILE)
    view["unidentified"] = unidentified.get("files", []) if isinstance(unidentified, dict) else []
    return view


def set_document(statuses: list[UnitStatus], publication: Publication, reports: list[Report]) -> dict:
    """The part of a period's status that belongs to its published set: the units as they were
    when the set was built, the set's files (``pdf``: the print-ready copies of the Biểu and of
    the all-in-one workbook, named as the workbooks but ``.pdf``; empty without them), and for
    each Biểu whose figures are incomplete, the names of the units missing from it."""
    pdfs = [*publication.pdfs.values(), publication.all_in_one_pdf] if publication.all_in_one_pdf else []
    incomplete = {publication.files[r.code].name: [u.name for u in r.missing] for r in reports if r.missing}
    return {"units": _records(statuses), "bieu": [p.name for p in publication.files.values()],
            "incomplete": incomplete,
            "all_in_one": [publication.all_in_one.name, publication.archive.name],
            "report": [publication.report.name] if publication.report else [], "pdf": [p.name for p in pdfs],
            "pdf_note": publication.pdf_note or ""}  # why the set has no PDFs (LibreOffice failed, a full disk…)


def published_set(out: Path, period: str) -> dict | None:
    """The status carried by the period's published set, if it has one."""
    return _read_json(out / period / STATUS_FILE)


def write_status(catalogue: Catalogue, conn: duckdb.DuckDBPyConnection, out: Path, today=None) -> Path:
    """status.json: every period, with its published set's status (or, before any publication,
    its units as they are now), and the span of Biểu codes the page names ("01–15")."""
    document = {"bieu_span": catalogue.bieu_span.replace("-", "–"), "periods": []}
    for period in catalogue.periods.values():
        folder = out / period.key
        published = published_set(out, period.key) or {
            "units": _records(period_status(conn, catalogue, out, period.key, today)),
            "bieu": [], "all_in_one": [], "report": [], "pdf": []}
        document["periods"].append({
            "key": period.key, "label": period.label, "deadline": period.deadline.isoformat(),
            "closed": is_closed(catalogue, out, period.key), **published,
            "final": sorted(p.name for p in (folder / "chinh-thuc").glob("*.xlsx")) if (folder / "chinh-thuc").is_dir() else [],
        })
    path = _write_json(out / STATUS_FILE, document)
    failpoint("status.after_write")
    return path
