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
    unit_history,
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
REVIEW_POINTS = ["review.recorded"]  # killed here, not by tests/test_crash.py


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

    assert [(d.action, d.comment) for d in unit_history(places, "2023", TUAN_GIAO)] == [
        ("return", "Số hộ nghèo DTTS tăng 40%: giải trình.")]  # only its own
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


def test_a_returned_unit_reads_the_comment_in_its_feedback_workbook(catalogue, places):
    """Issue 28: the officer's comment is in the feedback workbook too, under the verdict, with
    the findings of the version returned (the page and the CLI return through decide_and_tell)."""
    feedback = places.out / "2023" / "phan-hoi" / f"phan-hoi-{TUAN_GIAO}-2023.xlsx"
    before = feedback.read_bytes() if feedback.exists() else b""
    assert main(["review", "return", "2023", TUAN_GIAO, "--comment", "Số hộ nghèo DTTS tăng 40%: giải trình.",
                 "--by", "Lò Văn Minh"]) == 0
    assert feedback.read_bytes() != before
    summary = openpyxl.load_workbook(feedback).worksheets[0]
    rows = [[c for c in row if c is not None] for row in summary.iter_rows(values_only=True)]
    assert ["Huyện trả lại", "Lò Văn Minh, 12/08/2023 09:30: Số hộ nghèo DTTS tăng 40%: giải trình."] in rows
    assert ["Tệp", "03253-thi-tran-tuan-giao.xlsx"] in rows  # the version returned, by the name it came with
    # an approval does not write it again
    written = feedback.read_bytes()
    assert main(["review", "approve", "2023", RANG_DONG, "--by", "Lò Văn Minh"]) == 0
    assert feedback.read_bytes() == written


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
    with connect(places.warehouse) as conn:  # the rebuild itself loaded them
        assert decision_ids(conn, "2023") == {d.id for d in read_decisions(places.archive, "2023")} != set()
    assert review_list(catalogue, places, "2023") == before


def test_a_kill_between_the_record_and_the_warehouse_is_recovered(catalogue, places):
    [point] = REVIEW_POINTS
    env = {**os.environ, "TUANGIAO_FAILPOINT": point, "PYTHONPATH": str(ROOT)}
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


# --------------------------------------------------------------------------- the published set


def _published(places) -> tuple[dict, list[str]]:
    """Every number of the period's all-in-one workbook by sheet and cell, and every text."""
    [path] = (places.out / "2023").glob("Bieu_01-*_2023.xlsx")
    workbook = openpyxl.load_workbook(path, read_only=True)
    numbers, texts = {}, []
    for ws in workbook.worksheets:
        for row in ws.iter_rows():
            for c in row:
                if isinstance(c.value, (int, float)):
                    numbers[ws.title, c.coordinate] = c.value
                elif isinstance(c.value, str):
                    texts.append(c.value)
    return numbers, texts


def test_the_sample_with_every_unit_approved_publishes_the_same_figures(catalogue, places):
    from pipeline.publication.publish import publish_period
    from pipeline.publication.workbooks import NOT_APPROVED

    publish_period(catalogue, places.warehouse, places.out, "2023")
    draft, draft_texts = _published(places)
    assert sum(NOT_APPROVED in t for t in draft_texts) >= len(catalogue.bieu)
    assert "Cán bộ huyện đã duyệt báo cáo của 0/23 đơn vị." in draft_texts
    units = [u.code for u in catalogue.units_in("2023")]
    decide(catalogue, places, "2023", units[:5], Action.APPROVE, OFFICER_A, LATER)
    publish_period(catalogue, places.warehouse, places.out, "2023")
    assert "Cán bộ huyện đã duyệt báo cáo của 5/23 đơn vị." in _published(places)[1]
    decide(catalogue, places, "2023", units[5:], Action.APPROVE, OFFICER_A, LATER)
    publish_period(catalogue, places.warehouse, places.out, "2023")
    approved, texts = _published(places)
    assert approved == draft and len(approved) > 1000
    assert not any(NOT_APPROVED in t for t in texts)
    assert "Cán bộ huyện đã duyệt báo cáo của 23/23 đơn vị." in texts


