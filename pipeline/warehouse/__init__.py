"""The DuckDB warehouse: schema, loading a submission as a new version, and queries.

Each received file is a version of a unit's submission for a period (identified by
content hash). Loading the same file twice changes nothing; a valid version becomes the
current one for consolidation in one transaction, while an invalid one never replaces
the last valid version. Money is DECIMAL(18,3), never floating point.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from pipeline.catalogue import Catalogue, Ref
from pipeline.checking.findings import Finding, counts
from pipeline.errors import MachineError, machine_error, machine_fault_named
from pipeline.workbook.reader import TIDY_COLUMNS, Submission

LOCK_WAIT_SECONDS = 0.2  # between tries of a locked warehouse
LOCK_NOTICE_SECONDS = 2  # a wait longer than this is told

SCHEMA = """
CREATE TABLE IF NOT EXISTS units (
    code VARCHAR PRIMARY KEY, name VARCHAR, kind VARCHAR, area VARCHAR,
    district_code VARCHAR, province_code VARCHAR, valid_from VARCHAR, valid_to VARCHAR, position INTEGER
);
CREATE TABLE IF NOT EXISTS periods (
    key VARCHAR PRIMARY KEY, label VARCHAR, report_date DATE, deadline DATE, state VARCHAR
);
CREATE TABLE IF NOT EXISTS catalogue_lists (digest VARCHAR);  -- which unit and period lists are loaded
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
SUBMISSION_COLUMNS = ["submission_id", "period", "unit", "file_name", "file_hash", "received_at", "archived_path",
                      "template_version", "status", "errors", "warnings"]
FINDING_COLUMNS = ["submission_id", "severity", "code", "form", "sheet", "cell", "item", "item_label", "value",
                   "message"]


@dataclass(frozen=True)
class LoadResult:
    submission_id: int
    new: bool  # False when this exact file was already loaded
    current: bool  # whether this version is now the one used for consolidation


@contextmanager
def connect(path: Path | str, read_only: bool = False):
    """A short-lived connection. Another process holding the file lock is waited for, saying so
    once, up to ``TUANGIAO_WAIT_SECONDS``; then a MachineError names the file and the holder."""
    from pipeline.files import machine_faults
    from pipeline.settings import Settings

    path = Path(path)
    with machine_faults(path):
        path.parent.mkdir(parents=True, exist_ok=True)
    started, told = None, False
    while True:
        try:
            with machine_faults(path):
                conn = duckdb.connect(str(path), read_only=read_only)
            break
        except duckdb.IOException as e:
            fault = machine_fault_named(str(e), path)
            if fault is not None:
                raise machine_error(fault, path) from None
            if "lock" not in str(e).lower():
                raise
            holder = re.search(r"PID (\d+)", str(e))
            holder = f"tiến trình {holder.group(1)}" if holder else "một tiến trình khác"
            if started is None:
                started, wait = time.monotonic(), Settings.from_environment().wait_seconds
            waited = time.monotonic() - started
            if waited >= wait:
                raise MachineError(
                    f'Kho dữ liệu "{path}" vẫn bị {holder} giữ sau {wait:g} giây chờ. Hãy đợi lệnh đang chạy kia '
                    "(một lượt tổng hợp, rebuild…) xong rồi chạy lại; không có gì bị ghi dở.") from None
            if not told and waited >= LOCK_NOTICE_SECONDS:
                print(f'Đang chờ kho dữ liệu "{path}": {holder} đang dùng (chờ tối đa {wait:g} giây)…',
                      file=sys.stderr, flush=True)
                told = True
            time.sleep(LOCK_WAIT_SECONDS)
    try:
        yield conn
    finally:
        conn.close()


def ensure_schema(conn: duckdb.DuckDBPyConnection, catalogue: Catalogue) -> None:
    """Create the tables and refresh the unit and period lists from the catalogue (only when
    they changed: a national list has 10.600 units and every run connects)."""
    conn.execute(SCHEMA)
    units = [(u.code, u.name, u.kind, u.area, u.district_code, u.province_code, u.valid_from, u.valid_to, n)
             for n, u in enumerate(catalogue.units)]
    periods = [(p.key, p.label, p.report_date, p.deadline, p.state) for p in catalogue.periods.values()]
    digest = hashlib.sha256(repr((units, periods)).encode()).hexdigest()
    if conn.execute("SELECT digest FROM catalogue_lists").fetchall() == [(digest,)]:
        return
    conn.execute("BEGIN")
    conn.execute("DELETE FROM units")
    conn.register("catalogue_units", pd.DataFrame(units, columns=[
        "code", "name", "kind", "area", "district_code", "province_code", "valid_from", "valid_to", "position"]))
    conn.execute("INSERT INTO units SELECT * FROM catalogue_units")
    conn.unregister("catalogue_units")
    conn.execute("DELETE FROM periods")
    conn.executemany("INSERT INTO periods VALUES (?, ?, ?, ?, ?)", periods)
    conn.execute("DELETE FROM catalogue_lists")
    conn.execute("INSERT INTO catalogue_lists VALUES (?)", [digest])
    conn.execute("COMMIT")


