"""District consolidation: the current valid version of each unit summed for the district
(the same figures the Biểu are built from), the headline figures the catalogue declares
(``headline`` in district.toml), and who is in and who is missing."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from pipeline.catalogue import Catalogue, Headline
from pipeline.publication.tables import Figures
from pipeline.settings import WAIT_SECONDS
from pipeline.warehouse import connect, create_schema, current_submissions


@dataclass
class Consolidation:
    period: str
    figures: Figures  # every cell summed per unit and for the district
    headline: list[tuple[Headline, Decimal | None]]  # the district's headline figures
    loaded_units: list[str]
    missing_units: list[str]  # valid in the period but without a valid submission


def consolidate(catalogue: Catalogue, warehouse: Path, period: str, wait_seconds: float = WAIT_SECONDS) -> Consolidation:
    catalogue = catalogue.for_period(period)  # the forms and headline of the period's form set
    with connect(warehouse, wait_seconds=wait_seconds) as conn:
        create_schema(conn)
        figures = Figures(conn, catalogue, period)
        loaded = set(current_submissions(conn, period)["unit"])
    expected = [u.code for u in catalogue.units_in(period)]
    return Consolidation(
        period=period,
        figures=figures,
        headline=[(h, figures.value(h.ref)) for h in catalogue.headline],
        loaded_units=[u for u in expected if u in loaded],
        missing_units=[u for u in expected if u not in loaded],
    )
