"""The review on the page (issue 28, point 3), against a real uvicorn server on a real
DuckDB: the officer sees each unit's review state in the grid and a unit's review page, approves,
returns with a comment, approves several units at once; the unit sees its own comments only and
answers in writing or with a new file; a unit never reaches the officers' review routes, and a
form without its CSRF token changes nothing."""

from __future__ import annotations

import datetime as dt
import html
import json
import shutil
from pathlib import Path

import openpyxl
import pytest

from pipeline.intake.take_in import take_in_unit
from pipeline.publication.status import write_status
from pipeline.review import OFFICER, UNIT, Action, Actor, decide, read_decisions, reply
from pipeline.settings import Places
from pipeline.warehouse import connect
from pipeline.web.access import AccessStore, Audit
from pipeline.workbook.reader import read_workbook
from tests.conftest import SAMPLE_DIR, take_in_everything
from tests.test_security import Server, csrf_of

T0 = dt.datetime(2023, 8, 10, 8, 0)
PHINH_SANG, RANG_DONG, MUN_CHUNG = "03259", "03260", "03262"
ORIGINAL = SAMPLE_DIR / "03259-xa-phinh-sang.xlsx"
FILES = [SAMPLE_DIR / f for f in ("03259-xa-phinh-sang.xlsx", "03260-xa-rang-dong.xlsx", "03262-xa-mun-chung.xlsx")]


@pytest.fixture(scope="module")
def pristine(catalogue, tmp_path_factory) -> Path:
    """Three communes taken in (valid, so "đã nhận"), the status written, four accounts."""
    data = tmp_path_factory.mktemp("review-data")
    places = Places.under(data)
    take_in_everything(catalogue, places, T0, FILES)
    with connect(places.warehouse) as conn:
        write_status(catalogue, conn, places.out, dt.date(2023, 8, 20))
    store = AccessStore(data)
    for login, role in ((PHINH_SANG, UNIT), (RANG_DONG, UNIT), (MUN_CHUNG, UNIT), ("huyen", OFFICER)):
        store.issue(login, role, T0)
    return data


@pytest.fixture
def server(pristine, tmp_path):
    with Server(Path(shutil.copytree(pristine, tmp_path / "data"))) as running:
        yield running


def _text(response) -> str:
    return html.unescape(response.text)


def _decide(client, unit: str, action: str, comment: str = "", csrf: str | None = None):
    page = client.get(f"/can-bo/xet-duyet/2023/{unit}")
    assert page.status_code == 200
    version = page.text.split('name="phien-ban" value="')[1].split('"')[0]
    token = csrf_of(page.text) if csrf is None else csrf
    return client.post(f"/can-bo/xet-duyet/2023/{unit}/quyet-dinh",
                       data={"csrf": token, "viec": action, "y-kien": comment, "phien-ban": version})


def _review_cell(page: str, unit: str) -> str:
    row = page.split(f"<td>{unit}</td>")[1].split("</tr>")[0]
    return row.split('<td class="review')[1].split("</td>")[0]


def test_the_officer_approves_and_returns_with_a_comment(server):
    officer = server.signed_in("huyen")
    grid = officer.get("/can-bo").text
    assert "Đã nhận" in _review_cell(grid, PHINH_SANG) and 'value="03259"' in _review_cell(grid, PHINH_SANG)
    page = officer.get(f"/can-bo/xet-duyet/2023/{PHINH_SANG}")
    text = _text(page)
    assert "Xã Phình Sáng" in text and "Phiên bản đang dùng: nhận lúc" in text and "10/08/2023 08:00" in text
    assert ".xlsx" not in text  # the version told by when it came, never by a file name
    refused = _decide(officer, PHINH_SANG, "tra-lai", "  ")
    assert refused.status_code == 409 and "phải kèm ý kiến" in _text(refused)
    returned = _decide(officer, PHINH_SANG, "tra-lai", "Số hộ nghèo DTTS tăng bất thường, đề nghị giải trình.")
    assert returned.status_code == 200 and "Đã trả lại báo cáo của Xã Phình Sáng" in _text(returned)
    approved = _decide(officer, RANG_DONG, "duyet")
    assert approved.status_code == 200 and "Đã duyệt báo cáo của Xã Rạng Đông" in _text(approved)
    grid = officer.get("/can-bo").text
    assert "Cần giải trình" in _review_cell(grid, PHINH_SANG) and "Đã duyệt" in _review_cell(grid, RANG_DONG)
    assert 'type="checkbox"' not in _review_cell(grid, RANG_DONG)  # approved: nothing to tick
    assert "phien-ban" not in officer.get(f"/can-bo/xet-duyet/2023/{RANG_DONG}").text  # approved: no form
    decisions = read_decisions(server.data / "archive", "2023")
    assert [(d.unit, d.action, d.by, d.role) for d in decisions] == [
        (PHINH_SANG, "return", "huyen", OFFICER), (RANG_DONG, "approve", "huyen", OFFICER)]
    events = [(e["event"], e.get("unit")) for e in Audit(server.data).lines(100)]
    assert ("review_return", PHINH_SANG) in events and ("review_approve", RANG_DONG) in events
    audit = _text(officer.get("/nhat-ky"))
    assert "Trả lại báo cáo" in audit and "đề nghị giải trình" in audit and "Cần giải trình" in audit


