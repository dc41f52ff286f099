"""The DuckDB warehouse: schema, loading a submission as a new version, and every query the
rest of the pipeline runs (callers use the named functions here, never SQL).

Each received file is a version of a unit's submission for a period (identified by
content hash). Loading the same file twice adds nothing; the valid version of a unit's
latest arrival is the current one for consolidation (switched in one transaction: an
older version sent again becomes current again), while an invalid one never replaces the
last valid version. Money is DECIMAL(18,3), never floating point.

The schema has a version (``SCHEMA_VERSION``), stamped in every warehouse made. A warehouse
of another version (or made before versions were stamped) is never migrated by hand:
``create_schema`` refuses it (``OutdatedWarehouse``) and intake rebuilds it from the archive
(``pipeline.intake.take_in.rebuild_if_outdated``), which holds everything it is made from.

The unit and period lists (and the units' lineage) are the catalogue's as the data was loaded: only intake
(``record_catalogue_lists``) writes them; readers (publication, status, ``explain``) only
``create_schema``, so a reader with another unit list cannot drop a loaded unit from the
``lineage`` view. SQL or calls specific to DuckDB are marked "DuckDB:", so a move to
another engine touches this module only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple

import duckdb
import pandas as pd

from pipeline.catalogue import Catalogue, Ref, Term
from pipeline.catalogue.batches import DISTRICT as DISTRICT_LEVEL
from pipeline.catalogue.batches import PROVINCE, UNIT
from pipeline.checking.findings import Finding, counts
from pipeline.errors import MachineError, UserError, machine_error, machine_fault_named
from pipeline.settings import WAIT_SECONDS
from pipeline.states import Verdict
from pipeline.warehouse.decisions import DECISIONS_SCHEMA
from pipeline.catalogue.contract import FILE_KIND, PLAN_FILE
from pipeline.workbook.reader import TIDY_COLUMNS, Submission

LOCK_WAIT_SECONDS = 0.2  # between tries of a locked warehouse
LOCK_NOTICE_SECONDS = 2  # a wait longer than this is told

# Bump with every change of SCHEMA, DECISIONS_SCHEMA or of what is loaded into them: a warehouse
# of another version is then rebuilt from the archive, never migrated.
SCHEMA_VERSION = 2  # 2: units per period (a code has a version per period), unit_lineage
SCHEMA = """
CREATE TABLE IF NOT EXISTS warehouse_schema (version INTEGER);  -- SCHEMA_VERSION, stamped when made
CREATE TABLE IF NOT EXISTS units (  -- each period's expected units (Catalogue.units_in), in their order
    period VARCHAR, code VARCHAR, name VARCHAR, kind VARCHAR, area VARCHAR,
    district_code VARCHAR, province_code VARCHAR, valid_from DATE, valid_to DATE, position INTEGER,
    PRIMARY KEY (period, code)
);
CREATE TABLE IF NOT EXISTS periods (
    key VARCHAR PRIMARY KEY, label VARCHAR, report_date DATE, deadline DATE, state VARCHAR
);
CREATE TABLE IF NOT EXISTS unit_lineage (  -- lineage.csv: from day on, old (in whole or a share) is new
    old_code VARCHAR, new_code VARCHAR, day DATE, kind VARCHAR, share DECIMAL(9,6), confirmed BOOLEAN,
    source VARCHAR, note VARCHAR
);
CREATE TABLE IF NOT EXISTS catalogue_lists (digest VARCHAR);  -- which unit and period lists are loaded
CREATE SEQUENCE IF NOT EXISTS submission_ids;  -- DuckDB: a sequence feeds the key (PostgreSQL: the same, or IDENTITY)
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
CREATE TABLE IF NOT EXISTS submission_info (  -- the Thông tin fields of each version (dates ISO)
    submission_id BIGINT NOT NULL, field VARCHAR NOT NULL, value_text VARCHAR NOT NULL
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
    FROM current_values c JOIN units u ON u.code = c.unit AND u.period = c.period;
"""

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
def connect(path: Path | str, read_only: bool = False, wait_seconds: float = WAIT_SECONDS):
    """A short-lived connection. Another process holding the file lock is waited for, saying so
    once, up to ``wait_seconds`` (the settings' ``wait_seconds``); then a MachineError names the
    file and the holder. DuckDB: one file, one writing process at a time (the lock); a server
    engine would pool."""
    from pipeline.files import machine_faults

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
                started = time.monotonic()
            waited = time.monotonic() - started
            if waited >= wait_seconds:
                raise MachineError(
                    f'Kho dữ liệu "{path}" vẫn bị {holder} giữ sau {wait_seconds:g} giây chờ. Hãy đợi lệnh đang chạy kia '
                    "(một lượt tổng hợp, rebuild…) xong rồi chạy lại; không có gì bị ghi dở.") from None
            if not told and waited >= LOCK_NOTICE_SECONDS:
                print(f'Đang chờ kho dữ liệu "{path}": {holder} đang dùng (chờ tối đa {wait_seconds:g} giây)…',
                      file=sys.stderr, flush=True)
                told = True
            time.sleep(LOCK_WAIT_SECONDS)
    try:
        yield conn
    except duckdb.Error as e:  # a write the machine refused midway: "Could not write file "….wal": No space left…"
        fault = machine_fault_named(str(e), None) or machine_fault_named(str(e), path)
        if fault is None:
            raise
        raise machine_error(fault) from None
    finally:
        conn.close()


class OutdatedWarehouse(UserError):
    """The warehouse was made with another schema version: it is rebuilt from the archive."""

    def __init__(self, made: int) -> None:
        super().__init__(f"Kho dữ liệu được tạo theo cấu trúc cũ (phiên bản {made}, bản cài này dùng phiên bản "
                         f"{SCHEMA_VERSION}): chưa làm gì; hãy dựng lại kho từ lưu trữ bằng lệnh "
                         "python -m pipeline rebuild (lượt tiếp nhận kế tiếp cũng tự dựng lại).")
        self.made = made


def schema_version(conn: duckdb.DuckDBPyConnection) -> int | None:
    """The schema version the warehouse was made with: None for a new (empty) one, 0 for one made
    before versions were stamped (or whose stamp a killed creation left out)."""
    tables = {name for (name,) in conn.execute(  # DuckDB: the catalogue's table list
        "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'").fetchall()}
    if "warehouse_schema" in tables:
        return conn.execute("SELECT coalesce(max(version), 0) FROM warehouse_schema").fetchone()[0]
    return 0 if tables else None


def create_schema(conn: duckdb.DuckDBPyConnection) -> None:
    """Create the tables and views that do not exist yet (a new warehouse is stamped with
    ``SCHEMA_VERSION``); the data is left as it is. A warehouse of another schema version is
    refused (``OutdatedWarehouse``)."""
    made = schema_version(conn)
    if made is not None and made != SCHEMA_VERSION:
        raise OutdatedWarehouse(made)
    conn.execute(SCHEMA)
    conn.execute(DECISIONS_SCHEMA)
    if made is None:
        conn.execute("INSERT INTO warehouse_schema VALUES (?)", [SCHEMA_VERSION])


def warehouse_outdated(path: Path, wait_seconds: float = WAIT_SECONDS) -> bool:
    """Whether the warehouse at ``path`` exists and was made with another schema version."""
    if not path.exists():
        return False
    with connect(path, wait_seconds=wait_seconds) as conn:
        made = schema_version(conn)
    return made is not None and made != SCHEMA_VERSION


def record_catalogue_lists(conn: duckdb.DuckDBPyConnection, catalogue: Catalogue) -> None:
    """Make the unit and period lists the catalogue's, for data about to be loaded with it
    (only when they changed: a national list has 10.600 units and every run connects).
    Only writers call this; the schema must exist."""
    units = [(p, u.code, u.name, u.kind, u.area, u.district_code, u.province_code, u.valid_from, u.valid_to, n)
             for p in catalogue.periods for n, u in enumerate(catalogue.units_in(p))]
    periods = [(p.key, p.label, p.report_date, p.deadline, p.state) for p in catalogue.periods.values()]
    lineage = [(k.old, k.new, k.day, k.kind, k.share, k.confirmed, k.source, k.note) for k in catalogue.lineage]
    digest = hashlib.sha256(repr((units, periods, lineage)).encode()).hexdigest()
    if conn.execute("SELECT digest FROM catalogue_lists").fetchall() == [(digest,)]:
        return
    conn.execute("BEGIN")
    conn.execute("DELETE FROM units")
    conn.register("catalogue_units", pd.DataFrame(units, columns=[  # DuckDB: a data frame read as a table
        "period", "code", "name", "kind", "area", "district_code", "province_code", "valid_from", "valid_to", "position"]))
    conn.execute("INSERT INTO units SELECT * FROM catalogue_units")
    conn.unregister("catalogue_units")
    conn.execute("DELETE FROM periods")
    conn.executemany("INSERT INTO periods VALUES (?, ?, ?, ?, ?)", periods)
    conn.execute("DELETE FROM unit_lineage")
    if lineage:  # a unit list given without lineage states no change
        conn.executemany("INSERT INTO unit_lineage VALUES (?, ?, ?, ?, ?, ?, ?, ?)", lineage)
    conn.execute("DELETE FROM catalogue_lists")
    conn.execute("INSERT INTO catalogue_lists VALUES (?)", [digest])
    conn.execute("COMMIT")


@dataclass(frozen=True)
class Load:
    """A checked submission to record, with its findings and where the archive keeps it."""

    submission: Submission
    findings: list[Finding]
    received_at: dt.datetime  # when its content was first received
    archived_path: str = ""
    latest: bool = True  # the unit's latest arrival: if valid, it becomes current


def load_submission(conn: duckdb.DuckDBPyConnection, submission: Submission, findings: list[Finding],
                    received_at: dt.datetime, archived_path: str = "") -> LoadResult:
    """Record one submission version (see ``load_submissions``)."""
    return load_submissions(conn, [Load(submission, findings, received_at, archived_path)])[0]


def load_submissions(conn: duckdb.DuckDBPyConnection, loads: list[Load]) -> list[LoadResult]:
    """Record submission versions, their values and findings, all in one transaction. A valid
    version that is its unit's latest arrival becomes the unit's current version, whether new or
    loaded before; an invalid one never replaces the last valid version, and a file already
    loaded adds nothing. Later loads of the same unit in the list are later arrivals."""
    known = {(p, u, h): (i, s == Verdict.VALID, c) for p, u, h, i, s, c in conn.execute(
        "SELECT period, unit, file_hash, submission_id, status, is_current FROM submissions WHERE period IN "
        "(SELECT UNNEST(?))  -- DuckDB: a Python list bound as a list value", [sorted({load.submission.period for load in loads})]).fetchall()}
    was_current = {key[:2]: i for key, (i, _, c) in known.items() if c}
    keys = [(x.submission.period, x.submission.unit_code, x.submission.file_hash) for x in loads]
    fresh = {key for key in keys if key not in known}
    ids = [i for (i,) in conn.execute(
        "SELECT nextval('submission_ids') FROM range(?)  -- DuckDB: range() as a table", [len(fresh)]).fetchall()]
    submissions, values, info, findings, current, new = [], [], [], [], {}, []
    for load, key in zip(loads, keys):
        new.append(key not in known)
        if key not in known:
            errors, warnings = counts(load.findings)
            status = Verdict.VALID if errors == 0 else Verdict.INVALID
            submission_id = ids[len(submissions)]
            known[key] = (submission_id, status == Verdict.VALID, False)
            submission = load.submission
            submissions.append((submission_id, *key[:2], submission.path.name, submission.file_hash, load.received_at,
                                load.archived_path, submission.template_version, status, errors, warnings))
            values += [(submission_id, *row) for row in submission.tidy_rows()]
            info += [(submission_id, code, text) for code, text in submission.info_texts.items()]
            findings += [(submission_id, f.severity, f.code, f.form, f.sheet, f.cell, f.item, f.item_label, f.value,
                          f.message) for f in load.findings]
        submission_id, valid, _ = known[key]
        if valid and load.latest:
            current[key[:2]] = submission_id
    switched = {unit: i for unit, i in current.items() if was_current.get(unit) != i}
    conn.execute("BEGIN")
    try:
        _insert(conn, f"submissions ({', '.join(SUBMISSION_COLUMNS)})", SUBMISSION_COLUMNS, submissions)
        _insert(conn, "submission_values", ["submission_id", *TIDY_COLUMNS], values,
                """SELECT submission_id, period, unit, form, item, "column", CAST(value AS DECIMAL(18,3)), sheet, cell""")
        _insert(conn, "submission_info", ["submission_id", "field", "value_text"], info)
        _insert(conn, "findings", FINDING_COLUMNS, findings)
        if switched:
            conn.register("new_current", pd.DataFrame(
                [(p, u, i) for (p, u), i in switched.items()], columns=["period", "unit", "submission_id"]))
            conn.execute("""UPDATE submissions SET is_current = (submissions.submission_id = n.submission_id)
                            FROM new_current n WHERE submissions.period = n.period AND submissions.unit = n.unit""")
            conn.unregister("new_current")
        conn.execute("COMMIT")
    except Exception:
        conn.execute("ROLLBACK")
        raise
    now_current = {**was_current, **current}
    return [LoadResult(known[key][0], is_new, now_current.get(key[:2]) == known[key][0])
            for key, is_new in zip(keys, new)]


def loaded_versions(conn: duckdb.DuckDBPyConnection, period: str) -> dict[tuple[str, str], tuple[bool, bool]]:
    """Every version loaded for the period: (unit, file hash) -> (valid, current)."""
    return {(u, h): (s == Verdict.VALID, c) for u, h, s, c in conn.execute(
        "SELECT unit, file_hash, status, is_current FROM submissions WHERE period = ?", [period]).fetchall()}


def _insert(conn: duckdb.DuckDBPyConnection, table: str, columns: list[str], rows: list[tuple],
            select: str = "SELECT *") -> None:
    """Insert many rows at once through a registered data frame (kept as Python objects).
    DuckDB: registering a data frame; another engine would use executemany or COPY."""
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
    ).df()  # DuckDB: .df() reads the result as a pandas data frame


def previous_values(conn: duckdb.DuckDBPyConnection, units: list[str], period: str) -> dict[str, dict[Ref, object]]:
    """Each unit's current valid values in its latest period before ``period`` (no entry if none)."""
    rows = conn.execute(
        """-- DuckDB: UNNEST of a bound Python list
           WITH latest AS (SELECT unit, MAX(period) AS period FROM current_values
                           WHERE period < ? AND unit IN (SELECT UNNEST(?)) GROUP BY unit)
           SELECT unit, form, item, "column", value FROM current_values JOIN latest USING (unit, period)
           WHERE value IS NOT NULL""",
        [period, units],
    ).fetchall()
    found: dict[str, dict[Ref, object]] = {}
    for unit, form, item, column, value in rows:
        found.setdefault(unit, {})[Ref(form, item, column)] = value
    return found


class UnitVersions(NamedTuple):
    """What a unit sent for a period: how many versions, the latest one's status, counts,
    file and time, the file in use (the current valid one, if any) and the first valid time."""

    versions: int
    status: str
    errors: int
    warnings: int
    file_name: str
    received_at: dt.datetime
    using: str | None
    first_valid: dt.datetime | None


def versions_by_unit(conn: duckdb.DuckDBPyConnection, period: str) -> dict[str, UnitVersions]:
    """Every unit that sent something for the period, with its ``UnitVersions``."""
    rows = conn.execute(
        """-- DuckDB: arg_max(x, t) is x of the row with the largest t (PostgreSQL: DISTINCT ON or a window)
           SELECT unit, COUNT(*), arg_max(status, received_at), arg_max(errors, received_at),
                  arg_max(warnings, received_at), arg_max(file_name, received_at), MAX(received_at),
                  MAX(CASE WHEN is_current THEN file_name END), MIN(CASE WHEN status = ? THEN received_at END)
           FROM submissions WHERE period = ? GROUP BY unit""",
        [Verdict.VALID, period],
    ).fetchall()
    return {unit: UnitVersions(*rest) for unit, *rest in rows}


@dataclass(frozen=True)
class Contribution:
    """A unit's current valid value with where it came from (a row of the ``lineage`` view)
    and the sign of the term that asked for it."""

    unit: str
    unit_name: str
    ref: Ref
    sign: int
    value: Decimal
    file_name: str
    sheet: str
    cell: str


def lineage_of(conn: duckdb.DuckDBPyConnection, period: str, terms: list[Term]) -> list[Contribution]:
    """The period's current valid values of the cells the terms name, unit by unit in list
    order (empty cells left out)."""
    wanted = pd.DataFrame([(t.ref.form, t.ref.row, t.ref.column, t.sign) for t in terms],
                          columns=["form", "item", "column", "sign"])
    conn.register("wanted_terms", wanted)  # DuckDB: a data frame read as a table
    try:
        rows = conn.execute(
            """SELECT l.unit, l.unit_name, l.form, l.item, l."column", t.sign, l.value, l.file_name, l.sheet, l.cell
               FROM lineage l JOIN wanted_terms t ON l.form = t.form AND l.item = t.item AND l."column" = t."column"
               WHERE l.period = ? AND l.value IS NOT NULL ORDER BY l.unit_position, l.form, l.item, l."column" """,
            [period],
        ).fetchall()
    finally:
        conn.unregister("wanted_terms")
    return [Contribution(u, n, Ref(f, i, c), s, v, fn, sh, ce) for u, n, f, i, c, s, v, fn, sh, ce in rows]


# --------------------------------------------------------------------------- queries of the published Biểu

ROW_KEYS = {UNIT: "v.unit", DISTRICT_LEVEL: "u.district_code", PROVINCE: "u.province_code"}


def current_value_sums(conn: duckdb.DuckDBPyConnection, period: str, level: str = UNIT) -> list[tuple]:
    """(row key, form, item, column, sum) of the current values of a period: per unit, or per
    district or province (``level``), and for the whole with row key "" (exact DECIMAL)."""
    return conn.execute(
        f"""-- DuckDB: GROUPING SETS (standard SQL; PostgreSQL has it too)
            SELECT COALESCE(row_key, ''), form, item, "column", SUM(value)
            FROM (SELECT COALESCE(NULLIF({ROW_KEYS[level]}, ''), v.unit) AS row_key, v.*
                  FROM current_values v LEFT JOIN units u ON u.code = v.unit AND u.period = v.period
                  WHERE v.period = ?)
            GROUP BY GROUPING SETS ((row_key, form, item, "column"), (form, item, "column"))""",
        [period],
    ).fetchall()


def current_sources(conn: duckdb.DuckDBPyConnection, period: str) -> list[tuple]:
    """(unit, file name, received at, file hash, newer invalid files) of each unit's current
    version in a period; the last names the unit's rejected files received after it."""
    return conn.execute(
        """-- DuckDB: string_agg(x, sep ORDER BY y) (PostgreSQL spells it the same; others differ)
           SELECT s.unit, s.file_name, s.received_at, s.file_hash,
                  (SELECT string_agg(n.file_name, ', ' ORDER BY n.received_at) FROM submissions n
                   WHERE n.period = s.period AND n.unit = s.unit AND n.status = ?
                     AND n.received_at > s.received_at) AS newer_invalid
           FROM submissions s WHERE s.period = ? AND s.is_current""",
        [Verdict.INVALID, period],
    ).fetchall()


def current_form_values(conn: duckdb.DuckDBPyConnection, period: str, form: str) -> list[tuple]:
    """(item, column, value) of one form in the current versions of a period (the district
    plan's pseudo-form)."""
    return conn.execute(
        """SELECT v.item, v."column", v.value FROM submission_values v JOIN submissions s USING (submission_id)
           WHERE s.is_current AND s.period = ? AND v.form = ?""",
        [period, form],
    ).fetchall()


def plan_info(conn: duckdb.DuckDBPyConnection, period: str) -> dict[str, str]:
    """The current valid plan submission's Thông tin fields (field code -> text, dates ISO): who
    signs, the report's number and date. {} when the period has no valid plan, or its plan was
    loaded before the warehouse kept these fields (``rebuild`` brings them back)."""
    return dict(conn.execute(
        """SELECT i.field, i.value_text FROM submission_info i JOIN submissions s USING (submission_id)
           WHERE s.is_current AND s.period = ? AND s.submission_id IN
                 (SELECT submission_id FROM submission_info WHERE field = ? AND value_text = ?)""",
        [period, FILE_KIND, PLAN_FILE],
    ).fetchall())
