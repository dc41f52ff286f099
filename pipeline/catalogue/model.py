"""The catalogue's typed model: forms, items, rules, targets, units, periods and the regimes
in force by period (programme, form set, poverty standard, reporting body), as every other
module sees them once ``loader`` has read and checked the data files."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
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
# How a yes/no item of old units is shown on the unit they became (``restate`` of a form item):
# yes if any was yes, yes if all were, or how many were; counts and money always add.
RESTATE_RULES = ("any", "all", "count")
DEFAULT_RESTATE = "any"
UNITS_FILE = "units.csv"
UNIT_KINDS = ("xa", "thi_tran", "co_quan_huyen")
LINEAGE_FILE = "lineage.csv"
WHOLE, PART, ENDED = "whole", "part", "ended"  # how an old unit passes on (lineage.csv "kind")
BODY_LEVELS = ("huyện", "tỉnh")  # the level of a reporting body, as its documents word it ("kế hoạch năm của huyện")
# How a completeness note names the units of a kind ("19/19 xã, thị trấn": the kinds present, in UNIT_KINDS order).
UNIT_KIND_NAMES = {"xa": "xã", "thi_tran": "thị trấn", "co_quan_huyen": "cơ quan huyện"}
PERIOD_STATES = ("mo", "dong")
YEAR, PHASE = "năm", "giai đoạn"  # the kinds of period: a year, or a phase of years
PERIOD_KINDS = (YEAR, PHASE)
DIRECTIONS = ("up", "down")
COMPARATORS = ("<=", ">=", "==", "<", ">")
SHEET_NAME_FORBIDDEN = set('[]:*?/\\')



class CatalogueError(UserError):
    """A catalogue file is broken; the message names the file and the entry."""

    def __init__(self, file: str, entry: str, message: str):
        self.file, self.entry, self.message = file, entry, message
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
    restate: str = ""  # flags: a RESTATE_RULES name (DEFAULT_RESTATE when not declared)

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
    """One version of a unit: its name, kind and parent from ``valid_from`` to ``valid_to``
    (both included; None: open). A code may have several versions one after the other (a code
    the 2025 reorganisation gave to a new commune was the code of one of its old communes);
    the parent is the district until 30/6/2025 (``district_code``), the province after (no
    district). ``reports``: the unit reports to this system; a unit of a neighbouring district
    is listed only as a predecessor or successor. ``code_confirmed``: the code was found in
    the national list; an unconfirmed one is provisional and the page asks an officer to fill it."""

    code: str
    name: str
    kind: str
    area: str
    district_code: str
    district_name: str
    province_code: str
    province_name: str
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    reports: bool = True
    code_confirmed: bool = True
    code_source: str = ""

    @property
    def label(self) -> str:
        """How a unit is named in lists: "03259 – Xã Phình Sáng"."""
        return f"{self.code} – {self.name}"

    @property
    def is_commune(self) -> bool:
        return self.kind in ("xa", "thi_tran")

    def valid_on(self, day: dt.date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (self.valid_to is None or day <= self.valid_to)

    @property
    def parent(self) -> tuple[str, str]:
        """(code, name) of the unit's parent while it is valid: its district, or its province
        when it has no district (a commune after 1/7/2025)."""
        if self.district_code:
            return self.district_code, self.district_name
        return self.province_code, self.province_name


@dataclass(frozen=True)
class LineageLink:
    """A row of lineage.csv: from ``day`` on, the unit ``old`` (its version valid the day
    before) is, in whole or in part (``share`` of it), the unit ``new`` (its version valid on
    ``day``); or it ``ENDED`` without successor (a district's agency ended with the district)."""

    old: str
    new: str
    day: dt.date
    kind: str  # WHOLE, PART or ENDED
    share: Decimal  # the part of ``old`` that ``new`` takes: 1 for a whole
    confirmed: bool
    source: str = ""
    note: str = ""


@dataclass(frozen=True)
class Period:
    key: str
    label: str
    report_date: dt.date
    deadline: dt.date
    state: str
    template_versions: tuple[str, ...] = ()  # earlier template versions whose files it still reads
    regime: str = ""  # the regime named in periods.toml; else the one whose dates hold report_date
    kind: str = YEAR  # YEAR, or PHASE: a summary of the annual periods ``years``, never sent files
    years: tuple[str, ...] = ()  # a phase's years ("2021" … "2025"), whether in the catalogue or not

    @property
    def is_open(self) -> bool:
        return self.state == "mo"

    @property
    def is_phase(self) -> bool:
        return self.kind == PHASE


@dataclass(frozen=True)
class Programme:
    """The national target programme in force, with the decisions it rests on."""

    key: str
    name: str
    basis: str
    source: str = ""  # where the facts were checked
    verified: bool = False


@dataclass(frozen=True)
class Standard:
    """The poverty standard in force: income lines in đồng per person per month."""

    key: str
    name: str
    basis: str
    income_rural: int
    income_urban: int
    source: str = ""
    verified: bool = False


@dataclass(frozen=True)
class Body:
    """The body that consolidates a period's reports and titles and signs its documents."""

    key: str
    authority: str  # "UBND HUYỆN TUẦN GIÁO", as a heading prints it
    authority_in_text: str  # "UBND huyện Tuần Giáo", as a sentence names it
    place: str  # of the date line: "Tuần Giáo, ngày …"
    province: str
    standing_office: str  # the Programme's standing office
    standing_office_in_text: str  # … as the template tells units where to send their files
    preparer_title: str
    signer_on_behalf: str
    level: str  # "huyện" or "tỉnh": the level word of fixed texts ("Chưa có kế hoạch năm của huyện")
    source: str = ""
    verified: bool = False


@dataclass(frozen=True)
class Regime:
    """The rules in force from ``start`` to ``end`` (inclusive): the programme, the form set
    (a catalogue version), the poverty standard and the reporting body; ``forms_note`` is
    printed under every Biểu title when the period carries another period's forms."""

    key: str
    start: dt.date
    end: dt.date
    programme: Programme
    form_set: str
    standard: Standard
    body: Body
    forms_note: str = ""

    def holds(self, date: dt.date) -> bool:
        return self.start <= date <= self.end


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
    list: str = ""  # lists: "bieu", "sub_projects", "agencies", "implementers", "worse" or "units"
    bieu: str = ""  # sub-project lists: the Biểu whose programme rows are listed
    where: str = ""  # … those whose column ``where`` is above 0 (pick "above") or is 0 with funds (pick "zero")
    item: str = ""  # how one element is written
    separator: str = ", "
    none: str = ""  # the sentence when the list is empty
    pick: str = "above"
    item_zero: str = ""  # agencies, sub_projects: an element with nothing disbursed
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
    roles: dict[str, object] = field(default_factory=dict)  # the district's standing roles ([roles])
    outputs: dict[str, str] = field(default_factory=dict)  # sub-project code -> its outputs' wording ([outputs])


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
    lineage: tuple[LineageLink, ...] = ()  # lineage.csv: which units became which, checked at load
    version: str = field(default="")
    regimes: tuple[Regime, ...] = ()  # the rules in force, by date (regimes.toml)
    form_set: str = ""  # the form set (catalogue version) this catalogue's forms, Biểu and targets are
    _form_sets: dict = field(default_factory=dict, repr=False, compare=False)  # every form set's catalogue
    phase: PhaseRules | None = None  # how a phase summary aggregates the years (phase.toml)
    _expansions: dict = field(default_factory=dict, repr=False, compare=False)
    _derived: dict = field(default_factory=dict, repr=False, compare=False)
    _units_by_code: dict = field(default_factory=dict, repr=False, compare=False)
    _units_in: dict = field(default_factory=dict, repr=False, compare=False)
    _reporting: list = field(default_factory=list, repr=False, compare=False)

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

    def regime(self, period: str) -> Regime:
        """The rules in force for a period of periods.toml: the regime it names, else the one
        whose dates hold its report date (the loader checks there is exactly one). A period
        periods.toml does not know (as a checked file may name) gets the last period's."""
        p = self.periods.get(period) or list(self.periods.values())[-1]
        return next(r for r in self.regimes if r.key == p.regime or (not p.regime and r.holds(p.report_date)))

    def body(self, period: str) -> Body:
        """Who consolidates, titles and signs the period's documents."""
        return self.regime(period).body

    def for_period(self, period: str | None) -> "Catalogue":
        """The catalogue of the period's form set: its forms, checks, templates and Biểu (the
        same units, periods and regimes). No period, or one periods.toml does not know, keeps this one."""
        if period not in self.periods or not self.regimes:
            return self
        form_set = self.regime(period).form_set
        return self if form_set == self.form_set else self._form_sets.get(form_set, self)  # self: a changed copy too

    def form_sets(self) -> dict[str, "Catalogue"]:
        """Every form set's catalogue by key, this one included."""
        return dict(self._form_sets) or {self.form_set: self}

    def every_bieu(self) -> list[str]:
        """The Biểu codes of every form set (this one's first, in order): each has a Dagster asset."""
        codes = list(self.bieu)
        for other in self.form_sets().values():
            codes += [code for code in other.bieu if code not in codes]
        return codes

    def own_periods(self) -> list[str]:
        """The periods whose form set is this catalogue's and to which units send files (a phase
        receives none), in order of their report dates: those its template offers."""
        return sorted((key for key, period in self.periods.items() if not period.is_phase and self.for_period(key) is self),
                      key=self.units_date)

    @property
    def funds_form(self) -> Form | None:
        """The funds grid: the form with a row per sub-project."""
        return next((f for f in self.forms.values() if f.is_grid), None)

    @property
    def bieu_span(self) -> str:
        """The first and last Biểu code, as in file names: "01-15"."""
        codes = list(self.bieu)
        return f"{codes[0]}-{codes[-1]}" if codes else ""

    def unit(self, code: str, period: str | None = None) -> Unit:
        """The reporting unit of a code (KeyError if none): the version valid in ``period``,
        or without one the code's first version in the list (the unit as the 2023 lists knew
        it). Indexed, as a national list has 10.600."""
        if not self._units_by_code:
            for u in self.units:
                if u.reports:
                    self._units_by_code.setdefault(u.code, []).append(u)
        versions = self._units_by_code[code]
        if period is None:
            return versions[0]
        day = self.units_date(period)
        for u in versions:
            if u.valid_on(day):
                return u
        raise KeyError(code)

    def find_unit(self, code: str, period: str | None = None) -> Unit | None:
        """The unit of a code (in ``period`` if given), or None if the list has no such unit."""
        try:
            return self.unit(code, period)
        except KeyError:
            return None

    def find_unit_for(self, code: str, period: str | None) -> Unit | None:
        """The unit of a code as a period knows it: its version valid in the period, else its
        first version (a file of a unit the period does not expect, or of no known period);
        None if the list has no such code."""
        return self.find_unit(code, period) or self.find_unit(code)

    def units_date(self, period: str) -> dt.date:
        """The day that decides a period's units: its report date (periods.toml), when the
        report is made and the units that exist then report; for a key the catalogue does
        not know, the last day of its year (KeyError if the key names no year)."""
        known = self.periods.get(period)
        if known is not None:
            return known.report_date
        if not period[:4].isdigit():
            raise KeyError(period)
        return dt.date(int(period[:4]), 12, 31)

    def units_in(self, period: str) -> tuple[Unit, ...]:
        """The units expected in a period: those that report and are valid on ``units_date``,
        communes first (catalogue order), then agencies. A phase expects none: it sums its years."""
        if period not in self._units_in:
            if period in self.periods and self.periods[period].is_phase:
                self._units_in[period] = ()
                return ()
            day = self.units_date(period)
            valid = [u for u in self.units if u.reports and u.valid_on(day)]
            self._units_in[period] = tuple(sorted(valid, key=lambda u: not u.is_commune))
        return self._units_in[period]

    def reporting_units(self, periods: list[str] | None = None) -> tuple[Unit, ...]:
        """Every unit expected in some period of the catalogue (or of ``periods``), each code
        once (its version in the latest period), in order of first appearance: the partitions,
        and the templates' unit list (of the periods a template offers)."""
        if periods is not None:
            return self._units_of(periods)
        if not self._reporting:
            self._reporting.extend(self._units_of(list(self.periods)))
        return tuple(self._reporting)

    def _units_of(self, periods: list[str]) -> tuple[Unit, ...]:
        found: dict[str, Unit] = {}
        for period in sorted(periods, key=self.units_date):
            for u in self.units_in(period):
                found[u.code] = u  # a dict keeps a key where it first came: the latest version, the first place
        return tuple(found.values())

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

