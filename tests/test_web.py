"""The page, served for real by uvicorn on 127.0.0.1: the status grid (for officers),
downloads with the right headers, nothing outside data/out/ and templates_xlsx/, an upload
cut off while it streams, and a real browser along the commune's and the officer's paths."""

from __future__ import annotations

import datetime as dt
import select
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest
import uvicorn

from pipeline.intake.take_in import take_in_unit
from pipeline.publication.publish import publish_period
from pipeline.publication.status import write_status
from pipeline.settings import Places
from pipeline.warehouse import connect
from pipeline.web.access import OFFICER, UNIT, AccessStore, Sessions, signing_key
from pipeline.web.app import create_app
from pipeline.web.upload import UPLOAD_LIMIT_BYTES
from tests.conftest import CHROMIUM, ROOT, SAMPLE_DIR, needs_chromium, take_in_everything

T0 = dt.datetime(2023, 8, 10, 8, 0)
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--no-first-run", "--disable-sync"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until(ready, failure: str, alive=lambda: True, seconds: float = 30) -> None:
    """Poll ``ready`` until it holds; fail after ``seconds`` or as soon as the server is gone."""
    deadline = time.monotonic() + seconds
    while not ready():
        if not alive() or time.monotonic() > deadline:
            raise AssertionError(failure)
        time.sleep(0.05)


def _answers(url: str) -> bool:
    try:
        return _get(url)[0] == 200
    except OSError:  # nothing listens yet
        return False


@pytest.fixture(scope="module")
def data(catalogue, sample_files, tmp_path_factory):
    """The sample without the town (missing) and with one invalid unit, consolidated and published."""
    data = tmp_path_factory.mktemp("data")
    places = Places.under(data)
    inbox = places.inbox / "2023"
    inbox.mkdir(parents=True)
    (inbox / "03260-xa-rang-dong.xlsx").write_bytes(b"")  # Rạng Đông sends an empty file: not submitted
    take_in_everything(catalogue, places, T0, [p for p in sample_files if not p.name.startswith(("03253", "03260"))])
    # ...and the next day Phình Sáng sends a second file with an empty cell.
    shutil.copy(ROOT / "tests" / "corpus" / "bad" / "chua-nhap.xlsx", inbox / "phinh-sang-lan-2.xlsx")
    take_in_unit(catalogue, places, "2023", "03259", T0 + dt.timedelta(days=1))
    publish_period(catalogue, places.warehouse, places.out, "2023")
    with connect(places.warehouse) as conn:
        write_status(catalogue, conn, places.out, dt.date(2023, 8, 20))
    (places.out / "2023" / "Báo cáo tổng hợp.xlsx").write_bytes(b"PK\x03\x04 test")
    places.warehouse.unlink()  # the page must not need the database
    return data


@pytest.fixture(scope="module")
def officer(data) -> str:
    """A session cookie of a district officer (the header's value)."""
    store = AccessStore(data)
    store.issue("huyen", OFFICER, T0)
    return "phien=" + Sessions(signing_key(data), store).new(store.account("huyen"))[1]


