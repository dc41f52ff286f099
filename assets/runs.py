"""Dead runs and runs waiting for the pool, on a shared instance. A run of the terminal runner
(``python -m assets run``) is tagged with the process that runs it; a run the daemon launched
(``make dev``: the default run launcher has the code server start a worker process) is known
by the worker's pid, which Dagster records as the engine event "Started process for run (pid:
N)" before the run starts. A run whose process is gone (``kill -9``, a power cut) is marked
failed and its DuckDB pool slot freed before it can block the next run: by ``assets run``
before and while it runs, by ``make dev`` when it starts and by the sensor ``dead_run_sensor``
every ``sensor_seconds``. (Dagster's run monitoring cannot do it for these runs: the default
run launcher does not support ``check_run_worker_health``, so the daemon fails a dead run
only once it passes ``max_runtime_seconds``.) A run waiting for the slot says so and gives up
after ``TUANGIAO_WAIT_SECONDS`` instead of waiting silently forever.

Two terminal runners on one instance run one after the other (``terminal_turn``), not step by
step in the pool: there, a step waiting for its slot keeps a core busy (Dagster 1.13's executor
polls its claim in a loop that never sleeps: ``interval_to_next_pending_claim_check`` returns at
most 0, dagster-io/dagster#20367) and looks at the database only after a backoff from 1 s up to
15 s, so each of the many hand-overs between two runners' partition runs cost a second or more."""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import dagster as dg

from assets.failures import dagster_storage_fault
from pipeline.locking import wait_for_flock

FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]
UNFINISHED = [s for s in dg.DagsterRunStatus if s not in FINISHED]
PROCESS_TAG = "tuangiao/tien_trinh"  # "host:pid:start" of the process running the run
HOST_TAG = "tuangiao/may"  # the machine of the code server whose worker runs a daemon-launched run
GRPC_INFO_TAG = ".dagster/grpc_info"  # the code server a run was launched into (dagster._core.storage.tags)
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}
POOL = "duckdb"
POLL_SECONDS = 1.0
GAVE_UP = 3  # exit status of a run that waited too long for the pool
TURN_FILE = ".assets-run.lock"  # in DAGSTER_HOME: the terminal runners' turn (``terminal_turn``)
TURN_POLL_SECONDS = 0.05  # how late a waiting runner may start after the other ends


def process_started(pid: int) -> str:
    """The process's start time in clock ticks since boot (Linux), so a reused pid is not taken
    for the dead process; "" where /proc is not there."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rpartition(")")[2].split()[19]


def process_identity(pid: int | None = None) -> str:
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}:{pid}:{process_started(pid)}"


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"  # a zombie is gone
    except OSError:
        return not Path("/proc/self").exists()


def process_gone(identity: str) -> bool:
    """Whether the process named by ``identity`` (on this machine) no longer runs."""
    host, _, rest = identity.partition(":")
    pid, _, started = rest.partition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False  # another machine's run: not ours to judge
    if not alive(int(pid)):
        return True
    return bool(started) and process_started(int(pid)) != started


def _start_timestamp(pid: int) -> float | None:
    """When the process started (seconds since the epoch, Linux /proc), or None."""
    try:
        ticks = int(process_started(pid))
        boot = next(line for line in Path("/proc/stat").read_text().splitlines() if line.startswith("btime "))
    except (ValueError, StopIteration, OSError):
        return None
    return int(boot.split()[1]) + ticks / os.sysconf("SC_CLK_TCK")


def _on_this_machine(instance: dg.DagsterInstance, run: dg.DagsterRun) -> bool:
    """Whether the worker of a daemon-launched run runs here: its code server is on this machine
    (a loopback address or a socket) and the run says this machine, or, untagged (a run started
    from the UI), the instance is this machine's own SQLite files."""
    try:
        server = json.loads(run.tags.get(GRPC_INFO_TAG) or "null")
    except ValueError:
        return False
    if not isinstance(server, dict) or not (server.get("socket") or server.get("host") in LOCAL_HOSTS | {socket.gethostname()}):
        return False
    if HOST_TAG in run.tags:
        return run.tags[HOST_TAG] == socket.gethostname()
    return type(instance.run_storage).__name__.startswith("Sqlite")


def _server_gone(server: dict) -> bool:
    """Whether the code server a run was launched into no longer answers (a socket nobody listens
    on, or a port refusing connections)."""
    family, address = ((socket.AF_UNIX, server["socket"]) if server.get("socket")
                       else (socket.AF_INET, (server.get("host"), int(server.get("port") or 0))))
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.settimeout(2)
        try:
            probe.connect(address)
        except (ConnectionRefusedError, FileNotFoundError):
            return True
        except OSError:
            return False
    return False


def _worker_gone(instance: dg.DagsterInstance, run: dg.DagsterRun) -> str | None:
    """For a run the daemon launched into a code server on this machine: "host:pid" of its worker
    if that process is gone (a pid now used by a process started after the worker counts as
    gone), or the code server if no worker was recorded yet and that server is gone; else None
    (alive, being started, or not ours to judge). The worker records its pid (the engine events
    "Started process for run" and "Executing steps in process") before the run is STARTED."""
    if GRPC_INFO_TAG not in run.tags or not _on_this_machine(instance, run):
        return None
    records = instance.event_log_storage.get_records_for_run(
        run.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT, ascending=False).records
    for record in records:
        entry = record.event_log_entry
        metadata = entry.dagster_event.engine_event_data.metadata if entry.dagster_event else {}
        pid = str(getattr(metadata.get("pid"), "value", ""))
        if not pid.isdigit():
            continue
        started = _start_timestamp(int(pid)) if alive(int(pid)) else None
        if started is not None and started <= entry.timestamp + 2:
            return None  # the worker itself, still running
        return f"{socket.gethostname()}:{pid}"
    server = json.loads(run.tags[GRPC_INFO_TAG])
    if run.status == dg.DagsterRunStatus.STARTING and _server_gone(server):
        return f"{socket.gethostname()}:{server.get('socket') or server.get('port')}"
    return None


