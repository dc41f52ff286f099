"""The shape of every catalogue file, as pydantic models that refuse an unknown key and a
missing one, and the one translation of their errors into a CatalogueError naming the file,
the entry and, for a misspelt key, the nearest valid one. ``layouts`` and ``report_text``
declare the models of their own files on the same base."""

from __future__ import annotations

import datetime as dt
import difflib
import json
import typing
from typing import Annotated, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeline.catalogue.model import (BODY_LEVELS, DIRECTIONS, ENDED, PART, PERIOD_KINDS, PERIOD_STATES, RESTATE_RULES, TYPES,
                                      UNIT_KINDS, WHOLE, YEAR, CatalogueError)
from pipeline.text import ERROR, WARNING


class Model(BaseModel):
    """An entry of a catalogue file: every key declared, none unknown; values as TOML gives
    them (strict: a number written as text is an error, not converted)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


Text = Annotated[str, Field(min_length=1)]  # a required text may not be empty

M = TypeVar("M", bound=BaseModel)


# --------------------------------------------------------------------------- forms/*.toml


class ItemEntry(Model):
    code: Text
    label: Text
    unit: Text
    type: Literal[TYPES]
    parent: Text | None = None  # a "trong đó" subset: the rule item <= parent follows
    formula: Text | None = None
    restate: Literal[RESTATE_RULES] | None = None  # flags: how old units' answers show on the unit they became


class ColumnEntry(Model):
    code: Text
    label: Text
    type: Literal[TYPES]
    unit: str = ""
    group: str = ""
    full_label: str | None = None  # the label by default
    formula: Text | None = None


class RuleEntry(Model):
    rule: Text
    message: str = ""
    severity: Literal[ERROR, WARNING] = ERROR


class FormFile(Model):
    """A form: an item sheet (``items``, or ``same_items_as`` another form) or the grid of
    sub-projects (``grid``, ``columns``, ``total_column``)."""

    code: Text
    sheet: Text
    title: str | None = None  # the sub-project's name by default
    sub_project: Text | None = None
    reported_by: list[Literal[UNIT_KINDS]]
    grid: Literal["sub_projects"] | None = None
    total_column: Text | None = None
    same_items_as: Text | None = None
    items: list[ItemEntry] | None = None
    columns: list[ColumnEntry] | None = None
    rules: list[RuleEntry] = []


# --------------------------------------------------------------------------- programme, targets, periods, district


class SubProjectEntry(Model):
    code: Text
    name: Text
    form: Text


class ProjectEntry(Model):
    code: Text
    name: Text
    sub_projects: list[SubProjectEntry]


class ProgrammeFile(Model):
    projects: list[ProjectEntry]


class TargetEntry(Model):
    code: Text
    label: Text
    unit: Text
    kind: Literal["rate", "sum"]
    numerator: Text
    denominator: Text | None = None  # rates only
    direction: Literal[DIRECTIONS]


class TargetsFile(Model):
    targets: list[TargetEntry]


class PeriodEntry(Model):
    key: Text
    label: str | None = None  # the key by default
    report_date: dt.date
    deadline: dt.date
    state: Literal[PERIOD_STATES]
    # earlier template versions (catalogue_version of a former release) whose files the period still reads
    template_versions: list[Annotated[str, Field(pattern=r"^[0-9a-f]{12}$")]] = []
    regime: Text | None = None  # regimes.toml's key; by default the regime whose dates hold report_date
    kind: Literal[PERIOD_KINDS] = YEAR  # "giai đoạn": a phase summary of the annual periods ``years``
    years: list[Annotated[str, Field(pattern=r"^[0-9]{4}$")]] = []


class PeriodsFile(Model):
    periods: list[PeriodEntry]


class HeadlineEntry(Model):
    label: Text
    ref: Text


class DistrictFile(Model):
    change_warning_share: float | None = None  # the checks' defaults apply when absent
    change_warning_min: float | None = None
    headline: list[HeadlineEntry] = []


# --------------------------------------------------------------------------- regimes.toml


Key = Annotated[str, Field(pattern=r"^[0-9A-Za-z_-]+$")]


class Sourced(Model):
    key: Key
    source: Text  # where the fact was checked
    verified: bool  # false: not confirmed there


class FormSetEntry(Sourced):
    directory: Text  # from the catalogue folder: "." or e.g. "versions/2026-2030"
    name: Text


class ProgrammeEntry(Sourced):
    name: Text
    basis: Text


class StandardEntry(Sourced):
    name: Text
    basis: Text
    income_rural: int  # đồng per person per month
    income_urban: int


class BodyEntry(Sourced):
    authority: Text
    authority_in_text: Text
    place: Text
    province: Text
    standing_office: Text
    standing_office_in_text: Text
    preparer_title: Text
    signer_on_behalf: Text
    level: Literal[BODY_LEVELS]


class RegimeEntry(Model):
    key: Key
    start: dt.date
    end: dt.date
    programme: Text
    form_set: Text
    standard: Text
    body: Text
    forms_note: str = ""


class RegimesFile(Model):
    form_sets: list[FormSetEntry]
    programmes: list[ProgrammeEntry]
    standards: list[StandardEntry]
    bodies: list[BodyEntry]
    regimes: list[RegimeEntry]


# --------------------------------------------------------------------------- units.csv, lineage.csv

ISO_DAY = r"^(\d{4}-\d{2}-\d{2})?$"  # a day as 2025-07-01, or blank
YES_NO = ("", "yes", "no")


class UnitRow(Model):
    """A row of units.csv (or of a province's or the country's register: the same columns)."""

    model_config = ConfigDict(str_strip_whitespace=True)

    ma_don_vi: Text
    ten_don_vi: Text
    kieu: Literal[UNIT_KINDS]
    khu_vuc: str = ""
    ma_huyen: str = ""
    ten_huyen: str = ""
    ma_tinh: str = ""
    ten_tinh: str = ""
    valid_from: Annotated[str, Field(pattern=ISO_DAY)] = ""  # first day valid, blank: always was
    valid_to: Annotated[str, Field(pattern=ISO_DAY)] = ""  # last day valid, blank: still is
    reports: Literal[YES_NO] = ""  # blank: yes
    code_confirmed: Literal[YES_NO] = ""  # blank: yes
    code_source: str = ""  # where the code was found (or why it is provisional)


def day_of(text: str, file: str, entry: str, key: str) -> dt.date | None:
    """A day of a catalogue table (2025-07-01, as ISO_DAY checks its shape), None when blank."""
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        raise CatalogueError(file, entry, f'"{key}" = "{text}": không phải ngày có thật (dạng 2025-07-01)') from None


class LineageRow(Model):
    """A row of lineage.csv (``pipeline.catalogue.lineage``)."""

    model_config = ConfigDict(str_strip_whitespace=True)

    old_code: Text
    new_code: str = ""  # blank for "ended"
    date: Annotated[str, Field(pattern=ISO_DAY, min_length=1)]  # the first day of the new unit
    kind: Literal[WHOLE, PART, ENDED]
    share: str = ""  # "part" only: the share of the old unit (0.4); the parts of a unit add up to 1
    confirmed: Literal["yes", "no"]
    source: str = ""
    note: str = ""


# --------------------------------------------------------------------------- errors


def validated(model: type[M], data: object, file: str, entry: str = "") -> M:
    """``data`` read into ``model``, or a CatalogueError about its first problem; ``entry``
    names the file's entry (a form's code, a Biểu) before any element of a list."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise catalogue_error(error, model, data, file, entry) from None


