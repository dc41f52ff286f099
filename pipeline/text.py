"""Words and numbers as the project writes them, at the ground floor every layer may use: NFC
text, Vietnamese numbers (through babel), lists of names, ASCII file-name parts, the two
severity words and the kind of a finding (declared by the layer that finds it: the workbook
layer declares why a file cannot be read, checking the rest, in one registry)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from decimal import Decimal, localcontext
from enum import StrEnum

LOCALE = "vi"


class Severity(StrEnum):
    """The one vocabulary of severity: catalogue rules, findings and every output. An error
    (``lỗi``) blocks a submission; a warning (``cảnh báo``) is shown and does not."""

    ERROR = "lỗi"
    WARNING = "cảnh báo"


ERROR, WARNING = Severity.ERROR, Severity.WARNING


@dataclass(frozen=True)
class FindingType:
    """A kind of finding, declared once (``pipeline.checking.findings.REGISTRY`` lists them all):
    its stable ASCII code, its severity, its Vietnamese title and the template of its message.
    ``variants`` are other wordings of the same finding (by name), for a case the main template
    does not fit."""

    code: str
    severity: Severity
    title: str
    template: str
    variants: tuple[tuple[str, str], ...] = ()

    def message(self, variant: str = "", **values: object) -> str:
        template = dict(self.variants)[variant] if variant else self.template
        return template.format(**values)


def nfc(text: object) -> str:
    return unicodedata.normalize("NFC", str(text))


SHOWN_DIGITS = 30  # past this, a number is shown in scientific notation (formatting stays cheap)


def show_number(value: Decimal | int | float | None, places: int | None = None) -> str:
    """A number as Vietnamese people write it: 13.334,47 or 132.310, with ``places`` decimals
    (rounded half to even) or as many as it has (bounded: whatever the value, the text is short)."""
    from babel.numbers import format_decimal  # here, not at import: `check` starts without babel

    if value is None:
        return "(trống)"
    value = Decimal(value)
    if not value.is_finite():
        return "không hữu hạn"
    if places is not None and abs(value.adjusted()) <= SHOWN_DIGITS:
        value = value.quantize(Decimal(1).scaleb(-places))
    if value and (abs(value.adjusted()) > SHOWN_DIGITS or value.as_tuple().exponent < -SHOWN_DIGITS):
        return f"{value:.6E}".replace(".", ",")
    with localcontext(prec=2 * SHOWN_DIGITS + 2):  # exact for every number shown in full
        if places is not None:
            pattern = "#,##0" + ("." + "0" * places if places else "")
            return format_decimal(value.copy_abs() if value == 0 else value, pattern, locale=LOCALE)
        value = value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()
        return format_decimal(value.copy_abs() if value == 0 else value, locale=LOCALE, decimal_quantization=False)


def ratio(numerator: Decimal | None, denominator: Decimal | None) -> Decimal | None:
    """100 × numerator / denominator, exact to 12 places; None for a zero or missing denominator
    (a rate of the published tables, or a restated one: always of summed counts, never averaged)."""
    if numerator is None or not denominator:
        return None
    return (100 * numerator / denominator).quantize(Decimal("1e-12"))


def name_list(names: list[str], limit: int = 30) -> str:
    """Names joined by commas; past ``limit``, the rest as a count (a national list of missing
    units must not outgrow an Excel cell's 32.767 characters)."""
    shown = ", ".join(names[:limit])
    rest = len(names) - limit
    return shown + (f" và {show_number(rest)} đơn vị khác" if rest > 0 else "")


def slug(text: str) -> str:
    """An ASCII file-name part: 'Xã Tỏa Tình' -> 'xa-toa-tinh'."""
    ascii_text = unicodedata.normalize("NFKD", text.replace("đ", "d").replace("Đ", "D"))
    ascii_text = "".join(ch for ch in ascii_text if not unicodedata.combining(ch)).lower()
    return "-".join("".join(ch if ch.isalnum() else " " for ch in ascii_text).split())
