"""Submission assets: one partition per (period, unit) or (period, batch of units), with a
blocking check whose metadata lists every unit's findings."""

import warnings
from collections import Counter

import dagster as dg

from assets.failures import told
from assets.partitions import BATCH, PERIOD, submission_partitions
from assets.resources import PipelineSettings
from pipeline.catalogue import Catalogue
from pipeline.catalogue.batches import batch_name, batch_units
from pipeline.checking.findings import Finding, name_list
from pipeline.intake.take_in import MISSING, IntakeResult, catch_up, take_in_batch, unidentified_files
from pipeline.periods import open_periods
from pipeline.warehouse import INVALID, VALID

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


def findings_markdown(findings: list[Finding], with_unit: bool = False) -> str:
    """The findings as a markdown table for the Dagster UI (with the unit's code for a batch)."""
    if not findings:
        return "Không có lỗi hay cảnh báo."
    head = ["Đơn vị"] * with_unit + ["Mức độ", "Sheet", "Ô", "Chỉ tiêu", "Giá trị", "Nội dung"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for f in findings[:MAX_ROWS_SHOWN]:
        cells = [f.unit] * with_unit + [f.severity, f.sheet, f.cell, f.item_label, f.value, f.message]
        rows.append("| " + " | ".join(str(c).replace("|", "/").replace("\n", " ") for c in cells) + " |")
    if len(findings) > MAX_ROWS_SHOWN:
        rows.append(f"| … |{' |' * (len(head) - 2)} còn {len(findings) - MAX_ROWS_SHOWN} phát hiện nữa trong "
                    "các tệp phản hồi |")
    return "\n".join(rows)


def units_markdown(results: list[IntakeResult], catalogue: Catalogue) -> str:
    """One line per unit of a batch: status, errors, warnings and its feedback file."""
    rows = ["| Đơn vị | Trạng thái | Lỗi | Cảnh báo | Tệp phản hồi |", "|---|---|---|---|---|"]
    for r in results:
        rows.append(f"| {catalogue.unit(r.unit).label} | {r.status_label} | {r.errors} | {r.warnings} | "
                    f"{r.feedback.name if r.feedback else ''} |")
    return "\n".join(rows)


@dg.asset(
    partitions_def=submission_partitions,
    group_name="tiep_nhan",
    kinds={"excel", "duckdb"},
    owners=["team:phong-ldtbxh"],
    pool="duckdb",
    description=(
        "Báo cáo của các đơn vị trong một kỳ, theo từng đơn vị (cấp huyện) hoặc gom theo huyện, tỉnh "
        "(danh sách đơn vị lớn): đọc tệp mới nhất của mỗi đơn vị trong hộp thư đến, kiểm tra theo danh mục, "
        "nạp vào kho dữ liệu DuckDB thành phiên bản mới và ghi tệp phản hồi cho đơn vị có lỗi hay cảnh báo."
    ),
    check_specs=[VALID_SUBMISSION],
)
@told
def unit_submission(context: dg.AssetExecutionContext, settings: PipelineSettings):
    keys = context.partition_key.keys_by_dimension
    catalogue, period, batch = settings.catalogue, keys[PERIOD], keys[BATCH]
    units = [u.code for u in batch_units(catalogue, period, settings.batch_level, batch)]
    name = batch_name(catalogue, settings.batch_level, batch)
    if len(units) > 1:  # a unit's run logs its result only (every log line is an event to store)
        context.log.info(f"{name}: tiếp nhận {len(units)} đơn vị kỳ {period}")
    results = take_in_batch(catalogue, settings.places, period, units, settings.now(), settings.workers)
    by_status = Counter(r.status_label for r in results)
    findings = [f for r in results for f in r.findings]
    errors, warnings = sum(r.errors for r in results), sum(r.warnings for r in results)
    for r in results:
        if r.status != VALID:
            context.log.warning(f"{catalogue.unit(r.unit).label}: {r.status_label} "
                                f"({r.errors} lỗi, {r.warnings} cảnh báo)")
    summary = ", ".join(f"{count} {label.lower()}" for label, count in by_status.items())
    context.log.info(f"{name}: {summary}")
    metadata = {
        "don_vi": name if len(units) != 1 else catalogue.unit(units[0]).label,
        "trang_thai": results[0].status_label if len(results) == 1 else summary,
        "so_don_vi": len(results),
        "so_loi": errors,
        "so_canh_bao": warnings,
        "so_gia_tri": sum(r.values for r in results),
        "nap_moi": sum(r.newly_loaded for r in results),
    }
    if len(results) == 1 and results[0].file:
        metadata["tep"] = dg.MetadataValue.path(str(results[0].file))
        metadata["ma_bam"] = results[0].file_hash
    else:
        metadata["cac_don_vi"] = dg.MetadataValue.md(units_markdown(results, catalogue))
        metadata["khong_hop_le"] = name_list([catalogue.unit(r.unit).label for r in results
                                             if r.status == INVALID]) or "Không"
    feedback = [r.feedback for r in results if r.feedback]
    if len(feedback) == 1:
        metadata["tep_phan_hoi"] = dg.MetadataValue.path(str(feedback[0]))
    yield dg.MaterializeResult(metadata=metadata)
    missing_only = errors == 0 and any(r.status == MISSING for r in results)
    yield dg.AssetCheckResult(
        check_name=CHECK_NAME,
        passed=errors == 0 and not missing_only,
        severity=dg.AssetCheckSeverity.WARN if missing_only else dg.AssetCheckSeverity.ERROR,
        description=metadata["trang_thai"],
        metadata={
            "so_loi": errors,
            "so_canh_bao": warnings,
            "phat_hien": dg.MetadataValue.md(findings_markdown(findings, with_unit=len(results) > 1)),
            **({"tep_phan_hoi": metadata["tep_phan_hoi"]} if "tep_phan_hoi" in metadata else {}),
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
@told
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
@told
def inbox_catch_up(context: dg.AssetExecutionContext, settings: PipelineSettings) -> dg.MaterializeResult:
    findings, taken = [], []
    for period in open_periods(settings.catalogue, settings.out):
        for result in catch_up(settings.catalogue, settings.places, period, settings.now(), settings.workers,
                               context.log.info):
            taken.append(f"{period} · {result.unit}: {result.status_label}")
            findings += result.findings
    for line in taken:
        context.log.info(line)
    return dg.MaterializeResult(metadata={
        "so_don_vi_tiep_nhan": len(taken),
        "tiep_nhan": "\n".join(taken) or "Không có tệp mới.",
        "phat_hien": dg.MetadataValue.md(findings_markdown(findings)),
    })
