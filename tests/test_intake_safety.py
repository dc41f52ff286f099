"""Intake against an operator's real server (issue 11): a kill between the archived file and
its record, a rebuild beside a run or on a closed period, an older file sent again, links and
pipes in the inbox, a file renamed mid-intake, NFD names and clocks with an offset."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import unicodedata

import duckdb
import openpyxl
import pytest

from pipeline.catalogue import default_catalogue
from pipeline.checking.feedback import SUMMARY_SHEET
from pipeline.checking.findings import DENIED, HARDLINK, LINK, NOT_A_FILE, OUTSIDE_INBOX, SUPERSEDED
from pipeline.cli import main
from pipeline.intake import inbox as inbox_module
from pipeline.intake import take_in as take_in_module
from pipeline.intake.archive import archived_versions
from pipeline.intake.inbox import watch
from pipeline.intake.take_in import catch_up, take_in_batch, take_in_unit, unidentified_files
from pipeline.periods import MARKER
from pipeline.settings import Places, Settings
from pipeline.tools.sample import sample_values
from pipeline.workbook.template import Filling, write_unit_workbook
from tests.conftest import CLOSING, ROOT, take_in_everything

T0 = dt.datetime(2023, 8, 10, 8, 0)
UNIT = "03259"


def _sample(sample_files, code=UNIT):
    return next(p for p in sample_files if p.name.startswith(code))


def _drop(places, source, name=None, mtime=None, period="2023"):
    """Put a file into the period's inbox, with a modification time that orders arrivals."""
    folder = places.inbox / period
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / (name or source.name)
    shutil.copyfile(source, target)
    if mtime is not None:
        os.utime(target, (mtime, mtime))
    return target


def _edited(source, tmp_path, name, households):
    """A valid new version of a unit's file: another total number of households (E5 of Biểu 01)."""
    workbook = openpyxl.load_workbook(source)
    sheet = workbook["01 Chỉ tiêu"]
    sheet["E5"] = households
    out = tmp_path / name
    workbook.save(out)
    return out


def _current(warehouse, unit=UNIT, period="2023"):
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return conn.execute("SELECT file_hash, file_name FROM submissions WHERE period = ? AND unit = ? AND is_current",
                            [period, unit]).fetchone()


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _dead_pid():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


# --------------------------------------------------------------------------- 3: the archived file and its record


def test_a_kill_between_the_archived_file_and_its_record_is_harmless(catalogue, sample_files, tmp_path):
    places = Places.under(tmp_path / "data")
    _drop(places, _sample(sample_files))
    assert take_in_unit(catalogue, places, "2023", UNIT, T0).status == "valid"
    folder = places.archive / "2023" / UNIT
    for record in folder.rglob("*.json"):  # as a kill right after the copy leaves it
        record.unlink()
    leftover = folder / f".{next(folder.glob('*.xlsx')).stem}.json.{_dead_pid()}.tmp"
    leftover.write_text('{"original_na', encoding="utf-8")
    assert take_in_unit(catalogue, places, "2023", UNIT, T0 + dt.timedelta(hours=1)).status == "valid"
    assert not leftover.exists()
    copy = tmp_path / "copy"
    shutil.copytree(places.archive, copy / "archive")
    assert main(["rebuild", "--data", str(copy)]) == 0
    assert _current(copy / "warehouse.duckdb") == _current(places.warehouse)


# --------------------------------------------------------------------------- 4, 5: rebuild


