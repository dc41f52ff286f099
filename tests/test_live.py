"""A live day through Dagster for real: the automation conditions follow an intake with one
consolidation that updates status.json and the Biểu; every intake writes the units as they
are now (a refused file counts as sent, a unit without a new file keeps its state, the plan
in use is told), and the files nobody could attribute are listed on the page; and ``make dev``
for real (one server for its tests): the Dagster UI shows a failed check, a live day in the
browser, one Ctrl-C stops everything."""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import openpyxl
import pytest

from assets.definitions import defs
from assets.intake import unidentified_submissions
from assets.partitions import submission_key
from assets.publication import district_plan
from assets.resources import PipelineSettings
from pipeline.catalogue.batches import UNIT
from pipeline.web.app import create_app
from tests.conftest import CHROMIUM, ROOT, needs_chromium, officer_client
from tests.test_every_file import _rewrite, _sheet_part

unit_submission = defs.get_assets_def("unit_submission")
CLOCK = "2023-08-10T17:00:00.123456"  # microseconds, never shown
UNITS = ("03259", "03253")
DOWNSTREAM = {"district_consolidation", "submission_status", "bao_cao_danh_gia"} | {f"bieu_{n:02d}" for n in range(1, 16)}


@pytest.fixture
def data_dir(tmp_path, sample_files):
    inbox = tmp_path / "inbox" / "2023"
    inbox.mkdir(parents=True)
    for path in sample_files:
        if path.name.startswith(UNITS):
            shutil.copy(path, inbox / path.name)
    return tmp_path


def _settings(data_dir, inbox=None) -> PipelineSettings:
    return PipelineSettings(data_dir=str(data_dir), inbox_dir=str(inbox or ""), fixed_clock=CLOCK, pdf=False)


def _materialize(assets, settings, instance, partition=None, selection=None):
    result = dg.materialize(assets, partition_key=partition, selection=selection, resources={"settings": settings},
                            instance=instance, raise_on_error=False)
    assert result.success  # an invalid unit is a recorded result, never a failed run
    return result


def _metadata(result) -> dict:
    return {k: v.value for k, v in result.get_asset_materialization_events()[0].materialization.metadata.items()}


def _units_now(data_dir) -> dict:
    document = json.loads((data_dir / "out" / "2023" / "tiep-nhan.json").read_text(encoding="utf-8"))
    return {u["code"]: u for u in document["units"]}


def _grid(data_dir) -> dict:
    status = json.loads((data_dir / "out" / "status.json").read_text(encoding="utf-8"))
    return {u["code"]: u["state"] for p in status["periods"] if p["key"] == "2023" for u in p["units"]}


def _break(path, cell="E5"):
    workbook = openpyxl.load_workbook(path)
    workbook["01 Chỉ tiêu"][cell] = None
    workbook.save(path)


def _refuse(path):
    """A report whose unit can be read but whose content cannot: a reference to Excel's last
    cell in a data sheet aborts the reader (``test_every_file``)."""
    part = _sheet_part(path, "01 Chỉ tiêu")
    aborting = path.with_name(".lam-hong")
    _rewrite(path, aborting, lambda name, data: data.replace(
        b"</sheetData>", b"<row r='1048576'><c r='XFD1048576'><v>1</v></c></row></sheetData>") if name == part else data)
    aborting.replace(path)


def test_automation_follows_intake_with_one_consolidation(data_dir):
    settings = _settings(data_dir)
    assets = list(defs.assets)
    with dg.instance_for_test() as instance:
        first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        assert first.total_requested == 0  # nothing taken in yet
        for unit in UNITS:  # a burst of files: one run per unit
            _materialize([unit_submission], settings, instance, submission_key("2023", unit, UNIT))
        evaluation = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
        requested = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()
                     if evaluation.get_num_requested(key)}
        assert requested == DOWNSTREAM and evaluation.get_num_requested(dg.AssetKey("district_consolidation")) == 1
        _materialize(assets, settings, instance, selection=[dg.AssetKey.from_user_string(k) for k in requested])
        assert _grid(data_dir) == {**{u: "chua_nop" for u in _grid(data_dir)}, "03259": "hop_le", "03253": "hop_le"}
        bieu = (data_dir / "out" / "2023" / "Bieu_01_2023.xlsx").read_bytes()
        again = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=evaluation.cursor)
        assert again.total_requested == 0  # handled: not requested twice

        _break(data_dir / "inbox" / "2023" / "03253-thi-tran-tuan-giao.xlsx")
        settings = PipelineSettings(data_dir=str(data_dir), fixed_clock="2023-08-11T09:00:00", pdf=False)  # the next day
        _materialize([unit_submission], settings, instance, submission_key("2023", "03253", UNIT))
        assert _units_now(data_dir)["03253"]["state"] == "khong_hop_le"  # the grid follows the intake at once
        evaluation = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=again.cursor)
        assert evaluation.get_num_requested(dg.AssetKey("district_consolidation")) == 1
        _materialize(assets, settings, instance, selection=[dg.AssetKey("district_consolidation"),
                                                            *[dg.AssetKey(k) for k in DOWNSTREAM]])
        assert _grid(data_dir)["03253"] == "khong_hop_le"
        assert (data_dir / "out" / "2023" / "Bieu_01_2023.xlsx").read_bytes() != bieu


