"""The review sensor: a decision recorded (``pipeline.review``: the command line or the page)
re-publishes the set and the status, so the Biểu say what is approved, and re-materializes the
decided units' partitions, so their metadata shows the new review state."""

from __future__ import annotations

import json
import socket

import dagster as dg

from assets.jobs import consolidation_job, submission_job
from assets.partitions import submission_key
from assets.resources import PipelineSettings
from assets.runs import HOST_TAG
from pipeline.catalogue.batches import batch_key
from pipeline.review import decisions_since


def review_run_requests(settings: PipelineSettings, cursor: str | None) -> tuple[list[dg.RunRequest], str]:
    """For each period with decisions the cursor has not seen: a run of each decided unit's
    partition (no new file: its state and metadata brought up to date) and a publication run;
    and the new cursor (each period's latest decision)."""
    seen, requests, host = json.loads(cursor or "{}"), [], {HOST_TAG: socket.gethostname()}
    level = settings.batch_level
    for period, decisions in decisions_since(settings.places.archive, seen).items():
        if not decisions:
            continue
        batches = {}
        for decision in decisions:
            unit = settings.catalogue.find_unit(decision.unit)
            if unit is not None:
                batches[batch_key(unit, level)] = decision.id
        requests += [dg.RunRequest(run_key=f"xet-duyet|{i}", job_name=submission_job.name,
                                   partition_key=submission_key(period, batch, level), tags=host)
                     for batch, i in batches.items()]
        requests.append(dg.RunRequest(run_key=f"xet-duyet|{period}|{decisions[-1].id}",
                                      job_name=consolidation_job.name, tags=host))
        seen[period] = decisions[-1].id
    return requests, json.dumps(seen, sort_keys=True)


def review_sensor(interval_seconds: int) -> dg.SensorDefinition:
    """The sensor, looking every ``interval_seconds`` (the settings' ``sensor_seconds``)."""

    def look_at_decisions(context: dg.SensorEvaluationContext, settings: PipelineSettings) -> dg.SensorResult:
        requests, cursor = review_run_requests(settings, context.cursor)
        return dg.SensorResult(run_requests=requests, cursor=cursor)

    return dg.sensor(
        name="review_sensor",
        jobs=[submission_job, consolidation_job],
        minimum_interval_seconds=interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Theo dõi các quyết định duyệt hoặc trả lại báo cáo (data/archive/<kỳ>/xet-duyet.jsonl): sau mỗi "
                    "quyết định mới, cập nhật trạng thái của đơn vị được quyết định, ghi lại bộ biểu và tình trạng báo "
                    "cáo để biểu ghi đúng số đơn vị đã duyệt.",
    )(look_at_decisions)
