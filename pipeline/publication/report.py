"""The evaluation report's draft as text: the catalogue's wording (``report.toml``) filled in
from the published Biểu. Every figure is read from the Biểu tables the table builder made
(``build_reports``), printed with the same rounding (``describe``) and verdicts, so the draft
and its appendix can never disagree; who signs and the report's number and date come from the
plan workbook (``plan_info``), else dotted lines. Writing the .docx is ``report_docx``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from pipeline.catalogue import TOTAL_ROW, Catalogue, ReportBlock
from pipeline.catalogue.report_text import FIGURE, PLACEHOLDER, TARGET_COUNTS, VERDICT_COLUMN
from pipeline.text import name_list
from pipeline.publication.signing import day_and_month, signing_for
from pipeline.publication.tables import EXCEEDED, MET, NOT_ASSESSED, Report, Row, Table, describe
from pipeline.publication.workbooks import INCOMPLETE
from pipeline.catalogue.contract import PLAN_COLUMN

HEADING, TEXT, WRITE = "heading", "text", "write"  # kinds of paragraph


def report_name(period: str) -> str:
    return f"Bao_cao_danh_gia_{period}.docx"


@dataclass
class Paragraph:
    kind: str  # HEADING, TEXT (written from the data) or WRITE (a placeholder for the officer)
    text: str
    level: int = 0  # headings: 1–3


@dataclass
class Draft:
    """Everything the document shows, as text."""

    period: str
    date: dt.date  # of the document's properties: the report's date, else the period's report date
    authority: str
    number_line: str
    date_line: str
    title: str
    subtitle: str
    note: str  # "DỰ THẢO – …"
    warning: str  # "SỐ LIỆU CHƯA ĐẦY ĐỦ: …", or "" when every unit's figures are in
    paragraphs: list[Paragraph]
    closing: str
    recipients_title: str
    recipients: tuple[str, ...]
    signature: tuple[str, ...]  # TM. …, KT. …, title (the lines above the signature)
    signer: str  # the name, or dots


class _Fill:
    """Fills one text's placeholders: named values, figures of the Biểu, verdicts."""

    def __init__(self, catalogue: Catalogue, reports: dict[str, Report], values: dict[str, object]):
        self.catalogue, self.reports, self.values = catalogue, reports, values
        self.texts = catalogue.report.texts
        self.used: set[str] = set()  # the Biểu whose figures were filled in

    def __call__(self, template: str, **extra) -> str:
        values = {**self.values, **extra}

        def one(match) -> str:
            name, spec = match.groups()
            figure = FIGURE.match(name)
            if figure:
                return self.figure(*figure.groups())
            value = values[name]
            return format(value, spec) if spec else str(value)

        return PLACEHOLDER.sub(one, template)

    def figure(self, code: str, row_code: str, key: str) -> str:
        self.used.add(code)
        table, row = _find(self.reports[code], row_code, key)
        if key == VERDICT_COLUMN:
            return self.verdict(code, table, row)
        return self._shown(row.values.get(key), _kind(table, row, key))

    def verdict(self, code: str, table: Table, row: Row) -> str:
        word = row.values[_assessment_key(table)]
        plan_key = next((c.key for c in self.catalogue.bieu[code].tables[self.reports[code].tables.index(table)].columns
                         if c.plan == PLAN_COLUMN), None)
        plan = row.values.get(plan_key) if plan_key else None
        target = next(t for t in self.catalogue.targets if t.code == row.code)
        return self(self.catalogue.report.verdicts[word], plan=self._shown(plan, row.kind),
                    unit=self.catalogue.report.units[target.unit])

    def _shown(self, value: object, kind: str) -> str:
        return self.texts["missing"] if value is None else describe(Decimal(value), kind)


def _find(report: Report, row_code: str, key: str) -> tuple[Table, Row]:
    """The first table of the Biểu with that row and column (the loader checked there is one;
    a unit without a row this period has no figure: an empty row stands in)."""
    wanted = _assessment_key if key == VERDICT_COLUMN else None
    for table in report.tables:
        keys = {c.key for c in table.columns}
        if (wanted(table) if wanted else key in keys):
            row = next((r for r in table.rows if r.code == row_code), None)
            if row is not None:
                return table, row
    return report.tables[0], Row("", {})


def _assessment_key(table: Table) -> str | None:
    return next((c.key for c in table.columns if c.show == "assessment"), None)


def _kind(table: Table, row: Row, key: str) -> str:
    column = next(c for c in table.columns if c.key == key)
    return row.kind if column.kind == "row" else column.kind


