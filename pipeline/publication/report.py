"""The evaluation report's draft as text: the catalogue's wording (``report.toml``) filled in
from the published Biểu. Every figure is read from the Biểu tables the table builder made
(``build_reports``), rounded as the Biểu round it (rates always with one decimal, so figures
side by side read alike) and verdicts, so the draft and its appendix can never disagree; each
figure keeps where it came from (Biểu, table, row, column), which the .docx shows as a comment.
The district's standing roles (``[roles]`` of report.toml: who coordinates, who guides the
communes) and what the period's submissions say (who reported, whose figures came after the
deadline) fill the sentences on how the Programme is run.
Who signs and the report's number come from the plan workbook (``plan_info``), else dotted
lines; its date is the plan's, else the period's report date, the one the Biểu print. Writing
the .docx is ``report_docx``."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal

from pipeline.catalogue import TOTAL_ROW, Catalogue, ReportBlock
from pipeline.catalogue.report_text import (
    CHANGE_COLUMN,
    COUNTS,
    FIGURE,
    PLACEHOLDER,
    SHARE,
    TARGET_COUNTS,
    VERDICT_COLUMN,
)
from pipeline.settings import moment_of, shown_day
from pipeline.text import name_list, show_number
from pipeline.publication.signing import day_and_month, signing_for
from pipeline.publication.tables import (
    EXCEEDED,
    MET,
    NOT_ASSESSED,
    NOT_MET,
    Report,
    Row,
    Table,
    describe,
    round_half_up,
)
from pipeline.publication.workbooks import INCOMPLETE
from pipeline.catalogue.contract import PLAN_COLUMN

HEADING, TEXT, WRITE = "heading", "text", "write"  # kinds of paragraph
FUNDS, DISBURSED, RATE = "TONG", "GN", "TL"  # columns of a sub-project Biểu (bieu/sub_project.toml)
AGENCY = "co_quan_huyen"  # the kind of unit of a district agency
CHANGE_PLACES = 2  # a change of a rate from the year before: "giảm 8,52%", as the 2023 report writes it
CHANGE_SOURCE = "Thực hiện năm trước, Thực hiện năm"  # the columns of Biểu 01 a change comes from
FUNDED_COMMUNES = "số xã, thị trấn có vốn (cột “Tổng vốn” lớn hơn 0)"  # the source of a count of communes
SUBMITTED = "Nguồn số liệu của các Biểu: số đơn vị có báo cáo hợp lệ được dùng"  # sources of the counts of units
EXPECTED = "Nguồn số liệu của các Biểu: số đơn vị phải báo cáo trong kỳ"
# A figure in a filled text: OPEN number SEP text CLOSE; the paragraph keeps the span and its source.
OPEN, SEP, CLOSE = "\ue000", "\ue001", "\ue002"
MARKED = re.compile(f"{OPEN}([0-9]+){SEP}([^{CLOSE}]*){CLOSE}")
END = re.compile(r"([.:;])$")  # a sentence's closing mark: a remark goes before it
SUBSET = re.compile(r"^Trong đó:\s*(.+)$")  # a target that is part of the one before


def report_name(period: str) -> str:
    return f"Bao_cao_danh_gia_{period}.docx"


@dataclass
class Paragraph:
    kind: str  # HEADING, TEXT (written from the data) or WRITE (a placeholder for the officer)
    text: str
    level: int = 0  # headings: 1–3
    figures: tuple[tuple[int, int, str], ...] = ()  # (start, end, source) of each figure in text
    words_2023: int = 0  # WRITE: how many words the 2023 report wrote there


@dataclass
class Draft:
    """Everything the document shows, as text."""

    period: str
    date: dt.date  # of the document's properties and its date line: the report's date, else the period's
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

    def words(self, kind: str) -> int:
        """Words in the paragraphs of one kind (the placeholders: words the 2023 report wrote there)."""
        if kind == WRITE:
            return sum(p.words_2023 for p in self.paragraphs if p.kind == WRITE)
        return sum(len(p.text.split()) for p in self.paragraphs if p.kind == kind)


class _Fill:
    """Fills one text's placeholders: named values, figures of the Biểu, shares, verdicts,
    changes; each figure marked with its source (``sources``) until the paragraph is made."""

    def __init__(self, catalogue: Catalogue, reports: dict[str, Report], values: dict[str, object]):
        self.catalogue, self.reports, self.values = catalogue, reports, values
        self.texts = catalogue.report.texts
        self.used: set[str] = set()  # the Biểu whose figures were filled in
        self.sources: list[str] = []

    def __call__(self, template: str, **extra) -> str:
        values = {**self.values, **extra}

        def one(match) -> str:
            name, spec = match.groups()
            share, figure = SHARE.match(name), FIGURE.match(name)
            if share:
                return self.share(*share.groups())
            if figure:
                return self.figure(*figure.groups())
            value = values[name]
            return format(value, spec) if spec else str(value)

        return PLACEHOLDER.sub(one, template)

    def mark(self, text: str, source: str) -> str:
        self.sources.append(source)
        return f"{OPEN}{len(self.sources) - 1}{SEP}{text}{CLOSE}"

    def value(self, name: str) -> Decimal | None:
        """The value of a figure "Biểu/row/column"."""
        code, row_code, key = FIGURE.match(name).groups()
        self.used.add(code)
        _, row = _find(self.reports[code], row_code, key)
        value = row.values.get(key)
        return None if value is None else Decimal(value)

    def figure(self, code: str, row_code: str, key: str) -> str:
        self.used.add(code)
        table, row = _find(self.reports[code], row_code, key)
        if key == VERDICT_COLUMN:
            return self.mark(self.verdict(code, table, row), self.source(code, table, row, "Đánh giá"))
        if key == CHANGE_COLUMN:
            return self.change(code, table, row)
        return self.mark(self.shown(row.values.get(key), _kind(table, row, key)),
                         self.source(code, table, row, _column_name(table, key)))

    def share(self, part: str, whole: str) -> str:
        """100 × one figure / another, as a rate."""
        a, b = self.value(part), self.value(whole)
        value = None if a is None or not b else 100 * a / b
        return self.mark(self.shown(value, "rate"), f"{self._named(part)} ÷ {self._named(whole)} × 100")

    def _named(self, name: str) -> str:
        code, row_code, key = FIGURE.match(name).groups()
        table, row = _find(self.reports[code], row_code, key)
        return self.source(code, table, row, _column_name(table, key))

    def verdict(self, code: str, table: Table, row: Row) -> str:
        word = row.values[_assessment_key(table)]
        plan = row.values.get(_plan_key(self.catalogue, self.reports[code], table))
        target = next(t for t in self.catalogue.targets if t.code == row.code)
        return self(self.catalogue.report.verdicts[word], plan=self.shown(plan, row.kind),
                    unit=self.catalogue.report.units[target.unit])

    def change(self, code: str, table: Table, row: Row) -> str:
        """"(giảm 8,52% so với năm 2021)" from the year before's value and this year's, or ""."""
        difference = _difference(row)
        if difference is None:
            return ""
        name = "change_same" if not difference else ("change_down" if difference < 0 else "change_up")
        text = self(self.texts[name], change=show_number(abs(difference), _change_places(row)))
        return self.mark(text, self.source(code, table, row, CHANGE_SOURCE))

    def shown(self, value: object, kind: str) -> str:
        if value is None:
            return self.texts["missing"]
        if kind == "rate":  # one decimal always: "13,0" beside "18,1"
            return show_number(round_half_up(Decimal(value), 1), 1)
        return describe(Decimal(value), kind)

    @staticmethod
    def source(code: str, table: Table, row: Row, column: str) -> str:
        return f"Biểu {code}, {table.sheet}: dòng “{row.label}”, cột “{column}”"

    def paragraph(self, kind: str, text: str, **more) -> Paragraph:
        """A paragraph of the filled text: the marks taken out, the figures' spans kept."""
        figures, parts, at = [], [], 0
        for match in MARKED.finditer(text):
            parts.append(text[at:match.start()])
            start = sum(map(len, parts))
            parts.append(match.group(2))
            figures.append((start, start + len(match.group(2)), self.sources[int(match.group(1))]))
            at = match.end()
        parts.append(text[at:])
        return Paragraph(kind, "".join(parts), figures=tuple(figures), **more)


