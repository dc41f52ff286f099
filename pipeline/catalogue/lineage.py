"""lineage.csv: which units became which, on which day (the 2025 reorganisation, and any later
merge, split, rename or code correction: data only), read and checked against the dated units
of units.csv; and the walk from the units of one day to those of a later day that a restated
figure follows (``pipeline.warehouse.restate``).

A row names codes; the old code means its version valid the day before ``date``, the new code
its version valid on ``date`` (a code may be given again to a new unit). The checks refuse an
unknown code, a cycle, a day that does not match the old unit's end, a split whose parts do not
add up to the whole, and a unit lost (a version that ends with no row saying what it became)."""

from __future__ import annotations

import csv
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from pipeline.catalogue.model import ENDED, LINEAGE_FILE, PART, WHOLE, CatalogueError, LineageLink, Unit
from pipeline.catalogue.schema import LineageRow, day_of, validated

DAY = dt.timedelta(days=1)


def load_lineage(path: Path, units: tuple[Unit, ...], required: bool = True) -> tuple[LineageLink, ...]:
    """The rows of a lineage file, checked against ``units``; () when the file is absent and
    not ``required`` (a unit list given without lineage states no change)."""
    file = path.name
    if not path.exists():
        if required:
            raise CatalogueError(file, "-", "thiếu tệp")
        return ()
    links, places = [], {}
    with path.open(encoding="utf-8", newline="") as f:
        for n, row in enumerate(csv.DictReader(f, restval=""), start=2):
            entry = f"dòng {n}"
            if None in row:
                raise CatalogueError(file, entry, "dòng có nhiều ô hơn dòng tiêu đề")
            r = validated(LineageRow, row, file, entry)
            link = LineageLink(r.old_code, r.new_code, day_of(r.date, file, entry, "date"), r.kind, _share(r, file, entry),
                               r.confirmed == "yes", r.source, r.note)
            if (link.new == "") != (link.kind == ENDED):
                raise CatalogueError(file, entry, f'"{ENDED}" (chấm dứt, không có đơn vị kế tiếp) thì để trống '
                                                  '"new_code"; các loại khác phải ghi mã đơn vị mới')
            links.append(link)
            places[link] = entry
    check_lineage(tuple(links), units, file, places)
    return tuple(links)


def _share(row: LineageRow, file: str, entry: str) -> Decimal:
    if row.kind != PART:
        if row.share:
            raise CatalogueError(file, entry, f'"share" chỉ ghi cho loại "{PART}" (một phần)')
        return Decimal(1)
    try:
        share = Decimal(row.share)
    except InvalidOperation:
        share = Decimal(0)
    if not 0 < share < 1:
        raise CatalogueError(file, entry, f'"share" = "{row.share}": loại "{PART}" cần tỷ lệ lớn hơn 0 và nhỏ hơn 1 '
                                          "(ví dụ 0.4)")
    return share


class Versions:
    """The versions of each code, to find the one valid on a day."""

    def __init__(self, units: tuple[Unit, ...]):
        self.by_code: dict[str, list[Unit]] = defaultdict(list)
        for u in units:
            self.by_code[u.code].append(u)

    def on(self, code: str, day: dt.date) -> Unit | None:
        return next((u for u in self.by_code.get(code, ()) if u.valid_on(day)), None)


def check_lineage(links: tuple[LineageLink, ...], units: tuple[Unit, ...], file: str = LINEAGE_FILE,
                  places: dict | None = None) -> None:
    """Refuse what lineage.csv cannot mean (module docstring); each error names the row."""
    places = places or {}
    versions = Versions(units)
    edges: dict[Unit, list[tuple[Unit, LineageLink]]] = defaultdict(list)
    olds: dict[tuple[Unit, dt.date], list[LineageLink]] = defaultdict(list)
    for link in links:
        entry = places.get(link, f"{link.old} → {link.new or ENDED}")
        old = _resolve(versions, link.old, link.day - DAY, file, entry, "cũ")
        if link.kind != ENDED:
            edges[old].append((_resolve(versions, link.new, link.day, file, entry, "mới"), link))
        olds[(old, link.day)].append(link)
    _check_acyclic(edges, file, places)
    for (old, day), rows in olds.items():
        entry = places.get(rows[0], old.code)
        if old.valid_to != day - DAY:
            end = f"{old.valid_to:%d/%m/%Y}" if old.valid_to else "nay (valid_to để trống)"
            raise CatalogueError(file, entry, f'ngày chuyển {day:%d/%m/%Y} không khớp: "{old.label}" có hiệu lực '
                                              f"đến {end}, phải kết thúc ngày {day - DAY:%d/%m/%Y}")
        if len({r.new for r in rows}) != len(rows):
            raise CatalogueError(file, entry, f'"{old.label}" được ghi hai lần cho cùng đơn vị mới ngày {day:%d/%m/%Y}')
        if any(r.kind != PART for r in rows) and len(rows) > 1:
            raise CatalogueError(file, entry, f'"{old.label}" ngày {day:%d/%m/%Y}: loại "{WHOLE}" hoặc "{ENDED}" '
                                              f'phải là dòng duy nhất của đơn vị; chia tách thì mọi dòng là "{PART}"')
        total = sum((r.share for r in rows), Decimal(0))
        if total != 1:
            raise CatalogueError(file, entry, f'"{old.label}" chia tách ngày {day:%d/%m/%Y} thành các phần cộng lại '
                                              f"bằng {total}, không bằng 1")
    for unit in units:
        if unit.valid_to is not None and (unit, unit.valid_to + DAY) not in olds:
            raise CatalogueError(file, unit.code, f'"{unit.label}" kết thúc ngày {unit.valid_to:%d/%m/%Y} mà không có '
                                                  f'đơn vị kế tiếp (ghi một dòng "{ENDED}" nếu đơn vị chấm dứt hẳn)')


