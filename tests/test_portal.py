"""The page's protections, one by one, over HTTP (Starlette's TestClient on the real app):
sessions, what each account may see, CSRF, sign-in limits, the upload's limit and checks,
client file names, closed periods, headers, 404s, the accounts file and the audit log."""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import re
import shutil
import warnings
from pathlib import Path

import pytest

import openpyxl

from pipeline.checking.feedback import SUMMARY_SHEET
from pipeline.checking.findings import OTHER_UNIT_FILE
from pipeline.checking.validation import check_file
from pipeline.cli import main
from pipeline.publication.status import write_status
from pipeline.settings import Places, Settings
from pipeline.states import Verdict
from pipeline.warehouse import connect, create_schema
from pipeline.web.access import ACCOUNT_FAILURES, FREE_FAILURES, OFFICER, SESSION_SECONDS, UNIT, AccessStore, Audit
from pipeline.web.app import create_app
from pipeline.web.upload import UPLOAD_LIMIT_BYTES, Uploads
from tests.conftest import ROOT, SAMPLE_DIR

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

NOW = dt.datetime(2023, 8, 10, 8, 0)
BROKEN = ROOT / "tests" / "corpus" / "bad" / "chua-nhap.xlsx"  # Phình Sáng's workbook with an empty cell
FIXED = SAMPLE_DIR / "03259-xa-phinh-sang.xlsx"
OTHER = SAMPLE_DIR / "03260-xa-rang-dong.xlsx"


class Portal:
    """A data folder with a published status, two units' feedback files and three accounts."""

    def __init__(self, data: Path) -> None:
        self.data, self.places = data, Places.under(data)
        with connect(self.places.warehouse) as conn:
            create_schema(conn)
            write_status(self.settings().catalogue, conn, self.places.out, NOW.date())
        self.places.warehouse.unlink()  # the page must not need the database
        for unit in ("03259", "03260"):
            target = self.places.out / "2023" / "phan-hoi" / f"phan-hoi-{unit}-2023.xlsx"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(BROKEN, target)
        store = AccessStore(data)
        self.codes = {login: store.issue(login, role, NOW)
                      for login, role in (("03259", UNIT), ("03260", UNIT), ("huyen", OFFICER))}
        self.clock = [1_000_000.0]
        self.app = create_app(data, settings=self.settings(), clock=lambda: self.clock[0])

    def settings(self) -> Settings:
        return Settings.from_environment({}, data_dir=str(self.data))

    def client(self, address: str = "10.0.0.1", https: bool = False) -> TestClient:
        return TestClient(self.app, base_url="https://testserver" if https else "http://testserver",
                          client=(address, 40000), follow_redirects=False)

    def inbox_files(self) -> list[Path]:
        folder = self.places.inbox / "2023"
        return sorted(folder.iterdir()) if folder.is_dir() else []

    def audit(self) -> list[dict]:
        return list(reversed(Audit(self.data).lines(10_000)))


@pytest.fixture
def portal(tmp_path) -> Portal:
    return Portal(tmp_path)


def csrf_of(response) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', response.text)[1]


def sign_in(client: TestClient, login: str, code: str):
    form = client.get("/dang-nhap")
    return client.post("/dang-nhap", data={"ten": login, "ma": code, "csrf": csrf_of(form)})


def signed_in(portal: Portal, login: str, **options) -> TestClient:
    client = portal.client(**options)
    assert sign_in(client, login, portal.codes[login]).status_code == 303
    return client


def upload(client: TestClient, content: bytes, name: str = "bao-cao.xlsx", csrf: str | None = None):
    token = csrf_of(client.get("/don-vi")) if csrf is None else csrf
    return client.post("/nop/2023", data={"csrf": token} if token else {}, files={"tep": (name, content)})


def verdict_page(client: TestClient, response) -> str:
    assert response.status_code == 303 and response.headers["location"].startswith("/tai-len/2023/")
    return client.get(response.headers["location"]).text