@dataclass(frozen=True)
class Load:
    """A checked submission to record, with its findings and where the archive keeps it."""

    submission: Submission
    findings: list[Finding]
    received_at: dt.datetime
    archived_path: str = ""


def load_submission(conn: duckdb.DuckDBPyConnection, submission: Submission, findings: list[Finding],
                    received_at: dt.datetime, archived_path: str = "") -> LoadResult:
    """Record one submission version (see ``load_submissions``)."""
    return load_submissions(conn, [Load(submission, findings, received_at, archived_path)])[0]


def load_submissions(conn: duckdb.DuckDBPyConnection, loads: list[Load]) -> list[LoadResult]:
    """Record submission versions, their values and findings, all in one transaction. A valid
    one (no error) becomes its unit's current version, an invalid one never replaces the last
    valid version, and a file already loaded changes nothing. Later loads of the same unit in
    the list are later versions."""
    known = {(p, u, h): (i, c) for p, u, h, i, c in conn.execute(
        "SELECT period, unit, file_hash, submission_id, is_current FROM submissions WHERE period IN "
        "(SELECT UNNEST(?))", [sorted({load.submission.period for load in loads})]).fetchall()}
    results: list[LoadResult] = []
    keys = [(x.submission.period, x.submission.unit_code, x.submission.file_hash) for x in loads]
    fresh = {key for key in keys if key not in known}
    ids = [i for (i,) in conn.execute("SELECT nextval('submission_ids') FROM range(?)", [len(fresh)]).fetchall()]
    submissions, values, findings, current = [], [], [], {}
    for load, key in zip(loads, keys):
        if key not in known:
            errors, warnings = counts(load.findings)
            status = VALID if errors == 0 else INVALID
            submission_id = ids[len(submissions)]
            known[key] = (submission_id, status == VALID)
            submission = load.submission
            submissions.append((submission_id, *key[:2], submission.path.name, submission.file_hash, load.received_at,
                                load.archived_path, submission.template_version, status, errors, warnings))
            values += [(submission_id, *row) for row in submission.tidy_rows()]
            findings += [(submission_id, f.severity, f.code, f.form, f.sheet, f.cell, f.item, f.item_label, f.value,
                          f.message) for f in load.findings]
            if status == VALID:
                current[key[:2]] = submission_id
            results.append(LoadResult(submission_id, new=True, current=status == VALID))
        else:
            results.append(LoadResult(known[key][0], new=False, current=known[key][1]))
    conn.execute("BEGIN")
    try:
        _insert(conn, f"submissions ({', '.join(SUBMISSION_COLUMNS)})", SUBMISSION_COLUMNS, submissions)
        _insert(conn, "submission_values", ["submission_id", *TIDY_COLUMNS], values,
                """SELECT submission_id, period, unit, form, item, "column", CAST(value AS DECIMAL(18,3)), sheet, cell""")
        _insert(conn, "findings", FINDING_COLUMNS, findings)
        if current:
            conn.register("new_current", pd.DataFrame(
                [(p, u, i) for (p, u), i in current.items()], columns=["period", "unit", "submission_id"]))
            conn.execute("""UPDATE submissions SET is_current = (submissions.submission_id = n.submission_id)
                            FROM new_current n WHERE submissions.period = n.period AND submissions.unit = n.unit""")
            conn.unregister("new_current")
        conn.execute("COMMIT")
    except Exception:
        conn.execute("ROLLBACK")
        raise
    final = []
    for result, (period, unit, _) in zip(results, keys):  # a later valid version in the list replaces an earlier one
        latest_valid = current.get((period, unit))
        final.append(LoadResult(result.submission_id, result.new,
                                result.submission_id == latest_valid if latest_valid is not None else result.current))
    return final


def _insert(conn: duckdb.DuckDBPyConnection, table: str, columns: list[str], rows: list[tuple],
            select: str = "SELECT *") -> None:
    """Insert many rows at once through a registered data frame (kept as Python objects)."""
    if not rows:
        return
    conn.register("new_rows", pd.DataFrame(rows, columns=columns, dtype=object))
    conn.execute(f"INSERT INTO {table} {select} FROM new_rows")
    conn.unregister("new_rows")


def current_submissions(conn: duckdb.DuckDBPyConnection, period: str) -> pd.DataFrame:
    return conn.execute(
        """SELECT unit, file_name, file_hash, received_at, status, errors, warnings
           FROM submissions WHERE period = ? AND is_current ORDER BY unit""",
        [period],
    ).df()


def previous_values(conn: duckdb.DuckDBPyConnection, units: list[str], period: str) -> dict[str, dict[Ref, object]]:
    """Each unit's current valid values in its latest period before ``period`` (no entry if none)."""
    rows = conn.execute(
        """WITH latest AS (SELECT unit, MAX(period) AS period FROM current_values
                           WHERE period < ? AND unit IN (SELECT UNNEST(?)) GROUP BY unit)
           SELECT unit, form, item, "column", value FROM current_values JOIN latest USING (unit, period)
           WHERE value IS NOT NULL""",
        [period, units],
    ).fetchall()
    found: dict[str, dict[Ref, object]] = {}
    for unit, form, item, column, value in rows:
        found.setdefault(unit, {})[Ref(form, item, column)] = value
    return found
