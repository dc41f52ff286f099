"""Loads the wording of the evaluation report's draft (``report.toml``) and checks it against
the published Biểu: every placeholder is one the draft can fill, every figure
``{Biểu/row/column}`` (or share ``{Biểu/row/column ÷ Biểu/row/column}``) names a Biểu, a row
and a column that exist, the verdict words are those of Biểu 01. Each problem is a
CatalogueError naming the file and the entry."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, create_model

from pipeline.catalogue.schema import Model, Text, validated
from pipeline.catalogue.sources import read_toml, required
from pipeline.catalogue.model import (
    TOTAL_ROW,
    VERDICTS,
    Bieu,
    Catalogue,
    CatalogueError,
    LayoutTable,
    ReportBlock,
    ReportText,
)

REPORT_FILE = "report.toml"
PLACEHOLDER = re.compile(r"\{([^{}:]*)(?::([^{}]*))?\}")  # {name} or {name:spec}
FIGURE = re.compile(r"^([0-9]{2})/([^/]+)/([^/]+)$")  # {Biểu/row/column}
SHARE = re.compile(r"^\s*([0-9]{2}/[^/]+/[^/]+?)\s*÷\s*([0-9]{2}/[^/]+/[^/]+?)\s*$")  # {figure ÷ figure}: 100 × a / b
FIGURE_HELP = ", {Biểu/dòng/cột}, {Biểu/dòng/cột ÷ Biểu/dòng/cột}"
VERDICT_COLUMN = "verdict"  # on target rows: the assessment in words ([verdicts])
CHANGE_COLUMN = "change"  # on target rows: the change from the year before in words, or nothing
LIST_KINDS = ("bieu", "sub_projects", "agencies", "implementers", "worse", "units")
PICKS = ("above", "zero")

# The district's standing roles ([roles]) and what the period's submissions say, in every text.
ROLE_FIELDS = ("authority_in_text", "standing_office", "steering_office", "guide_office", "guide_sub_projects",
               "commune_officer", "communes", "guide_communes")
SUBMISSION_FIELDS = ("units_reported", "units_expected", "units_late", "units_late_names", "deadline")
COMMON = ("year", "previous_year", "review_year", "previous_review_year", "place", "period_label", *ROLE_FIELDS,
          *SUBMISSION_FIELDS)
TARGET_COUNTS = ("targets_met", "targets", "targets_not_assessed", "targets_not_met")  # may take a format ("02d")
COUNTS = (*TARGET_COUNTS, "units_late")  # what if_zero may name besides a figure
TARGET_FIELDS = (*TARGET_COUNTS, "targets_not_assessed_names", "targets_not_met_names")
TEXTS = {  # the fixed texts and the placeholders each may use
    "number_line": ("number",),
    "date_line": ("place", "day", "month", "year"),
    "dots": (),
    "title": COMMON,
    "subtitle": COMMON,
    "missing": (),
    "incomplete_warning": ("warning", "units"),
    "incomplete_sentence": ("units",),
    "placeholder": ("text",),
    "draft_note": (),
    "closing": COMMON,
    "recipients_title": (),
    "on_behalf": (),
    "communes_count": ("count",),
    "change_down": (*COMMON, "change"),
    "change_up": (*COMMON, "change"),
    "change_same": COMMON,
    "worse_up": ("change",),
    "worse_down": ("change",),
}
LISTS = {  # list kind: (placeholders of its sentence, placeholders of one item)
    "bieu": ((*COMMON, "items"), ("code",)),
    "sub_projects": ((*COMMON, "items", "count", "projects"), ("label", "code", "project", "in_project", "short",
                                                                 "total", "disbursed", "rate", "outputs")),
    "implementers": ((*COMMON, "items", "count"), ("label", "short", "units")),
    "worse": ((*COMMON, "items", "count"), ("label", "change")),
    "units": ((*COMMON, "items", "count", "highest", "highest_value", "lowest", "lowest_value", "total"), ("unit",)),
    "agencies": ((*COMMON, "items", "count"), ("unit", "total", "label", "project", "in_project", "short",
                                                      "disbursed", "rate")),
}


class BlockEntry(Model):
    """One of ``[[blocks]]``: a heading, a figure sentence (``text``), a placeholder for the
    officer (``write``, with how many words the 2023 report wrote there) or a sentence over a
    list (``text`` with ``list``). A sentence with ``if_zero`` (a figure) prints ``zero`` instead
    when that figure is 0."""

    heading: str | None = None
    level: Literal[1, 2, 3] = 1
    text: Text | None = None
    write: str | None = None
    list_: Literal[LIST_KINDS] | None = Field(None, alias="list")
    bieu: Text | None = None
    where: Text | None = None
    item: Text | None = None
    separator: str = ", "
    none: str = ""
    pick: Literal[PICKS] = "above"
    item_zero: Text | None = None
    if_zero: Text | None = None
    zero: Text | None = None
    words_2023: int = Field(0, ge=0)


class Roles(Model):
    """``[roles]``: who does what in the district, the same every year (units by their code in
    units.csv, sub-projects by theirs in programme.toml); the Programme's standing office is
    district.toml's."""

    steering_office: Text  # the standing office of the district's steering committee of the national programmes
    commune_guide: Text  # the agency that guides the communes on the sub-projects below
    commune_guide_sub_projects: list[Text]
    commune_officer: Text  # the commune official who advises the commune on them


