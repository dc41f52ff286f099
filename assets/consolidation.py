"""The district consolidation asset."""

import dagster as dg

from assets.failures import told
from assets.intake import unit_submission
from assets.resources import PipelineSettings
from pipeline.checking.findings import name_list
from pipeline.publication.consolidation import consolidate


@dg.asset(
    deps=[unit_submission],
    group_name="tong_hop",
    kinds={"duckdb"},
    owners=["team:phong-ldtbxh"],
    pool="duckdb",
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
        result = consolidate(catalogue, settings.warehouse, period)
        lines = [f"| {figure.label} | {value or 0:,.0f} |".replace(",", ".") for figure, value in result.headline]
        missing = [catalogue.unit(u).name for u in result.missing_units]
        metadata[f"ky_{period}_so_don_vi"] = len(result.loaded_units)
        metadata[f"ky_{period}_thieu"] = name_list(missing) or "Không"
        metadata[f"ky_{period}_so_lieu"] = dg.MetadataValue.md(
            "| Chỉ tiêu | Toàn huyện |\n|---|---:|\n" + "\n".join(lines)
        )
        context.log.info(f"Kỳ {period}: {len(result.loaded_units)} đơn vị hợp lệ, thiếu {len(missing)}")
    return dg.MaterializeResult(metadata=metadata)
