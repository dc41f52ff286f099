"""pandera schemas built from the catalogue, one per form, and the findings they give.

A form's values are validated as a wide frame: one row per submission (and per
sub-project row on the 02 grid), one column per input cell. Each column must be filled
in; one frame-wide check holds every cell to its type (count: whole and non-negative;
money: non-negative, at most 3 decimals; flag: 0 or 1), and the finding names each cell
that breaks it; each catalogue rule (every "trong đó ≤ tổng", sums, the funds rules) is a
frame-wide check built by one factory. (One type check per form rather than one per
column: pandera's cost is per check, and a single file's check pays it for every form.)
Validation is lazy: one pass finds every problem of every submission in the batch. Sums
are exact (Decimal).
"""

from __future__ import annotations

import operator
from decimal import Decimal

import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from pipeline.catalogue import SAME_ROW, Catalogue, Form, Ref, Rule, Term
from pipeline.checking.findings import EMPTY, RULE, WRONG_TYPE, Finding, finding
from pipeline.text import show_number
from pipeline.workbook.reader import Submission

COMPARE = {"<=": operator.le, ">=": operator.ge, "==": operator.eq, "<": operator.lt, ">": operator.gt}
NOT_NULLABLE = "not_nullable"
OP_BROKEN = {"<=": "lớn hơn", ">=": "nhỏ hơn", "==": "khác", "<": "không nhỏ hơn", ">": "không lớn hơn"}
TYPE_MESSAGES = {
    "count": "phải là số nguyên không âm",
    "money": "phải là số không âm, tối đa 3 chữ số thập phân (đơn vị triệu đồng)",
    "flag": "chỉ nhận 1 (có) hoặc 0 (không)",
}


def _is_count(value: Decimal) -> bool:
    return value >= 0 and value == value.to_integral_value()


def _is_money(value: Decimal) -> bool:
    return value >= 0 and value.as_tuple().exponent >= -3 if value.is_finite() else False


def _is_flag(value: Decimal) -> bool:
    return value in (0, 1)


TYPE_CHECKS = {"count": _is_count, "money": _is_money, "flag": _is_flag}
TYPE_CHECK = "type"


# --------------------------------------------------------------------------- frames


def frame_key(form: Form, ref: Ref) -> str:
    """The wide-frame column of a cell: its code on its own form, the full reference elsewhere."""
    if ref.form != form.code:
        return str(ref)
    return ref.column if form.is_grid else ref.row


def _rows(form: Form) -> list[str]:
    return [item.code for item in form.input_items] if form.is_grid else [""]


def _bind(ref: Ref, row: str) -> Ref:
    return Ref(ref.form, row, ref.column) if ref.row == SAME_ROW else ref


def _input_terms(catalogue: Catalogue, terms: tuple[Term, ...]) -> list[Term]:
    """Terms with derived cells expanded (grid terms keep the same-row marker)."""
    return [Term(t.ref, t.sign * term.sign) for term in terms for t in catalogue.expand(term.ref)]


def foreign_refs(catalogue: Catalogue, form: Form) -> list[Ref]:
    """Cells of other forms that this form's rules use."""
    refs = {t.ref for rule in form.rules for t in _input_terms(catalogue, rule.left + rule.right)}
    return sorted((r for r in refs if r.form != form.code), key=str)


def wide_frame(catalogue: Catalogue, form: Form, submissions: list[Submission]) -> tuple[pd.DataFrame, list]:
    """One row per (submission number, grid row), listed beside the frame (pandera reports row
    positions); one object column (Decimal or None) per input cell."""
    own = [c.code for c in form.input_columns] if form.is_grid else [i.code for i in form.input_items]
    foreign = foreign_refs(catalogue, form)
    records, index = [], []
    for number, submission in enumerate(submissions):
        values = submission.values
        for row in _rows(form):
            cells = [Ref(form.code, row, code) if form.is_grid else Ref(form.code, code) for code in own]
            records.append([values.get(ref) for ref in cells] + [values.get(ref) for ref in foreign])
            index.append((number, row))
    return pd.DataFrame(records, columns=own + [str(r) for r in foreign], dtype=object), index


def _side_sums(frame: pd.DataFrame, form: Form, terms: list[Term]) -> list[Decimal | None]:
    """Per frame row, the exact Decimal sum of the terms (None where a cell is empty)."""
    columns = [(term.sign, frame[frame_key(form, term.ref)].tolist()) for term in terms]
    sums = []
    for row in range(len(frame)):
        values = [(sign, column[row]) for sign, column in columns]
        sums.append(None if any(v is None for _, v in values) else sum((s * v for s, v in values), Decimal(0)))
    return sums