def _change_places(row: Row) -> int:
    return CHANGE_PLACES if row.kind == "rate" else 0


def _difference(row: Row) -> Decimal | None:
    """This year's value less the year before's, rounded as the draft writes it; None without both."""
    before, now = row.values.get("last_year"), row.values.get("actual")
    if before is None or now is None:
        return None
    return round_half_up(Decimal(now) - Decimal(before), _change_places(row))


def plain(text: str) -> str:
    """A filled text without its figures' marks (headings and the fixed texts, which carry no comments)."""
    return MARKED.sub(lambda m: m.group(2), text)


def _find(report: Report, row_code: str, key: str) -> tuple[Table, Row]:
    """The first table of the Biểu with that row and column (the loader checked there is one;
    a unit without a row this period has no figure: an empty row stands in)."""
    wanted = _assessment_key if key in (VERDICT_COLUMN, CHANGE_COLUMN) else None
    for table in report.tables:
        keys = {c.key for c in table.columns}
        if (wanted(table) if wanted else key in keys):
            row = next((r for r in table.rows if r.code == row_code), None)
            if row is not None:
                return table, row
    return report.tables[0], Row("", {})


def _assessment_key(table: Table) -> str | None:
    return next((c.key for c in table.columns if c.show == "assessment"), None)


def _plan_key(catalogue: Catalogue, report: Report, table: Table) -> str | None:
    layout = catalogue.bieu[report.code].tables[report.tables.index(table)]
    return next((c.key for c in layout.columns if c.plan == PLAN_COLUMN), None)