def test_rebuild_uses_the_unit_list_in_use_and_waits_for_no_run(sample_files, tmp_path, monkeypatch, capsys):
    units = tmp_path / "units.csv"
    lines = (ROOT / "pipeline" / "catalogue" / "units.csv").read_text(encoding="utf-8").splitlines()
    row = next(line for line in lines if line.startswith(UNIT + ","))
    units.write_text("\n".join([*lines, row.replace(UNIT, "99901").replace("Phình Sáng", "Thử Nghiệm")]) + "\n",
                     encoding="utf-8")
    monkeypatch.setenv("TUANGIAO_UNITS", str(units))
    monkeypatch.setenv("TUANGIAO_WAIT_SECONDS", "1")  # then refused
    catalogue = default_catalogue(units)
    places = Places.under(tmp_path / "data")
    new_unit = write_unit_workbook(tmp_path / "99901.xlsx", catalogue, catalogue.unit("99901"),
                                   Filling({"MA_DON_VI": "99901", "KY_BAO_CAO": "2023"},
                                           sample_values(catalogue)[UNIT]))
    _drop(places, new_unit)
    assert take_in_unit(catalogue, places, "2023", "99901", T0).status == "valid"
    holder = subprocess.Popen(  # a run in progress holds the data folder
        [sys.executable, "-c", "import sys; from pathlib import Path; from pipeline.locking import shared_lock\n"
         f"with shared_lock(Path({str(places.data)!r})):\n print('ready', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert holder.stdout.readline() == "ready\n"
        before = places.warehouse.read_bytes()
        assert main(["rebuild", "--data", str(places.data)]) == 2
        assert "đang chạy" in capsys.readouterr().err
        assert places.warehouse.read_bytes() == before
    finally:
        holder.communicate("")
    assert main(["rebuild", "--data", str(places.data)]) == 0
    with duckdb.connect(str(places.warehouse), read_only=True) as conn:
        assert conn.execute("SELECT unit, status, is_current FROM submissions").fetchall() == [("99901", "valid", True)]
    assert not (places.data / ".rebuild").exists()


def _all_current(warehouse):
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return conn.execute("SELECT period, unit, file_hash, file_name, received_at FROM submissions "
                            "WHERE is_current ORDER BY ALL").fetchall()


def test_rebuild_of_a_closed_period_loads_the_versions_it_was_closed_with(catalogue, sample_files, tmp_path,
                                                                           monkeypatch):
    monkeypatch.setattr(take_in_module, "CATCH_UP_BATCH", 5)  # the rebuild goes by several batches
    places = take_in_everything(catalogue, Places.under(tmp_path / "data"), T0, sample_files)
    closed = _current(places.warehouse)
    everything = _all_current(places.warehouse)
    assert main(["close-period", "2023", *CLOSING, "--data", str(places.data)]) == 0
    record = json.loads((places.out / "2023" / "chinh-thuc" / MARKER).read_text(encoding="utf-8"))
    assert record["versions"][UNIT] == closed[0]
    late = _edited(_sample(sample_files), tmp_path, "03259-sua-sau-khoa-so.xlsx", 900)
    _drop(places, late)
    assert take_in_unit(catalogue, places, "2023", UNIT, T0 + dt.timedelta(days=9)).status == "closed"
    assert main(["rebuild", "--data", str(places.data)]) == 0
    assert _current(places.warehouse) == closed and _all_current(places.warehouse) == everything


# --------------------------------------------------------------------------- 6: every arrival recorded


def test_an_older_version_sent_again_is_current_again(catalogue, sample_files, tmp_path):
    places = Places.under(tmp_path / "data")
    v1 = _sample(sample_files)
    v3 = _edited(v1, tmp_path, "03259-v3.xlsx", 1900)
    _drop(places, v1, mtime=1_000)
    take_in_unit(catalogue, places, "2023", UNIT, T0)
    _drop(places, v3, mtime=2_000)
    second = take_in_unit(catalogue, places, "2023", UNIT, T0 + dt.timedelta(hours=1))
    assert _current(places.warehouse) == (_sha(v3), v3.name)
    warning = next(f for f in second.findings if f.code == SUPERSEDED.code)
    assert f'"{v1.name}"' in warning.message and f'"{v3.name}"' in warning.message
    with duckdb.connect(str(places.warehouse), read_only=True) as conn:  # stored with the submission's findings
        assert conn.execute("SELECT f.message FROM findings f JOIN submissions s USING (submission_id) "
                            "WHERE s.file_hash = ? AND f.code = ?", [_sha(v3), SUPERSEDED.code]).fetchall() == \
            [(warning.message,)]
    summary = openpyxl.load_workbook(second.feedback)[SUMMARY_SHEET]
    assert any(cell.value == warning.message for row in summary.iter_rows() for cell in row)
    _drop(places, v1, name="03259-gui-lai.xlsx", mtime=3_000)  # v1's bytes again, later
    take_in_unit(catalogue, places, "2023", UNIT, T0 + dt.timedelta(hours=2))
    assert _current(places.warehouse)[0] == _sha(v1)
    (places.inbox / "2023" / "03259-gui-lai.xlsx").unlink()  # the latest arrival decides, not the inbox's latest file
    (places.inbox / "2023" / v3.name).unlink()
    take_in_unit(catalogue, places, "2023", UNIT, T0 + dt.timedelta(hours=3))
    assert _current(places.warehouse)[0] == _sha(v1)
    copy = tmp_path / "copy"
    shutil.copytree(places.archive, copy / "archive")
    assert main(["rebuild", "--data", str(copy)]) == 0
    assert _current(copy / "warehouse.duckdb")[0] == _sha(v1)


def test_the_nightly_catch_up_and_the_sensor_see_an_older_version_sent_again(catalogue, sample_files, tmp_path):
    places = Places.under(tmp_path / "data")
    v1 = _sample(sample_files)
    v3 = _edited(v1, tmp_path, "03259-v3.xlsx", 1900)
    _drop(places, v1, mtime=1_000)
    _drop(places, v3, mtime=2_000)
    arrivals, cursor = watch(places.inbox, ["2023"], {}, now=10_000)
    assert len(arrivals) == 2
    catch_up(catalogue, places, "2023", T0)
    assert catch_up(catalogue, places, "2023", T0) == []  # up to date: nothing checked again
    _drop(places, v1, name="03259-gui-lai.xlsx", mtime=3_000)
    arrivals, _ = watch(places.inbox, ["2023"], cursor, now=10_000)
    assert [a.path.name for a in arrivals] == ["03259-gui-lai.xlsx"]
    assert [r.unit for r in catch_up(catalogue, places, "2023", T0)] == [UNIT]
    assert _current(places.warehouse)[0] == _sha(v1)


def test_each_file_is_hashed_once_per_intake(catalogue, sample_files, tmp_path, monkeypatch):
    places = Places.under(tmp_path / "data")
    expected = _sha(_drop(places, _sample(sample_files)))
    digests = []
    real = hashlib.sha256

    class Counting:
        def __init__(self, *args):
            self.inner = real(*args)

        def update(self, data):
            self.inner.update(data)

        def hexdigest(self):
            digest = self.inner.hexdigest()
            digests.append(digest)
            return digest

    monkeypatch.setattr(hashlib, "sha256", Counting)
    take_in_unit(catalogue, places, "2023", UNIT, T0)
    assert digests.count(expected) == 1


# --------------------------------------------------------------------------- 7: only regular files inside the inbox


def test_links_pipes_and_folders_outside_the_inbox_are_refused_unread(catalogue, sample_files, tmp_path):
    places = Places.under(tmp_path / "data")
    folder = places.inbox / "2023"
    folder.mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    outside = shutil.copyfile(_sample(sample_files), elsewhere / "03259.xlsx")
    (folder / "03259-link.xlsx").symlink_to(outside)
    (folder / "passwd.xlsx").symlink_to("/etc/passwd")
    os.mkfifo(folder / "pipe.xlsx")
    assert take_in_unit(catalogue, places, "2023", UNIT, T0).status == "missing"
    refused = {u.result.path.name: u.result for u in unidentified_files(catalogue, places, "2023", T0)}
    assert sorted(refused) == ["03259-link.xlsx", "passwd.xlsx", "pipe.xlsx"]
    assert all(r.findings[0].file == name and "hộp thư đến" in r.findings[0].message for name, r in refused.items())
    assert {name: r.findings[0].code for name, r in refused.items()} == {
        "03259-link.xlsx": LINK.code, "passwd.xlsx": LINK.code, "pipe.xlsx": NOT_A_FILE.code}
    assert not places.archive.exists() or not [p for p in places.archive.rglob("*") if p.is_file()]
    arrivals, _ = watch(places.inbox, ["2023"], {}, now=10**10)
    assert {a.path.name: a.identity for a in arrivals} == {"03259-link.xlsx": None, "passwd.xlsx": None,
                                                           "pipe.xlsx": None}
    linked = Places.under(tmp_path / "linked")  # the period's folder itself a link to elsewhere
    linked.inbox.mkdir(parents=True)
    (linked.inbox / "2023").symlink_to(elsewhere)
    assert take_in_unit(catalogue, linked, "2023", UNIT, T0).status == "missing"
    [outside_inbox] = unidentified_files(catalogue, linked, "2023", T0)
    assert outside_inbox.result.path.name == "03259.xlsx" and outside_inbox.result.findings[0].code == OUTSIDE_INBOX.code


def test_archived_copies_get_fixed_permissions(catalogue, sample_files, tmp_path):
    places = Places.under(tmp_path / "data")
    source = _drop(places, _sample(sample_files))
    source.chmod(0o666)
    take_in_unit(catalogue, places, "2023", UNIT, T0)
    [version] = archived_versions(places.archive, "2023", UNIT)
    assert version.path.stat().st_mode & 0o777 == 0o640


# --------------------------------------------------------------------------- 8: a file renamed mid-intake


def test_a_file_renamed_during_intake_affects_only_its_own_unit(catalogue, sample_files, tmp_path, monkeypatch):
    places = Places.under(tmp_path / "data")
    mine = _drop(places, _sample(sample_files, "03253"))
    other = _drop(places, _sample(sample_files, "03304"))
    real = inbox_module.read_identity

    def renamed_while_read(path):
        if path == other:
            other.rename(other.with_name("dang-doi-ten.xlsx"))
        return real(path)

    monkeypatch.setattr(inbox_module, "read_identity", renamed_while_read)
    [result] = take_in_batch(catalogue, places, "2023", ["03253"], T0)
    assert result.status == "valid"
    monkeypatch.undo()
    real_scan = take_in_module.scan_inbox

    def removed_after_the_look(*args, **kwargs):
        found = real_scan(*args, **kwargs)
        mine.unlink()
        return found

    monkeypatch.setattr(take_in_module, "scan_inbox", removed_after_the_look)
    results = take_in_batch(catalogue, places, "2023", ["03253", "03304"], T0)
    assert [r.status for r in results] == ["gone", "valid"]
    assert results[0].findings == []


# --------------------------------------------------------------------------- 10: names and clocks


def test_an_nfd_name_is_stored_nfc_everywhere(catalogue, sample_files, tmp_path):
    places = Places.under(tmp_path / "data")
    name = unicodedata.normalize("NFD", "03259-Xã Phình Sáng.xlsx")
    _drop(places, _sample(sample_files), name=name)
    take_in_unit(catalogue, places, "2023", UNIT, T0)
    expected = unicodedata.normalize("NFC", name)
    assert _current(places.warehouse)[1] == expected
    [version] = archived_versions(places.archive, "2023", UNIT)
    assert version.original_name == expected


def test_a_clock_with_an_offset_is_taken_as_vietnam_time():
    settings = Settings.from_environment({"TUANGIAO_CLOCK": "2023-08-11T06:59:00+07:00"})
    assert settings.now() == dt.datetime(2023, 8, 11, 6, 59)
    assert Settings.from_environment({"TUANGIAO_CLOCK": "2023-08-10T23:59:00+00:00"}).now() == \
        dt.datetime(2023, 8, 11, 6, 59)


def test_close_and_reopen_times_are_vietnam_time_and_the_kept_set_keeps_its_record(catalogue, sample_files, tmp_path,
                                                                                   monkeypatch):
    places = take_in_everything(catalogue, Places.under(tmp_path / "data"), T0, sample_files)
    monkeypatch.setenv("TUANGIAO_CLOCK", "2023-08-31T23:30:00+00:00")
    assert main(["close-period", "2023", *CLOSING, "--data", str(places.data)]) == 0
    record = json.loads((places.out / "2023" / "chinh-thuc" / MARKER).read_text(encoding="utf-8"))
    assert record["closed_at"] == "2023-09-01T06:30:00+07:00"
    monkeypatch.setenv("TUANGIAO_CLOCK", "2023-09-02T01:00:00+00:00")
    assert main(["reopen-period", "2023", "--data", str(places.data)]) == 0
    [kept] = (places.out / "2023").glob("chinh-thuc-da-mo-lai-*")
    kept_record = json.loads((kept / MARKER).read_text(encoding="utf-8"))
    assert kept_record["closed_at"] == record["closed_at"] and kept_record["reopened_at"] == "2023-09-02T08:00:00+07:00"
    assert take_in_unit(catalogue, places, "2023", UNIT, T0 + dt.timedelta(days=40)).status == "valid"


# --------------------------------------------------------------------------- issue 25: the inbox's files

DENIED_LOOK = ("import datetime as dt, json, sys; from pathlib import Path; from pipeline.catalogue import "
               "default_catalogue; from pipeline.settings import Places; from pipeline.intake.inbox import watch; "
               "from pipeline.intake.take_in import take_in_batch, unidentified_files\n"
               "places, catalogue, now = Places.under(Path(sys.argv[1])), default_catalogue(), dt.datetime(2023, 8, 10)\n"
               "arrivals, _ = watch(places.inbox, ['2023'], {}, now=10**10)\n"
               "results = take_in_batch(catalogue, places, '2023', ['03253', '03259'], now)\n"
               "refused = unidentified_files(catalogue, places, '2023', now)\n"
               "print(json.dumps({'arrivals': {a.path.name: a.identity and a.identity.unit_code for a in arrivals}, "
               "'units': {r.unit: r.status for r in results}, "
               "'refused': {u.result.path.name: [f.code, f.message] for u in refused for f in u.result.findings}}))")


def test_a_file_the_account_may_not_read_is_a_finding_for_that_file_alone(sample_files, tmp_path):
    """A 0000 file, read by an account without the capability to read through permissions (as
    root, setpriv drops CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH): the look, the other units'
    intake and the unidentified files all go on, and the file gets its own finding."""
    prefix = []
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("as root, a permission can only be denied by dropping a capability (setpriv, util-linux)")
        prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]
    places = Places.under(tmp_path / "data")
    _drop(places, _sample(sample_files, "03253"))
    _drop(places, _sample(sample_files, UNIT))
    locked = _drop(places, _sample(sample_files, "03304"), name="khoa.xlsx")
    locked.chmod(0)
    done = subprocess.run([*prefix, sys.executable, "-c", DENIED_LOOK, str(places.data)], cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout)
    assert seen["arrivals"] == {"khoa.xlsx": None, _sample(sample_files, "03253").name: "03253",
                                _sample(sample_files, UNIT).name: UNIT}
    assert seen["units"] == {"03253": "valid", UNIT: "valid"}
    assert list(seen["refused"]) == ["khoa.xlsx"]
    code, message = seen["refused"]["khoa.xlsx"]
    assert code == DENIED.code and message.startswith('Không đọc được tệp "khoa.xlsx": tài khoản chạy quy trình')
    assert not (places.archive / "2023" / "_khong_xac_dinh").exists()


def test_hard_links_to_files_outside_the_inbox_are_refused_and_never_archived(catalogue, sample_files, tmp_path):
    places = Places.under(tmp_path / "data")
    folder = places.inbox / "2023"
    folder.mkdir(parents=True)
    outside = shutil.copyfile(_sample(sample_files), tmp_path / "ngoai-hop-thu.xlsx")
    os.link(outside, folder / "03259-cung.xlsx")
    os.link("/etc/passwd", folder / "zz.xlsx")
    try:
        assert take_in_unit(catalogue, places, "2023", UNIT, T0).status == "missing"
        refused = {u.result.path.name: u for u in unidentified_files(catalogue, places, "2023", T0)}
        assert {name: [f.code for f in u.result.findings] for name, u in refused.items()} == {
            "03259-cung.xlsx": [HARDLINK.code], "zz.xlsx": [HARDLINK.code]}
        assert all(u.received_at is None for u in refused.values())  # refused unread
        assert refused["zz.xlsx"].result.findings[0].message.startswith(
            f'Tệp "zz.xlsx" là một liên kết cứng (hard link): cùng nội dung còn mang {os.stat("/etc/passwd").st_nlink} tên')
        assert not places.archive.exists() or not [p for p in places.archive.rglob("*") if p.is_file()]
        arrivals, _ = watch(places.inbox, ["2023"], {}, now=10**10)
        assert {a.path.name: a.identity for a in arrivals} == {"03259-cung.xlsx": None, "zz.xlsx": None}
    finally:
        (folder / "zz.xlsx").unlink()  # no name of /etc/passwd left behind


def _swapped_after_the_look(monkeypatch, swap):
    """Run ``swap`` right after the inbox is looked at (listed and stat'ed), before any file is opened."""
    real = inbox_module._look

    def look_then_swap(inbox, folder):
        found = real(inbox, folder)
        swap()
        return found

    monkeypatch.setattr(inbox_module, "_look", look_then_swap)


def test_a_link_swapped_in_after_the_look_is_never_read(catalogue, sample_files, tmp_path, monkeypatch):
    places = Places.under(tmp_path / "data")
    bad = ROOT / "tests" / "corpus" / "bad" / "chua-nhap.xlsx"
    target = _drop(places, bad, name="bao-cao.xlsx")
    outside = shutil.copyfile(_sample(sample_files, "03253"), tmp_path / "ngoai-hop-thu.xlsx")

    def swap():
        target.unlink()
        target.symlink_to(outside)

    _swapped_after_the_look(monkeypatch, swap)
    arrivals, cursor = watch(places.inbox, ["2023"], {}, now=10**10)
    assert arrivals == [] and cursor == {}  # left for the next look
    target.unlink()
    shutil.copyfile(bad, target)
    assert inbox_module.scan_inbox(places.inbox, "2023") == []
    monkeypatch.undo()
    arrivals, _ = watch(places.inbox, ["2023"], cursor, now=10**10)  # the next look: a link, refused unread
    assert [(a.path.name, a.identity) for a in arrivals] == [("bao-cao.xlsx", None)]
    assert take_in_unit(catalogue, places, "2023", "03253", T0).status == "missing"


def test_a_pipe_swapped_in_after_the_look_does_not_block(sample_files, tmp_path, monkeypatch):
    places = Places.under(tmp_path / "data")
    target = _drop(places, _sample(sample_files), name="bao-cao.xlsx")

    def swap():
        if target.is_file():
            target.unlink()
            os.mkfifo(target)

    _swapped_after_the_look(monkeypatch, swap)
    looked = []
    look = threading.Thread(target=lambda: looked.append(watch(places.inbox, ["2023"], {}, now=10**10)), daemon=True)
    look.start()
    look.join(20)
    blocked = look.is_alive()
    if blocked:  # let the look end: a writer that closes at once
        os.close(os.open(target, os.O_WRONLY | os.O_NONBLOCK))
        look.join(20)
    assert not blocked, "the look waited on a pipe"
    assert looked == [([], {})]


def test_names_equal_once_normalised_share_no_feedback(catalogue, tmp_path):
    places = Places.under(tmp_path / "data")
    composed = unicodedata.normalize("NFC", "Báo cáo Phình Sáng.xlsx")
    decomposed = unicodedata.normalize("NFD", composed)
    folder = places.inbox / "2023"
    folder.mkdir(parents=True)
    (folder / composed).write_bytes(b"not a workbook, the first")
    (folder / decomposed).write_bytes(b"%PDF-1.4 the second")
    found = unidentified_files(catalogue, places, "2023", T0)
    assert len(found) == 2 and len({u.feedback for u in found}) == 2
    assert all(u.feedback.exists() for u in found)


def test_a_file_sent_again_with_its_old_time_is_an_arrival(catalogue, sample_files, tmp_path):
    """``cp -p`` of the first version over its first name (same name, size and modification
    time as its first arrival), after a second version: the sensor sees it, and it is current."""
    places = Places.under(tmp_path / "data")
    v1 = shutil.copyfile(_sample(sample_files), tmp_path / "03259.xlsx")
    os.utime(v1, (1_000, 1_000))
    v3 = _edited(v1, tmp_path, "03259-v3.xlsx", 1900)
    os.utime(v3, (2_000, 2_000))
    folder = places.inbox / "2023"
    folder.mkdir(parents=True)
    shutil.copy2(v1, folder / "03259.xlsx")
    take_in_unit(catalogue, places, "2023", UNIT, T0)
    shutil.copy2(v3, folder / "03259-v3.xlsx")
    take_in_unit(catalogue, places, "2023", UNIT, T0 + dt.timedelta(hours=1))
    assert _current(places.warehouse)[0] == _sha(v3)
    _, cursor = watch(places.inbox, ["2023"], {}, now=10**10)
    shutil.copy2(v1, folder / "03259.xlsx")  # cp -p: its old bytes, name and time
    arrivals, _ = watch(places.inbox, ["2023"], cursor, now=10**10)
    assert [(a.path.name, a.file_hash) for a in arrivals] == [("03259.xlsx", _sha(v1))]
    result = take_in_unit(catalogue, places, "2023", UNIT, T0 + dt.timedelta(hours=2))
    assert result.file.name == "03259.xlsx" and _current(places.warehouse)[0] == _sha(v1)
    assert [r.unit for r in catch_up(catalogue, places, "2023", T0 + dt.timedelta(hours=3))] == []  # up to date


# --------------------------------------------------------------------------- failpoints: a kill, then the next run


@pytest.fixture(scope="module")
def loaded(catalogue, sample_files, tmp_path_factory):
    return take_in_everything(catalogue, Places.under(tmp_path_factory.mktemp("data")), T0, sample_files)


def _killed_at(point, *command):
    process = subprocess.run([sys.executable, *command], cwd=ROOT, capture_output=True, text=True, timeout=120,
                             env={**os.environ, "PYTHONPATH": str(ROOT), "TUANGIAO_FAILPOINT": point})
    return process.returncode == -9


INTAKE = ("import datetime as dt, sys; from pipeline.catalogue import default_catalogue; from pipeline.settings "
          "import Places; from pipeline.intake.take_in import take_in_unit\n"
          "take_in_unit(default_catalogue(), Places.under(__import__('pathlib').Path(sys.argv[1])), '2023', '03259', "
          "dt.datetime(2023, 8, 11))")


INTAKE_POINTS = ["archive.copied", "archive.recorded", "intake.feedback", "intake.loaded"]
REBUILD_POINTS = ["rebuild.aside", "rebuild.swapped"]
CLOSING_POINTS = ["close_period.published", "close_period.marked"]
REOPENING_POINTS = ["close_period.reopened"]


@pytest.mark.parametrize("point", INTAKE_POINTS)
def test_an_intake_killed_at_any_step_is_completed_by_the_next_run(catalogue, sample_files, loaded, tmp_path, point):
    data = tmp_path / "data"
    shutil.copytree(loaded.data, data)
    places = Places.under(data)
    new = _edited(_sample(sample_files), tmp_path, "03259-moi.xlsx", 1900)
    _drop(places, new)
    assert _killed_at(point, "-c", INTAKE, str(data))
    assert take_in_unit(catalogue, places, "2023", UNIT, T0 + dt.timedelta(days=2)).status == "valid"
    assert _current(places.warehouse)[0] == _sha(new)
    left = [p for p in data.rglob("*") if p.name.endswith(".tmp") or p.parent.name == ".intake"]
    assert left == []
    assert [a.original_name for a in archived_versions(places.archive, "2023", UNIT)] == \
        [_sample(sample_files).name, new.name]


@pytest.mark.parametrize("point", REBUILD_POINTS)
def test_a_rebuild_killed_at_any_step_leaves_a_whole_warehouse(loaded, tmp_path, point):
    data = tmp_path / "data"
    shutil.copytree(loaded.data, data)
    assert _killed_at(point, "-m", "pipeline", "rebuild", "--data", str(data))
    assert _current(data / "warehouse.duckdb") == _current(loaded.warehouse)
    assert main(["rebuild", "--data", str(data)]) == 0
    assert _current(data / "warehouse.duckdb") == _current(loaded.warehouse) and not (data / ".rebuild").exists()


@pytest.mark.parametrize("point", CLOSING_POINTS)
def test_a_closing_killed_at_any_step_is_either_done_or_done_again(loaded, tmp_path, point):
    data = tmp_path / "data"
    shutil.copytree(loaded.data, data)
    assert _killed_at(point, "-m", "pipeline", "close-period", "2023", *CLOSING, "--data", str(data))
    marker = data / "out" / "2023" / "chinh-thuc" / MARKER
    assert marker.exists() == (point == "close_period.marked")
    main(["close-period", "2023", *CLOSING, "--data", str(data)])
    assert json.loads(marker.read_text(encoding="utf-8"))["versions"][UNIT] == _current(loaded.warehouse)[0]


@pytest.mark.parametrize("point", REOPENING_POINTS)
def test_a_reopening_killed_after_its_one_step_leaves_the_period_open_with_its_kept_record(loaded, tmp_path, point):
    data = tmp_path / "data"
    shutil.copytree(loaded.data, data)
    assert main(["close-period", "2023", *CLOSING, "--data", str(data)]) == 0
    assert _killed_at(point, "-m", "pipeline", "reopen-period", "2023", "--data", str(data))
    assert not (data / "out" / "2023" / "chinh-thuc").exists()  # open: the next intake is loaded
    [kept] = (data / "out" / "2023").glob("chinh-thuc-da-mo-lai-*")
    record = json.loads((kept / MARKER).read_text(encoding="utf-8"))
    assert record["versions"][UNIT] == _current(loaded.warehouse)[0]
    assert main(["close-period", "2023", *CLOSING, "--data", str(data)]) == 0  # and it can be closed again


def test_a_file_already_archived_is_not_copied_again(catalogue, sample_files, tmp_path, monkeypatch):
    """Issue 25.8: a run takes in every unit again; one already received is read from its archived
    content (a link), never copied (a full disk would fail it), with the same result."""
    places = Places.under(tmp_path / "data")
    _drop(places, _sample(sample_files), mtime=1_700_000_000)
    first = take_in_unit(catalogue, places, "2023", UNIT, T0)
    assert first.status == "valid" and first.newly_loaded

    def refused(*args, **kwargs):
        raise AssertionError("copied again")

    monkeypatch.setattr(take_in_module, "receive", refused)
    again = take_in_unit(catalogue, places, "2023", UNIT, T0 + dt.timedelta(hours=1))
    assert again.status == "valid" and not again.newly_loaded and again.file_hash == first.file_hash
    assert len(list((places.archive / "2023" / UNIT).glob("*.arrival.json"))) == 1