def _serving(data):
    """create_app(data) served by uvicorn on a free port: yields its address."""
    port = _free_port()
    instance = uvicorn.Server(uvicorn.Config(create_app(data), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    _wait_until(lambda: instance.started, "the page server did not start", alive=thread.is_alive)
    yield f"http://127.0.0.1:{port}"
    instance.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def server(data):
    yield from _serving(data)


def _get(url: str, cookie: str = ""):
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_index_lists_periods_and_templates(server):
    status, headers, body = _get(server + "/")
    text = body.decode()
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert "Năm 2023" in text and "mau-bao-cao-don-vi.xlsx" in text and "mau-ke-hoach-huyen.xlsx" in text
    assert "<script" not in text and 'name="viewport"' in text


def test_period_page_shows_the_status_grid(server, officer):
    status, _, body = _get(server + "/ky/2023", officer)
    text = body.decode()
    assert status == 200
    assert text.count("<tr class=") == 23
    assert '<tr class="chua_nop"><td>03253</td><td>Thị trấn Tuần Giáo</td><td>Chưa nộp</td>' in text
    assert '<tr class="chua_nop"><td>03260</td>' in text  # an empty file says nothing about who sent it
    assert "Không hợp lệ (đang dùng bản hợp lệ trước)" in text  # Phình Sáng's second file is rejected
    assert "Hợp lệ: 20" in text and "Không hợp lệ: 1" in text and "Chưa nộp: 2" in text
    assert 'href="/tep/2023/Bieu_01_2023.xlsx"' in text and 'href="/tep/2023/Bieu_01-15_2023.zip"' in text
    assert 'href="/tep/2023/phan-hoi/phan-hoi-03259-2023.xlsx"' in text
    assert ">Biểu 01: Chỉ số, khung kết quả thực hiện Chương trình</a>" in text  # titles from the catalogue


def test_downloads_have_the_right_headers(server, data):
    status, headers, body = _get(server + "/tep/2023/Bieu_02_2023.xlsx")
    assert status == 200 and body == (data / "out" / "2023" / "Bieu_02_2023.xlsx").read_bytes()
    assert headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert headers["content-disposition"] == "attachment; filename=\"Bieu_02_2023.xlsx\"; filename*=UTF-8''Bieu_02_2023.xlsx"
    # A file in out/<period>/ that is not in the published set is not served, though it is there.
    assert (data / "out" / "2023" / "Báo cáo tổng hợp.xlsx").is_file()
    assert _get(server + "/tep/2023/B%C3%A1o%20c%C3%A1o%20t%E1%BB%95ng%20h%E1%BB%A3p.xlsx")[0] == 404
    assert _get(server + "/tep/2023/Bieu_01-15_2023.zip")[1]["content-type"] == "application/zip"
    assert _get(server + "/mau/mau-bao-cao-don-vi.xlsx")[0] == 200


@pytest.mark.parametrize("path", [
    "/tep/2023/../../warehouse.duckdb", "/tep/2023/..%2F..%2Fwarehouse.duckdb", "/tep/..%2F..%2Fdata/x.xlsx",
    "/tep/2023/%2Fetc%2Fpasswd", "/tep/2023/../status.json", "/tep/2023/khong-co.xlsx", "/mau/..%2Fpyproject.toml",
    "/mau/..%2F..%2Fdata%2Fsample%2F2023%2F03253-thi-tran-tuan-giao.xlsx", "/ky/2099",
])
def test_nothing_else_is_served(server, path):
    assert _get(server + path)[0] == 404


def test_open_to_the_network_warns(tmp_path):
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "pipeline", "serve", "--host", "0.0.0.0", "--port", str(port),
                                "--data", str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    try:
        _wait_until(lambda: _answers(f"http://127.0.0.1:{port}/"), "pipeline serve did not answer",
                    alive=lambda: process.poll() is None)
    finally:
        process.terminate()
        _, err = process.communicate(timeout=10)
    assert "CẢNH BÁO" in err and "không qua HTTPS" in err


def test_an_upload_over_the_limit_is_cut_off_while_it_streams(server, data):
    """The server answers 413 long before the client has sent its 50 MB, and keeps nothing."""
    store = AccessStore(data)
    store.issue("03262", UNIT, T0)
    session, cookie = Sessions(signing_key(data), store).new(store.account("03262"))
    port = int(server.rsplit(":", 1)[1])
    head = (f"--b\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{session.csrf}\r\n--b\r\n"
            'Content-Disposition: form-data; name="tep"; filename="to.xlsx"\r\n\r\n').encode()
    sent, chunk, answer = 0, b"\0" * 65536, b""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"POST /nop/2023 HTTP/1.1\r\nHost: x\r\nCookie: phien={cookie}\r\nTransfer-Encoding: chunked\r\n"
                  "Content-Type: multipart/form-data; boundary=b\r\n\r\n".encode())
        s.sendall(b"%x\r\n%s\r\n" % (len(head), head))
        while sent < 5 * UPLOAD_LIMIT_BYTES:
            readable, _, _ = select.select([s], [], [], 0)
            if readable:
                break
            try:
                s.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        while part := s.recv(65536):
            answer += part
            if b"</html>" in answer:
                break
    assert answer.startswith(b"HTTP/1.1 413") and "vượt quá giới hạn" in answer.decode()
    assert UPLOAD_LIMIT_BYTES <= sent < 2 * UPLOAD_LIMIT_BYTES
    assert not list((data / "inbox" / "2023").glob("03262-tai-len-*")) and not (data / "uploads" / "2023" / "03262").exists()


@needs_chromium
def test_a_browser_sees_the_grid_and_downloads_a_bieu(server, data, tmp_path):
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
    code = AccessStore(data).issue("huyen-2", OFFICER, T0)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        page = browser.new_page(accept_downloads=True, viewport={"width": 390, "height": 844})  # a phone
        _sign_in(page, server, "huyen-2", code)
        page.click("text=Trang chủ")
        page.click("text=Năm 2023")
        assert page.locator("tr.chua_nop").count() == 2 and page.locator("tr.hop_le").count() == 20
        page.screenshot(path=str(tmp_path / "trang-tai-ve.png"), full_page=True)
        with page.expect_download() as download:
            page.click("a[href='/tep/2023/Bieu_01_2023.xlsx']")
        saved = tmp_path / download.value.suggested_filename
        download.value.save_as(saved)
        browser.close()
    assert saved.name == "Bieu_01_2023.xlsx" and saved.read_bytes()[:2] == b"PK"
    assert (tmp_path / "trang-tai-ve.png").stat().st_size > 10_000


def _sign_in(page, server: str, login: str, code: str) -> None:
    page.goto(server + "/dang-nhap")
    page.fill("input[name=ten]", login)
    page.fill("input[name=ma]", code)
    page.click("button:has-text('Đăng nhập')")


def _intake(catalogue, places: Places, now: dt.datetime) -> None:
    """What the sensor's run does with the inbox: take the unit's files in, write the status."""
    take_in_unit(catalogue, places, "2023", "03259", now)
    with connect(places.warehouse) as conn:
        write_status(catalogue, conn, places.out, now.date())


@pytest.fixture
def fresh(tmp_path):
    """An empty data folder with a code for Phình Sáng and an officer account."""
    store = AccessStore(tmp_path)
    codes = {"03259": store.issue("03259", UNIT, T0), "huyen": store.issue("huyen", OFFICER, T0)}
    return tmp_path, codes


@needs_chromium
def test_the_communes_path_and_the_officers_path_in_a_browser(fresh, catalogue, tmp_path_factory):
    """Phình Sáng signs in with its code, uploads a workbook with an empty cell, reads the
    finding (sheet and cell), downloads the feedback, uploads the fixed file and sees it valid
    and in use once intake has run; then an officer sees the grid, its history and the audit."""
    from openpyxl import load_workbook

    playwright = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
    data, codes = fresh
    places = Places.under(data)
    shots = tmp_path_factory.mktemp("anh")
    broken = tmp_path_factory.mktemp("gui") / "Báo cáo Phình Sáng.xlsx"
    shutil.copy(ROOT / "tests" / "corpus" / "bad" / "chua-nhap.xlsx", broken)
    serving = _serving(data)
    server = next(serving)
    try:
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
            commune = browser.new_page(accept_downloads=True, viewport={"width": 390, "height": 844})
            _sign_in(commune, server, "03259", codes["03259"])
            assert commune.url.endswith("/don-vi") and "Xã Phình Sáng" in commune.inner_text("h1")
            commune.set_input_files("input[name=tep]", str(broken))
            commune.click("button:has-text('Gửi báo cáo')")
            assert "Báo cáo Phình Sáng.xlsx" in commune.inner_text("h1")
            finding = commune.locator("tr.khong_hop_le").first.inner_text()
            assert "01 Chỉ tiêu" in finding and "E5" in finding and "chưa nhập" in finding
            commune.screenshot(path=str(shots / "ket-qua-co-loi.png"), full_page=True)
            with commune.expect_download() as download:
                commune.click("text=Tải tệp phản hồi")
            saved = shots / download.value.suggested_filename
            download.value.save_as(saved)
            assert "Kết quả kiểm tra" in load_workbook(saved, read_only=True).sheetnames
            _intake(catalogue, places, T0)
            commune.goto(server + "/don-vi")
            commune.set_input_files("input[name=tep]", str(SAMPLE_DIR / "03259-xa-phinh-sang.xlsx"))
            commune.click("button:has-text('Gửi báo cáo')")
            assert "Hợp lệ" in commune.inner_text("p.hop_le")
            _intake(catalogue, places, T0 + dt.timedelta(hours=1))
            commune.goto(server + "/don-vi")
            newest = commune.locator("tr.hop_le").first.inner_text()
            assert "03259-xa-phinh-sang.xlsx" in newest and "Đang dùng" in newest
            assert "Tình trạng tổng hợp: Hợp lệ · đang dùng tệp 03259-xa-phinh-sang.xlsx" in commune.inner_text("body")
            assert "đang chờ huyện tiếp nhận" not in commune.inner_text("body")  # the newest file was taken in
            commune.screenshot(path=str(shots / "trang-don-vi.png"), full_page=True)

            officer = browser.new_context(viewport={"width": 1024, "height": 800}).new_page()
            _sign_in(officer, server, "huyen", codes["huyen"])
            assert officer.url.endswith("/can-bo")
            officer.click("text=Bảng tình trạng và các biểu")
            assert officer.locator("tr.hop_le").count() == 1 and officer.locator("tr.chua_nop").count() > 20
            officer.go_back()
            officer.click("a[href='/lich-su/2023/03259']")
            history = officer.inner_text("body")
            assert "Báo cáo Phình Sáng.xlsx" in history and "03259-xa-phinh-sang.xlsx" in history
            officer.click("text=Trang cán bộ huyện")
            officer.click("text=Nhật ký truy cập")
            audit = officer.inner_text("table")
            assert audit.count("Nộp báo cáo") == 2 and "Đăng nhập" in audit and "Tải tệp" in audit
            assert "kết quả: Hợp lệ" in audit and "kết quả: Không hợp lệ" in audit
            officer.screenshot(path=str(shots / "nhat-ky.png"), full_page=True)
            browser.close()
    finally:
        next(serving, None)
    print(f"screenshots: {shots}")
