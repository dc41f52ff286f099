"""The district plan asset, the published Biểu (one asset per Biểu of the catalogue) with the
draft of the evaluation report, and the submission status of every unit. The Biểu and the
status follow every consolidation by their automation condition (``assets.automation``)."""

import dagster as dg

from assets.automation import FOLLOWS_UPSTREAM
from assets.consolidation import district_consolidation
from assets.failures import told
from assets.resources import PipelineSettings, period_label
from assets.tables import PREVIEW_ROWS, findings_table, officer_route, page_route, table, unique
from pipeline.catalogue import default_catalogue
from pipeline.checking.report import FindingsReport
from pipeline.text import name_list
from pipeline.intake.take_in import take_in_plan
from pipeline.locking import shared_lock
from pipeline.periods import open_periods
from pipeline.publication.publish import publish_period
from pipeline.publication.status import STATUS_FILE, plan_label, write_intake_status
from pipeline.publication.tables import Report, describe
from pipeline.publication.workbooks import Publication
from pipeline.states import SubmissionState
from pipeline.warehouse import connect, create_schema

BIEU_KEYS = {code: dg.AssetKey(f"bieu_{code}") for code in default_catalogue().every_bieu()}  # of every form set
BIEU_SPAN = default_catalogue().bieu_span.replace("-", "–")
REPORT_KEY = dg.AssetKey("bao_cao_danh_gia")


@dg.asset(
    group_name="tiep_nhan",
    kinds={"excel", "duckdb"},
    owners=["team:phong-ldtbxh"],
    pool="duckdb",
    description="Kế hoạch năm của huyện (mẫu kế hoạch trong hộp thư đến): chỉ tiêu nào được đánh giá, "
                "giá trị kế hoạch và kết quả năm trước, dùng cho Biểu 01.",
)
@told
def district_plan(context: dg.AssetExecutionContext, settings: PipelineSettings) -> dg.MaterializeResult:
    metadata = {}
    for period in open_periods(settings.catalogue, settings.out):
        result = take_in_plan(settings.catalogue, settings.places, period, settings.now())
        with connect(settings.warehouse, wait_seconds=settings.wait_seconds) as conn:
            create_schema(conn)
            in_use, label = plan_label(conn, period)
        metadata[period_label(period, "Trạng thái")] = label
        if result.file is not None:
            metadata[period_label(period, "Phát hiện")] = findings_table(FindingsReport(result.findings))
        if not in_use:
            context.log.warning(f"Kỳ {period}: kế hoạch huyện {label[0].lower() + label[1:]}: Biểu 01 sẽ ghi "
                                "'Chưa đánh giá' cho các chỉ tiêu thiếu kế hoạch.")
    return dg.MaterializeResult(metadata=metadata)


def preview(report: Report) -> dg.TableMetadataValue:
    """The first rows of a Biểu's first table, numbers as printed."""
    first = report.tables[0]
    rows = []
    for row in first.rows[:PREVIEW_ROWS]:
        kinds = [row.kind if column.kind == "row" else column.kind for column in first.columns]
        rows.append([str(row.values.get(c.key) or "") if kind == "text" else describe(row.values.get(c.key), kind)
                     for c, kind in zip(first.columns, kinds)])
    return table(unique([c.label for c in first.columns]), rows)


def _pdf_metadata(period: str, publication: Publication, code: str) -> dict:
    """The routes of a Biểu's print-ready PDF and of the set's all-in-one PDF, or why there are none."""
    if code in publication.pdfs and publication.all_in_one_pdf is not None:
        return {period_label(period, "Bản PDF để in"): page_route(period, publication.pdfs[code].name),
                period_label(period, f"Bộ PDF Biểu {BIEU_SPAN}"): page_route(period, publication.all_in_one_pdf.name)}
    return {period_label(period, "Bản PDF để in"): publication.pdf_note} if publication.pdf_note else {}