def test_a_refused_file_counts_as_sent_and_invalid(data_dir):
    settings, instance = _settings(data_dir), dg.DagsterInstance.ephemeral()
    _materialize([unit_submission], settings, instance, submission_key("2023", "03259", UNIT))
    inbox = data_dir / "inbox" / "2023"
    _refuse(inbox / "03253-thi-tran-tuan-giao.xlsx")  # the town's only file
    shutil.copy(inbox / "03259-xa-phinh-sang.xlsx", inbox / "03259-lan-2.xlsx")
    _refuse(inbox / "03259-lan-2.xlsx")  # Phình Sáng's second file
    settings = PipelineSettings(data_dir=str(data_dir), fixed_clock="2023-08-11T09:00:00.5", pdf=False)  # the next day
    town = _materialize([unit_submission], settings, instance, submission_key("2023", "03253", UNIT))
    check = town.get_asset_check_evaluations()[0]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert any("làm hỏng bộ đọc" in r.data["Nội dung"] for r in check.metadata["Phát hiện"].records)
    later = _materialize([unit_submission], settings, instance, submission_key("2023", "03259", UNIT))
    units = _units_now(data_dir)
    assert (units["03253"]["state"], units["03253"]["label"]) == ("khong_hop_le", "Không hợp lệ (tệp không đọc được)")
    assert units["03253"]["errors"] == 1 and units["03253"]["feedback"].startswith("phan-hoi/phan-hoi-tep-khong-doc-duoc-03253-")
    assert units["03253"]["received_at"] == "2023-08-11 09:00:00"
    assert units["03259"]["label"] == "Không hợp lệ (tệp không đọc được) (đang dùng bản hợp lệ trước)"
    assert _metadata(later)["Tệp đang dùng"] == "03259-xa-phinh-sang.xlsx"


def test_rematerializing_without_new_files_keeps_every_state(data_dir, tmp_path_factory):
    """The sample was taken in from another inbox; the UI then materializes every partition on
    the usual, empty inbox."""
    instance = dg.DagsterInstance.ephemeral()
    elsewhere = _settings(data_dir, ROOT / "data" / "sample")
    _materialize([unit_submission], elsewhere, instance, submission_key("2023", "03259", UNIT))
    _materialize([district_plan], elsewhere, instance)
    before = _units_now(data_dir)
    empty = _settings(data_dir, tmp_path_factory.mktemp("empty-inbox"))
    again = _materialize([unit_submission], empty, instance, submission_key("2023", "03259", UNIT))
    assert _metadata(again)["Trạng thái"] == "Hợp lệ" and again.get_asset_check_evaluations()[0].passed
    assert _units_now(data_dir) == before
    plan = _metadata(_materialize([district_plan], empty, instance))["Kỳ 2023 · Trạng thái"]
    assert plan == 'Hợp lệ: đang dùng "ke-hoach-huyen-2023.xlsx" (nhận lúc 2023-08-10 17:00:00)'


