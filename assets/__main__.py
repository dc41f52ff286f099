"""``python -m assets run``: the main job on one inbox, through Dagster, from the terminal;
``python -m assets dev``: the Dagster UI and daemon with the download page (``make dev``);
``python -m assets doctor``: the doctor's screen with the daemon's heartbeat (``assets.health``).

Each unit of the period (or each batch of units, with --batch) is taken in as its own
partition run, so every result is recorded per partition as in the UI; then everything
is consolidated and the Biểu are published. Runs are recorded in the instance under
DAGSTER_HOME (the project's .dagster_home by default).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

from pipeline.catalogue.batches import LEVELS, UNIT
from pipeline.failpoints import failpoint
from pipeline.settings import PROJECT_ROOT, Settings
from pipeline.text import show_number


def prepare_dagster_home():
    """DAGSTER_HOME inside the project, created on first run with the shipped dagster.yaml, and
    its instance (made once: opening its storage costs about 0,7 s of CPU).

    The instance's storage is created under a file lock, so two commands started at once on
    a new DAGSTER_HOME do not both try to create its tables."""
    import fcntl

    import dagster as dg

    home = Path(os.environ.setdefault("DAGSTER_HOME", str(PROJECT_ROOT / ".dagster_home")))
    home.mkdir(parents=True, exist_ok=True)
    with (home / ".instance.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (home / "dagster.yaml").exists():
            shutil.copy(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
        instance = dg.DagsterInstance.get()
        instance.get_runs_count()  # creates the run, event log and schedule storage once
        instance.all_instigator_state()
        instance.get_latest_materialization_event(dg.AssetKey("unit_submission"))
    return home, instance


STOP_SECONDS = 5  # how long `dev` gives its processes to stop before killing what is left


def _descendants(pid: int) -> list[int]:
    """Every process started from ``pid``, at any depth (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _stop(processes: list) -> None:
    """Stop the processes and everything they started: SIGTERM to all, then SIGKILL to what is
    left after ``STOP_SECONDS`` (the Dagster code server otherwise outlives its parent a minute)."""
    import signal

    from assets.runs import alive

    family = [pid for p in processes for pid in (p.pid, *_descendants(p.pid))]
    for pid in family:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + STOP_SECONDS
    while time.monotonic() < deadline and any(p.poll() is None for p in processes):
        time.sleep(0.1)
    for pid in family:
        try:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, OSError):
            pass
    for process in processes:
        process.wait()


# The guard: started beside the servers in a session of its own, it waits for the end of a pipe
# whose only writer is the launcher. The launcher's end closes however the launcher ends (Ctrl-C,
# kill, kill -9): then the guard sends SIGTERM to the servers' process groups, and SIGKILL to what
# is left after STOP_SECONDS. No Dagster process starts a session or a group of its own, so the
# groups hold every process of `make dev`: the webserver, the daemon, the code servers, the run
# workers and the page.
GUARD = """
import os, signal, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
groups, seconds = [int(g) for g in sys.argv[2:]], float(sys.argv[1])
sys.stdin.buffer.read()
def left():  # the groups with a live member (a zombie is dead; without /proc, any member)
    found = set()
    for stat in os.listdir("/proc") if os.path.isdir("/proc") else []:
        try:
            state, _, group = open(f"/proc/{stat}/stat").read().rpartition(")")[2].split()[:3]
        except (OSError, ValueError):
            continue
        if int(group) in groups and state != "Z":
            found.add(int(group))
    if not os.path.isdir("/proc"):
        for group in groups:
            try:
                os.killpg(group, 0)
                found.add(group)
            except OSError:
                pass
    return sorted(found)
for group in left():
    os.killpg(group, signal.SIGTERM)
deadline = time.monotonic() + seconds
while left() and time.monotonic() < deadline:
    time.sleep(0.1)
for group in left():
    os.killpg(group, signal.SIGKILL)
"""
DEV_PROCESSES = "dev-processes.json"  # in DAGSTER_HOME: the launcher and the process groups of `make dev`


