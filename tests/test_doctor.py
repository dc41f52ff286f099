"""``python -m pipeline doctor``: one Vietnamese screen, exit 1 as soon as something needs the
administrator: the data folder missing or its disk nearly full, LibreOffice that does not run,
a Times New Roman twin without Vietnamese letters or of the old 1.x series."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from collections import namedtuple
from pathlib import Path

import pytest

from pipeline.operations import doctor
from pipeline.publication.publish import publish_period
from pipeline.publication.status import write_intake_status
from pipeline.warehouse import connect
from tests.conftest import ROOT, needs_libreoffice, sample_taken_in

NOW = dt.datetime(2023, 8, 10, 17, 0)
LIBERATION_1 = Path("/usr/share/fonts/truetype/liberation")
needs_fontconfig = pytest.mark.skipif(shutil.which("fc-match") is None, reason="fontconfig (fc-match) not installed")


def _doctor(data: Path, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TUANGIAO_")} | env
    return subprocess.run([sys.executable, "-m", "pipeline", "doctor", "--data", str(data)], cwd=ROOT, env=environ,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def data(catalogue, tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("doctor") / "data"
    places = sample_taken_in(catalogue, tmp_path_factory, data, NOW)
    with connect(places.warehouse) as conn:
        write_intake_status(catalogue, conn, places, "2023", NOW.date())  # as intake leaves it
    publish_period(catalogue, places.warehouse, places.out, "2023", today=NOW.date())
    return data


@needs_libreoffice
@needs_fontconfig
def test_a_healthy_machine(data):
    done = _doctor(data)
    lines = done.stdout.splitlines()
    assert done.returncode == 0, done.stdout
    assert lines[0].startswith("[ỔN]  Ổ đĩa của thư mục dữ liệu") and str(data) in lines[0]
    assert "kỳ 2023" in lines[1] and "bộ biểu tính 23/23 đơn vị hợp lệ" in lines[1]
    assert "tiếp nhận gần nhất lúc" in lines[1] and lines[1].endswith(": 23/23 đơn vị hợp lệ")
    office = next(line for line in lines if "LibreOffice" in line)  # after every period's line (2021 … 2021-2025)
    assert office.startswith("[ỔN]")
    assert lines[-1] == "Mọi mục đều ổn."
    assert any(line.startswith("[--]") and "tuangiao-dagster-daemon" in line for line in lines)


def test_no_data_folder_and_no_libreoffice(tmp_path):
    done = _doctor(tmp_path / "khong-co", TUANGIAO_SOFFICE=str(tmp_path / "soffice"))
    assert done.returncode == 1
    assert "[LỖI] Ổ đĩa của thư mục dữ liệu" in done.stdout and "chưa có thư mục dữ liệu" in done.stdout
    assert "không chạy được soffice" in done.stdout
    assert done.stdout.splitlines()[-1] == "Có 2 mục cần xử lý (đánh dấu [LỖI])."


def test_a_nearly_full_disk(data, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(100 * 10 ** 9, 95 * 10 ** 9, 5 * 10 ** 9))
    found = doctor.disk(data)
    assert not found.fine and "còn trống 5,0 GB trên 100,0 GB (5 %)" in found.seen and "sắp đầy" in found.seen


@needs_fontconfig
@pytest.mark.skipif(not LIBERATION_1.is_dir(), reason="fonts-liberation (the 1.x series) not installed")
def test_the_old_liberation_is_refused(data, tmp_path):
    """A machine with only fonts-liberation (1.x): Times New Roman falls on Liberation Serif 1.x."""
    config = tmp_path / "fonts.conf"
    config.write_text(f'<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
                      f"<dir>{LIBERATION_1}</dir><cachedir>{tmp_path / 'cache'}</cachedir>"
                      "<include ignore_missing=\"yes\">/etc/fonts/conf.d/30-metric-aliases.conf</include></fontconfig>")
    done = _doctor(data, FONTCONFIG_FILE=str(config), TUANGIAO_PDF="0")
    line = next(line for line in done.stdout.splitlines() if "Phông chữ" in line)
    assert done.returncode == 1 and line.startswith("[LỖI]")
    assert "Liberation Serif 1," in line and "fonts-liberation2" in line


# /suc-khoe: public terse answer, the checks for officers only -------------------------------------

def _page(data: Path, **settings: str):
    from starlette.testclient import TestClient

    from pipeline.settings import Settings
    from pipeline.web.app import create_app

    app = create_app(data, settings=Settings.from_environment({}, data_dir=str(data), **settings))
    return app, TestClient(app, follow_redirects=False)


@needs_libreoffice
@needs_fontconfig
def test_the_health_page_tells_everyone_ok_and_officers_the_checks(data):
    from tests.conftest import officer_client

    app, anyone = _page(data)
    answer = anyone.get("/suc-khoe")
    assert answer.status_code == 200 and "Ổn: mọi mục đều ổn." in answer.text
    assert str(data) not in answer.text and "LibreOffice" not in answer.text  # nothing internal to the public
    officer = officer_client(app, data).get("/suc-khoe")
    assert officer.status_code == 200
    for seen in (str(data), "LibreOffice", "Liberation Serif", "bộ biểu tính 23/23 đơn vị hợp lệ",
                 "python -m assets doctor"):
        assert seen in officer.text, seen


def test_the_health_page_answers_503_when_something_is_wrong_and_runs_the_checks_once_a_minute(data, tmp_path,
                                                                                                 monkeypatch):
    from tests.conftest import officer_client

    calls = []
    real = doctor.office
    monkeypatch.setattr(doctor, "office", lambda settings: calls.append(1) or real(settings))
    app, anyone = _page(data, soffice=str(tmp_path / "soffice"))
    for _ in range(5):
        answer = anyone.get("/suc-khoe")
        assert answer.status_code == 503 and "Chưa ổn" in answer.text and "soffice" not in answer.text
    officer = officer_client(app, data).get("/suc-khoe")
    assert officer.status_code == 503 and "không chạy được soffice" in officer.text
    assert len(calls) == 1  # six requests, one look


def test_the_health_page_is_public_in_the_route_audiences(data):
    from pipeline.web.app import create_app
    from pipeline.web.auth import AUDIENCE, PUBLIC

    routes = {route.path: getattr(route.endpoint, AUDIENCE, None) for route in create_app(data).routes}
    assert routes["/suc-khoe"] == PUBLIC


# python -m assets doctor: the daemon's heartbeat from a real instance -----------------------------

def _home(tmp_path: Path) -> Path:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    return home


def test_assets_doctor_says_the_daemon_is_not_running(data, tmp_path):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TUANGIAO_")} | {
        "DAGSTER_HOME": str(_home(tmp_path))}
    done = subprocess.run([sys.executable, "-m", "assets", "doctor", "--data", str(data)], cwd=ROOT, env=environ,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("[ỔN]  Ổ đĩa của thư mục dữ liệu") and "kỳ 2023" in lines[1]  # the doctor's screen
    daemon_line = next(line for line in lines if "Tiến trình nền Dagster" in line)
    assert daemon_line.startswith("[LỖI]") and "không chạy (không có nhịp trong 60 giây qua)" in daemon_line
    assert "Traceback" not in done.stderr


def test_heartbeats_fresh_stale_and_failing(tmp_path, monkeypatch):
    import dagster as dg
    from dagster._daemon.types import DaemonHeartbeat
    from dagster._utils.error import SerializableErrorInfo

    from assets.health import daemon

    monkeypatch.setenv("DAGSTER_HOME", str(_home(tmp_path)))
    instance = dg.DagsterInstance.get()
    required = instance.get_required_daemon_types()
    assert "SENSOR" in required and "MONITORING" in required  # the shipped dagster.yaml turns run monitoring on
    now = 1_700_000_000.0
    for kind in required:
        instance.add_daemon_heartbeat(DaemonHeartbeat(now - 20, kind, None, None))
    assert daemon(instance, now).fine is True
    assert not daemon(instance, now + 600).fine and "nhịp cuối cách đây 10 phút" in daemon(instance, now + 600).seen
    error = SerializableErrorInfo("sqlite3.OperationalError: database is locked\n", [], "OperationalError")
    instance.add_daemon_heartbeat(DaemonHeartbeat(now - 5, "SENSOR", None, [error]))
    failing = daemon(instance, now)
    assert failing.fine is False and "báo lỗi: SENSOR (sqlite3.OperationalError: database is locked)" in failing.seen


@pytest.mark.slow  # the daemon loads the code location before its first heartbeat: 20 to 60 s
def test_a_running_daemon_is_seen_healthy(tmp_path, monkeypatch):
    import signal
    import time

    import dagster as dg

    from assets.health import daemon

    home = _home(tmp_path)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TUANGIAO_")} | {
        "DAGSTER_HOME": str(home), "TUANGIAO_DATA_DIR": str(tmp_path / "data")}
    program = Path(sys.executable).with_name("dagster-daemon")
    process = subprocess.Popen([str(program), "run", "-w", "workspace.yaml"], cwd=ROOT, env=environ,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        instance = dg.DagsterInstance.get()
        deadline, found = time.monotonic() + 180, None
        while time.monotonic() < deadline:
            found = daemon(instance)
            if found.fine:
                break
            time.sleep(2)
        assert found.fine is True and found.seen.startswith("đang chạy"), found
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    later = daemon(instance, time.time() + 120)  # stopped: two minutes on, the line says so
    assert later.fine is False and "không chạy" in later.seen
