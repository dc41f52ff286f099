"""The code location for given settings: their unit list and batch level make the submission
partitions, their ``sensor_seconds`` the sensors' interval, their ``download_url`` every
asset's link to the download page, and they are the resource every asset reads. ``assets.definitions`` builds it for the ``TUANGIAO_*`` variables (what
workspace.yaml, the daemon and its runs load); ``python -m assets run`` for its flags."""

import dagster as dg

from assets.automation import automation_sensor
from assets.consolidation import district_consolidation
from assets.intake import inbox_catch_up, submission_asset, unidentified_submissions
from assets.jobs import arrivals_job, consolidation_job, inbox_job, nightly_job, submission_job
from assets.partitions import partition_names, submission_partitions
from assets.publication import district_plan, publish_bieu, submission_status
from assets.resources import PipelineSettings
from assets.review import review_sensor
from assets.schedules import nightly_schedule
from assets.sensors import dead_run_sensor, inbox_sensor
from assets.tables import page_metadata
from pipeline.settings import Settings


def build_defs(settings: Settings) -> dg.Definitions:
    submission = submission_asset(submission_partitions(settings), partition_names(settings))
    assets = [submission, unidentified_submissions, inbox_catch_up, district_plan, district_consolidation, publish_bieu,
              submission_status]
    page = page_metadata(settings.download_url)  # read now, at each load: never a stored address
    return dg.Definitions(
        assets=dg.map_asset_specs(lambda spec: spec.merge_attributes(metadata=page), assets),
        jobs=[submission_job, arrivals_job, inbox_job, consolidation_job, nightly_job],
        sensors=[inbox_sensor(settings.sensor_seconds), automation_sensor(settings.sensor_seconds),
                 dead_run_sensor(settings.sensor_seconds), review_sensor(settings.sensor_seconds)],
        schedules=[nightly_schedule],
        resources={"settings": PipelineSettings.of(settings)},
        executor=dg.in_process_executor,  # the automation's runs: their steps take turns on DuckDB anyway
    )
