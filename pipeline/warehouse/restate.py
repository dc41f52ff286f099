"""Restated series: a figure of an earlier period shown on the units of a later period, pure
functions over the warehouse's current values and the catalogue's dated units and lineage.

The units of the later period are followed back to the units of the earlier one
(``pipeline.catalogue.lineage.origins``). Counts and money add (an old unit split in parts
gives each new unit its ``share``); a yes/no item follows the rule its form declares
(``restate``: any, all or count; a part counts as a member); a rate is recomputed from its
restated numerator and denominator, never averaged. Each restated value states its coverage:
how many of the old units it is made of have data loaded for the earlier period, e.g. "chỉ
gồm phần thuộc huyện Tuần Giáo cũ (1/3 đơn vị)" for Xã Búng Lao when the data of the Mường
Ảng communes it also took are not loaded; and it keeps the old units and cells behind it."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import duckdb

from pipeline.catalogue import Catalogue, Ref, Term, Unit
from pipeline.catalogue.lineage import Origin, origins
from pipeline.catalogue.model import LineageLink
from pipeline.text import ratio
from pipeline.warehouse import Contribution, current_sources, lineage_of, previous_values


@dataclass(frozen=True)
class Behind:
    """An old unit behind a restated value: its share, whether its data is loaded, its cells."""

    unit: Unit
    share: Decimal
    loaded: bool
    cells: tuple[Contribution, ...]
    links: tuple[LineageLink, ...]  # the lineage rows from it to the new unit (none: the same unit)

    def cell(self, ref: Ref) -> Decimal:
        """Its value of a cell (an empty cell: 0)."""
        return next((c.value for c in self.cells if c.ref == ref), Decimal(0))


@dataclass(frozen=True)
class Restated:
    """A figure of the earlier period on one unit of the later period (None: no data loaded)."""

    unit: Unit
    value: Decimal | None
    behind: tuple[Behind, ...]

    @property
    def coverage(self) -> str:
        """What the value covers when some old units it is made of have no data loaded; else empty."""
        return _coverage(self.behind)


@dataclass(frozen=True)
class RestatedRate:
    """A rate of the earlier period on one unit of the later period: 100 × restated numerator /
    restated denominator."""

    numerator: Restated
    denominator: Restated

    @property
    def unit(self) -> Unit:
        return self.numerator.unit

    @property
    def value(self) -> Decimal | None:
        return ratio(self.numerator.value, self.denominator.value)


def _coverage(behind: tuple[Behind, ...]) -> str:
    loaded = [b for b in behind if b.loaded]
    if len(loaded) == len(behind):
        return ""
    share = f"{len(loaded)}/{len(behind)} đơn vị"
    if not loaded:
        return f"chưa có số liệu của đơn vị cũ nào ({share})"
    parents = {b.unit.parent[1] for b in loaded}
    if len(parents) == 1:
        parent = parents.pop()
        return f"chỉ gồm phần thuộc {parent[:1].lower()}{parent[1:]} cũ ({share})"
    return f"chỉ gồm {share} cũ"


def restate(conn: duckdb.DuckDBPyConnection, catalogue: Catalogue, period: str, onto: str,
            terms: list[Term]) -> list[Restated]:
    """The sum of ``terms`` (input cells, signed) of ``period`` on each unit expected in ``onto``,
    in that period's order. A cell of a yes/no item follows its item's rule; others add."""
    made_of = origins(catalogue.lineage, catalogue.units, catalogue.units_date(period), catalogue.units_date(onto))
    loaded = {unit for unit, *_ in current_sources(conn, period)}
    cells: dict[str, list[Contribution]] = {}
    for c in lineage_of(conn, period, terms):
        cells.setdefault(c.unit, []).append(c)
    found = []
    for unit in catalogue.units_in(onto):
        behind = tuple(_behind(o, o.unit.code in loaded, cells.get(o.unit.code, ())) for o in made_of.get(unit, ()))
        found.append(Restated(unit, _value(catalogue, terms, behind), behind))
    return found


def restate_rate(conn: duckdb.DuckDBPyConnection, catalogue: Catalogue, period: str, onto: str,
                 numerator: list[Term], denominator: list[Term]) -> list[RestatedRate]:
    """A rate of ``period`` on each unit expected in ``onto``, from its restated counts."""
    return [RestatedRate(n, d) for n, d in zip(restate(conn, catalogue, period, onto, numerator),
                                               restate(conn, catalogue, period, onto, denominator))]


def _behind(origin: Origin, loaded: bool, cells) -> Behind:
    return Behind(origin.unit, origin.share, loaded, tuple(cells) if loaded else (), origin.links)


def _value(catalogue: Catalogue, terms: list[Term], behind: tuple[Behind, ...]) -> Decimal | None:
    """Σ sign × (each cell restated): a count or money cell adds its old units' values times
    their share; a yes/no cell follows its rule over the old units with data."""
    members = [b for b in behind if b.loaded]
    if not members:
        return None
    total = Decimal(0)
    for term in terms:
        answers = [b.cell(term.ref) for b in members]
        total += term.sign * _restated_cell(catalogue, term.ref, [(a, b.share) for a, b in zip(answers, members)])
    return total


def previous_on_units(conn: duckdb.DuckDBPyConnection, catalogue: Catalogue, units: list[str],
                      period: str) -> dict[str, dict[Ref, object]]:
    """Each unit's values of the latest earlier period, for the large-change warnings: as loaded
    (``previous_values``) while the units stay the same; after a change of units (2024 → 2025),
    the earlier period restated onto this period's units (values added times their share, a
    yes/no item by its rule), and no entry for a unit whose old units are not all loaded (Xã
    Búng Lao: its Tuần Giáo part alone is no year before to compare with)."""
    found = previous_values(conn, units, period)
    earlier = conn.execute("SELECT MAX(period) FROM current_values WHERE period < ?", [period]).fetchone()[0]
    if earlier not in catalogue.periods or not units_differ(catalogue, earlier, period):
        return found
    made_of = origins(catalogue.lineage, catalogue.units, catalogue.units_date(earlier), catalogue.units_date(period))
    old = previous_values(conn, sorted({o.unit.code for parts in made_of.values() for o in parts}), period)
    restated: dict[str, dict[Ref, object]] = {}
    for unit in catalogue.units_in(period):
        parts = made_of.get(unit, ())
        if unit.code not in units or not parts or any(o.unit.code not in old for o in parts):
            continue
        refs = {ref for o in parts for ref in old[o.unit.code]}
        restated[unit.code] = {ref: _restated_cell(catalogue, ref, [(Decimal(old[o.unit.code].get(ref, 0)), o.share)
                                                                    for o in parts]) for ref in refs}
    return restated


def units_differ(catalogue: Catalogue, period: str, onto: str) -> bool:
    """Whether the units expected in ``onto`` differ from those of ``period`` (codes or names)."""
    def units(key: str) -> list[tuple[str, str]]:
        return [(u.code, u.name) for u in catalogue.units_in(key)]
    return units(period) != units(onto)


def _restated_cell(catalogue: Catalogue, ref: Ref, parts: list[tuple[Decimal, Decimal]]) -> Decimal:
    form = catalogue.form(ref.form)
    item = None if form.is_grid else form.item(ref.row)
    if item is not None and item.type == "flag":
        yes = sum(1 for value, _ in parts if value == 1)
        return {"any": Decimal(yes > 0), "all": Decimal(yes == len(parts)), "count": Decimal(yes)}[item.restate]
    return sum((value * share for value, share in parts), Decimal(0))
