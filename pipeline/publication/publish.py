"""One period's publication: build the reports from the warehouse, write the workbooks."""

from __future__ import annotations

from pathlib import Path

from pipeline.catalogue import Catalogue
from pipeline.catalogue.batches import UNIT
from pipeline.publication.tables import Report, build_reports
from pipeline.publication.workbooks import Publication, publish
from pipeline.warehouse import connect, create_schema


def publish_period(catalogue: Catalogue, warehouse: Path, out: Path, period: str, final: bool = False,
                   level: str = UNIT) -> tuple[list[Report], Publication]:
    """The Biểu of a period into ``out/<period>/`` (``out/<period>/chinh-thuc/`` when final),
    with a row per unit, or per district or province (``level``) in the per-unit tables."""
    with connect(warehouse) as conn:
        create_schema(conn)
        reports = build_reports(catalogue, conn, period, level)
    folder = out / period / ("chinh-thuc" if final else "")
    return reports, publish(catalogue, reports, folder, final)