def _kill_leftovers(home: Path) -> int:
    """Kill what a previous ``make dev`` of this DAGSTER_HOME left running after its launcher and
    guard died (both killed at once): each recorded process group still there whose launcher is
    gone. A group whose leader is alive as another process (a reused pid) is not touched; while a
    group has members its id is not given to a new process, so a group still answering is the one
    recorded. Returns how many groups were killed."""
    import json
    import signal

    from assets.runs import alive, process_gone, process_started

    record = home / DEV_PROCESSES
    try:
        recorded = json.loads(record.read_text())
    except (OSError, ValueError):
        return 0
    if not process_gone(recorded.get("launcher", "")):
        return 0  # that `make dev` still runs: not a leftover
    killed = []
    for group, started in recorded.get("groups", {}).items():
        if (alive(int(group)) and process_started(int(group)) != started) or not _group_alive(int(group)):
            continue
        try:
            os.killpg(int(group), signal.SIGKILL)
            killed.append(int(group))
        except OSError:
            pass
    deadline = time.monotonic() + STOP_SECONDS
    while time.monotonic() < deadline and any(_group_alive(group) for group in killed):
        time.sleep(0.1)
    record.unlink(missing_ok=True)
    return len(killed)


def _group_alive(group: int) -> bool:
    """Whether the process group has a live member (a zombie is dead) (Linux /proc)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, _, pgrp = stat.read_text().rpartition(")")[2].split()[:3]
        except (OSError, ValueError):
            continue
        if int(pgrp) == group and state != "Z":
            return True
    return False


def dev(host: str, port: int, page_port: int) -> int:
    """The Dagster UI and daemon, and the download page beside it; one Ctrl-C stops both.

    ``dagster dev`` runs in DAGSTER_HOME (so it does not warn that the project's own dagster.yaml,
    the one copied there, is "not used") and without the notice that ``dg dev`` supersedes it;
    each process is in its own session, so Ctrl-C reaches only this one, which stops them all,
    and the guard (``GUARD``) stops them when this process dies any other way. On start, what a
    previous ``make dev`` left running is killed, and its runs whose process is gone (a power cut)
    are marked failed and their pool slots freed, before the daemon starts."""
    import json
    import signal
    import subprocess

    from assets.runs import process_identity, process_started, recover_dead_runs

    home, instance = prepare_dagster_home()
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # a plain kill stops both, like Ctrl-C
    if _kill_leftovers(home):
        print("Đã dừng các tiến trình còn sót lại của lần chạy make dev trước.", flush=True)
    with instance:
        recovered = recover_dead_runs(instance)
    if recovered:
        print(f"Đã đánh dấu thất bại {len(recovered)} lượt chạy trước bị dừng đột ngột (tắt máy, mất điện) "
              "và trả lại lượt dùng kho dữ liệu.", flush=True)
    dagster = Path(sys.executable).with_name("dagster")
    env = {**os.environ, "PYTHONWARNINGS": ",".join(filter(None, [
        os.environ.get("PYTHONWARNINGS"), "ignore:Function `dev_command` is superseded"]))}
    processes = [
        subprocess.Popen([str(dagster), "dev", "-w", str(PROJECT_ROOT / "workspace.yaml"), "-h", host, "-p", str(port)],
                         cwd=home, env=env, start_new_session=True, stdin=subprocess.DEVNULL),
        subprocess.Popen([sys.executable, "-m", "pipeline", "serve", "--host", host, "--port", str(page_port)],
                         cwd=PROJECT_ROOT, start_new_session=True, stdin=subprocess.DEVNULL),
    ]
    reader, writer = os.pipe()  # not inheritable: the launcher is its only writer
    guard = subprocess.Popen([sys.executable, "-I", "-S", "-c", GUARD, str(STOP_SECONDS), *(str(p.pid) for p in processes)],
                             stdin=reader, start_new_session=True)
    os.close(reader)
    (home / DEV_PROCESSES).write_text(json.dumps({
        "launcher": process_identity(), "groups": {str(p.pid): process_started(p.pid) for p in processes + [guard]}}))
    print(f"Giao diện Dagster: http://{host}:{port}/   Trang tải về: http://{host}:{page_port}/   (Ctrl-C để dừng)",
          flush=True)
    try:
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        _stop(processes)
        os.close(writer)  # the guard sweeps the groups (empty by now) and ends
        guard.wait()
        (home / DEV_PROCESSES).unlink(missing_ok=True)
        print("Đã dừng giao diện Dagster và trang tải về.", flush=True)
    return 0


def step_error(result) -> str:
    """The message of the first failed step of an in-process run: the Vietnamese line of a
    problem told to people (``assets.failures``), else the error's own message."""
    failures = [e.step_failure_data for e in result.all_events if e.is_step_failure]
    if not failures:
        return "không rõ lỗi"
    told = failures[0].user_failure_data
    return told.description if told and told.description else failures[0].error.message.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m assets", description="Chạy quy trình tổng hợp qua Dagster")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="tiếp nhận báo cáo của mọi đơn vị trong kỳ, rồi tổng hợp toàn huyện")
    run.add_argument("--inbox", help="thư mục hộp thư đến (chứa thư mục con theo kỳ), mặc định data/inbox")
    run.add_argument("--period", default=None, help="kỳ báo cáo, mặc định: mọi kỳ đang mở")
    run.add_argument("--clock", default=None, help="thời điểm nhận cố định (ISO), để kết quả lặp lại được")
    run.add_argument("--units", help="danh sách đơn vị của tỉnh hay cả nước (cột như units.csv), mặc định của huyện")
    run.add_argument("--batch", choices=LEVELS, help="gom đơn vị khi tiếp nhận: unit (mặc định), district, province")
    run.add_argument("--workers", type=int, help="số tiến trình đọc tệp (mặc định 1)")
    serve = commands.add_parser("dev", help="mở giao diện Dagster (kèm daemon) và trang tải về")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=3000)
    serve.add_argument("--page-port", type=int, default=8080)
    health = commands.add_parser("doctor", help="xem tình trạng máy chủ (như python -m pipeline doctor) và nhịp "
                                                "tiến trình nền Dagster")
    health.add_argument("--data", help="thư mục dữ liệu, mặc định TUANGIAO_DATA_DIR hoặc data")
    args = parser.parse_args(argv)
    if args.command == "doctor":
        from assets.health import doctor

        prepare_dagster_home()
        return doctor(Settings.from_environment(data_dir=args.data and str(Path(args.data).resolve())))
    if args.command == "dev":
        return dev(args.host, args.port, args.page_port)
    return run_command(args)