def _column_name(table: Table, key: str) -> str:
    """A column as its header reads: "Tổng số vốn – Tổng số" (the group above, then its label)."""
    column = next((c for c in table.columns if c.key == key), None)
    if column is None:
        return key
    return f"{column.group} – {column.label}" if column.group and column.group != column.label else column.label


def _kind(table: Table, row: Row, key: str) -> str:
    column = next(c for c in table.columns if c.key == key)
    return row.kind if column.kind == "row" else column.kind


def _lower_first(label: str) -> str:
    return label[:1].lower() + label[1:]


def _standalone(labels: list[str]) -> list[str]:
    """Target labels that read alone: "Trong đó: có bằng cấp, chứng chỉ" after "Tỷ lệ … qua đào
    tạo" becomes "Tỷ lệ … qua đào tạo có bằng cấp, chứng chỉ"."""
    named = []
    for label in labels:
        part = SUBSET.match(label)
        named.append(f"{named[-1]} {part.group(1)}" if part and named else label)
    return named


def _target_counts(reports: list[Report]) -> dict[str, object]:
    """How many targets are met or exceeded, of how many, which are not assessed and which
    are not met, from the assessment column of the Biểu of targets (Biểu 01)."""
    for report in reports:
        for table in report.tables:
            key = _assessment_key(table)
            if key:
                verdicts = list(zip(_standalone([row.label for row in table.rows]),
                                    (row.values[key] for row in table.rows)))
                not_assessed = [label for label, v in verdicts if v == NOT_ASSESSED]
                return {"targets_met": sum(v in (MET, EXCEEDED) for _, v in verdicts), "targets": len(verdicts),
                        "targets_not_assessed": len(not_assessed),
                        "targets_not_met": sum(v == NOT_MET for _, v in verdicts),
                        "targets_not_assessed_names": ", ".join(map(_lower_first, not_assessed)),
                        "targets_not_met_names": "; ".join(_lower_first(label) for label, v in verdicts
                                                           if v == NOT_MET)}
    return dict.fromkeys(TARGET_COUNTS, 0) | {"targets_not_assessed_names": "", "targets_not_met_names": ""}


