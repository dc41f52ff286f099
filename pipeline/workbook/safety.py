"""Looks at a received file before any spreadsheet reader touches it.

Three formats go on to the reader: an Office Open XML workbook (.xlsx, without macros), an
OpenDocument spreadsheet (.ods, LibreOffice's own format) and an Excel 97-2003 workbook
(.xls, a BIFF8 stream in an OLE compound file, whose directory and streams olefile reads).
Everything else gets a Vietnamese reason (a kind of ``unreadable``) that says what the file
is and what to do: an empty file, a PDF or web page saved as a workbook, a broken zip or a
damaged compressed part, a password-protected workbook, .xlsm/.xlsb, a zip bomb, XML with
entity declarations, or a sheet that declares or holds far more cells than a report can have.

Fast readers allocate a sheet's whole grid (its last row × its last column) and abort the
process when they cannot, so each format's grid is bounded from the bytes first: .xlsx
from the sheet XML's dimension and cell and row references, .ods from the repeated rows and cells
that hold values, .xls from each sheet's DIMENSIONS record and cell records. The zip
directory gives every part's size before anything is decompressed, and a DOCTYPE can only
stand in an XML document's prolog, so only the prolog is looked at for it.
"""

from __future__ import annotations

import io
import os
import re
import struct
import zipfile
import zlib
from pathlib import Path
from typing import NamedTuple

import olefile

from pipeline.text import show_number
from pipeline.workbook.unreadable import (
    BROKEN_ZIP,
    DAMAGED_PART,
    EMPTY_FILE,
    FILE_TOO_LARGE,
    MACROS,
    NO_WORKBOOK_PART,
    NOT_A_SPREADSHEET,
    NOT_ODS,
    NOT_XLS,
    ODD_PART,
    PASSWORD,
    SHEET_TOO_LARGE,
    UNSUPPORTED_ZIP,
    XLSB,
    XML_DECLARATIONS,
    ZIP_BOMB,
    UnreadableWorkbook,
)

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_UNCOMPRESSED_BYTES = 60 * 1024 * 1024
MAX_PART_RATIO = 200  # uncompressed / compressed size of one part
# A report has a few hundred cells on a few dozen rows. A sheet's grid (last row × last
# column) and the workbook's grids together stay far below what makes a reader slow.
MAX_ROWS = 9_999
MAX_COLUMNS = 702  # ZZ
MAX_SHEET_GRID = 250_000
MAX_BOOK_GRID = 1_000_000
PROLOG_BYTES = 4096

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
ODS_MIME = b"application/vnd.oasis.opendocument.spreadsheet"

_DANGEROUS_XML = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_ROOT = re.compile(rb"<[A-Za-z_]")
# .xlsx: cell and row references as writers spell them.
_LARGE_REF = re.compile(rb' r="(?![A-Z]?[1-9][0-9]{0,2}")')  # past column Z or row 999
_REF = re.compile(rb' r="([A-Za-z]*)0*([0-9]*)"')
_DIMENSION = re.compile(rb"<(?:[\w.-]+:)?dimension\b[^>]*?\bref\s*=\s*([\"'])([^\"']*)\1")
_RANGE_END = re.compile(rb"\s*\$?([A-Za-z]{1,3})\$?0*([0-9]{1,7})\s*$")
# .ods: rows and cells with their repeat counts; a cell holds a value if it has a value type or content.
_ODS_ROW = re.compile(rb"<(?:[\w.-]+:)?table-row\b([^>]*?)(/?)>")
_ODS_ROW_END = re.compile(rb"</(?:[\w.-]+:)?table-row\s*>")
_ODS_CELL = re.compile(rb"<(?:[\w.-]+:)?(?:covered-)?table-cell\b([^>]*?)(/?)>")
_ODS_TABLE = re.compile(rb"<(?:[\w.-]+:)?table\b[\s>]")
_ROWS_REPEATED = re.compile(rb"number-rows-repeated\s*=\s*[\"']\s*([0-9]{1,12})")
_COLUMNS_REPEATED = re.compile(rb"number-columns-repeated\s*=\s*[\"']\s*([0-9]{1,12})")
_VALUE_TYPE = re.compile(rb"value-type\s*=")


