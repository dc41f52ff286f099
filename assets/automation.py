"""Declarative automation: the consolidation, the Biểu and the status follow every intake
(sensor run, upload, catch-up, a run from the UI) without anyone launching them.

``AutomationCondition.eager()`` is not used: it waits while any dependency is missing, and
most partitions of ``unit_submission`` are never materialized (a unit that has not sent
anything). The condition here requests an asset once a dependency has been updated since it
was last requested or updated, but only when no dependency and no run of its own is in
progress: a burst of files taken in by many unit runs leads to one consolidation after them,
not one per file, and the pool "duckdb" (limit 1) keeps every run on DuckDB one at a time.
The sensor evaluating it runs every ``sensor_seconds`` of the settings (30 s by default), as the
inbox sensor does; its requests are runs (not backfills) of the code location's in-process
executor."""

import socket

import dagster as dg

from assets.runs import HOST_TAG

FOLLOWS_UPSTREAM = (
    dg.AutomationCondition.any_deps_updated().since_last_handled()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
).with_label("theo sau tiếp nhận")


def automation_sensor(interval_seconds: int) -> dg.AutomationConditionSensorDefinition:
    return dg.AutomationConditionSensorDefinition(
        "automation_sensor",
        target=dg.AssetSelection.all(),
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=interval_seconds,
        emit_backfills=False,
        run_tags={"tuangiao/nguon": "tu_dong", HOST_TAG: socket.gethostname()},
        description="Sau mỗi lần tiếp nhận (cảm biến, tải lên, bắt kịp, chạy tay): tổng hợp, ghi Biểu và bảng "
                    "tình trạng khi không còn lượt tiếp nhận nào đang chạy.",
    )
