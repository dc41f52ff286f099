"""Reading the catalogue's files: TOML with its errors named, required keys, and the
expressions and references (``A + B - 01:C``, ``A <= B``) that forms, layouts and targets share."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from pipeline.catalogue.model import COMPARATORS, SAME_ROW, Catalogue, CatalogueError, Ref, Rule, Term

REF = r"[0-9]{2}:[A-Z0-9_.]+(?::[A-Z0-9_]+)?|[A-Z][A-Z0-9_.]*"
_TERM = re.compile(rf"\s*([+-]?)\s*({REF})\s*")
_COMPARATOR = re.compile(r"(<=|>=|==|<|>)")


def parse_sum(text: str, form: str, grid: bool, file: str, entry: str) -> tuple[Term, ...]:
    """Parse ``A + B - 01:C`` into terms; a bare name is an item (a column in a grid) of ``form``."""
    terms, pos = [], 0
    text = text.strip()
    while pos < len(text):
        match = _TERM.match(text, pos)
        if not match or (terms and not match.group(1)):
            raise CatalogueError(file, entry, f'không đọc được biểu thức "{text}" (tại ký tự {pos + 1})')
        sign = -1 if match.group(1) == "-" else 1
        terms.append(Term(parse_ref(match.group(2), form, grid), sign))
        pos = match.end()
    if not terms:
        raise CatalogueError(file, entry, "biểu thức trống")
    return tuple(terms)


def parse_ref(token: str, form: str, grid: bool) -> Ref:
    parts = token.split(":")
    if len(parts) == 1:
        return Ref(form, SAME_ROW, token) if grid else Ref(form, token)
    if len(parts) == 2:
        return Ref(parts[0], parts[1])
    return Ref(parts[0], parts[1], parts[2])


def parse_rules(text: str, form: str, grid: bool, file: str, message: str, severity: str) -> list[Rule]:
    """Parse ``A <= B <= C`` into the rules ``A <= B`` and ``B <= C``."""
    pieces = _COMPARATOR.split(text)
    if len(pieces) < 3:
        raise CatalogueError(file, text, f"quy tắc cần một phép so sánh ({', '.join(COMPARATORS)})")
    sums = [parse_sum(p, form, grid, file, text) for p in pieces[0::2]]
    ops = pieces[1::2]
    return [
        Rule(text, sums[i], ops[i], sums[i + 1], message, severity) for i in range(len(ops))
    ]


def relative_name(path: Path, directory: Path) -> str:
    return path.relative_to(directory).as_posix()


def read_toml(path: Path, directory: Path) -> dict:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise CatalogueError(relative_name(path, directory), "-", "thiếu tệp") from None
    except tomllib.TOMLDecodeError as e:
        raise CatalogueError(relative_name(path, directory), "-", f"sai cú pháp TOML: {e}") from None


def required(value, key: str, file: str, entry: str):
    """The value of a key that a model leaves optional and this entry needs."""
    if value is None:
        raise CatalogueError(file, entry, f'thiếu trường "{key}"')
    return value


def check_ref(cat: Catalogue, ref: Ref, file: str, entry: str) -> None:
    form = cat.forms.get(ref.form)
    if form is None:
        raise CatalogueError(file, entry, f'"{ref}" nhắc tới biểu "{ref.form}" không có')
    rows = {i.code for i in form.items}
    columns = {c.code for c in form.columns}
    row_ok = ref.row in rows or (form.is_grid and ref.row == SAME_ROW)
    if not row_ok or ref.column not in columns:
        shown = ref.column if ref.row == SAME_ROW else ref
        raise CatalogueError(file, entry, f'"{shown}" không có trong biểu {form.code}')