def test_the_unit_sees_its_own_comment_never_anothers_and_answers(server, catalogue):
    officer = server.signed_in("huyen")
    _decide(officer, PHINH_SANG, "tra-lai", "Phình Sáng: kiểm tra lại số hộ.")
    _decide(officer, RANG_DONG, "tra-lai", "Rạng Đông: thiếu kinh phí.")
    commune = server.signed_in(PHINH_SANG)
    home = _text(commune.get("/don-vi"))
    assert "Cần giải trình" in home and "Phình Sáng: kiểm tra lại số hộ." in home
    assert "Rạng Đông" not in home and "thiếu kinh phí" not in home
    token = csrf_of(commune.get("/don-vi").text)
    answered = commune.post("/giai-trinh/2023", data={"csrf": token, "giai-trinh": "Số hộ tăng do tách hộ."})
    assert answered.status_code == 200 and "Đã gửi giải trình" in _text(answered)
    assert "Số hộ tăng do tách hộ." in _text(officer.get(f"/can-bo/xet-duyet/2023/{PHINH_SANG}"))
    assert "Số hộ tăng do tách hộ." not in _text(server.signed_in(RANG_DONG).get("/don-vi"))
    other = server.signed_in(MUN_CHUNG)  # not returned: no reply form, a reply refused
    assert 'action="/giai-trinh/2023"' not in other.get("/don-vi").text
    refused = other.post("/giai-trinh/2023", data={"csrf": csrf_of(other.get("/don-vi").text), "giai-trinh": "?"})
    assert refused.status_code == 409 and "chưa có ý kiến nào" in _text(refused)

    # The answer by a new file: the unit is "đã nhận" again, the comment kept in its history;
    # the officer sees what changed, the largest change first.
    cells = {c.ref.row: c for c in read_workbook(ORIGINAL, catalogue).cells if c.ref.form == "01"}
    small, large = cells["HO_NGHEO_DTTS"], cells["HS15_18_HOC"]  # 427 -> 400 (-6 %), 193 -> 100 (-48 %)
    workbook = openpyxl.load_workbook(ORIGINAL)
    workbook["01 Chỉ tiêu"][small.cell], workbook["01 Chỉ tiêu"][large.cell] = 400, 100
    fixed = server.data / "fixed.xlsx"
    workbook.save(fixed)
    sent = commune.post("/nop/2023", data={"csrf": token}, files={"tep": ("bao-cao-sua.xlsx", fixed.read_bytes())})
    assert sent.status_code == 303
    places = Places.under(server.data)
    take_in_unit(catalogue, places, "2023", PHINH_SANG, server.settings.now())
    with connect(places.warehouse) as conn:  # as the pipeline publishes after an intake
        write_status(catalogue, conn, places.out, dt.date(2023, 8, 20))
    home = _text(commune.get("/don-vi"))
    assert 'Xét duyệt của huyện: <span class="state da_nhan">Đã nhận</span>' in home
    assert "Phình Sáng: kiểm tra lại số hộ." in home and 'action="/giai-trinh/2023"' not in home
    page = _text(officer.get(f"/can-bo/xet-duyet/2023/{PHINH_SANG}"))
    rows = page.split("Số liệu thay đổi")[1].split("</table>")[0].split("<tr>")[2:]
    assert len(rows) == 2
    assert ">100<" in rows[0] and ">193<" in rows[0] and "giảm 48%" in rows[0]
    assert ">400<" in rows[1] and ">427<" in rows[1] and "giảm 6%" in rows[1]
    assert 'name="phien-ban"' in page  # received again: to decide on anew
    assert "-tai-len-" not in page.replace('"/tai-len/', "")  # its findings name the upload by when it was sent
    assert "gửi qua trang lúc" in page.split("Kết quả kiểm tra")[1]


