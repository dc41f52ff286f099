"""District consolidation: every input cell summed over the current valid version of
each unit, stored as the ``district_totals`` table, with who is in and who is missing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipeline.catalogue import Catalogue
from pipeline.warehouse import connect, current_submissions, ensure_schema


@dataclass
class Consolidation:
    period: str
    totals: pd.DataFrame  # form, item, column, value (Decimal), units
    loaded_units: list[str]
    missing_units: list[str]  # valid in the period but without a valid submission


def consolidate(catalogue: Catalogue, warehouse: Path, period: str) -> Consolidation:
    with connect(warehouse) as conn:
        ensure_schema(conn, catalogue)
        conn.execute(
            """CREATE OR REPLACE TABLE district_totals AS
               SELECT period, form, item, "column", SUM(value) AS value, COUNT(DISTINCT unit) AS units
               FROM current_values GROUP BY period, form, item, "column" """
        )
        rows = conn.execute(
            """SELECT form, item, "column", value, units FROM district_totals
               WHERE period = ? ORDER BY form, item, "column" """,
            [period],
        ).fetchall()
        # Built from Python rows, not .df(), so money stays Decimal instead of float64.
        totals = pd.DataFrame(rows, columns=["form", "item", "column", "value", "units"], dtype=object)
        loaded = set(current_submissions(conn, period)["unit"])
    expected = [u.code for u in catalogue.units_in(period)]
    return Consolidation(
        period=period,
        totals=totals,
        loaded_units=[u for u in expected if u in loaded],
        missing_units=[u for u in expected if u not in loaded],
    )