def _resolve(versions: Versions, code: str, day: dt.date, file: str, entry: str, which: str) -> Unit:
    """The version of ``code`` valid on ``day``, or an error naming the row."""
    if not versions.by_code.get(code):
        raise CatalogueError(file, entry, f'mã đơn vị {which} "{code}" không có trong units.csv')
    found = versions.on(code, day)
    if found is None:
        raise CatalogueError(file, entry, f'mã đơn vị {which} "{code}" không có đơn vị nào có hiệu lực ngày {day:%d/%m/%Y}')
    return found


def _check_acyclic(edges: dict[Unit, list[tuple[Unit, LineageLink]]], file: str, places: dict) -> None:
    """No unit may become, through the rows, itself again (depth first, the path kept)."""
    done: set[Unit] = set()

    def visit(unit: Unit, path: list[Unit]) -> None:
        for child, link in edges.get(unit, ()):
            if child in path:
                names = " → ".join(u.label for u in path[path.index(child):] + [child])
                raise CatalogueError(file, places.get(link, link.old), f"vòng lặp: {names}")
            if child not in done:
                visit(child, path + [child])
        done.add(unit)

    for start in list(edges):
        if start not in done:
            visit(start, [start])


@dataclass(frozen=True)
class Origin:
    """An old unit's part in a later unit: the share of it that unit took, and the rows on the way."""

    unit: Unit
    share: Decimal
    links: tuple[LineageLink, ...]


def origins(links: tuple[LineageLink, ...], units: tuple[Unit, ...], start: dt.date,
            end: dt.date) -> dict[Unit, list[Origin]]:
    """Each unit valid on ``end``, with the units valid on ``start`` it is made of (following the
    rows dated after ``start`` up to ``end``, day by day): a unit valid on both days is its own
    origin; a unit that ended without successor is no one's."""
    versions = Versions(units)
    now: dict[Unit, list[Origin]] = {u: [Origin(u, Decimal(1), ())] for u in units if u.valid_on(start)}
    by_day: dict[dt.date, dict[Unit, list[LineageLink]]] = defaultdict(lambda: defaultdict(list))
    for link in links:
        if start < link.day <= end:
            by_day[link.day][versions.on(link.old, link.day - DAY)].append(link)
    for day in sorted(by_day):
        later: dict[Unit, list[Origin]] = defaultdict(list)
        for unit, made_of in now.items():
            passing = by_day[day].get(unit)
            if passing is None:
                later[unit] += made_of
                continue
            for link in passing:
                if link.kind != ENDED:
                    later[versions.on(link.new, day)] += [Origin(o.unit, o.share * link.share, (*o.links, link))
                                                          for o in made_of]
        now = later
    return {unit: made_of for unit, made_of in now.items() if unit.valid_on(end)}


@dataclass(frozen=True)
class Change:
    """What became a unit on a day (``new`` None: units that ended without successor), as the
    page and ``explain`` show it: each old unit with its row."""

    day: dt.date
    new: Unit | None
    olds: tuple[tuple[Unit, LineageLink], ...]


def changes(links: tuple[LineageLink, ...], units: tuple[Unit, ...]) -> list[Change]:
    """The rows of lineage.csv grouped by day and new unit, in file order."""
    versions = Versions(units)
    grouped: dict[tuple[dt.date, Unit | None], list] = {}
    for link in links:
        new = versions.on(link.new, link.day) if link.kind != ENDED else None
        grouped.setdefault((link.day, new), []).append((versions.on(link.old, link.day - DAY), link))
    return [Change(day, new, tuple(olds)) for (day, new), olds in grouped.items()]