def test_several_units_approved_at_once_from_the_grid(server):
    officer = server.signed_in("huyen")
    grid = officer.get("/can-bo")
    answer = officer.post("/can-bo/xet-duyet/2023", data={"csrf": csrf_of(grid.text), "don-vi": [PHINH_SANG, RANG_DONG]})
    assert answer.status_code == 200 and "Xã Phình Sáng, Xã Rạng Đông" in _text(answer)
    grid = officer.get("/can-bo").text
    assert "Đã duyệt" in _review_cell(grid, PHINH_SANG) and "Đã duyệt" in _review_cell(grid, RANG_DONG)
    assert "Đã nhận" in _review_cell(grid, MUN_CHUNG)
    twice = officer.post("/can-bo/xet-duyet/2023", data={"csrf": csrf_of(grid), "don-vi": [PHINH_SANG, MUN_CHUNG]})
    assert twice.status_code == 200 and "Đã duyệt báo cáo của Xã Mùn Chung." in _text(twice)
    assert "Phiên bản đang dùng của Xã Phình Sáng" in _text(twice) and "đã được duyệt rồi" in _text(twice)
    none = officer.post("/can-bo/xet-duyet/2023", data={"csrf": csrf_of(grid)})
    assert none.status_code == 400 and "Chưa chọn đơn vị" in _text(none)
    places = Places.under(server.data)  # the grid and a unit's page never wait for the warehouse (a run holds it)
    places.warehouse.rename(server.data / "moved.duckdb")
    grid = officer.get("/can-bo").text
    assert all("Đã duyệt" in _review_cell(grid, unit) for unit in (PHINH_SANG, RANG_DONG, MUN_CHUNG))
    assert 'Xét duyệt của huyện: <span class="state da_duyet">Đã duyệt</span>' in \
        _text(server.signed_in(RANG_DONG).get("/don-vi"))
    assert not places.warehouse.exists()


@pytest.mark.parametrize("method, path", [
    ("GET", f"/can-bo/xet-duyet/2023/{PHINH_SANG}"), ("POST", f"/can-bo/xet-duyet/2023/{PHINH_SANG}/quyet-dinh"),
    ("POST", "/can-bo/xet-duyet/2023")])
def test_a_unit_cannot_reach_the_officers_review(server, method, path):
    commune = server.signed_in(PHINH_SANG)
    token = csrf_of(commune.get("/don-vi").text)
    answer = commune.request(method, path, data={"csrf": token, "viec": "duyet", "don-vi": [PHINH_SANG]}
                             if method == "POST" else None)
    assert answer.status_code == 404 and "Không tìm thấy" in _text(answer)
    assert server.client().request(method, path).status_code == 303  # the anonymous: to the sign-in page
    assert read_decisions(server.data / "archive", "2023") == []


def test_a_decision_without_its_csrf_token_changes_nothing(server):
    officer = server.signed_in("huyen")
    assert _decide(officer, PHINH_SANG, "duyet", csrf="forged").status_code == 403
    assert officer.post("/can-bo/xet-duyet/2023", data={"don-vi": [PHINH_SANG]}).status_code == 403
    commune = server.signed_in(RANG_DONG)
    assert commune.post("/giai-trinh/2023", data={"giai-trinh": "x"}).status_code == 403
    assert read_decisions(server.data / "archive", "2023") == []


def test_a_reply_is_the_returned_units_own(catalogue, pristine, tmp_path):
    places = Places.under(Path(shutil.copytree(pristine, tmp_path / "data")))
    officer = Actor("huyen", OFFICER)
    assert reply(catalogue, places, "2023", Actor(PHINH_SANG, UNIT, PHINH_SANG), T0, "x").refusal  # not returned
    decide(catalogue, places, "2023", [PHINH_SANG], Action.RETURN, officer, T0, "Giải trình số hộ.")
    assert "Chỉ tài khoản của đơn vị" in reply(catalogue, places, "2023", officer, T0, "x").refusal
    assert "Hãy viết" in reply(catalogue, places, "2023", Actor(PHINH_SANG, UNIT, PHINH_SANG), T0, " ").refusal
    done = reply(catalogue, places, "2023", Actor(PHINH_SANG, UNIT, PHINH_SANG), T0, "Do tách hộ.")
    assert done.decision is not None and done.decision.action == Action.REPLY
    recorded = [json.loads(line) for line in (places.archive / "2023" / "xet-duyet.jsonl").read_text().splitlines()]
    assert [(r["action"], r["state"], r["role"]) for r in recorded] == [
        ("return", "can_giai_trinh", OFFICER), ("reply", "can_giai_trinh", UNIT)]
