"""Looks at a received file before any spreadsheet reader touches it.

Only a plain .xlsx (an Office Open XML zip without macros) of a sane size goes on to the
reader. Everything else gets a Vietnamese reason: an empty file, a PDF or web page saved
as .xlsx, a broken zip, an old .xls, a password-protected workbook, .xlsm/.xlsb, a zip
bomb, XML with entity declarations, or a sheet that declares or holds far more cells than
a report can have (some fast readers allocate the whole grid and abort the process, so
the sheet XML is scanned as bytes first).
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from pipeline.errors import UserError

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_UNCOMPRESSED_BYTES = 60 * 1024 * 1024
MAX_PART_RATIO = 200  # uncompressed / compressed size of one part
# A report has a few hundred cells. Bounds that a byte search can check in one pass:
# a cell reference with a three-letter column (past ZZ) or a five-digit row (past 9.999).
MAX_ROWS = 9_999
MAX_COLUMNS = 702  # ZZ
MAX_CELLS = 200_000

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
ENCRYPTED_STREAM = "EncryptionInfo".encode("utf-16-le")
_OUT_OF_BOUNDS_REF = re.compile(rb' r="(?:[A-Z]{3}[0-9]|[A-Z]{1,2}[0-9]{5})')
_DIMENSION = re.compile(rb'<dimension\b[^>]*?\bref="[A-Z]{1,3}[0-9]{1,7}:([A-Z]{1,3})([0-9]{1,7})"')
_DANGEROUS_XML = (b"<!DOCTYPE", b"<!ENTITY", b"<!doctype", b"<!entity")


class UnreadableWorkbook(UserError):
    """The file is not a workbook this system can or may read; the message says why, in Vietnamese."""


def column_number(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ch - 64
    return n


def inspect_file(path: Path) -> None:
    """Raise UnreadableWorkbook when the file is not a plain, reasonably sized .xlsx workbook."""
    name = path.name
    size = path.stat().st_size
    if size == 0:
        raise UnreadableWorkbook(f'Tệp "{name}" rỗng (0 byte).')
    if size > MAX_FILE_BYTES:
        raise UnreadableWorkbook(f'Tệp "{name}" quá lớn ({size // 1024 // 1024} MB) so với một báo cáo.')
    with path.open("rb") as f:
        head = f.read(8)
        if head == OLE_MAGIC:
            f.seek(0)
            if ENCRYPTED_STREAM in f.read():
                raise UnreadableWorkbook(f'Tệp "{name}" được đặt mật khẩu: hãy bỏ mật khẩu rồi gửi lại.')
            raise UnreadableWorkbook(f'Tệp "{name}" là bảng tính Excel cũ (.xls): hãy dùng mẫu .xlsx do huyện gửi.')
    if head[:4] != ZIP_MAGIC:
        raise UnreadableWorkbook(f'Tệp "{name}" không phải là bảng tính .xlsx (có thể là PDF, trang web hoặc tệp khác đổi tên).')
    try:
        with zipfile.ZipFile(path) as archive:
            _inspect_archive(archive, name)
    except zipfile.BadZipFile:
        raise UnreadableWorkbook(f'Tệp "{name}" bị hỏng (tệp nén .xlsx không đọc được, có thể chưa tải về hết).') from None
    except (zipfile.LargeZipFile, NotImplementedError, EOFError, OSError) as e:
        raise UnreadableWorkbook(f'Tệp "{name}" bị hỏng hoặc không đọc được ({type(e).__name__}).') from None


def _inspect_archive(archive: zipfile.ZipFile, name: str) -> None:
    infos = archive.infolist()
    names = {i.filename for i in infos}
    if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
        if "xl/workbook.bin" in names:
            raise UnreadableWorkbook(f'Tệp "{name}" là bảng tính nhị phân (.xlsb): hãy lưu lại dạng .xlsx.')
        raise UnreadableWorkbook(f'Tệp "{name}" không phải là bảng tính .xlsx (thiếu phần workbook).')
    if sum(i.file_size for i in infos) > MAX_UNCOMPRESSED_BYTES:
        raise UnreadableWorkbook(f'Tệp "{name}" giải nén ra quá lớn: nghi là tệp độc hại (zip bomb).')
    for info in infos:
        if info.compress_size and info.file_size / info.compress_size > MAX_PART_RATIO and info.file_size > 1024 * 1024:
            raise UnreadableWorkbook(f'Tệp "{name}" có phần nén bất thường ({info.filename}): nghi là tệp độc hại (zip bomb).')
    content_types = _read(archive, "[Content_Types].xml", name)
    if b"macroEnabled" in content_types or "xl/vbaProject.bin" in names:
        raise UnreadableWorkbook(f'Tệp "{name}" có macro (.xlsm): hãy lưu lại dạng .xlsx không có macro.')
    for info in infos:
        if not info.filename.endswith((".xml", ".rels")):
            continue
        data = _read(archive, info.filename, name)
        if any(marker in data[:4096] for marker in _DANGEROUS_XML):
            raise UnreadableWorkbook(f'Tệp "{name}" chứa khai báo XML nguy hiểm (DOCTYPE/ENTITY) trong {info.filename}.')
        if info.filename.startswith("xl/worksheets/"):
            _inspect_sheet(data, info.filename, name)


def _read(archive: zipfile.ZipFile, member: str, name: str) -> bytes:
    """A part's bytes, never more than the bound (a lying header cannot make us read more)."""
    with archive.open(member) as f:
        data = f.read(MAX_UNCOMPRESSED_BYTES + 1)
    if len(data) > MAX_UNCOMPRESSED_BYTES:
        raise UnreadableWorkbook(f'Tệp "{name}" giải nén ra quá lớn: nghi là tệp độc hại (zip bomb).')
    return data


def _inspect_sheet(data: bytes, member: str, name: str) -> None:
    """Largest row and column, declared or used, and the number of cells, from the bytes."""
    rows = f"{MAX_ROWS:,}".replace(",", ".")
    too_big = (f'Tệp "{name}" có một sheet quá lớn ({member}): một báo cáo không quá {rows} dòng '
               f"và {MAX_COLUMNS} cột; hãy xoá các dòng, cột thừa rồi gửi lại.")
    dimension = _DIMENSION.search(data, 0, 4096)
    if dimension and (column_number(dimension.group(1)) > MAX_COLUMNS or int(dimension.group(2)) > MAX_ROWS):
        raise UnreadableWorkbook(too_big)
    cells = data.count(b"<c ") + data.count(b"<c>")
    if cells > MAX_CELLS or data.count(b"<row") > MAX_ROWS:
        raise UnreadableWorkbook(too_big)
    if _OUT_OF_BOUNDS_REF.search(data):
        raise UnreadableWorkbook(too_big)