def compose(catalogue: Catalogue, reports: list[Report], info: dict[str, str]) -> Draft:
    """The draft of one period's report from its Biểu and the plan workbook's Thông tin fields."""
    wording = catalogue.report
    texts = wording.texts
    period = catalogue.periods[reports[0].period]
    dots = texts["dots"]
    signing = signing_for(catalogue, period.key, info)
    year = signing.shown_date.year
    district = _district(catalogue, period.key)
    common = {"year": year, "previous_year": year - 1, "review_year": year - 1, "previous_review_year": year - 2,
              "place": district["place"], "period_label": period.label}
    fill = _Fill(catalogue, {r.code: r for r in reports}, {**common, **_target_counts(reports)})
    fill.values.update(_roles(fill, catalogue, district, period.key), **_submissions(fill, reports, period.deadline))
    day, month = day_and_month(signing.shown_date)  # the date the Biểu print when the plan gives none
    paragraphs = [p for block in wording.blocks for p in _paragraphs(fill, block, reports, catalogue)]
    missing = [u for code in sorted(fill.used) for u in fill.reports[code].missing]
    missing = list({u.code: u for u in missing}.values())
    warning = fill(texts["incomplete_warning"], warning=INCOMPLETE, units=name_list([u.name for u in missing])) \
        if missing else ""
    signature = (texts["on_behalf"], *([signing.deputy] if signing.deputy else []), signing.title or dots)
    return Draft(
        period=period.key, date=signing.shown_date, authority=district["authority"],
        number_line=fill(texts["number_line"], number=signing.report_number or dots),
        date_line=fill(texts["date_line"], day=day, month=month),
        title=plain(fill(texts["title"])), subtitle=plain(fill(texts["subtitle"])), note=texts["draft_note"],
        warning=warning, paragraphs=paragraphs, closing=plain(fill(texts["closing"])), recipients_title=texts["recipients_title"],
        recipients=wording.recipients, signature=signature, signer=signing.signer or dots,
    )


def _district(catalogue: Catalogue, period: str) -> dict[str, str]:
    """What the draft reads of the reporting body of the period (the one place it reads
    ``catalogue.body``): who reports, where, and the Programme's standing office."""
    body = catalogue.body(period)
    keys = ("authority", "authority_in_text", "place", "standing_office")
    return {key: str(getattr(body, key)) for key in keys}


def _short(sub, project) -> str:
    """"Tiểu dự án 1 của Dự án 4", or "Dự án 2" for a project that is its own sub-project."""
    name = project.name.split(":")[0]
    return name if sub.code == project.code else f"{sub.name.split(':')[0]} của {name}"


def _and(names: list[str]) -> str:
    """"A, B và C"."""
    return " và ".join([", ".join(names[:-1]), names[-1]]) if len(names) > 1 else "".join(names)


def _funded(report: Report) -> dict[str, Row]:
    """The rows of a sub-project's Biểu with funds (its units), by unit code."""
    return {row.code: row for table in report.tables if FUNDS in {c.key for c in table.columns}
            for row in table.rows if row.code != TOTAL_ROW and (row.values.get(FUNDS) or 0) > 0}


def _unit_name(catalogue: Catalogue, code: str) -> str:
    """A role's unit by name; by its code where the unit list in use does not hold it."""
    unit = catalogue.find_unit(code)
    return unit.name if unit else code