def test_unidentified_files_are_listed_on_the_page(data_dir):
    inbox = data_dir / "inbox" / "2023"
    shutil.copy(ROOT / "tests" / "corpus" / "hostile" / "tai-lieu-pdf.xlsx", inbox / "bao-cao.xlsx")
    shutil.copy(inbox / "03259-xa-phinh-sang.xlsx", inbox / "don-vi-la.xlsx")
    workbook = openpyxl.load_workbook(inbox / "don-vi-la.xlsx")
    workbook["Thông tin"]["C4"] = "99999"
    workbook.save(inbox / "don-vi-la.xlsx")
    settings, instance = _settings(data_dir), dg.DagsterInstance.ephemeral()
    _materialize([unit_submission], settings, instance, submission_key("2023", "03259", UNIT))  # writes status.json
    result = _materialize([unidentified_submissions], settings, instance)
    metadata = _metadata(result)
    assert metadata["Số tệp"] == 2
    files = {r.data["Tệp"]: r.data for r in metadata["Kỳ 2023 · Tệp không xác định được đơn vị"].records}
    assert files["bao-cao.xlsx"]["Tệp phản hồi"].startswith("/tep/2023/phan-hoi/phan-hoi-tep-khong-doc-duoc-")
    from starlette.testclient import TestClient

    assert "Tệp không xác định được đơn vị" not in TestClient(create_app(data_dir)).get("/ky/2023").text  # officers'
    page = officer_client(create_app(data_dir), data_dir).get("/ky/2023").text
    assert "Tệp không xác định được đơn vị" in page
    assert 'Tệp "don-vi-la.xlsx", ô C4 (Mã đơn vị): mã đơn vị "99999" không có trong danh mục' in html.unescape(page)
    assert "bao-cao.xlsx" in page and "không phải là bảng tính" in page
    assert page.count("10/08/2023 17:00<") == 3 and ".123456" not in page  # the unit and both files
    assert 'href="/tep/2023/phan-hoi/phan-hoi-tep-khong-doc-duoc-bao-cao-' in page
    assert 'href="/tep/2023/phan-hoi/phan-hoi-99999-2023.xlsx"' in page


INJECTED = "[Bấm vào đây](http://x) ![x](http://y/p.png) | cột thừa"


