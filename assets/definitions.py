"""The Dagster code location: ``defs``, loaded by workspace.yaml."""

import dagster as dg

from assets.consolidation import district_consolidation
from assets.reports import district_plan, publish_bieu, submission_status
from assets.resources import settings_from_environment
from assets.submissions import unidentified_submissions, unit_submission

submission_job = dg.define_asset_job(
    "submission_job", selection=[unit_submission], description="Tiếp nhận báo cáo của một đơn vị trong một kỳ."
)
inbox_job = dg.define_asset_job(
    "inbox_job", selection=[unidentified_submissions],
    description="Liệt kê các tệp trong hộp thư đến không xác định được đơn vị.",
)
consolidation_job = dg.define_asset_job(
    "consolidation_job", selection=[district_plan, district_consolidation, publish_bieu, submission_status],
    description="Nạp kế hoạch huyện, tổng hợp số liệu toàn huyện và ghi Biểu 01–15.",
)

defs = dg.Definitions(
    assets=[unit_submission, unidentified_submissions, district_plan, district_consolidation, publish_bieu,
            submission_status],
    jobs=[submission_job, inbox_job, consolidation_job],
    resources={"settings": settings_from_environment()},
)
