"""The published Biểu as tables (pure data), built by one generic builder from the layouts
the catalogue declares (``pipeline/catalogue/bieu/``), from the latest valid version of
every unit.

The warehouse sums the current values per unit and for the district in one grouped query
(exact DECIMAL); derived items, rates and the assessment of targets are then computed with
Python's Decimal. Rates are always recomputed from summed numerators and denominators,
never averaged; they are kept exact here and rounded half-up only when shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

import duckdb

from pipeline.catalogue import (
    EXCEEDED,
    MET,
    NOT_ASSESSED,
    NOT_MET,
    SAME_ROW,
    TOTAL_ROW,
    Bieu,
    Catalogue,
    Form,
    LayoutTable,
    Ref,
    Target,
    Term,
    Unit,
)
from pipeline.catalogue.batches import LEVEL_LABELS, UNIT, batch_key, batch_label
from pipeline.catalogue.layouts import who_fields
from pipeline.review import ReviewMark
from pipeline.text import ratio, show_number  # ratio: also restated rates (pipeline.warehouse.restate)
from pipeline.warehouse import current_form_values, current_sources, current_value_sums
from pipeline.warehouse.restate import restate, units_differ
from pipeline.catalogue.contract import DUE_COLUMN, PLAN_COLUMN, PLAN_FORM

DISTRICT = ""  # the unit key of district totals


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    group: str = ""  # a merged header above consecutive columns of the same group
    kind: str = "count"  # count, money, rate, flag, text, or "row": the row's own kind
    show: str = ""  # text columns: what of the row they show (number, label, unit, assessment)
    empty: str = ""  # printed when there is no value, else the cell stays blank
    width: float | None = None  # in characters; None: by its kind (a phase's many year columns are narrower)


@dataclass
class Row:
    label: str
    values: dict[str, object]
    number: str = ""
    bold: bool = False
    indent: int = 0
    kind: str = "count"  # for columns of kind "row"
    code: str = ""  # the unit, target or sub-project the row is about; TOTAL_ROW for the total


@dataclass
class Table:
    sheet: str
    title: str
    unit_note: str  # "Đơn vị tính: …"
    columns: list[Column]
    rows: list[Row]
    chart: tuple[str, str] | None = None  # (column key, chart title): a bar chart of that column per row
    notes: tuple[str, ...] = ()  # printed under the table
    remarks: tuple[str, ...] = ()  # notes for the district's staff: in the sources annex, never on the table
    trends: tuple[Trend, ...] = ()  # line charts of one row across columns (a phase's years)


@dataclass(frozen=True)
class Trend:
    """A line chart of one row's values across consecutive columns (the years of a phase)."""

    row: str  # the row's code (a target)
    columns: tuple[str, ...]  # the keys of consecutive columns; their labels are the categories
    title: str
    sheet: str  # the chart sheet's name
    rate: bool = False  # values printed with one decimal (else whole numbers)


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
    code: str  # the Biểu's code, "01" … "15"
    title: str
    period: str
    tables: list[Table]
    sources: list[Source]  # units with a valid submission, in catalogue order
    missing: list[Unit]  # units expected for this form without a valid submission
    summary: str = ""
    review: ReviewMark | None = None  # which expected units an officer approved (pipeline.review)

    @property
    def expected(self) -> list[str]:
        """The codes of the units expected for this form."""
        return [s.unit.code for s in self.sources] + [u.code for u in self.missing]

    @property
    def complete(self) -> bool:
        return not self.missing