def rule_sides(catalogue: Catalogue, form: Form, rule: Rule,
               frame: pd.DataFrame) -> tuple[list[Decimal | None], list[Decimal | None]]:
    """Left and right sums of a rule on every frame row, exact (None where a cell is empty)."""
    return (_side_sums(frame, form, _input_terms(catalogue, rule.left)),
            _side_sums(frame, form, _input_terms(catalogue, rule.right)))


# --------------------------------------------------------------------------- schemas


def _rule_check(catalogue: Catalogue, form: Form, number: int, rule: Rule) -> pa.Check:
    """The one factory of rule checks: a frame-wide check that passes where a side is empty."""

    compare = COMPARE[rule.op]

    def holds(frame: pd.DataFrame) -> pd.Series:
        left, right = rule_sides(catalogue, form, rule, frame)
        return pd.Series([a is None or b is None or compare(a, b) for a, b in zip(left, right)], index=frame.index)

    return pa.Check(holds, name=f"rule:{number}")


_SCHEMAS: dict[tuple[str, str], pa.DataFrameSchema] = {}


def form_schema(catalogue: Catalogue, form: Form) -> pa.DataFrameSchema:
    """The pandera schema of a form, built once per catalogue version (codes, types, rules)."""
    key = (catalogue.version, form.code)
    if key not in _SCHEMAS:
        _SCHEMAS[key] = _build_schema(catalogue, form)
    return _SCHEMAS[key]


def cell_kinds(form: Form) -> dict[str, str]:
    """Each input column of a form's frame and the type of its cells."""
    if form.is_grid:
        return {c.code: c.type for c in form.input_columns}
    return {i.code: i.type for i in form.input_items}


def wrong_types(form: Form, row: dict) -> list[tuple[str, str]]:
    """(column, type) of the filled cells of a frame row that break their type."""
    return [(code, kind) for code, kind in cell_kinds(form).items()
            if row[code] is not None and not TYPE_CHECKS[kind](row[code])]


def _type_check(form: Form) -> pa.Check:
    """The frame-wide type check: a row passes when every filled cell has its type."""
    kinds = list(cell_kinds(form).items())

    def holds(frame: pd.DataFrame) -> pd.Series:
        columns = [(frame[code].tolist(), TYPE_CHECKS[kind]) for code, kind in kinds]
        return pd.Series([all(values[n] is None or fits(values[n]) for values, fits in columns)
                          for n in range(len(frame))], index=frame.index)

    return pa.Check(holds, name=TYPE_CHECK)


def _build_schema(catalogue: Catalogue, form: Form) -> pa.DataFrameSchema:
    # no dtype: the frame is all Python objects, and pandera's dtype check costs
    columns = {code: pa.Column(nullable=False) for code in cell_kinds(form)}
    for ref in foreign_refs(catalogue, form):
        columns[str(ref)] = pa.Column(nullable=True)
    return pa.DataFrameSchema(
        columns, checks=[_type_check(form)] + [_rule_check(catalogue, form, n, r) for n, r in enumerate(form.rules)],
        name=f"Biểu {form.code}", strict=True, ordered=False,
    )


def failure_cases(catalogue: Catalogue, form: Form, frame: pd.DataFrame) -> pd.DataFrame:
    """pandera's failure cases for a form's frame (empty when everything holds)."""
    try:
        form_schema(catalogue, form).validate(frame, lazy=True)
    except SchemaErrors as errors:
        return errors.failure_cases
    return pd.DataFrame(columns=["column", "check", "index"])


# --------------------------------------------------------------------------- findings


def _side_text(catalogue: Catalogue, form: Form, submission: Submission, terms: tuple[Term, ...],
               row: str, value: Decimal) -> str:
    """'ô H9 (DA4.TDA1 · Đã giải ngân – sự nghiệp) = 250', or labels with their cells for a sum."""
    refs = [_bind(t.ref, row) for t in terms]
    total = show_number(value)
    if len(refs) == 1:
        ref = refs[0]
        label = catalogue.form(ref.form).cell_label(ref)
        where = submission.address(ref)
        if catalogue.expand(ref) == (Term(ref, 1),):
            return f"ô {where} ({label}) = {total}" if where else f"{label} = {total}"
        return f"{label} = {total}" + (f" (ô {where})" if where else "")
    parts = []
    for term, ref in zip(terms, refs):
        where = submission.address(ref)
        label = catalogue.form(ref.form).cell_label(ref)
        parts.append(("− " if term.sign < 0 else ("+ " if parts else "")) + label + (f" (ô {where})" if where else ""))
    return f"{' '.join(parts)} = {total}"


