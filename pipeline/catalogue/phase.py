"""The rules of a phase summary (``phase.toml``): how each input item of every form
aggregates over the years of a phase, the phase's targets, the key targets drawn as trends,
and the fund lines of the phase's Biểu 02 with the phase's planned funds.

An aggregation is one of ``sum`` (added up over the years: what was done in each),
``last`` (the last year with data: a stock at a year's end, such as the poor households of
the annual review) or ``none`` (never aggregated: funds carried over from the year before,
already counted in that year). Each form declares a default and the items (grid columns in
a grid form) that differ; a form the file does not list (added since) takes the file's
default. Loaded with the catalogue: an unknown method, form, item, column, target or
sub-project is a CatalogueError naming the file and the entry."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Literal

from pipeline.catalogue.model import Catalogue, CatalogueError, Ref
from pipeline.catalogue.schema import Model, Text, validated
from pipeline.catalogue.sources import read_toml

FILE = "phase.toml"
SUM, LAST, NONE = "sum", "last", "none"
AGGREGATIONS = (SUM, LAST, NONE)


class FormAggregation(Model):
    form: Text
    default: Literal[AGGREGATIONS]
    items: dict[str, Literal[AGGREGATIONS]] = {}  # input items, or input columns of a grid form


class PhaseTargetEntry(Model):
    code: Text
    value: int | float  # in the target's unit: a rate at the phase's end, or a count over the phase


class FundLineEntry(Model):
    key: Text
    label: Text
    columns: list[Text]  # input columns of form 02, added up


class SummaryEntry(Model):
    """The sentences of a phase's summary (``pipeline.publication.phase_summary``), with their
    fields in braces."""

    change: Text  # a rate kept at the year's end (a stock): its mean change per year
    total: Text  # a count added up over the phase
    met: Text  # how many phase targets are met
    provisional: Text  # the first sentence where years are missing
    decrease: list[Text]  # the verb and the preposition of a fall ("giảm", "xuống")
    increase: list[Text]  # of a rise ("tăng", "lên")


class PhaseFile(Model):
    source: Text
    default: Literal[AGGREGATIONS]  # for a form the file does not list (a form added since)  # where the phase's targets come from (printed under the Biểu)
    aggregation: list[FormAggregation]
    targets: list[PhaseTargetEntry]
    trends: list[Text]
    funds: list[FundLineEntry]
    fund_plan_column: Text  # the fund line the phase plan is compared with
    fund_plan: dict[str, int | float]  # sub-project -> planned funds over the phase (triệu đồng)
    summary: SummaryEntry


@dataclass(frozen=True)
class FundLine:
    key: str
    label: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class PhaseRules:
    source: str
    aggregation: dict[tuple[str, str], str]  # (form, item or grid column) -> SUM, LAST or NONE
    targets: dict[str, Decimal]
    trends: tuple[str, ...]
    funds: tuple[FundLine, ...]
    fund_plan_column: str
    fund_plan: dict[str, Decimal]
    summary: SummaryEntry

    def method(self, catalogue: Catalogue, ref: Ref) -> str:
        """How an input cell aggregates over the years."""
        key = ref.column if catalogue.form(ref.form).is_grid else ref.row
        return self.aggregation[(ref.form, key)]


def load_phase_rules(directory: Path, catalogue: Catalogue) -> PhaseRules | None:
    """The phase rules of the catalogue in ``directory``; None when it has no phase.toml and
    no period of kind phase."""
    if not (directory / FILE).exists() and not any(p.is_phase for p in catalogue.periods.values()):
        return None
    data = validated(PhaseFile, read_toml(directory / FILE, directory), FILE)
    aggregation, by_form = {}, {}
    for declared in data.aggregation:
        if declared.form not in catalogue.forms:
            raise CatalogueError(FILE, f"aggregation.{declared.form}", "không có biểu mã này")
        if by_form.setdefault(declared.form, declared) is not declared:
            raise CatalogueError(FILE, f"aggregation.{declared.form}", "biểu được khai báo hai lần")
    for code, form in catalogue.forms.items():
        declared = by_form.get(code) or FormAggregation(form=code, default=data.default)
        inputs = [c.code for c in form.input_columns] if form.is_grid else [i.code for i in form.input_items]
        for name in declared.items:
            if name not in inputs:
                raise CatalogueError(FILE, f"aggregation.{code}.{name}", f"biểu {code} không có ô nhập mã này "
                                     f"(có: {', '.join(inputs)})")
        aggregation.update({(code, name): declared.items.get(name, declared.default) for name in inputs})
    targets = {t.code for t in catalogue.targets}
    for code in [*(t.code for t in data.targets), *data.trends]:
        if code not in targets:
            raise CatalogueError(FILE, code, "không có chỉ tiêu mã này trong targets.toml")
    grid = catalogue.form("02")
    columns = {c.code for c in grid.input_columns}
    for line in data.funds:
        for column in line.columns:
            if column not in columns:
                raise CatalogueError(FILE, f"funds.{line.key}", f'biểu 02 không có cột nhập "{column}"')
    if data.fund_plan_column not in {line.key for line in data.funds}:
        raise CatalogueError(FILE, "fund_plan_column", "phải là khóa của một dòng trong funds")
    subs = {s.code for s in catalogue.sub_projects}
    for code in data.fund_plan:
        if code not in subs:
            raise CatalogueError(FILE, f"fund_plan.{code}", "không có tiểu dự án mã này")
    return PhaseRules(data.source, aggregation, {t.code: _decimal(t.value) for t in data.targets},
                      tuple(data.trends), tuple(FundLine(f.key, f.label, tuple(f.columns)) for f in data.funds),
                      data.fund_plan_column, {k: _decimal(v) for k, v in data.fund_plan.items()}, data.summary)


def _decimal(value: int | float) -> Decimal:
    return Decimal(str(value))
