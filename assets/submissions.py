"""Per-unit submission assets: one partition per (period, unit), with a blocking check."""

import warnings

import dagster as dg

from assets.partitions import PERIOD, UNIT, submission_partitions
from assets.resources import PipelineSettings
from pipeline.findings import Finding
from pipeline.intake import MISSING, catch_up, take_in_unit, unidentified_files
from pipeline.periods import open_periods

CHECK_NAME = "valid_submission"
MAX_ROWS_SHOWN = 200

with warnings.catch_warnings():
    # Partitioned asset checks are "preview" in Dagster 1.13; they are what lets the UI show
    # each unit's check result on its own partition.
    warnings.simplefilter("ignore", dg.PreviewWarning)
    VALID_SUBMISSION = dg.AssetCheckSpec(
        CHECK_NAME, asset="unit_submission", blocking=True, partitions_def=submission_partitions,
        description="Báo cáo hợp lệ: không có lỗi nào (cảnh báo không chặn). Bảng phát hiện nằm trong metadata.",
    )


def findings_markdown(findings: list[Finding]) -> str:
    """The findings as a markdown table for the Dagster UI."""
    if not findings:
        return "Không có lỗi hay cảnh báo."
    rows = ["| Mức độ | Sheet | Ô | Chỉ tiêu | Giá trị | Nội dung |", "|---|---|---|---|---|---|"]
    for f in findings[:MAX_ROWS_SHOWN]:
        cells = (f.severity, f.sheet, f.cell, f.item_label, f.value, f.message)
        rows.append("| " + " | ".join(str(c).replace("|", "/").replace("\n", " ") for c in cells) + " |")
    if len(findings) > MAX_ROWS_SHOWN:
        rows.append(f"| … | | | | | còn {len(findings) - MAX_ROWS_SHOWN} phát hiện nữa trong tệp phản hồi |")
    return "\n".join(rows)


@dg.asset(
    partitions_def=submission_partitions,
    group_name="tiep_nhan",
    kinds={"excel", "duckdb"},
    owners=["team:phong-ldtbxh"],
    pool="duckdb",
    description=(
        "Báo cáo của một đơn vị trong một kỳ: đọc tệp mới nhất của đơn vị trong hộp thư đến, "
        "kiểm tra theo danh mục và nạp vào kho dữ liệu DuckDB thành một phiên bản mới; "
        "ghi tệp phản hồi cho đơn vị."
    ),
    check_specs=[VALID_SUBMISSION],
)
def unit_submission(context: dg.AssetExecutionContext, settings: PipelineSettings):
    keys = context.partition_key.keys_by_dimension
    result = take_in_unit(settings.catalogue, settings.places, keys[PERIOD], keys[UNIT], settings.now())
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
    if result.feedback:
        metadata["tep_phan_hoi"] = dg.MetadataValue.path(str(result.feedback))
    context.log.info(f"{unit.name}: {result.status_label} ({result.errors} lỗi, {result.warnings} cảnh báo)")
    yield dg.MaterializeResult(metadata=metadata)
    yield dg.AssetCheckResult(
        check_name=CHECK_NAME,
        passed=result.status != MISSING and result.errors == 0,
        severity=dg.AssetCheckSeverity.WARN if result.status == MISSING else dg.AssetCheckSeverity.ERROR,
        description=result.status_label,
        metadata={
            "so_loi": result.errors,
            "so_canh_bao": result.warnings,
            "phat_hien": dg.MetadataValue.md(findings_markdown(result.findings)),
            **({"tep_phan_hoi": dg.MetadataValue.path(str(result.feedback))} if result.feedback else {}),
        },
    )


@dg.asset(
    group_name="tiep_nhan",
    kinds={"excel"},
    owners=["team:phong-ldtbxh"],
    description=(
        "Tệp trong hộp thư đến không xác định được đơn vị (không phải bảng tính, tệp hỏng, "
        "tệp độc hại, không có sheet Thông tin…): mỗi tệp kèm lý do và tệp phản hồi."
    ),
)
def unidentified_submissions(context: dg.AssetExecutionContext, settings: PipelineSettings) -> dg.MaterializeResult:
    catalogue = settings.catalogue
    findings = []
    for period in open_periods(catalogue, settings.out):
        for result in unidentified_files(catalogue, settings.places, period, settings.now()):
            findings += result.findings
    for finding in findings:
        context.log.warning(finding.message)
    return dg.MaterializeResult(metadata={
        "so_tep": len({f.file for f in findings}),
        "phat_hien": dg.MetadataValue.md(findings_markdown(findings)),
    })


@dg.asset(
    group_name="tiep_nhan",
    kinds={"excel", "duckdb"},
    owners=["team:phong-ldtbxh"],
    pool="duckdb",
    description="Bắt kịp hộp thư đến trước khi tổng hợp ban đêm: tiếp nhận tệp mới của các đơn vị mà "
                "cảm biến chưa xử lý (đơn vị đã cập nhật thì không kiểm tra lại).",
)
def inbox_catch_up(context: dg.AssetExecutionContext, settings: PipelineSettings) -> dg.MaterializeResult:
    findings, taken = [], []
    for period in open_periods(settings.catalogue, settings.out):
        for result in catch_up(settings.catalogue, settings.places, period, settings.now()):
            taken.append(f"{period} · {result.unit}: {result.status_label}")
            findings += result.findings
    for line in taken:
        context.log.info(line)
    return dg.MaterializeResult(metadata={
        "so_don_vi_tiep_nhan": len(taken),
        "tiep_nhan": "\n".join(taken) or "Không có tệp mới.",
        "phat_hien": dg.MetadataValue.md(findings_markdown(findings)),
    })
