"""Who signs the published Biểu and the report, and the date and number they carry: from
the district plan workbook's Thông tin fields of the period (``plan_info``), never invented.
A field that is not given stays blank in the Biểu (a hand signature) and dotted in the
report's draft. Dates follow Nghị định 30/2020: days 1–9 and months 1–2 take a leading zero."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pipeline.catalogue import Catalogue
from pipeline.catalogue.contract import (
    PREPARER_FIELD,
    REPORT_DATE_FIELD,
    REPORT_NUMBER_FIELD,
    SIGNER_FIELD,
    SIGNER_ON_BEHALF_FIELD,
    SIGNER_TITLE_FIELD,
)


def day_and_month(date: dt.date) -> tuple[str, str]:
    """Day and month as Nghị định 30/2020 writes them: "05", "15"; "02", "8"."""
    return (f"{date.day:02d}" if date.day < 10 else str(date.day)), (f"{date.month:02d}" if date.month < 3 else str(date.month))


@dataclass(frozen=True)
class Signing:
    """The signature block's lines; "" where the plan gives nothing."""

    place: str
    date: dt.date | None  # the report's date from the plan, else None
    fallback_date: dt.date  # the period's report date, for a date line when the plan gives none
    on_behalf: str  # "TM. ỦY BAN NHÂN DÂN" (the district's own wording)
    deputy: str  # "KT. CHỦ TỊCH", or ""
    title: str  # "PHÓ CHỦ TỊCH", or ""
    signer: str  # the name, or ""
    preparer_title: str  # "NGƯỜI LẬP BIỂU"
    preparer: str  # the name, or ""
    report_number: str  # "125" of "Số 125/BC-UBND", or ""

    @property
    def shown_date(self) -> dt.date:
        return self.date or self.fallback_date

    def date_line(self) -> str:
        """"Tuần Giáo, ngày 15 tháng 8 năm 2023": the report's date, else the period's report date."""
        day, month = day_and_month(self.shown_date)
        return f"{self.place}, ngày {day} tháng {month} năm {self.shown_date.year}"


def signing_for(catalogue: Catalogue, period: str, info: dict[str, str]) -> Signing:
    """The signature block of ``period`` from the plan's Thông tin fields (``plan_info``)."""
    body = catalogue.body(period)
    text = {key: str(info.get(key) or "").strip() for key in
            (SIGNER_FIELD, SIGNER_TITLE_FIELD, SIGNER_ON_BEHALF_FIELD, PREPARER_FIELD, REPORT_NUMBER_FIELD)}
    date = dt.date.fromisoformat(info[REPORT_DATE_FIELD][:10]) if info.get(REPORT_DATE_FIELD) else None
    return Signing(
        place=body.place, date=date, fallback_date=catalogue.periods[period].report_date,
        on_behalf=body.signer_on_behalf, deputy=text[SIGNER_ON_BEHALF_FIELD],
        title=text[SIGNER_TITLE_FIELD], signer=text[SIGNER_FIELD], preparer_title=body.preparer_title,
        preparer=text[PREPARER_FIELD], report_number=text[REPORT_NUMBER_FIELD],
    )
