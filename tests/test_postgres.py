"""The live loop on PostgreSQL instance storage (deploy/dagster-postgres.yaml) against a real
server started for the test (pipeline/tools/postgres.py; skipped, with the reason, where none
can be started): the inbox sensor and the unit runs it requests, the nightly job, and the
daemon launching queued runs, with runs, materializations and checks stored in PostgreSQL.
The Definitions declare no automation conditions yet, so none are evaluated here."""

from __future__ import annotations

import json
import os
import shutil

import dagster as dg
import pytest
from dagster._core.scheduler.instigation import InstigatorType, TickStatus  # the sensor's stored ticks

from assets.definitions import defs
from assets.resources import PipelineSettings
from assets.sensors import inbox_sensor
from pipeline.tools.postgres import NoServer, home_for, running_daemon, throwaway_server, wait_for_runs

OLD = 1_700_000_000  # an mtime long ago: the file is stable


@pytest.fixture(scope="module")
def server():
    try:
        with throwaway_server() as started:
            yield started
    except NoServer as reason:
        pytest.skip(f"no PostgreSQL server can be started here: {reason}")


@pytest.fixture
def instance(server, tmp_path, monkeypatch):
    server.query("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public; SELECT 1")  # each test on empty storage
    for name, value in home_for(server, tmp_path / "home").items():
        monkeypatch.setenv(name, value)
    with dg.DagsterInstance.from_config(str(tmp_path / "home")) as instance:
        yield instance


def _inbox(tmp_path, files):
    inbox = tmp_path / "inbox" / "2023"
    inbox.mkdir(parents=True)
    for path in files:
        shutil.copy(path, inbox / path.name)
        os.utime(inbox / path.name, (OLD, OLD))
    return inbox


def _settings(tmp_path):
    return PipelineSettings(data_dir=str(tmp_path), fixed_clock="2023-08-10T17:00:00", pdf=False)


def test_the_instance_is_postgresql(instance):
    from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

    assert isinstance(instance.run_storage, PostgresRunStorage)
    assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
    assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
    assert instance.run_coordinator.__class__.__name__ == "QueuedRunCoordinator"


def test_sensor_unit_runs_and_nightly_job_are_stored_in_postgresql(server, instance, sample_files, tmp_path):
    _inbox(tmp_path, sample_files[:2])
    settings = _settings(tmp_path)
    with dg.build_sensor_context(instance=instance, resources={"settings": settings}, definitions=defs) as context:
        requests = inbox_sensor(context).run_requests
    assert sorted(r.partition_key for r in requests) == ["2023|03253", "2023|03259"]
    submission = defs.resolve_job_def("submission_job")
    results = [submission.execute_in_process(partition_key=request.partition_key, instance=instance,
                                             resources={"settings": settings}, tags=request.tags)
               for request in requests]
    results.append(defs.resolve_job_def("nightly_job").execute_in_process(instance=instance,
                                                                         resources={"settings": settings}))
    assert all(result.success for result in results)

    runs = server.query("SELECT pipeline_name, status FROM runs ORDER BY create_timestamp")
    assert runs == [("submission_job", "SUCCESS")] * 2 + [("nightly_job", "SUCCESS")]
    assert instance.get_materialized_partitions(dg.AssetKey("unit_submission")) == {"2023|03253", "2023|03259"}
    stored = dict(server.query("SELECT asset_key, count(*) FROM event_logs "
                               "WHERE dagster_event_type = 'ASSET_MATERIALIZATION' GROUP BY asset_key"))
    assert {dg.AssetKey.from_db_string(key) for key in stored} == {
        event.asset_key for result in results for event in result.get_asset_materialization_events()}
    checks = server.query("SELECT partition, execution_status FROM asset_check_executions "
                          "WHERE check_name = 'valid_submission'")
    assert {partition for partition, status in checks if status == "SUCCEEDED"} >= {"2023|03253", "2023|03259"}
    status = json.loads((tmp_path / "out" / "status.json").read_text(encoding="utf-8"))
    states = {u["code"]: u["state"] for u in status["periods"][0]["units"]}
    assert states["03253"] == states["03259"] == "hop_le"
    assert len(list((tmp_path / "out" / "2023").glob("Bieu_*_2023.xlsx"))) == 16


def test_the_daemon_runs_the_sensor_and_its_queued_runs_on_postgresql(server, instance, sample_files, tmp_path):
    """The real loop on one instance: the daemon's sensor tick finds the files, its run queue
    starts the unit runs (pool duckdb), and all of it is recorded in PostgreSQL."""
    _inbox(tmp_path, sample_files[1:3])
    env = {**os.environ, "TUANGIAO_DATA_DIR": str(tmp_path / "data"), "TUANGIAO_INBOX": str(tmp_path / "inbox"),
           "TUANGIAO_CLOCK": "2023-08-10T17:00:00"}
    log = tmp_path / "daemon.log"
    with running_daemon(env, log):
        statuses = wait_for_runs(server, "submission_job", 2, timeout=300, log=log)
    assert statuses == {"SUCCESS": 2}, log.read_text(errors="replace")[-3000:]
    [sensor] = [state for state in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR)
                if state.name == "inbox_sensor"]
    ticks = instance.get_ticks(sensor.instigator_origin_id, sensor.selector_id)
    runs = {run.run_id for run in instance.get_runs(dg.RunsFilter(job_name="submission_job"))}
    assert {run_id for tick in ticks if tick.status == TickStatus.SUCCESS for run_id in tick.run_ids} == runs
    assert instance.get_materialized_partitions(dg.AssetKey("unit_submission")) == {"2023|03259", "2023|03260"}
    assert (tmp_path / "data" / "warehouse.duckdb").exists()
