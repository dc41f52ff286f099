"""The review decisions in the warehouse: a copy of the records ``pipeline.review`` keeps with
the archive (the records are the truth; this table is loaded from them on every decision,
intake and rebuild), and the versions a review looks at."""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

import duckdb

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
