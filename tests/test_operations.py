"""Running it for real: the inbox sensor, the nightly schedule and job, and two runs at once.
(`make dev` with the Dagster UI: tests/test_live.py, on one server for its tests.)"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import dagster as dg
import duckdb
import pytest

from assets.definitions import defs
from assets.jobs import nightly_job
from assets.resources import PipelineSettings
from assets.schedules import nightly_schedule
from assets.sensors import inbox_run_requests
from tests.conftest import CLOSING, ROOT

OLD = 1_700_000_000  # an mtime long ago: the file is stable


def _settings(data):
    return PipelineSettings(data_dir=str(data), fixed_clock="2023-08-10T17:00:00", pdf=False)  # test_pdf_set renders


def _units(request: dg.RunRequest) -> list[str]:
    """The units an arrivals run takes in (one run per period for the files of a look)."""
    assert request.job_name == "arrivals_job"
    return [f"2023|{u}" for u in request.run_config["ops"]["inbox_catch_up"]["config"]["units"]]


def _drop(inbox, source, name=None, mtime=OLD):
    target = inbox / (name or source.name)
    shutil.copy(source, target)
    os.utime(target, (mtime, mtime))
    return target


def test_sensor_requests_exactly_the_affected_units(sample_files, tmp_path):
    inbox = tmp_path / "inbox" / "2023"
    inbox.mkdir(parents=True)
    town, phinh_sang = sample_files[0], sample_files[1]
    _drop(inbox, town)
    _drop(inbox, phinh_sang)
    settings = _settings(tmp_path)
    requests, cursor = inbox_run_requests(settings, None, time.time())
    [request] = requests  # one run for the period's arrivals
    assert sorted(_units(request)) == ["2023|03253", "2023|03259"]
    again, cursor = inbox_run_requests(settings, cursor, time.time())
    assert again == []  # unchanged inbox: nothing, and no file opened
    _drop(inbox, town, "ban-sao-thi-tran.xlsx")  # the same file copied in twice
    assert inbox_run_requests(settings, cursor, time.time())[0] == []


def test_sensor_waits_for_a_file_still_being_copied(sample_files, tmp_path):
    inbox = tmp_path / "inbox" / "2023"
    inbox.mkdir(parents=True)
    settings = _settings(tmp_path)
    growing = _drop(inbox, sample_files[2], mtime=time.time())
    requests, cursor = inbox_run_requests(settings, None, time.time())
    assert requests == [] and "hash" not in json.loads(cursor)[f"2023/{growing.name}"]
    requests, cursor = inbox_run_requests(settings, cursor, time.time())  # unchanged since: stable now
    assert [u for r in requests for u in _units(r)] == ["2023|03260"]


def test_sensor_reads_a_large_arrival_over_several_looks(sample_files, tmp_path):
    from pipeline.intake.inbox import watch

    inbox = tmp_path / "inbox"
    (inbox / "2023").mkdir(parents=True)
    for path in sample_files:
        _drop(inbox / "2023", path)
    arrivals, cursor = watch(inbox, ["2023"], {}, time.time(), budget_seconds=0)  # time for one file only
    assert len(arrivals) == 1 and len(cursor) == 1
    seen = {a.path.name for a in arrivals}
    for _ in range(len(sample_files) - 1):
        arrivals, cursor = watch(inbox, ["2023"], cursor, time.time(), budget_seconds=0)
        assert len(arrivals) == 1 and arrivals[0].path.name not in seen
        seen.add(arrivals[0].path.name)
    assert seen == {p.name for p in sample_files} and len(cursor) == len(sample_files)
    assert watch(inbox, ["2023"], cursor, time.time(), budget_seconds=0)[0] == []


def test_sensor_routes_unidentified_files_and_the_plan(sample_files, tmp_path):
    inbox = tmp_path / "inbox" / "2023"
    inbox.mkdir(parents=True)
    (inbox / "bao-cao.xlsx").write_bytes(b"%PDF-1.4")
    os.utime(inbox / "bao-cao.xlsx", (OLD, OLD))
    _drop(inbox, next(p for p in sample_files if p.name.startswith("ke-hoach")))
    requests, _ = inbox_run_requests(_settings(tmp_path), None, time.time())
    assert sorted(r.job_name for r in requests) == ["consolidation_job", "inbox_job"]


def test_sensor_through_dagster(sample_files, tmp_path):
    inbox = tmp_path / "inbox" / "2023"
    inbox.mkdir(parents=True)
    _drop(inbox, sample_files[0])
    context = dg.build_sensor_context(resources={"settings": _settings(tmp_path)}, definitions=defs)
    sensor = defs.resolve_sensor_def("inbox_sensor")
    result = sensor(context)
    assert [u for r in result.run_requests for u in _units(r)] == ["2023|03253"]
    assert json.loads(result.cursor)[f"2023/{sample_files[0].name}"]["hash"]
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING


def test_a_suite_started_with_sigint_ignored_leaves_no_command_ignoring_sigterm():
    """tests/conftest.py's interrupts_not_ignored, then an in-process run: SIGTERM still ends a
    process (without it, Dagster leaves SIGTERM ignored here, and in every command started after)."""
    from tests.conftest import interrupts_not_ignored

    @dg.op
    def nothing() -> None:
        pass

    @dg.job
    def a_run() -> None:
        nothing()

    before = signal.signal(signal.SIGINT, signal.SIG_IGN), signal.getsignal(signal.SIGTERM)
    try:
        interrupts_not_ignored()
        assert a_run.execute_in_process(instance=dg.DagsterInstance.ephemeral()).success
        assert signal.getsignal(signal.SIGTERM) is not signal.SIG_IGN
        started = subprocess.run([sys.executable, "-c", "import signal; print(signal.getsignal(signal.SIGTERM) == "
                                  "signal.SIG_DFL)"], capture_output=True, text=True, timeout=60)
        assert started.stdout == "True\n"  # a command started now ends on SIGTERM
    finally:
        signal.signal(signal.SIGINT, before[0])
        signal.signal(signal.SIGTERM, before[1])


def test_nightly_schedule_runs_in_vietnam_time():
    assert nightly_schedule.execution_timezone == "Asia/Ho_Chi_Minh"
    assert nightly_schedule.cron_schedule == "0 1 * * *"
    assert nightly_schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    context = dg.build_schedule_context(
        scheduled_execution_time=dt.datetime(2023, 8, 11, 1, 0, tzinfo=dt.timezone(dt.timedelta(hours=7))))
    [request] = nightly_schedule.evaluate_tick(context).run_requests
    assert nightly_schedule.job_name == "nightly_job" and request.tags["dagster/schedule_name"] == "nightly_schedule"


def test_nightly_job_takes_in_and_publishes(sample_files, tmp_path):
    inbox = tmp_path / "inbox" / "2023"
    inbox.mkdir(parents=True)
    for path in sample_files:
        _drop(inbox, path)
    result = nightly_job.resolve(asset_graph=defs.resolve_asset_graph()).execute_in_process(
        resources={"settings": _settings(tmp_path)}, instance=dg.DagsterInstance.ephemeral())
    assert result.success
    out = tmp_path / "out" / "2023"
    assert len(list(out.glob("Bieu_*_2023.xlsx"))) == 16
    status = json.loads((tmp_path / "out" / "status.json").read_text(encoding="utf-8"))
    assert {u["state"] for u in status["periods"][0]["units"]} == {"hop_le"}
    events = {e.asset_key.to_user_string(): e.materialization.metadata for e in result.get_asset_materialization_events()}
    assert events["inbox_catch_up"]["Số đơn vị tiếp nhận"].value == 23
    table = events["submission_status"]["Kỳ 2023 · Các đơn vị"].value
    assert len(table.records) == 23 and table.records[0].data["Đúng hạn"] == "Đúng hạn"


def _units_file(path, codes) -> str:
    """A units.csv of the catalogue's ``codes`` only: a run takes in a partition per unit of it."""
    lines = (ROOT / "pipeline" / "catalogue" / "units.csv").read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join([lines[0]] + [l for l in lines if l.split(",")[0] in codes]), encoding="utf-8")
    return str(path)


