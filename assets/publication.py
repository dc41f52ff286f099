"""The district plan asset, the published Biểu (one asset per Biểu of the catalogue) with the
draft of the evaluation report, and the submission status of every unit."""

import dagster as dg

from assets.consolidation import district_consolidation
from assets.failures import told
from assets.intake import findings_markdown
from assets.resources import PipelineSettings
from pipeline.catalogue import default_catalogue
from pipeline.checking.findings import name_list
from pipeline.intake.take_in import take_in_plan
from pipeline.periods import open_periods
from pipeline.publication.publish import publish_period
from pipeline.publication.status import period_status, write_status
from pipeline.publication.tables import Report, describe
from pipeline.warehouse import connect, create_schema

PREVIEW_ROWS = 30
BIEU_KEYS = {code: dg.AssetKey(f"bieu_{code}") for code in default_catalogue().bieu}
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
        metadata[f"ky_{period}_trang_thai"] = result.status_label
        metadata[f"ky_{period}_phat_hien"] = dg.MetadataValue.md(findings_markdown(result.findings))
        if result.status != "valid":
            context.log.warning(f"Kỳ {period}: kế hoạch huyện {result.status_label.lower()}: Biểu 01 sẽ ghi "
                                "'Chưa đánh giá' cho các chỉ tiêu thiếu kế hoạch.")
    return dg.MaterializeResult(metadata=metadata)


def preview(report: Report) -> str:
    """The first table of a Biểu as markdown, numbers as printed."""
    table = report.tables[0]
    columns = table.columns
    lines = ["| " + " | ".join(c.label.replace("|", "/") for c in columns) + " |",
             "|" + "---|" * len(columns)]
    for row in table.rows[:PREVIEW_ROWS]:
        cells = []
        for column in columns:
            value = row.values.get(column.key)
            kind = row.kind if column.kind == "row" else column.kind
            cells.append(str(value or "") if column.kind == "text" else describe(value, kind))
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    if report.summary:
        lines += ["", report.summary]
    return "\n".join(lines)


@dg.multi_asset(
    specs=[
        dg.AssetSpec(key, deps=[district_consolidation, district_plan], group_name="bieu_bao_cao", kinds={"excel"},
                     owners=["team:phong-ldtbxh"], description=f"Biểu số {form} của huyện (tệp Bieu_{form}_<kỳ>.xlsx).")
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
    catalogue = settings.catalogue
    periods = open_periods(catalogue, settings.out)  # a closed period's final set is never rewritten
    metadata: dict[str, dict] = {form: {} for form in BIEU_KEYS}
    report_metadata: dict = {}
    for period in periods:
        reports, publication = publish_period(catalogue, settings.warehouse, settings.out, period,
                                              level=settings.batch_level, today=settings.now().date())
        for report in reports:
            path = publication.files[report.code]
            metadata[report.code].update({
                f"ky_{period}_tep": dg.MetadataValue.path(str(path)),
                f"ky_{period}_tai_ve": dg.MetadataValue.url(f"{settings.download_url}/tep/{period}/{path.name}"),
                f"ky_{period}_so_dong": len(report.tables[0].rows),
                f"ky_{period}_day_du": report.complete,
                f"ky_{period}_thieu": name_list([u.name for u in report.missing]) or "Không",
                f"ky_{period}_xem_truoc": dg.MetadataValue.md(preview(report)),
            })
        incomplete = list({u.code: u.name for r in reports for u in r.missing}.values())
        report_metadata.update({
            f"ky_{period}_tep": dg.MetadataValue.path(str(publication.report)),
            f"ky_{period}_tai_ve": dg.MetadataValue.url(f"{settings.download_url}/tep/{period}/{publication.report.name}"),
            f"ky_{period}_thieu": name_list(incomplete) or "Không",
        })
        context.log.info(f"Kỳ {period}: đã ghi {len(publication.files)} biểu, {publication.all_in_one.name}, "
                         f"{publication.archive.name}, {publication.report.name}")
    for form, key in BIEU_KEYS.items():
        yield dg.MaterializeResult(asset_key=key, metadata=metadata[form])
    yield dg.MaterializeResult(asset_key=REPORT_KEY, metadata=report_metadata)


@dg.asset(
    deps=[district_consolidation, publish_bieu],
    group_name="tong_hop",
    kinds={"duckdb"},
    owners=["team:phong-ldtbxh"],
    pool="duckdb",
    description="Tình trạng báo cáo của mọi đơn vị trong từng kỳ: đã nộp chưa, hợp lệ không, số lỗi, "
                "cảnh báo, phiên bản đang dùng, thời điểm nhận, đúng hạn không. Ghi status.json cho trang tải về.",
)
@told
def submission_status(context: dg.AssetExecutionContext, settings: PipelineSettings) -> dg.MaterializeResult:
    catalogue = settings.catalogue
    with connect(settings.warehouse) as conn:
        create_schema(conn)
        path = write_status(catalogue, conn, settings.out, settings.now().date())
        tables = {period: period_status(conn, catalogue, settings.out, period, settings.now().date())
                  for period in catalogue.periods}
    metadata = {"tep_trang_thai": dg.MetadataValue.path(str(path))}
    schema = dg.TableSchema(columns=[dg.TableColumn(name, type) for name, type in (
        ("ma", "string"), ("don_vi", "string"), ("trang_thai", "string"), ("loi", "int"), ("canh_bao", "int"),
        ("so_lan_nop", "int"), ("tep_moi_nhat", "string"), ("thoi_diem_nhan", "string"), ("dung_han", "string"))])
    for period, statuses in tables.items():
        records = [dg.TableRecord({
            "ma": s.code, "don_vi": s.name, "trang_thai": s.label, "loi": s.errors, "canh_bao": s.warnings,
            "so_lan_nop": s.versions, "tep_moi_nhat": s.file_name, "thoi_diem_nhan": s.received_at,
            "dung_han": {True: "Đúng hạn", False: "Trễ hạn", None: "Chưa đến hạn"}[s.on_time],
        }) for s in statuses]
        metadata[f"ky_{period}_don_vi"] = dg.MetadataValue.table(records, schema=schema)
        metadata[f"ky_{period}_hop_le"] = sum(s.state == "hop_le" for s in statuses)
        metadata[f"ky_{period}_chua_nop"] = sum(s.state == "chua_nop" for s in statuses)
    return dg.MaterializeResult(metadata=metadata)