def column_number(letters: bytes) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ch - 64
    return n


class _Grids:
    """The grid sizes of a workbook's sheets, bounded one by one and together."""

    def __init__(self, name: str) -> None:
        self.name, self.total = name, 0

    def add(self, rows: int, columns: int, where: str) -> None:
        if rows > MAX_ROWS or columns > MAX_COLUMNS or rows * columns > MAX_SHEET_GRID:
            raise self.refuse(where)
        self.total += rows * columns
        if self.total > MAX_BOOK_GRID:
            raise self.refuse(where)

    def refuse(self, where: str) -> UnreadableWorkbook:
        return UnreadableWorkbook(SHEET_TOO_LARGE, file=self.name, where=where, rows=show_number(MAX_ROWS),
                                  columns=MAX_COLUMNS)


class Inspected(NamedTuple):
    """A file that passed: its format ("xlsx", "ods" or "xls") and the very bytes inspected,
    which the reader reads and hashes (the file may change on disk meanwhile)."""

    kind: str
    data: bytes


def inspect_file(path: Path) -> Inspected:
    """A plain, reasonably sized workbook's format and bytes, or raise UnreadableWorkbook
    saying why it is not one."""
    with path.open("rb") as f:
        return inspect_data(f.read(MAX_FILE_BYTES + 1), path.name, os.fstat(f.fileno()).st_size)


