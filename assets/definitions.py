"""The Dagster code location: ``defs``, loaded by workspace.yaml."""

import dagster as dg

from assets.consolidation import district_consolidation
from assets.resources import settings_from_environment
from assets.submissions import unit_submission

submission_job = dg.define_asset_job(
    "submission_job", selection=[unit_submission], description="Tiếp nhận báo cáo của một đơn vị trong một kỳ."
)
consolidation_job = dg.define_asset_job(
    "consolidation_job", selection=[district_consolidation], description="Tổng hợp số liệu toàn huyện."
)

defs = dg.Definitions(
    assets=[unit_submission, district_consolidation],
    jobs=[submission_job, consolidation_job],
    resources={"settings": settings_from_environment()},
)