def run_command(args) -> int:
    """``run``; a machine fault met anywhere (Dagster's own storage included) is one Vietnamese
    line naming the place, never a traceback."""
    from assets.failures import dagster_storage_fault, storage_noise_hidden
    from pipeline.errors import UserError, machine_error, machine_fault

    try:
        with storage_noise_hidden():
            return _run_command(args)
    except UserError as e:
        print(str(e), file=sys.stderr)
        return 2
    except Exception as e:
        line = dagster_storage_fault(e)
        fault = machine_fault(e) if line is None else None
        if line is None and fault is None:
            raise
        print(line or machine_error(fault), file=sys.stderr)
        return 2


def _run_command(args) -> int:
    settings = Settings.from_environment(
        inbox_dir=args.inbox and str(Path(args.inbox).resolve()), fixed_clock=args.clock,
        units_file=args.units and str(Path(args.units).resolve()), batch_level=args.batch, workers=args.workers)
    home, instance = prepare_dagster_home()

    from assets.location import build_defs
    from assets.runs import recover_dead_runs, terminal_turn
    from pipeline.intake.take_in import rebuild_if_outdated
    from pipeline.locking import shared_lock
    from pipeline.periods import open_periods

    defs = build_defs(settings)  # every run is in this process: the definitions are these settings'
    with terminal_turn(home, settings.wait_seconds):  # another `assets run` on this instance runs first
        recovered = recover_dead_runs(instance)
        if recovered:
            print(f"Đã đánh dấu thất bại {len(recovered)} lượt chạy trước bị dừng đột ngột và trả lại lượt dùng kho dữ liệu.")
        rebuild_if_outdated(settings.catalogue, settings.places)  # a release changed the warehouse: before the lock
        # The whole run holds the data folder's lock (shared), from its first unit to its publication:
        # rebuild and close-period wait for it, so a period is never closed halfway through a run.
        with shared_lock(settings.places.data):
            periods = [args.period] if args.period else open_periods(settings.catalogue, settings.places.out)
            if not args.period:
                _say_closed_with_files(settings, periods)
                if not periods:
                    print("Không có kỳ báo cáo nào đang mở: không có gì để tiếp nhận.")
                    return 0
            return _run(settings, defs, instance, periods)


