"""Submission assets: one partition per (period, unit) or (period, batch of units), with a
non-blocking check whose metadata lists every unit's findings: an invalid unit is a recorded
result (the consolidation reads only valid versions), not a failed run: its check fails with
severity ERROR, and the run carries the unit's name and its result as tags, so the catalogue
and the run list both show it. A burst of files (many units of a period at a sensor tick) is
taken in by one run of ``inbox_catch_up`` that logs each unit's materialization and check
result on the unit's own partition (``log_partitions``). Each intake writes the period's units as they are now for
the download page. Metadata labels are Vietnamese words; tables are table metadata and files
their routes on the download page (``assets.tables``)."""

import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import dagster as dg
from dagster._core.definitions.asset_checks.asset_check_evaluation import (  # not exported by name in Dagster 1.13
    AssetCheckEvaluationTargetMaterializationData,
)

from assets.failures import told
from assets.partitions import PERIOD, submission_key
from assets.resources import PipelineSettings
from assets.tables import findings_table, page_route, unidentified_table, units_table
from pipeline.catalogue.batches import batch_key, batch_name, batch_units
from pipeline.checking.report import FindingsReport
from pipeline.text import name_list
from pipeline.intake.take_in import IntakeResult, catch_up, take_in_batch, unidentified_files
from pipeline.periods import open_periods
from pipeline.publication.status import Unidentified, UnitStatus, write_intake_status, write_unidentified
from pipeline.settings import shown_time
from pipeline.states import ArrivalState, SubmissionState
from pipeline.warehouse import connect, create_schema

CHECK_NAME = "valid_submission"
STATE_TAG = "tuangiao/trang_thai"  # on each materialization: a SubmissionState (hop_le, khong_hop_le or chua_nop)
UNIT_TAG = "tuangiao/don_vi"  # on each intake run: the unit's (or batch's) name beside its code, as the run list shows it
RESULT_TAG = "tuangiao/ket_qua"  # on each intake run: the batch's worst state in words ("Không hợp lệ")

SUBMISSION = dg.AssetKey("unit_submission")  # its partitions come with the settings: ``submission_asset``


def write_period_status(settings: PipelineSettings, period: str) -> list[UnitStatus]:
    """The period's units as they are now, written for the download page after an intake."""
    with connect(settings.warehouse, wait_seconds=settings.wait_seconds) as conn:
        create_schema(conn)
        return write_intake_status(settings.catalogue, conn, settings.places, period, settings.now().date())


def submission_asset(partitions: dg.MultiPartitionsDefinition, names: dg.TableMetadataValue) -> dg.AssetsDefinition:
    """``unit_submission`` and its check over ``partitions``, their keys ``names`` (``assets.partitions``)."""
    with warnings.catch_warnings():
        # Partitioned asset checks are "preview" in Dagster 1.13; they are what lets the UI show
        # each unit's check result on its own partition.
        warnings.simplefilter("ignore", dg.PreviewWarning)
        check = dg.AssetCheckSpec(
            CHECK_NAME, asset=SUBMISSION, blocking=False, partitions_def=partitions,
            description="Báo cáo hợp lệ: không có lỗi nào (cảnh báo không chặn). Đơn vị không hợp lệ vẫn được ghi "
                        "nhận; phần tổng hợp chỉ dùng phiên bản hợp lệ. Bảng phát hiện nằm trong metadata.",
        )
    return dg.asset(
        key=SUBMISSION,
        partitions_def=partitions,
        group_name="tiep_nhan",
        kinds={"excel", "duckdb"},
        owners=["team:phong-ldtbxh"],
        pool="duckdb",
        description=(
            "Báo cáo của các đơn vị trong một kỳ, theo từng đơn vị (cấp huyện) hoặc gom theo huyện, tỉnh "
            "(danh sách đơn vị lớn): đọc tệp mới nhất của mỗi đơn vị trong hộp thư đến, kiểm tra theo danh mục, "
            "nạp vào kho dữ liệu DuckDB thành phiên bản mới và ghi tệp phản hồi cho đơn vị có lỗi hay cảnh báo. "
            "Đơn vị không có tệp mới giữ nguyên trạng thái theo phiên bản đã nạp."
        ),
        check_specs=[check],
        metadata={"Các phân vùng": names},
    )(told(take_in_partition))


