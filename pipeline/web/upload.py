"""A unit's upload: one more way into the inbox, not a second pipeline.

The form is read as it streams in, with python-multipart (through Starlette), and cut off as
soon as the body passes the size limit. The file is checked at once by the same checker as
``check`` (its readers in the memory-limited worker processes of ``pipeline.parallel``),
in a private working folder under a safe form of the name it was sent with. A workbook the
checker can read and that names the signed-in unit is put into ``<inbox>/<period>/``
atomically, under a name the server chooses; the sensor and intake then take it like any
other file. A file that is not a readable workbook, or that names another unit, is refused
and never reaches the inbox. Each upload leaves a record (``<data>/uploads/<period>/<unit>/
<id>.json``: time, name, size, hash, verdict, every finding, the inbox name) and a feedback
workbook beside it; these, with the archive's arrival records and the published status,
make the unit's history. A file whose bytes the unit already sent is not written to the inbox
again: the upload answers with the earlier one's record. Each sender has a daily quota (files
and bytes, in the settings).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import secrets
import shutil
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request

from pipeline.catalogue import Catalogue
from pipeline.checking.feedback import write_feedback
from pipeline.checking.findings import FILE_KINDS, NOT_A_PLAN, NOT_A_UNIT_REPORT, OTHER_UNIT_FILE, finding, show_raw
from pipeline.text import nfc, show_number
from pipeline.checking.validation import check_files
from pipeline.files import atomic_output
from pipeline.intake.archive import PLAN as ARCHIVE_PLAN
from pipeline.intake.archive import arrivals, working_folder
from pipeline.intake.inbox import UPLOAD_ID_PATTERN, WORKBOOK_SUFFIXES, period_dir, plan_name, uploaded_name
from pipeline.intake.take_in import PLAN_UNIT
from pipeline.settings import Places
from pipeline.states import Verdict
from pipeline.catalogue.contract import (
    FILE_KIND,
    PLAN_COLUMNS,
    PLAN_DATE_FIELDS,
    PLAN_FILE,
    PLAN_TEXT_FIELDS,
    UNIT_FIELD,
    UNIT_FILE,
)
from pipeline.workbook.reader import Submission, read_workbook
from pipeline.workbook.unreadable import UnreadableWorkbook

UPLOAD_LIMIT_BYTES = 10 * 1024 * 1024
FORM_OVERHEAD_BYTES = 16 * 1024  # the form's other fields and part headers
UPLOAD_ID = re.compile(f"^{UPLOAD_ID_PATTERN}$")
VERDICTS = {  # what the unit reads about its upload
    Verdict.VALID: "Hợp lệ: đã chuyển vào hộp thư đến",
    Verdict.INVALID: "Có lỗi: đã chuyển vào hộp thư đến, nhưng số liệu chưa được dùng",
    Verdict.UNREADABLE: "Bị từ chối: không phải bảng tính báo cáo đọc được",
    Verdict.OTHER_UNIT: "Bị từ chối: tệp là báo cáo của đơn vị khác",
    Verdict.NOT_UNIT_REPORT: "Bị từ chối: tệp không phải báo cáo của đơn vị (kế hoạch chỉ do cán bộ huyện gửi)",
    Verdict.NOT_PLAN: "Bị từ chối: tệp không phải kế hoạch của huyện",
}
REFUSALS = (Verdict.UNREADABLE, Verdict.OTHER_UNIT, Verdict.NOT_UNIT_REPORT, Verdict.NOT_PLAN)  # kept out of the inbox
PLAN_SENDER = ARCHIVE_PLAN  # the uploads' folder of the district's plan, sent by officers
FEEDBACK_SUFFIX = ".phan-hoi.xlsx"
_checking = threading.Lock()  # the reader workers (pipeline.parallel) serve one batch at a time
_sending = threading.Lock()  # one upload at a time from its hash to its record: the same bytes sent twice at once go in once


class TooLarge(Exception):
    """The request body passed the upload limit."""


def too_large_message(limit: int) -> str:
    return (f"Tệp gửi lên vượt quá giới hạn {limit // (1024 * 1024)} MB nên đã bị dừng giữa chừng và không được lưu. "
            "Một báo cáo đơn vị chỉ vài trăm KB: hãy kiểm tra lại tệp (có chèn ảnh, có sheet thừa?).")


async def read_form(request: Request, limit: int):
    """The request's form, read as it streams in; TooLarge as soon as the body passes the
    limit (a declared length over it is refused before reading). Spooled parts live in
    anonymous temporary files, so a cut-off upload leaves nothing behind."""
    ceiling = limit + FORM_OVERHEAD_BYTES
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > ceiling:
        raise TooLarge
    received = 0

    async def receive():
        nonlocal received
        message = await request.receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > ceiling:
                raise TooLarge
        return message

    form = await Request(request.scope, receive).form(max_files=1, max_fields=4, max_part_size=4096)
    upload = form.get("tep")
    if upload is not None and not isinstance(upload, str) and upload.size is not None and upload.size > limit:
        await form.close()
        raise TooLarge
    return form


def safe_name(name: str) -> str:
    """A file name to check the upload under: the last part of what the client sent (NFC),
    without control characters, at most 120 bytes, never empty, hidden or a folder's name."""
    name = nfc(name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip().lstrip(".")
    stem, dot, suffix = name.rpartition(".")
    if not dot or len(suffix.encode()) > 8:
        stem, suffix = name, "xlsx"
    while len(f"{stem}.{suffix}".encode()) > 120:
        stem = stem[:-1]
    return f"{stem}.{suffix}" if stem.strip() else f"tep-tai-len.{suffix}"


@dataclass(frozen=True)
class Uploads:
    """The records of the uploads under ``<data>/uploads/``."""

    root: Path

    @classmethod
    def under(cls, data: Path) -> Uploads:
        return cls(data / "uploads")

    def folder(self, period: str, unit: str) -> Path:
        return self.root / period / unit

    def record(self, period: str, unit: str, upload_id: str) -> dict | None:
        """An upload's record, its verdict a ``Verdict`` (one written before reads the same)."""
        if not UPLOAD_ID.match(upload_id):
            return None
        try:
            record = json.loads((self.folder(period, unit) / f"{upload_id}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return record | {"verdict": Verdict(record["verdict"])}

    def feedback(self, period: str, unit: str, upload_id: str) -> Path | None:
        if not UPLOAD_ID.match(upload_id):
            return None
        path = self.folder(period, unit) / f"{upload_id}{FEEDBACK_SUFFIX}"
        return path if path.is_file() else None

    def over_quota(self, sender: str, day, coming: int, count: int, size: int) -> str:
        """Why ``sender`` may not send ``coming`` more bytes on ``day`` (empty: it may): at most
        ``count`` files and ``size`` bytes a day, whatever the period."""
        sent = [r for folder in sorted(self.root.glob(f"*/{sender}")) if folder.is_dir()
                for r in self.records(folder.parent.name, sender) if r["time"].startswith(day.isoformat())]
        if len(sent) >= count:
            return (f"Hôm nay đơn vị đã gửi {len(sent)} tệp, mức tối đa trong một ngày: hãy gửi lại vào ngày mai "
                    "hoặc báo cán bộ huyện.")
        if sum(r["size"] for r in sent) + coming > size + FORM_OVERHEAD_BYTES:
            return (f"Hôm nay đơn vị đã gửi {show_number(sum(r['size'] for r in sent) // (1024 * 1024))} MB, gần mức "
                    f"tối đa {show_number(size // (1024 * 1024))} MB trong một ngày: hãy gửi lại vào ngày mai hoặc báo "
                    "cán bộ huyện.")
        return ""

    def records(self, period: str, unit: str) -> list[dict]:
        """The unit's uploads for the period, newest first."""
        folder = self.folder(period, unit)
        paths = sorted(folder.glob("*.json"), key=lambda p: (p.stem[:15], p.stat().st_mtime_ns)) if folder.is_dir() else []
        found = [self.record(period, unit, p.stem) for p in paths]  # in order of sending, within a second too
        return [r for r in reversed(found) if r is not None]


def submit(catalogue: Catalogue, places: Places, period: str, unit: str, client_name: str, source, now: dt.datetime,
           quota: tuple[int, int] | None = None) -> dict:
    """Check an uploaded file (``source``: a readable binary file object) for ``unit`` and, if it
    is a readable workbook of that unit, put it into the period's inbox; return its record.
    ``unit`` PLAN_SENDER is an officer sending the district's plan: the file must be a plan, and
    its record lists what it changes against the plan received before (signer, targets). A file
    whose bytes the sender already sent (and were not refused) gets the earlier record, marked
    ``repeated``, and nothing is written. With a ``quota`` (files, bytes a day), a file past it
    is not taken: the answer is ``{"over_quota": why}``."""
    with _sending:
        return _submit(catalogue, places, period, unit, client_name, source, now, quota)


def _submit(catalogue: Catalogue, places: Places, period: str, unit: str, client_name: str, source,
            now: dt.datetime, quota: tuple[int, int] | None) -> dict:
    uploads = Uploads.under(places.data)
    upload_id = f"{now:%Y%m%d-%H%M%S}-{secrets.token_hex(4)}"
    name = safe_name(client_name)
    with working_folder(places.data) as work:
        path = work / name
        digest, size = hashlib.sha256(), 0
        with path.open("wb") as f:
            while chunk := source.read(1024 * 1024):
                digest.update(chunk)
                size += len(chunk)
                f.write(chunk)
        earlier = next((r for r in uploads.records(period, unit)
                        if r["sha256"] == digest.hexdigest() and r["verdict"] not in REFUSALS), None)
        if earlier is not None:  # the same bytes again: never a second copy in the inbox
            return earlier | {"repeated": True, "sent_as": name}
        if quota is not None and (why := uploads.over_quota(unit, now.date(), size, *quota)):
            return {"over_quota": why}
        with _checking:
            result = check_files(catalogue, [path], period, workers=1)[0]
        submission = result.submission
        changes: list[str] = []
        refusal = None
        if submission is not None:
            info = {"file": name, "sheet": submission.info_sheet}
            kind_cell = submission.info.get(FILE_KIND, ("", ""))[1]
        if submission is None:
            verdict = Verdict.UNREADABLE
        elif unit == PLAN_SENDER and submission.file_kind != PLAN_FILE:
            verdict, refusal = Verdict.NOT_PLAN, finding(NOT_A_PLAN, cell=kind_cell, **info)
        elif unit == PLAN_SENDER:
            verdict = Verdict.VALID if result.accepted else Verdict.INVALID
            changes = plan_changes(catalogue, _plan_before(catalogue, places, period), submission)
        elif submission.file_kind != UNIT_FILE:  # a unit writes only its own report, never the plan
            kind = FILE_KINDS.get(submission.file_kind, f'"{submission.file_kind}"')
            verdict, refusal = Verdict.NOT_UNIT_REPORT, finding(NOT_A_UNIT_REPORT, file_kind=kind, cell=kind_cell, **info)
        elif submission.unit_code != unit:
            verdict = Verdict.OTHER_UNIT
            refusal = finding(OTHER_UNIT_FILE, "" if submission.unit_code else "no_code", unit=submission.unit_code,
                              cell=submission.info.get(UNIT_FIELD, ("", ""))[1], own=unit, **info)
        else:
            verdict = Verdict.VALID if result.accepted else Verdict.INVALID
        if refusal is not None:
            result.findings.insert(0, refusal)
        inbox_name = ""
        if verdict not in REFUSALS:
            suffix = path.suffix.lower() if path.suffix.lower() in WORKBOOK_SUFFIXES else ".xlsx"
            inbox_name = plan_name(upload_id, suffix) if unit == PLAN_SENDER else uploaded_name(unit, upload_id, suffix)
            with atomic_output(period_dir(places.inbox, period) / inbox_name) as temporary:
                shutil.copyfile(path, temporary)
        folder = uploads.folder(period, unit)
        write_feedback(folder / f"{upload_id}{FEEDBACK_SUFFIX}", catalogue, result, period)
    report = result.report
    record = {"id": upload_id, "time": now.isoformat(timespec="seconds"), "file_name": name,
              "size": size, "sha256": digest.hexdigest(), "verdict": verdict, "errors": report.errors,
              "warnings": report.warnings, "findings": [f.as_dict() for f in report.findings],
              "inbox_name": inbox_name, "changes": changes}
    with atomic_output(folder / f"{upload_id}.json") as temporary:
        temporary.write_text(json.dumps(record, ensure_ascii=False, indent=2), encoding="utf-8")
    return record


def _plan_before(catalogue: Catalogue, places: Places, period: str) -> Submission | None:
    """The plan received last for the period (as archived), or None."""
    received = arrivals(places.archive, period, PLAN_UNIT)
    if not received:
        return None
    try:
        return read_workbook(received[-1].path, catalogue)
    except (UnreadableWorkbook, OSError):
        return None


def plan_changes(catalogue: Catalogue, before: Submission | None, after: Submission) -> list[str]:
    """What a plan changes against the one before: each signature field and each target's cell
    that differs, as "label: old → new" (the officer's view and the audit show them)."""
    if before is None:
        return []
    labels = {code: label for code, label, _ in PLAN_TEXT_FIELDS} | dict(PLAN_DATE_FIELDS)
    old, new = before.info_texts, after.info_texts
    changes = [f"{label}: {old.get(code) or '(trống)'} → {new.get(code) or '(trống)'}"
               for code, label in labels.items() if old.get(code, "") != new.get(code, "")]
    columns, targets = dict(PLAN_COLUMNS), {t.code: t.label for t in catalogue.targets}
    raw_before = {c.ref: c for c in before.cells}
    for cell in after.cells:
        was = raw_before.get(cell.ref)
        if was is not None and (was.value, show_raw(was.raw)) != (cell.value, show_raw(cell.raw)):
            changes.append(f"{cell.ref.row} {targets[cell.ref.row]} · {columns[cell.ref.column]}: "
                           f"{show_raw(was.raw) or '(trống)'} → {show_raw(cell.raw) or '(trống)'}")
    return changes


def unit_arrivals(places: Places, period: str, unit: str) -> list[dict]:
    """What intake recorded for the unit (the archive's arrival records), newest first."""
    return [{"received_at": a.received_at.isoformat(sep=" ", timespec="seconds"), "file_name": a.original_name,
             "sha256": a.file_hash} for a in reversed(arrivals(places.archive, period, unit))]
