"""Every attack tried on the page (issue 26), replayed against a real uvicorn server on
127.0.0.1 started as ``pipeline serve`` starts it (``server_config``): the ones that broke
(officer-only files served to anyone, sessions outliving sign-out, secrets not ignored by git,
units locked out by others, the audit flooded, no quota, slow clients held, an existence leak
and tracebacks of aborted requests) and the ones that held (traversal, CSRF, cookie tampering
and fixation, stored XSS, size limits, zip bombs, concurrent uploads, security headers)."""

from __future__ import annotations

import datetime as dt
import html
import json
import logging
import shutil
import socket
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openpyxl
import pytest
import uvicorn

from pipeline.publication.publish import publish_period
from pipeline.publication.report import report_name
from pipeline.publication.status import write_status
from pipeline.settings import Places, Settings
from pipeline.warehouse import connect
from pipeline.web.access import ACCOUNT_FAILURES, FREE_FAILURES, LOGIN_LENGTH, OFFICER, UNIT, AccessStore, Audit
from pipeline.web.app import create_app
from pipeline.web.auth import AUDIENCE, MEMBERS, OFFICERS, PUBLIC, UNITS
from pipeline.web.server import server_config
from pipeline.web.site import PREVIEW_FOLDER
from tests.conftest import ROOT, SAMPLE_DIR, take_in_everything

httpx = pytest.importorskip("httpx2")

T0 = dt.datetime(2023, 8, 10, 8, 0)
VALID = SAMPLE_DIR / "03262-xa-mun-chung.xlsx"
LIMITS = {"header_seconds": 1.0, "body_seconds": 2.0, "upload_count_per_day": 6, "upload_bytes_per_day": 10**9}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def pristine(catalogue, tmp_path_factory) -> Path:
    """Three units taken in and published, a feedback for each, the report's draft, and what
    `make preview` and `pipeline report` used to leave under out/<period>/xem-truoc/."""
    data = tmp_path_factory.mktemp("data")
    places = Places.under(data)
    files = [SAMPLE_DIR / name for name in ("03259-xa-phinh-sang.xlsx", "03260-xa-rang-dong.xlsx")]
    take_in_everything(catalogue, places, T0, files)
    publish_period(catalogue, places.warehouse, places.out, "2023")
    with connect(places.warehouse) as conn:
        write_status(catalogue, conn, places.out, dt.date(2023, 8, 20))
    for unit in ("03259", "03260"):
        feedback = places.out / "2023" / "phan-hoi" / f"phan-hoi-{unit}-2023.xlsx"
        feedback.parent.mkdir(parents=True, exist_ok=True)
        feedback.write_bytes(b"PK feedback of " + unit.encode())
    old_previews = places.out / "2023" / "xem-truoc"
    old_previews.mkdir()
    (old_previews / "phan-hoi-03260-2023.pdf").write_bytes(b"%PDF- figures of 03260")
    (old_previews / "Bao_cao_danh_gia_2023.pdf").write_bytes(b"%PDF- the draft")
    (places.out / "2023" / "Bieu_01_2023.pdf").write_bytes(b"%PDF- not in the published set")
    render = data / PREVIEW_FOLDER / "2023"
    render.mkdir(parents=True)
    (render / "Bao_cao_danh_gia_2023.pdf").write_bytes(b"%PDF- the draft, rendered for officers")
    store = AccessStore(data)
    for login, role in (("03259", UNIT), ("03260", UNIT), ("03262", UNIT), ("huyen", OFFICER)):
        store.issue(login, role, T0)
    return data


@pytest.fixture(scope="module")
def data(pristine, tmp_path_factory) -> Path:
    """The data folder of the module's server."""
    return Path(shutil.copytree(pristine, tmp_path_factory.mktemp("served") / "data"))


@pytest.fixture
def fresh(pristine, tmp_path) -> Path:
    """A data folder of its own, for a test that starts its own server."""
    return Path(shutil.copytree(pristine, tmp_path / "data"))


