"""The review decisions in the warehouse: a copy of the records ``pipeline.review`` keeps with
the archive (the records are the truth; this table is loaded from them on every decision,
intake and rebuild), and the versions a review looks at."""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

import duckdb

from pipeline.catalogue import Ref
from pipeline.states import Verdict

DECISIONS_SCHEMA = """
CREATE TABLE IF NOT EXISTS review_decisions (
    decision_id VARCHAR PRIMARY KEY, seq BIGINT NOT NULL, period VARCHAR NOT NULL, unit VARCHAR NOT NULL,
    action VARCHAR NOT NULL, state VARCHAR NOT NULL, file_hash VARCHAR NOT NULL, file_name VARCHAR NOT NULL,
    decided_by VARCHAR NOT NULL, role VARCHAR NOT NULL, decided_at TIMESTAMP NOT NULL, comment VARCHAR NOT NULL
);
"""
DECISION_COLUMNS = ["decision_id", "seq", "period", "unit", "action", "state", "file_hash", "file_name",
                    "decided_by", "role", "decided_at", "comment"]


def decision_ids(conn: duckdb.DuckDBPyConnection, period: str) -> set[str]:
    return {i for (i,) in conn.execute("SELECT decision_id FROM review_decisions WHERE period = ?", [period]).fetchall()}


def load_decisions(conn: duckdb.DuckDBPyConnection, rows: list[tuple]) -> None:
    """Add decision rows (in ``DECISION_COLUMNS`` order) not loaded yet, in one transaction."""
    if not rows:
        return
    conn.execute("BEGIN")
    try:
        conn.executemany(f"INSERT INTO review_decisions ({', '.join(DECISION_COLUMNS)}) VALUES "
                         f"({', '.join('?' * len(DECISION_COLUMNS))}) ON CONFLICT DO NOTHING", rows)
        conn.execute("COMMIT")
    except Exception:
        conn.execute("ROLLBACK")
        raise


def period_decisions(conn: duckdb.DuckDBPyConnection, period: str) -> list[tuple]:
    """The period's decision rows (``DECISION_COLUMNS``), in the order they were taken."""
    return conn.execute(f"SELECT {', '.join(DECISION_COLUMNS)} FROM review_decisions WHERE period = ? ORDER BY seq",
                        [period]).fetchall()


class ReviewedVersion(NamedTuple):
    """A unit's version in use (None when it has no valid one) and whether a file with errors
    came after it."""

    file_hash: str | None
    file_name: str | None
    received_at: dt.datetime | None
    newer_invalid: bool


def reviewed_versions(conn: duckdb.DuckDBPyConnection, period: str) -> dict[str, ReviewedVersion]:
    """Every unit that sent something for the period (the plan's unit "" included)."""
    rows = conn.execute(
        """-- DuckDB: arg_max(x, t) is x of the row with the largest t
           SELECT unit, MAX(CASE WHEN is_current THEN file_hash END), MAX(CASE WHEN is_current THEN file_name END),
                  MAX(CASE WHEN is_current THEN received_at END), arg_max(status, received_at) = ?
                  AND MAX(received_at) > COALESCE(MAX(CASE WHEN is_current THEN received_at END), TIMESTAMP '0001-01-01')
           FROM submissions WHERE period = ? GROUP BY unit""",
        [Verdict.INVALID, period]).fetchall()
    return {unit: ReviewedVersion(*rest) for unit, *rest in rows}


def current_and_previous_version(conn: duckdb.DuckDBPyConnection, period: str, unit: str) -> tuple[dict, dict]:
    """The figures (``Ref`` -> value) of the unit's version in use and of its valid version
    received before it in the period (empty when there is none)."""
    rows = conn.execute(
        """WITH used AS (SELECT received_at FROM submissions WHERE period = ? AND unit = ? AND is_current),
                earlier AS (SELECT submission_id FROM submissions, used
                            WHERE period = ? AND unit = ? AND status = ? AND submissions.received_at < used.received_at
                            ORDER BY submissions.received_at DESC LIMIT 1)
           SELECT s.is_current, v.form, v.item, v."column", v.value
           FROM submission_values v JOIN submissions s USING (submission_id)
           WHERE v.value IS NOT NULL AND (s.period = ? AND s.unit = ? AND s.is_current
                                          OR v.submission_id IN (SELECT submission_id FROM earlier))""",
        [period, unit, period, unit, Verdict.VALID, period, unit]).fetchall()
    now: dict = {}
    before: dict = {}
    for current, form, item, column, value in rows:
        (now if current else before)[Ref(form, item, column)] = value
    return now, before


def version_findings(conn: duckdb.DuckDBPyConnection, period: str, unit: str) -> list[dict]:
    """The findings of the unit's version in use (as ``Finding``'s fields)."""
    columns = ["severity", "code", "form", "sheet", "cell", "item", "item_label", "value", "message"]
    rows = conn.execute(
        f"""SELECT {', '.join('f.' + c for c in columns)} FROM findings f JOIN submissions s USING (submission_id)
            WHERE s.period = ? AND s.unit = ? AND s.is_current""",
        [period, unit]).fetchall()
    return [{k: v or "" for k, v in zip(columns, row)} for row in rows]
