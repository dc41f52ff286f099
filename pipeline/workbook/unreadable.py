"""Why a file cannot be read: each reason is a kind of finding of its own, declared here beside
the byte inspection and the reader that meet it (the workbook layer lies below checking, whose
``REGISTRY`` lists these kinds with all the others). ``UnreadableWorkbook`` carries the kind
and the named values of its message, so checking makes the finding from it."""

from __future__ import annotations

from pipeline.catalogue.contract import INFO_SHEET
from pipeline.errors import UserError
from pipeline.text import ERROR, FindingType

SAVE_AS_XLSX = "hãy mở tệp rồi Lưu thành (Save As) kiểu Excel 2007-365 (.xlsx) và gửi lại"
SAVE_AGAIN = "hãy mở lại tệp, lưu thành Excel 2007-365 (.xlsx) rồi gửi lại"


def _kind(code: str, title: str, template: str, **variants: str) -> FindingType:
    return FindingType(code, ERROR, title, template, tuple(variants.items()))


EMPTY_FILE = _kind("tep_rong", "Tệp rỗng", 'Tệp "{file}" rỗng (0 byte).')
FILE_TOO_LARGE = _kind("tep_qua_lon", "Tệp quá lớn", 'Tệp "{file}" quá lớn ({megabytes} MB) so với một báo cáo.')
NOT_A_SPREADSHEET = _kind(
    "khong_phai_bang_tinh", "Không phải bảng tính",
    'Tệp "{file}" không phải là bảng tính (có thể là PDF, trang web hoặc tệp khác đổi tên): hãy gửi tệp báo cáo '
    "làm trên mẫu do huyện gửi (.xlsx).")
BROKEN_ZIP = _kind("tep_nen_hong", "Tệp nén bị hỏng",
                   'Tệp "{file}" bị hỏng (tệp nén không đọc được, có thể chưa tải về hết).')
DAMAGED_PART = _kind(
    "phan_nen_hong", "Phần nén bên trong bị hỏng",
    'Tệp "{file}" bị hỏng (phần nén bên trong không đọc được, có thể chưa tải về hết hoặc hỏng khi chép): '
    "hãy gửi lại tệp.")
UNSUPPORTED_ZIP = _kind(
    "kieu_nen_khong_ho_tro", "Kiểu nén không hỗ trợ",
    'Tệp "{file}" bị hỏng hoặc không đọc được (tệp nén dùng kiểu nén hoặc mật khẩu không hỗ trợ): '
    f"{SAVE_AS_XLSX}.")
ZIP_BOMB = _kind("giai_nen_qua_lon", "Giải nén ra quá lớn",
                 'Tệp "{file}" giải nén ra quá lớn: nghi là tệp độc hại (tệp nén bất thường).')
ODD_PART = _kind("phan_nen_bat_thuong", "Phần nén bất thường",
                 'Tệp "{file}" có phần nén bất thường ({part}): nghi là tệp độc hại (tệp nén bất thường).')
NOT_ODS = _kind("khong_phai_bang_tinh_ods", "Tài liệu OpenDocument không phải bảng tính",
                f'Tệp "{{file}}" là tài liệu OpenDocument nhưng không phải bảng tính (.ods): {SAVE_AS_XLSX}.')
XLSB = _kind("bang_tinh_nhi_phan", "Bảng tính nhị phân (.xlsb)",
             f'Tệp "{{file}}" là bảng tính nhị phân (.xlsb): {SAVE_AS_XLSX}.')
NO_WORKBOOK_PART = _kind("thieu_phan_workbook", "Tệp nén thiếu phần workbook",
                         f'Tệp "{{file}}" không phải là bảng tính (tệp nén thiếu phần workbook): {SAVE_AS_XLSX}.')
MACROS = _kind("co_macro", "Có macro (.xlsm)",
               f'Tệp "{{file}}" có macro (.xlsm), hệ thống không mở tệp có macro: {SAVE_AS_XLSX} (không có macro).')
XML_DECLARATIONS = _kind("khai_bao_xml_nguy_hiem", "Khai báo XML nguy hiểm",
                         'Tệp "{file}" chứa khai báo XML nguy hiểm (DOCTYPE/ENTITY) trong {part}.')
SHEET_TOO_LARGE = _kind(
    "sheet_qua_lon", "Sheet quá lớn",
    'Tệp "{file}" có một sheet quá lớn ({where}): một báo cáo không quá {rows} dòng và {columns} cột; hãy xoá các '
    "dòng, cột thừa rồi gửi lại.",
    read='Tệp "{file}", sheet "{sheet_name}" quá lớn ({height} dòng × {width} cột) so với một báo cáo: hãy xoá các '
         "dòng, cột thừa rồi gửi lại.")
PASSWORD = _kind("dat_mat_khau", "Tệp đặt mật khẩu", 'Tệp "{file}" được đặt mật khẩu: hãy bỏ mật khẩu rồi gửi lại.')
NOT_XLS = _kind("khong_phai_xls", "Tệp Office cũ không phải bảng tính .xls",
                'Tệp "{file}" là tệp Office cũ nhưng không đọc được như bảng tính Excel 97-2003 (.xls): '
                f"{SAVE_AS_XLSX}.")
DAMAGED_WORKBOOK = _kind("bang_tinh_hong", "Bảng tính bị hỏng",
                         f'Tệp "{{file}}" bị hỏng, không đọc được nội dung bảng tính: {SAVE_AGAIN}.')
DAMAGED_SHEET = _kind("sheet_hong", "Sheet bị hỏng",
                      f'Tệp "{{file}}", sheet "{{sheet_name}}": nội dung bị hỏng, không đọc được; {SAVE_AGAIN}.')
NO_INFO_SHEET = _kind("thieu_sheet_thong_tin", f"Không có sheet {INFO_SHEET}",
                      f'Tệp "{{file}}" không có sheet "{INFO_SHEET}" của mẫu báo cáo: hãy dùng mẫu do huyện gửi.')
TOO_MUCH_MEMORY = _kind("can_qua_nhieu_bo_nho", "Cần quá nhiều bộ nhớ để đọc",
                        'Tệp "{file}" cần quá nhiều bộ nhớ để đọc: tệp có nội dung bất thường so với một báo cáo.')

UNREADABLE_KINDS: tuple[FindingType, ...] = (
    EMPTY_FILE, FILE_TOO_LARGE, NOT_A_SPREADSHEET, BROKEN_ZIP, DAMAGED_PART, UNSUPPORTED_ZIP, ZIP_BOMB, ODD_PART,
    NOT_ODS, XLSB, NO_WORKBOOK_PART, MACROS, XML_DECLARATIONS, SHEET_TOO_LARGE, PASSWORD, NOT_XLS, DAMAGED_WORKBOOK,
    DAMAGED_SHEET, NO_INFO_SHEET, TOO_MUCH_MEMORY,
)


class UnreadableWorkbook(UserError):
    """The file is not a workbook this system can or may read: ``kind`` (one of
    ``UNREADABLE_KINDS``) says why, ``values`` fill its message (``file`` names the file);
    ``str()`` is the Vietnamese message."""

    def __init__(self, kind: FindingType, variant: str = "", **values: object) -> None:
        super().__init__(kind, variant)  # the values travel in __dict__ when it is pickled from a worker
        self.kind, self.variant, self.values = kind, variant, values

    def __str__(self) -> str:
        return self.kind.message(self.variant, **self.values)
