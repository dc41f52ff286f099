"""Where a published figure comes from: each unit's value with its file, sheet and cell.

The same lineage is a view in DuckDB (``lineage``): every current valid value with the
unit's name, the file it came from, its sheet and cell, and when the file was received.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import duckdb

from pipeline.catalogue import Catalogue, Ref, Term
from pipeline.errors import UserError
from pipeline.publication.tables import FUNDS_LAYOUT, ratio
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
    """Explain the figure of Biểu ``bieu`` at ``row`` (target, project, sub-project, unit or
    TONG) and ``column`` (a fund column or an item code)."""
    bieu = bieu.zfill(2)
    if bieu == "01":
        target = next((t for t in catalogue.targets if t.code == row), None)
        if target is None:
            raise UnknownFigure(f'Biểu 01 không có chỉ tiêu "{row}" (T01 … T{len(catalogue.targets):02d}).')
        parts = [Part("Tử số" if target.denominator else "Tổng", _contributions(conn, period, _expanded(
            catalogue, [t.ref for t in target.numerator]), None))]
        if target.denominator:
            parts.append(Part("Mẫu số", _contributions(conn, period, _expanded(catalogue, [t.ref for t in target.denominator]), None)))
        return Explanation(f"Biểu 01 · {target.code}. {target.label}", parts, target.kind == "rate")
    if bieu == "02":
        subs = _sub_projects(catalogue, row)
        units = None
        funds_of = subs
    else:
        form = catalogue.forms.get(bieu)
        if form is None or not form.sub_project:
            raise UnknownFigure(f'Không có Biểu "{bieu}".')
        units = None if row.upper() == "TONG" else [row]
        if units and not any(u.code == row for u in catalogue.units):
            raise UnknownFigure(f'Không có đơn vị mã "{row}" (dùng TONG cho dòng tổng cộng).')
        funds_of = [form.sub_project]
        if column in {i.code for i in form.items}:
            part = Part(form.cell_label(Ref(bieu, column)),
                        _contributions(conn, period, _expanded(catalogue, [Ref(bieu, column)]), units))
            return Explanation(f"Biểu {bieu} · {row} · {column}", [part], False)
    layout = {key: (kind, how) for key, _, _, kind, how in FUNDS_LAYOUT}
    if column not in layout:
        raise UnknownFigure(f'Không có cột "{column}"; các cột vốn: {", ".join(layout)}.')
    kind, how = layout[column]
    columns = how if kind == "rate" else (how,)
    parts = [Part(name, _contributions(conn, period, _expanded(catalogue, [Ref("02", s, name) for s in funds_of]), units))
             for name in columns]
    return Explanation(f"Biểu {bieu} · {row} · {column}", parts, kind == "rate")


def _sub_projects(catalogue: Catalogue, row: str) -> list[str]:
    if row.upper() == "TONG":
        return [s.code for s in catalogue.sub_projects]
    for project in catalogue.projects:
        if project.code == row:
            return [s.code for s in project.sub_projects]
    if any(s.code == row for s in catalogue.sub_projects):
        return [row]
    raise UnknownFigure(f'Biểu 02 không có dòng "{row}" (mã dự án, tiểu dự án, hoặc TONG).')
