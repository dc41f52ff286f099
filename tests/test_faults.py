"""The machine's faults and dead runs: a dead process's run frees its pool slot, a run waiting
for the pool or the warehouse says so and gives up after a bound, and a full disk, a
read-only folder or a missing permission is one Vietnamese line naming the place, with the
old set whole and nothing half-written. The disk faults are real: a small tmpfs and a
read-only mount (root only; skipped elsewhere); the permission is denied for real too."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import pytest

from assets.definitions import defs
from assets.resources import PipelineSettings
from assets.runs import GAVE_UP, GRPC_INFO_TAG, POOL, PROCESS_TAG, process_identity, recover_dead_runs
from pipeline.errors import MachineError
from pipeline.publication.publish import publish_period
from pipeline.settings import Places
from pipeline.warehouse import connect
from tests.conftest import CLOSING, ROOT, take_in_everything

T0 = dt.datetime(2023, 8, 10, 8, 0)


@contextmanager
def mounted(path: Path, options: str):
    """A tmpfs mounted at ``path`` for the block (root with CAP_SYS_ADMIN only)."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


@pytest.fixture(scope="module")
def loaded(catalogue, sample_files, tmp_path_factory) -> Places:
    data = tmp_path_factory.mktemp("loaded")
    return take_in_everything(catalogue, Places.under(data), T0, [p for p in sample_files if p.name.startswith(("03253", "03259"))])


def _instance(home: Path, monkeypatch) -> dg.DagsterInstance:
    """An instance with the shipped dagster.yaml (which reads its base_dir from DAGSTER_HOME)."""
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return dg.DagsterInstance.from_config(str(home))


def _run_holding_the_slot(instance: dg.DagsterInstance, identity: str) -> str:
    """A started run of the process ``identity`` that claimed the DuckDB pool's slot (or waits for it)."""
    run = instance.add_run(dg.DagsterRun(job_name="j", run_id=str(uuid.uuid4()), status=dg.DagsterRunStatus.STARTED,
                                         tags={PROCESS_TAG: identity}))
    instance.event_log_storage.set_concurrency_slots(POOL, 1)
    instance.event_log_storage.claim_concurrency_slot(POOL, run.run_id, "unit_submission")
    return run.run_id


def test_a_dead_process_s_run_is_failed_and_its_slot_freed(tmp_path, monkeypatch):
    instance = _instance(tmp_path / "home", monkeypatch)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    dead = process_identity(child.pid)
    child.wait()
    run_id = _run_holding_the_slot(instance, dead)
    assert instance.event_log_storage.get_concurrency_info(POOL).active_run_ids == {run_id}
    live = _run_holding_the_slot(instance, process_identity())  # this process: alive, waits for the slot
    assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.STARTED
    assert recover_dead_runs(instance) == [run_id]
    assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.FAILURE
    assert instance.get_run_by_id(live).status == dg.DagsterRunStatus.STARTED
    info = instance.event_log_storage.get_concurrency_info(POOL)
    assert run_id not in info.active_run_ids | info.pending_run_ids


def _daemon_run(instance: dg.DagsterInstance, server: str, status=dg.DagsterRunStatus.STARTED, worker=None,
                at: float | None = None) -> str:
    """A run the daemon launched into the code server ``server`` (a socket), holding the pool's slot,
    whose worker ``worker`` recorded its pid as Dagster's worker does (at the time ``at``)."""
    import json
    import time

    run = instance.add_run(dg.DagsterRun(job_name="j", run_id=str(uuid.uuid4()), status=status,
                                         tags={GRPC_INFO_TAG: json.dumps({"host": "localhost", "socket": server})}))
    if worker is not None:
        from dagster._core.events import DagsterEvent, DagsterEventType, EngineEventData
        from dagster._core.events.log import EventLogEntry

        event = DagsterEvent(DagsterEventType.ENGINE_EVENT.value, job_name="j", message="Started process for run",
                             event_specific_data=EngineEventData.in_process(worker))
        instance.store_event(EventLogEntry(error_info=None, level="DEBUG", user_message="", run_id=run.run_id,
                                           timestamp=time.time() if at is None else at, dagster_event=event))
    instance.event_log_storage.set_concurrency_slots(POOL, 1)
    instance.event_log_storage.claim_concurrency_slot(POOL, run.run_id, "unit_submission")
    return run.run_id