def _dev(folder, *extra_env, ports=None):
    """``python -m assets dev`` on a data folder and DAGSTER_HOME in ``folder``, in its own session
    (on two free ports, or ``ports``)."""
    from tests.test_web import _free_port

    ui, page = ports or (_free_port(), _free_port())
    env = {**os.environ, "DAGSTER_HOME": str(folder / "home"), "TUANGIAO_DATA_DIR": str(folder / "data"),
           "TUANGIAO_DOWNLOAD_URL": f"http://127.0.0.1:{page}", **dict(extra_env)}
    output = (folder / "dev.txt").open("w")
    process = subprocess.Popen([sys.executable, "-m", "assets", "dev", "--port", str(ui), "--page-port", str(page)],
                               cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    return process, f"http://127.0.0.1:{ui}", f"http://127.0.0.1:{page}"


def _graphql(ui: str, query: str) -> dict:
    import urllib.request

    request = urllib.request.Request(f"{ui}/graphql", data=json.dumps({"query": query}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["data"]


@dataclass
class Dev:
    """A running ``make dev``: its process, the Dagster UI's and the page's addresses, its folder
    (``home``, ``data``, ``dev.txt``) and the output of the ``assets run`` made before it started."""

    process: subprocess.Popen
    ui: str
    page: str
    folder: Path
    run_output: str


@pytest.fixture(scope="module")
def dev(tmp_path_factory):
    """One ``make dev`` (``python -m assets dev``, sensors every 5 s) for the tests below, which use
    it in the file's order: the UI shows the failed check of a run made before it started, the live
    day in the browser, then Ctrl-C stops everything. Starting it costs each test half a minute, so
    it is started once. The run before it is ``python -m assets run`` of Phình Sáng's workbook with
    an empty cell, into the same DAGSTER_HOME (the UI shows it) but a data folder of its own: the
    live day begins on an empty one."""
    from tests.test_web import _answers, _wait_until

    folder = tmp_path_factory.mktemp("dev")
    inbox = folder / "inbox-truoc" / "2023"
    inbox.mkdir(parents=True)
    shutil.copy(ROOT / "tests" / "corpus" / "bad" / "chua-nhap.xlsx", inbox / "chua-nhap.xlsx")
    workbook = openpyxl.load_workbook(inbox / "chua-nhap.xlsx")
    workbook["01 Chỉ tiêu"]["E6"] = INJECTED  # Markdown typed in a cell, and a "|"
    workbook.save(inbox / "chua-nhap.xlsx")
    os.utime(inbox / "chua-nhap.xlsx", (1_700_000_000, 1_700_000_000))
    env = {**os.environ, "DAGSTER_HOME": str(folder / "home"), "TUANGIAO_DATA_DIR": str(folder / "data-truoc")}
    run = subprocess.run([sys.executable, "-m", "assets", "run", "--inbox", str(inbox.parent), "--period", "2023"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    process, ui, page = _dev(folder, ("TUANGIAO_SENSOR_SECONDS", "5"))
    try:
        _wait_until(lambda: _answers(f"{ui}/server_info") and _answers(page), "make dev did not start",
                    alive=lambda: process.poll() is None, seconds=120)
        yield Dev(process, ui, page, folder, run.stdout)
    finally:
        if process.poll() is None:  # a test before the last one failed: stop it as Ctrl-C does
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _browser(p):
    return p.chromium.launch(executable_path=CHROMIUM, args=[
        "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync"])


@pytest.mark.slow
@needs_chromium
def test_dev_serves_the_ui_and_the_page_and_the_ui_shows_a_failed_check(dev):
    """`make dev` (python -m assets dev): both servers up (the fixture waits for both; Ctrl-C
    stopping both is the last test); in the Dagster UI a real browser finds the failed unit's
    check and its findings table, where the Markdown a unit typed in a cell is text: no link, no
    image fetched, no column more (issue 26.8)."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
    assert "03259 – Xã Phình Sáng: Không hợp lệ (2 lỗi" in dev.run_output
    with sync_api.sync_playwright() as p:
        browser = _browser(p)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        fetched = []
        page.on("request", lambda request: fetched.append(request.url))

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

        page.goto(f"{dev.ui}/assets/unit_submission?view=checks", wait_until="networkidle")
        click(page.get_by_text("Execution history").first)
        row = page.locator("tr", has_text="2023|03259").first
        row.wait_for()
        assert "Không hợp lệ" in row.inner_text()
        click(row.locator("button").last)
        page.get_by_text("chưa nhập", exact=False).first.wait_for()
        findings = page.locator("table", has_text="Nội dung").last
        cells = [findings.locator("tr", has_text=cell).first.locator("td").all_inner_texts() for cell in ("E5", "E6")]
        links = page.locator('a[href^="http://x"], img[src^="http://y"]').count()
        text = page.inner_text("body")
        page.screenshot(path=str(dev.folder / "dagster-check.png"))
        browser.close()
    assert "01 Chỉ tiêu" in text and "E5" in text and "Tổng số hộ dân cư" in text
    assert cells[1][:5] == ["lỗi", "01 Chỉ tiêu", "E6", "Số hộ nghèo", INJECTED] and len(cells[1]) == len(cells[0])
    assert links == 0 and not [url for url in fetched if url.startswith(("http://x", "http://y"))]


@pytest.mark.slow
@needs_chromium
def test_a_live_day_in_the_browser(dev, sample_files):
    """``make dev`` on a new data folder: a broken file, then its fix, dropped into the inbox;
    the page, the Biểu and the Dagster UI follow without anyone launching anything."""
    from playwright.sync_api import sync_playwright

    from pipeline.web.access import OFFICER, AccessStore
    from tests.test_web import _sign_in, _wait_until

    process, ui, page_url = dev.process, dev.ui, dev.page
    inbox = dev.folder / "data" / "inbox" / "2023"
    out = dev.folder / "data" / "out" / "2023"
    shots = dev.folder / "anh"
    shots.mkdir()

    def grid_shows(code, state):
        try:
            units = {u["code"]: u for u in json.loads((out / "tiep-nhan.json").read_text(encoding="utf-8"))["units"]}
        except (OSError, ValueError):
            return False
        return units[code]["state"] == state

    read = {}  # the workbook last read, by its file's identity: polled every 50 ms, it is opened once per version

    def sources():
        try:
            status = (out / "Bieu_01_2023.xlsx").stat()  # through the lasting name's link: the set in use
            version = (status.st_ino, status.st_mtime_ns, status.st_size)
            if version not in read:
                workbook = openpyxl.load_workbook(out / "Bieu_01_2023.xlsx", read_only=True)
                read.clear()
                read[version] = {row[1]: row[4] for row in workbook["Nguồn số liệu"].iter_rows(min_row=3, values_only=True)}
                workbook.close()
        except OSError:
            return {}
        return read[version]

    inbox.mkdir(parents=True)
    sample = {p.name[:5]: p for p in sample_files}
    shutil.copy(sample["03259"], inbox / sample["03259"].name)
    broken = inbox / "03253-lan-1.xlsx"
    shutil.copy(sample["03253"], broken)
    _break(broken)
    _wait_until(lambda: grid_shows("03253", "khong_hop_le") and sources().get("03259") == sample["03259"].name,
                "the page and the Biểu did not follow the broken file", alive=lambda: process.poll() is None,
                seconds=240)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        view = browser.new_page(viewport={"width": 1280, "height": 900})
        officer = AccessStore(dev.folder / "data").issue("huyen", OFFICER, dt.datetime(2023, 8, 10, 8, 0))
        _sign_in(view, page_url, "huyen", officer)  # the grid is the officers'
        view.goto(f"{page_url}/ky/2023")
        row = view.locator("tr", has_text="Thị trấn Tuần Giáo")
        assert "Không hợp lệ" in row.inner_text()
        assert row.locator("a", has_text="Phản hồi").get_attribute("href") == "/tep/2023/phan-hoi/phan-hoi-03253-2023.xlsx"
        view.screenshot(path=str(shots / "1-trang-ky.png"), full_page=True)
        view.goto(f"{ui}/assets/unit_submission?view=checks")
        view.get_by_text("valid_submission").first.wait_for(timeout=60_000)
        view.screenshot(path=str(shots / "2-kiem-tra.png"), full_page=True)
        view.goto(f"{ui}/runs")
        view.get_by_text("Thị trấn Tuần Giáo").first.wait_for(timeout=60_000)  # the run's tag names the unit
        view.screenshot(path=str(shots / "3-luot-chay.png"), full_page=True)

        fixed = inbox / "03253-lan-2.xlsx"
        shutil.copy(sample["03253"], fixed)
        _wait_until(lambda: grid_shows("03253", "hop_le") and sources().get("03253") == fixed.name,
                    "the page and the Biểu did not follow the fixed file", alive=lambda: process.poll() is None,
                    seconds=240)
        view.goto(f"{page_url}/ky/2023")
        assert "Hợp lệ" in view.locator("tr", has_text="Thị trấn Tuần Giáo").inner_text()
        view.screenshot(path=str(shots / "4-trang-ky-sau.png"), full_page=True)
        browser.close()
    checks = _graphql(ui, """{ assetNodes(assetKeys: [{path: ["unit_submission"]}]) { assetChecksOrError {
        ... on AssetChecks { checks { executionForLatestMaterialization { evaluation { success
        metadataEntries { label ... on TableMetadataEntry { table { records } } } } } } } } } }""")
    runs = _graphql(ui, "{ runsOrError { ... on Runs { results { status jobName tags { key value } } } } }")
    statuses = [(r["jobName"], r["status"]) for r in runs["runsOrError"]["results"]]
    assert all(status in ("SUCCESS", "STARTED") for _, status in statuses), statuses  # a broken file fails no run
    assert sum(job == "__ASSET_JOB" for job, _ in statuses) <= 3  # a few consolidations, not one per file
    [check] = checks["assetNodes"][0]["assetChecksOrError"]["checks"]
    evaluation = check["executionForLatestMaterialization"]["evaluation"]
    assert evaluation["success"]  # the latest file, the fixed one, passed


@pytest.mark.slow
def test_dev_starts_clean_and_ctrl_c_stops_everything(dev):
    """The last test on the module's `make dev`: no newsletter box, every process of it there,
    then one Ctrl-C stops them all within seconds, and nothing answers on either port."""
    import urllib.request

    from assets.__main__ import _descendants
    from assets.runs import alive

    process = dev.process
    assert process.poll() is None, "make dev stopped before Ctrl-C"
    assert _graphql(dev.ui, "{ shouldShowNux }") == {"shouldShowNux": False}  # no newsletter box
    family = _descendants(process.pid)
    assert len(family) >= 4  # dagster dev, its webserver, daemon and code server, the page
    started = time.monotonic()
    process.send_signal(signal.SIGINT)
    process.wait(timeout=30)
    assert time.monotonic() - started < 10
    assert process.returncode == 0
    assert [pid for pid in family if alive(pid)] == []
    for address in (dev.ui, dev.page):
        with pytest.raises(OSError):
            urllib.request.urlopen(f"{address}/", timeout=3)
    output = (dev.folder / "dev.txt").read_text()
    assert "SupersessionWarning" not in output and "will not be used" not in output
    assert "Đã dừng giao diện Dagster và trang tải về." in output


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers bind
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@pytest.mark.slow
def test_a_power_cut_during_make_dev_is_recovered_at_the_next_start(tmp_path, sample_files, monkeypatch):
    """Every process of `make dev` SIGKILLed at once (a power cut) while a burst of files is taken
    in: the next `make dev` fails the dead runs and frees the pool slot at once, the queued runs
    go on, a new file is taken in and published, and no file is taken in twice. Then SIGKILL of
    only the launcher takes every process of it down with it: its ports are free at once."""
    from urllib.parse import urlparse

    from assets.__main__ import _descendants
    from assets.runs import alive
    from assets.runs import POOL
    from tests.test_web import _answers, _wait_until

    units = [p for p in sample_files if p.name[:5].isdigit()]
    burst, late = units[:6], units[6]
    inbox = tmp_path / "data" / "inbox" / "2023"
    inbox.mkdir(parents=True)
    for path in burst:
        shutil.copy(path, inbox / path.name)
        os.utime(inbox / path.name, (1_700_000_000, 1_700_000_000))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    sensors = ("TUANGIAO_SENSOR_SECONDS", "2")
    launched = []

    def start(recovered=lambda: True):
        process, ui, page = _dev(tmp_path, sensors)
        launched.append(process)
        _wait_until(recovered, "the dead runs were not failed", alive=lambda: process.poll() is None, seconds=60)
        took = time.monotonic() - started
        _wait_until(lambda: _answers(f"{ui}/server_info") and _answers(page), "make dev did not start",
                    alive=lambda: process.poll() is None, seconds=120)
        return process, ui, page, took

    def runs(instance, *statuses):
        return {r.run_id for r in instance.get_runs(dg.RunsFilter(statuses=list(statuses)))}

    try:
        started = time.monotonic()
        first, _, _, _ = start()
        with dg.DagsterInstance.get() as instance:
            _wait_until(lambda: runs(instance, dg.DagsterRunStatus.STARTED)
                        and instance.event_log_storage.get_concurrency_info(POOL).active_run_ids,
                        "no run started", seconds=120)
            everything = [first.pid, *_descendants(first.pid)]
            for pid in everything:  # a power cut: every process stops at the same instant
                os.kill(pid, signal.SIGSTOP)
            for pid in everything:
                os.kill(pid, signal.SIGKILL)
            first.wait()
            _wait_until(lambda: not any(alive(pid) for pid in everything), "a process survived", seconds=10)
            dead = runs(instance, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED)
            holding = instance.event_log_storage.get_concurrency_info(POOL).active_run_ids
            assert dead and holding <= dead  # dead runs, one holding the DuckDB slot

            started = time.monotonic()
            second, ui, page, recovered = start(
                lambda: runs(instance, dg.DagsterRunStatus.FAILURE) >= dead
                and not instance.event_log_storage.get_concurrency_info(POOL).active_run_ids & dead)
            shutil.copy(late, inbox / late.name)  # a new file, after the power cut
            os.utime(inbox / late.name, (1_700_000_000, 1_700_000_000))
            code = late.name[:5]
            _wait_until(lambda: (tmp_path / "data" / "out" / "status.json").exists()
                        and _grid(tmp_path / "data").get(code) == "hop_le", "the new file was not published",
                        alive=lambda: second.poll() is None, seconds=240)
            published = time.monotonic() - started
            print(f"{len(dead)} dead runs failed and the slot freed {recovered:.1f} s after the restart, "
                  f"the new file published after {published:.1f} s")
            assert "Đã đánh dấu thất bại" in (tmp_path / "dev.txt").read_text()
        arrivals = {unit.name: len(list(unit.glob("*.arrival.json")))
                    for unit in (tmp_path / "data" / "archive" / "2023").iterdir()}
        assert arrivals and set(arrivals.values()) == {1}, arrivals  # nothing taken in twice
        assert code in arrivals

        family = _descendants(second.pid)
        assert len(family) >= 5  # dagster dev, its webserver, daemon and code server, the page, the guard
        os.kill(second.pid, signal.SIGKILL)  # only the launcher
        second.wait()
        _wait_until(lambda: not any(alive(pid) for pid in family), "the launcher's processes outlived it", seconds=15)
        ports = [urlparse(address).port for address in (ui, page)]
        assert all(_port_free(port) for port in ports)
    finally:
        for process in launched:
            for pid in [process.pid, *_descendants(process.pid)]:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            process.wait()