def rule_findings(catalogue: Catalogue, form: Form, submissions: list[Submission],
                  frame: pd.DataFrame, keys: list, cases: pd.DataFrame) -> dict[int, list[Finding]]:
    """Findings per submission number from a form's failure cases."""
    found: dict[int, list[Finding]] = {}
    if cases.empty:
        return found
    problems = {(n, c.ref): c.problem for n, s in enumerate(submissions) for c in s.cells}
    seen: set[tuple] = set()
    for case in cases.to_dict("records"):
        position = int(case["index"])
        number, row = keys[position]
        check, column = str(case["check"]), case["column"]
        key = (check, position, column) if check == NOT_NULLABLE else (check, position)
        if key in seen:
            continue
        seen.add(key)
        submission = submissions[number]
        if check.startswith("rule:"):
            one = [_rule_finding(catalogue, form, submission, frame.loc[[position]], form.rules[int(check[5:])], row)]
        elif check == TYPE_CHECK:
            values = frame.loc[position].to_dict()
            one = [_cell_finding(form, submission, _cell_ref(form, row, code), kind, values[code])
                   for code, kind in wrong_types(form, values)]
        else:
            ref = _cell_ref(form, row, column)
            if problems.get((number, ref)) != "empty":
                continue  # a non-number or a missing code is reported where it is read
            one = [_cell_finding(form, submission, ref, None, None)]
        found.setdefault(number, []).extend(one)
    return found


def _cell_ref(form: Form, row: str, column: str) -> Ref:
    return Ref(form.code, row, column) if form.is_grid else Ref(form.code, column)


def _cell_finding(form: Form, submission: Submission, ref: Ref, kind: str | None, value) -> Finding:
    """The finding of an empty cell (``kind`` None) or of a cell that breaks its type."""
    label = form.cell_label(ref)
    where = submission.address(ref) or ""
    common = dict(file=submission.path.name, unit=submission.unit_code, form=form.code,
                  sheet=submission.sheet_name(form), cell=where, item=str(ref), item_label=label)
    if kind is None:
        return finding(EMPTY, **common)
    shown = show_number(value) if isinstance(value, Decimal) and value.is_finite() else str(value)
    return finding(WRONG_TYPE, expected=TYPE_MESSAGES[kind], value=shown, **common)


# What one input cell must hold for the rule to hold when every other number is right: by the
# rule's operator, for a cell alone on the left, then for one alone on the right.
NEEDED = {"<=": ("tối đa ", "ít nhất "), ">=": ("ít nhất ", "tối đa "), "==": ("", "")}


def _hint(catalogue: Catalogue, submission: Submission, rule: Rule, row: str, left: Decimal, right: Decimal) -> str:
    """" Nếu các số còn lại đúng: ô K15 ghi tối đa 1.200." where the rule computes the value
    a cell the unit types must hold ("" for a strict comparison or when no side is one cell)."""
    if rule.op not in NEEDED:
        return ""
    parts = []
    for terms, word, value in ((rule.left, NEEDED[rule.op][0], right), (rule.right, NEEDED[rule.op][1], left)):
        if len(terms) != 1 or terms[0].sign != 1:
            continue
        ref = _bind(terms[0].ref, row)
        where = submission.address(ref)
        if where and catalogue.expand(ref) == (Term(ref, 1),):
            parts.append(f"ô {where} ghi {word}{show_number(value)}")
    return f" Nếu các số còn lại đúng: {' hoặc '.join(parts)}." if parts else ""


def _rule_finding(catalogue: Catalogue, form: Form, submission: Submission, one: pd.DataFrame,
                  rule: Rule, row: str) -> Finding:
    (left,), (right,) = rule_sides(catalogue, form, rule, one)
    left_text = _side_text(catalogue, form, submission, rule.left, row, left)
    right_text = _side_text(catalogue, form, submission, rule.right, row, right)
    first = _bind(rule.left[0].ref, row)
    first_input = _bind(_input_terms(catalogue, rule.left)[0].ref, row)
    return finding(
        RULE, severity=rule.severity, left=left_text, broken=OP_BROKEN[rule.op], right=right_text,
        note=f" {rule.message}." if rule.message else "", hint=_hint(catalogue, submission, rule, row, left, right),
        file=submission.path.name, unit=submission.unit_code, form=form.code,
        sheet=submission.sheet_name(catalogue.form(first.form)),
        cell=submission.address(first) or submission.address(first_input) or "",
        item=str(first), item_label=catalogue.form(first.form).cell_label(first),
        value=show_number(left),
    )


def validate_values(catalogue: Catalogue, submissions: list[Submission]) -> dict[int, list[Finding]]:
    """Run every in-scope form's schema once over the whole batch; findings per submission number."""
    found: dict[int, list[Finding]] = {}
    for form in catalogue.forms.values():
        members = [n for n, s in enumerate(submissions) if form.code in s.forms]
        if not members:
            continue
        batch = [submissions[n] for n in members]
        frame, keys = wide_frame(catalogue, form, batch)
        cases = failure_cases(catalogue, form, frame)
        for local, findings in rule_findings(catalogue, form, batch, frame, keys, cases).items():
            found.setdefault(members[local], []).extend(findings)
    return found
