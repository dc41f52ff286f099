"""The audit log rotates by size without losing or splitting a line, with several writer
processes at once; the officers' audit page reads across the log and its rotated files, newest
first; a backup carries the rotated files; the settings reach every writer."""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing

from pipeline.audit import Rotation, append_audit, audit_path, rotated_path
from pipeline.settings import Places, Settings
from pipeline.web.access import Audit, AuditQuery

T0 = dt.datetime(2023, 8, 10, 9, 0)
SMALL = Rotation(max_bytes=1000, keep=3)


def _lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_the_log_rotates_past_its_size_and_keeps_so_many_files(tmp_path):
    for n in range(200):
        append_audit(tmp_path, "download", T0, SMALL, account="Cán bộ huyện", n=n)
    files = [rotated_path(tmp_path, k) for k in range(SMALL.keep + 1)]
    assert all(f.is_file() for f in files) and not rotated_path(tmp_path, SMALL.keep + 1).exists()
    assert all(f.stat().st_size <= SMALL.max_bytes for f in files)
    kept = [entry["n"] for f in reversed(files) for entry in _lines(f)]  # oldest file first
    assert kept == list(range(200 - len(kept), 200))  # the newest lines, whole, in order, none twice
    assert kept[-1] == 199 and len(kept) > 20


# Every line kept: a rotated file holds at least 2000 - 132 bytes (the longest line) of the 171 560
# written, so there are at most 92 of them. (Each rotation tries a rename per kept number.)
MANY = Rotation(max_bytes=2000, keep=100)


def _writer(data, who: int, count: int) -> None:
    for n in range(count):
        append_audit(data, "sign_in", T0, MANY, who=who, n=n, pad="x" * (n % 50))


def test_several_writers_at_once_lose_and_split_no_line(tmp_path):
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_writer, args=(tmp_path, who, 400)) for who in range(4)]
    for w in writers:
        w.start()
    for w in writers:
        w.join()
        assert w.exitcode == 0
    entries = Audit(tmp_path).lines(10_000)  # a split line would not parse and would be missing
    assert sorted((e["who"], e["n"]) for e in entries) == [(who, n) for who in range(4) for n in range(400)]
    assert rotated_path(tmp_path, 20).is_file()  # it did rotate, many times
    for who in range(4):  # each writer's lines newest first across the files
        assert [e["n"] for e in entries if e["who"] == who] == list(range(399, -1, -1))


def test_the_audit_page_reads_across_the_rotated_files_newest_first(tmp_path):
    audit = Audit(tmp_path, SMALL)
    for n in range(60):
        audit.record("upload" if n % 2 else "download", T0 + dt.timedelta(minutes=n), account="03259", n=n)
    assert rotated_path(tmp_path, 2).is_file()
    shown = [e["n"] for e in audit.lines(1000)]
    oldest_kept = min(shown)
    assert shown == list(range(59, oldest_kept - 1, -1)) and oldest_kept < 40  # older than the current file
    first, more = audit.entries(AuditQuery(event="upload"), skip=0, last=10)
    second, _ = audit.entries(AuditQuery(event="upload"), skip=10, last=10)
    assert more and [e["n"] for e in first + second] == list(range(59, 59 - 40, -2))  # pages cross the files


def test_a_backup_carries_the_rotated_files(tmp_path):
    from pipeline.operations.backup import backup  # here: the writers above import this module (spawn)

    data = tmp_path / "data"
    (data / "archive").mkdir(parents=True)
    for n in range(60):
        append_audit(data, "download", T0, SMALL, n=n)
    made = backup(Places.under(data), tmp_path / "backups", T0)
    copied = made.folder / "du-lieu" / "access"
    for k in range(SMALL.keep + 1):
        assert (copied / rotated_path(data, k).name).read_bytes() == rotated_path(data, k).read_bytes()
    paths = {f["path"] for f in json.loads((made.folder / "manifest.json").read_text())["files"]}
    assert {f"du-lieu/access/{rotated_path(data, k).name}" for k in range(SMALL.keep + 1)} <= paths


def test_the_settings_reach_the_writers_below_the_page():
    settings = Settings.from_environment({"TUANGIAO_AUDIT_MAX_BYTES": "5000", "TUANGIAO_AUDIT_KEEP": "2"})
    assert settings.places.audit == settings.audit_rotation == Rotation(5000, 2)
    assert Settings.from_environment({}).places.audit == Rotation(10 * 1024 * 1024, 5)


def test_a_rotation_killed_halfway_hides_no_line(tmp_path):
    for n in range(60):
        append_audit(tmp_path, "download", T0, SMALL, n=n)
    before = [e["n"] for e in Audit(tmp_path).lines(1000)]
    rotated_path(tmp_path, 3).rename(rotated_path(tmp_path, 4))  # a rotation killed after its first two renames:
    rotated_path(tmp_path, 2).rename(rotated_path(tmp_path, 3))  # no .2 now
    assert [e["n"] for e in Audit(tmp_path).lines(1000)] == before
    append_audit(tmp_path, "download", T0, SMALL, n=60)
    assert [e["n"] for e in Audit(tmp_path).lines(1000)][:10] == [60, *before][:10]


def test_a_missing_log_reads_as_empty_and_a_single_long_line_is_written_whole(tmp_path):
    assert Audit(tmp_path).lines() == []
    append_audit(tmp_path, "note", T0, Rotation(max_bytes=10, keep=1), text="dài " * 50)
    append_audit(tmp_path, "note", T0, Rotation(max_bytes=10, keep=1), text="ngắn")
    assert [e["text"] for e in Audit(tmp_path).lines()] == ["ngắn", "dài " * 50]
    assert _lines(audit_path(tmp_path))[0]["text"] == "ngắn"