def _roles(fill: _Fill, catalogue: Catalogue, district: dict[str, str], period: str) -> dict[str, object]:
    """The district's standing roles ([roles] of report.toml) as the sentences name them, and on
    how many communes the guided sub-projects ran (their Biểu's commune rows with funds)."""
    roles = catalogue.report.roles
    guided = [(s, p) for p in catalogue.projects for s in p.sub_projects if s.code in roles["commune_guide_sub_projects"]]
    communes = [u for u in catalogue.units_in(period) if u.is_commune]
    reached = {code for s, _ in guided if s.form in fill.reports for code in _funded(fill.reports[s.form])}
    forms = ", ".join(f"Biểu {s.form}" for s, _ in guided)
    return {**district, "steering_office": _unit_name(catalogue, roles["steering_office"]),
            "guide_office": _unit_name(catalogue, roles["commune_guide"]),
            "guide_sub_projects": _and([_short(s, p) for s, p in guided]),
            "commune_officer": roles["commune_officer"], "communes": len(communes),
            "guide_communes": fill.mark(show_number(sum(u.code in reached for u in communes)),
                                        f"{forms}: {FUNDED_COMMUNES}")}


def _submissions(fill: _Fill, reports: list[Report], deadline: dt.date) -> dict[str, object]:
    """How many of the expected units sent valid figures, and whose figures in use came after the
    deadline (sent late, or corrected after it); the count of late units stays a number (if_zero)."""
    sources = {s.unit.code: s for report in reports for s in report.sources}
    expected = {code for report in reports for code in report.expected}
    late = [s.unit.name for s in sources.values()
            if (moment_of(s.received_at) or dt.datetime.min).date() > deadline]
    return {"units_reported": fill.mark(show_number(len(sources)), SUBMITTED),
            "units_expected": fill.mark(show_number(len(expected)), EXPECTED),
            "units_late": len(late), "units_late_names": name_list(late), "deadline": shown_day(deadline)}


def _paragraphs(fill: _Fill, block: ReportBlock, reports: list[Report], catalogue: Catalogue) -> list[Paragraph]:
    """The block's paragraphs: one, or one per line of a list whose separator is a line break;
    none for an empty text (a list with nothing to say and no ``none`` sentence)."""
    paragraph = _paragraph(fill, block, reports, catalogue)
    if paragraph.kind != TEXT or "\n" not in paragraph.text:
        return [paragraph] if paragraph.text else []
    lines, at = [], 0
    for line in paragraph.text.split("\n"):
        figures = tuple((a - at, b - at, source) for a, b, source in paragraph.figures if at <= a < at + len(line))
        lines.append(Paragraph(TEXT, line, figures=figures))
        at += len(line) + 1
    return [line for line in lines if line.text]


def _paragraph(fill: _Fill, block: ReportBlock, reports: list[Report], catalogue: Catalogue) -> Paragraph:
    if block.kind == HEADING:
        return Paragraph(HEADING, plain(fill(block.text)), block.level)
    if block.kind == WRITE:
        return fill.paragraph(WRITE, fill(fill.texts["placeholder"], text=fill(block.text)),
                              words_2023=block.words_2023)
    before, fill.used = fill.used, set()  # the Biểu this block's figures come from
    if block.kind == TEXT:
        text = fill(block.zero if block.if_zero and _zero(fill, block.if_zero) else block.text)
    elif block.list == "bieu":
        text = fill(block.text, items=block.separator.join(fill(block.item, code=r.code) for r in reports))
    elif block.list == "agencies":
        text = _agencies(fill, block, catalogue)
    elif block.list == "implementers":
        text = _implementers(fill, block, catalogue)
    elif block.list == "worse":
        text = _worse(fill, block, catalogue)
    elif block.list == "units":
        text = _units(fill, block)
    else:
        text = _sub_projects(fill, block, catalogue)
    used, fill.used = fill.used, before | fill.used
    missing = [u.name for code in sorted(used) for u in fill.reports[code].missing]
    if missing and text:  # before the sentence's closing mark, not after it
        remark = fill(fill.texts["incomplete_sentence"], units=name_list(list(dict.fromkeys(missing))))
        end = END.search(text)
        text = text[:end.start()] + remark + end.group(1) if end else text + remark
    return fill.paragraph(TEXT, text)


