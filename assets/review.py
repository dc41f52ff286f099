"""The review sensor: a decision recorded (``pipeline.review``: the command line or the page)
re-publishes the set and the status, so the Biểu say what is approved."""

from __future__ import annotations

import json
import socket

import dagster as dg

from assets.jobs import consolidation_job
from assets.resources import PipelineSettings
from assets.runs import HOST_TAG
from pipeline.review import latest_decisions


def review_run_requests(settings: PipelineSettings, cursor: str | None) -> tuple[list[dg.RunRequest], str]:
    """A publication run for each period whose latest decision is not the cursor's, and the new cursor."""
    seen, latest = json.loads(cursor or "{}"), latest_decisions(settings.places.archive)
    requests = [dg.RunRequest(run_key=f"xet-duyet|{period}|{decision}", job_name=consolidation_job.name,
                              tags={HOST_TAG: socket.gethostname()})
                for period, decision in latest.items() if seen.get(period) != decision]
    return requests, json.dumps(latest, sort_keys=True)


def review_sensor(interval_seconds: int) -> dg.SensorDefinition:
    """The sensor, looking every ``interval_seconds`` (the settings' ``sensor_seconds``)."""

    def look_at_decisions(context: dg.SensorEvaluationContext, settings: PipelineSettings) -> dg.SensorResult:
        requests, cursor = review_run_requests(settings, context.cursor)
        return dg.SensorResult(run_requests=requests, cursor=cursor)

    return dg.sensor(
        name="review_sensor",
        jobs=[consolidation_job],
        minimum_interval_seconds=interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Theo dõi các quyết định duyệt hoặc trả lại báo cáo (data/archive/<kỳ>/xet-duyet.jsonl): sau mỗi "
                    "quyết định mới, ghi lại bộ biểu và tình trạng báo cáo để biểu ghi đúng số đơn vị đã duyệt.",
    )(look_at_decisions)
