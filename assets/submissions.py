"""Per-unit submission assets: one partition per (period, unit)."""

import dagster as dg

from assets.partitions import PERIOD, UNIT, submission_partitions
from assets.resources import PipelineSettings
from pipeline.intake import take_in_unit


@dg.asset(
    partitions_def=submission_partitions,
    group_name="tiep_nhan",
    kinds={"excel", "duckdb"},
    owners=["team:phong-ldtbxh"],
    pool="duckdb",
    description=(
        "Báo cáo của một đơn vị trong một kỳ: đọc tệp mới nhất của đơn vị trong hộp thư đến, "
        "kiểm tra và nạp vào kho dữ liệu DuckDB thành một phiên bản mới."
    ),
)
def unit_submission(context: dg.AssetExecutionContext, settings: PipelineSettings) -> dg.MaterializeResult:
    keys = context.partition_key.keys_by_dimension
    result = take_in_unit(
        settings.catalogue, settings.inbox, settings.warehouse, keys[PERIOD], keys[UNIT], settings.now()
    )
    unit = settings.catalogue.unit(result.unit)
    metadata = {
        "don_vi": f"{unit.code} – {unit.name}",
        "trang_thai": result.status_label,
        "so_loi": result.errors,
        "so_canh_bao": result.warnings,
        "so_gia_tri": result.values,
    }
    if result.file:
        metadata["tep"] = dg.MetadataValue.path(str(result.file))
        metadata["ma_bam"] = result.file_hash
        metadata["nap_moi"] = result.newly_loaded
    if result.other_files:
        metadata["tep_cu_bo_qua"] = ", ".join(p.name for p in result.other_files)
    context.log.info(f"{unit.name}: {result.status_label} ({result.errors} lỗi, {result.warnings} cảnh báo)")
    return dg.MaterializeResult(metadata=metadata)
