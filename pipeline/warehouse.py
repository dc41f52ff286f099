"""The DuckDB warehouse: schema, loading a submission as a new version, and queries.

Each received file is a version of a unit's submission for a period (identified by
content hash). Loading the same file twice changes nothing; a valid version becomes the
current one for consolidation in one transaction, while an invalid one never replaces
the last valid version. Money is DECIMAL(18,3), never floating point.
"""

from __future__ import annotations

import datetime as dt
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from pipeline.catalogue import Catalogue, Ref
from pipeline.findings import Finding, counts
from pipeline.reader import Submission

LOCK_RETRIES = 50
LOCK_WAIT_SECONDS = 0.2

SCHEMA = """
CREATE TABLE IF NOT EXISTS units (
    code VARCHAR PRIMARY KEY, name VARCHAR, kind VARCHAR, area VARCHAR,
    district_code VARCHAR, province_code VARCHAR, valid_from VARCHAR, valid_to VARCHAR, position INTEGER
);
CREATE TABLE IF NOT EXISTS periods (
    key VARCHAR PRIMARY KEY, label VARCHAR, report_date DATE, deadline DATE, state VARCHAR
);
CREATE SEQUENCE IF NOT EXISTS submission_ids;
CREATE TABLE IF NOT EXISTS submissions (
    submission_id BIGINT PRIMARY KEY DEFAULT nextval('submission_ids'),
    period VARCHAR NOT NULL, unit VARCHAR NOT NULL, file_name VARCHAR NOT NULL,
    file_hash VARCHAR NOT NULL, received_at TIMESTAMP NOT NULL, archived_path VARCHAR, template_version VARCHAR,
    status VARCHAR NOT NULL, errors INTEGER NOT NULL, warnings INTEGER NOT NULL,
    is_current BOOLEAN NOT NULL DEFAULT FALSE,
    UNIQUE (period, unit, file_hash)
);
CREATE TABLE IF NOT EXISTS submission_values (
    submission_id BIGINT NOT NULL, period VARCHAR NOT NULL, unit VARCHAR NOT NULL,
    form VARCHAR NOT NULL, item VARCHAR NOT NULL, "column" VARCHAR NOT NULL,
    value DECIMAL(18,3), sheet VARCHAR, cell VARCHAR
);
CREATE TABLE IF NOT EXISTS findings (
    submission_id BIGINT NOT NULL, severity VARCHAR NOT NULL, code VARCHAR NOT NULL,
    form VARCHAR, sheet VARCHAR, cell VARCHAR, item VARCHAR, item_label VARCHAR, value VARCHAR,
    message VARCHAR NOT NULL
);
CREATE OR REPLACE VIEW current_values AS
    SELECT v.* , s.file_name, s.file_hash, s.received_at
    FROM submission_values v JOIN submissions s USING (submission_id)
    WHERE s.is_current;
CREATE OR REPLACE VIEW lineage AS
    SELECT c.period, c.unit, u.name AS unit_name, u.position AS unit_position, c.form, c.item, c."column",
           c.value, c.file_name, c.file_hash, c.received_at, c.sheet, c.cell
    FROM current_values c JOIN units u ON u.code = c.unit;
"""

VALID, INVALID = "valid", "invalid"


@dataclass(frozen=True)
class LoadResult:
    submission_id: int
    new: bool  # False when this exact file was already loaded
    current: bool  # whether this version is now the one used for consolidation


@contextmanager
def connect(path: Path | str, read_only: bool = False):
    """A short-lived connection; another process holding the file lock is waited for."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(LOCK_RETRIES):
        try:
            conn = duckdb.connect(str(path), read_only=read_only)
            break
        except duckdb.IOException as e:
            if "lock" not in str(e).lower() or attempt == LOCK_RETRIES - 1:
                raise
            time.sleep(LOCK_WAIT_SECONDS)
    try:
        yield conn
    finally:
        conn.close()


def ensure_schema(conn: duckdb.DuckDBPyConnection, catalogue: Catalogue) -> None:
    """Create the tables and refresh the unit and period lists from the catalogue."""
    conn.execute(SCHEMA)
    conn.execute("BEGIN")
    conn.execute("DELETE FROM units")
    conn.executemany(
        "INSERT INTO units VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(u.code, u.name, u.kind, u.area, u.district_code, u.province_code, u.valid_from, u.valid_to, n)
         for n, u in enumerate(catalogue.units)],
    )
    conn.execute("DELETE FROM periods")
    conn.executemany(
        "INSERT INTO periods VALUES (?, ?, ?, ?, ?)",
        [(p.key, p.label, p.report_date, p.deadline, p.state) for p in catalogue.periods.values()],
    )
    conn.execute("COMMIT")


def load_submission(conn: duckdb.DuckDBPyConnection, submission: Submission, findings: list[Finding],
                    received_at: dt.datetime, archived_path: str = "") -> LoadResult:
    """Record a submission version, its values and findings; a valid one (no error) becomes
    current atomically, an invalid one never replaces the last valid version."""
    errors, warnings = counts(findings)
    status = VALID if errors == 0 else INVALID
    period, unit = submission.period, submission.unit_code
    existing = conn.execute(
        "SELECT submission_id, is_current FROM submissions WHERE period = ? AND unit = ? AND file_hash = ?",
        [period, unit, submission.file_hash],
    ).fetchone()
    if existing:
        return LoadResult(existing[0], new=False, current=existing[1])
    tidy = submission.tidy()
    conn.execute("BEGIN")
    try:
        submission_id = conn.execute(
            """INSERT INTO submissions (period, unit, file_name, file_hash, received_at, archived_path,
                                        template_version, status, errors, warnings)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING submission_id""",
            [period, unit, submission.path.name, submission.file_hash, received_at, archived_path,
             submission.template_version, status, errors, warnings],
        ).fetchone()[0]
        tidy.insert(0, "submission_id", submission_id)
        conn.register("tidy_rows", tidy)
        conn.execute(
            """INSERT INTO submission_values
               SELECT submission_id, period, unit, form, item, "column",
                      CAST(value AS DECIMAL(18,3)), sheet, cell
               FROM tidy_rows"""
        )
        conn.unregister("tidy_rows")
        if findings:
            conn.executemany(
                "INSERT INTO findings VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(submission_id, f.severity, f.code, f.form, f.sheet, f.cell, f.item, f.item_label, f.value, f.message)
                 for f in findings],
            )
        if status == VALID:
            conn.execute("UPDATE submissions SET is_current = FALSE WHERE period = ? AND unit = ?", [period, unit])
            conn.execute("UPDATE submissions SET is_current = TRUE WHERE submission_id = ?", [submission_id])
        conn.execute("COMMIT")
    except Exception:
        conn.execute("ROLLBACK")
        raise
    return LoadResult(submission_id, new=True, current=status == VALID)


def current_submissions(conn: duckdb.DuckDBPyConnection, period: str) -> pd.DataFrame:
    return conn.execute(
        """SELECT unit, file_name, file_hash, received_at, status, errors, warnings
           FROM submissions WHERE period = ? AND is_current ORDER BY unit""",
        [period],
    ).df()


def previous_values(conn: duckdb.DuckDBPyConnection, unit: str, period: str) -> dict[Ref, object]:
    """The unit's current valid values in its latest period before ``period`` (empty if none)."""
    rows = conn.execute(
        """SELECT form, item, "column", value FROM current_values
           WHERE unit = ? AND period = (SELECT MAX(period) FROM current_values WHERE unit = ? AND period < ?)""",
        [unit, unit, period],
    ).fetchall()
    return {Ref(form, item, column): value for form, item, column, value in rows if value is not None}
