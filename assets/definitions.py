"""The Dagster code location: ``defs``, loaded by workspace.yaml."""

import dagster as dg

from assets.automation import automation_sensor
from assets.consolidation import district_consolidation
from assets.intake import inbox_catch_up, unidentified_submissions, unit_submission
from assets.jobs import consolidation_job, inbox_job, nightly_job, submission_job
from assets.publication import district_plan, publish_bieu, submission_status
from assets.resources import settings_from_environment
from assets.schedules import nightly_schedule
from assets.sensors import inbox_sensor

defs = dg.Definitions(
    assets=[unit_submission, unidentified_submissions, inbox_catch_up, district_plan, district_consolidation,
            publish_bieu, submission_status],
    jobs=[submission_job, inbox_job, consolidation_job, nightly_job],
    sensors=[inbox_sensor, automation_sensor],
    schedules=[nightly_schedule],
    resources={"settings": settings_from_environment()},
    executor=dg.in_process_executor,  # the automation's runs: their steps take turns on DuckDB anyway
)