def _zero(fill: _Fill, name: str) -> bool:
    """Whether a figure "Biểu/row/column" or a count (of targets, of late units) is 0."""
    return (fill.values[name] if name in COUNTS else fill.value(name)) == 0


def _sub_projects(fill: _Fill, block: ReportBlock, catalogue: Catalogue) -> str:
    """The sentence over the sub-projects whose figure ``where`` in Biểu ``bieu`` is above 0
    (pick "above") or is 0 while they have funds (pick "zero"); an item may give the row's
    funds, disbursed and rate ({total}, {disbursed}, {rate}), ``item_zero`` when it disbursed nothing,
    and its outputs ({outputs}: ``[outputs]`` of report.toml)."""
    fill.used.add(block.bieu)
    report = fill.reports[block.bieu]
    table = next(t for t in report.tables if block.where in {c.key for c in t.columns} and
                 any(r.code == TOTAL_ROW for r in t.rows))
    rows = {r.code: r for r in table.rows}
    keys = {c.key for c in table.columns}

    def chosen_row(row: Row) -> bool:
        value = row.values.get(block.where) or 0
        return value > 0 if block.pick == "above" else value == 0 and (row.values.get(FUNDS) or 0) > 0

    def item(code: str) -> str:
        return block.item_zero if not (rows[code].values.get(DISBURSED) or 0) > 0 else block.item

    def figures(code: str) -> dict[str, str]:
        named = {"total": FUNDS, "disbursed": DISBURSED, "rate": RATE}
        return {name: fill.figure(block.bieu, code, key) for name, key in named.items()
                if key in keys and "{" + name + "}" in item(code)}

    chosen = [(s, p) for p in catalogue.projects for s in p.sub_projects if s.code in rows and chosen_row(rows[s.code])]
    if not chosen:
        return fill(block.none)
    items = [fill(item(s.code), label=rows[s.code].label, code=s.code, short=_short(s, p), **_project(s, p),
                  **figures(s.code), outputs=fill(catalogue.report.outputs.get(s.code, ""))) for s, p in chosen]
    return fill(block.text, items=block.separator.join(items), count=len(chosen),
                projects=len({p.code for _, p in chosen}))


def _project(sub, project) -> dict[str, str]:
    """{project}: "Dự án 1"; {in_project}: " (Dự án 1)", or nothing for a project that is its own sub-project."""
    name = project.name.split(":")[0]
    return {"project": name, "in_project": "" if sub.code == project.code else f" ({name})"}


def _implementers(fill: _Fill, block: ReportBlock, catalogue: Catalogue) -> str:
    """The sentence over who carries out each sub-project with funds: the district agencies and
    the number of communes its Biểu gives funds to."""
    items = []
    for project, sub, report in _sub_project_reports(fill, catalogue):
        units = [u for u in map(catalogue.find_unit, _funded(report)) if u is not None]  # not a group's row
        agencies = [u.name for u in units if u.kind == AGENCY]
        communes = sum(u.is_commune for u in units)
        if communes:
            agencies.append(fill(fill.texts["communes_count"], count=fill.mark(
                show_number(communes), f"Biểu {sub.form}: {FUNDED_COMMUNES}")))
        if agencies:
            items.append(fill(block.item, label=_lower_first(sub.name), short=_short(sub, project),
                              units="; ".join(agencies)))
    return _listed(fill, block, items)


def _sub_project_reports(fill: _Fill, catalogue: Catalogue):
    """Each sub-project with its Biểu (project, sub-project, report), in programme order; the
    Biểu count as used."""
    for project in catalogue.projects:
        for sub in project.sub_projects:
            report = fill.reports.get(sub.form)
            if report is not None:
                fill.used.add(sub.form)
                yield project, sub, report


