"""Runs of the terminal runner (``python -m assets run``) on a shared instance. Each run is
tagged with the process that runs it, so a run whose process is gone (``kill -9``, a power
cut) is marked failed and its DuckDB pool slot freed before it can block the next run; and
a run waiting for the slot says so and gives up after ``TUANGIAO_WAIT_SECONDS`` instead of
waiting silently forever. (Runs launched by the daemon are watched by Dagster's own run
monitoring, configured in dagster.yaml.)"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import dagster as dg

FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]
UNFINISHED = [s for s in dg.DagsterRunStatus if s not in FINISHED]
PROCESS_TAG = "tuangiao/tien_trinh"  # "host:pid:start" of the process running the run
POOL = "duckdb"
POLL_SECONDS = 1.0
GAVE_UP = 3  # exit status of a run that waited too long for the pool


def _started(pid: int) -> str:
    """The process's start time in clock ticks since boot (Linux), so a reused pid is not taken
    for the dead process; "" where /proc is not there."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rpartition(")")[2].split()[19]


def process_identity(pid: int | None = None) -> str:
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}:{pid}:{_started(pid)}"


def _gone(identity: str) -> bool:
    """Whether the process named by ``identity`` (on this machine) no longer runs."""
    host, _, rest = identity.partition(":")
    pid, _, started = rest.partition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False  # another machine's run: not ours to judge
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass
    return bool(started) and _started(int(pid)) != started


def recover_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark failed every unfinished run of a terminal process that is gone, and free the pool
    slots held by it or by any finished run; returns the ids of the runs marked failed."""
    recovered = []
    for run in instance.get_runs(dg.RunsFilter(statuses=UNFINISHED)):
        identity = run.tags.get(PROCESS_TAG)
        if identity and _gone(identity):
            instance.report_run_failed(run, message=f"Tiến trình chạy lượt này ({identity}) đã mất (bị tắt đột ngột "
                                                    "hoặc mất điện): đánh dấu thất bại và trả lại lượt dùng kho dữ liệu.")
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
            recover_dead_runs(instance)
            info = instance.event_log_storage.get_concurrency_info(POOL)
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


def run_in_process(job: dg.JobDefinition, instance: dg.DagsterInstance, wait_seconds: float, **kwargs):
    """``job.execute_in_process``, tagged with this process and ``watched``."""
    run_id = str(uuid.uuid4())
    with watched(instance, run_id, wait_seconds):
        return job.execute_in_process(instance=instance, run_id=run_id, tags={PROCESS_TAG: process_identity()},
                                      raise_on_error=False, **kwargs)