def test_without_a_session_nothing_private(portal):
    client = portal.client()
    response = client.post("/nop/2023", files={"tep": ("a.xlsx", FIXED.read_bytes())})
    assert response.status_code == 303 and response.headers["location"] == "/dang-nhap"
    assert portal.inbox_files() == []
    response = client.get("/tep/2023/phan-hoi/phan-hoi-03259-2023.xlsx")
    assert response.status_code == 303 and not response.content.startswith(b"PK")
    for path in ("/don-vi", "/lich-su/2023/03259", "/can-bo", "/nhat-ky"):
        assert client.get(path).status_code == 303
    assert "<tr class=" not in client.get("/ky/2023").text  # the status grid is not for the anonymous
    assert client.get("/mau/mau-bao-cao-don-vi.xlsx").status_code == 200  # the templates are public


@pytest.mark.parametrize("path", [
    "/tep/2023/phan-hoi/phan-hoi-03260-2023.xlsx", "/tep/2023/phan-hoi/../phan-hoi/phan-hoi-03260-2023.xlsx",
    "/tep/2023/phan-hoi%2Fphan-hoi-03260-2023.xlsx", "/tep/2023/./phan-hoi//phan-hoi-03260-2023.xlsx",
    "/lich-su/2023/03260", "/can-bo", "/nhat-ky",
])
def test_a_unit_cannot_reach_another_units_files(portal, path):
    client = signed_in(portal, "03259")
    assert client.get("/tep/2023/phan-hoi/phan-hoi-03259-2023.xlsx").status_code == 200  # its own
    response = client.get(path)
    assert response.status_code == 404 and "Không tìm thấy" in response.text and not response.content.startswith(b"PK")


def test_a_unit_cannot_reach_another_units_uploads(portal):
    other = signed_in(portal, "03260")
    location = upload(other, OTHER.read_bytes()).headers["location"]
    assert other.get(location).status_code == 200 and other.get(location + "/phan-hoi").status_code == 200
    client = signed_in(portal, "03259")
    for path in (location, location + "/phan-hoi", location.replace("03260", "03259")):
        assert client.get(path).status_code == 404
    assert "/tai-len/2023/03260" not in client.get("/don-vi").text
    grid = client.get("/ky/2023").text
    assert grid.count("<tr class=") == 1 and "<td>03259</td>" in grid  # only its own row
    officer = signed_in(portal, "huyen")
    assert officer.get(location).status_code == 200 and officer.get("/ky/2023").text.count("<tr class=") > 20


def test_a_post_without_the_csrf_token_is_refused(portal):
    client = portal.client()
    client.get("/dang-nhap")
    refused = client.post("/dang-nhap", data={"ten": "03259", "ma": portal.codes["03259"]})
    assert refused.status_code == 403 and "Yêu cầu không hợp lệ" in refused.text
    assert client.get("/don-vi").status_code == 303  # not signed in
    client = signed_in(portal, "03259")
    for token in ("", "sai-ma"):
        assert upload(client, FIXED.read_bytes(), csrf=token).status_code == 403
    assert portal.inbox_files() == []
    assert client.post("/dang-xuat", data={}).status_code == 403
    assert client.get("/don-vi").status_code == 200  # still signed in
    assert upload(client, FIXED.read_bytes()).status_code == 303 and len(portal.inbox_files()) == 1


def test_wrong_codes_slow_their_address_never_the_units_right_code(portal):
    """Unit codes are public: wrong codes for 03259 from many addresses do not lock 03259 out
    of an address that has not failed; the addresses that failed wait, longer each time."""
    for n in range(ACCOUNT_FAILURES):  # per unit: wrong codes for 03259 from ten addresses
        assert sign_in(portal.client(address=f"10.1.0.{n}"), "03259", "SAI-MA").status_code == 401
    assert sign_in(portal.client(address="10.1.0.99"), "03259", portal.codes["03259"]).status_code == 303
    waiting = sign_in(portal.client(address="10.1.0.0"), "03259", portal.codes["03259"])  # it failed: it waits
    assert waiting.status_code == 429 and "hãy chờ" in waiting.text
    assert sign_in(portal.client(address="10.1.0.0"), "03260", portal.codes["03260"]).status_code == 303
    for n in range(FREE_FAILURES):  # per address: wrong logins from one address
        assert sign_in(portal.client(address="10.2.0.1"), f"0399{n}", "SAI-MA").status_code == 401
    assert sign_in(portal.client(address="10.2.0.1"), "huyen", portal.codes["huyen"]).status_code == 429
    portal.clock[0] += 1.5  # the first wait (1 s) has passed: one more try, then a wait twice as long
    assert sign_in(portal.client(address="10.2.0.1"), "huyen", "SAI-MA").status_code == 401
    portal.clock[0] += 1.5
    assert sign_in(portal.client(address="10.2.0.1"), "huyen", portal.codes["huyen"]).status_code == 429
    portal.clock[0] += 1
    assert sign_in(portal.client(address="10.2.0.1"), "huyen", portal.codes["huyen"]).status_code == 303
    events = [e["event"] for e in portal.audit()]
    assert events.count("sign_in_failed") == ACCOUNT_FAILURES + FREE_FAILURES + 1
    assert events.count("sign_in_refused") == 2  # one line per waiting address and minute


