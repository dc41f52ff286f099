"""Loads the wording of the evaluation report's draft (``report.toml``) and checks it against
the published Biểu: every placeholder is one the draft can fill, every figure
``{Biểu/row/column}`` names a Biểu, a row and a column that exist, the verdict words are
those of Biểu 01. Each problem is a CatalogueError naming the file and the entry."""

from __future__ import annotations

import re
from pathlib import Path

from pipeline.catalogue.sources import read_toml, require
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
VERDICT_COLUMN = "verdict"  # on target rows: the assessment in words ([verdicts])
LIST_KINDS = ("bieu", "sub_projects")

COMMON = ("year", "previous_year", "place", "period_label")
TARGET_COUNTS = ("targets_met", "targets", "targets_not_assessed")  # numbers: may take a format ("02d")
TARGET_FIELDS = (*TARGET_COUNTS, "targets_not_assessed_names")
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
}
LISTS = {  # list kind: (placeholders of its sentence, placeholders of one item)
    "bieu": ((*COMMON, "items"), ("code",)),
    "sub_projects": ((*COMMON, "items", "count", "projects"), ("label", "code", "project")),
}
BLOCK_KEYS = {"heading", "level", "text", "write", "list", "bieu", "where", "item", "separator", "none"}


def load_report_text(directory: Path, catalogue: Catalogue) -> ReportText:
    """The wording of the draft, checked against the catalogue's Biểu."""
    data = read_toml(directory / REPORT_FILE, directory)
    unknown = sorted(set(data) - {*TEXTS, "recipients", "verdicts", "units", "blocks"})
    if unknown:
        raise CatalogueError(REPORT_FILE, unknown[0], "trường lạ")
    texts = {}
    for key, allowed in TEXTS.items():
        texts[key] = _text(catalogue, str(require(data, key, REPORT_FILE, key)), allowed, key)
    verdicts = data.get("verdicts", {})
    if not isinstance(verdicts, dict) or set(verdicts) != set(VERDICTS):
        raise CatalogueError(REPORT_FILE, "verdicts", f"cần đúng các đánh giá {', '.join(VERDICTS)}")
    for word, text in verdicts.items():
        _text(catalogue, str(text), (*COMMON, "plan", "unit"), f"verdicts, {word}")
    units = data.get("units", {})
    if not isinstance(units, dict):
        raise CatalogueError(REPORT_FILE, "units", 'ghi dạng [units] "%" = "%"')
    missing_units = sorted({t.unit for t in catalogue.targets} - set(units))
    if missing_units:
        raise CatalogueError(REPORT_FILE, "units", f'chưa ghi cách viết đơn vị "{missing_units[0]}" của chỉ tiêu')
    blocks = data.get("blocks", [])
    if not isinstance(blocks, list) or not blocks or not all(isinstance(b, dict) for b in blocks):
        raise CatalogueError(REPORT_FILE, "blocks", "cần danh sách các khối [[blocks]]")
    return ReportText(texts, tuple(str(r) for r in data.get("recipients", ())), {k: str(v) for k, v in verdicts.items()},
                      {k: str(v) for k, v in units.items()},
                      tuple(_block(catalogue, b, n) for n, b in enumerate(blocks, start=1)))


def _block(catalogue: Catalogue, data: dict, number: int) -> ReportBlock:
    entry = f"khối {number}"
    unknown = sorted(set(data) - BLOCK_KEYS)
    if unknown:
        raise CatalogueError(REPORT_FILE, entry, f'trường lạ "{unknown[0]}"')
    if "heading" in data:
        level = data.get("level", 1)
        if level not in (1, 2, 3):
            raise CatalogueError(REPORT_FILE, entry, '"level" của tiêu đề phải là 1, 2 hoặc 3')
        return ReportBlock("heading", _text(catalogue, str(data["heading"]), COMMON, entry), level=level)
    if "write" in data:
        return ReportBlock("write", _text(catalogue, str(data["write"]), COMMON, entry))
    text = str(require(data, "text", REPORT_FILE, entry))
    if "list" not in data:
        return ReportBlock("text", _text(catalogue, text, (*COMMON, *TARGET_FIELDS), entry, figures=True))
    kind = data["list"]
    if kind not in LIST_KINDS:
        raise CatalogueError(REPORT_FILE, entry, f'"list" phải là một trong {LIST_KINDS}')
    sentence, item = LISTS[kind]
    bieu, where = "", ""
    if kind == "sub_projects":
        bieu = str(require(data, "bieu", REPORT_FILE, entry))
        where = str(require(data, "where", REPORT_FILE, entry))
        programme = [t for t in _bieu(catalogue, bieu, entry).tables if t.rows == "programme"]
        if not any(where in _keys(t) for t in programme):
            raise CatalogueError(REPORT_FILE, entry, f'Biểu {bieu} không có bảng theo chương trình với cột "{where}"')
    return ReportBlock("list", _text(catalogue, text, sentence, entry), list=kind, bieu=bieu, where=where,
                       item=_text(catalogue, str(require(data, "item", REPORT_FILE, entry)), item, entry),
                       separator=str(data.get("separator", ", ")),
                       none=_text(catalogue, str(data.get("none", "")), COMMON, entry))


def _text(catalogue: Catalogue, text: str, allowed: tuple[str, ...], entry: str, figures: bool = False) -> str:
    """The text, once each placeholder in it is known to be fillable."""
    if PLACEHOLDER.sub("", text).count("{") or PLACEHOLDER.sub("", text).count("}"):
        raise CatalogueError(REPORT_FILE, entry, f'dấu ngoặc {{ }} trong "{text}" không đúng')
    for match in PLACEHOLDER.finditer(text):
        name, spec = match.groups()
        figure = FIGURE.match(name)
        if figure and figures:
            _check_figure(catalogue, *figure.groups(), entry)
        elif name not in allowed:
            known = ", ".join("{" + a + "}" for a in allowed) or "không có"
            raise CatalogueError(REPORT_FILE, entry, f'chỗ điền {{{name}}} không có (dùng được: {known}'
                                                     f'{", {Biểu/dòng/cột}" if figures else ""})')
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
    return {c.key for c in table.columns if not c.show or c.show == "assessment"} | (
        {VERDICT_COLUMN} if table.rows == "targets" and any(c.show == "assessment" for c in table.columns) else set())


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
