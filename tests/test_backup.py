"""Backups that restore, end to end through the command line: the 2023 sample taken in,
published and closed, an access code issued; ``backup`` → ``restore`` into a fresh folder →
``rebuild``; then the same Biểu bytes, the same statuses, the same official set and the same
sign-in. And the refusals: a non-empty target, a damaged backup."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.publication.publish import publish_period
from pipeline.publication.status import period_status
from pipeline.publication.workbooks import workbook_name
from pipeline.settings import Places
from pipeline.warehouse import connect
from pipeline.web.access import AccessStore, signing_key
from tests.conftest import ROOT, sample_taken_in

pytestmark = pytest.mark.slow  # the office's data folder is made once for the module: about 12 s, then 20 s of tests

NOW = dt.datetime(2023, 8, 10, 17, 0)
CLOCK = {"TUANGIAO_CLOCK": "2023-08-11T08:00:00", "TUANGIAO_PDF": "0"}


def _pipeline(*args: str, check: bool = True, **settings: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUANGIAO_")} | CLOCK | settings
    done = subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    assert not check or done.returncode == 0, done.stdout + done.stderr
    return done


def _bieu(catalogue, out: Path) -> dict[str, bytes]:
    return {code: (out / "2023" / workbook_name(code, "2023")).read_bytes() for code in catalogue.bieu}


def _statuses(catalogue, places: Places) -> list[dict]:
    with connect(places.warehouse) as conn:
        return [dataclasses.asdict(s) for s in period_status(conn, catalogue, places.out, "2023", NOW.date())]


@pytest.fixture(scope="module")
def original(catalogue, tmp_path_factory):
    """A data folder as an office has it: the sample taken in and published, a unit's access code
    issued, the page's session key made, every unit approved (decisions that only the archive
    holds), the period closed (its official set)."""
    data = tmp_path_factory.mktemp("original") / "data"
    places = sample_taken_in(catalogue, tmp_path_factory, data, NOW)
    publish_period(catalogue, places.warehouse, places.out, "2023", today=NOW.date())
    code = re.search(r": (\S+)\n", _pipeline("access", "add", "03259", "--data", str(data)).stdout)[1]
    signing_key(data)  # made by the page when it first starts
    _pipeline("review", "approve", "2023", *(u.code for u in catalogue.units_in("2023")), "--by", "Cán bộ huyện", "--data", str(data))
    publish_period(catalogue, places.warehouse, places.out, "2023", today=NOW.date())  # the approved set
    _pipeline("close-period", "2023", "--data", str(data))
    return places, code


@pytest.fixture(scope="module")
def backed_up(original, tmp_path_factory) -> Path:
    places, _ = original
    done = _pipeline("backup", str(tmp_path_factory.mktemp("backups")), "--data", str(places.data))
    return Path(re.search(r"vào (\S+)\.$", done.stdout.strip())[1])


def test_backup_restore_rebuild_gives_the_same_sets_statuses_and_sign_ins(catalogue, original, backed_up, tmp_path):
    places, code = original
    assert not (backed_up / "du-lieu" / "warehouse.duckdb").exists()  # recomputed, not kept
    restored = Places.under(tmp_path / "restored")
    _pipeline("restore", str(backed_up), "--data", str(restored.data))
    assert not restored.warehouse.exists()
    _pipeline("rebuild", "--data", str(restored.data))

    again = tmp_path / "again"  # the Biểu published from the rebuilt warehouse, beside the restored ones
    publish_period(catalogue, restored.warehouse, again, "2023", today=NOW.date())
    assert _bieu(catalogue, again) == _bieu(catalogue, places.out)
    assert _statuses(catalogue, restored) == _statuses(catalogue, places)
    official = places.out / "2023" / "chinh-thuc"
    assert sorted(p.name for p in official.iterdir()) == sorted(p.name for p in (restored.out / "2023" / "chinh-thuc").iterdir())
    for path in official.iterdir():
        assert (restored.out / "2023" / "chinh-thuc" / path.name).read_bytes() == path.read_bytes()

    assert AccessStore(restored.data).verify("03259", code) is not None
    assert AccessStore(restored.data).verify("03259", "SAI0-SAI0-SAI0") is None
    assert signing_key(restored.data) == signing_key(places.data)  # sessions signed before still hold
    assert (restored.data / "access" / "accounts.json").stat().st_mode & 0o077 == 0  # secrets stay private
    # the closed period stays closed, as before the backup
    refused = _pipeline("close-period", "2023", "--data", str(restored.data), check=False)
    assert refused.returncode == 2 and "đã khóa sổ" in refused.stderr


def test_the_manifest_names_every_file_with_its_hash(backed_up):
    manifest = json.loads((backed_up / "manifest.json").read_text())
    listed = {f["path"] for f in manifest["files"]}
    on_disk = {p.relative_to(backed_up).as_posix() for p in backed_up.rglob("*")
               if p.is_file() and not p.is_symlink() and p.name != "manifest.json"}
    assert listed == on_disk
    assert any(p.startswith("du-lieu/archive/2023/_ke_hoach/") for p in listed)  # the plan
    assert {"du-lieu/access/accounts.json", "du-lieu/access/audit.jsonl", "du-lieu/out/2023/chinh-thuc/khoa-so.json"} <= listed
    assert os.stat(backed_up).st_mode & 0o077 == 0


def test_restore_refuses_a_folder_that_is_not_empty(backed_up, tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "ghi-chu.txt").write_text("đang dùng")
    done = _pipeline("restore", str(backed_up), "--data", str(tmp_path / "data"), check=False)
    assert done.returncode == 2 and "không trống" in done.stderr and "Traceback" not in done.stderr
    assert [p.name for p in (tmp_path / "data").iterdir()] == ["ghi-chu.txt"]


def test_restore_refuses_a_damaged_backup_and_leaves_nothing(backed_up, tmp_path):
    damaged = tmp_path / "hong"
    subprocess.run(["cp", "-a", str(backed_up), str(damaged)], check=True)
    content = next((damaged / "du-lieu" / "archive" / "2023").glob("*/*.xlsx"))
    content.chmod(0o640)
    content.write_bytes(b"Q" + content.read_bytes()[1:])
    done = _pipeline("restore", str(damaged), "--data", str(tmp_path / "data"), check=False)
    assert done.returncode == 2 and "bị hỏng" in done.stderr and content.name in done.stderr
    assert not (tmp_path / "data").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["hong"]


def test_a_backup_goes_on_while_a_run_holds_the_data_folder(original, tmp_path):
    """A run (intake, publication) holds the data folder's shared lock; the backup takes it too, so it
    neither waits for the run nor stops it. (A rebuild or closing, holding it alone, would be waited for.)"""
    places, _ = original
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from pathlib import Path; "
                               "from pipeline.locking import shared_lock\nwith shared_lock(Path(sys.argv[1])):\n"
                               " print('held', flush=True); time.sleep(120)", str(places.data)],
                              cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        done = subprocess.run([sys.executable, "-m", "pipeline", "backup", str(tmp_path), "--data", str(places.data)],
                              cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert holder.poll() is None
    finally:
        holder.kill()
        holder.wait()


def test_a_backup_into_the_data_folder_is_refused(original):
    places, _ = original
    done = _pipeline("backup", str(places.data / "sao-luu"), "--data", str(places.data), check=False)
    assert done.returncode == 2 and "Không sao lưu vào chính thư mục dữ liệu" in done.stderr
    assert not (places.data / "sao-luu").exists()


def test_keep_lets_the_oldest_backups_go(original, tmp_path):
    places, _ = original
    (tmp_path / ".tuangiao-20230801-000000.dang-ghi").mkdir()  # one being written: never touched
    for day in ("12", "13", "14"):
        done = _pipeline("backup", str(tmp_path), "--keep", "2", "--data", str(places.data),
                         TUANGIAO_CLOCK=f"2023-08-{day}T02:30:00")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".tuangiao-20230801-000000.dang-ghi", "tuangiao-20230813-023000", "tuangiao-20230814-023000"]
    assert "Đã xoá bản sao lưu cũ" in done.stdout and "tuangiao-20230812-023000" in done.stdout
