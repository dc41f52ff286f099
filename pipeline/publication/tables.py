"""Biểu 01–15 as tables (pure data), from the latest valid version of every unit.

DuckDB sums the current values per unit and for the district in one grouped query
(exact DECIMAL); derived items, rates and the Biểu 01 assessment are then computed with
Python's Decimal. Rates are always recomputed from summed numerators and denominators,
never averaged; they are kept exact here and rounded half-up only when shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import duckdb

from pipeline.catalogue import Catalogue, Form, Ref, Target, Term, Unit
from pipeline.catalogue.batches import DISTRICT as DISTRICT_LEVEL
from pipeline.catalogue.batches import LEVEL_LABELS, PROVINCE, UNIT, batch_key, batch_label
from pipeline.checking.findings import show_number
from pipeline.workbook.contract import PLAN_FORM

DISTRICT = ""  # the unit key of district totals
MET, EXCEEDED, NOT_MET, NOT_ASSESSED = "Đạt", "Vượt", "Chưa đạt", "Chưa đánh giá"
FUND_COLUMNS = ("NSTW_DT", "NSTW_SN", "DOI_UNG", "CHUYEN_DT", "CHUYEN_SN", "HUY_DONG", "GN_DT", "GN_SN")


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    group: str = ""  # a merged header above consecutive columns of the same group
    kind: str = "count"  # count, money, rate, text, or "row": the row's own kind


@dataclass
class Row:
    label: str
    values: dict[str, object]
    number: str = ""
    bold: bool = False
    indent: int = 0
    kind: str = "count"  # for columns of kind "row"
    code: str = ""  # the unit, target or sub-project the row is about


@dataclass
class Table:
    sheet: str
    title: str
    unit_note: str  # "Đơn vị tính: …"
    columns: list[Column]
    rows: list[Row]
    chart: tuple[str, str] | None = None  # (column key, chart title): a bar chart of that column per row


@dataclass
class Source:
    """Which version of a unit's submission a report used."""

    unit: Unit
    file_name: str = ""
    received_at: object = None
    file_hash: str = ""
    newer_invalid: str = ""  # a newer file that was rejected, if any


@dataclass
class Report:
    code: str  # "01" … "15"
    title: str
    period: str
    tables: list[Table]
    sources: list[Source]  # units with a valid submission, in catalogue order
    missing: list[Unit]  # units expected for this form without a valid submission
    summary: str = ""

    @property
    def complete(self) -> bool:
        return not self.missing