def inspect_data(data: bytes, name: str, size: int) -> Inspected:
    """The same for a file's first ``MAX_FILE_BYTES + 1`` bytes, read by the caller from the
    file ``name`` of ``size`` bytes."""
    if not data:
        raise UnreadableWorkbook(EMPTY_FILE, file=name)
    if len(data) > MAX_FILE_BYTES:
        raise UnreadableWorkbook(FILE_TOO_LARGE, file=name, megabytes=size // 1024 // 1024)
    return Inspected(_inspect_bytes(data, name), data)


def _inspect_bytes(data: bytes, name: str) -> str:
    head = data[:8]
    if head == OLE_MAGIC:
        _inspect_ole(data, name)
        return "xls"
    if head[:4] != ZIP_MAGIC:
        raise UnreadableWorkbook(NOT_A_SPREADSHEET, file=name)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return _inspect_archive(archive, name)
    except zipfile.BadZipFile:
        raise UnreadableWorkbook(BROKEN_ZIP, file=name) from None
    except (zlib.error, EOFError):
        raise UnreadableWorkbook(DAMAGED_PART, file=name) from None
    except (zipfile.LargeZipFile, NotImplementedError, OSError, ValueError, RuntimeError):
        raise UnreadableWorkbook(UNSUPPORTED_ZIP, file=name) from None


def _read_part(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, first: int | None = None) -> bytes:
    """A part's bytes (only its ``first`` ones if given), never more than the bound, whatever its
    header says. zipfile checks the local header, the name, encryption and, for a part read to
    its end, the CRC."""
    with archive.open(info) as part:
        data = part.read(first or MAX_UNCOMPRESSED_BYTES + 1)
    if len(data) > MAX_UNCOMPRESSED_BYTES:
        raise UnreadableWorkbook(ZIP_BOMB, file=name)
    return data


def _inspect_archive(archive: zipfile.ZipFile, name: str) -> str:
    infos = archive.infolist()
    names = {i.filename for i in infos}
    if sum(i.file_size for i in infos) > MAX_UNCOMPRESSED_BYTES:
        raise UnreadableWorkbook(ZIP_BOMB, file=name)
    for info in infos:
        if info.file_size > 1024 * 1024 and info.file_size > MAX_PART_RATIO * max(info.compress_size, 1):
            raise UnreadableWorkbook(ODD_PART, file=name, part=info.filename)
    by_name = {i.filename: i for i in infos}
    if "content.xml" in names and "mimetype" in names:
        if _read_part(archive, by_name["mimetype"], name).strip() != ODS_MIME:
            raise UnreadableWorkbook(NOT_ODS, file=name)
        _inspect_ods(_read_part(archive, by_name["content.xml"], name), name)
        return "ods"
    if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
        if "xl/workbook.bin" in names:
            raise UnreadableWorkbook(XLSB, file=name)
        raise UnreadableWorkbook(NO_WORKBOOK_PART, file=name)
    content_types = _read_part(archive, by_name["[Content_Types].xml"], name)
    if b"macroEnabled" in content_types or "xl/vbaProject.bin" in names:
        raise UnreadableWorkbook(MACROS, file=name)
    grids = _Grids(name)
    for info in infos:
        if not info.filename.endswith((".xml", ".rels", ".vml")):
            continue
        sheet = info.filename.startswith("xl/worksheets/")
        if info.filename == "[Content_Types].xml":
            data = content_types  # read whole above: each part is inflated once
        else:
            data = _read_part(archive, info, name, None if sheet else PROLOG_BYTES)
        _check_prolog(data, info.filename, name)
        if sheet:
            _inspect_sheet(data, info.filename, grids)
    return "xlsx"


def _check_prolog(data: bytes, member: str, name: str) -> None:
    """A DOCTYPE (and so an entity declaration) can only stand before the root element, which
    a real part starts within its first bytes."""
    root = _ROOT.search(data, 0, PROLOG_BYTES)
    if root is None and len(data) >= PROLOG_BYTES or _DANGEROUS_XML.search(data, 0, root.start() if root else PROLOG_BYTES):
        raise UnreadableWorkbook(XML_DECLARATIONS, file=name, part=member)


def _inspect_sheet(data: bytes, member: str, grids: _Grids) -> None:
    """The sheet's grid from its declared dimension and its references as writers spell them
    (``r="B12"``: one search for any that is not small, exact only then). Other spellings XML
    allows are bounded after calamine has read the sheet, before its grid becomes Python
    objects, and a grid too large to allocate kills only the reader's worker process."""
    if len(data) > len(b"<row") * MAX_ROWS and data.count(b"<row") > MAX_ROWS:  # a short part cannot hold that many
        raise grids.refuse(member)
    last_row = last_column = 1
    dimension = _DIMENSION.search(data, 0, PROLOG_BYTES)
    if dimension:
        end = _RANGE_END.search(dimension.group(2).split(b":")[-1])
        if end is None:
            raise grids.refuse(member)
        last_row, last_column = int(end.group(2)), column_number(end.group(1))
    if _LARGE_REF.search(data):
        for letters, digits in _REF.findall(data):
            if len(letters) > 3 or len(digits) > 7:
                raise grids.refuse(member)
            last_row = max(last_row, int(digits or 0))
            last_column = max(last_column, column_number(letters) if letters else 0)
    grids.add(last_row, last_column, member)


def _inspect_ods(content: bytes, name: str) -> None:
    """Rows and cells of every table of content.xml, counted with their repeats where they hold
    values (a saved sheet repeats its empty rows to row 1.048.576: that is fine)."""
    _check_prolog(content, "content.xml", name)
    grids = _Grids(name)
    for number, table in enumerate(_ODS_TABLE.split(content)[1:], start=1):
        where = f"trang tính thứ {number}"
        row = last_row = last_column = 0
        position = 0
        while True:
            start = _ODS_ROW.search(table, position)
            if start is None:
                break
            repeat = _repeat(_ROWS_REPEATED, start.group(1), grids, where)
            if start.group(2):  # <table-row/>: empty
                body, position = b"", start.end()
            else:
                end = _ODS_ROW_END.search(table, start.end())
                stop = end.start() if end else len(table)
                body, position = table[start.end():stop], end.end() if end else len(table)
            width = _ods_row_width(body, grids, where)
            if width:
                last_row, last_column = row + repeat, max(last_column, width)
                grids.add(last_row, last_column, where)
            row += repeat
        grids.add(last_row, last_column, where)


def _repeat(pattern: re.Pattern, attributes: bytes, grids: _Grids, where: str) -> int:
    found = pattern.search(attributes)
    if found is None:
        return 1
    if len(found.group(1)) > 8:
        raise grids.refuse(where)
    return max(int(found.group(1)), 1)


def _ods_row_width(body: bytes, grids: _Grids, where: str) -> int:
    """How far a row's cells that hold values reach (0: an empty row)."""
    column = width = 0
    for cell in _ODS_CELL.finditer(body):
        repeat = _repeat(_COLUMNS_REPEATED, cell.group(1), grids, where)
        filled = _VALUE_TYPE.search(cell.group(1)) is not None or (
            not cell.group(2) and body[cell.end():cell.end() + 2] not in (b"</", b""))
        column += repeat
        if filled:
            width = column
            if width > MAX_COLUMNS:
                raise grids.refuse(where)
    return width


# --------------------------------------------------------------------------- .xls (OLE + BIFF8)

_BIFF_BOF, _BIFF_EOF, _BIFF_DIMENSIONS, _BIFF_FILEPASS = 0x0809, 0x000A, 0x0200, 0x002F
# Cell records (row: u16, column: u16 first): FORMULA, NUMBER, LABELSST, LABEL, RK, BOOLERR, BLANK, RSTRING
_BIFF_CELLS = {0x0006, 0x0203, 0x00FD, 0x0204, 0x027E, 0x0205, 0x0201, 0x00D6}
_BIFF_MULTI = {0x00BD, 0x00BE}  # MULRK, MULBLANK: row, first column, ..., last column (u16 at the end)
ENCRYPTED_STREAM = "EncryptionInfo"  # an encrypted .xlsx: an OLE file holding this stream and the encrypted package


def _inspect_ole(data: bytes, name: str) -> None:
    """An OLE compound file, read through olefile: refused if encrypted (an encrypted .xlsx's
    EncryptionInfo stream here, an encrypted .xls's FILEPASS record in the BIFF walk) or not
    an Excel workbook; its Workbook stream's sheets bounded (their DIMENSIONS and every cell
    record's row and column)."""
    try:
        with olefile.OleFileIO(io.BytesIO(data)) as ole:
            encrypted = ole.exists(ENCRYPTED_STREAM)
            stream = next((n for n in ("Workbook", "Book") if ole.get_type(n) == olefile.STGTY_STREAM), None)
            biff = None if encrypted or stream is None else ole.openstream(stream).read()
    except (OSError, ValueError, LookupError, RuntimeError, struct.error):  # olefile's ways to fail on a damaged file
        raise UnreadableWorkbook(NOT_XLS, file=name) from None
    if encrypted:
        raise UnreadableWorkbook(PASSWORD, file=name)
    if biff is None:
        raise UnreadableWorkbook(NOT_XLS, file=name)
    _inspect_biff(biff, name)


def _inspect_biff(stream: bytes, name: str) -> None:
    grids = _Grids(name)
    position, sheet, last_row, last_column = 0, 0, 0, 0
    in_sheet = False
    while position + 4 <= len(stream):
        kind, length = struct.unpack_from("<HH", stream, position)
        body = stream[position + 4: position + 4 + length]
        position += 4 + length
        if kind == _BIFF_FILEPASS:
            raise UnreadableWorkbook(PASSWORD, file=name)
        if kind == _BIFF_BOF:
            if len(body) < 4 or struct.unpack_from("<H", body, 0)[0] != 0x0600:
                raise UnreadableWorkbook(NOT_XLS, file=name)  # not BIFF8 (Excel 97-2003)
            in_sheet = struct.unpack_from("<H", body, 2)[0] == 0x0010
            sheet, last_row, last_column = sheet + in_sheet, 0, 0
        elif not in_sheet:
            continue
        elif kind == _BIFF_DIMENSIONS and len(body) >= 12:  # first row, last row + 1, first column, last column + 1
            last_row = max(last_row, struct.unpack_from("<I", body, 4)[0])
            last_column = max(last_column, struct.unpack_from("<H", body, 10)[0])
        elif (kind in _BIFF_CELLS or kind in _BIFF_MULTI) and len(body) >= 4:
            row, column = struct.unpack_from("<HH", body, 0)
            if kind in _BIFF_MULTI and len(body) >= 6:
                column = struct.unpack_from("<H", body, len(body) - 2)[0]
            last_row, last_column = max(last_row, row + 1), max(last_column, column + 1)
        elif kind == _BIFF_EOF:
            grids.add(last_row, last_column, f"sheet thứ {sheet}")
            in_sheet = False
    if in_sheet:  # a stream cut short
        grids.add(last_row, last_column, f"sheet thứ {sheet}")