def test_an_upload_over_the_limit_is_cut_off_and_leaves_nothing(portal):
    client = signed_in(portal, "03259")
    too_big = FIXED.read_bytes() + b"\0" * UPLOAD_LIMIT_BYTES
    response = upload(client, too_big)
    assert response.status_code == 413 and "vượt quá giới hạn 10 MB" in response.text
    token = csrf_of(client.get("/don-vi"))
    declared = client.post("/nop/2023", content=b"x", headers={
        "content-type": "multipart/form-data; boundary=b", "content-length": str(50 * UPLOAD_LIMIT_BYTES)})
    assert declared.status_code == 413 and token
    assert portal.inbox_files() == [] and not (portal.data / "uploads").exists()
    assert not any((portal.data / ".intake").glob("*")) if (portal.data / ".intake").exists() else True
    assert [e["event"] for e in portal.audit()].count("upload_too_large") == 2


def test_an_upload_that_is_not_a_workbook_gets_the_checkers_message(portal, tmp_path):
    client = signed_in(portal, "03259")
    content = b"Kinh gui huyen, bao cao dinh kem.\n"
    text = verdict_page(client, upload(client, content, "bao-cao.xlsx"))
    (tmp_path / "bao-cao.xlsx").write_bytes(content)
    expected = check_file(portal.settings().catalogue, tmp_path / "bao-cao.xlsx").findings
    assert expected and all(f.message in html.unescape(text) for f in expected)
    assert "Bị từ chối" in text and portal.inbox_files() == []


def test_a_workbook_of_another_unit_is_refused_and_recorded(portal):
    client = signed_in(portal, "03259")
    text = verdict_page(client, upload(client, OTHER.read_bytes(), "bao-cao-phinh-sang.xlsx"))
    assert "tệp là báo cáo của đơn vị khác" in text and "mã &#34;03260&#34;" in text and "(03259)" in text
    assert portal.inbox_files() == []
    entry = next(e for e in portal.audit() if e["event"] == "upload_refused")
    assert entry["unit"] == "03259" and entry["verdict"] == Verdict.OTHER_UNIT and entry["size"] == OTHER.stat().st_size
    [record] = Uploads.under(portal.data).records("2023", "03259")
    refusal = record["findings"][0]
    assert (refusal["code"], refusal["sheet"], refusal["cell"], refusal["unit"]) == (
        OTHER_UNIT_FILE.code, "Thông tin", "C4", "03260")
    assert refusal["message"] == ('Tệp ghi mã "03260" ở ô C4, không phải mã đơn vị của bạn (03259): không nhận. '
                                  "Hãy gửi đúng báo cáo của đơn vị mình.")
    feedback = openpyxl.load_workbook(Uploads.under(portal.data).feedback("2023", "03259", record["id"]))
    told = [[c for c in row if c is not None] for row in feedback[SUMMARY_SHEET].iter_rows(values_only=True)]
    assert ["Kết luận", "KHÔNG ĐƯỢC CHẤP NHẬN – hãy sửa các lỗi dưới đây rồi gửi lại"] in told  # the feedback says why
    assert any(refusal["message"] in row for row in told)


