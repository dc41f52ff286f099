"""The nightly consolidation, in Vietnam's time zone."""

import dagster as dg

from assets.jobs import nightly_job
from assets.publication import BIEU_SPAN

nightly_schedule = dg.ScheduleDefinition(
    name="nightly_schedule",
    job=nightly_job,
    cron_schedule="0 1 * * *",
    execution_timezone="Asia/Ho_Chi_Minh",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description=f"Mỗi đêm lúc 01:00 (giờ Việt Nam): tổng hợp và ghi Biểu {BIEU_SPAN} cho các kỳ đang mở.",
)