def test_a_daemon_run_whose_worker_is_gone_is_failed_and_its_slot_freed(tmp_path, monkeypatch):
    """Runs launched by `make dev`'s daemon: a dead worker (its pid from Dagster's engine event),
    a pid now used by a later process, a run still starting whose code server is gone; a live
    worker and a run starting on a live server are left alone."""
    import socket

    instance = _instance(tmp_path / "home", monkeypatch)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    dead_server, live_server = str(tmp_path / "dead.sock"), str(tmp_path / "live.sock")
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(live_server)
        server.listen()
        socket.socket(socket.AF_UNIX).bind(dead_server)  # bound, then closed: nobody listens (a killed server)
        dead = _daemon_run(instance, live_server, worker=child.pid)
        reused = _daemon_run(instance, live_server, worker=os.getpid(), at=1_000_000_000.0)  # before this process began
        starting = _daemon_run(instance, dead_server, status=dg.DagsterRunStatus.STARTING)
        live = _daemon_run(instance, live_server, worker=os.getpid())
        launching = _daemon_run(instance, live_server, status=dg.DagsterRunStatus.STARTING)
        assert sorted(recover_dead_runs(instance)) == sorted([dead, reused, starting])
    for run_id in (dead, reused, starting):
        assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.FAILURE
    for run_id in (live, launching):
        assert instance.get_run_by_id(run_id).status != dg.DagsterRunStatus.FAILURE
    info = instance.event_log_storage.get_concurrency_info(POOL)
    assert not (info.active_run_ids | info.pending_run_ids) & {dead, reused, starting}


def test_the_daemon_fails_dead_runs_and_frees_ended_runs_slots(tmp_path, monkeypatch):
    """The shipped dagster.yaml: run monitoring on, a bound on a run's time, slots of ended runs freed."""
    instance = _instance(tmp_path / "home", monkeypatch)
    assert instance.run_monitoring_enabled and instance.run_monitoring_max_runtime_seconds > 0
    assert instance.run_monitoring_settings["free_slots_after_run_end_seconds"] > 0


