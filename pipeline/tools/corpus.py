"""The corpus of bad and hostile workbooks under tests/corpus/, and how it is made.

``python -m pipeline.tools.corpus`` regenerates it. Bad workbooks are written from the template
(the same writer units' files come from) with one thing wrong; hostile files are built
byte by byte. Each case says which finding it must produce: (code, sheet, cell, words of
the message)."""

from __future__ import annotations

import dataclasses
import io
import zipfile
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from pipeline.catalogue import Ref, default_catalogue
from pipeline.checking.findings import (
    EMPTY,
    MISSING_CODE,
    MISSING_SHEET,
    NOT_NUMBER,
    OUTDATED_TEMPLATE,
    TEXT_NUMBER,
    UNKNOWN_UNIT,
    WRONG_PERIOD,
    WRONG_TYPE,
)
from pipeline.settings import PROJECT_ROOT
from pipeline.tools.sample import sample_values
from pipeline.workbook.template import Filling, write_unit_workbook
from pipeline.workbook.unreadable import (
    BROKEN_ZIP,
    EMPTY_FILE,
    MACROS,
    NOT_A_SPREADSHEET,
    NOT_XLS,
    SHEET_TOO_LARGE,
    XLSB,
    XML_DECLARATIONS,
    ZIP_BOMB,
)
from pipeline.text import show_number