def _target_counts(reports: list[Report]) -> dict[str, object]:
    """How many targets are met or exceeded, of how many, and which are not assessed, from the
    assessment column of the Biểu of targets (Biểu 01)."""
    for report in reports:
        for table in report.tables:
            key = _assessment_key(table)
            if key:
                verdicts = [(row.label, row.values[key]) for row in table.rows]
                not_assessed = [label for label, v in verdicts if v == NOT_ASSESSED]
                return {"targets_met": sum(v in (MET, EXCEEDED) for _, v in verdicts), "targets": len(verdicts),
                        "targets_not_assessed": len(not_assessed),
                        "targets_not_assessed_names": ", ".join(label[:1].lower() + label[1:] for label in not_assessed)}
    return dict.fromkeys(TARGET_COUNTS, 0) | {"targets_not_assessed_names": ""}


def compose(catalogue: Catalogue, reports: list[Report], info: dict[str, str]) -> Draft:
    """The draft of one period's report from its Biểu and the plan workbook's Thông tin fields."""
    wording = catalogue.report
    texts = wording.texts
    period = catalogue.periods[reports[0].period]
    dots = texts["dots"]
    signing = signing_for(catalogue, period.key, info)
    year = signing.shown_date.year
    common = {"year": year, "previous_year": year - 1, "place": catalogue.district["place"],
              "period_label": period.label}
    fill = _Fill(catalogue, {r.code: r for r in reports}, {**common, **_target_counts(reports)})
    day, month = day_and_month(signing.date) if signing.date else (dots, dots)
    paragraphs = [p for block in wording.blocks for p in _paragraphs(fill, block, reports, catalogue)]
    missing = [u for code in sorted(fill.used) for u in fill.reports[code].missing]
    missing = list({u.code: u for u in missing}.values())
    warning = fill(texts["incomplete_warning"], warning=INCOMPLETE, units=name_list([u.name for u in missing])) \
        if missing else ""
    signature = (texts["on_behalf"], *([signing.deputy] if signing.deputy else []), signing.title or dots)
    return Draft(
        period=period.key, date=signing.shown_date, authority=str(catalogue.district["authority"]),
        number_line=fill(texts["number_line"], number=signing.report_number or dots),
        date_line=fill(texts["date_line"], day=day, month=month),
        title=fill(texts["title"]), subtitle=fill(texts["subtitle"]), note=texts["draft_note"], warning=warning,
        paragraphs=paragraphs, closing=fill(texts["closing"]), recipients_title=texts["recipients_title"],
        recipients=wording.recipients, signature=signature, signer=signing.signer or dots,
    )


def _paragraphs(fill: _Fill, block: ReportBlock, reports: list[Report], catalogue: Catalogue) -> list[Paragraph]:
    if block.kind == HEADING:
        return [Paragraph(HEADING, fill(block.text), block.level)]
    if block.kind == WRITE:
        return [Paragraph(WRITE, fill(fill.texts["placeholder"], text=fill(block.text)))]
    before = set(fill.used)
    if block.kind == TEXT:
        text = fill(block.text)
    elif block.list == "bieu":
        text = fill(block.text, items=block.separator.join(fill(block.item, code=r.code) for r in reports))
    else:
        text = _sub_projects(fill, block, catalogue)
    used = fill.used - before if block.kind == TEXT else fill.used & {block.bieu}
    missing = [u.name for code in sorted(used) for u in fill.reports[code].missing]
    if missing:
        text += fill(fill.texts["incomplete_sentence"], units=name_list(list(dict.fromkeys(missing))))
    return [Paragraph(TEXT, text)]


def _sub_projects(fill: _Fill, block: ReportBlock, catalogue: Catalogue) -> str:
    """The sentence over the sub-projects whose figure ``where`` in Biểu ``bieu`` is above 0."""
    fill.used.add(block.bieu)
    report = fill.reports[block.bieu]
    table = next(t for t in report.tables if block.where in {c.key for c in t.columns} and
                 any(r.code == TOTAL_ROW for r in t.rows))
    rows = {r.code: r for r in table.rows}
    chosen = [(s, p) for p in catalogue.projects for s in p.sub_projects
              if s.code in rows and (rows[s.code].values.get(block.where) or 0) > 0]
    if not chosen:
        return fill(block.none)
    items = [fill(block.item, label=rows[s.code].label, code=s.code, project=p.name.split(":")[0]) for s, p in chosen]
    return fill(block.text, items=block.separator.join(items), count=len(chosen),
                projects=len({p.code for _, p in chosen}))