class Server:
    """create_app(data) served by uvicorn in a thread, configured as `pipeline serve` does;
    uvicorn's log goes to the root logger (so a test sees tracebacks)."""

    def __init__(self, data: Path, **settings) -> None:
        self.data = data
        self.settings = Settings.from_environment({}, data_dir=str(data), **(LIMITS | settings))
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.codes: dict[str, str] = {}
        config = server_config(create_app(data, settings=self.settings), self.settings, "127.0.0.1", self.port,
                               log_level="warning", log_config=None)
        self.instance = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.instance.run, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.instance.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)
        store = AccessStore(self.data)
        self.codes = {login: store.issue(login, account.role, T0)
                      for login, account in ((a.login, a) for a in store.accounts()) if account.active}
        return self

    def __exit__(self, *_) -> None:
        self.instance.should_exit = True
        self.thread.join(timeout=10)

    def client(self, address: str = "127.0.0.1") -> httpx.Client:
        return httpx.Client(base_url=self.url, follow_redirects=False, timeout=30,
                            transport=httpx.HTTPTransport(local_address=address))

    def signed_in(self, login: str, address: str = "127.0.0.1") -> httpx.Client:
        client = self.client(address)
        assert sign_in(client, login, self.codes[login]).status_code == 303
        return client


@pytest.fixture(scope="module")
def server(data):
    with Server(data) as running:
        yield running


def csrf_of(text: str) -> str:
    start = text.index('name="csrf" value="') + len('name="csrf" value="')
    return text[start:text.index('"', start)]


def sign_in(client, login: str, code: str):
    form = client.get("/dang-nhap")
    return client.post("/dang-nhap", data={"ten": login, "ma": code, "csrf": csrf_of(form.text)})


def upload(client, content: bytes, name: str = "bao-cao.xlsx", csrf: str | None = None):
    token = csrf_of(client.get("/don-vi").text) if csrf is None else csrf
    return client.post("/nop/2023", data={"csrf": token}, files={"tep": (name, content)})


