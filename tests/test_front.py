"""The HTTPS front (deploy/Caddyfile) for real: Debian's caddy with its internal CA in front of
``python -m pipeline serve`` on a temporary data folder, and a small stand-in for the Dagster
webserver (it reads every byte it is sent and says how many). What a browser meets: HTTPS,
HSTS, a ``Secure`` session cookie; what an attacker meets: forged ``X-Forwarded-*`` headers not
believed, half-sent headers cut off, an oversized body refused, the Dagster UI behind a password."""

from __future__ import annotations

import base64
import http.client
import http.server
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.conftest import ROOT

CADDY = shutil.which("caddy")
pytestmark = pytest.mark.skipif(CADDY is None, reason="caddy (Debian's caddy package) not installed")

CADDYFILE = ROOT / "deploy" / "Caddyfile"
OFFICER, OFFICER_PASSWORD = "huyen", "mat-khau-thu-nghiem"
FORGED = "203.0.113.9"  # an address a client claims in X-Forwarded-For


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(ready, failure: str, processes=(), seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not ready():
        if any(p.poll() is not None for p in processes) or time.monotonic() > deadline:
            raise AssertionError(failure)
        time.sleep(0.1)


class _StandIn(http.server.BaseHTTPRequestHandler):
    """The Dagster webserver's place: answers GET with a line, POST with the bytes it read (and
    keeps that count in ``received``, even when the body is cut short)."""

    received: list[int] = []

    def do_GET(self):
        self._answer(b"dagster")

    def do_POST(self):
        received = 0
        if self.headers.get("Transfer-Encoding") == "chunked":
            while size := int(self.rfile.readline().strip() or b"0", 16):
                received += len(self.rfile.read(size))
                self.rfile.readline()
            # a chunked body cut short ends without its last chunk: the loop above stops on b""
        else:
            received = len(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        _StandIn.received.append(received)
        self._answer(str(received).encode())

    def _answer(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@dataclass
class Front:
    https_port: int
    page_port: int
    data: Path
    context: ssl.SSLContext
    codes: dict[str, str]

    def connection(self, timeout: float = 30) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection("localhost", self.https_port, context=self.context, timeout=timeout)

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        connection = self.connection()
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, response.headers, response.read()
        finally:
            connection.close()

    def audit(self) -> list[dict]:
        return [json.loads(line) for line in (self.data / "access" / "audit.jsonl").read_text().splitlines()]


def _issue(data: Path, login: str) -> str:
    out = subprocess.run([sys.executable, "-m", "pipeline", "access", "add", login, "--data", str(data)], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    return re.search(r"Mã truy cập của [^:]+: (\S+)", out)[1]


@pytest.fixture(scope="module")
def front(tmp_path_factory):
    root = tmp_path_factory.mktemp("front")
    data = root / "data"
    codes = {"03259": _issue(data, "03259")}
    page_port, https_port, http_port = _free_port(), _free_port(), _free_port()
    stand_in = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _StandIn)
    threading.Thread(target=stand_in.serve_forever, daemon=True).start()
    hashed = subprocess.run([CADDY, "hash-password", "--plaintext", OFFICER_PASSWORD], capture_output=True, text=True,
                            check=True).stdout.strip()
    users = root / "caddy-users"
    users.write_text(f"{OFFICER} {hashed}\n")
    env = os.environ | {
        "HOME": str(root), "XDG_DATA_HOME": str(root / "xdg-data"), "XDG_CONFIG_HOME": str(root / "xdg-config"),
        "TUANGIAO_SITE": "localhost", "TUANGIAO_TLS": "internal", "TUANGIAO_CADDY_ADMIN": "off",
        "TUANGIAO_HTTP_PORT": str(http_port), "TUANGIAO_HTTPS_PORT": str(https_port),
        "TUANGIAO_PAGE_PORT": str(page_port), "TUANGIAO_DAGSTER_PORT": str(stand_in.server_address[1]),
        "TUANGIAO_CADDY_USERS": str(users),
    }
    page = subprocess.Popen([sys.executable, "-m", "pipeline", "serve", "--port", str(page_port), "--data", str(data)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    caddy = subprocess.Popen([CADDY, "run", "--config", str(CADDYFILE), "--adapter", "caddyfile"], cwd=root, env=env,
                             stdout=subprocess.DEVNULL, stderr=(root / "caddy.log").open("w"))
    try:
        root_cert = root / "xdg-data" / "caddy" / "pki" / "authorities" / "local" / "root.crt"
        _wait(root_cert.exists, "caddy wrote no root certificate", [page, caddy])
        context = ssl.create_default_context(cafile=str(root_cert))
        found = Front(https_port, page_port, data, context, codes)

        def answers() -> bool:
            try:
                return found.request("GET", "/")[0] == 200
            except (OSError, http.client.HTTPException):
                return False

        _wait(answers, "the page did not answer through caddy", [page, caddy])
        yield found
    finally:
        for process in (caddy, page):
            process.terminate()
            process.wait(timeout=20)
        stand_in.shutdown()


def _cookies(headers) -> list[str]:
    return headers.get_all("Set-Cookie") or []


def _sign_in(front: Front, login: str, headers: dict | None = None, connection=None):
    """A sign-in as a browser makes it: the form (its CSRF token and session cookie), then the post."""
    connection = connection or front.connection()
    connection.request("GET", "/dang-nhap", headers=headers or {})
    form = connection.getresponse()
    token = re.search(r'name="csrf" value="([^"]+)"', form.read().decode())[1]
    cookie = _cookies(form.headers)[0].split(";")[0]
    connection.request("POST", "/dang-nhap", body=urlencode({"ten": login, "ma": front.codes[login], "csrf": token}),
                       headers=(headers or {}) | {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
    answer = connection.getresponse()
    answer.read()
    connection.close()
    return answer


def test_https_with_hsts(front):
    status, headers, body = front.request("GET", "/")
    assert status == 200 and "<html" in body.decode()
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert "Server" not in headers


def test_the_session_cookie_is_secure_behind_the_front(front):
    """The page sees https (X-Forwarded-Proto from Caddy, believed from 127.0.0.1) and marks its cookie Secure."""
    answer = _sign_in(front, "03259")
    assert answer.status == 303
    cookies = [c for c in _cookies(answer.headers) if c.startswith("phien=")]
    assert cookies and all("; secure" in c.lower() for c in cookies)


def test_a_forged_forwarded_for_is_not_believed(front):
    """A client's own X-Forwarded-For goes no further than Caddy: the audit log has the address Caddy saw."""
    assert _sign_in(front, "03259", {"X-Forwarded-For": FORGED, "X-Real-IP": FORGED}).status == 303
    last = [e for e in front.audit() if e["event"] == "sign_in"][-1]
    assert last["client"] == "127.0.0.1"
    assert FORGED not in (front.data / "access" / "audit.jsonl").read_text()


def test_forwarded_headers_are_believed_only_from_the_proxy(front):
    """Straight to the page from another address than the proxy's (127.0.0.2): neither its
    X-Forwarded-For nor its X-Forwarded-Proto is believed (``serve`` hands uvicorn
    TUANGIAO_TRUSTED_PROXY, 127.0.0.1)."""
    connection = http.client.HTTPConnection("127.0.0.1", front.page_port, timeout=30, source_address=("127.0.0.2", 0))
    forged = {"X-Forwarded-For": FORGED, "X-Forwarded-Proto": "https"}
    answer = _sign_in(front, "03259", forged, connection)
    assert answer.status == 303
    assert not any("secure" in c.lower() for c in _cookies(answer.headers))
    assert [e for e in front.audit() if e["event"] == "sign_in"][-1]["client"] == "127.0.0.2"


@pytest.mark.slow
def test_a_client_that_never_finishes_its_headers_is_cut_off(front):
    """Half a request, then silence: Caddy closes the connection after read_header (10 s)."""
    with socket.create_connection(("127.0.0.1", front.https_port), timeout=60) as raw:
        with front.context.wrap_socket(raw, server_hostname="localhost") as s:
            started = time.monotonic()
            s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: cham")
            try:
                rest = s.recv(1024)
            except (ConnectionResetError, ssl.SSLError):
                rest = b""
            waited = time.monotonic() - started
    assert not rest.startswith(b"HTTP/1.1 200")
    assert 9 <= waited <= 20


def test_the_dagster_ui_wants_an_officers_password(front):
    assert front.request("GET", "/dagster/")[0] == 401
    assert front.request("GET", "/dagster/", headers=_basic(OFFICER, "sai"))[0] == 401
    assert front.request("GET", "/dagster/", headers=_officer())[:3:2] == (200, b"dagster")


def _basic(user: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def _officer() -> dict:
    return _basic(OFFICER, OFFICER_PASSWORD)


def _post_streaming(front: Front, path: str, headers: dict, body: bytes, chunked: bool = False) -> bytes:
    """Send ``body`` in 64 kB pieces while the server reads it (until it has not read for 3 s or
    closed the connection); then what it answered (b"" if nothing)."""
    framing = {"Transfer-Encoding": "chunked"} if chunked else {"Content-Length": str(len(body))}
    head = "".join(f"{k}: {v}\r\n" for k, v in (headers | framing).items())
    pieces = [body[i:i + 65536] for i in range(0, len(body), 65536)]
    if chunked:
        pieces = [b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces] + [b"0\r\n\r\n"]
    answer = b""
    with socket.create_connection(("127.0.0.1", front.https_port), timeout=3) as raw:
        with front.context.wrap_socket(raw, server_hostname="localhost") as s:
            try:
                s.sendall(f"POST {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{head}\r\n".encode())
                for piece in pieces:  # (select cannot tell an answer from TLS session tickets)
                    s.sendall(piece)
            except OSError:  # the server stopped reading; its answer may be waiting
                pass
            s.settimeout(30)
            try:
                while part := s.recv(65536):
                    answer += part
            except OSError:
                pass
    return answer


def test_a_body_over_the_limit_is_refused_by_caddy(front):
    """The stand-in reads all it is given: 1 MB reaches it whole; of 12 MB, sent with its length
    or in chunks, no more than 11 MB (max_size) is passed on and the client is not answered 200
    (in chunks: 413; with a length Caddy 2.6 may just close the connection)."""
    assert front.request("POST", "/dagster/nhan", b"x" * 1_000_000, _officer())[:3:2] == (200, b"1000000")
    _StandIn.received.clear()
    told = _post_streaming(front, "/dagster/nhan", _officer(), b"x" * 12_000_000)
    chunked = _post_streaming(front, "/dagster/nhan", _officer(), b"x" * 12_000_000, chunked=True)
    assert not told.startswith(b"HTTP/1.1 200") and chunked.startswith(b"HTTP/1.1 413")
    assert _StandIn.received and max(_StandIn.received) <= 11_000_000


def test_an_upload_just_over_the_pages_limit_gets_the_pages_own_message(front):
    """Caddy's limit lies above the page's (10 MiB), so a unit whose file is a little too large reads
    the page's explanation in Vietnamese, not Caddy's bare refusal."""
    from pipeline.web.upload import UPLOAD_LIMIT_BYTES

    assert UPLOAD_LIMIT_BYTES < 11_000_000 - 100_000
    connection = front.connection()
    answer = _sign_in(front, "03259", connection=front.connection())
    cookie = [c for c in _cookies(answer.headers) if c.startswith("phien=")][0].split(";")[0]
    connection.request("GET", "/don-vi", headers={"Cookie": cookie})
    token = re.search(r'name="csrf" value="([^"]+)"', connection.getresponse().read().decode())[1]
    content = b"\0" * (UPLOAD_LIMIT_BYTES + 100_000)
    body = (f'--b\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n{token}\r\n--b\r\nContent-Disposition: '
            'form-data; name="tep"; filename="to.xlsx"\r\n\r\n').encode() + content + b"\r\n--b--\r\n"
    connection.request("POST", "/nop/2023", body=body, headers={"Cookie": cookie,
                                                                "Content-Type": "multipart/form-data; boundary=b"})
    answer = connection.getresponse()
    assert answer.status == 413 and "vượt quá giới hạn" in answer.read().decode()
    connection.close()