def test_a_valid_upload_goes_into_the_inbox_under_a_server_name(portal):
    client = signed_in(portal, "03259")
    text = verdict_page(client, upload(client, FIXED.read_bytes(), "Báo cáo Phình Sáng.xlsx"))
    assert "Hợp lệ: đã chuyển vào hộp thư đến" in text and "Báo cáo Phình Sáng.xlsx" in text
    [placed] = portal.inbox_files()
    assert re.fullmatch(r"03259-tai-len-[0-9]{8}-[0-9]{6}-[0-9a-f]{8}\.xlsx", placed.name)
    assert placed.read_bytes() == FIXED.read_bytes()
    entry = next(e for e in portal.audit() if e["event"] == "upload")
    assert entry["verdict"] == Verdict.VALID and entry["sha256"] and entry["size"] == FIXED.stat().st_size
    [record] = Uploads.under(portal.data).records("2023", "03259")
    assert json.loads((Uploads.under(portal.data).folder("2023", "03259") / f"{record['id']}.json").read_text(
        encoding="utf-8"))["verdict"] == "valid"  # the warehouse's word for it


def test_an_upload_recorded_in_the_words_used_before_reads_the_same(portal):
    """Records and audit lines written when an upload's verdict was "hop_le", "co_loi"…"""
    folder = Uploads.under(portal.data).folder("2023", "03259")
    folder.mkdir(parents=True)
    for upload_id, verdict in (("20230801-080000-0000000a", "co_loi"), ("20230802-080000-0000000b", "hop_le")):
        (folder / f"{upload_id}.json").write_text(json.dumps(
            {"id": upload_id, "time": "2023-08-01T08:00:00", "file_name": f"{verdict}.xlsx", "size": 1, "sha256": "0",
             "verdict": verdict, "errors": int(verdict == "co_loi"), "warnings": 0, "findings": [], "inbox_name": ""}))
        Audit(portal.data).record("upload", NOW, account="03259", file=f"{verdict}.xlsx", verdict=verdict)
    client = signed_in(portal, "03259")
    page = client.get("/tai-len/2023/03259/20230801-080000-0000000a").text
    assert '<p class="khong_hop_le"><b>Có lỗi: đã chuyển vào hộp thư đến' in page
    history = client.get("/lich-su/2023/03259").text
    assert ('<tr class="hop_le"><td data-label="Gửi lúc" class="nowrap">01/08/2023 08:00</td>'
            '<td data-label="Tệp">hop_le.xlsx</td><td data-label="Kết quả">Hợp lệ</td>') in history
    audit = signed_in(portal, "huyen").get("/nhat-ky").text
    assert "kết quả: Không hợp lệ" in audit and "kết quả: Hợp lệ" in audit


@pytest.mark.parametrize("name", ["../../../warehouse.xlsx", "..\\..\\x.xlsx", "a\x00b.xlsx", "ạ" * 150 + ".xlsx",
                                  "Báo cáo xã Phình Sáng.xlsx", "..", ".xlsx", "a/b/.."])
def test_client_file_names_are_handled(portal, name):
    client = signed_in(portal, "03259")
    text = verdict_page(client, upload(client, FIXED.read_bytes(), name))
    shown = re.search(r"Kết quả kiểm tra tệp (.*?)</h1>", text)[1]
    assert "/" not in shown and "\\" not in shown and "\x00" not in shown and len(shown.encode()) <= 120
    assert not shown.startswith(".") and shown.endswith(".xlsx")
    [placed] = portal.inbox_files()
    assert placed.name.startswith("03259-tai-len-")
    outside = [p for p in portal.data.rglob("*") if p.is_file() and "warehouse" in p.name]
    assert outside == [] and not (portal.data.parent / "x.xlsx").exists()


def test_a_closed_period_refuses_uploads(portal):
    marker = portal.places.out / "2023" / "chinh-thuc" / "khoa-so.json"
    marker.parent.mkdir(parents=True)
    marker.write_text(json.dumps({"period": "2023", "closed_at": "2023-09-01T08:00:00+07:00"}), encoding="utf-8")
    client = signed_in(portal, "03259")
    page = client.get("/don-vi").text
    assert "đã khóa sổ" in page and 'action="/nop/2023"' not in page
    response = client.post("/nop/2023", data={"csrf": csrf_of(client.get("/don-vi"))}, files={"tep": ("a.xlsx", FIXED.read_bytes())})
    assert response.status_code == 409 and "Kỳ 2023 đã khóa sổ" in response.text and portal.inbox_files() == []


