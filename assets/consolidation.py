"""The district consolidation asset."""

import dagster as dg

from assets.failures import told
from assets.intake import unit_submission
from assets.resources import PipelineSettings
from pipeline.checking.findings import name_list
from pipeline.publication.consolidation import consolidate

KEY_FIGURES = [  # (form, item, column, label) shown in the UI
    ("01", "HO_TONG", "GIA_TRI", "Tổng số hộ"),
    ("01", "HO_NGHEO", "GIA_TRI", "Số hộ nghèo"),
    ("01", "HO_CAN_NGHEO", "GIA_TRI", "Số hộ cận nghèo"),
    ("08", "DT_NGHE", "GIA_TRI", "Số lao động được đào tạo nghề"),
]


@dg.asset(
    deps=[unit_submission],
    group_name="tong_hop",
    kinds={"duckdb"},
    owners=["team:phong-ldtbxh"],
    pool="duckdb",
    description=(
        "Tổng hợp toàn huyện: cộng số liệu phiên bản hợp lệ mới nhất của từng đơn vị "
        "(bảng district_totals trong DuckDB), nêu rõ đơn vị chưa có báo cáo hợp lệ."
    ),
)
@told
def district_consolidation(context: dg.AssetExecutionContext, settings: PipelineSettings) -> dg.MaterializeResult:
    catalogue = settings.catalogue
    metadata = {}
    for period in catalogue.periods:
        result = consolidate(catalogue, settings.warehouse, period)
        totals = result.totals.set_index(["form", "item", "column"])["value"]
        lines = [
            f"| {label} | {totals.get((form, item, column), 0):,.0f} |".replace(",", ".")
            for form, item, column, label in KEY_FIGURES
        ]
        missing = [catalogue.unit(u).name for u in result.missing_units]
        metadata[f"ky_{period}_so_don_vi"] = len(result.loaded_units)
        metadata[f"ky_{period}_thieu"] = name_list(missing) or "Không"
        metadata[f"ky_{period}_so_lieu"] = dg.MetadataValue.md(
            "| Chỉ tiêu | Toàn huyện |\n|---|---:|\n" + "\n".join(lines)
        )
        context.log.info(f"Kỳ {period}: {len(result.loaded_units)} đơn vị hợp lệ, thiếu {len(missing)}")
    return dg.MaterializeResult(metadata=metadata)