def test_close_period_needs_every_approval_or_an_override(catalogue, places, capsys):
    decide(catalogue, places, "2023", [RANG_DONG], Action.APPROVE, OFFICER_A, LATER)
    decide(catalogue, places, "2023", [TUAN_GIAO], Action.RETURN, OFFICER_A, LATER, "Giải trình cột 5.")
    assert main(["close-period", "2023"]) == 2
    error = capsys.readouterr().err
    assert "Chưa khóa sổ kỳ 2023: còn 22 đơn vị chưa được duyệt (Thị trấn Tuần Giáo, Xã Phình Sáng," in error
    assert not (places.out / "2023" / "chinh-thuc").exists()
    assert main(["close-period", "2023", "--override", "Tỉnh cần số liệu trước 15/8."]) == 2
    assert "phải có tên cán bộ" in capsys.readouterr().err

    assert main(["close-period", "2023", "--override", "Tỉnh cần số liệu trước 15/8.", "--by", "Quàng Văn Thắng"]) == 0
    record = json.loads((places.out / "2023" / "chinh-thuc" / "khoa-so.json").read_text(encoding="utf-8"))
    assert record["review_override"]["by"] == "Quàng Văn Thắng" and len(record["review_override"]["unapproved"]) == 22
    [final] = (places.out / "2023" / "chinh-thuc").glob("Bieu_01-*_2023.xlsx")
    sources = [c for row in openpyxl.load_workbook(final, read_only=True)["Nguồn số liệu"].iter_rows(values_only=True)
               for c in row if isinstance(c, str)]
    assert any(t.startswith("Khóa sổ khi chưa duyệt đủ các đơn vị, theo quyết định của Quàng Văn Thắng lúc "
                            "2023-08-12 09:30:00: Tỉnh cần số liệu trước 15/8. (chưa duyệt: Thị trấn Tuần Giáo")
               for t in sources)

    # the decisions are kept through the close: listed, and restored by a rebuild
    states = _states(catalogue, places)
    assert (states[RANG_DONG], states[TUAN_GIAO]) == (ReviewState.APPROVED, ReviewState.RETURNED)
    rebuild(catalogue, places)
    assert _states(catalogue, places) == states
    [refused] = decide(catalogue, places, "2023", [PHINH_SANG], Action.APPROVE, OFFICER_A, LATER)
    assert "đã khóa sổ" in refused.refusal
    actions = [d.action for d in read_decisions(places.archive, "2023")]
    assert actions == ["approve", "return", "close_override"]


def test_close_period_with_every_unit_approved_needs_no_override(catalogue, places):
    decide(catalogue, places, "2023", [u.code for u in catalogue.units_in("2023")], Action.APPROVE, OFFICER_A, LATER)
    assert main(["close-period", "2023"]) == 0
    record = json.loads((places.out / "2023" / "chinh-thuc" / "khoa-so.json").read_text(encoding="utf-8"))
    assert "review_override" not in record


# --------------------------------------------------------------------------- Dagster


