"""The review of units' reports on a real DuckDB: approve, return with a comment, resubmit,
approve again; the rules every caller meets; decisions kept with the archive, so they survive
``rebuild``, a kill between the record and the warehouse, and ``close-period``."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys

import openpyxl
import pytest

from pipeline.cli import main
from pipeline.intake.take_in import rebuild, take_in_unit
from pipeline.review import (
    OFFICER,
    UNIT,
    Action,
    Actor,
    decide,
    decisions_file,
    read_decisions,
    review_list,
)
from pipeline.settings import Places
from pipeline.states import ReviewState
from pipeline.warehouse import connect
from pipeline.warehouse.decisions import decision_ids
from pipeline.workbook.reader import read_workbook
from tests.conftest import ROOT, sample_taken_in

NOW = dt.datetime(2023, 8, 10, 8, 0)
LATER = dt.datetime(2023, 8, 12, 9, 30)
OFFICER_A = Actor("Lò Văn Minh", OFFICER)
RANG_DONG, PHINH_SANG, TUAN_GIAO = "03260", "03259", "03253"


@pytest.fixture
def places(catalogue, tmp_path_factory, tmp_path, monkeypatch):
    """The 2023 sample taken in, with an inbox of its own (a copy of the sample's) to resubmit into."""
    taken = sample_taken_in(catalogue, tmp_path_factory, tmp_path / "data", NOW)
    inbox = tmp_path / "inbox"
    shutil.copytree(taken.inbox, inbox)
    monkeypatch.setenv("TUANGIAO_DATA_DIR", str(taken.data))
    monkeypatch.setenv("TUANGIAO_INBOX", str(inbox))
    monkeypatch.setenv("TUANGIAO_CLOCK", LATER.isoformat())
    return Places.under(taken.data, inbox)


def _states(catalogue, places) -> dict[str, ReviewState]:
    return {r.unit: r.state for r in review_list(catalogue, places, "2023")}


def _resubmit(catalogue, places, unit: str, name: str, change: int = -1) -> str:
    """A corrected valid file of ``unit`` put in the inbox and taken in; returns its hash."""
    original = next((places.inbox / "2023").glob(f"{unit}-*.xlsx"))
    cells = read_workbook(original, catalogue).cells
    cell = next(c for c in cells if c.ref.form == "01" and c.ref.row == "HO_NGHEO_DTTS")
    workbook = openpyxl.load_workbook(original)
    workbook["01 Chỉ tiêu"][cell.cell] = int(cell.value) + change
    target = places.inbox / "2023" / name
    workbook.save(target)
    result = take_in_unit(catalogue, places, "2023", unit, LATER)
    assert (result.file, result.status_label) == (target, "Hợp lệ")
    return result.file_hash


def test_every_expected_unit_starts_received(catalogue, places, capsys):
    states = _states(catalogue, places)
    assert list(states) == [u.code for u in catalogue.units_in("2023")]
    assert set(states.values()) == {ReviewState.RECEIVED}
    assert main(["review", "list", "2023", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed[1] == {"unit": PHINH_SANG, "name": "Xã Phình Sáng", "state": "da_nhan", "state_label": "Đã nhận",
                         "file_hash": listed[1]["file_hash"], "file_name": "03259-xa-phinh-sang.xlsx",
                         "received_at": "2023-08-10 08:00:00", "last_decision": None}
    assert len(listed[1]["file_hash"]) == 64


def test_approve_return_resubmit_approve_again(catalogue, places, capsys):
    assert main(["review", "approve", "2023", RANG_DONG, PHINH_SANG, "--by", "Lò Văn Minh"]) == 0
    assert main(["review", "return", "2023", TUAN_GIAO, "--comment", "Số hộ nghèo DTTS tăng 40%: giải trình.",
                 "--by", "Lò Văn Minh"]) == 0
    out = capsys.readouterr().out
    assert "03253: cần giải trình – Lò Văn Minh, 2023-08-12 09:30:00: Số hộ nghèo DTTS tăng 40%: giải trình." in out
    states = _states(catalogue, places)
    assert (states[RANG_DONG], states[PHINH_SANG], states[TUAN_GIAO]) == (
        ReviewState.APPROVED, ReviewState.APPROVED, ReviewState.RETURNED)

    # the commune answers with a new file: received again, the return kept in the history
    new_hash = _resubmit(catalogue, places, TUAN_GIAO, "03253-thi-tran-tuan-giao-sua.xlsx")
    # and a new file after approval returns Rạng Đông to "đã nhận", the approval kept
    _resubmit(catalogue, places, RANG_DONG, "03260-xa-rang-dong-sua.xlsx")
    reviews = {r.unit: r for r in review_list(catalogue, places, "2023")}
    assert (reviews[TUAN_GIAO].state, reviews[RANG_DONG].state, reviews[PHINH_SANG].state) == (
        ReviewState.RECEIVED, ReviewState.RECEIVED, ReviewState.APPROVED)
    assert reviews[TUAN_GIAO].file_hash == new_hash
    assert reviews[TUAN_GIAO].last.action == Action.RETURN and reviews[TUAN_GIAO].last.file_hash != new_hash

    [outcome] = decide(catalogue, places, "2023", [TUAN_GIAO], Action.APPROVE, OFFICER_A, LATER, version=new_hash)
    assert outcome.decision and outcome.decision.file_hash == new_hash
    assert _states(catalogue, places)[TUAN_GIAO] == ReviewState.APPROVED
    history = [(d.unit, d.action, d.state) for d in read_decisions(places.archive, "2023")]
    assert history == [(RANG_DONG, "approve", "da_duyet"), (PHINH_SANG, "approve", "da_duyet"),
                       (TUAN_GIAO, "return", "can_giai_trinh"), (TUAN_GIAO, "approve", "da_duyet")]
    audit = [json.loads(line) for line in (places.data / "access" / "audit.jsonl").read_text().splitlines()]
    assert [(a["event"], a["unit"], a["by"]) for a in audit] == [
        ("review_approve", RANG_DONG, "Lò Văn Minh"), ("review_approve", PHINH_SANG, "Lò Văn Minh"),
        ("review_return", TUAN_GIAO, "Lò Văn Minh"), ("review_approve", TUAN_GIAO, "Lò Văn Minh")]


def test_refusals_say_why_in_vietnamese(catalogue, places, capsys):
    def refused(*argv: str) -> str:
        assert main(["review", *argv]) == 1
        return capsys.readouterr().err

    assert "phải kèm ý kiến" in refused("return", "2023", TUAN_GIAO, "--by", "Lò Văn Minh")
    assert 'Không có đơn vị mã "99999"' in refused("approve", "2023", "99999", "--by", "Lò Văn Minh")
    assert 'Không có kỳ báo cáo "2031"' in refused("approve", "2031", TUAN_GIAO, "--by", "Lò Văn Minh")
    assert "tên người duyệt" in refused("approve", "2023", TUAN_GIAO)
    assert main(["review", "approve", "2023", TUAN_GIAO, "--by", "Lò Văn Minh"]) == 0
    assert "đã được duyệt rồi" in refused("approve", "2023", TUAN_GIAO, "--by", "Lò Văn Minh")

    [own] = decide(catalogue, places, "2023", [RANG_DONG], Action.APPROVE, Actor("03260", UNIT, RANG_DONG), LATER)
    assert own.decision is None and "không được duyệt báo cáo (kể cả của chính mình)" in own.refusal
    [stale] = decide(catalogue, places, "2023", [RANG_DONG], Action.APPROVE, OFFICER_A, LATER, version="0" * 64)
    assert stale.decision is None and "đã gửi phiên bản khác" in stale.refusal
    with connect(places.warehouse) as conn:  # a unit without a valid version
        conn.execute("DELETE FROM submissions WHERE unit = ?", [PHINH_SANG])
    [missing] = decide(catalogue, places, "2023", [PHINH_SANG], Action.APPROVE, OFFICER_A, LATER)
    assert "chưa nộp báo cáo kỳ 2023" in missing.refusal
    assert [d.unit for d in read_decisions(places.archive, "2023")] == [TUAN_GIAO]  # nothing refused recorded


def test_decisions_survive_rebuild(catalogue, places):
    decide(catalogue, places, "2023", [RANG_DONG], Action.APPROVE, OFFICER_A, LATER)
    decide(catalogue, places, "2023", [TUAN_GIAO], Action.RETURN, OFFICER_A, LATER, "Giải trình cột 5.")
    before = review_list(catalogue, places, "2023")
    places.warehouse.unlink()
    rebuild(catalogue, places)
    assert review_list(catalogue, places, "2023") == before


def test_a_kill_between_the_record_and_the_warehouse_is_recovered(catalogue, places):
    env = {**os.environ, "TUANGIAO_FAILPOINT": "review.recorded", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "pipeline", "review", "approve", "2023", RANG_DONG, PHINH_SANG,
                           "--by", "Lò Văn Minh"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == -9, done.stderr
    [recorded] = read_decisions(places.archive, "2023")  # died after the first record, before its table row
    with connect(places.warehouse) as conn:
        assert decision_ids(conn, "2023") == set()
    states = _states(catalogue, places)  # the next run loads it
    assert (states[RANG_DONG], states[PHINH_SANG]) == (ReviewState.APPROVED, ReviewState.RECEIVED)
    with connect(places.warehouse) as conn:
        assert decision_ids(conn, "2023") == {recorded.id}


def test_a_torn_line_is_skipped_and_the_next_decision_starts_its_own(catalogue, places):
    decide(catalogue, places, "2023", [RANG_DONG], Action.APPROVE, OFFICER_A, LATER)
    path = decisions_file(places.archive, "2023")
    with path.open("a", encoding="utf-8") as f:
        f.write('{"id": "torn", "period": "2023", "unit": "03')  # a kill in the middle of a write
    decide(catalogue, places, "2023", [PHINH_SANG], Action.APPROVE, OFFICER_A, LATER)
    assert [d.unit for d in read_decisions(places.archive, "2023")] == [RANG_DONG, PHINH_SANG]
    assert _states(catalogue, places)[PHINH_SANG] == ReviewState.APPROVED
