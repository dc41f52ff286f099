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
    assert "LibreOffice" in lines[2] and lines[2].startswith("[ỔN]")
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