def _listed(fill: _Fill, block: ReportBlock, items: list[str]) -> str:
    """A block's sentence over its items, or its ``none`` text when there is none."""
    if not items:
        return fill(block.none)
    return fill(block.text, items=block.separator.join(items), count=len(items))


def _units(fill: _Fill, block: ReportBlock) -> str:
    """The sentence over the units of Biểu ``bieu`` by their column ``where``: the highest and
    the lowest, and those above the district's total (``items``, highest first)."""
    fill.used.add(block.bieu)
    report = fill.reports[block.bieu]
    table = next(t for t in report.tables if block.where in {c.key for c in t.columns} and
                 any(r.code == TOTAL_ROW for r in t.rows))
    total = next(r for r in table.rows if r.code == TOTAL_ROW)
    rows = sorted((r for r in table.rows if r.code != TOTAL_ROW and r.values.get(block.where) is not None),
                  key=lambda r: -Decimal(r.values[block.where]))
    if not rows or total.values.get(block.where) is None:
        return fill(block.none)

    def figure(row: Row) -> str:
        return fill.figure(block.bieu, row.code, block.where)

    above = [fill(block.item, unit=r.label) for r in rows if r.values[block.where] > total.values[block.where]]
    return fill(block.text, items=block.separator.join(above), count=len(above), highest=rows[0].label,
                highest_value=figure(rows[0]), lowest=rows[-1].label, lowest_value=figure(rows[-1]),
                total=figure(total))


def _worse(fill: _Fill, block: ReportBlock, catalogue: Catalogue) -> str:
    """The sentence over the targets of Biểu 01 that moved the wrong way from the year before
    (up where lower is better, down where higher is better); ``none`` when none did or the
    year before is not known."""
    items = []
    targets = {t.code: t for t in catalogue.targets}
    for report in fill.reports.values():
        for table in report.tables:
            if not _assessment_key(table):
                continue
            fill.used.add(report.code)
            labels = dict(zip((r.code for r in table.rows), _standalone([r.label for r in table.rows])))
            for row in table.rows:
                difference, target = _difference(row), targets.get(row.code)
                if not difference or target is None or (difference > 0) != (target.direction == "down"):
                    continue
                change = show_number(abs(difference), _change_places(row)) + catalogue.report.units[target.unit]
                text = fill(fill.texts["worse_up" if difference > 0 else "worse_down"], change=change)
                items.append(fill(block.item, label=_lower_first(labels[row.code]),
                                  change=fill.mark(text, fill.source(report.code, table, row, CHANGE_SOURCE))))
    return _listed(fill, block, items)


def _agencies(fill: _Fill, block: ReportBlock, catalogue: Catalogue) -> str:
    """The sentence over the funds each district agency was given for a sub-project (its row
    of the sub-project's Biểu), with what it disbursed (``item``) or nothing (``item_zero``);
    pick "zero": only the agencies that disbursed nothing."""
    items = []
    for project, sub, report in _sub_project_reports(fill, catalogue):
        for table in report.tables:
            if DISBURSED not in {c.key for c in table.columns}:
                continue
            for row in table.rows:
                unit = catalogue.find_unit(row.code)
                if unit is None or unit.kind != AGENCY or not (row.values.get(FUNDS) or 0) > 0:
                    continue
                if block.pick == "zero" and (row.values.get(DISBURSED) or 0) > 0:
                    continue
                figure = {key: fill.figure(sub.form, row.code, key) for key in (FUNDS, DISBURSED, RATE)}
                template = block.item if (row.values.get(DISBURSED) or 0) > 0 else block.item_zero
                items.append(fill(template, unit=row.label, total=figure[FUNDS], disbursed=figure[DISBURSED],
                                  rate=figure[RATE], label=_lower_first(sub.name), short=_short(sub, project),
                                  **_project(sub, project)))
    return _listed(fill, block, items)
