"""Submission status: for every unit of a period, whether it submitted, whether its latest
file is valid, its errors and warnings, which version is used, when it was received and
whether on time. Each published set carries its period's status (``out/<period>/status.json``,
switched in with the Biểu); ``out/status.json`` lists every period for the download page,
which never opens the database."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb

from pipeline.catalogue import Catalogue
from pipeline.checking.feedback import unit_feedback_name
from pipeline.failpoints import failpoint
from pipeline.files import atomic_output, remove_leftovers
from pipeline.periods import is_closed
from pipeline.publication.workbooks import Publication
from pipeline.warehouse import VALID, versions_by_unit

VALID_STATE, INVALID_STATE, MISSING_STATE = "hop_le", "khong_hop_le", "chua_nop"
STATE_LABELS = {VALID_STATE: "Hợp lệ", INVALID_STATE: "Không hợp lệ", MISSING_STATE: "Chưa nộp"}
STATUS_FILE = "status.json"


@dataclass
class UnitStatus:
    code: str
    name: str
    state: str
    label: str
    errors: int = 0
    warnings: int = 0
    versions: int = 0  # files received for this unit and period
    file_name: str = ""  # the latest file
    received_at: str = ""
    using: str = ""  # the file whose figures are used (the latest valid one)
    on_time: bool | None = None  # None: nothing received yet and the deadline has not passed
    feedback: str = ""  # the feedback workbook, relative to out/<period>/


def period_status(conn: duckdb.DuckDBPyConnection, catalogue: Catalogue, out: Path, period: str,
                  today=None) -> list[UnitStatus]:
    """One status per unit valid in the period, communes first."""
    deadline = catalogue.periods[period].deadline
    latest = versions_by_unit(conn, period)
    statuses = []
    for unit in catalogue.units_in(period):
        feedback = out / period / "phan-hoi" / unit_feedback_name(unit.code, period)
        if unit.code not in latest:
            late = today is not None and today > deadline
            statuses.append(UnitStatus(unit.code, unit.name, MISSING_STATE, STATE_LABELS[MISSING_STATE],
                                       on_time=False if late else None))
            continue
        count, status, errors, warnings, file_name, received, using, first_valid = latest[unit.code]
        state = VALID_STATE if status == VALID else INVALID_STATE
        label = STATE_LABELS[state] + (" (đang dùng bản hợp lệ trước)" if state == INVALID_STATE and using else "")
        statuses.append(UnitStatus(
            unit.code, unit.name, state, label, errors, warnings, count, file_name, str(received), using or "",
            on_time=first_valid is not None and first_valid.date() <= deadline,
            feedback=f"phan-hoi/{feedback.name}" if feedback.exists() else "",
        ))
    return statuses


def set_document(statuses: list[UnitStatus], publication: Publication) -> dict:
    """The part of a period's status that belongs to its published set: the units as they were
    when the set was built, and the set's files."""
    return {"units": [asdict(s) for s in statuses], "bieu": [p.name for p in publication.files.values()],
            "all_in_one": [publication.all_in_one.name, publication.archive.name],
            "report": [publication.report.name] if publication.report else []}


def published_set(out: Path, period: str) -> dict | None:
    """The status carried by the period's published set, if it has one."""
    try:
        return json.loads((out / period / STATUS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_status(catalogue: Catalogue, conn: duckdb.DuckDBPyConnection, out: Path, today=None) -> Path:
    """status.json: every period, with its published set's status (or, before any publication,
    its units as they are now), and the span of Biểu codes the page names ("01–15")."""
    document = {"bieu_span": catalogue.bieu_span.replace("-", "–"), "periods": []}
    for period in catalogue.periods.values():
        folder = out / period.key
        published = published_set(out, period.key) or {
            "units": [asdict(s) for s in period_status(conn, catalogue, out, period.key, today)],
            "bieu": [], "all_in_one": [], "report": []}
        document["periods"].append({
            "key": period.key, "label": period.label, "deadline": period.deadline.isoformat(),
            "closed": is_closed(catalogue, out, period.key), **published,
            "final": sorted(p.name for p in (folder / "chinh-thuc").glob("*.xlsx")) if (folder / "chinh-thuc").is_dir() else [],
        })
    path = out / STATUS_FILE
    remove_leftovers(out)
    with atomic_output(path) as temporary:
        temporary.write_text(json.dumps(document, ensure_ascii=False, indent=2), encoding="utf-8")
    failpoint("status.after_write")
    return path
