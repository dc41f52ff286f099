"""The jobs: one unit's intake, the files the sensor saw arrive (intake and publication in one
run), the unidentified files, the consolidation, and the nightly run.

Every job runs in one process: their steps take turns on DuckDB anyway (pool limit 1), and
a process per step would pay Python and Dagster start-up again for each (the nightly job
took 24 s that way, 5 s in one process)."""

import dagster as dg

from assets.consolidation import district_consolidation
from assets.intake import SUBMISSION, inbox_catch_up, unidentified_submissions
from assets.publication import BIEU_SPAN, district_plan, publish_bieu, submission_status

submission_job = dg.define_asset_job(
    "submission_job", selection=[SUBMISSION], executor_def=dg.in_process_executor,
    description="Tiếp nhận báo cáo của một đơn vị trong một kỳ.",
)
inbox_job = dg.define_asset_job(
    "inbox_job", selection=[unidentified_submissions], executor_def=dg.in_process_executor,
    description="Liệt kê các tệp trong hộp thư đến không xác định được đơn vị.",
)
consolidation_job = dg.define_asset_job(
    "consolidation_job", selection=[district_plan, district_consolidation, publish_bieu, submission_status],
    executor_def=dg.in_process_executor,
    description=f"Nạp kế hoạch huyện, tổng hợp số liệu toàn huyện, ghi Biểu {BIEU_SPAN} và bảng tình trạng.",
)
arrivals_job = dg.define_asset_job(
    "arrivals_job", executor_def=dg.in_process_executor,
    selection=[inbox_catch_up, district_plan, district_consolidation, publish_bieu, submission_status],
    description="Tiếp nhận trong một lượt các tệp mới cảm biến vừa thấy của một kỳ (mỗi đơn vị ghi trên phân vùng "
                f"riêng), rồi tổng hợp, ghi Biểu {BIEU_SPAN} và bảng tình trạng ngay trong lượt đó.",
)
nightly_job = dg.define_asset_job(
    "nightly_job",
    executor_def=dg.in_process_executor,
    selection=[inbox_catch_up, unidentified_submissions, district_plan, district_consolidation, publish_bieu,
               submission_status],
    description="Tổng hợp ban đêm: bắt kịp hộp thư đến, rồi tổng hợp mọi đơn vị hợp lệ của các kỳ đang mở "
                f"và ghi Biểu {BIEU_SPAN}, dù đã đủ đơn vị nộp hay chưa.",
)