def take_in_partition(context: dg.AssetExecutionContext, settings: PipelineSettings):
    """The body of ``unit_submission``: the partition's units taken in, their states and findings."""
    keys = context.partition_key.keys_by_dimension
    catalogue, period, batch = settings.catalogue, keys[PERIOD], keys[settings.batch_level]
    units = [u.code for u in batch_units(catalogue, period, settings.batch_level, batch)]
    name = batch_name(catalogue, settings.batch_level, batch)
    if len(units) > 1:  # a unit's run logs its result only (every log line is an event to store)
        context.log.info(f"{name}: tiếp nhận {len(units)} đơn vị kỳ {period}")
    results = take_in_batch(catalogue, settings.places, period, units, settings.now(), settings.workers)
    now = {s.code: s for s in write_period_status(settings, period)}
    outcome = partition_outcome(context, period, name, [now[u] for u in units], results)
    # The run list shows these beside the partition's code; a click on the result lists the runs with
    # the same ("Không hợp lệ"): what a "Failed" tab would, while the run itself succeeded.
    context.instance.add_run_tags(context.run.run_id, {UNIT_TAG: outcome.unit, RESULT_TAG: outcome.result})
    yield dg.MaterializeResult(metadata=outcome.metadata, tags={STATE_TAG: outcome.state.value})
    yield dg.AssetCheckResult(check_name=CHECK_NAME, **outcome.check)


@dataclass
class Outcome:
    """A partition's result: its materialization's metadata and state, its check's fields, and
    its run tags' words (``UNIT_TAG``, ``RESULT_TAG``)."""
    metadata: dict
    state: SubmissionState
    check: dict
    unit: str
    closed: str  # "" or the words saying a file came after the period was closed

    @property
    def result(self) -> str:
        return self.closed or self.state.label


def units_tag(period: str, names: list[str]) -> str:
    """``UNIT_TAG`` of a run over the partitions ``names`` (each "code – name"): the one, or
    their count with the first few, as the run list shows it."""
    return names[0] if len(names) == 1 else f"{len(names)} đơn vị kỳ {period}: {name_list(names, limit=3)}"


def worst(outcomes: list[Outcome]) -> str:
    """``RESULT_TAG`` of a run over many partitions: a closed period, else the worst state."""
    closed = [o.closed for o in outcomes if o.closed]
    states = {o.state for o in outcomes}
    return closed[0] if closed else next((s for s in (SubmissionState.INVALID, SubmissionState.MISSING) if s in states),
                                         SubmissionState.VALID).label


