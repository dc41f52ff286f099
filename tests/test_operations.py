"""Running it for real: the inbox sensor, the nightly schedule and job, and two runs at once."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import dagster as dg
import duckdb
import pytest

from assets.definitions import defs
from assets.jobs import nightly_job
from assets.resources import PipelineSettings
from assets.schedules import nightly_schedule
from assets.sensors import inbox_run_requests, inbox_sensor
from tests.conftest import ROOT

OLD = 1_700_000_000  # an mtime long ago: the file is stable


def _settings(data):
    return PipelineSettings(data_dir=str(data), fixed_clock="2023-08-10T17:00:00", pdf=False)  # test_pdf_set renders


def _drop(inbox, source, name=None, mtime=OLD):
    target = inbox / (name or source.name)
    shutil.copy(source, target)
    os.utime(target, (mtime, mtime))
    return target


def test_sensor_requests_exactly_the_affected_units(sample_files, tmp_path):
    inbox = tmp_path / "inbox" / "2023"
    inbox.mkdir(parents=True)
    town, phinh_sang = sample_files[0], sample_files[1]
    _drop(inbox, town)
    _drop(inbox, phinh_sang)
    settings = _settings(tmp_path)
    requests, cursor = inbox_run_requests(settings, None, time.time())
    assert sorted(r.partition_key for r in requests) == ["2023|03253", "2023|03259"]
    assert all(r.job_name == "submission_job" and r.run_key.split("|")[0] in ("03253", "03259") for r in requests)
    again, cursor = inbox_run_requests(settings, cursor, time.time())
    assert again == []  # unchanged inbox: nothing, and no file opened
    _drop(inbox, town, "ban-sao-thi-tran.xlsx")  # the same file copied in twice
    assert inbox_run_requests(settings, cursor, time.time())[0] == []


def test_sensor_waits_for_a_file_still_being_copied(sample_files, tmp_path):
    inbox = tmp_path / "inbox" / "2023"
    inbox.mkdir(parents=True)
    settings = _settings(tmp_path)
    growing = _drop(inbox, sample_files[2], mtime=time.time())
    requests, cursor = inbox_run_requests(settings, None, time.time())
    assert requests == [] and "hash" not in json.loads(cursor)[f"2023/{growing.name}"]
    requests, cursor = inbox_run_requests(settings, cursor, time.time())  # unchanged since: stable now
    assert [r.partition_key for r in requests] == ["2023|03260"]


def test_sensor_reads_a_large_arrival_over_several_looks(sample_files, tmp_path):
    from pipeline.intake.inbox import watch

    inbox = tmp_path / "inbox"
    (inbox / "2023").mkdir(parents=True)
    for path in sample_files:
        _drop(inbox / "2023", path)
    arrivals, cursor = watch(inbox, ["2023"], {}, time.time(), budget_seconds=0)  # time for one file only
    assert len(arrivals) == 1 and len(cursor) == 1
    seen = {a.path.name for a in arrivals}
    for _ in range(len(sample_files) - 1):
        arrivals, cursor = watch(inbox, ["2023"], cursor, time.time(), budget_seconds=0)
        assert len(arrivals) == 1 and arrivals[0].path.name not in seen
        seen.add(arrivals[0].path.name)
    assert seen == {p.name for p in sample_files} and len(cursor) == len(sample_files)
    assert watch(inbox, ["2023"], cursor, time.time(), budget_seconds=0)[0] == []


def test_sensor_routes_unidentified_files_and_the_plan(sample_files, tmp_path):
    inbox = tmp_path / "inbox" / "2023"
    inbox.mkdir(parents=True)
    (inbox / "bao-cao.xlsx").write_bytes(b"%PDF-1.4")
    os.utime(inbox / "bao-cao.xlsx", (OLD, OLD))
    _drop(inbox, next(p for p in sample_files if p.name.startswith("ke-hoach")))
    requests, _ = inbox_run_requests(_settings(tmp_path), None, time.time())
    assert sorted(r.job_name for r in requests) == ["consolidation_job", "inbox_job"]


def test_sensor_through_dagster(sample_files, tmp_path):
    inbox = tmp_path / "inbox" / "2023"
    inbox.mkdir(parents=True)
    _drop(inbox, sample_files[0])
    context = dg.build_sensor_context(resources={"settings": _settings(tmp_path)}, definitions=defs)
    result = inbox_sensor(context)
    assert [r.partition_key for r in result.run_requests] == ["2023|03253"]
    assert json.loads(result.cursor)[f"2023/{sample_files[0].name}"]["hash"]
    assert inbox_sensor.default_status == dg.DefaultSensorStatus.RUNNING


def test_nightly_schedule_runs_in_vietnam_time():
    assert nightly_schedule.execution_timezone == "Asia/Ho_Chi_Minh"
    assert nightly_schedule.cron_schedule == "0 1 * * *"
    assert nightly_schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    context = dg.build_schedule_context(
        scheduled_execution_time=dt.datetime(2023, 8, 11, 1, 0, tzinfo=dt.timezone(dt.timedelta(hours=7))))
    [request] = nightly_schedule.evaluate_tick(context).run_requests
    assert nightly_schedule.job_name == "nightly_job" and request.tags["dagster/schedule_name"] == "nightly_schedule"


def test_nightly_job_takes_in_and_publishes(sample_files, tmp_path):
    inbox = tmp_path / "inbox" / "2023"
    inbox.mkdir(parents=True)
    for path in sample_files:
        _drop(inbox, path)
    result = nightly_job.resolve(asset_graph=defs.resolve_asset_graph()).execute_in_process(
        resources={"settings": _settings(tmp_path)}, instance=dg.DagsterInstance.ephemeral())
    assert result.success
    out = tmp_path / "out" / "2023"
    assert len(list(out.glob("Bieu_*_2023.xlsx"))) == 16
    status = json.loads((tmp_path / "out" / "status.json").read_text(encoding="utf-8"))
    assert {u["state"] for u in status["periods"][0]["units"]} == {"hop_le"}
    events = {e.asset_key.to_user_string(): e.materialization.metadata for e in result.get_asset_materialization_events()}
    assert events["inbox_catch_up"]["Số đơn vị tiếp nhận"].value == 23
    table = events["submission_status"]["Kỳ 2023 · Các đơn vị"].value
    assert len(table.records) == 23 and table.records[0].data["Đúng hạn"] == "Đúng hạn"


def test_two_runs_at_once_never_fail_on_the_database_lock(sample_files, tmp_path):
    """Two real processes on the same data folder and instance, each taking in every unit."""
    inbox = tmp_path / "inbox" / "2023"
    inbox.mkdir(parents=True)
    for path in sample_files[:4]:
        _drop(inbox, path)
    home = tmp_path / "dagster_home"
    env = {**os.environ, "DAGSTER_HOME": str(home), "TUANGIAO_DATA_DIR": str(tmp_path / "data")}
    command = [sys.executable, "-m", "assets", "run", "--inbox", str(tmp_path / "inbox"), "--period", "2023"]
    first = subprocess.Popen(command + ["--clock", "2023-08-10T17:00:00"], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    second = subprocess.Popen(command + ["--clock", "2023-08-10T17:00:00"], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    outputs = [p.communicate(timeout=600) for p in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], [o[1][-2000:] for o in outputs]
    assert all("lock" not in (out + err).lower() for out, err in outputs)
    with duckdb.connect(str(tmp_path / "data" / "warehouse.duckdb"), read_only=True) as conn:
        assert conn.execute("SELECT COUNT(*) FROM submissions WHERE is_current").fetchone()[0] == 4
        assert conn.execute("SELECT COUNT(*) FROM submissions").fetchone()[0] == 4  # each file loaded once


def _wait_for(url: str, seconds: float = 90) -> None:
    import urllib.request

    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(1)
    raise AssertionError(f"{url} did not answer")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Chromium (Debian package chromium) not installed")
def test_dev_serves_the_ui_and_the_page_and_the_ui_shows_a_failed_check(tmp_path):
    """`make dev` (python -m assets dev): both servers up, one signal stops both; in the Dagster
    UI a real browser finds the failed unit's check and its findings."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
    inbox = tmp_path / "inbox" / "2023"
    inbox.mkdir(parents=True)
    _drop(inbox, ROOT / "tests" / "corpus" / "bad" / "chua-nhap.xlsx")  # Phình Sáng, HO_TONG left empty
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "home"), "TUANGIAO_DATA_DIR": str(tmp_path / "data")}
    run = subprocess.run([sys.executable, "-m", "assets", "run", "--inbox", str(tmp_path / "inbox"), "--period", "2023"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0 and "03259 – Xã Phình Sáng: Không hợp lệ (1 lỗi" in run.stdout
    ui, page_port = _free_port(), _free_port()
    dev = subprocess.Popen([sys.executable, "-m", "assets", "dev", "--port", str(ui), "--page-port", str(page_port)],
                           cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_for(f"http://127.0.0.1:{page_port}/")
        _wait_for(f"http://127.0.0.1:{ui}/server_info")
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--no-first-run", "--disable-sync"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000})

            def click(locator) -> None:
                """Click, first closing Dagster's newsletter dialog whenever it pops up."""
                for _ in range(6):
                    skip = page.get_by_text("Skip", exact=True)
                    if skip.count() and skip.first.is_visible():
                        skip.first.click()
                    try:
                        locator.click(timeout=5000)
                        return
                    except sync_api.TimeoutError:
                        page.keyboard.press("Escape")
                raise AssertionError(f"could not click {locator}")

            page.goto(f"http://127.0.0.1:{ui}/assets/unit_submission?view=checks", wait_until="networkidle")
            click(page.get_by_text("Execution history").first)
            row = page.locator("tr", has_text="2023|03259").first
            row.wait_for()
            assert "Không hợp lệ" in row.inner_text()
            click(row.locator("button").last)
            click(page.get_by_text("[Show Markdown]").first)
            page.get_by_text("chưa nhập", exact=False).first.wait_for()
            text = page.inner_text("body")
            page.screenshot(path=str(tmp_path / "dagster-check.png"))
            browser.close()
        assert "01 Chỉ tiêu" in text and "E5" in text and "Tổng số hộ dân cư" in text
    finally:
        dev.send_signal(signal.SIGINT)
        output, _ = dev.communicate(timeout=60)
    assert dev.returncode == 0, output[-2000:]
    for port in (ui, page_port):
        with pytest.raises(OSError):
            import urllib.request

            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=3)
