"""A throwaway PostgreSQL server for Dagster's instance storage (deploy/dagster-postgres.yaml),
and the measure of a backfill launched the way the daemon launches it.

``throwaway_server(folder)`` runs ``initdb`` and ``pg_ctl start`` in a folder of its own, on a
free localhost port, as the ``postgres`` user when started as root (PostgreSQL refuses root),
and stops and removes it at the end. ``python -m pipeline.tools.postgres --inbox DIR`` starts
one, writes a DAGSTER_HOME with deploy/dagster-postgres.yaml, starts ``dagster-daemon run``
on the workspace, submits one queued run of ``submission_job`` per partition of the period
(``dagster job backfill``: the QueuedRunCoordinator, pool ``duckdb`` of limit 1) and times
until every run has ended. ``--units``/``--batch`` choose the scale as for ``python -m assets run``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from pipeline.settings import PROJECT_ROOT

SERVER_USER = "postgres"
DEPLOY_YAML = PROJECT_ROOT / "deploy" / "dagster-postgres.yaml"
ENDED = ("SUCCESS", "FAILURE", "CANCELED")


class NoServer(Exception):
    """No PostgreSQL server can be started here (the reason is the message)."""


@dataclasses.dataclass(frozen=True)
class Server:
    host: str
    port: int
    user: str
    database: str

    def environment(self) -> dict[str, str]:
        """The DAGSTER_PG_* variables deploy/dagster-postgres.yaml reads."""
        return {"DAGSTER_PG_HOST": self.host, "DAGSTER_PG_PORT": str(self.port), "DAGSTER_PG_USER": self.user,
                "DAGSTER_PG_PASSWORD": "", "DAGSTER_PG_DB": self.database}

    def query(self, sql: str) -> list[tuple]:
        import psycopg2

        with contextlib.closing(psycopg2.connect(host=self.host, port=self.port, user=self.user,
                                                 dbname=self.database)) as connection:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(sql)
                return cursor.fetchall()


def _program(name: str) -> str:
    """A PostgreSQL server program: on the PATH, else in Debian's /usr/lib/postgresql/<version>/bin."""
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    if found is None:
        raise NoServer(f"PostgreSQL's {name} is not installed (Debian: apt-get install postgresql)")
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def home_for(server: Server, home: Path) -> dict[str, str]:
    """DAGSTER_HOME ``home`` with deploy/dagster-postgres.yaml; the variables that point Dagster there."""
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(DEPLOY_YAML, home / "dagster.yaml")
    return {"DAGSTER_HOME": str(home), **server.environment()}