ReportFile = create_model(  # the fixed texts by name (TEXTS), then the rest
    "ReportFile", __base__=Model, **{key: (Text, ...) for key in TEXTS},
    recipients=(list[str], []), verdicts=(dict[str, str], ...), units=(dict[str, str], ...),
    roles=(Roles, ...), outputs=(dict[str, Text], {}), blocks=(list[BlockEntry], ...),
)


def load_report_text(directory: Path, catalogue: Catalogue, own_units: bool) -> ReportText:
    """The wording of the draft, checked against the catalogue's Biểu."""
    report = validated(ReportFile, read_toml(directory / REPORT_FILE, directory), REPORT_FILE)
    texts = {key: _text(catalogue, getattr(report, key), allowed, key) for key, allowed in TEXTS.items()}
    if set(report.verdicts) != set(VERDICTS):
        raise CatalogueError(REPORT_FILE, "verdicts", f"cần đúng các đánh giá {', '.join(VERDICTS)}")
    for word, text in report.verdicts.items():
        _text(catalogue, text, (*COMMON, "plan", "unit"), f"verdicts, {word}")
    missing_units = sorted({t.unit for t in catalogue.targets} - set(report.units))
    if missing_units:
        raise CatalogueError(REPORT_FILE, "units", f'chưa ghi cách viết đơn vị "{missing_units[0]}" của chỉ tiêu')
    if not report.blocks:
        raise CatalogueError(REPORT_FILE, "blocks", "cần danh sách các khối [[blocks]]")
    return ReportText(texts, tuple(report.recipients), report.verdicts, report.units,
                      tuple(_block(catalogue, b, n) for n, b in enumerate(report.blocks, start=1)),
                      _roles(catalogue, report.roles, own_units), _outputs(catalogue, report.outputs))


def _outputs(catalogue: Catalogue, outputs: dict[str, str]) -> dict[str, str]:
    """The wording of each sub-project's outputs, once its code and figures are known."""
    known = {s.code for s in catalogue.sub_projects}
    for code, text in outputs.items():
        if code not in known:
            raise CatalogueError(REPORT_FILE, f"outputs, {code}", f'không có dự án, tiểu dự án mã "{code}"')
        _text(catalogue, text, COMMON, f"outputs, {code}", figures=True)
    return dict(outputs)


def _roles(catalogue: Catalogue, roles: Roles, own_units: bool) -> dict[str, object]:
    """The roles, once each unit (in the catalogue's own units.csv: a province's or the
    country's list given instead need not hold the district's agencies) and sub-project they
    name is in the catalogue."""
    for key in ("steering_office", "commune_guide"):
        if own_units and catalogue.find_unit(getattr(roles, key)) is None:
            raise CatalogueError(REPORT_FILE, f"roles, {key}", f'không có đơn vị mã "{getattr(roles, key)}" trong units.csv')
    known = {s.code for s in catalogue.sub_projects}
    for code in roles.commune_guide_sub_projects:
        if code not in known:
            raise CatalogueError(REPORT_FILE, "roles, commune_guide_sub_projects",
                                 f'không có dự án, tiểu dự án mã "{code}" (có: {", ".join(sorted(known))})')
    return roles.model_dump()