def _say_closed_with_files(settings: Settings, open_keys: list[str]) -> None:
    """Name the closed periods whose inbox folder holds files: they wait, never skipped silently."""
    waiting = [key for key in settings.catalogue.periods if key not in open_keys
               and any(path.is_file() for path in (settings.places.inbox / key).glob("*"))]
    if waiting:
        print(f"Bỏ qua kỳ đã khóa sổ: {', '.join(waiting)} (hộp thư đến còn tệp nhưng kỳ không nhận thêm báo cáo; "
              "muốn sửa số liệu, cán bộ huyện chạy lệnh reopen-period).")


def _run(settings: Settings, defs, instance, periods: list[str]) -> int:
    from assets.partitions import submission_key
    from assets.runs import run_in_process
    from pipeline.catalogue.batches import batch_keys, batch_name, batch_units

    catalogue, level = settings.catalogue, settings.batch_level
    # The terminal gets one line per run; a unit's findings are in the UI and its feedback file.
    quiet = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
    submission_job = defs.resolve_job_def("submission_job")
    failed = 0
    for period in periods:
        batches = [b for b in batch_keys(catalogue, level) if batch_units(catalogue, period, level, b)]
        for number, batch in enumerate(batches, start=1):
            started = time.perf_counter()
            result = run_in_process(submission_job, instance, settings.wait_seconds,
                                    partition_key=submission_key(period, batch, level), run_config=quiet)
            failpoint("runner.after_batch")
            materializations = result.get_asset_materialization_events()
            name = batch_name(catalogue, level, batch)
            if not materializations:  # the step itself broke (an invalid unit still materializes)
                failed += 1
                print(f"Lỗi khi tiếp nhận {name} kỳ {period}: {step_error(result)}", file=sys.stderr)
                continue
            metadata = materializations[0].materialization.metadata
            progress = f"[{number}/{len(batches)}] " if len(batches) > 1 and level != UNIT else ""
            print(f"{progress}Kỳ {period} · {metadata['Đơn vị'].value}: {metadata['Trạng thái'].value} "
                  f"({metadata['Số lỗi'].value} lỗi, {metadata['Số cảnh báo'].value} cảnh báo"
                  + (f"; {show_number(time.perf_counter() - started, places=1)} s" if progress else "") + ")", flush=True)
            if metadata.get("Không hợp lệ") and metadata["Không hợp lệ"].value != "Không":
                print(f"    Không hợp lệ: {metadata['Không hợp lệ'].value}")
    inbox = run_in_process(defs.resolve_job_def("inbox_job"), instance, settings.wait_seconds, run_config=quiet)
    failpoint("runner.after_inbox")
    unidentified = inbox.get_asset_materialization_events()[0].materialization.metadata if inbox.success else None
    if unidentified is None:
        failed += 1
        print(f"Lỗi khi kiểm tra hộp thư đến: {step_error(inbox)}", file=sys.stderr)
    elif unidentified["Số tệp"].value:
        print(f"Tệp không xác định được đơn vị: {unidentified['Số tệp'].value}")
        for key, value in unidentified.items():
            if key != "Số tệp":
                for record in value.records:
                    print(f"    {record.data['Tệp']}: {record.data['Lý do']}")
    result = run_in_process(defs.resolve_job_def("consolidation_job"), instance, settings.wait_seconds,
                            run_config=quiet)
    if not result.success:
        print(f"Lỗi khi tổng hợp: {step_error(result)}", file=sys.stderr)
        return 1
    events = {e.asset_key.to_user_string(): e.materialization.metadata for e in result.get_asset_materialization_events()}
    for period in periods:
        for line in summary(events, period, settings.places.out / period, settings.pdf):
            print(line)
    return 1 if failed else 0