@pytest.mark.slow
def test_two_runs_at_once_never_fail_on_the_database_lock(sample_files, tmp_path):
    """Two real processes on the same data folder and a new instance, each taking in every unit:
    one runs after the other (assets.runs.terminal_turn), so neither waits step by step in the pool."""
    inbox = tmp_path / "inbox" / "2023"
    inbox.mkdir(parents=True)
    for path in sample_files[:2]:  # two units: each process takes in both, one after the other, on one database
        _drop(inbox, path)
    home = tmp_path / "dagster_home"
    env = {**os.environ, "DAGSTER_HOME": str(home), "TUANGIAO_DATA_DIR": str(tmp_path / "data"),
           "TUANGIAO_UNITS": _units_file(tmp_path / "units.csv", [p.name[:5] for p in sample_files[:2]]),
           "TUANGIAO_PDF": "0"}  # the database's lock is the point, not LibreOffice (about 30 s of rendering)
    command = [sys.executable, "-m", "assets", "run", "--inbox", str(tmp_path / "inbox"), "--period", "2023"]
    first = subprocess.Popen(command + ["--clock", "2023-08-10T17:00:00"], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    second = subprocess.Popen(command + ["--clock", "2023-08-10T17:00:00"], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    outputs = [p.communicate(timeout=600) for p in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], [o[1][-2000:] for o in outputs]
    assert all("lock" not in (out + err).lower() for out, err in outputs)
    assert all("Đang chờ lượt dùng kho dữ liệu" not in out for out, _ in outputs)  # never a step waiting in the pool
    assert all(out.count(": Hợp lệ (0 lỗi") == 2 for out, _ in outputs)
    with duckdb.connect(str(tmp_path / "data" / "warehouse.duckdb"), read_only=True) as conn:
        assert conn.execute("SELECT COUNT(*) FROM submissions WHERE is_current").fetchone()[0] == 2
        assert conn.execute("SELECT COUNT(*) FROM submissions").fetchone()[0] == 2  # each file loaded once


def test_a_second_runner_waits_for_the_first_says_so_and_gives_up(tmp_path, capsys):
    """The turn of `python -m assets run` on an instance: held by another process (here another
    open file, as flock sees it), it is waited for, told once, then given up in Vietnamese."""
    import fcntl

    from assets.runs import GAVE_UP, TURN_FILE, terminal_turn

    with open(tmp_path / TURN_FILE, "a") as other:
        fcntl.flock(other, fcntl.LOCK_EX)
        with pytest.raises(SystemExit) as gave_up, terminal_turn(tmp_path, wait_seconds=0.3):
            pytest.fail("ran in another runner's turn")
        assert gave_up.value.code == GAVE_UP
    told = capsys.readouterr()
    assert told.out == "Đang chờ một lượt python -m assets run khác chạy xong (chờ tối đa 0.3 giây)…\n"
    assert told.err == ("Đã chờ 0.3 giây mà một lượt python -m assets run khác vẫn đang chạy: dừng lượt chạy này, "
                        "chưa làm gì. Hãy đợi lượt kia xong (hoặc tắt nó) rồi chạy lại.\n")
    with terminal_turn(tmp_path, wait_seconds=0):  # the other's turn ended: at once, without a word
        pass
    assert capsys.readouterr().out == ""


# --------------------------------------------------------------------------- issue 25.6: one lock for the whole run

LOCK_UNITS = ["03253", "03259", "03260", "03262"]


def _stopped(process: subprocess.Popen, timeout: float = 240) -> bool:
    """Whether ``process`` stopped itself (SIGSTOP at a failpoint armed with ``:stop``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        state = open(f"/proc/{process.pid}/stat").read().rpartition(")")[2].split()[0]
        if state == "T":
            return True
        time.sleep(0.2)
    return False


@pytest.mark.slow
def test_close_and_rebuild_wait_for_a_whole_run_then_refuse_and_the_final_set_is_whole(sample_files, tmp_path):
    """A real `assets run` paused after its first unit of four (failpoint ``runner.after_batch@1:stop``):
    close-period and rebuild wait, say so, then refuse in Vietnamese, touching nothing; once the run
    has finished, the period closes with all four units."""
    units = _units_file(tmp_path / "units.csv", LOCK_UNITS)
    inbox = tmp_path / "inbox" / "2023"
    inbox.mkdir(parents=True)
    for code in LOCK_UNITS:
        _drop(inbox, next(p for p in sample_files if p.name.startswith(code)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUANGIAO_")}
    env.update(DAGSTER_HOME=str(tmp_path / "home"), TUANGIAO_DATA_DIR=str(tmp_path / "data"), TUANGIAO_PDF="0",
               TUANGIAO_INBOX=str(tmp_path / "inbox"), TUANGIAO_UNITS=units,
               TUANGIAO_CLOCK="2023-08-10T17:00:00", TUANGIAO_WAIT_SECONDS="2", PYTHONPATH=str(ROOT))
    run = subprocess.Popen([sys.executable, "-m", "assets", "run", "--period", "2023"], cwd=ROOT,
                           env={**env, "TUANGIAO_FAILPOINT": "runner.after_batch@1:stop"},
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert _stopped(run), run.communicate()
        for command in (["close-period", "2023", *CLOSING], ["rebuild"]):
            refused = subprocess.run([sys.executable, "-m", "pipeline", *command], cwd=ROOT, env=env,
                                     capture_output=True, text=True, timeout=120)
            assert refused.returncode == 2, refused.stderr
            assert "Đang chờ thư mục dữ liệu" in refused.stderr and "chờ tối đa 2 giây" in refused.stderr
            assert f"đang được dùng (một lượt tiếp nhận, công bố hoặc một lệnh khác đang chạy) sau 2 giây chờ: " \
                   f"chưa làm gì; hãy chờ lượt đó chạy xong rồi chạy lại lệnh {command[0]}" in refused.stderr
            assert "Traceback" not in refused.stderr
        assert not (tmp_path / "data" / "out" / "2023" / "chinh-thuc").exists()
    finally:
        run.send_signal(18)  # SIGCONT
        out, err = run.communicate(timeout=300)
    assert run.returncode == 0, err[-3000:]
    assert out.count(": Hợp lệ (0 lỗi") == 4
    closed = subprocess.run([sys.executable, "-m", "pipeline", "close-period", "2023", *CLOSING], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert closed.returncode == 0, closed.stderr
    final = tmp_path / "data" / "out" / "2023" / "chinh-thuc"
    assert sorted(json.loads((final / "khoa-so.json").read_text(encoding="utf-8"))["versions"]) == LOCK_UNITS
    with duckdb.connect(str(tmp_path / "data" / "warehouse.duckdb"), read_only=True) as conn:
        assert conn.execute("SELECT COUNT(DISTINCT unit) FROM submissions WHERE is_current").fetchone() == (4,)


def test_a_close_with_files_not_taken_in_yet_is_refused_naming_their_units(catalogue, sample_files, tmp_path, capsys):
    """What a sensor's queued runs will take in: closing before them would freeze a partial set."""
    from pipeline.cli import main
    from pipeline.settings import Places
    from tests.conftest import take_in_everything

    places = take_in_everything(catalogue, Places.under(tmp_path / "data"), dt.datetime(2023, 8, 10, 8),
                                [p for p in sample_files if p.name.startswith(("03253", "03259"))])
    _drop(places.inbox / "2023", next(p for p in sample_files if p.name.startswith("03260")))
    assert main(["close-period", "2023", *CLOSING, "--data", str(places.data)]) == 2
    assert capsys.readouterr().err == ("Chưa khóa sổ kỳ 2023: hộp thư đến còn báo cáo chưa tiếp nhận của 1 đơn vị "
                                       "(Xã Rạng Đông). Hãy chờ lượt tiếp nhận đang chạy xong (hoặc chạy python -m "
                                       "assets run) rồi khóa sổ lại.\n")
    assert not (places.out / "2023" / "chinh-thuc").exists()
    take_in_everything(catalogue, places, dt.datetime(2023, 8, 10, 9))
    assert main(["close-period", "2023", *CLOSING, "--data", str(places.data)]) == 0
