"""The inbox sensor: a run for exactly the units (or their batches) whose new or changed files arrived.
With a partition per unit, the units of a period that sent files since the last look are taken
in by one run (``arrivals_job``, at most ``CATCH_UP_BATCH`` units a run) that also publishes the
period: a burst of files costs one run's start-up, not one per file; every unit keeps its own
partition (``assets.intake.log_partitions``)."""

from __future__ import annotations

import hashlib
import json
import socket
import time

import dagster as dg

from assets.intake import UNIT_TAG, inbox_catch_up, units_tag
from assets.jobs import arrivals_job, consolidation_job, inbox_job, submission_job
from assets.partitions import submission_key
from assets.resources import PipelineSettings
from assets.runs import HOST_TAG, recover_dead_runs
from pipeline.catalogue.batches import UNIT, batch_key, batch_name
from pipeline.intake.take_in import CATCH_UP_BATCH
from pipeline.intake.inbox import SENSOR_READ_SECONDS, watch
from pipeline.periods import open_periods
from pipeline.catalogue.contract import PLAN_FILE


def inbox_run_requests(settings: PipelineSettings, cursor: str | None, now: float) -> tuple[list[dg.RunRequest], str]:
    """Run requests for the stable new files of the open periods, and the new cursor (pure)."""
    catalogue = settings.catalogue
    arrivals, entries = watch(settings.inbox, open_periods(catalogue, settings.out), json.loads(cursor or "{}"), now,
                              budget_seconds=SENSOR_READ_SECONDS)
    requests, batches, plans = [], {}, {}
    for arrival in arrivals:
        identity = arrival.identity
        key = f"{arrival.period}|{arrival.file_hash}"
        if identity is not None and identity.file_kind == PLAN_FILE:
            plans[arrival.period] = dg.RunRequest(run_key=f"ke-hoach|{key}", job_name=consolidation_job.name,
                                                  tags={HOST_TAG: socket.gethostname()})
        elif identity is not None and (unit := catalogue.find_unit(identity.unit_code)) and identity.period == arrival.period:
            batches.setdefault((arrival.period, batch_key(unit, settings.batch_level)), []).append((unit.code, key))
        else:  # no readable identity, an unknown unit, or a period other than its folder's
            requests.append(dg.RunRequest(run_key=f"khong-xac-dinh|{key}", job_name=inbox_job.name,
                                          tags={HOST_TAG: socket.gethostname()}))
    if settings.batch_level == UNIT:
        periods: dict[str, list[tuple[str, str]]] = {}
        for (period, _), files in batches.items():
            periods.setdefault(period, []).extend(files)
        for period, files in periods.items():  # one run per period: intake and publication
            for start in range(0, len(files), CATCH_UP_BATCH):
                requests.append(arrivals_request(catalogue, period, files[start:start + CATCH_UP_BATCH]))
        # The plan's own run only where no arrivals run takes it in (its job takes in the plan too)
        return requests + [r for period, r in plans.items() if period not in periods], json.dumps(entries, sort_keys=True)
    requests += plans.values()
    for (period, batch), files in batches.items():  # one run per batch, however many of its units sent files
        run_key = "|".join(files[0]) if len(files) == 1 else f"{batch}|{period}|" + _digest(files)
        requests.append(dg.RunRequest(run_key=run_key, job_name=submission_job.name,
                                      partition_key=submission_key(period, batch, settings.batch_level),
                                      tags={UNIT_TAG: batch_name(catalogue, settings.batch_level, batch),
                                            HOST_TAG: socket.gethostname()}))
    return requests, json.dumps(entries, sort_keys=True)


def _digest(files: list[tuple[str, str]]) -> str:
    return hashlib.sha256(" ".join(sorted(k for _, k in files)).encode()).hexdigest()


def arrivals_request(catalogue, period: str, files: list[tuple[str, str]]) -> dg.RunRequest:
    """One run of ``arrivals_job`` for the units of ``files`` ((unit, "period|file hash")): they
    are taken in together, each on its own partition, and the period published in the same run."""
    units = list(dict.fromkeys(unit for unit, _ in files))
    name = units_tag(period, [f"{unit} – {catalogue.find_unit_for(unit, period).name}" for unit in units])
    return dg.RunRequest(run_key=f"tiep-nhan|{period}|" + _digest(files), job_name=arrivals_job.name,
                         run_config={"ops": {inbox_catch_up.op.name: {"config": {"period": period, "units": units}}}},
                         tags={UNIT_TAG: name, HOST_TAG: socket.gethostname()})


def look_at_inbox(context: dg.SensorEvaluationContext, settings: PipelineSettings) -> dg.SensorResult:
    requests, cursor = inbox_run_requests(settings, context.cursor, time.time())
    return dg.SensorResult(run_requests=requests, cursor=cursor)


def inbox_sensor(interval_seconds: int) -> dg.SensorDefinition:
    """The sensor, looking every ``interval_seconds`` (the settings' ``sensor_seconds``)."""
    return dg.sensor(
        name="inbox_sensor",
        jobs=[arrivals_job, submission_job, inbox_job, consolidation_job],
        minimum_interval_seconds=interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Theo dõi hộp thư đến data/inbox/<kỳ>/: tệp mới hoặc đã thay đổi (đã chép xong) được tiếp "
                    "nhận ngay cho đúng đơn vị ghi trong tệp. Không mở kho dữ liệu.",
    )(look_at_inbox)


def dead_run_sensor(interval_seconds: int) -> dg.SensorDefinition:
    """Every ``interval_seconds``: the runs whose process is gone are marked failed and their
    pool slots freed (``assets.runs.recover_dead_runs``), so a worker killed while ``make dev``
    runs never holds the DuckDB pool or a place among ``max_concurrent_runs``. It requests no run."""

    def look_at_runs(context: dg.SensorEvaluationContext) -> dg.SkipReason:
        recovered = recover_dead_runs(context.instance)
        if recovered:
            context.log.warning(f"Đã đánh dấu thất bại {len(recovered)} lượt chạy có tiến trình đã mất: "
                                + ", ".join(run_id[:8] for run_id in recovered))
            return dg.SkipReason(f"Đã đánh dấu thất bại {len(recovered)} lượt chạy có tiến trình đã mất và trả lại "
                                 "lượt dùng kho dữ liệu: " + ", ".join(run_id[:8] for run_id in recovered) + ".")
        return dg.SkipReason("Không có lượt chạy nào mất tiến trình.")

    return dg.sensor(
        name="dead_run_sensor",
        minimum_interval_seconds=interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Tìm các lượt chạy mà tiến trình đã mất (bị tắt đột ngột, mất điện): đánh dấu thất bại và trả "
                    "lại lượt dùng kho dữ liệu, để chúng không chặn các lượt sau. Không yêu cầu lượt chạy nào.",
    )(look_at_runs)