@pytest.mark.slow
def test_a_run_waiting_for_the_pool_says_so_and_gives_up(tmp_path, sample_files, monkeypatch):
    """A live process holds the slot; `python -m assets run` waits, tells, then stops by itself."""
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    try:
        _run_holding_the_slot(_instance(tmp_path / "home", monkeypatch), process_identity(holder.pid))
        (tmp_path / "inbox" / "2023").mkdir(parents=True)
        shutil.copy(sample_files[0], tmp_path / "inbox" / "2023")
        env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "home"), "TUANGIAO_DATA_DIR": str(tmp_path / "data"),
               "TUANGIAO_WAIT_SECONDS": "3", "PYTHONPATH": str(ROOT)}
        done = subprocess.run([sys.executable, "-m", "assets", "run", "--inbox", str(tmp_path / "inbox"), "--period",
                               "2023"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    finally:
        holder.kill()
    assert done.returncode == GAVE_UP, done.stderr[-2000:]
    assert "Đang chờ lượt dùng kho dữ liệu: j " in done.stdout and f"{holder.pid}" in done.stdout
    assert "Đã chờ 3 giây mà kho dữ liệu vẫn bị" in done.stderr and "Traceback" not in done.stderr


@contextmanager
def held(path: Path):
    """The warehouse ``path`` held by another process for the block."""
    holder = subprocess.Popen([sys.executable, "-c", f"import duckdb, time; c = duckdb.connect({str(path)!r}); "
                               "print('held', flush=True); time.sleep(300)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        yield holder
    finally:
        holder.kill()
        holder.wait()


def test_a_held_warehouse_is_waited_for_then_named(tmp_path, capsys):
    path = tmp_path / "warehouse.duckdb"
    with held(path) as holder, pytest.raises(MachineError) as raised:
        with connect(path, wait_seconds=3):
            pass
    assert f'Kho dữ liệu "{path}" vẫn bị tiến trình {holder.pid} giữ sau 3 giây chờ' in str(raised.value)
    assert f'Đang chờ kho dữ liệu "{path}": tiến trình {holder.pid} đang dùng' in capsys.readouterr().err
    with connect(path) as conn:  # free again: no stale state
        assert conn.execute("SELECT 1").fetchone() == (1,)


@pytest.mark.parametrize("assets", [["district_plan"], ["district_consolidation"], ["unit_submission"]])
def test_the_wait_set_on_the_resource_is_the_warehouse_s(assets, tmp_path, sample_files, monkeypatch):
    """An asset connecting itself, through consolidate, through intake: each waits as long as the
    resource says, whatever the environment says."""
    (tmp_path / "inbox" / "2023").mkdir(parents=True)
    shutil.copy(next(p for p in sample_files if p.name.startswith("03259")), tmp_path / "inbox" / "2023")
    monkeypatch.setenv("TUANGIAO_WAIT_SECONDS", "2")
    settings = PipelineSettings(data_dir=str(tmp_path), wait_seconds=1, pdf=False)
    with held(tmp_path / "warehouse.duckdb"):
        result = dg.materialize([defs.get_assets_def(key) for key in assets], resources={"settings": settings},
                                partition_key="2023|03259" if assets == ["unit_submission"] else None,
                                instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    [failure] = [e.step_failure_data for e in result.all_events if e.is_step_failure]
    assert "giữ sau 1 giây chờ" in failure.user_failure_data.description


def _set(out: Path) -> dict[str, bytes]:
    folder = out / "2023"
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file() and p.suffix in (".xlsx", ".zip")}


def test_a_full_disk_mid_publication_keeps_the_old_set_whole(catalogue, loaded, tmp_path):
    with mounted(tmp_path / "out", "size=700k") as out:  # room for one set and a half
        publish_period(catalogue, loaded.warehouse, out, "2023")
        old = _set(out)
        with pytest.raises(MachineError) as raised:
            publish_period(catalogue, loaded.warehouse, out, "2023")
        message = str(raised.value)
        assert message.startswith("Ổ đĩa đầy: không ghi được") and str(out / "2023" / ".bo-bieu") in message
        assert _set(out) == old and len(old) == 18  # 15 Biểu, the all-in-one, the sources annex, the zip
        assert [p for p in out.rglob("*.tmp")] == []
        subprocess.run(["mount", "-o", "remount,size=2m", str(out)], check=True)  # room made
        publish_period(catalogue, loaded.warehouse, out, "2023")
        assert _set(out) == old
        assert len([p for p in (out / "2023" / ".bo-bieu").iterdir() if p.is_dir() and not p.is_symlink()]) == 2  # half-built one gone


@pytest.mark.slow
def test_a_read_only_folder_is_one_line_everywhere(catalogue, loaded, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(loaded.warehouse, data / "warehouse.duckdb")
    line = f'Thư mục "{data / "out" / "2023"}" nằm trên ổ chỉ cho đọc'
    with mounted(data / "out", "ro,size=64k"):
        with pytest.raises(MachineError, match=line):
            publish_period(catalogue, data / "warehouse.duckdb", data / "out", "2023")
        # what the Dagster UI shows for the failed step: the line, as a Failure's description
        result = defs.resolve_job_def("consolidation_job").execute_in_process(
            resources={"settings": PipelineSettings(data_dir=str(data), pdf=False)}, instance=dg.DagsterInstance.ephemeral(),
            raise_on_error=False)
        [failure] = [e.step_failure_data for e in result.all_events if e.is_step_failure]
        assert failure.error.cls_name == "Failure" and failure.user_failure_data.description.startswith(line)
        env = _run_env(tmp_path, data, tmp_path / "home")  # four units: a partition run each, not the district's 23
        close = subprocess.run([sys.executable, "-m", "pipeline", "close-period", "2023", *CLOSING], cwd=ROOT, env=env,
                               capture_output=True, text=True, timeout=300)
        assert close.returncode == 2 and close.stderr.count("\n") == 1 and "chỉ cho đọc" in close.stderr
        template = subprocess.run([sys.executable, "-m", "pipeline", "template", "--out", str(data / "out" / "mau")],
                                  cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert template.returncode == 2 and template.stderr.count("\n") == 1
        assert template.stderr.startswith(f'Thư mục "{data / "out"}" nằm trên ổ chỉ cho đọc: không ghi được')
        run = subprocess.run([sys.executable, "-m", "assets", "run", "--period", "2023"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=300)
    assert run.returncode == 1
    assert f"Lỗi khi tổng hợp: {line}" in run.stderr
    assert "Traceback" not in run.stderr and "Dagster" not in run.stderr


PUBLISH = ("import sys; from pathlib import Path; from pipeline.catalogue import default_catalogue; "
           "from pipeline.errors import MachineError; from pipeline.publication.publish import publish_period\n"
           "try:\n    publish_period(default_catalogue(), Path(sys.argv[1]), Path(sys.argv[2]), '2023')\n"
           "except MachineError as e:\n    print(e)")


def test_permission_denied_names_the_folder(loaded, tmp_path):
    """Root writes through any permission, so as root the publication runs without the
    capability that allows it (setpriv drops CAP_DAC_OVERRIDE), as an ordinary account would."""
    out = tmp_path / "out"
    out.mkdir(mode=0o500)
    prefix = []
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("as root, a permission can only be denied by dropping a capability (setpriv, util-linux)")
        prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]
    done = subprocess.run([*prefix, sys.executable, "-c", PUBLISH, str(loaded.warehouse), str(out)], cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert done.stdout.startswith(f'Không có quyền ghi "{out / "2023"}'), done.stdout
    assert list(out.iterdir()) == []


# --------------------------------------------------------------------------- issue 25.8: every step, one line

FULL_UNITS = ["03253", "03259", "03260", "03262"]


def _run_env(tmp_path: Path, data: Path, home: Path) -> dict:
    lines = (ROOT / "pipeline" / "catalogue" / "units.csv").read_text(encoding="utf-8").splitlines()
    (tmp_path / "units.csv").write_text("\n".join([lines[0]] + [l for l in lines if l.split(",")[0] in FULL_UNITS]),
                                        encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUANGIAO_")}
    env.update(DAGSTER_HOME=str(home), TUANGIAO_DATA_DIR=str(data), TUANGIAO_PDF="0", TUANGIAO_INBOX=str(tmp_path / "inbox"),
               TUANGIAO_UNITS=str(tmp_path / "units.csv"), TUANGIAO_CLOCK="2023-08-10T17:00:00", PYTHONPATH=str(ROOT))
    return env


def _inbox(tmp_path: Path, sample_files) -> None:
    (tmp_path / "inbox" / "2023").mkdir(parents=True)
    for code in FULL_UNITS:
        shutil.copy(next(p for p in sample_files if p.name.startswith(code)), tmp_path / "inbox" / "2023")


def _assets_run(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "assets", "run", "--period", "2023"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_a_full_disk_in_intake_is_one_line_per_unit_and_no_file_is_copied_twice(sample_files, tmp_path):
    """The data folder on a 3 MB disk: the first unit fits (its warehouse fills the disk), every other
    unit's line names the place (the archive, DuckDB's WAL) in Vietnamese; the next run copies no
    file already archived."""
    _inbox(tmp_path, sample_files)
    with mounted(tmp_path / "data", "size=3m") as data:
        env = _run_env(tmp_path, data, tmp_path / "home")
        first = _assets_run(env)
        assert first.returncode == 1
        assert first.stdout.startswith("Kỳ 2023 · 03253 – Thị trấn Tuần Giáo: Hợp lệ"), first.stdout
        failed = [line for line in first.stderr.splitlines() if line.startswith("Lỗi khi")]
        assert len(failed) == len(first.stderr.splitlines()) >= 4, first.stderr
        assert all(f': Ổ đĩa đầy: không ghi được "{data}' in line for line in failed), first.stderr  # the place
        assert "Dagster" not in first.stderr and "Traceback" not in first.stderr
        contents = sorted(p.name for p in (data / "archive").rglob("*.xlsx"))
        again = _assets_run(env)
        assert "Traceback" not in again.stderr and "Dagster" not in again.stderr
        assert all(": Ổ đĩa đầy: không ghi được " in line for line in again.stderr.splitlines()), again.stderr
        assert sorted(p.name for p in (data / "archive").rglob("*.xlsx")) == contents
        assert [p for p in (data / ".intake").iterdir()] == []


def test_a_full_dagster_home_is_one_line_naming_it(sample_files, tmp_path):
    _inbox(tmp_path, sample_files)
    with mounted(tmp_path / "home", "size=400k") as home:
        shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
        done = _assets_run(_run_env(tmp_path, tmp_path / "data", home))
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stderr.splitlines()[-1].startswith(f'Dagster không ghi được lịch sử chạy vào thư mục "{home}" '
                                                   "(DAGSTER_HOME: "), done.stderr[-2000:]
    assert "Traceback" not in done.stderr


def _stopped(pid: int) -> bool:
    return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split()[0] == "T"


def _fill(folder: Path) -> Path:
    """Write into ``folder`` until its disk is full; the filler's path."""
    filler = folder / "filler"
    with filler.open("wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    return filler


@pytest.mark.slow
def test_dagster_s_storage_filling_mid_step_is_one_line_and_the_run_is_failed_after(sample_files, tmp_path, monkeypatch):
    """Issue 25.8 leftover: DAGSTER_HOME's disk fills while a unit's step runs (the run paused at a
    failpoint inside the step, the disk filled, the run resumed). The terminal says it in one
    Vietnamese line naming DAGSTER_HOME, without the lines Dagster writes itself for each log event
    it could not store; once room is made, the next run marks the broken run failed, saying why
    it may have stopped (what the UI shows for it), and takes in every unit."""
    _inbox(tmp_path, sample_files)
    with mounted(tmp_path / "home", "size=30m") as home:
        shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
        env = _run_env(tmp_path, tmp_path / "data", home)
        paused = subprocess.Popen([sys.executable, "-m", "assets", "run", "--period", "2023"], cwd=ROOT,
                                  env={**env, "TUANGIAO_FAILPOINT": "intake.loaded@3:stop"},
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while not _stopped(paused.pid):
            assert paused.poll() is None and time.monotonic() < deadline, paused.communicate()
            time.sleep(0.1)
        filler = _fill(home)
        os.kill(paused.pid, signal.SIGCONT)
        out, err = paused.communicate(timeout=120)
        assert paused.returncode == 2, err[-3000:]
        assert err.splitlines() == [f'Dagster không ghi được lịch sử chạy vào thư mục "{home}" (DAGSTER_HOME: lỗi ghi ổ '
                                    "đĩa, thường do ổ đầy). Hãy giải phóng dung lượng trên ổ chứa thư mục đó hoặc cấp "
                                    "quyền ghi cho tài khoản chạy quy trình (hoặc đặt DAGSTER_HOME sang ổ khác) rồi chạy "
                                    "lại."], err[-3000:]
        assert len(out.splitlines()) == 2  # the two units before the third's step
        filler.unlink()
        again = _assets_run(env)
        assert again.returncode == 0, again.stderr[-3000:]
        assert again.stdout.startswith("Đã đánh dấu thất bại 1 lượt chạy trước bị dừng đột ngột")
        monkeypatch.setenv("DAGSTER_HOME", str(home))  # the shipped dagster.yaml reads its storage's place from it
        instance = dg.DagsterInstance.from_config(str(home))
        [broken] = instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE]))
        assert broken.tags["dagster/partition"] == "2023|03260"
        [failure] = [e for e in instance.all_logs(broken.run_id) if e.dagster_event_type == dg.DagsterEventType.RUN_FAILURE]
        assert "ổ chứa DAGSTER_HOME đầy" in failure.message
        instance.dispose()


def test_dagster_s_own_lines_about_its_full_storage_are_held_back(tmp_path, monkeypatch, capfd):
    """What Dagster writes to stderr itself when its storage refuses a log event ("Exception while
    writing logger call to event log: … disk I/O error" and the SQL) is held back while
    ``assets run`` runs (``storage_noise_hidden``); other lines pass. The storage is on a real
    disk, filled by the step itself before it logs."""
    from assets.failures import storage_noise_hidden

    with mounted(tmp_path / "home", "size=8m") as home:
        @dg.asset
        def talkative(context):
            _fill(home)
            context.log.info("Đang ghi…")

        def run() -> str:
            instance = _instance(home, monkeypatch)
            try:
                dg.materialize([talkative], instance=instance, raise_on_error=False)
            except Exception as e:  # the run's own events cannot be stored either
                assert "disk I/O error" in str(e) or "full" in str(e)
            finally:
                instance.dispose()
                (home / "filler").unlink()
            print("một dòng khác", file=sys.stderr)
            return capfd.readouterr().err

        with storage_noise_hidden():
            held = run()
        plain = run()
    assert "Exception while writing logger call to event log" in plain  # Dagster's own, with the SQL
    assert "Exception while writing" not in held and "một dòng khác" in held


def test_a_read_only_dagster_home_is_named_as_dagster_s(sample_files, tmp_path):
    """DAGSTER_HOME on a disk mounted read-only (its storage made before): the line names Dagster's
    folder and says to move DAGSTER_HOME, not the data folder."""
    _inbox(tmp_path, sample_files)
    with mounted(tmp_path / "home", "size=30m") as home:
        shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
        env = _run_env(tmp_path, tmp_path / "data", home)
        subprocess.run([sys.executable, "-c", "from assets.__main__ import prepare_dagster_home as p; p()"], cwd=ROOT,
                       env=env, check=True)
        subprocess.run(["mount", "-o", "remount,ro", str(home)], check=True)
        done = _assets_run(env)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f'Dagster không ghi được lịch sử chạy vào thư mục "{home}" (DAGSTER_HOME: ổ chỉ cho đọc). Hãy gắn lại ổ chứa '
        "thư mục đó ở chế độ ghi được (hoặc đặt DAGSTER_HOME sang ổ khác) rồi chạy lại."], done.stderr
