"""The catalogue's typed model: forms, items, rules, targets, units and periods, as every
other module sees them once ``loader`` has read and checked the data files."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pipeline.text import ERROR
from pipeline.errors import UserError

if TYPE_CHECKING:
    from pipeline.catalogue.phase import PhaseRules

VALUE_COLUMN = "GIA_TRI"  # the one input column of an item sheet
SAME_ROW = "*"  # row of a grid rule term that means "the row being checked"
TOTAL_ROW = "TONG"  # the code of a published table's total row (explain, the report's figures)
MET, EXCEEDED, NOT_MET, NOT_ASSESSED = "Đạt", "Vượt", "Chưa đạt", "Chưa đánh giá"  # a target against its plan
VERDICTS = (MET, EXCEEDED, NOT_MET, NOT_ASSESSED)
TYPES = ("count", "money", "flag")
UNITS_FILE = "units.csv"
UNIT_KINDS = ("xa", "thi_tran", "co_quan_huyen")
UNIT_GROUPS = {True: "xã, thị trấn", False: "cơ quan huyện"}  # by Unit.is_commune, as a completeness note counts
PERIOD_STATES = ("mo", "dong")
YEAR, PHASE = "năm", "giai đoạn"  # the kinds of period: a year, or a phase of years
PERIOD_KINDS = (YEAR, PHASE)
DIRECTIONS = ("up", "down")
COMPARATORS = ("<=", ">=", "==", "<", ">")
SHEET_NAME_FORBIDDEN = set('[]:*?/\\')



class CatalogueError(UserError):
    """A catalogue file is broken; the message names the file and the entry."""

    def __init__(self, file: str, entry: str, message: str):
        self.file, self.entry = file, entry
        super().__init__(f'Danh mục không hợp lệ: tệp "{file}", mục "{entry}": {message}')


@dataclass(frozen=True)
class Ref:
    """One cell of a form: (form, row, column). Item sheets have the column GIA_TRI."""

    form: str
    row: str
    column: str = VALUE_COLUMN

    def __str__(self) -> str:
        if self.column == VALUE_COLUMN:
            return f"{self.form}:{self.row}"
        return f"{self.form}:{self.row}:{self.column}"


@dataclass(frozen=True)
class Term:
    ref: Ref
    sign: int  # +1 or -1


@dataclass(frozen=True)
class Rule:
    """A linear comparison ``left op right`` between sums of cells, checked per unit."""

    text: str
    left: tuple[Term, ...]
    op: str
    right: tuple[Term, ...]
    message: str
    severity: str = ERROR  # ERROR ("lỗi") blocks a submission, WARNING ("cảnh báo") does not


@dataclass(frozen=True)
class Item:
    """A row of a form: an input item, or a derived one (``formula``)."""

    code: str
    label: str
    unit: str
    type: str
    parent: str | None = None
    formula: tuple[Term, ...] | None = None

    @property
    def derived(self) -> bool:
        return self.formula is not None


@dataclass(frozen=True)
class Column:
    """A column of a form; item sheets have one input column, GIA_TRI."""

    code: str
    label: str
    type: str
    unit: str = ""
    group: str = ""
    full_label: str = ""
    formula: tuple[Term, ...] | None = None

    @property
    def derived(self) -> bool:
        return self.formula is not None


@dataclass(frozen=True)
class DerivedCell:
    """A cell the template computes with a formula: a derived item or column, or a row of a
    grid's project subtotal or total; ``parts`` are the cells its formula adds, with signs. A
    number found there (typed over, or a cached result) must equal the sum of its parts."""

    ref: Ref
    label: str
    parts: tuple[Term, ...]


@dataclass(frozen=True)
class Form:
    code: str
    sheet: str
    title: str
    reported_by: frozenset[str]
    items: tuple[Item, ...]
    columns: tuple[Column, ...]
    rules: tuple[Rule, ...]
    sub_project: str | None = None
    is_grid: bool = False
    source: str = ""  # the catalogue file it was loaded from, for messages
    total_column: str = ""  # a grid's column that is a row's total (a sub-project's whole funds)

    def __post_init__(self):
        object.__setattr__(self, "_items", {i.code: i for i in self.items})
        object.__setattr__(self, "_columns", {c.code: c for c in self.columns})
        object.__setattr__(self, "_input_cells", tuple(  # every read of a workbook walks them
            Ref(self.code, i.code, c.code) for i in self.input_items for c in self.input_columns))

    def item(self, code: str) -> Item:
        return self._items[code]

    def column(self, code: str) -> Column:
        return self._columns[code]

    @property
    def input_items(self) -> tuple[Item, ...]:
        return tuple(i for i in self.items if not i.derived)

    @property
    def input_columns(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if not c.derived)

    def input_cells(self) -> list[Ref]:
        """Every cell a unit types, row by row."""
        return list(self._input_cells)

    def cell_label(self, ref: Ref) -> str:
        if self.is_grid:
            return f"{ref.row} · {self.column(ref.column).full_label}"
        return self.item(ref.row).label


@dataclass(frozen=True)
class SubProject:
    code: str
    name: str
    form: str
    project: str


@dataclass(frozen=True)
class Project:
    code: str
    name: str
    sub_projects: tuple[SubProject, ...]

    @property
    def has_subtotal(self) -> bool:
        """A subtotal row in the funds grid, unless the project is its own one sub-project."""
        return not (len(self.sub_projects) == 1 and self.sub_projects[0].code == self.code)


@dataclass(frozen=True)
class Target:
    code: str
    label: str
    unit: str
    kind: str  # "rate" or "sum"
    numerator: tuple[Term, ...]
    denominator: tuple[Term, ...]
    direction: str


@dataclass(frozen=True)
class Unit:
    code: str
    name: str
    kind: str
    area: str
    district_code: str
    district_name: str
    province_code: str
    province_name: str
    valid_from: str = ""
    valid_to: str = ""

    @property
    def label(self) -> str:
        """How a unit is named in lists: "03259 – Xã Phình Sáng"."""
        return f"{self.code} – {self.name}"

    @property
    def is_commune(self) -> bool:
        return self.kind in ("xa", "thi_tran")

    def valid_in(self, period: str) -> bool:
        year = period[:4]
        return (not self.valid_from or self.valid_from[:4] <= year) and (
            not self.valid_to or year <= self.valid_to[:4]
        )


@dataclass(frozen=True)
class Period:
    key: str
    label: str
    report_date: dt.date
    deadline: dt.date
    state: str
    template_versions: tuple[str, ...] = ()  # earlier template versions whose files it still reads
    kind: str = YEAR  # YEAR, or PHASE: a summary of the annual periods ``years``, never sent files
    years: tuple[str, ...] = ()  # a phase's years ("2021" … "2025"), whether in the catalogue or not

    @property
    def is_open(self) -> bool:
        return self.state == "mo"

    @property
    def is_phase(self) -> bool:
        return self.kind == PHASE


@dataclass(frozen=True)
class LayoutColumn:
    """One column of a published table, as ``bieu/*.toml`` declares it (expanded and checked).

    Exactly one source fills it: ``show`` (a text of the row: its number, label, unit or
    assessment), ``ref`` (a cell; in a grid, row ``*`` means the row's sub-projects, summed),
    ``target`` (a target's value for the row's unit; ``*``: the row's own target), ``plan``
    (a column of the district plan, for target rows; with ``previous``, the row's target
    computed for the period a year before comes first) or ``rate`` (100 × numerator /
    denominator, two other columns' keys of the same table: recomputed, never averaged) or
    ``sum`` (other columns of the table added up, e.g. the two parts of a total)."""

    key: str
    label: str
    group: str = ""  # a merged header above consecutive columns of the same group
    kind: str = "count"  # how it prints: count, money, rate, text, or "row" (the row's own kind)
    show: str = ""
    ref: Ref | None = None
    target: str = ""
    plan: str = ""
    rate: tuple[str, str] | None = None
    sum: tuple[str, ...] = ()  # keys of other number columns of the table, added up row by row
    empty: str = ""  # printed when there is no value ("–"), else the cell stays blank
    assessed_only: bool = False  # plan values: shown only for targets assessed this period
    previous: str = ""  # plan values: the target's value a year before first; the note if no row has either


@dataclass(frozen=True)
class LayoutTable:
    """One sheet of a published Biểu. Labels may hold {who}, {Who}, {WHO}: what a row of
    units is (đơn vị, huyện, tỉnh), filled in when the table is built."""

    sheet: str
    title: str
    unit_note: str
    rows: str  # "targets", "units" or "programme"
    form: str  # units: rows of units that report it; programme: the funds grid
    columns: tuple[LayoutColumn, ...]
    total_label: str = ""
    total_label_grouped: str = ""  # the total row's label when rows are districts or provinces
    total_first: bool = False
    include_nonzero: tuple[str, ...] = ()  # units rows: a unit that does not report the form still
    # shows when one of these columns is not zero (funds held by an agency), so the total adds up
    chart: tuple[str, str] | None = None  # (column key, title): a bar chart of that column per row
    summary: str = ""  # targets rows: a sentence with {met}, {targets}, {not_assessed}
    summary_without_plan: str = ""
    notes: tuple[str, ...] = ()  # printed under the table


@dataclass(frozen=True)
class Bieu:
    """A published Biểu: its code, its title and its sheets."""

    code: str
    title: str
    tables: tuple[LayoutTable, ...]
    forms: tuple[str, ...]  # the forms whose reporting units the Biểu expects
    sub_project: str | None = None
    source: str = ""  # the layout file(s) it was loaded from, for messages


@dataclass(frozen=True)
class Headline:
    """A district figure shown with the consolidation (in the Dagster UI)."""

    label: str
    ref: Ref


@dataclass(frozen=True)
class ReportBlock:
    """One part of the report's draft, as ``report.toml`` declares it: a heading, a figure
    sentence, a placeholder for the officer ("write") or a sentence over a list of Biểu or
    of sub-projects or of the funds given to the district's agencies."""

    kind: str  # heading, text, write, list
    text: str
    level: int = 1  # headings: 1 (I.), 2 (1.), 3 (a))
    list: str = ""  # lists: "bieu", "sub_projects" or "agencies"
    bieu: str = ""  # sub-project lists: the Biểu whose programme rows are listed
    where: str = ""  # … those whose column ``where`` is above 0 (pick "above") or is 0 with funds (pick "zero")
    item: str = ""  # how one element is written
    separator: str = ", "
    none: str = ""  # the sentence when the list is empty
    pick: str = "above"
    item_zero: str = ""  # agencies: an element with nothing disbursed
    if_zero: str = ""  # text: a figure "Biểu/row/column"; when it is 0 the block prints ``zero``
    zero: str = ""
    words_2023: int = 0  # write: how many words the 2023 report wrote there


@dataclass(frozen=True)
class ReportText:
    """The wording of the report's draft (``report.toml``): fixed texts by name, the verdict
    words, how units follow numbers, and the blocks in order."""

    texts: dict[str, str]
    recipients: tuple[str, ...]
    verdicts: dict[str, str]
    units: dict[str, str]
    blocks: tuple[ReportBlock, ...]


@dataclass(frozen=True)
class Catalogue:
    forms: dict[str, Form]
    projects: tuple[Project, ...]
    targets: tuple[Target, ...]
    units: tuple[Unit, ...]
    periods: dict[str, Period]
    district: dict[str, object]  # names printed on workbooks, warning thresholds
    bieu: dict[str, Bieu] = field(default_factory=dict)  # the published Biểu, by code, in order
    report: ReportText | None = None  # the evaluation report's draft (report.toml)
    headline: tuple[Headline, ...] = ()
    version: str = field(default="")
    phase: PhaseRules | None = None  # how a phase summary aggregates the years (phase.toml)
    _expansions: dict = field(default_factory=dict, repr=False, compare=False)
    _derived: dict = field(default_factory=dict, repr=False, compare=False)
    _units_by_code: dict = field(default_factory=dict, repr=False, compare=False)
    _units_in: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def sub_projects(self) -> tuple[SubProject, ...]:
        return tuple(s for p in self.projects for s in p.sub_projects)

    def form(self, code: str) -> Form:
        return self.forms[code]

    def reads(self, version: str, period: str) -> bool:
        """Whether a file made with the template ``version`` is read for ``period``: the current
        version, or an earlier one the period keeps (``template_versions`` in periods.toml)."""
        kept = self.periods[period].template_versions if period in self.periods else ()
        return version == self.version or version in kept

    @property
    def funds_form(self) -> Form | None:
        """The funds grid: the form with a row per sub-project."""
        return next((f for f in self.forms.values() if f.is_grid), None)

    @property
    def bieu_span(self) -> str:
        """The first and last Biểu code, as in file names: "01-15"."""
        codes = list(self.bieu)
        return f"{codes[0]}-{codes[-1]}" if codes else ""

    def unit(self, code: str) -> Unit:
        """The unit of a code (KeyError if unknown); indexed, as a national list has 10.600."""
        if not self._units_by_code:
            self._units_by_code.update((u.code, u) for u in self.units)
        return self._units_by_code[code]

    def find_unit(self, code: str) -> Unit | None:
        """The unit of a code, or None if the list has no such unit."""
        try:
            return self.unit(code)
        except KeyError:
            return None

    def units_in(self, period: str) -> tuple[Unit, ...]:
        """Units valid in a period: communes first (catalogue order), then agencies."""
        if period not in self._units_in:
            valid = [u for u in self.units if u.valid_in(period)]
            self._units_in[period] = tuple(sorted(valid, key=lambda u: not u.is_commune))
        return self._units_in[period]

    def reports(self, unit: Unit, form: Form) -> bool:
        return unit.kind in form.reported_by

    def expand(self, ref: Ref) -> tuple[Term, ...]:
        """A cell as a sum of input cells: derived items and columns are expanded (and remembered)."""
        known = self._expansions.get(ref)
        if known is None:
            known = self._expansions[ref] = self._expand(ref)
        return known

    def derived_cells(self, form: Form) -> tuple[DerivedCell, ...]:
        """Every cell of a form that the template computes (remembered: each read walks them)."""
        known = self._derived.get(form.code)
        if known is None:
            known = self._derived[form.code] = tuple(self._derived_cells(form))
        return known

    def _derived_cells(self, form: Form):
        if not form.is_grid:
            for item in form.items:
                if item.formula is not None:
                    yield DerivedCell(Ref(form.code, item.code), item.label, item.formula)
            return
        for item in form.items:
            for column in form.columns:
                if column.formula is not None:
                    ref = Ref(form.code, item.code, column.code)
                    yield DerivedCell(ref, form.cell_label(ref), tuple(
                        Term(Ref(form.code, item.code, t.ref.column), t.sign) for t in column.formula))
        groups = [(p.code, p.name, p.sub_projects) for p in self.projects if p.has_subtotal]
        for row, name, subs in [(TOTAL_ROW, "TỔNG CỘNG", self.sub_projects), *groups]:
            for column in form.columns:
                yield DerivedCell(Ref(form.code, row, column.code), f"{name} · {column.full_label}",
                                  tuple(Term(Ref(form.code, s.code, column.code), 1) for s in subs))

    def _expand(self, ref: Ref) -> tuple[Term, ...]:
        form = self.forms[ref.form]
        formula = form.column(ref.column).formula if form.is_grid else form.item(ref.row).formula
        if formula is None:
            return (Term(ref, 1),)
        terms: list[Term] = []
        for term in formula:
            inner = Ref(ref.form, ref.row, term.ref.column) if form.is_grid else term.ref
            terms += [Term(t.ref, t.sign * term.sign) for t in self.expand(inner)]
        return tuple(terms)