def partition_outcome(context: dg.AssetExecutionContext, period: str, name: str, statuses: list[UnitStatus],
                      results: list[IntakeResult]) -> Outcome:
    """What a partition's intake records: ``statuses`` are its units as they are now (a unit
    without a new file keeps its state), ``results`` what this intake did; the units' faults
    are logged."""
    findings = [f for r in results for f in r.findings]
    for s in statuses:
        if s.state != SubmissionState.VALID:
            context.log.warning(f"{s.code} – {s.name}: {s.label} ({s.errors} lỗi, {s.warnings} cảnh báo)")
    summary = ", ".join(f"{count} {label.lower()}" for label, count in Counter(s.label for s in statuses).items())
    context.log.info(f"{name}: {summary}")
    errors, warnings_ = sum(s.errors for s in statuses), sum(s.warnings for s in statuses)
    metadata = {
        "Đơn vị": name if len(statuses) != 1 else f"{statuses[0].code} – {statuses[0].name}",
        "Trạng thái": statuses[0].label if len(statuses) == 1 else summary,
        "Số đơn vị": len(statuses),
        "Số lỗi": errors,
        "Số cảnh báo": warnings_,
        "Số giá trị đã đọc": sum(r.values for r in results),
        "Số phiên bản mới nạp": sum(r.newly_loaded for r in results),
    }
    if len(statuses) == 1:
        unit = statuses[0]
        if unit.file_name:
            metadata["Tệp mới nhất"] = unit.file_name
            metadata["Nhận lúc"] = unit.received_at
        if unit.using:
            metadata["Tệp đang dùng"] = unit.using
        if results and results[0].file_hash:
            metadata["Mã băm (SHA-256)"] = results[0].file_hash
        if unit.feedback:
            metadata["Tệp phản hồi"] = page_route(period, unit.feedback)
        metadata["Xét duyệt"] = unit.review_label
    else:
        metadata["Các đơn vị"] = units_table(statuses, period)
        metadata["Không hợp lệ"] = name_list([f"{s.code} – {s.name}" for s in statuses
                                              if s.state == SubmissionState.INVALID]) or "Không"
    invalid = any(s.state == SubmissionState.INVALID for s in statuses)
    missing = any(s.state == SubmissionState.MISSING for s in statuses)
    state = (SubmissionState.INVALID if invalid else SubmissionState.MISSING if missing
             else SubmissionState.VALID)  # the batch's worst
    closed = any(r.status == ArrivalState.CLOSED for r in results)  # a file refused: the period is closed
    check = {
        "passed": state == SubmissionState.VALID and not closed,
        "severity": dg.AssetCheckSeverity.ERROR if invalid or closed else dg.AssetCheckSeverity.WARN,
        "description": f"{metadata['Đơn vị']}: {metadata['Trạng thái']}",
        "metadata": {
            "Số lỗi": errors,
            "Số cảnh báo": warnings_,
            "Phát hiện": findings_table(FindingsReport(findings, with_unit=len(statuses) > 1)),
            **({"Tệp phản hồi": metadata["Tệp phản hồi"]} if "Tệp phản hồi" in metadata else {}),
        },
    }
    return Outcome(metadata, state, check, metadata["Đơn vị"], f"Kỳ {period} đã khóa sổ" if closed else "")


def log_partitions(context: dg.AssetExecutionContext, settings: PipelineSettings, period: str,
                   results: list[IntakeResult], outcomes: list[Outcome]) -> Iterator[dg.AssetMaterialization]:
    """For an intake of many partitions in one run (``inbox_catch_up``): each partition of
    ``unit_submission`` whose units ``results`` took in gets its own materialization (yielded:
    Dagster stores it before this goes on) and then its check evaluation, tied to that
    materialization as its own run would tie it, so its status, check result, history and
    findings stay its own in the UI. Each partition's ``Outcome`` is added to ``outcomes``."""
    catalogue, level = settings.catalogue, settings.batch_level
    now = {s.code: s for s in write_period_status(settings, period)}
    taken: dict[str, list[IntakeResult]] = {}
    for result in results:
        taken.setdefault(batch_key(catalogue.find_unit_for(result.unit, period), level), []).append(result)
    checks = []
    for batch, mine in taken.items():
        units = [u.code for u in batch_units(catalogue, period, level, batch)]
        outcome = partition_outcome(context, period, batch_name(catalogue, level, batch), [now[u] for u in units], mine)
        key = submission_key(period, batch, level)
        yield dg.AssetMaterialization(SUBMISSION, partition=key, metadata=outcome.metadata,
                                      tags={STATE_TAG: outcome.state.value})
        checks.append((key, outcome))
        outcomes.append(outcome)
    for key, outcome in checks:
        [stored] = context.instance.fetch_materializations(
            dg.AssetRecordsFilter(SUBMISSION, asset_partitions=[key]), limit=1, ascending=False).records
        # Without its target, Dagster would not count the result as the partition's check status.
        target = AssetCheckEvaluationTargetMaterializationData(
            storage_id=stored.storage_id, run_id=stored.run_id, timestamp=stored.timestamp)
        context.log_event(dg.AssetCheckEvaluation(SUBMISSION, CHECK_NAME, partition=key, target_materialization_data=target,
                                                  **outcome.check))