def round_half_up(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


GROUP_COLUMNS = {UNIT: "v.unit", DISTRICT_LEVEL: "u.district_code", PROVINCE: "u.province_code"}


class Figures:
    """Current values of one period: per row (unit, or district or province at larger scale)
    and for the whole, summed in DuckDB."""

    def __init__(self, conn: duckdb.DuckDBPyConnection, catalogue: Catalogue, period: str, level: str = UNIT):
        self.catalogue = catalogue
        rows = conn.execute(
            f"""SELECT COALESCE(row_key, ''), form, item, "column", SUM(value)
                FROM (SELECT COALESCE({GROUP_COLUMNS[level]}, v.unit) AS row_key, v.*
                      FROM current_values v LEFT JOIN units u ON u.code = v.unit WHERE v.period = ?)
                GROUP BY GROUPING SETS ((row_key, form, item, "column"), (form, item, "column"))""",
            [period],
        ).fetchall()
        self.values: dict[tuple[str, Ref], Decimal] = {(u, Ref(f, i, c)): v for u, f, i, c, v in rows if v is not None}
        self.units = sorted({u for u, _ in self.values if u != DISTRICT})

    def value(self, ref: Ref, unit: str = DISTRICT) -> Decimal | None:
        """A cell (derived ones computed from their inputs); None when the unit has no value."""
        total, seen = Decimal(0), False
        for term in self.catalogue.expand(ref):
            value = self.values.get((unit, term.ref))
            if value is not None:
                total += term.sign * value
                seen = True
        return total if seen else None

    def sum_terms(self, terms: tuple[Term, ...], unit: str = DISTRICT) -> Decimal | None:
        parts = [(t.sign, self.value(t.ref, unit)) for t in terms]
        if all(v is None for _, v in parts):
            return None
        return sum((s * v for s, v in parts if v is not None), Decimal(0))


def ratio(numerator: Decimal | None, denominator: Decimal | None) -> Decimal | None:
    """100 × numerator / denominator, exact to 12 places; None for a zero or missing denominator."""
    if numerator is None or not denominator:
        return None
    return (100 * numerator / denominator).quantize(Decimal("1e-12"))


# --------------------------------------------------------------------------- shared pieces


def _sources(conn: duckdb.DuckDBPyConnection, catalogue: Catalogue, period: str) -> dict[str, Source]:
    rows = conn.execute(
        """SELECT s.unit, s.file_name, s.received_at, s.file_hash,
                  (SELECT string_agg(n.file_name, ', ' ORDER BY n.received_at) FROM submissions n
                   WHERE n.period = s.period AND n.unit = s.unit AND n.status = 'invalid'
                     AND n.received_at > s.received_at) AS newer_invalid
           FROM submissions s WHERE s.period = ? AND s.is_current""",
        [period],
    ).fetchall()
    return {u: Source(catalogue.unit(u), f, r, h, n or "") for u, f, r, h, n in rows if catalogue.find_unit(u)}


def _expected(catalogue: Catalogue, period: str, forms: list[Form]) -> list[Unit]:
    return [u for u in catalogue.units_in(period) if any(catalogue.reports(u, f) for f in forms)]


@dataclass(frozen=True)
class RowUnit:
    """What one row of a per-unit table is about: a unit, or a district or province."""

    code: str
    name: str
    members: tuple[Unit, ...]


def _row_units(units: list[Unit], level: str) -> list[RowUnit]:
    """The units as rows, or grouped into one row per district or province (in list order)."""
    groups: dict[str, list[Unit]] = {}
    for unit in units:
        groups.setdefault(batch_key(unit, level), []).append(unit)
    return [RowUnit(key, members[0].name if level == UNIT else batch_label(members[0], level), tuple(members))
            for key, members in groups.items()]


def _report(catalogue, period, code, title, tables, sources, forms, summary="") -> Report:
    expected = _expected(catalogue, period, forms)
    return Report(
        code=code, title=title, period=period, tables=tables, summary=summary,
        sources=[sources[u.code] for u in expected if u.code in sources],
        missing=[u for u in expected if u.code not in sources],
    )


# --------------------------------------------------------------------------- Biểu 01


def assess(target: Target, actual: Decimal | None, plan: Decimal | None, due: bool) -> str:
    """Compare at printed precision (one decimal for %, whole numbers for counts)."""
    if not due or actual is None or plan is None:
        return NOT_ASSESSED
    places = 1 if target.kind == "rate" else 0
    shown_actual, shown_plan = round_half_up(actual, places), round_half_up(plan, places)
    if shown_actual == shown_plan:
        return MET
    better = shown_actual > shown_plan if target.direction == "up" else shown_actual < shown_plan
    return EXCEEDED if better else NOT_MET


def target_value(figures: Figures, target: Target, unit: str = DISTRICT) -> Decimal | None:
    numerator = figures.sum_terms(target.numerator, unit)
    if target.kind == "sum":
        return numerator
    return ratio(numerator, figures.sum_terms(target.denominator, unit))


def plan_values(conn: duckdb.DuckDBPyConnection, period: str) -> dict[str, dict[str, Decimal]]:
    """The current valid plan workbook's values: target -> {DANH_GIA, KE_HOACH, THUC_HIEN_NAM_TRUOC}."""
    rows = conn.execute(
        """SELECT v.item, v."column", v.value FROM submission_values v JOIN submissions s USING (submission_id)
           WHERE s.is_current AND s.period = ? AND v.form = ?""",
        [period, PLAN_FORM],
    ).fetchall()
    plan: dict[str, dict[str, Decimal]] = {}
    for item, column, value in rows:
        if value is not None:
            plan.setdefault(item, {})[column] = value
    return plan


def bieu_01(catalogue: Catalogue, conn, figures: Figures, period: str, sources: dict[str, Source],
            level: str = UNIT) -> Report:
    plan = plan_values(conn, period)
    columns = [
        Column("stt", "STT", kind="text"), Column("label", "Chỉ tiêu", kind="text"),
        Column("unit", "Đơn vị tính", kind="text"), Column("last_year", "Thực hiện năm trước", kind="row"),
        Column("plan", "Kế hoạch năm", kind="row"), Column("actual", "Thực hiện năm", kind="row"),
        Column("ratio", "So sánh thực hiện/kế hoạch (%)", kind="rate"), Column("assessment", "Đánh giá", kind="text"),
    ]
    rows, verdicts = [], []
    for n, target in enumerate(catalogue.targets, start=1):
        entry = plan.get(target.code, {})
        due = entry.get("DANH_GIA") == 1
        actual = target_value(figures, target)
        planned = entry.get("KE_HOACH")
        verdict = assess(target, actual, planned, due)
        verdicts.append(verdict)
        rows.append(Row(
            target.label, {
                "stt": str(n), "label": target.label, "unit": target.unit,
                "last_year": entry.get("THUC_HIEN_NAM_TRUOC"), "plan": planned if due else None, "actual": actual,
                "ratio": ratio(actual, planned) if due else None, "assessment": verdict,
            }, number=str(n), kind="rate" if target.kind == "rate" else "count", code=target.code,
        ))
    met = sum(v in (MET, EXCEEDED) for v in verdicts)
    not_assessed = verdicts.count(NOT_ASSESSED)
    summary = f"Đạt và vượt {met}/{len(verdicts)} chỉ tiêu (không tính {not_assessed:02d} chỉ tiêu chưa đánh giá)."
    if not plan:
        summary += " Chưa có kế hoạch năm của huyện: mọi chỉ tiêu ở trạng thái chưa đánh giá."
    targets = Table("Biểu 01", "CHỈ SỐ, KHUNG KẾT QUẢ THỰC HIỆN CHƯƠNG TRÌNH", "Đơn vị tính: theo từng chỉ tiêu",
                    columns, rows)
    rates = [t for t in catalogue.targets if t.kind == "rate"]
    who = LEVEL_LABELS[level]
    unit_columns = [Column("stt", "STT", kind="text"), Column("label", who.capitalize(), kind="text")] + [
        Column(t.code, f"{t.code}. {t.label}", kind="rate") for t in rates]
    units = _row_units([u for u in _expected(catalogue, period, [catalogue.form("01")]) if u.code in sources],
                       level)
    unit_rows = [Row(u.name, {"stt": str(n), "label": u.name, **{t.code: target_value(figures, t, u.code) for t in rates}},
                     number=str(n), code=u.code) for n, u in enumerate(units, start=1)]
    total = "TỔNG CỘNG TOÀN HUYỆN" if level == UNIT else "TỔNG CỘNG"
    unit_rows.append(Row(total, {"stt": "", "label": total, **{t.code: target_value(figures, t) for t in rates}},
                         bold=True))
    per_unit = Table(f"Tỷ lệ theo {who}", f"CÁC TỶ LỆ THEO TỪNG {who.upper()} (tính lại từ tử số và mẫu số của {who})",
                     "Đơn vị tính: %", unit_columns, unit_rows, chart=(rates[0].code, f"{rates[0].label} theo {who} (%)"))
    forms = sorted({t.ref.form for target in catalogue.targets for t in target.numerator + target.denominator})
    return _report(catalogue, period, "01", "Chỉ số, khung kết quả thực hiện Chương trình", [targets, per_unit],
                   sources, [catalogue.form(f) for f in forms], summary)


# --------------------------------------------------------------------------- Biểu 02


FUNDS_LAYOUT = [  # (key, group, label, kind, how)
    ("TONG", "Tổng vốn", "Tổng số", "money", "TONG"),
    ("TONG_DT", "Tổng vốn", "Đầu tư phát triển", "money", "TONG_DT"),
    ("TONG_SN", "Tổng vốn", "Sự nghiệp", "money", "TONG_SN"),
    ("NSTW_DT", "Vốn NSTW giao trong năm", "Đầu tư phát triển", "money", "NSTW_DT"),
    ("NSTW_SN", "Vốn NSTW giao trong năm", "Sự nghiệp", "money", "NSTW_SN"),
    ("DOI_UNG", "Vốn đối ứng NSĐP", "Sự nghiệp", "money", "DOI_UNG"),
    ("CHUYEN_DT", "Vốn năm trước chuyển sang", "Đầu tư phát triển", "money", "CHUYEN_DT"),
    ("CHUYEN_SN", "Vốn năm trước chuyển sang", "Sự nghiệp", "money", "CHUYEN_SN"),
    ("HUY_DONG", "Vốn huy động khác", "Vốn huy động khác", "money", "HUY_DONG"),
    ("GN", "Đã giải ngân", "Tổng số", "money", "GN"),
    ("GN_DT", "Đã giải ngân", "Đầu tư phát triển", "money", "GN_DT"),
    ("GN_SN", "Đã giải ngân", "Sự nghiệp", "money", "GN_SN"),
    ("TL", "Tỷ lệ giải ngân (%)", "Tổng số", "rate", ("GN", "TONG")),
    ("TL_DT", "Tỷ lệ giải ngân (%)", "Đầu tư phát triển", "rate", ("GN_DT", "TONG_DT")),
    ("TL_SN", "Tỷ lệ giải ngân (%)", "Sự nghiệp", "rate", ("GN_SN", "TONG_SN")),
]


def funds_row(figures: Figures, sub_projects: list[str], unit: str = DISTRICT) -> dict[str, Decimal | None]:
    """Fund columns summed over sub-projects (and over units for the district)."""
    def total(column: str) -> Decimal:
        return sum((figures.value(Ref("02", s, column), unit) or Decimal(0) for s in sub_projects), Decimal(0))

    values = {}
    for key, _, _, kind, how in FUNDS_LAYOUT:
        values[key] = ratio(total(how[0]), total(how[1])) if kind == "rate" else total(how)
    return values


def bieu_02(catalogue: Catalogue, figures: Figures, period: str, sources: dict[str, Source]) -> Report:
    columns = [Column("stt", "STT", kind="text"), Column("label", "Dự án, tiểu dự án", kind="text")] + [
        Column(key, label, group, kind) for key, group, label, kind, _ in FUNDS_LAYOUT]
    everything = [s.code for s in catalogue.sub_projects]
    rows = [Row("TỔNG CỘNG", {"stt": "", "label": "TỔNG CỘNG", **funds_row(figures, everything)}, bold=True)]
    roman = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X")
    for n, project in enumerate(catalogue.projects):
        subs = [s.code for s in project.sub_projects]
        rows.append(Row(project.name, {"stt": roman[n], "label": project.name, **funds_row(figures, subs)},
                        number=roman[n], bold=True, code=project.code))
        if subs != [project.code]:
            for m, sub in enumerate(project.sub_projects, start=1):
                rows.append(Row(sub.name, {"stt": str(m), "label": sub.name, **funds_row(figures, [sub.code])},
                                number=str(m), indent=1, code=sub.code))
    table = Table("Biểu 02", "KẾT QUẢ THỰC HIỆN CHƯƠNG TRÌNH (NGUỒN VỐN VÀ GIẢI NGÂN)", "Đơn vị tính: triệu đồng",
                  columns, rows)
    return _report(catalogue, period, "02", "Kết quả thực hiện Chương trình", [table], sources, [catalogue.form("02")])


# --------------------------------------------------------------------------- Biểu 03–15


def bieu_sub_project(catalogue: Catalogue, figures: Figures, period: str, sources: dict[str, Source],
                     form: Form, level: str = UNIT) -> Report:
    """One row per unit that reports the form or holds funds of its sub-project (communes
    first, then district agencies), or per district or province at larger scale, then the
    total; the form's items, then that sub-project's funds for the row. An agency that
    holds funds but does not report the form shows its funds with the item columns blank,
    so the total adds up."""
    sub = next(s for s in catalogue.sub_projects if s.code == form.sub_project)
    columns = [Column("stt", "STT", kind="text"), Column("label", LEVEL_LABELS[level].capitalize(), kind="text")]
    columns += [Column(i.code, f"{i.label} ({i.unit})", "Kết quả thực hiện", i.type if i.type != "flag" else "count")
                for i in form.items]
    columns += [Column("TONG", "Tổng vốn", "Nguồn vốn (triệu đồng)", "money"),
                Column("GN", "Đã giải ngân", "Nguồn vốn (triệu đồng)", "money"),
                Column("TL", "Tỷ lệ giải ngân (%)", "Nguồn vốn (triệu đồng)", "rate")]

    def values(unit: str) -> dict[str, object]:
        funds = funds_row(figures, [sub.code], unit)
        return {**{i.code: figures.value(Ref(form.code, i.code), unit) for i in form.items},
                "TONG": funds["TONG"], "GN": funds["GN"], "TL": funds["TL"]}

    reporters = {u.code for u in _expected(catalogue, period, [form])}
    rows = []
    for unit in _row_units([u for u in catalogue.units_in(period) if u.code in sources], level):
        row = values(unit.code)
        if any(u.code in reporters for u in unit.members) or row["TONG"] or row["GN"]:
            rows.append(Row(unit.name, {"stt": str(len(rows) + 1), "label": unit.name, **row},
                            number=str(len(rows) + 1), code=unit.code))
    rows.append(Row("TỔNG CỘNG", {"stt": "", "label": "TỔNG CỘNG", **values(DISTRICT)}, bold=True))
    table = Table(f"Biểu {form.code}", sub.name.upper(), "Đơn vị tính: theo từng cột", columns, rows)
    return _report(catalogue, period, form.code, sub.name, [table], sources, [form])


def build_reports(catalogue: Catalogue, conn: duckdb.DuckDBPyConnection, period: str, level: str = UNIT) -> list[Report]:
    """Biểu 01–15 of a period, from the current valid version of every unit; the per-unit
    tables have a row per unit, or per district or province (``level``) for larger lists."""
    figures = Figures(conn, catalogue, period, level)
    sources = _sources(conn, catalogue, period)
    reports = [bieu_01(catalogue, conn, figures, period, sources, level), bieu_02(catalogue, figures, period, sources)]
    reports += [bieu_sub_project(catalogue, figures, period, sources, f, level)
                for f in catalogue.forms.values() if f.sub_project]
    return reports


def describe(value: Decimal | None, kind: str) -> str:
    """A figure as printed: rates with one decimal, counts whole, money with two decimals."""
    if value is None:
        return "–"
    places = {"rate": 1, "count": 0, "money": 2}.get(kind, 2)
    return show_number(round_half_up(value, places)) if places else show_number(round_half_up(value, 0))