@pytest.mark.parametrize("path", ["/tep/2023/" + "a" * 300 + ".xlsx",
                                  "/mau/" + "c" * 300 + ".xlsx", "/tep/" + "d" * 300 + "/x.xlsx", "/khong-co-trang-nay",
                                  "/tep/2023/a%00b.xlsx", "/tep/2023/../../access/accounts.json",
                                  "/tep/2023/..%2F..%2Faccess%2Faccounts.json", "/tai-len/2023/03259/../../x"])
def test_long_and_odd_paths_answer_a_vietnamese_404(portal, path):
    response = portal.client().get(path)
    assert response.status_code == 404 and "Không tìm thấy" in response.text and 'lang="vi"' in response.text


def test_a_feedback_name_tells_nothing_to_the_anonymous(portal):
    """Whether a feedback workbook exists or not, the anonymous are sent to sign in (the same
    answer); a signed-in unit gets the same 404 for another unit's and for none."""
    client = portal.client()
    answers = [client.get(f"/tep/2023/phan-hoi/{name}") for name in
               ("phan-hoi-03260-2023.xlsx", "phan-hoi-03261-2023.xlsx", "b" * 300 + ".xlsx")]
    assert {(r.status_code, r.headers["location"], r.content) for r in answers} == {(303, "/dang-nhap", b"")}
    unit = signed_in(portal, "03259")
    other, none = (unit.get(f"/tep/2023/phan-hoi/{name}") for name in ("phan-hoi-03260-2023.xlsx", "khong-co.xlsx"))
    assert other.status_code == none.status_code == 404 and other.content == none.content


def test_security_headers(portal):
    client = signed_in(portal, "03259")
    for path in ("/", "/don-vi", "/tep/2023/phan-hoi/phan-hoi-03259-2023.xlsx", "/khong-co"):
        headers = client.get(path).headers
        assert headers["x-content-type-options"] == "nosniff" and headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert "default-src 'none'" in headers["content-security-policy"]
    assert client.get("/tep/2023/phan-hoi/phan-hoi-03259-2023.xlsx").headers["cache-control"] == "private, no-store"
    assert client.get("/don-vi").headers["cache-control"] == "private, no-store"
    assert client.get("/mau/mau-bao-cao-don-vi.xlsx").headers["cache-control"] == "no-cache"  # public


@pytest.mark.parametrize("https", [True, False])
def test_the_session_cookie(portal, https):
    client = portal.client(https=https)
    cookie = sign_in(client, "03259", portal.codes["03259"]).headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and f"Max-Age={SESSION_SECONDS}" in cookie
    assert ("Secure" in cookie) == https
    assert portal.codes["03259"] not in cookie


def test_sessions_expire_and_end_with_their_code(portal):
    client = signed_in(portal, "03259")
    portal.clock[0] += SESSION_SECONDS + 1
    assert client.get("/don-vi").status_code == 303
    client = signed_in(portal, "03259")
    assert client.get("/don-vi").status_code == 200
    portal.codes["03259"] = AccessStore(portal.data).issue("03259", UNIT, NOW)  # a new code ends the old sessions
    assert client.get("/don-vi").status_code == 303
    client = signed_in(portal, "03259")
    AccessStore(portal.data).revoke("03259", NOW)
    assert client.get("/don-vi").status_code == 303
    assert sign_in(portal.client(), "03259", portal.codes["03259"]).status_code == 401


def test_a_forged_session_is_not_accepted(portal):
    client = signed_in(portal, "03259")
    value = client.cookies["phien"]
    body, signature = value.split(".")
    forged = body.replace(body[5], "A" if body[5] != "A" else "B", 1) + "." + signature
    other = portal.client()
    other.cookies.set("phien", forged)
    assert other.get("/don-vi").status_code == 303


