"""Findings: every problem of a submission, with where it is and a Vietnamese message.

A finding is an error (``lỗi``: blocks the submission) or a warning (``cảnh báo``: shown,
does not block). It names the file, the sheet and cell, the item and the value found, so
a commune official can go straight to the cell and fix it.

Every kind of finding is declared once and listed in ``REGISTRY`` (code, severity, Vietnamese
title, message template): why a file cannot be read in ``pipeline.workbook.unreadable`` (where
the inspection and the reader meet it), every other kind here; ``finding`` builds one from its
kind and named values, and the README's table of codes is ``codes_table()``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from decimal import Decimal

from pipeline.catalogue.contract import PLAN_FILE
from pipeline.text import ERROR, WARNING, FindingType, Severity, nfc, show_number
from pipeline.workbook.unreadable import UNREADABLE_KINDS, UnreadableWorkbook

# Files of the inbox never read at all.
LINK = FindingType(
    "lien_ket", ERROR, "Liên kết, không phải tệp thật",
    'Tệp "{file}" là một liên kết (symlink) chứ không phải tệp thật trong hộp thư đến: không đọc. Hãy chép chính '
    "tệp báo cáo vào hộp thư đến.")
NOT_A_FILE = FindingType(
    "khong_phai_tep_thuong", ERROR, "Không phải tệp thường",
    '"{file}" không phải là một tệp thường trong hộp thư đến (ống, thiết bị…): không đọc.')
OUTSIDE_INBOX = FindingType(
    "ngoai_hop_thu", ERROR, "Tệp nằm ngoài hộp thư đến",
    'Tệp "{file}" nằm ngoài hộp thư đến (thư mục kỳ là liên kết tới {target}): không đọc. Hãy chép chính tệp báo '
    "cáo vào hộp thư đến.")
HARDLINK = FindingType(
    "lien_ket_cung", ERROR, "Liên kết cứng, không phải tệp riêng",
    'Tệp "{file}" là một liên kết cứng (hard link): cùng nội dung còn mang {links} tên, có thể ở ngoài hộp thư '
    "đến: không đọc. Hãy chép chính tệp báo cáo vào hộp thư đến.")
DENIED = FindingType(
    "khong_co_quyen_doc", ERROR, "Không có quyền đọc tệp",
    'Không đọc được tệp "{file}": tài khoản chạy quy trình tổng hợp không có quyền đọc tệp này. Hãy cấp quyền đọc '
    "tệp cho tài khoản đó (hoặc chép lại tệp vào hộp thư đến bằng tài khoản đó); tệp sẽ được tiếp nhận lần sau.")
READER_CRASHED = FindingType(
    "tep_lam_hong_bo_doc", ERROR, "Tệp làm hỏng bộ đọc",
    'Tệp "{file}" làm hỏng bộ đọc bảng tính ({cause}): tệp bị hỏng hoặc có nội dung bất thường. Hãy mở lại tệp, '
    "lưu thành Excel 2007-365 (.xlsx) rồi gửi lại; nếu vẫn không được, hãy chép số liệu sang mẫu do huyện gửi.")
READER_CAUSES = {"crashed": "bộ đọc dừng đột ngột", "out_of_memory": "cần quá nhiều bộ nhớ",
                 "timed_out": "đọc quá lâu"}
UNKNOWN_TEMPLATE = FindingType(
    "khong_phai_mau", ERROR, "Không phải mẫu của huyện",
    "Tệp không mang phiên bản mẫu: hãy nhập số liệu vào mẫu do huyện gửi.")
OUTDATED_TEMPLATE = FindingType(
    "mau_cu", ERROR, "Mẫu cũ",
    "Tệp làm trên mẫu phiên bản {value}, mẫu hiện hành là {current}: hãy chép số liệu sang mẫu mới nhất rồi gửi lại.")
UNKNOWN_UNIT = FindingType(
    "don_vi_khong_co", ERROR, "Đơn vị không có trong danh mục",
    'Tệp "{file}", ô {cell} (Mã đơn vị): {problem}.',
    variants=(("not_in_period", 'Tệp "{file}": đơn vị {name} không còn trong danh mục đơn vị của kỳ {period}.'),))
WRONG_PERIOD = FindingType(
    "sai_ky", ERROR, "Sai kỳ báo cáo",
    'ô {cell} (Kỳ báo cáo) = "{value}" nhưng tệp được gửi cho kỳ {period}.',
    variants=(("unknown", 'ô {cell} (Kỳ báo cáo): kỳ "{value}" không có trong danh mục kỳ báo cáo ({periods}).'),))
MISSING_SHEET = FindingType(
    "thieu_sheet", ERROR, "Thiếu sheet",
    'Thiếu sheet "{sheet}" (biểu {form}): hãy dùng đúng mẫu do huyện gửi, không xoá sheet.')
MISSING_CODE = FindingType(
    "thieu_ma", ERROR, "Mất dòng hoặc cột mã ẩn",
    "Không tìm thấy ô của {item_label} ({item}): dòng hoặc cột mã ẩn của mẫu đã bị xoá; "
    "hãy dùng lại mẫu do huyện gửi.")
EMPTY = FindingType(
    "chua_nhap", ERROR, "Ô chưa nhập",
    "ô {cell} ({item_label}) chưa nhập: không có số liệu thì nhập 0.",
    variants=(("plan", "ô {cell} ({item_label}) chưa nhập."),))
NOT_NUMBER = FindingType(
    "khong_phai_so", ERROR, "Không phải là số", 'ô {cell} ({item_label}) = "{value}" không phải là số.',
    variants=(("decimal_point", 'ô {cell} ({item_label}) = "{value}" không phải là số: tiếng Việt dùng dấu phẩy cho '
                                "phần thập phân (ví dụ {hint}); hãy nhập lại dạng số."),))
OUT_OF_RANGE = FindingType(
    "so_ngoai_gioi_han", ERROR, "Số vượt giới hạn",
    'ô {cell} ({item_label}) = "{value}" không phải là một số hợp lệ của báo cáo (không hữu hạn, quá lớn hoặc quá '
    "nhiều chữ số thập phân): hãy nhập lại số liệu.")
NOT_YES_NO = FindingType(
    "chi_chon_co_khong", ERROR, "Chỉ chọn Có hoặc Không", 'ô {cell} ({item_label}) = "{value}": chỉ chọn Có hoặc Không.')
WRONG_TYPE = FindingType("sai_kieu", ERROR, "Sai kiểu số liệu", "ô {cell} ({item_label}) = {value}: {expected}.")
INFO_FIELD = FindingType(
    "thong_tin_khong_hop_le", ERROR, "Thông tin không hợp lệ",
    'ô {cell} ({item_label}) = "{value}" không phải là một ngày: nhập ngày dạng ngày/tháng/năm, ví dụ 15/08/2023.',
    variants=(("too_long", "ô {cell} ({item_label}) dài {length} ký tự, quá {limit} ký tự: hãy ghi gọn lại."),))
RULE = FindingType("vi_pham_quy_tac", ERROR, "Vi phạm quy tắc kiểm tra", "{left} {broken} {right}.{note}{hint}")
TOTAL_TYPED_OVER = FindingType(
    "tong_khong_khop", ERROR, "Ô tổng không khớp các thành phần",
    "ô {cell} ({item_label}) = {value} nhưng tổng các thành phần là {total} ({parts}): hãy xoá số đã gõ để "
    "công thức tự tính, hoặc sửa lại các thành phần.")
NUMBER_OUTSIDE = FindingType(
    "so_ngoai_o_nhap", WARNING, "Số nằm ngoài các ô nhập",
    "ô {cell} = {value} nằm ngoài các ô nhập của biểu nên không được đọc: nếu là số liệu của đơn vị, hãy nhập "
    "vào đúng ô của chỉ tiêu.")
OTHER_UNIT_FILE = FindingType(
    "don_vi_khac", ERROR, "Báo cáo của đơn vị khác",
    'Tệp ghi mã "{unit}" ở ô {cell}, không phải mã đơn vị của bạn ({own}): không nhận. Hãy gửi đúng báo cáo của đơn '
    "vị mình.",
    variants=(("no_code", "Tệp ghi không có mã đơn vị nào ở ô {cell}, không phải mã đơn vị của bạn ({own}): không "
                          "nhận. Hãy gửi đúng báo cáo của đơn vị mình."),))
NOT_A_UNIT_REPORT = FindingType(
    "khong_phai_bao_cao_don_vi", ERROR, "Không phải báo cáo của đơn vị",
    'Tệp là {file_kind} (ô {cell}, loại tệp), không phải báo cáo của đơn vị: không nhận. Kế hoạch của huyện chỉ do cán '
    "bộ huyện gửi; đơn vị hãy gửi báo cáo làm trên mẫu báo cáo đơn vị.",
    variants=(("inbox", 'Tệp "{file}" là kế hoạch của huyện nhưng đến qua trang tải lên của đơn vị {unit}: không dùng '
                        "làm kế hoạch. Kế hoạch của huyện chỉ do cán bộ huyện gửi."),))
NOT_A_PLAN = FindingType(
    "khong_phai_ke_hoach", ERROR, "Không phải kế hoạch của huyện",
    "Tệp không phải kế hoạch của huyện (ô {cell}, loại tệp): hãy gửi kế hoạch làm trên mẫu kế hoạch của huyện.")
FILE_KINDS = {PLAN_FILE: "kế hoạch của huyện"}  # how a kind of file other than a unit's report is named
PERIOD_CLOSED = FindingType(
    "ky_da_khoa", ERROR, "Kỳ đã khóa sổ", 'Tệp "{file}": kỳ {period} đã khóa sổ, không nhận thêm báo cáo.')
TEXT_NUMBER = FindingType(
    "so_dang_chu", WARNING, "Số nhập dạng chữ",
    'ô {cell} ({item_label}) = "{value}" là chữ, đã đọc thành số {number}: nên nhập dạng số.')
LARGE_CHANGE = FindingType(
    "thay_doi_lon", WARNING, "Thay đổi lớn so với kỳ trước",
    "ô {cell} ({item_label}) = {value}, kỳ trước {before}: thay đổi {change}% (ngưỡng {threshold}%).")
OUTPUTS_WITHOUT_FUNDS = FindingType(
    "co_ket_qua_khong_co_von", WARNING, "Có kết quả nhưng không có vốn",
    '{item} có kết quả ở biểu {form} nhưng tổng vốn ở sheet "{funds_sheet}" bằng 0: kiểm tra lại nguồn vốn.')
FUNDS_WITHOUT_OUTPUTS = FindingType(
    "co_von_khong_co_ket_qua", WARNING, "Có vốn nhưng không có kết quả",
    "ô {cell} ({item} · {total_label}) = {value} nhưng biểu {form} chưa có kết quả nào: kiểm tra lại số liệu.")
SUPERSEDED = FindingType(
    "bi_thay_the", WARNING, "Tệp bị thay bằng tệp nhận sau",
    'Tệp "{file}" của cùng đơn vị nhận trước tệp "{latest}": chỉ xét tệp nhận sau cùng.')
HELD = FindingType(
    "da_duyet_giu_lai", WARNING, "Báo cáo đã duyệt, tệp mới chờ mở lại",
    'Tệp "{file}": báo cáo kỳ {period} của đơn vị đã được duyệt và đang khóa, nên tệp này được lưu nhưng chưa dùng. '
    "Muốn thay số liệu, hãy đề nghị cán bộ huyện mở lại báo cáo.")

REGISTRY: tuple[FindingType, ...] = (
    *UNREADABLE_KINDS, LINK, HARDLINK, NOT_A_FILE, OUTSIDE_INBOX, DENIED, READER_CRASHED, UNKNOWN_TEMPLATE,
    OUTDATED_TEMPLATE, UNKNOWN_UNIT, WRONG_PERIOD, MISSING_SHEET, MISSING_CODE, EMPTY, NOT_NUMBER, OUT_OF_RANGE,
    NOT_YES_NO, WRONG_TYPE, INFO_FIELD, RULE, TOTAL_TYPED_OVER, NUMBER_OUTSIDE, OTHER_UNIT_FILE, NOT_A_UNIT_REPORT,
    NOT_A_PLAN, PERIOD_CLOSED, TEXT_NUMBER, LARGE_CHANGE,
    OUTPUTS_WITHOUT_FUNDS,
    FUNDS_WITHOUT_OUTPUTS, SUPERSEDED, HELD,
)


@dataclass(frozen=True)
class Finding:
    severity: Severity
    code: str
    message: str
    file: str = ""
    unit: str = ""
    form: str = ""
    sheet: str = ""
    cell: str = ""
    item: str = ""
    item_label: str = ""
    value: str = ""

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def as_dict(self) -> dict:
        return asdict(self)

    def line(self) -> str:
        """One line for a terminal or a log: 'Sheet "01 Chỉ tiêu", ô E5 (…) chưa nhập …'."""
        if not self.sheet:
            return f"[{self.severity}] {self.message}"
        joiner = ", " if self.message.startswith("ô ") else ": "
        return f'[{self.severity}] Sheet "{self.sheet}"{joiner}{self.message}'


LOCATION_FIELDS = tuple(f.name for f in fields(Finding) if f.name not in ("severity", "code", "message"))


def finding(kind: FindingType, variant: str = "", severity: Severity | None = None, **values: object) -> Finding:
    """A finding of ``kind``: ``values`` fill its message template; those named like a field
    of ``Finding`` (file, unit, sheet, cell, item, item_label, value…) are also stored there.
    ``severity`` overrides the kind's (a catalogue rule may be only a warning)."""
    stored = {name: str(values[name]) for name in LOCATION_FIELDS if name in values}
    return Finding(severity or kind.severity, kind.code, kind.message(variant, **values), **stored)


