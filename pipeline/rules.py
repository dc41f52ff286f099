"""Evaluates the catalogue's cross-item rules on one unit's values.

A rule is a linear comparison between sums of cells (derived items expanded); a grid
rule (form 02) is checked on every row. Missing values count as unknown: a rule with an
unknown side is not judged here (the empty cell is its own problem).
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from pipeline.catalogue import SAME_ROW, Catalogue, Form, Ref, Rule, Term

COMPARE = {"<=": operator.le, ">=": operator.ge, "==": operator.eq, "<": operator.lt, ">": operator.gt}


@dataclass(frozen=True)
class Violation:
    rule: Rule
    row: str | None  # the grid row checked, None for item sheets
    left: Decimal
    right: Decimal
    left_cells: tuple[Ref, ...]
    right_cells: tuple[Ref, ...]


def _bind(term: Term, row: str | None) -> Ref:
    ref = term.ref
    return Ref(ref.form, row, ref.column) if ref.row == SAME_ROW else ref


def side_value(catalogue: Catalogue, terms: tuple[Term, ...], row: str | None,
               values: Mapping[Ref, Decimal]) -> tuple[Decimal | None, tuple[Ref, ...]]:
    """The sum of terms (derived cells expanded), or None when an input is missing."""
    total, cells = Decimal(0), []
    for term in terms:
        for inner in catalogue.expand(_bind(term, row)):
            value = values.get(inner.ref)
            if value is None:
                return None, ()
            total += term.sign * inner.sign * value
            cells.append(inner.ref)
    return total, tuple(cells)


def violations(catalogue: Catalogue, form: Form, values: Mapping[Ref, Decimal]) -> list[Violation]:
    """Every rule of the form that the values break."""
    rows = [item.code for item in form.items] if form.is_grid else [None]
    found = []
    for rule in form.rules:
        for row in rows:
            left, left_cells = side_value(catalogue, rule.left, row, values)
            right, right_cells = side_value(catalogue, rule.right, row, values)
            if left is None or right is None:
                continue
            if not COMPARE[rule.op](left, right):
                found.append(Violation(rule, row, left, right, left_cells, right_cells))
    return found