def raw(port: int, request: bytes, wait: float = 10) -> bytes:
    """What the server answers to exactly these bytes (no client normalises the path)."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as s:
        s.sendall(request)
        answer = b""
        while part := s.recv(65536):
            answer += part
    return answer


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def inbox(data: Path, unit: str) -> list[Path]:
    return sorted((data / "inbox" / "2023").glob(f"{unit}-tai-len-*"))


# Every route declares its audience ------------------------------------------------------------

def test_every_route_declares_its_audience(data):
    app = create_app(data)
    declared = {route.path: getattr(route.endpoint, AUDIENCE, None) for route in app.routes}
    assert all(audience in (PUBLIC, MEMBERS, UNITS, OFFICERS) for audience in declared.values()), declared
    assert declared["/nhat-ky"] == OFFICERS and declared["/nop/{period}"] == UNITS and declared["/"] == PUBLIC


def test_the_page_has_no_hand_built_html():
    code = "".join(p.read_text(encoding="utf-8") for p in (ROOT / "pipeline" / "web").glob("*.py"))
    assert "html.escape" not in code and "HTMLResponse" not in code and "<table" not in code and "<p>" not in code


# 1. Officer-only files ---------------------------------------------------------------------------

@pytest.mark.parametrize("path", [
    "/tep/2023/xem-truoc/phan-hoi-03260-2023.pdf", "/tep/2023/xem-truoc/Bao_cao_danh_gia_2023.pdf",
    "/tep/2023/Bao_cao_danh_gia_2023.docx", "/tep/2023/Bieu_01_2023.pdf", "/tep/2023/status.json",
    "/tep/2023/tiep-nhan.json", "/tep/2023/.bo-bieu", "/can-bo/tep/2023/phan-hoi-03260-2023.pdf",
])
def test_only_the_published_set_is_public(server, path):
    """Whatever lies under out/<period>/ is not public unless it is in the published set; the
    answer is the one of a name that does not exist."""
    for client in (server.client(), server.signed_in("03259")):
        answer, nothing = client.get(path), client.get("/tep/2023/khong-co-tep-nay.xlsx")
        if path.startswith("/can-bo/") and not client.cookies:
            assert answer.status_code == 303  # the officers' files: sign in first
            continue
        assert answer.status_code == nothing.status_code == 404 and answer.content == nothing.content


def test_the_published_set_and_the_templates_are_public(server, data):
    client = server.client()
    published = json.loads((data / "out" / "2023" / "status.json").read_text(encoding="utf-8"))
    for name in published["bieu"] + published["all_in_one"]:
        answer = client.get(f"/tep/2023/{name}")
        assert answer.status_code == 200 and answer.content == (data / "out" / "2023" / name).read_bytes()
    assert client.get("/mau/mau-bao-cao-don-vi.xlsx").status_code == 200


def test_the_report_draft_and_its_render_are_for_officers(server, data):
    officer = server.signed_in("huyen")
    draft = officer.get(f"/can-bo/tep/2023/{report_name('2023')}")
    assert draft.status_code == 200 and draft.content == (data / "out" / "2023" / report_name("2023")).read_bytes()
    render = officer.get("/can-bo/tep/2023/Bao_cao_danh_gia_2023.pdf")
    assert render.status_code == 200 and render.content.endswith(b"rendered for officers")
    assert server.signed_in("03259").get(f"/can-bo/tep/2023/{report_name('2023')}").status_code == 404
    assert server.client().get(f"/can-bo/tep/2023/{report_name('2023')}").status_code == 303


# 2. Sessions end on the server ---------------------------------------------------------------------

def _copied(server: Server, client) -> httpx.Client:
    thief = server.client()
    thief.cookies.set("phien", client.cookies["phien"])
    return thief


def test_signing_out_ends_the_session_for_every_copy_of_its_cookie(server):
    client = server.signed_in("03259")
    thief = _copied(server, client)
    assert thief.get("/don-vi").status_code == 200
    token = csrf_of(client.get("/don-vi").text)
    assert client.post("/dang-xuat", data={"csrf": token}).status_code == 303
    assert thief.get("/don-vi").status_code == 303
    assert upload(thief, VALID.read_bytes(), csrf=token).status_code == 303  # to the sign-in page, nothing sent
    assert thief.post("/nop/2023", data={"csrf": token}, files={"tep": ("a.xlsx", b"x")}).headers["location"] == "/dang-nhap"


def test_a_new_code_and_an_officer_end_sessions(server):
    client = server.signed_in("03260")
    server.codes["03260"] = AccessStore(server.data).issue("03260", UNIT, T0)
    assert client.get("/don-vi").status_code == 303
    client = server.signed_in("03260")
    officer = server.signed_in("huyen")
    home = officer.get("/can-bo").text
    assert "Phiên đang đăng nhập" in home and "Xã Rạng Đông" in home
    assert officer.post("/can-bo/phien/03260/ket-thuc", data={}).status_code == 403  # CSRF
    assert client.get("/don-vi").status_code == 200
    assert officer.post("/can-bo/phien/03260/ket-thuc", data={"csrf": csrf_of(home)}).status_code == 303
    assert client.get("/don-vi").status_code == 303
    assert server.signed_in("03259").post("/can-bo/phien/03260/ket-thuc", data={}).status_code == 404


# 3. Secrets are ignored by git ------------------------------------------------------------------

@pytest.mark.parametrize("path", ["data/access/session.key", "data/access/accounts.json", "data/access/audit.jsonl",
                                  "data/access/sessions/ab.json", "data/uploads/2023/03259/x.json",
                                  "data/xem-truoc/2023/Bao_cao_danh_gia_2023.pdf", "data/inbox/2023/x.xlsx"])
def test_secrets_and_uploads_are_ignored_by_git(path):
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git work tree")
    done = subprocess.run(["git", "check-ignore", "--no-index", "-q", path], cwd=ROOT)
    assert done.returncode == 0, f"{path} is not ignored"


# 4. Nobody locks a unit out ---------------------------------------------------------------------

def test_wrong_codes_from_many_addresses_do_not_lock_a_unit_out(fresh):
    data = fresh
    with Server(data) as server:
        for n in range(ACCOUNT_FAILURES + 1):  # ten wrong codes for 03262 from eleven addresses
            assert sign_in(server.client(f"127.0.4.{n + 1}"), "03262", "SAI-MA-SAI").status_code == 401
        assert sign_in(server.client("127.0.5.1"), "03262", server.codes["03262"]).status_code == 303
        assert sign_in(server.client("127.0.4.1"), "03262", server.codes["03262"]).status_code == 429


# 5. The audit log is not flooded, and read from its end -----------------------------------------

def test_refused_sign_ins_do_not_flood_the_audit(fresh):
    data = fresh
    with Server(data) as server:
        audit = Audit(data)
        before = audit.path.stat().st_size if audit.path.exists() else 0
        client = server.client("127.0.6.1")
        answers = [sign_in(client, "x" * 1000, "SAI").status_code for _ in range(60)]
        assert answers.count(401) == FREE_FAILURES and answers.count(429) == 60 - FREE_FAILURES
        added = [json.loads(line) for line in audit.path.read_bytes()[before:].decode().splitlines()]
        assert [e["event"] for e in added] == ["sign_in_failed"] * FREE_FAILURES + ["sign_in_refused"]
        assert all(len(e["login"]) == LOGIN_LENGTH for e in added) and audit.path.stat().st_size - before < 2000


def test_the_audit_page_is_paged_and_filtered(server, data):
    officer = server.signed_in("huyen")
    upload(server.signed_in("03262"), b"not a workbook", "rac.xlsx")
    for n in range(120):
        Audit(data).record("download", T0, account="", client="127.0.0.9", file=f"2023/.bo-bieu/1796-27220/B{n}.xlsx")
    first = officer.get("/nhat-ky").text
    assert first.count('<td data-label="Lúc"') == 50 and "Cũ hơn" in first and "B119.xlsx" in first
    assert "SHA-256" not in first and ".bo-bieu" not in first and "sha256" not in first
    older = officer.get("/nhat-ky", params={"trang": 2}).text
    assert "Mới hơn" in older and "B69.xlsx" in older and "B119.xlsx" not in older
    refused = officer.get("/nhat-ky", params={"viec": "upload_refused", "don-vi": "03262"}).text
    assert refused.count('<td data-label="Lúc"') == 1 and "Xã Mùn Chung (03262)" in refused and "rac.xlsx" in refused
    assert officer.get("/nhat-ky", params={"ngay": "1999-01-01"}).text.count('<td data-label="Lúc"') == 0
    assert officer.get("/nhat-ky", params={"ngay": "10/08/2023"}).status_code == 200  # not a date: no filter


def test_the_audit_is_read_from_its_end(tmp_path):
    """A gigabyte of old lines (sparse: nothing is written) before the newest: the page's read
    takes only what it shows."""
    audit = Audit(tmp_path)
    audit.path.parent.mkdir(parents=True)
    with audit.path.open("wb") as f:
        f.truncate(2**30)
    for n in range(60):
        audit.record("download", T0, file=f"B{n}.xlsx")
    entries, more = audit.entries(last=50)
    assert [e["file"] for e in entries] == [f"B{n}.xlsx" for n in range(59, 9, -1)] and more


# 6. A quota, and the same bytes never twice in the inbox ------------------------------------------

def test_the_same_file_goes_into_the_inbox_once_even_sent_at_once(fresh):
    data = fresh
    with Server(data) as server:
        client = server.signed_in("03262")
        token = csrf_of(client.get("/don-vi").text)
        with ThreadPoolExecutor(5) as pool:
            answers = list(pool.map(lambda _: upload(client, VALID.read_bytes(), csrf=token), range(5)))
        assert all(a.status_code == 303 for a in answers)
        assert len(inbox(data, "03262")) == 1
        assert sum("giong-het" in a.headers["location"] for a in answers) == 4
        again = client.get(answers[0].headers["location"] + "?giong-het=1").text
        assert "giống hệt" in again


def test_a_unit_has_a_daily_quota(fresh):
    data = fresh
    with Server(data, upload_count_per_day=3) as server:
        client = server.signed_in("03259")
        sent = len([p for p in (data / "uploads").glob("*/03259/*.json")])
        answers = [upload(client, VALID.read_bytes()[:-1] + bytes([n]), f"lan-{n}.xlsx").status_code for n in range(4)]
        assert answers[:3 - sent] == [303] * (3 - sent) and answers[-1] == 429
        assert "tối đa" in upload(client, b"x").text
    with Server(data, upload_bytes_per_day=len(VALID.read_bytes()) // 2) as server:  # the bytes too
        assert "MB" in upload(server.signed_in("03260"), VALID.read_bytes(), "lon.xlsx").text
    with Server(data, upload_count_per_day=5) as server:  # sent at once, the quota still holds
        client = server.signed_in("03262")
        token = csrf_of(client.get("/don-vi").text)
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda n: upload(client, b"not a workbook %d" % n, f"n{n}.xlsx", csrf=token), range(8)))
        assert sorted(a.status_code for a in answers) == [303] * 5 + [429] * 3
        assert len(list((data / "uploads" / "2023" / "03262").glob("*.json"))) == 5


# 7. Slow clients are cut off ------------------------------------------------------------------------

def test_half_sent_headers_are_cut_off(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        started = time.monotonic()
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        closed = False
        for _ in range(40):  # a header line every quarter second, never the blank line
            try:
                s.sendall(b"X-a: b\r\n")
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            time.sleep(0.25)
        assert closed or s.recv(100) == b""
        assert time.monotonic() - started < 8


def test_a_trickling_body_is_cut_off(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        started = time.monotonic()
        s.sendall(b"POST /dang-nhap HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                  b"Content-Length: 1000\r\n\r\n")
        answer, closed = b"", False
        for _ in range(40):  # a byte every quarter second
            try:
                s.sendall(b"a")
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            s.settimeout(0.25)
            try:
                part = s.recv(65536)
            except TimeoutError:
                continue
            except ConnectionResetError:
                closed = True
                break
            if not part:
                closed = True
                break
            answer += part
        assert answer.startswith(b"HTTP/1.1 408") and closed and time.monotonic() - started < 8


# 9. Small leaks -------------------------------------------------------------------------------------

def test_a_feedback_does_not_tell_the_anonymous_whether_it_exists(server):
    client = server.client()
    mine, other = client.get("/tep/2023/phan-hoi/phan-hoi-03260-2023.xlsx"), client.get("/tep/2023/phan-hoi/phan-hoi-03261-2023.xlsx")
    assert (mine.status_code, mine.headers["location"]) == (other.status_code, other.headers["location"]) == (303, "/dang-nhap")


def test_an_aborted_post_leaves_no_traceback(server, caplog):
    caplog.set_level(logging.WARNING)
    for path in ("/dang-nhap", "/nop/2023"):
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
            s.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                      "Content-Length: 1000\r\n\r\nten=03259&ma=".encode())
        time.sleep(0.5)
    assert server.client().get("/").status_code == 200
    assert not [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage() or "Exception" in r.getMessage()]


# The attacks that held, kept held ---------------------------------------------------------------

TRAVERSALS = [
    "/tep/2023/../../warehouse.duckdb", "/tep/2023/..%2F..%2Fwarehouse.duckdb", "/tep/2023/%2e%2e/%2e%2e/warehouse.duckdb",
    "/tep/2023/%2e%2e%2f%2e%2e%2faccess%2faccounts.json", "/tep/..%2F..%2Faccess/session.key", "/tep/2023/%2Fetc%2Fpasswd",
    "/tep/2023/..%5C..%5Caccess%5Caccounts.json", "/tep/2023/....//....//access/accounts.json", "/tep/2023/%252e%252e%252f",
    "/tep/2023/phan-hoi/..%2F..%2F..%2Faccess%2Faccounts.json", "/tep/2023/chinh-thuc/..%2Fstatus.json",
    "/tep/2023/./status.json", "/tep/2023//status.json", "/tep/2023/status.json%00.xlsx", "/tep/2023/Bieu_01_2023.xlsx%00",
    "/tep/%2e%2e/access/accounts.json", "/mau/..%2F..%2Fpyproject.toml", "/mau/%2e%2e%2fpyproject.toml",
    "/mau/..%2F..%2Fdata%2Fsample%2F2023%2F03253-thi-tran-tuan-giao.xlsx", "/mau/mau-bao-cao-don-vi.xlsx/..%2F..%2Fx",
    "/can-bo/tep/2023/..%2F..%2Faccess%2Faccounts.json", "/can-bo/tep/2023/..%2Fstatus.json",
    "/tai-len/2023/03259/..%2F..%2F..%2Faccess%2Faccounts", "/tai-len/2023/..%2F03260/x/phan-hoi",
    "/lich-su/2023/..%2F03260", "/tep/2023/.bo-bieu/", "/tep/2023/%C0%AE%C0%AE/access/accounts.json",
    "/tep/2023/" + "a" * 4000, "/tep/2023/phan-hoi/phan-hoi-03260-2023.xlsx/.", "/tep/2023/Bieu_01_2023.xlsx::$DATA",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_traversal(server, path):
    cookie = server.signed_in("03259").cookies["phien"]
    answer = raw(server.port, f"GET {path} HTTP/1.1\r\nHost: x\r\nCookie: phien={cookie}\r\nConnection: close\r\n\r\n".encode())
    assert status_of(answer) in (400, 404), answer[:200]
    assert b"PK" not in answer.split(b"\r\n\r\n", 1)[-1][:2] and b"scrypt" not in answer and b'"hash"' not in answer


def test_csrf(server):
    client = server.signed_in("03259")
    other = server.signed_in("03260")
    foreign = csrf_of(other.get("/don-vi").text)
    for token in ("", "sai", foreign):
        assert upload(client, VALID.read_bytes(), csrf=token).status_code == 403
        assert client.post("/dang-xuat", data={"csrf": token}).status_code == 403
    assert server.client().post("/dang-nhap", data={"ten": "03259", "ma": server.codes["03259"]}).status_code == 403
    officer = server.signed_in("huyen")
    assert officer.post("/ke-hoach/2023", data={"csrf": foreign}, files={"tep": ("k.xlsx", b"x")}).status_code == 403
    assert client.get("/don-vi").status_code == 200  # still signed in


def test_cookie_tampering_and_fixation(server):
    client = server.signed_in("03259")
    value = client.cookies["phien"]
    body, signature = value.split(".")
    for forged in (body[:-2] + "AA." + signature, body + "." + signature[:-2] + "AA", "e30." + signature, "x" * 5000,
                   value + ".x", ""):
        thief = server.client()
        thief.cookies.set("phien", forged)
        assert thief.get("/don-vi").status_code == 303
    visitor = server.client()
    visitor.get("/dang-nhap")
    planted = visitor.cookies["phien"]  # a cookie an attacker could have planted before sign-in
    assert sign_in(visitor, "03259", server.codes["03259"]).status_code == 303
    assert visitor.cookies["phien"] != planted
    attacker = server.client()
    attacker.cookies.set("phien", planted)
    assert attacker.get("/don-vi").status_code == 303


def test_stored_xss_is_escaped(server, tmp_path):
    workbook = openpyxl.load_workbook(VALID)
    workbook["01 Chỉ tiêu"]["E5"] = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    workbook.save(tmp_path / "x.xlsx")
    client = server.signed_in("03262")
    answer = upload(client, (tmp_path / "x.xlsx").read_bytes(), '<img src=x onerror=alert("ten")>.xlsx')
    officer = server.signed_in("huyen")
    pages = [client.get(answer.headers["location"]).text, client.get("/don-vi").text, officer.get("/nhat-ky", params={"don-vi": "03262"}).text,
             officer.get("/lich-su/2023/03262").text]
    for page in pages:
        assert "<script>" not in page and "<img src=x" not in page and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages[0] and "&lt;img src=x onerror=alert(" in pages[2]


def test_size_limit(server, data):
    client = server.signed_in("03259")
    token = csrf_of(client.get("/don-vi").text)
    answer = raw(server.port, f"POST /nop/2023 HTTP/1.1\r\nHost: x\r\nCookie: phien={client.cookies['phien']}\r\n"
                              "Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 1000000000\r\n\r\n"
                              f"--b\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{token}\r\n".encode())
    assert status_of(answer) == 413 and "vượt quá giới hạn" in answer.decode()


def test_a_zip_bomb_is_refused_in_vietnamese(server, data):
    client = server.signed_in("03259")
    before = inbox(data, "03259")
    page = client.get(upload(client, (ROOT / "tests" / "corpus" / "hostile" / "zip-bomb.xlsx").read_bytes(),
                             "bom.xlsx").headers["location"]).text
    assert "Bị từ chối" in page and "tệp nén bất thường" in page and "zip bomb" not in page
    assert "Gửi lại" in page and inbox(data, "03259") == before


def test_concurrent_uploads_of_different_files(fresh):
    data = fresh
    with Server(data, upload_count_per_day=100) as server:
        client = server.signed_in("03260")
        token = csrf_of(client.get("/don-vi").text)
        content = (SAMPLE_DIR / "03260-xa-rang-dong.xlsx").read_bytes()
        before = len(inbox(data, "03260"))
        with ThreadPoolExecutor(20) as pool:
            answers = list(pool.map(lambda n: upload(client, content + b"\0" * (n + 1), f"f{n}.xlsx", csrf=token),
                                    range(20)))
        assert [a.status_code for a in answers] == [303] * 20
        assert len({a.headers["location"] for a in answers}) == 20
        records = list((data / "uploads" / "2023" / "03260").glob("*.json"))
        assert all(json.loads(r.read_text(encoding="utf-8"))["id"] in r.name for r in records)
        assert len(inbox(data, "03260")) - before <= 20


def test_security_headers(server):
    client = server.signed_in("03259")
    for path in ("/", "/don-vi", "/khong-co", "/tep/2023/phan-hoi/phan-hoi-03259-2023.xlsx", "/mau/mau-bao-cao-don-vi.xlsx"):
        headers = client.get(path).headers
        assert headers["x-content-type-options"] == "nosniff" and headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "no-referrer"
        policy = headers["content-security-policy"]
        assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy and "script-src" not in policy
    page = client.get("/don-vi").text
    assert "<script" not in page and html.unescape(page).count("<style>") == 1
