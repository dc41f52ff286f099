"""The district consolidation asset: it follows every intake by its automation condition, and
in a run that takes in files (``inbox_catch_up``) it comes after them."""

import dagster as dg

from assets.automation import FOLLOWS_UPSTREAM
from assets.failures import told
from assets.intake import SUBMISSION, inbox_catch_up
from assets.resources import PipelineSettings, period_label
from assets.tables import table
from pipeline.text import name_list, show_number
from pipeline.publication.consolidation import consolidate


@dg.asset(
    deps=[SUBMISSION, inbox_catch_up],  # in the arrivals and nightly runs, after the intake
    group_name="tong_hop",
    kinds={"duckdb"},
    owners=["team:phong-ldtbxh"],
    pool="duckdb",
    automation_condition=FOLLOWS_UPSTREAM,
    description=(
        "Tổng hợp toàn huyện: cộng số liệu phiên bản hợp lệ mới nhất của từng đơn vị (như các Biểu), "
        "nêu các số liệu chính (headline trong district.toml) và đơn vị chưa có báo cáo hợp lệ."
    ),
)
@told
def district_consolidation(context: dg.AssetExecutionContext, settings: PipelineSettings) -> dg.MaterializeResult:
    catalogue = settings.catalogue
    metadata = {}
    for period in catalogue.periods:
        result = consolidate(catalogue, settings.warehouse, period, settings.wait_seconds)
        missing = [catalogue.unit(u, period).name for u in result.missing_units]
        metadata[period_label(period, "Số đơn vị hợp lệ")] = len(result.loaded_units)
        metadata[period_label(period, "Chưa có báo cáo hợp lệ")] = name_list(missing) or "Không"
        metadata[period_label(period, "Số liệu chính")] = table(
            ("Chỉ tiêu", "Toàn huyện"), [(figure.label, show_number(value or 0, places=0)) for figure, value in result.headline])
        context.log.info(f"Kỳ {period}: {len(result.loaded_units)} đơn vị hợp lệ, thiếu {len(missing)}")
    return dg.MaterializeResult(metadata=metadata)