def round_half_up(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


class Figures:
    """Current values of one period: per row (unit, or district or province at larger scale)
    and for the whole, summed in the warehouse."""

    def __init__(self, conn: duckdb.DuckDBPyConnection, catalogue: Catalogue, period: str, level: str = UNIT):
        self.catalogue = catalogue
        rows = current_value_sums(conn, period, level)
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

    def over(self, ref: Ref, sub_projects: tuple[str, ...], unit: str = DISTRICT) -> Decimal:
        """A grid column summed over sub-projects (rows of the grid); nothing counts as 0."""
        return sum((self.value(Ref(ref.form, s, ref.column), unit) or Decimal(0) for s in sub_projects), Decimal(0))


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


class RestatedFigures:
    """The whole of an earlier period restated onto a later period's units (its units changed:
    communes merged, a district's communes now the province's), for the year-before columns:
    counts and money add over the old units each new unit is made of, a rate is recomputed
    from its restated counts (``target_value``); ``notes`` state the partial coverages."""

    def __init__(self, conn: duckdb.DuckDBPyConnection, catalogue: Catalogue, period: str, onto: str):
        self.conn, self.catalogue, self.period, self.onto = conn, catalogue, period, onto
        self.coverage: dict[str, str] = {}  # new unit's name -> what its restated values cover

    def sum_terms(self, terms: tuple[Term, ...], unit: str = DISTRICT) -> Decimal | None:
        inputs = [Term(t.ref, term.sign * t.sign) for term in terms for t in self.catalogue.expand(term.ref)]
        restated = restate(self.conn, self.catalogue, self.period, self.onto, inputs)
        for r in restated:
            if r.coverage:
                self.coverage[r.unit.name] = r.coverage
        values = [r.value for r in restated if r.value is not None and (unit == DISTRICT or r.unit.code == unit)]
        return sum(values, Decimal(0)) if values else None

    @property
    def notes(self) -> tuple[str, ...]:
        label = self.catalogue.periods[self.period].label.lower()
        return (f"Số liệu {label} tính lại theo đơn vị hành chính của kỳ này (cộng các đơn vị cũ hợp thành; "
                "tỷ lệ tính lại từ số đã cộng).",
                *(f"{name}: số liệu {label} {text}." for name, text in self.coverage.items()))


def year_before(catalogue: Catalogue, period: str) -> str | None:
    """The catalogue's period of the same kind a year earlier ("2023" -> "2022", "2024-6T" ->
    "2023-6T"), or None when it has none."""
    key = f"{int(period[:4]) - 1}{period[4:]}" if period[:4].isdigit() else ""
    return key if key in catalogue.periods else None


def plan_values(conn: duckdb.DuckDBPyConnection, period: str) -> dict[str, dict[str, Decimal]]:
    """The current valid plan workbook's values: target -> {plan column: value}."""
    plan: dict[str, dict[str, Decimal]] = {}
    for item, column, value in current_form_values(conn, period, PLAN_FORM):
        if value is not None:
            plan.setdefault(item, {})[column] = value
    return plan


def _sources(conn: duckdb.DuckDBPyConnection, catalogue: Catalogue, period: str) -> dict[str, Source]:
    return {u: Source(catalogue.unit(u, period), f, r, h, n or "") for u, f, r, h, n in current_sources(conn, period)
            if catalogue.find_unit(u, period)}


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


def roman(n: int) -> str:
    """1 -> "I", 4 -> "IV", 9 -> "IX": how the projects of the programme are numbered."""
    text = ""
    for value, letters in ((1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"), (50, "L"),
                           (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")):
        count, n = divmod(n, value)
        text += letters * count
    return text


# --------------------------------------------------------------------------- the generic builder


@dataclass
class _Subject:
    """What a row is about: whose values (a unit, a district or province, or DISTRICT for
    the whole), over which sub-projects (grid rows), and for target rows the target and
    the district plan's entry for it."""

    unit: str = DISTRICT
    sub_projects: tuple[str, ...] = ()
    target: Target | None = None
    plan: dict[str, Decimal] = field(default_factory=dict)

    @property
    def assessed(self) -> bool:
        return self.plan.get(DUE_COLUMN) == 1


class _Builder:
    """Builds one period's tables from the layouts, the figures, the sources and the plan."""

    def __init__(self, catalogue: Catalogue, figures: Figures, period: str, sources: dict[str, Source],
                 plan: dict[str, dict[str, Decimal]], level: str, before: Figures | RestatedFigures | None = None):
        self.catalogue, self.figures, self.period, self.sources = catalogue, figures, period, sources
        self.plan, self.level = plan, level
        self.before = before  # the figures of the period a year before (restated if units changed), for ``previous`` plan columns
        level_word = catalogue.body(period).level  # the body's: "huyện" until 30/6/2025, "tỉnh" after
        self.fields = {**who_fields(LEVEL_LABELS[level]), "level": level_word, "LEVEL": level_word.upper()}

    def report(self, bieu: Bieu) -> Report:
        tables, summary = [], ""
        for layout in bieu.tables:
            table, text = self.table(bieu, layout)
            tables.append(table)
            summary = summary or text
        expected = _expected(self.catalogue, self.period, [self.catalogue.form(f) for f in bieu.forms])
        return Report(code=bieu.code, title=bieu.title, period=self.period, tables=tables, summary=summary,
                      sources=[self.sources[u.code] for u in expected if u.code in self.sources],
                      missing=[u for u in expected if u.code not in self.sources])

    def _text(self, text: str) -> str:
        return text.format_map(self.fields)

    def table(self, bieu: Bieu, layout: LayoutTable) -> tuple[Table, str]:
        rows, summary = {"targets": self._target_rows, "units": self._unit_rows,
                         "programme": self._programme_rows}[layout.rows](bieu, layout)
        unfilled = [c for c in layout.columns if c.previous and all(r.values.get(c.key) is None for r in rows)]
        columns = [Column(c.key, self._text(c.label), self._text(c.group), c.kind, c.show, c.empty)
                   for c in layout.columns if c not in unfilled]
        chart = (layout.chart[0], self._text(layout.chart[1])) if layout.chart else None
        notes = tuple(self._text(n) for n in layout.notes)
        if isinstance(self.before, RestatedFigures) and any(c.previous and c not in unfilled for c in layout.columns):
            notes += self.before.notes
        return Table(self._text(layout.sheet), self._text(layout.title), self._text(layout.unit_note), columns, rows,
                     chart, notes,
                     tuple(self._text(c.previous) for c in unfilled)), summary

    def values(self, layout: LayoutTable, subject: _Subject) -> dict[str, object]:
        """The row's figures: cells, targets and plan values first, then sums and rates of them."""
        values: dict[str, object] = {}
        for column in layout.columns:
            if column.ref is not None:
                values[column.key] = (self.figures.over(column.ref, subject.sub_projects, subject.unit)
                                      if column.ref.row == SAME_ROW else self.figures.value(column.ref, subject.unit))
            elif column.target:
                target = subject.target if column.target == SAME_ROW else self._target(column.target)
                values[column.key] = target_value(self.figures, target, subject.unit)
            elif column.plan:
                value = self._year_before(subject.target) if column.previous else None
                if value is None:
                    value = subject.plan.get(column.plan)
                values[column.key] = value if subject.assessed or not column.assessed_only else None
        for column in layout.columns:
            if column.sum:
                parts = [values[key] for key in column.sum if values[key] is not None]
                values[column.key] = sum(parts, Decimal(0)) if parts else None
        for column in layout.columns:
            if column.rate:
                values[column.key] = ratio(*(values[key] for key in column.rate))
        return values

    def _year_before(self, target: Target | None) -> Decimal | None:
        """The target's value a year before, computed as this period's is (None: none)."""
        return target_value(self.before, target) if self.before is not None and target is not None else None

    def _target(self, code: str) -> Target:
        return next(t for t in self.catalogue.targets if t.code == code)

    @staticmethod
    def row(layout: LayoutTable, values: dict[str, object], label: str, number: str, unit: str = "",
            verdict: str = "", **row) -> Row:
        """A row with its text columns filled in."""
        shown = {"number": number, "label": label, "unit": unit, "assessment": verdict}
        return Row(label, {**values, **{c.key: shown[c.show] for c in layout.columns if c.show}}, number=number, **row)

    def _total(self, layout: LayoutTable, subject: _Subject) -> Row:
        label = layout.total_label if self.level == UNIT else layout.total_label_grouped
        return self.row(layout, self.values(layout, subject), self._text(label), "", bold=True, code=TOTAL_ROW)

    def _target_rows(self, bieu: Bieu, layout: LayoutTable) -> tuple[list[Row], str]:
        rows, verdicts = [], []
        for n, target in enumerate(self.catalogue.targets, start=1):
            subject = _Subject(target=target, plan=self.plan.get(target.code, {}))
            verdict = assess(target, target_value(self.figures, target), subject.plan.get(PLAN_COLUMN), subject.assessed)
            verdicts.append(verdict)
            rows.append(self.row(layout, self.values(layout, subject), target.label, str(n), target.unit, verdict,
                                 kind="rate" if target.kind == "rate" else "count", code=target.code))
        summary = ""
        if layout.summary:
            summary = layout.summary.format(met=sum(v in (MET, EXCEEDED) for v in verdicts), targets=len(verdicts),
                                             not_assessed=verdicts.count(NOT_ASSESSED))
            if not self.plan and layout.summary_without_plan:
                summary += " " + self._text(layout.summary_without_plan)
        return rows, summary

    def _unit_rows(self, bieu: Bieu, layout: LayoutTable) -> tuple[list[Row], str]:
        """One row per commune that reports the table's form, per district agency that reports
        it with a figure that is not zero, or per unit with a non-zero figure in one of its
        ``include_nonzero`` columns (communes first, then district agencies), or per
        district or province at larger scale; then the total."""
        subs = (bieu.sub_project,) if bieu.sub_project else ()
        reporters = {u.code for u in _expected(self.catalogue, self.period, [self.catalogue.form(layout.form)])}
        rows = []
        units = [u for u in self.catalogue.units_in(self.period) if u.code in self.sources]
        for unit in _row_units(units, self.level):
            values = self.values(layout, _Subject(unit.code, subs))
            reports = any(u.code in reporters for u in unit.members)
            if reports and not any(u.is_commune for u in unit.members):  # an agency: shown when it has figures
                reports = any(isinstance(v, Decimal) and v for v in values.values())
            if reports or any(values[k] for k in layout.include_nonzero):
                rows.append(self.row(layout, values, unit.name, str(len(rows) + 1), code=unit.code))
        total = self._total(layout, _Subject(DISTRICT, subs))
        return ([total] + rows if layout.total_first else rows + [total]), ""

    def _programme_rows(self, bieu: Bieu, layout: LayoutTable) -> tuple[list[Row], str]:
        """The total, then each project (I, II…) and, unless it is its own only sub-project,
        its sub-projects (1, 2…)."""
        everything = tuple(s.code for s in self.catalogue.sub_projects)
        rows = []
        for n, project in enumerate(self.catalogue.projects, start=1):
            subs = tuple(s.code for s in project.sub_projects)
            rows.append(self.row(layout, self.values(layout, _Subject(DISTRICT, subs)), project.name, roman(n),
                                 bold=True, code=project.code))
            if subs != (project.code,):
                for m, sub in enumerate(project.sub_projects, start=1):
                    rows.append(self.row(layout, self.values(layout, _Subject(DISTRICT, (sub.code,))), sub.name,
                                         str(m), indent=1, code=sub.code))
        total = self._total(layout, _Subject(DISTRICT, everything))
        return ([total] + rows if layout.total_first else rows + [total]), ""


def build_reports(catalogue: Catalogue, conn: duckdb.DuckDBPyConnection, period: str, level: str = UNIT) -> list[Report]:
    """Every Biểu of the catalogue for a period, from the current valid version of every
    unit; the per-unit tables have a row per unit, or per district or province (``level``)."""
    figures = Figures(conn, catalogue, period, level)
    needs_plan = any(t.rows == "targets" for b in catalogue.bieu.values() for t in b.tables)
    before = year_before(catalogue, period) if needs_plan else None
    builder = _Builder(catalogue, figures, period, _sources(conn, catalogue, period),
                       plan_values(conn, period) if needs_plan else {}, level,
                       _before_figures(conn, catalogue, before, period) if before else None)
    return [builder.report(bieu) for bieu in catalogue.bieu.values()]


def _before_figures(conn: duckdb.DuckDBPyConnection, catalogue: Catalogue, before: str, period: str):
    """The year before's figures: as they were, or restated onto this period's units when they changed."""
    if units_differ(catalogue, before, period):
        return RestatedFigures(conn, catalogue, before, period)
    return Figures(conn, catalogue, before)


def describe(value: Decimal | None, kind: str) -> str:
    """A figure as printed: rates with one decimal, counts whole, money with two decimals."""
    if value is None:
        return "–"
    places = {"rate": 1, "count": 0, "flag": 0, "money": 2}.get(kind, 2)
    return show_number(round_half_up(value, places)) if places else show_number(round_half_up(value, 0))