@pytest.mark.slow
def test_dagster_shows_the_review_and_republishes_after_a_decision(catalogue, places):
    import dagster as dg

    from assets.location import build_defs
    from assets.partitions import submission_key
    from assets.resources import PipelineSettings, period_label
    from pipeline.catalogue.batches import UNIT as UNIT_LEVEL

    settings = PipelineSettings(data_dir=str(places.data), inbox_dir=str(places.inbox), fixed_clock=LATER.isoformat(),
                                pdf=False)
    defs = build_defs(settings)
    sensor = defs.resolve_sensor_def("review_sensor")
    assert sensor(dg.build_sensor_context(resources={"settings": settings})).run_requests == []
    decide(catalogue, places, "2023", [RANG_DONG], Action.APPROVE, OFFICER_A, LATER)
    ticked = sensor(dg.build_sensor_context(resources={"settings": settings}))
    unit_run, request = ticked.run_requests
    assert (unit_run.job_name, unit_run.partition_key, request.job_name) == (
        "submission_job", submission_key("2023", RANG_DONG, UNIT_LEVEL), "consolidation_job")
    assert sensor(dg.build_sensor_context(cursor=ticked.cursor, resources={"settings": settings})).run_requests == []

    instance = dg.DagsterInstance.ephemeral()
    unit = defs.resolve_job_def(unit_run.job_name).execute_in_process(instance=instance, tags=unit_run.tags,
                                                                       partition_key=unit_run.partition_key)
    [event] = unit.get_asset_materialization_events()
    assert event.materialization.metadata["Xét duyệt"].value == "Đã duyệt"
    run = defs.resolve_job_def(request.job_name).execute_in_process(instance=instance, tags=request.tags)
    assert run.success
    assert "Cán bộ huyện đã duyệt báo cáo của 1/23 đơn vị." in _published(places)[1]
    [status] = [e.materialization for e in run.get_asset_materialization_events()
                if e.materialization.asset_key == dg.AssetKey("submission_status")]
    table = status.metadata[period_label("2023", "Các đơn vị")].value
    reviewed = {r.data["Mã"]: r.data["Xét duyệt"] for r in table.records}
    assert (reviewed[RANG_DONG], reviewed[PHINH_SANG]) == ("Đã duyệt", "Đã nhận")


def test_a_locked_period_holds_an_approved_units_new_file_until_reopened(catalogue, places, monkeypatch, capsys):
    from dataclasses import replace

    from pipeline.intake.take_in import untaken

    monkeypatch.setenv("TUANGIAO_REVIEW_LOCK", "2023")
    locked = replace(places, review_lock="2023")
    decide(catalogue, locked, "2023", [RANG_DONG], Action.APPROVE, OFFICER_A, LATER)
    approved = {r.unit: r for r in review_list(catalogue, locked, "2023")}[RANG_DONG].file_hash
    held = _resubmit(catalogue, locked, RANG_DONG, "03260-xa-rang-dong-sua.xlsx")
    [feedback] = (locked.out / "2023" / "phan-hoi").glob("*03260*")  # the unit is told why
    told = [c for ws in openpyxl.load_workbook(feedback, read_only=True).worksheets
            for row in ws.iter_rows(values_only=True) for c in row if isinstance(c, str)]
    assert any("đã được duyệt và đang khóa, nên tệp này được lưu nhưng chưa dùng" in t for t in told)

    def rang_dong():
        review = {r.unit: r for r in review_list(catalogue, locked, "2023")}[RANG_DONG]
        return review.state, review.file_hash

    assert rang_dong() == (ReviewState.APPROVED, approved)  # kept, not used
    assert untaken(catalogue, locked, "2023") == []  # nothing left behind for a run or close-period
    rebuild(catalogue, locked)
    assert rang_dong() == (ReviewState.APPROVED, approved)

    assert main(["review", "reopen", "2023", RANG_DONG, "--by", "Lò Văn Minh"]) == 1
    assert "phải kèm lý do" in capsys.readouterr().err
    assert main(["review", "reopen", "2023", RANG_DONG, "--comment", "Xã xin sửa số hộ nghèo DTTS.",
                 "--by", "Lò Văn Minh"]) == 0
    assert rang_dong() == (ReviewState.RECEIVED, held)
    rebuild(catalogue, locked)
    assert rang_dong() == (ReviewState.RECEIVED, held)
    assert [d.action for d in read_decisions(places.archive, "2023")] == ["approve", "hold", "reopen"]


def test_two_officers_approving_at_once_record_one_approval(catalogue, places):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    commands = [subprocess.Popen([sys.executable, "-m", "pipeline", "review", "approve", "2023", RANG_DONG, "--by", by],
                                 env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for by in ("Lò Văn Minh", "Quàng Văn Thắng")]
    results = sorted((p.wait(timeout=120), p.stderr.read()) for p in commands)
    assert [code for code, _ in results] == [0, 1], results
    assert "đã được duyệt rồi" in results[1][1]
    [approval] = read_decisions(places.archive, "2023")
    assert _states(catalogue, places)[RANG_DONG] == ReviewState.APPROVED and approval.unit == RANG_DONG