def catalogue_error(error: ValidationError, model: type[BaseModel], data: object, file: str,
                    entry: str) -> CatalogueError:
    """A problem of a validation as a CatalogueError: the file, the entry (the list
    elements on the way, by code, key… or place) and a Vietnamese sentence naming the key."""
    problems = error.errors()
    # An unknown key first: a misspelt key is also a missing one, and its hint says more.
    problem = next((p for p in problems if p["type"] == "extra_forbidden"), problems[0])
    loc, kind = problem["loc"], problem["type"]
    last = max(n for n, step in enumerate(loc) if isinstance(step, str))  # the key at fault (a file is a table)
    key, owner = str(loc[last]), model_at(model, loc[:last])
    if kind == "extra_forbidden":
        valid = list(_fields_by_key(owner))
        near = difflib.get_close_matches(key, valid, n=1)
        hint = f'có phải "{near[0]}"?' if near else "các khoá: " + ", ".join(f'"{k}"' for k in valid)
        message = f'"{key}": không có khoá này — {hint}'
    elif kind == "missing":
        message = f'thiếu trường "{key}"'
    elif kind in ("string_too_short", "too_short"):
        message = f'"{key}" không được để trống'
    else:
        message = f'"{key}" = {_shown(problem["input"])}: {_expected(kind, owner, key)}'
    return CatalogueError(file, _entry(data, loc, entry), message)