@contextlib.contextmanager
def throwaway_server() -> Iterator[Server]:
    """A new PostgreSQL cluster with trust authentication on 127.0.0.1, stopped and removed at the end."""
    initdb, pg_ctl = _program("initdb"), _program("pg_ctl")
    as_user: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="tuangiao-pg-"))  # under /tmp: the server's user must reach it
    try:
        if os.geteuid() == 0:
            try:
                account = pwd.getpwnam(SERVER_USER)
            except KeyError:
                raise NoServer(f"running as root and there is no '{SERVER_USER}' user to run PostgreSQL as") from None
            os.chown(folder, account.pw_uid, account.pw_gid)
            as_user = ["setpriv", f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}", "--init-groups"]
        user, port = "tuangiao", _free_port()
        created = subprocess.run([*as_user, initdb, "-D", str(folder / "data"), "-U", user, "--auth=trust",
                                  "-E", "UTF8", "--locale=C"], capture_output=True, text=True)
        if created.returncode:
            raise NoServer(f"initdb failed: {created.stderr.strip()[-500:]}")
        options = f"-p {port} -c listen_addresses=127.0.0.1 -k {folder}"
        started = subprocess.run([*as_user, pg_ctl, "-D", str(folder / "data"), "-l", str(folder / "server.log"),
                                  "-o", options, "-w", "start"], capture_output=True, text=True)
        if started.returncode:
            log = (folder / "server.log").read_text(errors="replace") if (folder / "server.log").exists() else ""
            raise NoServer(f"pg_ctl start failed: {started.stderr.strip()} {log.strip()[-500:]}")
        try:
            server = Server("127.0.0.1", port, user, "postgres")
            server.query("SELECT 1")
            yield server
        finally:
            subprocess.run([*as_user, pg_ctl, "-D", str(folder / "data"), "-m", "fast", "-w", "stop"],
                           capture_output=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def running_daemon(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """``dagster-daemon run`` on the project's workspace (its output in ``log``); at the end it is
    asked to stop (SIGINT, killed after 30 s), then what is left of its process group is ended."""
    daemon = Path(sys.executable).with_name("dagster-daemon")
    with log.open("w") as output:
        process = subprocess.Popen([str(daemon), "run", "-w", str(PROJECT_ROOT / "workspace.yaml")], cwd=PROJECT_ROOT,
                                   env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            yield process
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            _end_group(process.pid)


def _end_group(group: int) -> None:
    """End what is left of a process group: its code server does not stop with the daemon."""
    for ending, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(group, ending)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            try:
                os.killpg(group, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)


def wait_for_runs(server: Server, job: str, count: int, timeout: float, log: Path) -> dict[str, int]:
    """Wait until ``count`` runs of ``job`` have ended; their number per status."""
    deadline = time.monotonic() + timeout
    while True:
        statuses = dict(server.query(f"SELECT status, count(*) FROM runs WHERE pipeline_name = '{job}' GROUP BY status"))
        if sum(statuses.get(status, 0) for status in ENDED) >= count:
            return statuses
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise TimeoutError(f"{job}: {statuses} after {timeout:.0f} s, {count} runs expected\n{tail}")
        time.sleep(0.5)


def dagster_command(*arguments: str, env: dict[str, str]) -> None:
    """A ``dagster`` CLI command on the project's workspace; its output is shown if it fails."""
    dagster = Path(sys.executable).with_name("dagster")
    done = subprocess.run([str(dagster), *arguments, "-w", str(PROJECT_ROOT / "workspace.yaml")], cwd=PROJECT_ROOT,
                          env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"dagster {' '.join(arguments)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")


def measure_backfill(inbox: Path, period: str, environment: dict[str, str], timeout: float) -> dict:
    """A queued run of ``submission_job`` per partition of ``period``, started by the daemon on
    a throwaway PostgreSQL instance; the seconds until all have ended, and their statuses."""
    from pipeline.catalogue.batches import batch_key
    from pipeline.settings import Settings

    settings = Settings.from_environment(environment)
    keys = list(dict.fromkeys(batch_key(u, settings.batch_level) for u in settings.catalogue.units_in(period)))
    with throwaway_server() as server, tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, **environment, **home_for(server, Path(folder) / "home"),
               "TUANGIAO_DATA_DIR": str(Path(folder) / "data"), "TUANGIAO_INBOX": str(inbox)}
        dagster_command("sensor", "stop", "inbox_sensor", env=env)  # the runs come from the backfill only
        dagster_command("schedule", "stop", "nightly_schedule", env=env)
        log = Path(folder) / "daemon.log"
        with running_daemon(env, log):
            start = time.perf_counter()
            dagster_command("job", "backfill", "-j", "submission_job", "--noprompt", "--partitions",
                            ",".join(f"{period}|{key}" for key in keys), env=env)
            submitted = time.perf_counter() - start
            statuses = wait_for_runs(server, "submission_job", len(keys), timeout, log)
            elapsed = time.perf_counter() - start
    return {"partitions": len(keys), "seconds": round(elapsed, 1), "submission_seconds": round(submitted, 1),
            "statuses": statuses}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.tools.postgres",
                                     description="Đo thời gian tiếp nhận mọi phân vùng qua daemon, kho phiên bản PostgreSQL")
    parser.add_argument("--inbox", type=Path, default=PROJECT_ROOT / "data" / "sample",
                        help="hộp thư đến (thư mục con theo kỳ), mặc định bộ mẫu")
    parser.add_argument("--period", default="2023")
    parser.add_argument("--units", type=Path, help="danh sách đơn vị (như TUANGIAO_UNITS)")
    parser.add_argument("--batch", default="unit", help="gom đơn vị (như TUANGIAO_BATCH)")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args(argv)
    environment = {"TUANGIAO_BATCH": args.batch, "TUANGIAO_WORKERS": str(args.workers),
                   "TUANGIAO_CLOCK": "2023-08-10T17:00:00"}
    if args.units:
        environment["TUANGIAO_UNITS"] = str(args.units.resolve())
    try:
        result = measure_backfill(args.inbox.resolve(), args.period, environment, args.timeout)
    except NoServer as reason:
        print(f"Không khởi động được PostgreSQL: {reason}", file=sys.stderr)
        return 1
    print(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
