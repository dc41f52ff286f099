"""Findings: every problem of a submission, with where it is and a Vietnamese message.

A finding is an error (``lỗi``: blocks the submission) or a warning (``cảnh báo``: shown,
does not block). It names the file, the sheet and cell, the item and the value found, so
a commune official can go straight to the cell and fix it.
"""

from __future__ import annotations

import unicodedata
from dataclasses import asdict, dataclass
from decimal import Decimal

ERROR, WARNING = "lỗi", "cảnh báo"

# Finding codes (ASCII, stable; documented in the README).
UNREADABLE = "tep_khong_doc_duoc"
MISSING_SHEET = "thieu_sheet"
MISSING_CODE = "thieu_ma"
OUTDATED_TEMPLATE = "mau_cu"
UNKNOWN_TEMPLATE = "khong_phai_mau"
UNKNOWN_UNIT = "don_vi_khong_co"
WRONG_PERIOD = "sai_ky"
SUPERSEDED = "bi_thay_the"
PERIOD_CLOSED = "ky_da_khoa"
TEXT_NUMBER = "so_dang_chu"
NOT_NUMBER = "khong_phai_so"
EMPTY = "chua_nhap"
WRONG_TYPE = "sai_kieu"
RULE = "vi_pham_quy_tac"
LARGE_CHANGE = "thay_doi_lon"
OUTPUTS_WITHOUT_FUNDS = "co_ket_qua_khong_co_von"
FUNDS_WITHOUT_OUTPUTS = "co_von_khong_co_ket_qua"


@dataclass(frozen=True)
class Finding:
    severity: str  # ERROR or WARNING
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


def nfc(text: object) -> str:
    return unicodedata.normalize("NFC", str(text))


def name_list(names: list[str], limit: int = 30) -> str:
    """Names joined by commas; past ``limit``, the rest as a count (a national list of missing
    units must not outgrow an Excel cell's 32.767 characters)."""
    shown = ", ".join(names[:limit])
    rest = len(names) - limit
    return shown + (f" và {rest:,} đơn vị khác".replace(",", ".") if rest > 0 else "")


def show_number(value: Decimal | int | None) -> str:
    """A number as Vietnamese people write it: 13.334,47."""
    if value is None:
        return "(trống)"
    value = Decimal(value)
    if value == value.to_integral_value():
        text = f"{int(value):,}"
    else:
        text = f"{value.normalize():,f}"
    return text.replace(",", "\u0001").replace(".", ",").replace("\u0001", ".")


def show_raw(raw: object) -> str:
    if raw is None:
        return ""
    if isinstance(raw, float):
        return show_number(Decimal(repr(raw)))
    if isinstance(raw, int) and not isinstance(raw, bool):
        return show_number(raw)
    return nfc(raw)


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