def model_at(model: type[BaseModel], path: tuple) -> type[BaseModel] | None:
    """The model of the entry at ``path`` (keys and list places) below ``model``; None where
    the path leaves the models (a table of free keys, a text)."""
    for step in path:
        if isinstance(step, int):
            continue
        field = _fields_by_key(model).get(step)
        model = _inner(field.annotation, lambda t: isinstance(t, type) and issubclass(t, BaseModel)) if field else None
        if model is None:
            return None
    return model


def _fields_by_key(model: type[BaseModel]) -> dict:
    """The fields of ``model`` by their key in the file."""
    return {field.alias or name: field for name, field in model.model_fields.items()}


def _inner(annotation, wanted) -> object | None:
    """The first part of a type (``list[X] | None`` → X…) that ``wanted`` accepts."""
    if wanted(annotation):
        return annotation
    for arg in typing.get_args(annotation):
        found = _inner(arg, wanted)
        if found is not None:
            return found
    return None


TYPE_WORDS = {  # what a key's value must be, by pydantic's error type
    "string_type": "phải là chữ trong ngoặc kép",
    "int_type": "phải là số nguyên",
    "float_type": "phải là số",
    "bool_type": "phải là true hoặc false",
    "date_type": "phải là ngày dạng 2023-08-15 (không đặt trong ngoặc kép)",
    "list_type": "phải là danh sách [ … ]",
    "dict_type": "phải là bảng { … }",
    "model_type": "phải là bảng { … }",
}


def _expected(kind: str, owner: type[BaseModel] | None, key: str) -> str:
    """What the value of ``key`` (a field of ``owner``) must be."""
    if kind == "literal_error" and owner is not None:
        literal = _inner(_fields_by_key(owner)[key].annotation, lambda t: typing.get_origin(t) is Literal)
        return "phải là một trong " + ", ".join(_shown(v) for v in typing.get_args(literal))
    return TYPE_WORDS.get(kind, "giá trị không hợp lệ")


def _shown(value: object) -> str:
    """A value as the file writes it: texts in quotes, cut short."""
    text = json.dumps(value, ensure_ascii=False, default=str) if not isinstance(value, str) else f'"{value}"'
    return text if len(text) <= 60 else text[:57] + "…"


# How an element of a list is named in an error: by its code (key, reference, rule…), else
# by its place; the elements of these lists are called "bảng 2", "cột TONG", "khối 3".
IDENTITY = ("code", "key", "ref", "each", "rule", "label")
ELEMENT_WORDS = {"tables": "bảng", "columns": "cột", "blocks": "khối"}


def _entry(data: object, loc: tuple, entry: str) -> str:
    """``entry``, then each element of a list on the way to the error."""
    names, node, key = [], data, ""
    for step in loc:
        if isinstance(node, dict) and step in node:
            key, node = step, node[step]
        elif isinstance(node, list) and isinstance(step, int) and step < len(node):
            node = node[step]
            if isinstance(node, dict):
                names.append(_element(key, step + 1, node))
        else:
            break
    return ", ".join(filter(None, [entry, *names])) or "-"


def _element(key: str, number: int, element: dict) -> str:
    identity = next((element[k] for k in IDENTITY if isinstance(element.get(k), str) and element[k]), None)
    if key in ELEMENT_WORDS:
        return f"{ELEMENT_WORDS[key]} {identity or number}"
    return identity or f"{key}[{number}]"