CORPUS = PROJECT_ROOT / "tests" / "corpus"
UNIT = "03259"  # Xã Phình Sáng: every form in scope
ZIP_TIME = (2023, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Case:
    name: str
    code: str
    sheet: str = ""
    cell: str = ""
    words: str = ""  # a part of the message
    accepted: bool = False  # True: only a warning


def _info(**changes) -> dict:
    return {"MA_DON_VI": UNIT, "KY_BAO_CAO": "2023", "NGUOI_LAP": "Lò Văn Minh", "DIEN_THOAI": "0215 3800 100", **changes}


def _unit_workbook(path: Path, values: dict, info: dict | None = None, catalogue=None) -> Path:
    catalogue = catalogue or default_catalogue()
    return write_unit_workbook(path, catalogue, catalogue.unit(UNIT), Filling(info or _info(), values))


def bad_workbooks(out: Path) -> list[Case]:
    """Workbooks from the template with one mistake each."""
    catalogue = default_catalogue()
    base = sample_values(catalogue)[UNIT]
    cells = {
        "chua-nhap": (Ref("01", "HO_TONG"), None),
        "khong-phai-so": (Ref("01", "HO_NGHEO"), "mười hai"),
        "so-dang-chu": (Ref("02", "DA1.TDA1", "NSTW_SN"), None),  # filled below, Vietnamese style
        "so-le-o-o-dem": (Ref("07", "TE5_CAN_DO"), Decimal("12.5")),
        "tien-4-so-le": (Ref("02", "DA5", "CHUYEN_SN"), Decimal("1.2345")),
        "co-bang-2": (Ref("12", "XA_DBKK_DAI_TT"), 2),
        "so-am": (Ref("13", "DOI_THOAI"), -3),
    }
    money = base[Ref("02", "DA1.TDA1", "NSTW_SN")]
    cells["so-dang-chu"] = (Ref("02", "DA1.TDA1", "NSTW_SN"), show_number(money, places=2).replace(".", " "))
    for name, (ref, value) in cells.items():
        _unit_workbook(out / f"{name}.xlsx", {**base, ref: value})
    _unit_workbook(out / "ma-don-vi-la.xlsx", base, _info(MA_DON_VI="99999"))
    _unit_workbook(out / "sai-ky.xlsx", base, _info(KY_BAO_CAO="2022"))
    old = dataclasses.replace(catalogue, version="000000000000")
    _unit_workbook(out / "mau-cu.xlsx", base, catalogue=old)
    return [
        Case("chua-nhap.xlsx", EMPTY.code, "01 Chỉ tiêu", "E5", "chưa nhập"),
        Case("khong-phai-so.xlsx", NOT_NUMBER.code, "01 Chỉ tiêu", "E6", '"mười hai" không phải là số'),
        Case("so-dang-chu.xlsx", TEXT_NUMBER.code, "02 Nguồn vốn", "E8", "là chữ, đã đọc thành số", accepted=True),
        Case("so-le-o-o-dem.xlsx", WRONG_TYPE.code, "07 DA3.TDA2", "E6", "12,5: phải là số nguyên không âm"),
        Case("tien-4-so-le.xlsx", WRONG_TYPE.code, "02 Nguồn vốn", "H18", "tối đa 3 chữ số thập phân"),
        Case("co-bang-2.xlsx", WRONG_TYPE.code, "12 DA6.TDA1", "E6", "chỉ nhận 1 (có) hoặc 0 (không)"),
        Case("so-am.xlsx", WRONG_TYPE.code, "13 DA6.TDA2", "E8", "= -3: phải là số nguyên không âm"),
        Case("ma-don-vi-la.xlsx", UNKNOWN_UNIT.code, "Thông tin", "C4", 'mã đơn vị "99999" không có trong danh mục'),
        Case("sai-ky.xlsx", WRONG_PERIOD.code, "Thông tin", "C7", '"2022" nhưng tệp được gửi cho kỳ 2023'),
        Case("mau-cu.xlsx", OUTDATED_TEMPLATE.code, "Thông tin", "", "phiên bản 000000000000"),
    ]


def _rewrite(source: Path, target: Path, change) -> None:
    """Copy a workbook's zip, letting ``change(name, data)`` alter or drop (None) each part."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = change(info.filename, zin.read(info.filename))
            if data is not None:
                zout.writestr(zipfile.ZipInfo(info.filename, ZIP_TIME), data, zipfile.ZIP_DEFLATED)
    target.write_bytes(buffer.getvalue())


def _sheet_part(source: Path, sheet_name: str) -> str:
    """The zip part of a sheet, from the workbook's own order (xlsxwriter: sheetN.xml)."""
    with zipfile.ZipFile(source) as archive:
        workbook = archive.read("xl/workbook.xml").decode()
    names = [chunk.split('"')[0] for chunk in workbook.split('<sheet name="')[1:]]
    return f"xl/worksheets/sheet{names.index(sheet_name) + 1}.xml"


def structural_workbooks(out: Path) -> list[Case]:
    """A sheet removed, a hidden code row removed: edited at the XML level of a good file."""
    catalogue = default_catalogue()
    good = _unit_workbook(out / ".good.xlsx", sample_values(catalogue)[UNIT])
    part = _sheet_part(good, "13 DA6.TDA2")

    def drop_sheet(name: str, data: bytes) -> bytes | None:
        if name == "xl/workbook.xml":
            start = data.index(b'<sheet name="13 DA6.TDA2"')
            return data[:start] + data[data.index(b"/>", start) + 2:]
        return None if name == part else data

    _rewrite(good, out / "thieu-sheet.xlsx", drop_sheet)
    part01 = _sheet_part(good, "01 Chỉ tiêu")
    _rewrite(good, out / "xoa-ma-an.xlsx",
             lambda name, data: data.replace(b'<c r="A6" t="s"><v>', b'<c r="A6" t="n"><v>0', 1)
             if name == part01 else data)
    good.unlink()
    return [
        Case("thieu-sheet.xlsx", MISSING_SHEET.code, "13 DA6.TDA2", "", 'Thiếu sheet "13 DA6.TDA2"'),
        Case("xoa-ma-an.xlsx", MISSING_CODE.code, "01 Chỉ tiêu", "", "Số hộ nghèo (01:HO_NGHEO): dòng hoặc cột mã ẩn"),
    ]


def _zip(parts: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(zipfile.ZipInfo(name, ZIP_TIME), data, zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


SHEET_XML = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="http://schemas.openxmlformats.org/'
             b'spreadsheetml/2006/main"><sheetData>%s</sheetData></worksheet>')


def hostile_files(out: Path) -> list[Case]:
    """Files that are not what they claim, or that attack the reader."""
    catalogue = default_catalogue()
    good = _unit_workbook(out / ".good.xlsx", sample_values(catalogue)[UNIT])
    data = good.read_bytes()
    (out / "rong.xlsx").write_bytes(b"")
    (out / "tai-lieu-pdf.xlsx").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer\n%%EOF\n")
    (out / "trang-web.xlsx").write_bytes("<!DOCTYPE html><html><body>Đăng nhập</body></html>".encode())
    (out / "tai-do-dang.xlsx").write_bytes(data[: len(data) // 2])
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)
    (out / "excel-cu.xls").write_bytes(ole + b"Workbook".ljust(512, b"\0"))
    _rewrite(good, out / "co-macro.xlsm", lambda name, part: part.replace(
        b"sheet.main+xml", b"sheet.macroEnabled.main+xml") if name == "[Content_Types].xml" else part)
    (out / "nhi-phan.xlsb").write_bytes(_zip({"[Content_Types].xml": b"<Types/>", "xl/workbook.bin": b"\0" * 64}))
    (out / "zip-bomb.xlsx").write_bytes(_zip({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>",
                                               "xl/worksheets/sheet1.xml": b" " * (80 * 1024 * 1024)}))
    laughs = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
              b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>&lol2;</t></si></sst>')
    _rewrite(good, out / "thuc-the-xml.xlsx", lambda name, part: laughs if name == "xl/sharedStrings.xml" else part)
    part01 = _sheet_part(good, "01 Chỉ tiêu")
    junk = b"".join(b'<row r="%d"><c r="B%d" t="inlineStr"><is><t>x</t></is></c></row>' % (r, r)
                    for r in range(100, 100_100))
    _rewrite(good, out / "100000-dong-rac.xlsx",
             lambda name, part: part.replace(b"</sheetData>", junk + b"</sheetData>") if name == part01 else part)
    huge = SHEET_XML % b'<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'
    _rewrite(good, out / "o-khong-lo.xlsx", lambda name, part: huge if name == part01 else part)
    good.unlink()
    return [
        Case("rong.xlsx", EMPTY_FILE.code, words="rỗng"),
        Case("tai-lieu-pdf.xlsx", NOT_A_SPREADSHEET.code, words="không phải là bảng tính"),
        Case("trang-web.xlsx", NOT_A_SPREADSHEET.code, words="không phải là bảng tính"),
        Case("tai-do-dang.xlsx", BROKEN_ZIP.code, words="bị hỏng"),
        Case("excel-cu.xls", NOT_XLS.code, words="không đọc được như bảng tính Excel 97-2003 (.xls)"),
        Case("co-macro.xlsm", MACROS.code, words="có macro"),
        Case("nhi-phan.xlsb", XLSB.code, words="nhị phân (.xlsb)"),
        Case("zip-bomb.xlsx", ZIP_BOMB.code, words="tệp nén bất thường"),
        Case("thuc-the-xml.xlsx", XML_DECLARATIONS.code, words="DOCTYPE/ENTITY"),
        Case("100000-dong-rac.xlsx", SHEET_TOO_LARGE.code, words="sheet quá lớn"),
        Case("o-khong-lo.xlsx", SHEET_TOO_LARGE.code, words="sheet quá lớn"),
    ]


def build(out: Path = CORPUS) -> list[Case]:
    (out / "bad").mkdir(parents=True, exist_ok=True)
    (out / "hostile").mkdir(parents=True, exist_ok=True)
    cases = [dataclasses.replace(c, name=f"bad/{c.name}") for c in bad_workbooks(out / "bad")]
    cases += [dataclasses.replace(c, name=f"bad/{c.name}") for c in structural_workbooks(out / "bad")]
    cases += [dataclasses.replace(c, name=f"hostile/{c.name}") for c in hostile_files(out / "hostile")]
    return cases

if __name__ == "__main__":
    for case in build():
        print(case.name)