@dg.multi_asset(
    specs=[
        dg.AssetSpec(key, deps=[district_consolidation, district_plan], group_name="bieu_bao_cao", kinds={"excel"},
                     owners=["team:phong-ldtbxh"], description=f"Biểu số {form} của huyện (tệp Bieu_{form}_<kỳ>.xlsx).",
                     automation_condition=FOLLOWS_UPSTREAM)
        for form, key in BIEU_KEYS.items()
    ] + [
        dg.AssetSpec(REPORT_KEY, deps=[district_consolidation, district_plan], group_name="bieu_bao_cao",
                     kinds={"docx"}, owners=["team:phong-ldtbxh"],
                     description="Dự thảo báo cáo đánh giá (tệp Bao_cao_danh_gia_<kỳ>.docx): các câu có số liệu ghi từ "
                                 "chính các Biểu, ghi lại cùng bộ biểu; các phần còn lại do cán bộ soạn thảo viết."),
    ],
    pool="duckdb",
    name="publish_bieu",
    description=f"Tính Biểu {BIEU_SPAN} từ phiên bản hợp lệ mới nhất của từng đơn vị, ghi các tệp Excel chính thức "
                "và dự thảo báo cáo đánh giá.",
)
@told
def publish_bieu(context: dg.AssetExecutionContext, settings: PipelineSettings):
    metadata: dict[str, dict] = {form: {} for form in BIEU_KEYS}
    report_metadata: dict = {}
    with shared_lock(settings.places.data):  # close-period waits: it never freezes a set being replaced
        _publish_open_periods(context, settings, metadata, report_metadata)
    for form, key in BIEU_KEYS.items():
        yield dg.MaterializeResult(asset_key=key, metadata=metadata[form])
    yield dg.MaterializeResult(asset_key=REPORT_KEY, metadata=report_metadata)


def _publish_open_periods(context: dg.AssetExecutionContext, settings: PipelineSettings, metadata: dict[str, dict],
                          report_metadata: dict) -> None:
    catalogue = settings.catalogue
    for period in open_periods(catalogue, settings.out):  # a closed period's final set is never rewritten
        reports, publication = publish_period(catalogue, settings.warehouse, settings.out, period,
                                              level=settings.batch_level, today=settings.now().date(),
                                              office=settings.office, wait_seconds=settings.wait_seconds)
        for report in reports:
            path = publication.files[report.code]
            metadata[report.code].update({
                period_label(period, "Tải về"): page_route(period, path.name),
                **_pdf_metadata(period, publication, report.code),
                period_label(period, "Số dòng"): len(report.tables[0].rows),
                period_label(period, "Đầy đủ"): "Có" if report.complete else "Chưa",
                period_label(period, "Còn thiếu"): name_list([u.name for u in report.missing]) or "Không",
                period_label(period, "Xem trước"): preview(report),
                **({period_label(period, "Tóm tắt"): report.summary} if report.summary else {}),
            })
        incomplete = list({u.code: u.name for r in reports for u in r.missing}.values())
        report_metadata.update({
            period_label(period, "Tải về"): officer_route(period, publication.report.name),
            period_label(period, "Còn thiếu"): name_list(incomplete) or "Không",
        })
        context.log.info(f"Kỳ {period}: đã ghi {len(publication.files)} biểu, {publication.all_in_one.name}, "
                         f"{publication.archive.name}, {publication.report.name}"
                         + (f", {len(publication.pdfs) + 1} bản PDF" if publication.all_in_one_pdf else ""))
        if publication.pdf_note:
            context.log.warning(f"Kỳ {period}: {publication.pdf_note}")


@dg.asset(
    deps=[district_consolidation, publish_bieu],
    group_name="tong_hop",
    kinds={"duckdb"},
    owners=["team:phong-ldtbxh"],
    pool="duckdb",
    automation_condition=FOLLOWS_UPSTREAM,
    description="Tình trạng báo cáo của mọi đơn vị trong từng kỳ: đã nộp chưa, hợp lệ không, số lỗi, "
                "cảnh báo, phiên bản đang dùng, thời điểm nhận, đúng hạn không. Ghi status.json cho trang tải về.",
)
@told
def submission_status(context: dg.AssetExecutionContext, settings: PipelineSettings) -> dg.MaterializeResult:
    catalogue = settings.catalogue
    today = settings.now().date()
    with shared_lock(settings.places.data), connect(settings.warehouse, wait_seconds=settings.wait_seconds) as conn:
        create_schema(conn)
        tables = {period: write_intake_status(catalogue, conn, settings.places, period, today)
                  for period in catalogue.periods}
    metadata = {}
    columns = ("Mã", "Đơn vị", "Trạng thái", "Lỗi", "Cảnh báo", "Số lần nộp", "Tệp mới nhất", "Nhận lúc", "Đúng hạn",
               "Xét duyệt")
    for period, statuses in tables.items():
        metadata[period_label(period, "Các đơn vị")] = table(columns, [(
            s.code, s.name, s.label, s.errors, s.warnings, s.versions, s.file_name, s.received_at,
            {True: "Đúng hạn", False: "Trễ hạn", None: "Chưa đến hạn"}[s.on_time], s.review_label) for s in statuses])
        for state in SubmissionState:
            metadata[period_label(period, state.label)] = sum(s.state == state for s in statuses)
    context.log.info(f"Đã ghi {STATUS_FILE}: " + ", ".join(
        f"kỳ {period} {sum(s.state == SubmissionState.VALID for s in statuses)} đơn vị hợp lệ" for period, statuses in tables.items()))
    return dg.MaterializeResult(metadata=metadata)
