"""Where a published figure comes from: each unit's value with its file, sheet and cell,
read through the same Biểu layouts as the published tables.

The same lineage is a view in DuckDB (``lineage``): every current valid value with the
unit's name, the file it came from, its sheet and cell, and when the file was received.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import duckdb

from pipeline.catalogue import SAME_ROW, TOTAL_ROW, Catalogue, LayoutColumn, LayoutTable, Ref, Target, Term
from pipeline.errors import UserError
from pipeline.publication.tables import ratio
from pipeline.warehouse import Contribution, lineage_of


class UnknownFigure(UserError):
    """The asked figure does not exist; the message is Vietnamese."""


@dataclass
class Part:
    label: str
    contributions: list[Contribution]

    @property
    def total(self) -> Decimal:
        return sum((c.sign * c.value for c in self.contributions), Decimal(0))


@dataclass
class Explanation:
    title: str
    parts: list[Part]  # one part for a sum; numerator and denominator for a rate
    is_rate: bool

    @property
    def value(self) -> Decimal | None:
        if self.is_rate:
            return ratio(self.parts[0].total, self.parts[1].total)
        return self.parts[0].total


def _contributions(conn: duckdb.DuckDBPyConnection, period: str, terms: list[Term], units: list[str] | None) -> list[Contribution]:
    return [c for c in lineage_of(conn, period, terms) if units is None or c.unit in units]


def _expanded(catalogue: Catalogue, refs: list[Ref]) -> list[Term]:
    return [t for ref in refs for t in catalogue.expand(ref)]


def explain(conn: duckdb.DuckDBPyConnection, catalogue: Catalogue, period: str, bieu: str, row: str,
            column: str | None = None) -> Explanation:
    """Explain the figure of Biểu ``bieu`` at ``row`` and ``column``: a target (without a
    column), or a row of units (a unit code or TOTAL_ROW) or of the programme (a project,
    sub-project or TOTAL_ROW) and the key of one of its figure columns."""
    code = bieu.zfill(2)
    layout = catalogue.bieu.get(code)
    if layout is None:
        raise UnknownFigure(f'Không có Biểu "{bieu}" (có: {", ".join(catalogue.bieu)}).')
    if column is None and any(t.rows == "targets" for t in layout.tables):
        target = next((t for t in catalogue.targets if t.code == row), None)
        if target is None:
            raise UnknownFigure(f'Biểu {code} không có chỉ tiêu "{row}" (T01 … T{len(catalogue.targets):02d}).')
        return Explanation(f"Biểu {code} · {target.code}. {target.label}", _target_parts(conn, catalogue, period, target, None),
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
        if units and catalogue.find_unit(row) is None:
            raise UnknownFigure(f'Không có đơn vị mã "{row}" (dùng {TOTAL_ROW} cho dòng tổng cộng).')
    chosen = _figure_column(table, column)
    title = f"Biểu {code} · {row} · {column}"
    if chosen.target:
        target = next(t for t in catalogue.targets if t.code == chosen.target)
        return Explanation(title, _target_parts(conn, catalogue, period, target, units), target.kind == "rate")
    if chosen.rate:
        parts = [_ref_part(conn, catalogue, period, _figure_column(table, key), sub_projects, units) for key in chosen.rate]
        return Explanation(title, parts, True)
    return Explanation(title, [_ref_part(conn, catalogue, period, chosen, sub_projects, units)], False)


def _explainable(column: LayoutColumn) -> bool:
    """A figure column traced to cells: a cell, a target, or a rate of two cell columns."""
    return column.ref is not None or bool(column.target and column.target != SAME_ROW) or bool(column.rate)


def _figure_column(table: LayoutTable, key: str | None) -> LayoutColumn | None:
    column = next((c for c in table.columns if c.key == key), None)
    if column is not None and column.rate and not all(_figure_column(table, k) and _figure_column(table, k).ref
                                                      for k in column.rate):
        return None
    return column if column is not None and _explainable(column) else None


def _target_parts(conn, catalogue: Catalogue, period: str, target: Target, units: list[str] | None) -> list[Part]:
    parts = [Part("Tử số" if target.denominator else "Tổng",
                  _contributions(conn, period, _expanded(catalogue, [t.ref for t in target.numerator]), units))]
    if target.denominator:
        parts.append(Part("Mẫu số", _contributions(conn, period, _expanded(catalogue, [t.ref for t in target.denominator]),
                                                    units)))
    return parts


def _ref_part(conn, catalogue: Catalogue, period: str, column: LayoutColumn, sub_projects: tuple[str, ...],
              units: list[str] | None) -> Part:
    ref = column.ref
    form = catalogue.form(ref.form)
    refs = [Ref(ref.form, s, ref.column) for s in sub_projects] if ref.row == SAME_ROW else [ref]
    name = form.column(ref.column).full_label if form.is_grid else form.item(ref.row).label
    return Part(f"{column.key} ({name})", _contributions(conn, period, _expanded(catalogue, refs), units))


def _sub_projects(catalogue: Catalogue, code: str, row: str) -> tuple[str, ...]:
    if row.upper() == TOTAL_ROW:
        return tuple(s.code for s in catalogue.sub_projects)
    for project in catalogue.projects:
        if project.code == row:
            return tuple(s.code for s in project.sub_projects)
    if any(s.code == row for s in catalogue.sub_projects):
        return (row,)
    raise UnknownFigure(f'Biểu {code} không có dòng "{row}" (mã dự án, tiểu dự án, hoặc {TOTAL_ROW}).')