def _block(catalogue: Catalogue, data: BlockEntry, number: int) -> ReportBlock:
    entry = f"khối {number}"
    if data.heading is not None:
        return ReportBlock("heading", _text(catalogue, data.heading, COMMON, entry), level=data.level)
    if data.write is not None:
        return ReportBlock("write", _text(catalogue, data.write, COMMON, entry), words_2023=data.words_2023)
    text = required(data.text, "text", REPORT_FILE, entry)
    kind = data.list_
    if kind is None:
        allowed = (*COMMON, *TARGET_FIELDS)
        if data.if_zero is None:
            return ReportBlock("text", _text(catalogue, text, allowed, entry, figures=True))
        figure = FIGURE.match(data.if_zero)
        if not figure and data.if_zero not in COUNTS:
            raise CatalogueError(REPORT_FILE, entry, f'if_zero "{data.if_zero}" cần dạng Biểu/dòng/cột hoặc một số đếm '
                                                     f'({", ".join(COUNTS)})')
        if figure:
            _check_figure(catalogue, *figure.groups(), entry)
        return ReportBlock("text", _text(catalogue, text, allowed, entry, figures=True), if_zero=data.if_zero,
                           zero=_text(catalogue, required(data.zero, "zero", REPORT_FILE, entry), allowed, entry,
                                      figures=True))
    sentence, item = LISTS[kind]
    bieu, where = "", ""
    if kind == "agencies":
        return ReportBlock("list", _text(catalogue, text, sentence, entry), list=kind,
                           item=_text(catalogue, required(data.item, "item", REPORT_FILE, entry), item, entry),
                           item_zero=_text(catalogue, data.item_zero or data.item, item, entry),
                           separator=data.separator, none=_text(catalogue, data.none, COMMON, entry), pick=data.pick)
    if kind in ("implementers", "worse"):
        return ReportBlock("list", _text(catalogue, text, sentence, entry), list=kind,
                           item=_text(catalogue, required(data.item, "item", REPORT_FILE, entry), item, entry),
                           separator=data.separator, none=_text(catalogue, data.none, COMMON, entry))
    if kind == "units":
        bieu = required(data.bieu, "bieu", REPORT_FILE, entry)
        where = required(data.where, "where", REPORT_FILE, entry)
        if not any(t.rows == "units" and where in _keys(t) for t in _bieu(catalogue, bieu, entry).tables):
            raise CatalogueError(REPORT_FILE, entry, f'Biểu {bieu} không có bảng theo đơn vị với cột "{where}"')
    if kind == "sub_projects":
        bieu = required(data.bieu, "bieu", REPORT_FILE, entry)
        where = required(data.where, "where", REPORT_FILE, entry)
        programme = [t for t in _bieu(catalogue, bieu, entry).tables if t.rows == "programme"]
        if not any(where in _keys(t) for t in programme):
            raise CatalogueError(REPORT_FILE, entry, f'Biểu {bieu} không có bảng theo chương trình với cột "{where}"')
    return ReportBlock("list", _text(catalogue, text, sentence, entry, figures=True), list=kind, bieu=bieu, where=where,
                       item=_text(catalogue, required(data.item, "item", REPORT_FILE, entry), item, entry),
                       item_zero=_text(catalogue, data.item_zero or data.item, item, entry),
                       separator=data.separator, none=_text(catalogue, data.none, COMMON, entry), pick=data.pick)


def _text(catalogue: Catalogue, text: str, allowed: tuple[str, ...], entry: str, figures: bool = False) -> str:
    """The text, once each placeholder in it is known to be fillable."""
    if PLACEHOLDER.sub("", text).count("{") or PLACEHOLDER.sub("", text).count("}"):
        raise CatalogueError(REPORT_FILE, entry, f'dấu ngoặc {{ }} trong "{text}" không đúng')
    for match in PLACEHOLDER.finditer(text):
        name, spec = match.groups()
        figure, share = FIGURE.match(name), SHARE.match(name)
        if share and figures:
            for part in share.groups():
                _check_figure(catalogue, *FIGURE.match(part).groups(), entry)
        elif figure and figures:
            _check_figure(catalogue, *figure.groups(), entry)
        elif name not in allowed:
            known = ", ".join("{" + a + "}" for a in allowed) or "không có"
            raise CatalogueError(REPORT_FILE, entry, f'chỗ điền {{{name}}} không có (dùng được: {known}'
                                                     f'{FIGURE_HELP if figures else ""})')
        if spec is not None:
            if name not in TARGET_COUNTS:
                raise CatalogueError(REPORT_FILE, entry, f'chỉ các số đếm ({", ".join(TARGET_COUNTS)}) nhận định dạng')
            try:
                format(0, spec)
            except ValueError:
                raise CatalogueError(REPORT_FILE, entry, f'định dạng "{spec}" của {{{name}}} không đúng') from None
    return text


def _bieu(catalogue: Catalogue, code: str, entry: str) -> Bieu:
    if code not in catalogue.bieu:
        raise CatalogueError(REPORT_FILE, entry, f'không có Biểu "{code}" (có: {", ".join(catalogue.bieu)})')
    return catalogue.bieu[code]


def _keys(table: LayoutTable) -> set[str]:
    assessed = table.rows == "targets" and any(c.show == "assessment" for c in table.columns)
    return {c.key for c in table.columns if not c.show or c.show == "assessment"} | (
        {VERDICT_COLUMN, CHANGE_COLUMN} if assessed else set())


def _check_figure(catalogue: Catalogue, code: str, row: str, column: str, entry: str) -> None:
    """A figure {Biểu/row/column}: some table of the Biểu has that column and that row."""
    tables = [t for t in _bieu(catalogue, code, entry).tables if column in _keys(t)]
    if not tables:
        keys = sorted({k for t in catalogue.bieu[code].tables for k in _keys(t)})
        raise CatalogueError(REPORT_FILE, entry, f'Biểu {code} không có cột "{column}" (có: {", ".join(keys)})')
    if not any(_has_row(catalogue, t, row) for t in tables):
        raise CatalogueError(REPORT_FILE, entry, f'Biểu {code} không có dòng "{row}" với cột "{column}" (dòng: mã chỉ '
                                                 f"tiêu, mã dự án/tiểu dự án, mã đơn vị hoặc {TOTAL_ROW})")


def _has_row(catalogue: Catalogue, table: LayoutTable, row: str) -> bool:
    if table.rows == "targets":
        return any(t.code == row for t in catalogue.targets)
    if row == TOTAL_ROW:
        return True
    if table.rows == "programme":
        return any(p.code == row for p in catalogue.projects) or any(s.code == row for s in catalogue.sub_projects)
    return catalogue.find_unit(row) is not None
