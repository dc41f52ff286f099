"""Where a published figure comes from: each unit's value with its file, sheet and cell,
read through the same Biểu layouts as the published tables. A figure may also be asked
restated on a later period's units (``onto``): then the old units behind the new one, the
lineage rows followed, their cells and the value's coverage (``pipeline.warehouse.restate``).

The same lineage is a view in DuckDB (``lineage``): every current valid value with the
unit's name, the file it came from, its sheet and cell, and when the file was received.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import duckdb

from pipeline.catalogue import SAME_ROW, TOTAL_ROW, Catalogue, LayoutColumn, LayoutTable, Ref, Target, Term
from pipeline.catalogue.lineage import Versions
from pipeline.catalogue.model import WHOLE
from pipeline.catalogue.phase import NONE
from pipeline.errors import UserError
from pipeline.publication.phase import PhaseFigures, load_phase
from pipeline.text import ratio, show_number
from pipeline.warehouse import Contribution, lineage_of
from pipeline.warehouse.restate import Restated, restate


class UnknownFigure(UserError):
    """The asked figure does not exist; the message is Vietnamese."""


@dataclass
class Part:
    label: str
    contributions: list[Contribution]
    restated: Restated | None = None  # on a later period's unit: its value (shares, yes/no rules applied)

    @property
    def total(self) -> Decimal | None:
        if self.restated is not None:
            return self.restated.value
        return sum((c.sign * c.value for c in self.contributions), Decimal(0))


@dataclass
class Explanation:
    title: str
    parts: list[Part]  # one part for a sum; numerator and denominator for a rate
    is_rate: bool
    lineage: list[str] = field(default_factory=list)  # restated: each old unit, the rows followed, its data
    coverage: str = ""  # restated: what the value covers when not every old unit has data

    @property
    def restated(self) -> bool:
        return any(p.restated is not None for p in self.parts)

    @property
    def value(self) -> Decimal | None:
        if self.is_rate:
            return ratio(self.parts[0].total, self.parts[1].total)
        return self.parts[0].total


class Figure:
    """How the parts of an explained figure are read: the period's own cells (of some units or
    all), or restated on a unit of a later period."""

    def __init__(self, conn: duckdb.DuckDBPyConnection, catalogue: Catalogue, period: str,
                 units: list[str] | None, onto: str | None = None, unit: str | None = None):
        self.conn, self.catalogue, self.period, self.units, self.onto, self.unit = (
            conn, catalogue, period, units, onto, unit)

    def part(self, label: str, refs: list[Ref]) -> Part:
        terms = [t for ref in refs for t in self.catalogue.expand(ref)]
        if self.onto is None:
            return Part(label, [c for c in lineage_of(self.conn, self.period, terms)
                                if self.units is None or c.unit in self.units])
        restated = next(r for r in restate(self.conn, self.catalogue, self.period, self.onto, terms)
                        if r.unit.code == self.unit)
        return Part(label, [c for b in restated.behind for c in b.cells], restated)

    def explanation(self, title: str, parts: list[Part], is_rate: bool) -> Explanation:
        if self.onto is None:
            return Explanation(title, parts, is_rate)
        restated = parts[0].restated
        return Explanation(f"{title} · tính lại theo đơn vị kỳ {self.onto}: {restated.unit.label}", parts, is_rate,
                           self._lineage(restated), restated.coverage)

    def _lineage(self, restated: Restated) -> list[str]:
        versions = Versions(self.catalogue.units)
        lines = []
        for b in restated.behind:
            steps = [f"{b.unit.label} ({b.unit.parent[1]})"] + [
                f"{versions.on(k.new, k.day).label} từ {k.day:%d/%m/%Y}, "
                f"{'toàn bộ' if k.kind == WHOLE else f'một phần ({show_number(k.share)})'}, "
                f"{'đã xác nhận' if k.confirmed else 'CHƯA XÁC NHẬN'}" for k in b.links]
            lines.append(" → ".join(steps) + (": có số liệu" if b.loaded else ": chưa có số liệu"))
        return lines


def explain(conn: duckdb.DuckDBPyConnection, catalogue: Catalogue, period: str, bieu: str, row: str,
            column: str | None = None, onto: str | None = None, unit: str | None = None) -> Explanation:
    """Explain the figure of Biểu ``bieu`` at ``row`` and ``column``: a target (without a
    column), or a row of units (a unit code or TOTAL_ROW) or of the programme (a project,
    sub-project or TOTAL_ROW) and the key of one of its figure columns. With ``onto`` (a later
    period), the figure restated on ``unit``, a unit of that period (a row of units names it)."""
    if period in catalogue.periods and catalogue.periods[period].is_phase:
        return explain_phase(conn, catalogue, period, bieu, row, column)
    code = bieu.zfill(2)
    layout = catalogue.bieu.get(code)
    if layout is None:
        raise UnknownFigure(f'Không có Biểu "{bieu}" (có: {", ".join(catalogue.bieu)}).')
    if column is None and any(t.rows == "targets" for t in layout.tables):
        target = next((t for t in catalogue.targets if t.code == row), None)
        if target is None:
            raise UnknownFigure(f'Biểu {code} không có chỉ tiêu "{row}" (T01 … T{len(catalogue.targets):02d}).')
        figure = _figure(conn, catalogue, period, None, onto, unit)
        return figure.explanation(f"Biểu {code} · {target.code}. {target.label}", _target_parts(figure, target),
                                  target.kind == "rate")
    tables = [t for t in layout.tables if t.rows != "targets"]
    table = next((t for t in tables if _figure_column(t, column)), None)
    if table is None:
        keys = dict.fromkeys(c.key for t in tables for c in t.columns if _explainable(c))
        raise UnknownFigure(f'Không có cột "{column}" trong Biểu {code}; các cột số liệu: {", ".join(keys)}.')
    if table.rows == "programme":
        sub_projects, units = _sub_projects(catalogue, code, row), None
    else:
        sub_projects = (layout.sub_project,) if layout.sub_project else ()
        units = None if row.upper() == TOTAL_ROW else [row]
        if units and onto is not None:
            units, unit = None, row
        elif units and catalogue.find_unit(row) is None:
            raise UnknownFigure(f'Không có đơn vị mã "{row}" (dùng {TOTAL_ROW} cho dòng tổng cộng).')
    figure = _figure(conn, catalogue, period, units, onto, unit)
    chosen = _figure_column(table, column)
    title = f"Biểu {code} · {row} · {column}"
    if chosen.target:
        target = next(t for t in catalogue.targets if t.code == chosen.target)
        return figure.explanation(title, _target_parts(figure, target), target.kind == "rate")
    if chosen.rate:
        parts = [_ref_part(figure, catalogue, _figure_column(table, key), sub_projects) for key in chosen.rate]
        return figure.explanation(title, parts, True)
    return figure.explanation(title, [_ref_part(figure, catalogue, chosen, sub_projects)], False)


def _figure(conn, catalogue: Catalogue, period: str, units: list[str] | None, onto: str | None,
            unit: str | None) -> Figure:
    """How the parts are read; a restated figure needs a unit of the later period."""
    if onto is not None and catalogue.find_unit(unit or "", onto) is None:
        known = ", ".join(u.code for u in catalogue.units_in(onto))
        raise UnknownFigure(f'Kỳ {onto} không có đơn vị mã "{unit or ""}" để tính lại số liệu kỳ {period} '
                            f"(các đơn vị: {known or 'không có'}).")
    return Figure(conn, catalogue, period, units, onto, unit)


def _explainable(column: LayoutColumn) -> bool:
    """A figure column traced to cells: a cell, a target, or a rate of two cell columns."""
    return column.ref is not None or bool(column.target and column.target != SAME_ROW) or bool(column.rate)


def _figure_column(table: LayoutTable, key: str | None) -> LayoutColumn | None:
    column = next((c for c in table.columns if c.key == key), None)
    if column is not None and column.rate and not all(_figure_column(table, k) and _figure_column(table, k).ref
                                                      for k in column.rate):
        return None
    return column if column is not None and _explainable(column) else None


def _target_parts(figure: Figure, target: Target) -> list[Part]:
    parts = [figure.part("Tử số" if target.denominator else "Tổng", [t.ref for t in target.numerator])]
    if target.denominator:
        parts.append(figure.part("Mẫu số", [t.ref for t in target.denominator]))
    return parts


def _ref_part(figure: Figure, catalogue: Catalogue, column: LayoutColumn, sub_projects: tuple[str, ...]) -> Part:
    ref = column.ref
    form = catalogue.form(ref.form)
    refs = [Ref(ref.form, s, ref.column) for s in sub_projects] if ref.row == SAME_ROW else [ref]
    name = form.column(ref.column).full_label if form.is_grid else form.item(ref.row).label
    return figure.part(f"{column.key} ({name})", refs)


def _sub_projects(catalogue: Catalogue, code: str, row: str) -> tuple[str, ...]:
    if row.upper() == TOTAL_ROW:
        return tuple(s.code for s in catalogue.sub_projects)
    for project in catalogue.projects:
        if project.code == row:
            return tuple(s.code for s in project.sub_projects)
    if any(s.code == row for s in catalogue.sub_projects):
        return (row,)
    raise UnknownFigure(f'Biểu {code} không có dòng "{row}" (mã dự án, tiểu dự án, hoặc {TOTAL_ROW}).')


# --------------------------------------------------------------------------- a phase's figures


@dataclass
class PhaseExplanation(Explanation):
    """A figure of a phase summary: a part per year and per numerator or denominator (the
    numerator's ``numerator_parts`` first), each holding the cells of that year the phase
    takes (every year for a summed item, the last year with data for a stock)."""

    numerator_parts: int = 0

    @property
    def value(self) -> Decimal | None:
        numerator = sum((p.total for p in self.parts[:self.numerator_parts]), Decimal(0))
        if self.is_rate:
            return ratio(numerator, sum((p.total for p in self.parts[self.numerator_parts:]), Decimal(0)))
        return numerator


def explain_phase(conn: duckdb.DuckDBPyConnection, catalogue: Catalogue, phase: str, bieu: str, row: str,
                  column: str | None = None) -> PhaseExplanation:
    """Explain a phase figure: in Biểu 01 a target's phase value (``row`` a target; ``column``
    none or "phase"), in Biểu 02 a fund line over the phase (``row`` a project, sub-project or
    TOTAL_ROW; ``column`` a fund line's key), traced to the annual cells it is made of."""
    figures = load_phase(conn, catalogue, phase)
    code = bieu.zfill(2)
    if code == "01":
        target = next((t for t in catalogue.targets if t.code == row), None)
        if target is None:
            raise UnknownFigure(f'Biểu 01 của kỳ {phase} không có chỉ tiêu "{row}" (T01 … T{len(catalogue.targets):02d}).')
        if column not in (None, "phase"):
            raise UnknownFigure(f'Cột "{column}": mỗi năm là một kỳ riêng, hãy giải thích số của năm đó với --period <năm>.')
        sides = [("Tử số" if target.denominator else "Tổng", target.numerator)]
        if target.denominator:
            sides.append(("Mẫu số", target.denominator))
        title, is_rate = f"Biểu 01 · {target.code}. {target.label} · cả giai đoạn", target.kind == "rate"
    elif code == "02":
        line = next((f for f in catalogue.phase.funds if f.key == column), None)
        if line is None:
            raise UnknownFigure(f'Biểu 02 của kỳ {phase}: cột phải là một dòng vốn '
                                f'({", ".join(f.key for f in catalogue.phase.funds)}).')
        terms = tuple(Term(Ref("02", s, c), 1) for s in _sub_projects(catalogue, code, row) for c in line.columns)
        sides, title, is_rate = [("Tổng", terms)], f"Biểu 02 · {row} · {line.key} ({line.label}) · cả giai đoạn", False
    else:
        raise UnknownFigure(f"Kỳ {phase} chỉ có Biểu 01 và 02.")
    parts, numerator_parts = [], 0
    for n, (label, terms) in enumerate(sides):
        parts += _phase_parts(conn, figures, label, terms)
        numerator_parts = numerator_parts or len(parts)
    return PhaseExplanation(title, parts, is_rate, numerator_parts=numerator_parts)


def _phase_parts(conn, figures: PhaseFigures, label: str, terms) -> list[Part]:
    """One part per year the terms' cells are taken from, each with those cells."""
    catalogue = figures.catalogue
    inner = [Term(t.ref, term.sign * t.sign) for term in terms for t in catalogue.expand(term.ref)]
    if any(figures.rules.method(catalogue, t.ref) == NONE for t in inner):
        raise UnknownFigure(f"{label}: có ô không cộng dồn qua các năm (phase.toml), nên số cả giai đoạn để trống.")
    parts = []
    for year in figures.present:
        wanted = [t for t in inner if year in figures.years_of(figures.rules.method(catalogue, t.ref))]
        if wanted:
            parts.append(Part(f"{label} · năm {year}", list(lineage_of(conn, year, wanted))))
    return parts