@dg.asset(
    group_name="tiep_nhan",
    kinds={"excel"},
    owners=["team:phong-ldtbxh"],
    description=(
        "Tệp trong hộp thư đến không xác định được đơn vị (không phải bảng tính, tệp hỏng, "
        "tệp độc hại, không có sheet Thông tin, mã đơn vị không có trong danh mục…): mỗi tệp kèm lý do, "
        "thời điểm nhận và tệp phản hồi, liệt kê cả trên trang tải về."
    ),
)
@told
def unidentified_submissions(context: dg.AssetExecutionContext, settings: PipelineSettings) -> dg.MaterializeResult:
    catalogue = settings.catalogue
    metadata = {}
    total = 0
    for period in open_periods(catalogue, settings.out):
        files = []
        for item in unidentified_files(catalogue, settings.places, period, settings.now()):
            reasons = [f.message for f in item.result.findings if f.is_error] or [f.message for f in item.result.findings]
            files.append(Unidentified(item.result.path.name, " ".join(reasons), shown_time(item.received_at),
                                      f"phan-hoi/{item.feedback.name}"))
            for reason in reasons:
                context.log.warning(f"{item.result.path.name}: {reason}")
        write_unidentified(settings.out, period, files)
        total += len(files)
        if files:
            metadata[f"Kỳ {period} · Tệp không xác định được đơn vị"] = unidentified_table(files, period)
    return dg.MaterializeResult(metadata={"Số tệp": total, **metadata})


class Arrivals(dg.Config):
    """The units whose files the inbox sensor saw arrive in a period; none: every unit of the
    open periods whose latest inbox file is not taken in yet (the nightly catch-up)."""
    period: str = ""
    units: list[str] = []


@dg.asset(
    group_name="tiep_nhan",
    kinds={"excel", "duckdb"},
    owners=["team:phong-ldtbxh"],
    pool="duckdb",
    description="Tiếp nhận trong một lượt chạy mọi tệp mới của hộp thư đến: các đơn vị cảm biến vừa thấy tệp mới "
                "(một lượt cho mỗi kỳ, dù nhiều đơn vị nộp cùng lúc), hoặc, khi tổng hợp ban đêm, mọi đơn vị có tệp "
                "chưa được tiếp nhận (đơn vị đã cập nhật thì không kiểm tra lại). Mỗi đơn vị vẫn được ghi nhận trên "
                "phân vùng riêng của unit_submission: trạng thái, kết quả kiểm tra, phát hiện và lịch sử.",
)
@told
def inbox_catch_up(context: dg.AssetExecutionContext, settings: PipelineSettings, config: Arrivals):
    findings, taken, outcomes = [], [], []
    if config.units:
        context.log.info(f"Kỳ {config.period}: tiếp nhận {len(config.units)} đơn vị có tệp mới")
        periods = {config.period: take_in_batch(settings.catalogue, settings.places, config.period, config.units,
                                                settings.now(), settings.workers)}
    else:
        periods = {period: catch_up(settings.catalogue, settings.places, period, settings.now(), settings.workers,
                                    context.log.info) for period in open_periods(settings.catalogue, settings.out)}
    for period, results in periods.items():
        for result in results:
            taken.append(f"{period} · {result.unit}: {result.status_label}")
            findings += result.findings
        yield from log_partitions(context, settings, period, results, outcomes)
    if config.units:
        context.instance.add_run_tags(context.run.run_id, {
            UNIT_TAG: units_tag(config.period, [o.unit for o in outcomes]),
            RESULT_TAG: worst(outcomes)})
    yield dg.MaterializeResult(metadata={
        "Số đơn vị tiếp nhận": len(taken),
        "Tiếp nhận": "\n".join(taken) or "Không có tệp mới.",
        "Phát hiện": findings_table(FindingsReport(findings)),
    })
