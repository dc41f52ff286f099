"""Tables shown in the Dagster UI: findings, a batch's units, the unidentified files, a Biểu's
preview and the unit list, as table metadata (``dg.MetadataValue.table`` with a
``TableSchema``). The UI writes a table cell as plain text, so nothing a unit typed in a cell
(a Markdown link or image, a "|") becomes a link, an image or a broken table, as it would in
a Markdown value. Files are named by their route on the download page ("/tep/2023/…"), not
by an absolute address that a run would freeze: the page's address is the code location's
(``page_metadata``), read from the settings each time the location loads."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote, unquote

import dagster as dg

from pipeline.checking.report import FindingsReport
from pipeline.publication.status import Unidentified, UnitStatus

MAX_ROWS_SHOWN = 200
PREVIEW_ROWS = 30  # of a Biểu's first table
PAGE_LABEL = "Trang tải về"


def table(columns: Sequence[str], rows: Sequence[Sequence[str | int | float | None]]) -> dg.TableMetadataValue:
    """A table of ``rows`` under ``columns`` (column names are unique); numbers stay numbers."""
    kinds = [("int" if all(isinstance(row[i], int) for row in rows) and rows else "string") for i in range(len(columns))]
    schema = dg.TableSchema(columns=[dg.TableColumn(name, kind) for name, kind in zip(columns, kinds)])
    return dg.MetadataValue.table([dg.TableRecord(dict(zip(columns, row))) for row in rows], schema=schema)


def unique(names: Sequence[str]) -> list[str]:
    """Column names made unique ("Số hộ", "Số hộ (2)"): a record maps each name to one value."""
    seen: dict[str, int] = {}
    result = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        result.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return result


def page_route(period: str, relative: str = "") -> str:
    """The route of a period's file on the download page (``relative`` to out/<period>/), or of
    the period's page: "/tep/2023/phan-hoi/phan-hoi-03253-2023.xlsx"."""
    return f"/tep/{quote(period)}/{quote(relative)}" if relative else f"/ky/{quote(period)}"


def officer_route(period: str, name: str) -> str:
    """The route of a file of the period served to officers only (the report's draft)."""
    return f"/can-bo/tep/{quote(period)}/{quote(name)}"


def route_name(route: str) -> str:
    """The file name a route ends with (``page_route``'s last part)."""
    return unquote(route.rpartition("/")[2])


def page_metadata(download_url: str) -> dict:
    """The download page's address as the settings give it now: the definitions' metadata,
    rebuilt whenever the code location loads, so a moved page is never a dead stored link."""
    return {PAGE_LABEL: dg.MetadataValue.url(download_url.rstrip("/") + "/")}


def findings_table(report: FindingsReport, limit: int = MAX_ROWS_SHOWN) -> dg.MetadataValue:
    """The findings, one row each (the first ``limit``), or a line saying there are none."""
    if not report.findings:
        return dg.MetadataValue.text("Không có lỗi hay cảnh báo.")
    rows = report.flatten()[:limit]
    if len(report.findings) > limit:
        rows.append(["…"] * (len(report.columns) - 1)
                    + [f"còn {len(report.findings) - limit} phát hiện nữa trong các tệp phản hồi"])
    return table(report.headers, rows)


def units_table(statuses: list[UnitStatus], period: str) -> dg.TableMetadataValue:
    """A batch's units: code, name, state, counts and the route of the feedback workbook."""
    return table(("Mã", "Đơn vị", "Trạng thái", "Lỗi", "Cảnh báo", "Tệp phản hồi"),
                 [(s.code, s.name, s.label, s.errors, s.warnings, page_route(period, s.feedback) if s.feedback else "")
                  for s in statuses])


def unidentified_table(files: list[Unidentified], period: str) -> dg.TableMetadataValue:
    return table(("Tệp", "Lý do", "Nhận lúc", "Tệp phản hồi"),
                 [(f.file_name, f.reason, f.received_at, page_route(period, f.feedback) if f.feedback else "")
                  for f in files[:MAX_ROWS_SHOWN]])