def _shown_path(path: Path) -> str:
    """A path as the person who ran the command reads it: from the current folder if inside it."""
    return os.path.relpath(path) if path.resolve().is_relative_to(Path.cwd().resolve()) else str(path)


def summary(events: dict, period: str, folder: Path, pdf_wanted: bool = True) -> list[str]:
    """The closing lines of ``assets run`` for a period, from the consolidation run's
    materializations: how many units are valid, have errors (named) or are missing, where the set,
    its PDF and the report's draft are. Files by their path, not by a page that may not be running."""
    from assets.publication import BIEU_SPAN
    from assets.resources import period_label
    from assets.tables import route_name
    from pipeline.states import SubmissionState
    from pipeline.text import name_list

    table = events["submission_status"][period_label(period, "Các đơn vị")]
    units = [(f"{r.data['Mã']} – {r.data['Đơn vị']}", r.data["Trạng thái"]) for r in table.records]
    valid = [name for name, label in units if label == SubmissionState.VALID.label]
    missing = [name for name, label in units if label == SubmissionState.MISSING.label]
    invalid = [name for name, label in units  # a refusal after the close included
               if label not in (SubmissionState.VALID.label, SubmissionState.MISSING.label)]
    counts = [f"{len(valid)} hợp lệ", f"{len(invalid)} có lỗi" + (f" ({name_list(invalid, 10)})" if invalid else ""),
              f"{len(missing)} chưa nộp" + (f" ({name_list(missing, 10)})" if missing else "")]
    lines = [f"Kỳ {period}: {len(units)} đơn vị – " + ", ".join(counts) + "."]
    sets = [m for key, m in events.items() if key.startswith("bieu_") and period_label(period, "Tải về") in m]
    if not sets:
        return lines
    complete = all(m[period_label(period, "Đầy đủ")].value == "Có" for m in sets)
    lines.append(f"  Bộ biểu: {_shown_path(folder)}{os.sep}" + ("" if complete else " (số liệu chưa đầy đủ)"))
    bieu = sets[0]
    pdf = bieu.get(period_label(period, f"Bộ PDF Biểu {BIEU_SPAN}"))
    note = bieu.get(period_label(period, "Bản PDF để in"))
    if pdf is not None:
        lines.append(f"  Bản PDF để in: {_shown_path(folder / route_name(pdf.value))}")
    elif note is not None:
        lines.append(f"  Bản PDF để in: {note.value}")
    elif not pdf_wanted:
        lines.append("  Bản PDF để in: không ghi (TUANGIAO_PDF=0).")
    draft = events.get("bao_cao_danh_gia", {}).get(period_label(period, "Tải về"))
    if draft is not None:
        lines.append(f"  Dự thảo báo cáo: {_shown_path(folder / route_name(draft.value))}")
    return lines


if __name__ == "__main__":
    sys.exit(main())