def unreadable(error: UnreadableWorkbook, file_name: str) -> Finding:
    """The finding for a file the inspection or the reader refused (``file_name`` as received)."""
    return finding(error.kind, error.variant, **{**error.values, "file": nfc(file_name)})


def reader_crashed(file_name: str, cause: str) -> Finding:
    """The finding for a file whose reader's worker process died or overran (``cause``: a key of READER_CAUSES)."""
    return finding(READER_CRASHED, file=nfc(file_name), cause=READER_CAUSES[cause])


def codes_table() -> str:
    """The Markdown table of finding codes for the README (a test holds them equal)."""
    rows = [f"| `{kind.code}` | {kind.severity} | {kind.title} |" for kind in REGISTRY]
    return "\n".join(["| code | severity | title |", "|---|---|---|", *rows])


SHOWN_TEXT = 200  # characters of a cell's text shown in a message


def show_raw(raw: object) -> str:
    """A cell's value as typed, bounded in length."""
    if raw is None:
        return ""
    if isinstance(raw, float):
        return show_number(Decimal(repr(raw)))
    if isinstance(raw, int) and not isinstance(raw, bool):
        return show_number(raw)
    text = nfc(str(raw)[: SHOWN_TEXT * 2])
    return text if len(text) <= SHOWN_TEXT else text[:SHOWN_TEXT] + "…"


def sort_key(finding: Finding) -> tuple:
    """Errors first within a file, then by sheet and by cell (row, then column)."""
    letters = "".join(ch for ch in finding.cell if ch.isalpha())
    digits = "".join(ch for ch in finding.cell if ch.isdigit())
    return (finding.file, finding.sheet != "", finding.sheet, int(digits or 0), len(letters), letters,
            finding.severity != ERROR, finding.code)


def counts(findings: list[Finding]) -> tuple[int, int]:
    errors = sum(f.is_error for f in findings)
    return errors, len(findings) - errors


class FindingCounts:
    """Errors and warnings of something that holds ``findings``."""

    findings: list[Finding]

    @property
    def errors(self) -> int:
        return counts(self.findings)[0]

    @property
    def warnings(self) -> int:
        return counts(self.findings)[1]