def test_secrets_are_stored_only_as_hashes(portal, capsys):
    assert main(["access", "add", "03262", "--data", str(portal.data)]) == 0
    code = re.search(r"[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}", capsys.readouterr().out)[0]
    store = AccessStore(portal.data)
    stored = store.path.read_text(encoding="utf-8") + Audit(portal.data).path.read_text(encoding="utf-8")
    assert all(c.replace("-", "") not in stored.replace("-", "") and c not in stored for c in [*portal.codes.values(), code])
    assert store.verify("03262", code.lower().replace("-", " ")) is not None and store.verify("03262", "X") is None
    assert (store.path.stat().st_mode & 0o077) == 0
    assert main(["access", "revoke", "03262", "--data", str(portal.data)]) == 0 and store.verify("03262", code) is None
    assert main(["access", "add", "99999", "--data", str(portal.data)]) == 2
    assert main(["access", "officer-add", "03259", "--data", str(portal.data)]) == 2
    assert main(["access", "list", "--data", str(portal.data)]) == 0
    listing = capsys.readouterr().out
    assert "03262" in listing and "đã thu hồi" in listing and "cán bộ huyện" in listing


def test_the_audit_log(portal, capsys):
    client = portal.client()
    sign_in(client, "03259", "SAI")
    sign_in(client, "03259", portal.codes["03259"])
    upload(client, BROKEN.read_bytes(), "lan-1.xlsx")
    client.get("/tep/2023/phan-hoi/phan-hoi-03259-2023.xlsx")
    events = [(e["event"], e.get("account") or e.get("login")) for e in portal.audit()]
    assert ("sign_in_failed", "03259") in events and ("sign_in", "03259") in events
    assert ("upload", "03259") in events and ("download", "03259") in events
    assert [e for e in events if e[0] == "access_issued"] == []  # issued by the fixture's store, not the CLI
    officer = signed_in(portal, "huyen")
    page = officer.get("/nhat-ky").text
    assert "Đăng nhập sai mã" in page and "Nộp báo cáo" in page and "lan-1.xlsx" in page
    assert "kết quả: Không hợp lệ" in page  # the verdict's word, as the status grid says it
    assert all(code not in page for code in portal.codes.values())
    assert main(["access", "log", "--data", str(portal.data), "--last", "3"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3


def _plan_claiming(unit: str, path: Path) -> Path:
    """The district's plan with a MA_DON_VI row added to Thông tin (as the attack was tried)."""
    workbook = openpyxl.load_workbook(SAMPLE_DIR / "ke-hoach-huyen-2023.xlsx")
    sheet = workbook["Thông tin"]
    sheet.append(["MA_DON_VI", "Mã đơn vị", unit])
    sheet["C10"] = "Nguyễn Văn Giả Mạo"  # NGUOI_KY: the signer it would print
    workbook.save(path)
    return path


def test_a_unit_cannot_upload_the_districts_plan(portal, tmp_path):
    client = signed_in(portal, "03259")
    plan = _plan_claiming("03259", tmp_path / "ke-hoach-huyen-2023.xlsx")
    text = verdict_page(client, upload(client, plan.read_bytes(), plan.name))
    assert "tệp không phải báo cáo của đơn vị" in text and "kế hoạch của huyện (ô C14, loại tệp)" in text
    assert portal.inbox_files() == []  # nothing written to the inbox
    entry = next(e for e in portal.audit() if e["event"] == "upload_refused")
    assert entry["unit"] == "03259" and entry["verdict"] == Verdict.NOT_UNIT_REPORT
    [record] = Uploads.under(portal.data).records("2023", "03259")
    assert record["findings"][0]["code"] == "khong_phai_bao_cao_don_vi"


def test_intake_never_takes_a_plan_that_came_through_a_units_upload(catalogue, tmp_path):
    """Whatever reaches the inbox under an upload's name is a unit's file: a plan there is refused
    and told with the unidentified files; the plan of the district is not replaced."""
    from pipeline.intake.inbox import uploaded_name
    from pipeline.intake.take_in import take_in_plan, unidentified_files
    from pipeline.warehouse import plan_info

    places = Places.under(tmp_path / "data", tmp_path / "inbox")
    inbox = tmp_path / "inbox" / "2023"
    inbox.mkdir(parents=True)
    now = dt.datetime(2023, 8, 10, 9, 0)
    shutil.copy(SAMPLE_DIR / "ke-hoach-huyen-2023.xlsx", inbox / "ke-hoach-huyen-2023.xlsx")
    assert take_in_plan(catalogue, places, "2023", now).status == Verdict.VALID
    forged = _plan_claiming("03259", inbox / uploaded_name("03259", "20230810-100000-0a1b2c3d", ".xlsx"))
    os.utime(forged, (4_000_000_000, 4_000_000_000))  # the newest file of the inbox
    assert take_in_plan(catalogue, places, "2023", now + dt.timedelta(hours=1)).file.name == "ke-hoach-huyen-2023.xlsx"
    with connect(places.warehouse) as conn:
        assert plan_info(conn, "2023")["NGUOI_KY"] == "Mùa Va Hồ"
    [refused] = unidentified_files(catalogue, places, "2023", now)
    assert refused.result.path.name == forged.name and refused.received_at is None  # refused unread
    [why] = refused.result.findings
    assert why.code == "khong_phai_bao_cao_don_vi" and "đến qua trang tải lên của đơn vị 03259" in why.message


def _send_plan(client: TestClient, content: bytes, name: str = "ke-hoach.xlsx"):
    token = csrf_of(client.get("/can-bo"))
    return client.post("/ke-hoach/2023", data={"csrf": token}, files={"tep": (name, content)})


def test_an_officer_sends_the_plan_and_sees_what_it_changes(portal, catalogue, tmp_path):
    """The plan comes from an officer on the page: into the inbox under an officer's name, with
    its changes against the plan received before (old → new) on the verdict page and in the audit."""
    from pipeline.intake.take_in import take_in_plan

    officer = signed_in(portal, "huyen")
    assert _send_plan(officer, (SAMPLE_DIR / "ke-hoach-huyen-2023.xlsx").read_bytes()).status_code == 303
    [placed] = portal.inbox_files()
    assert placed.name.startswith("ke-hoach-can-bo-")
    take_in_plan(catalogue, portal.places, "2023", NOW)  # the sensor takes it in: now it is the plan received
    workbook = openpyxl.load_workbook(SAMPLE_DIR / "ke-hoach-huyen-2023.xlsx")
    workbook["Thông tin"]["C10"] = "Lò Văn Tâm"  # NGUOI_KY
    workbook["Kế hoạch"]["F5"] = 40  # T01's plan, blank before (KE_HOACH, row of T01)
    workbook.save(tmp_path / "ke-hoach-moi.xlsx")
    response = _send_plan(officer, (tmp_path / "ke-hoach-moi.xlsx").read_bytes(), "ke-hoach-moi.xlsx")
    text = officer.get(response.headers["location"]).text
    assert "Thay đổi so với kế hoạch nhận trước" in text and "Người ký: Mùa Va Hồ → Lò Văn Tâm" in text
    assert "T01 Tỷ lệ hộ nghèo · Kế hoạch năm: (trống) → 40" in text
    entry = [e for e in portal.audit() if e["event"] == "plan_upload"][-1]
    assert "Người ký: Mùa Va Hồ → Lò Văn Tâm" in entry["changes"] and entry["account"] == "huyen"
    assert "Gửi kế hoạch của huyện" in officer.get("/nhat-ky").text


def test_only_an_officer_sends_the_plan_and_only_a_plan(portal):
    unit = signed_in(portal, "03259")
    token = csrf_of(unit.get("/don-vi"))
    refused = unit.post("/ke-hoach/2023", data={"csrf": token},
                        files={"tep": ("ke-hoach.xlsx", (SAMPLE_DIR / "ke-hoach-huyen-2023.xlsx").read_bytes())})
    assert refused.status_code == 404 and portal.inbox_files() == []
    officer = signed_in(portal, "huyen")
    text = officer.get(_send_plan(officer, FIXED.read_bytes(), "bao-cao.xlsx").headers["location"]).text
    assert "tệp không phải kế hoạch của huyện" in text and portal.inbox_files() == []
    assert "đúng tệp kế hoạch của huyện" in text and 'action="/ke-hoach/2023"' in text  # its next step, and Gửi lại
    assert [e["event"] for e in portal.audit()].count("plan_upload_refused") == 1


def test_the_communes_pages_say_what_to_do_next(portal):
    """The template on the unit's page, the next step and "Gửi lại" after a verdict, a feedback
    named for the unit, dates as dd/mm/yyyy hh:mm, late marked, no server file name shown."""
    client = signed_in(portal, "03259")
    home = client.get("/don-vi").text
    assert 'href="/mau/mau-bao-cao-don-vi.xlsx"' in home and "hạn nộp 10/08/2023" in home
    location = upload(client, BROKEN.read_bytes(), "lan-1.xlsx").headers["location"]
    bad = client.get(location).text
    assert "Bước tiếp theo" in bad and "<button>Gửi lại</button>" in bad and 'action="/nop/2023"' in bad
    assert "các ô có lỗi được tô màu" in bad
    feedback = client.get(location + "/phan-hoi")
    assert feedback.status_code == 200 and 'filename="phan-hoi-xa-phinh-sang-2023.xlsx"' in feedback.headers["content-disposition"]
    good = client.get(upload(client, FIXED.read_bytes(), "lan-2.xlsx").headers["location"]).text
    assert "các ô có lỗi được tô màu" not in good and "<button>Gửi lại</button>" not in good and "không cần làm gì" in good
    assert re.search(r"Gửi lúc \d\d/\d\d/20\d\d \d\d:\d\d", good) and "trễ hạn" in good  # the real clock: after 2023's deadline
    history = client.get("/don-vi").text
    assert "lan-1.xlsx" in history and "lan-2.xlsx" in history and "-tai-len-" not in history
    assert "đang chờ huyện tiếp nhận" in history  # no intake has run: the state shown is the one before
    assert not re.search(r"20\d\d-\d\d-\d\d", history)  # no ISO dates


def test_a_server_name_is_never_shown_to_the_unit(portal):
    """An upload taken in whose record is gone is told by when it was sent."""
    from pipeline.web.unit import shown_name

    assert shown_name("03259-tai-len-20230809-101500-0a1b2c3d.xlsx") == "gửi qua trang lúc 09/08/2023 10:15"
    assert shown_name("Báo cáo xã.xlsx") == "Báo cáo xã.xlsx"


def test_the_officer_sees_error_counts_lateness_and_unidentified_files(portal):
    folder = portal.places.out / "2023"
    periods = json.loads((portal.places.out / "status.json").read_text(encoding="utf-8"))["periods"]
    [period] = [p for p in periods if p["key"] == "2023"]
    units = period["units"]
    for unit in units:
        if unit["code"] == "03260":
            unit.update(state="khong_hop_le", label="Không hợp lệ", errors=3, on_time=True,
                        received_at="2023-08-09 10:00:00", feedback="phan-hoi/phan-hoi-03260-2023.xlsx")
        if unit["code"] == "03253":
            unit.update(on_time=False)
    (folder / "tiep-nhan.json").write_text(json.dumps({"units": units}), encoding="utf-8")
    (folder / "khong-xac-dinh.json").write_text(json.dumps({"files": [
        {"file_name": "bao-cao-khong-ro.xlsx", "reason": "Không phải bảng tính.", "received_at": "2023-08-09 11:00:00",
         "feedback": "phan-hoi/phan-hoi-khong-ro.xlsx"}]}), encoding="utf-8")
    page = signed_in(portal, "huyen").get("/can-bo").text
    assert '<a href="/tep/2023/phan-hoi/phan-hoi-03260-2023.xlsx" title="Xem lý do">3 lỗi</a>' in page
    assert "09/08/2023 10:00" in page and "bao-cao-khong-ro.xlsx" in page and "Không phải bảng tính." in page
    row = page[page.index("<td>03253</td>"):].split("</tr>", 1)[0]
    assert "trễ hạn" in row and "trễ hạn" not in page[page.index("<td>03260</td>"):].split("</tr>", 1)[0]