def _dead_process(instance: dg.DagsterInstance, run: dg.DagsterRun) -> str | None:
    """The process of an unfinished run if it is gone (a terminal run's or a daemon run's worker)."""
    identity = run.tags.get(PROCESS_TAG)
    if identity:
        return identity if process_gone(identity) else None
    return _worker_gone(instance, run)


def recover_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark failed every unfinished run whose process is gone (a terminal run's process or a
    daemon-launched run's worker, on this machine), and free the pool slots held by it or by any
    finished run; returns the ids of the runs marked failed. Queued runs have no process yet
    and are left to the queue."""
    recovered = []
    for run in instance.get_runs(dg.RunsFilter(statuses=[s for s in UNFINISHED if s != dg.DagsterRunStatus.QUEUED])):
        identity = _dead_process(instance, run)
        if identity:
            instance.report_run_failed(run, message=f"Tiến trình chạy lượt này ({identity}) đã dừng giữa chừng: bị tắt "
                                                    "đột ngột, mất điện, hoặc không ghi được lịch sử chạy (ổ chứa "
                                                    "DAGSTER_HOME đầy hay không có quyền ghi). Đã đánh dấu thất bại và "
                                                    "trả lại lượt dùng kho dữ liệu.")
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
            recovered.append(run.run_id)
    holding = instance.event_log_storage.get_concurrency_run_ids()
    if holding:
        for run in instance.get_runs(dg.RunsFilter(run_ids=list(holding), statuses=FINISHED)):
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
    return recovered


def _holders(instance: dg.DagsterInstance, info) -> str:
    runs = [instance.get_run_by_id(run_id) for run_id in sorted(info.active_run_ids)]
    return ", ".join(f"{run.job_name} {run.run_id[:8]}" + (f" ({run.tags[PROCESS_TAG]})" if PROCESS_TAG in run.tags else "")
                     for run in runs if run is not None) or "một lượt chạy khác"


@contextmanager
def watched(instance: dg.DagsterInstance, run_id: str, wait_seconds: float):
    """While the block runs ``run_id`` in this process: keep freeing the slots of dead runs, tell
    once when the run waits for the pool, and give up after ``wait_seconds`` of waiting (the
    run is marked failed, its claims freed, and the process exits: nothing is being written
    while a step waits for its slot)."""
    stop = threading.Event()

    def watch() -> None:
        waiting_since = None
        while not stop.wait(POLL_SECONDS):
            try:
                recover_dead_runs(instance)
                info = instance.event_log_storage.get_concurrency_info(POOL)
            except Exception as e:
                if dagster_storage_fault(e) is None:
                    raise
                return  # Dagster's storage refuses: the run meets it too, and the terminal tells it in one line
            if run_id not in info.pending_run_ids:
                waiting_since = None
                continue
            if waiting_since is None:
                waiting_since = time.monotonic()
                print(f"Đang chờ lượt dùng kho dữ liệu: {_holders(instance, info)} đang dùng "
                      f"(chờ tối đa {wait_seconds:g} giây)…", flush=True)
            elif time.monotonic() - waiting_since >= wait_seconds:
                message = (f"Đã chờ {wait_seconds:g} giây mà kho dữ liệu vẫn bị {_holders(instance, info)} giữ: "
                           "dừng lượt chạy này. Hãy đợi lượt kia xong (hoặc tắt nó) rồi chạy lại.")
                run = instance.get_run_by_id(run_id)
                if run is not None:
                    instance.report_run_failed(run, message=message)
                instance.event_log_storage.free_concurrency_slots_for_run(run_id)
                print(message, file=sys.stderr, flush=True)
                sys.stdout.flush()
                os._exit(GAVE_UP)

    thread = threading.Thread(target=watch, name="pool-watch", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


@contextmanager
def terminal_turn(home: Path, wait_seconds: float):
    """One terminal runner (``python -m assets run``) of the instance in ``home`` (DAGSTER_HOME) at
    a time, from its first run to its last: an exclusive ``flock`` on ``TURN_FILE`` there, released
    by the kernel however the runner ends. Another runner's turn is waited for, saying so once, up
    to ``wait_seconds``; then this one stops (exit ``GAVE_UP``) having run nothing."""

    def give_up() -> None:
        print(f"Đã chờ {wait_seconds:g} giây mà một lượt python -m assets run khác vẫn đang chạy: dừng "
              "lượt chạy này, chưa làm gì. Hãy đợi lượt kia xong (hoặc tắt nó) rồi chạy lại.",
              file=sys.stderr, flush=True)
        raise SystemExit(GAVE_UP) from None

    def waiting() -> None:
        print(f"Đang chờ một lượt python -m assets run khác chạy xong (chờ tối đa {wait_seconds:g} giây)…", flush=True)

    with open(home / TURN_FILE, "a") as turn:
        wait_for_flock(turn, wait_seconds, waiting, give_up, notice_seconds=0, poll_seconds=TURN_POLL_SECONDS)
        yield


def run_in_process(job: dg.JobDefinition, instance: dg.DagsterInstance, wait_seconds: float, **kwargs):
    """``job.execute_in_process``, tagged with this process and ``watched``."""
    run_id = str(uuid.uuid4())
    with watched(instance, run_id, wait_seconds):
        return job.execute_in_process(instance=instance, run_id=run_id, tags={PROCESS_TAG: process_identity()},
                                      raise_on_error=False, **kwargs)
