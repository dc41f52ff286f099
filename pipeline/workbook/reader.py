"""Reads a submission workbook (unit report or district plan) into values with provenance.

Sheets and cells are found by the hidden codes the template writes (a marker cell such
as ``BIEU:02``, item codes in the marker's column, column codes in the marker's row),
never by position or sheet name, so inserted rows, hidden columns, re-ordered sheets or
a LibreOffice round-trip do not matter. Values are read with python-calamine from .xlsx,
.ods or .xls (after the byte inspection of ``safety``); formula (derived) cells are never
read as inputs, but a number found in one (typed over the formula, or the result Excel or
LibreOffice cached) is kept for the check against its parts, and so is any number outside the
coded cells (``strays``: typed in a spare column or below the table). Only the sheets a unit
reports are parsed (the sheet the catalogue
names first, the others only if a marker is not where the template put it). Every value is
bounded before anyone does arithmetic with it or formats it: a number that is not finite,
too large or too finely divided is "out_of_range".
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import cache, cached_property
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, Self

from python_calamine import CalamineWorkbook

from pipeline.catalogue import Catalogue, Form, Ref
from pipeline.parallel import context
from pipeline.catalogue.contract import (
    FILE_KIND,
    FORM_MARKER_PREFIX,
    INFO_COLUMN,
    INFO_MARKER,
    INFO_SHEET,
    NO,
    PERIOD_FIELD,
    PLAN_COLUMNS,
    PLAN_FILE,
    PLAN_FORM,
    PLAN_MARKER,
    PLAN_SHEET,
    UNIT_FIELD,
    UNIT_FILE,
    VERSION_FIELD,
    YES,
)
from pipeline.workbook.safety import MAX_SHEET_GRID, inspect_data, inspect_file
from pipeline.workbook.unreadable import (
    DAMAGED_SHEET,
    DAMAGED_WORKBOOK,
    NO_INFO_SHEET,
    SHEET_TOO_LARGE,
    TOO_MUCH_MEMORY,
    UnreadableWorkbook,
)

if TYPE_CHECKING:
    import pandas as pd

MARKER_SEARCH = 10  # the marker is looked for in the first rows and columns of a sheet
GSO_CODE_DIGITS = 5
TIDY_COLUMNS = ["period", "unit", "form", "item", "column", "value", "sheet", "cell", "file_hash"]
# A value a report can hold: finite, at most 15 digits before the decimal comma and 12 after.
MAX_INTEGER_DIGITS = 15
MAX_FRACTION_DIGITS = 12
_LARGEST = 10.0**MAX_INTEGER_DIGITS
MAX_NUMBER_TEXT = 40  # longer text is not a number anyone typed
_DECIMAL_POINT = re.compile(r"[+-]?[0-9]+\.[0-9]{1,2}|[+-]?[0-9]+\.[0-9]{4,}|[+-]?[0-9]{1,3}(?:,[0-9]{3})+\.[0-9]+")


class CellRead(NamedTuple):
    """One input cell as found in the workbook (a named tuple: a submission holds hundreds,
    built and sent from the reader's worker in bulk)."""

    ref: Ref
    sheet: str
    cell: str | None  # None when the item's or column's code was not found in the sheet
    raw: object
    value: Decimal | None
    problem: str | None = None  # "empty", "text_number", "not_number", "decimal_point", "out_of_range", "missing_code"…


@dataclass
class CodedSheet:
    """A sheet's marker and where each code sits."""

    name: str
    marker: str
    grid: list[list]
    rows: dict[str, int]
    columns: dict[str, int]


@dataclass(frozen=True)
class SheetCodes:
    """Where a coded sheet's codes sit: enough to give the address of any coded cell."""

    name: str
    rows: dict[str, int]
    columns: dict[str, int]


@dataclass
class Submission:
    """What one workbook says: its identity (Thông tin) and its input cells."""

    path: Path
    file_hash: str
    file_kind: str
    info: dict[str, tuple[object, str]]  # field code -> (raw value, cell address)
    info_sheet: str
    sheets: dict[str, SheetCodes]  # marker -> the sheet's name and code positions
    cells: list[CellRead] = field(default_factory=list)
    derived: list[CellRead] = field(default_factory=list)  # numbers found in formula cells
    strays: list[CellRead] = field(default_factory=list)  # numbers outside the coded cells (ref: the form's)

    def sheet_name(self, form: Form) -> str:
        """The sheet holding a form in this workbook (the catalogue's name if it is missing)."""
        codes = self.sheets.get(FORM_MARKER_PREFIX + form.code)
        return codes.name if codes else form.sheet

    def address(self, ref: Ref) -> str | None:
        """The address of any coded cell of a form, derived cells included."""
        codes = self.sheets.get(FORM_MARKER_PREFIX + ref.form)
        if codes is None or ref.row not in codes.rows or ref.column not in codes.columns:
            return None
        return cell_address(codes.rows[ref.row], codes.columns[ref.column])

    @cached_property
    def values(self) -> dict[Ref, Decimal | None]:
        """Each read input cell's value by reference (once the cells are read)."""
        return {c.ref: c.value for c in self.cells}

    @cached_property
    def forms(self) -> set[str]:
        """Codes of the forms it has cells of."""
        return {c.ref.form for c in self.cells}

    @property
    def unit_code(self) -> str:
        return normalise_unit_code(self.info.get(UNIT_FIELD, (None, ""))[0])

    @property
    def period(self) -> str:
        return normalise_period(self.info.get(PERIOD_FIELD, (None, ""))[0])

    @property
    def template_version(self) -> str:
        return text_of(self.info.get(VERSION_FIELD, ("", ""))[0])

    @property
    def info_texts(self) -> dict[str, str]:
        """The Thông tin fields as stored: field code -> text (dates ISO yyyy-mm-dd), blanks left out."""
        texts = {code: info_text(raw) for code, (raw, _) in self.info.items()}
        return {code: text for code, text in texts.items() if text}

    def tidy_rows(self) -> list[tuple]:
        """One row per read input cell: (period, unit, form, item, column, value) + provenance."""
        period, unit = self.period, self.unit_code
        return [(period, unit, c.ref.form, c.ref.row, c.ref.column, None if c.value is None else str(c.value),
                 c.sheet, c.cell, self.file_hash) for c in self.cells]

    def tidy(self) -> pd.DataFrame:
        import pandas as pd  # only where a frame is wanted: the check path starts faster without it

        return pd.DataFrame(self.tidy_rows(), columns=TIDY_COLUMNS, dtype=object)

    def __reduce__(self):
        """Pickled with its cells as plain tuples: a reader's worker sends one per file, and
        pickle's own way with hundreds of named tuples of dataclasses costs twice as much at
        both ends (about 0,8 ms a submission, against 0,4)."""
        return _unpickled, (self.path, self.file_hash, self.file_kind, self.info, self.info_sheet, self.sheets,
                            *(_flat(cells) for cells in (self.cells, self.derived, self.strays)))


def _flat(cells: list[CellRead]) -> list[tuple]:
    return [(c.ref.form, c.ref.row, c.ref.column, c.sheet, c.cell, c.raw, c.value, c.problem) for c in cells]


def _unpickled(path, file_hash, file_kind, info, info_sheet, sheets, *flat: list[tuple]) -> Submission:
    cells, derived, strays = ([CellRead(Ref(form, row, column), *rest) for form, row, column, *rest in rows]
                              for rows in flat)
    return Submission(path, file_hash, file_kind, info, info_sheet, sheets, cells, derived, strays)


def cell_address(row: int, column: int) -> str:
    """'C12' for row 11, column 2 (counted from 0)."""
    return f"{_column_letters(column)}{row + 1}"


@cache
def _column_letters(column: int) -> str:
    letters, column = "", column + 1
    while column:
        column, rest = divmod(column - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def text_of(raw: object) -> str:
    if raw is None:
        return ""
    if type(raw) is str and raw.isascii():  # NFC leaves ASCII as it is
        return raw.strip()
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    return unicodedata.normalize("NFC", str(raw)).strip()


def info_text(raw: object) -> str:
    """A Thông tin value as text: a date (or date-time) as its ISO date, anything else as typed."""
    if isinstance(raw, dt.date):
        return (raw.date() if isinstance(raw, dt.datetime) else raw).isoformat()
    return text_of(raw)


def normalise_unit_code(raw: object) -> str:
    """Unit codes are text; a GSO code read as the number 3253 becomes '03253'."""
    code = text_of(raw)
    if code.isdigit() and len(code) < GSO_CODE_DIGITS:
        code = code.zfill(GSO_CODE_DIGITS)
    return code


def normalise_period(raw: object) -> str:
    return text_of(raw)


def bounded(value: Decimal) -> bool:
    """Finite, and within the digits a report can hold (so arithmetic and formatting stay cheap)."""
    return value.is_finite() and (not value or (
        value.adjusted() < MAX_INTEGER_DIGITS and value.as_tuple().exponent >= -MAX_FRACTION_DIGITS))


def to_decimal(raw: object) -> tuple[Decimal | None, str | None]:
    """A cell as a number. Text in Vietnamese style ('13.334,47', '41,2%') is accepted and
    flagged "text_number"; text with a decimal point ('176.36') is "decimal_point"; other text
    is "not_number"; a number that is not finite or out of bounds is "out_of_range"; a blank
    cell is "empty"."""
    if type(raw) is float and raw.is_integer() and -_LARGEST < raw < _LARGEST:  # the common case, cheaply
        return Decimal(int(raw)), None
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None, "empty"
    if isinstance(raw, bool):
        return None, "not_number"
    if isinstance(raw, int):
        value, problem = Decimal(raw), None
    elif isinstance(raw, float):  # 925.0 is the number 925, as the workbook shows it
        value, problem = (Decimal(int(raw)) if raw.is_integer() else Decimal(repr(raw))), None
    elif isinstance(raw, str):
        from babel.numbers import NumberFormatError, parse_decimal  # only for numbers typed as text: check starts faster

        text = unicodedata.normalize("NFC", raw)
        for junk in (" ", "\u00a0", "\u202f", "%"):
            text = text.replace(junk, "")
        if len(text) > MAX_NUMBER_TEXT:
            return None, "not_number"
        try:
            value, problem = parse_decimal(text, locale="vi", strict=True), "text_number"
        except (NumberFormatError, InvalidOperation, ValueError):
            return None, "decimal_point" if _DECIMAL_POINT.fullmatch(text) else "not_number"
    else:
        return None, "not_number"  # a date, a time, an error value
    if not bounded(value):
        return None, "out_of_range"
    return value, problem


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _coded_sheet(name: str, grid: list[list]) -> CodedSheet | None:
    """Find the marker cell; codes sit in its column (rows) and its row (columns)."""
    for r, row in enumerate(grid[:MARKER_SEARCH]):
        for c, raw in enumerate(row[:MARKER_SEARCH]):
            marker = text_of(raw) if isinstance(raw, str) else ""
            if marker == INFO_MARKER or marker == PLAN_MARKER or marker.startswith(FORM_MARKER_PREFIX):
                rows: dict[str, int] = {}
                for rr in range(r + 1, len(grid)):
                    raw = grid[rr][c] if c < len(grid[rr]) else None
                    code = text_of(raw) if raw is not None and raw != "" else ""
                    if code and code not in rows:
                        rows[code] = rr
                columns: dict[str, int] = {}
                for cc in range(c + 1, len(grid[r])):
                    code = text_of(grid[r][cc])
                    if code and code not in columns:
                        columns[code] = cc
                return CodedSheet(name, marker, grid, rows, columns)
    return None


def _reader_failed(error: BaseException) -> bool:
    """An error of calamine (its own, a ValueError, a Rust panic: a BaseException), not a stop."""
    return not isinstance(error, (KeyboardInterrupt, SystemExit, GeneratorExit))


def _open(data: bytes, path: Path) -> CalamineWorkbook:
    """Open the inspected bytes with calamine (as the format they are, whatever the file's name says)."""
    try:
        return CalamineWorkbook.from_filelike(io.BytesIO(data))
    except BaseException as e:
        if not _reader_failed(e):
            raise
        raise UnreadableWorkbook(DAMAGED_WORKBOOK, file=path.name) from None


def _sheet(workbook: CalamineWorkbook, path: Path, name: str) -> CodedSheet | None:
    shown = text_of(name)[:60]
    try:
        sheet = workbook.get_sheet_by_name(name)
        if sheet.height * sheet.width > MAX_SHEET_GRID:
            raise UnreadableWorkbook(SHEET_TOO_LARGE, "read", file=path.name, sheet_name=shown, height=sheet.height,
                                     width=sheet.width)
        grid = sheet.to_python(skip_empty_area=False)
    except UnreadableWorkbook:
        raise
    except BaseException as e:
        if not _reader_failed(e):
            raise
        raise UnreadableWorkbook(DAMAGED_SHEET, file=path.name, sheet_name=shown) from None
    return _coded_sheet(name, grid)


class CodedSheets:
    """The coded sheets of an open workbook, read only as they are asked for: the sheet the
    catalogue names for a marker is read first, and the other sheets, in workbook order, only
    while the marker is still missing (so a renamed or re-ordered sheet is still found, and a
    unit's workbook costs only the sheets it reports). A marker found on more than one sheet
    is the first one read. What is read (and hashed) are the bytes the inspection passed: the
    file's, or ``opened`` (its first bytes and its size, read by the caller from a descriptor it
    checked)."""

    def __init__(self, path: Path, opened: tuple[bytes, int] | None = None) -> None:
        self.path = path
        self.data = (inspect_data(opened[0], path.name, opened[1]) if opened else inspect_file(path)).data
        self.workbook = _open(self.data, path)
        self.unread = {name: text_of(name) for name in self.workbook.sheet_names}  # in workbook order
        self.found: dict[str, CodedSheet] = {}

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.workbook.close()

    def get(self, marker: str, sheet_name: str) -> CodedSheet | None:
        """The sheet carrying ``marker`` (``sheet_name``: where the template puts it), or None."""
        named = [n for n, shown in self.unread.items() if shown == sheet_name]
        for name in named + [n for n in self.unread if n not in named]:
            if marker in self.found:
                break
            del self.unread[name]
            coded = _sheet(self.workbook, self.path, name)
            if coded is not None and coded.marker not in self.found:
                self.found[coded.marker] = coded
        return self.found.get(marker)


def _info(path: Path, info_sheet: CodedSheet | None) -> dict[str, tuple[object, str]]:
    """Thông tin fields: code -> (raw value, cell address)."""
    if info_sheet is None:
        raise UnreadableWorkbook(NO_INFO_SHEET, file=path.name)
    c = info_sheet.columns.get(INFO_COLUMN)
    if c is None:
        return {}
    return {code: (info_sheet.grid[r][c] if c < len(info_sheet.grid[r]) else None, cell_address(r, c))
            for code, r in info_sheet.rows.items()}


@dataclass(frozen=True)
class Identity:
    """Who submitted what: read from Thông tin alone (cheap)."""

    file_kind: str
    unit_code: str
    period: str
    template_version: str


def read_identity(path: Path | str, opened: tuple[bytes, int] | None = None) -> Identity:
    """Read only the Thông tin sheet (tried by name first, then by marker); ``opened``: the
    file's bytes already read, as ``CodedSheets`` takes them."""
    path = Path(path)
    with CodedSheets(path, opened) as sheets:
        info = _info(path, sheets.get(INFO_MARKER, INFO_SHEET))
    return Identity(
        file_kind=text_of(info.get(FILE_KIND, (UNIT_FILE, ""))[0]) or UNIT_FILE,
        unit_code=normalise_unit_code(info.get(UNIT_FIELD, (None, ""))[0]),
        period=normalise_period(info.get(PERIOD_FIELD, (None, ""))[0]),
        template_version=text_of(info.get(VERSION_FIELD, ("", ""))[0]),
    )


def read_workbook(path: Path | str, catalogue: Catalogue, file_hash: str | None = None) -> Submission:
    """Read a unit submission or the district plan workbook (``file_hash``: its SHA-256, if known).
    Only the sheets of the forms the unit reports are read (all of them for an unknown unit)."""
    path = Path(path)
    with CodedSheets(path) as sheets:
        info_sheet = sheets.get(INFO_MARKER, INFO_SHEET)
        info = _info(path, info_sheet)
        file_kind = text_of(info.get(FILE_KIND, (UNIT_FILE, ""))[0]) or UNIT_FILE
        if file_kind == PLAN_FILE:
            plan = _read_plan(sheets.get(PLAN_MARKER, PLAN_SHEET), catalogue)
        else:
            unit = catalogue.find_unit(normalise_unit_code(info.get(UNIT_FIELD, (None, ""))[0]))
            forms = [f for f in catalogue.forms.values() if unit is None or catalogue.reports(unit, f)]
            read = [(form, sheets.get(FORM_MARKER_PREFIX + form.code, form.sheet)) for form in forms]
    submission = Submission(
        path=path, file_hash=file_hash or hashlib.sha256(sheets.data).hexdigest(), file_kind=file_kind, info=info,
        info_sheet=info_sheet.name,
        sheets={m: SheetCodes(s.name, s.rows, s.columns) for m, s in sheets.found.items()},
    )
    if file_kind == PLAN_FILE:
        submission.cells = plan
    else:
        for form, sheet in read:
            submission.cells += _read_form(sheet, form)
            if sheet is not None:
                derived = [_read_cell(sheet, d.ref) for d in catalogue.derived_cells(form)]
                submission.derived += [c for c in derived if c.value is not None]
                submission.strays += _strays(sheet, form)
    return submission


def read_in_worker(item: tuple[Path, str | None]) -> Submission | UnreadableWorkbook:
    """A workbook read in a worker process (the catalogue is the workers' context), or why it
    cannot be read."""
    path, file_hash = item
    try:
        return read_workbook(path, context(), file_hash)
    except UnreadableWorkbook as e:
        return e
    except MemoryError:
        return UnreadableWorkbook(TOO_MUCH_MEMORY, file=path.name)


def _read_cell(sheet: CodedSheet, ref: Ref) -> CellRead:
    r, c = sheet.rows.get(ref.row), sheet.columns.get(ref.column)
    if r is None or c is None:
        return CellRead(ref, sheet.name, None, None, None, "missing_code")
    line = sheet.grid[r]
    raw = line[c] if c < len(line) else None
    return CellRead(ref, sheet.name, cell_address(r, c), raw, *to_decimal(raw))


def _read_form(sheet: CodedSheet | None, form: Form) -> list[CellRead]:
    if sheet is None:
        return [CellRead(ref, form.sheet, None, None, None, "missing_sheet") for ref in form.input_cells()]
    return [_read_cell(sheet, ref) for ref in form.input_cells()]


def _strays(sheet: CodedSheet, form: Form) -> list[CellRead]:
    """Numbers of a form's sheet that no coded cell holds: in a column without a code, or below
    the table's last coded row. Rows of coded columns above it without a code (the computed rows
    of a template older than their codes) are left to their formulas."""
    if not sheet.rows:
        return []
    coded_columns = set(sheet.columns.values())
    last = max(sheet.rows.values())
    width = max(map(len, sheet.grid), default=0)
    uncoded = [c for c in range(width) if c not in coded_columns]
    strays = []
    for r, line in enumerate(sheet.grid):
        for c in uncoded if r <= last else range(len(line)):
            raw = line[c] if c < len(line) else None
            if type(raw) in (int, float):
                value, problem = to_decimal(raw)
                strays.append(CellRead(Ref(form.code, ""), sheet.name, cell_address(r, c), raw, value, problem))
    return strays


def _read_plan(sheet: CodedSheet | None, catalogue: Catalogue) -> list[CellRead]:
    """Plan cells: DANH_GIA as 1 (Có) / 0 (Không), plan values and last year's results."""
    refs = [Ref(PLAN_FORM, t.code, code) for t in catalogue.targets for code, _ in PLAN_COLUMNS]
    if sheet is None:
        return [CellRead(ref, PLAN_SHEET, None, None, None, "missing_sheet") for ref in refs]
    cells = []
    for ref in refs:
        cell = _read_cell(sheet, ref)
        if ref.column == PLAN_COLUMNS[0][0] and cell.cell is not None:
            answer = text_of(cell.raw)
            flag = {YES: Decimal(1), NO: Decimal(0)}.get(answer)
            problem = "empty" if not answer else (None if flag is not None else "not_yes_no")
            cell = CellRead(ref, cell.sheet, cell.cell, cell.raw, flag, problem)
        cells.append(cell)
    return cells
