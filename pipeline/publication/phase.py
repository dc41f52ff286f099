"""The phase summary: a period of kind "giai đoạn" (``2021-2025``) whose Biểu 01 and 02 put
each year of the phase beside the phase total and the phase target, built from the annual
periods in the warehouse and published in ``out/<phase>/`` like any period's set (the same
workbooks, set switch and PDFs), with a trend chart per key target.

Each input cell aggregates over the years as the catalogue declares (``phase.toml``): added
up, the last year with data (a stock such as the poor households at a year's end), or not
at all (funds carried over, counted in the year before). A rate is recomputed from its
aggregated numerator and denominator, never averaged; a figure with a term that is not
aggregated has no phase value. A year the warehouse has no valid data for is named in the
column's header and the notes, its cells left blank, never 0; the phase total is then of
the years there are, and its assessment is marked provisional.

``year_figures`` is the one place a year's values are read: the seam where a restatement
onto the phase's units (the units after 7/2025) goes when it exists.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb

from pipeline.catalogue import MET, EXCEEDED, NOT_ASSESSED, TOTAL_ROW, Catalogue, Ref, Target, Term
from pipeline.catalogue.phase import LAST, NONE, SUM, PhaseRules
from pipeline.errors import UserError
from pipeline.files import atomic_output
from pipeline.office import Office
from pipeline.publication.publish import SETS, _locked, _render_pdfs, _switch
from pipeline.publication.signing import signing_for
from pipeline.publication.status import STATUS_FILE, set_document, write_status
from pipeline.publication.tables import (
    DISTRICT,
    Column,
    Figures,
    Report,
    Row,
    Source,
    Table,
    Trend,
    assess,
    ratio,
    roman,
    round_half_up,
    target_value,
)
from pipeline.publication.workbooks import Publication, publish
from pipeline.settings import WAIT_SECONDS
from pipeline.text import name_list, show_number
from pipeline.warehouse import connect, create_schema, current_sources

PROVISIONAL = "tạm tính"
YEAR_WIDTH = 8  # characters: "1.100", "100,0" with room (the years and the phase side by side on one page)
HOW = {SUM: "Cộng các năm", NONE: "Không cộng dồn"}


class NotAPhase(UserError):
    """The period asked for is not a phase; the message is Vietnamese."""


def phase_period(catalogue: Catalogue, key: str):
    period = catalogue.periods.get(key)
    if period is None or not period.is_phase:
        phases = [p.key for p in catalogue.periods.values() if p.is_phase]
        raise NotAPhase(f'"{key}" không phải kỳ giai đoạn (có: {", ".join(phases) or "không có"}).')
    return period


def year_figures(conn: duckdb.DuckDBPyConnection, catalogue: Catalogue, phase: str, year: str) -> Figures | None:
    """A year's values on the phase's units, or None when the warehouse has no valid data of
    that year. The phase's units are the years' own (the district's old units) until a
    restatement onto later units exists: this is where it goes."""
    figures = Figures(conn, catalogue, year)
    return figures if figures.values else None


@dataclass
class PhaseFigures:
    """The values of every year of a phase (None for a year without data) and how they
    aggregate."""

    catalogue: Catalogue
    rules: PhaseRules
    years: dict[str, Figures | None]

    @property
    def present(self) -> list[str]:
        return [y for y, f in self.years.items() if f is not None]

    @property
    def missing(self) -> list[str]:
        return [y for y, f in self.years.items() if f is None]

    def methods(self, terms: tuple[Term, ...]) -> set[str]:
        return {self.rules.method(self.catalogue, t.ref) for term in terms for t in self.catalogue.expand(term.ref)}

    def years_of(self, method: str) -> list[str]:
        """The years a cell aggregated so is taken from."""
        present = self.present
        return {SUM: present, LAST: present[-1:], NONE: []}[method]

    def sum_terms(self, terms: tuple[Term, ...], unit: str = DISTRICT) -> Decimal | None:
        """The terms over the phase: each input cell aggregated as declared; None when a term is
        not aggregated or no year has a value."""
        total, seen = Decimal(0), False
        for term in terms:
            for inner in self.catalogue.expand(term.ref):
                method = self.rules.method(self.catalogue, inner.ref)
                if method == NONE:
                    return None
                for year in self.years_of(method):
                    value = self.years[year].values.get((unit, inner.ref))
                    if value is not None:
                        total += term.sign * inner.sign * value
                        seen = True
        return total if seen else None

    def target(self, target: Target) -> Decimal | None:
        numerator = self.sum_terms(target.numerator)
        if target.kind == "sum":
            return numerator
        return ratio(numerator, self.sum_terms(target.denominator))

    def how(self, target: Target) -> str:
        """How the target's phase value is made, in a few words."""
        methods = self.methods(target.numerator + (target.denominator or ()))
        if NONE in methods:
            return HOW[NONE]
        if methods == {LAST}:
            return f"Số năm {self.present[-1]}" if self.present else "–"
        if target.kind == "rate":
            return "Tính lại từ tổng tử số, mẫu số" if methods == {SUM} else "Tính lại (tử số, mẫu số theo từng mục)"
        return HOW[SUM]

    def grid(self, column: str, sub_projects: tuple[str, ...], year: str | None) -> Decimal | None:
        """An input column of form 02 over sub-projects, in one year or (None) over the phase."""
        terms = tuple(Term(Ref("02", s, column), 1) for s in sub_projects)
        if year is None:
            return self.sum_terms(terms)
        figures = self.years[year]
        return None if figures is None else figures.sum_terms(terms)


def load_phase(conn: duckdb.DuckDBPyConnection, catalogue: Catalogue, phase: str) -> PhaseFigures:
    period = phase_period(catalogue, phase)
    return PhaseFigures(catalogue, catalogue.phase, {y: year_figures(conn, catalogue, phase, y) for y in period.years})


# --------------------------------------------------------------------------- the tables


def _year_label(figures: PhaseFigures, year: str) -> str:
    return f"Năm {year}" if figures.years[year] is not None else f"Năm {year} (chưa có số liệu)"


def _coverage(figures: PhaseFigures, label: str) -> str:
    """The years the tables hold and the years they lack, named."""
    text = f"{label}: số liệu của các năm {', '.join(figures.present) or '(chưa có năm nào)'}"
    if figures.missing:
        text += (f"; chưa có số liệu năm {', '.join(figures.missing)}: cột của năm đó để trống (không tính là 0), "
                 f"số cả giai đoạn chỉ gồm các năm đã có và đánh giá là {PROVISIONAL}")
    return text + "."


AGGREGATION_NOTE = ("Cách tổng hợp cả giai đoạn: kết quả làm trong năm (lao động được đào tạo, nhà ở hoàn thành, vốn "
                    "giao, vốn giải ngân…) cộng các năm; số tại thời điểm cuối năm (hộ nghèo, hộ cận nghèo, số người, "
                    "số trẻ em…) lấy năm cuối có số liệu; tỷ lệ tính lại từ tử số và mẫu số đã tổng hợp, không lấy "
                    "bình quân các tỷ lệ năm.")


def _target_table(figures: PhaseFigures, phase: str) -> Table:
    catalogue, rules = figures.catalogue, figures.rules
    year_keys = [f"Y{y}" for y in figures.years]
    group = "Thực hiện từng năm"
    columns = [Column("stt", "STT", kind="text", show="number"), Column("label", "Chỉ tiêu", kind="text", show="label"),
               Column("unit", "Đơn vị tính", kind="text", show="unit"),
               *[Column(k, _year_label(figures, y), group, "row", width=YEAR_WIDTH)
                 for k, y in zip(year_keys, figures.years)],
               Column("phase", "Cả giai đoạn", kind="row", empty="–", width=YEAR_WIDTH + 1),
               Column("how", "Cách tổng hợp", kind="text", width=11),
               Column("target", "Mục tiêu giai đoạn", kind="row", empty="–", width=YEAR_WIDTH + 1),
               Column("assessment", "Đánh giá", kind="text", show="assessment", width=11)]
    rows = []
    for n, target in enumerate(catalogue.targets, start=1):
        values: dict[str, object] = {k: target_value(f, target) if f is not None else None
                                     for k, f in zip(year_keys, figures.years.values())}
        actual, goal = figures.target(target), rules.targets.get(target.code)
        verdict = assess(target, actual, goal, goal is not None)
        if figures.missing and verdict != NOT_ASSESSED:
            verdict = f"{verdict} ({PROVISIONAL})"
        values.update(phase=actual, how=figures.how(target), target=goal, stt=str(n), label=target.label, unit=target.unit, assessment=verdict)
        rows.append(Row(target.label, values, str(n), kind="rate" if target.kind == "rate" else "count",
                        code=target.code))
    by_code = {t.code: t for t in catalogue.targets}
    trends = tuple(Trend(code, tuple(year_keys), _trend_title(by_code[code], rules.targets.get(code)),
                         f"Xu hướng {code}", by_code[code].kind == "rate") for code in rules.trends)
    remarks = (f"Danh sách nguồn số liệu ghi tệp của năm {figures.present[-1]} (năm cuối có số liệu); số của các năm "
               f"khác lấy từ phiên bản hợp lệ hiện hành của từng năm trong kho: lệnh explain --period {phase} chỉ "
               "ra từng ô của từng năm.",) if figures.present else ()
    return Table("Biểu 01 giai đoạn", "CHỈ SỐ, KẾT QUẢ THỰC HIỆN CÁC MỤC TIÊU CỦA CHƯƠNG TRÌNH CẢ GIAI ĐOẠN",
                 "Đơn vị tính: theo từng chỉ tiêu", columns, rows,
                 notes=(AGGREGATION_NOTE, rules.source), remarks=remarks, trends=trends)


def _trend_title(target: Target, goal: Decimal | None) -> str:
    title = f"{target.code}. {target.label} ({target.unit})"
    if goal is None:
        return title
    return f"{title} – mục tiêu giai đoạn: {shown(goal, target.kind)}"


def shown(value: Decimal | None, kind: str) -> str:
    """A target's figure as the Biểu prints it: a rate with one decimal, a count whole."""
    if value is None:
        return "–"
    places = 1 if kind == "rate" else 0
    return show_number(round_half_up(value, places), places)


def _funds_table(figures: PhaseFigures) -> Table:
    catalogue, rules = figures.catalogue, figures.rules
    lines = rules.funds
    columns = [Column("stt", "STT", kind="text", show="number"),
               Column("label", "Dự án, tiểu dự án", kind="text", show="label")]
    for year in figures.years:
        columns += [Column(f"{line.key}_{year}", line.label, _year_label(figures, year), "money", width=YEAR_WIDTH + 2)
                    for line in lines]
    whole = "Cả giai đoạn"
    columns += [Column(line.key, line.label, whole, "money", empty="–") for line in lines]
    columns.append(Column("TL", "Tỷ lệ giải ngân (%)", whole, "rate", empty="–"))
    planned = rules.fund_plan_column
    goal = "Mục tiêu giai đoạn"
    columns += [Column("KH", "Kế hoạch vốn giai đoạn", goal, "money", empty="–"),
                Column("TL_KH", "Tỷ lệ so với kế hoạch (%)", goal, "rate", empty="–")]
    disbursed = next((line.key for line in lines if line.key != planned), planned)

    def values(sub_projects: tuple[str, ...]) -> dict[str, object]:
        found: dict[str, object] = {}
        for line in lines:
            for year in [*figures.years, None]:
                parts = [figures.grid(c, sub_projects, year) for c in line.columns]
                known = [p for p in parts if p is not None]
                key = line.key if year is None else f"{line.key}_{year}"
                found[key] = None if (year is None and None in parts) or not known else sum(known, Decimal(0))
        plan = [rules.fund_plan[s] for s in sub_projects if s in rules.fund_plan]
        found["KH"] = sum(plan, Decimal(0)) if plan else None
        found["TL"] = ratio(found[disbursed], found[planned])
        found["TL_KH"] = ratio(found[planned], found["KH"])
        return found

    everything = tuple(s.code for s in catalogue.sub_projects)
    rows = [Row("TỔNG CỘNG", {**values(everything), "stt": "", "label": "TỔNG CỘNG"}, bold=True, code=TOTAL_ROW)]
    for n, project in enumerate(catalogue.projects, start=1):
        subs = tuple(s.code for s in project.sub_projects)
        rows.append(Row(project.name, {**values(subs), "stt": roman(n), "label": project.name}, roman(n), bold=True,
                        code=project.code))
        if subs != (project.code,):
            for m, sub in enumerate(project.sub_projects, start=1):
                rows.append(Row(sub.name, {**values((sub.code,)), "stt": str(m), "label": sub.name}, str(m), indent=1,
                                code=sub.code))
    carried = [c.full_label for c in catalogue.form("02").input_columns
               if rules.method(catalogue, Ref("02", everything[0], c.code)) == NONE]
    notes = [f"Không cộng vào cả giai đoạn: {name_list([c[:1].lower() + c[1:] for c in carried])} "
             "(đã tính ở năm giao vốn)."] if carried else []
    return Table("Biểu 02 giai đoạn", "KẾT QUẢ HUY ĐỘNG VÀ GIẢI NGÂN VỐN CỦA CHƯƠNG TRÌNH CẢ GIAI ĐOẠN",
                 "Đơn vị tính: triệu đồng", columns, rows, notes=(*notes, rules.source))


def _sources(conn: duckdb.DuckDBPyConnection, catalogue: Catalogue, figures: PhaseFigures) -> tuple[list[Source], list]:
    """The units with valid data in every year there is that expects them (the file of the
    last such year named: units change, as on 1/7/2025), and the units missing from one of
    the years that expect them."""
    per_year = {y: {u: (f, r, h) for u, f, r, h, _ in current_sources(conn, y)} for y in figures.present}
    expected_in = {y: set(catalogue.units_in(y)) for y in figures.present}  # a lookup per unit, not a scan
    expected = list(dict.fromkeys(u for y in figures.present for u in catalogue.units_in(y)))
    sources, missing = [], []
    for unit in expected:
        years = [y for y in figures.present if unit in expected_in[y]]
        if all(unit.code in per_year[y] for y in years):
            sources.append(Source(unit, *per_year[years[-1]][unit.code]))
        else:
            missing.append(unit)
    return sources, missing


def build_phase_reports(catalogue: Catalogue, conn: duckdb.DuckDBPyConnection, phase: str) -> list[Report]:
    """Biểu 01 and 02 of a phase from the annual periods in the warehouse."""
    figures = load_phase(conn, catalogue, phase)
    label = catalogue.periods[phase].label
    sources, missing = _sources(conn, catalogue, figures)
    summary = _coverage(figures, label)
    table = _target_table(figures, phase)
    verdicts = [r.values["assessment"] for r in table.rows]
    met = sum(str(v).startswith((MET, EXCEEDED)) for v in verdicts)
    return [
        Report("01", "Chỉ số, kết quả thực hiện các mục tiêu cả giai đoạn", phase, [table], sources, missing,
               f"{summary} Đạt và vượt {met}/{len(verdicts)} mục tiêu giai đoạn."),
        Report("02", "Kết quả huy động và giải ngân vốn cả giai đoạn", phase, [_funds_table(figures)], sources, missing,
               summary),
    ]


def publish_phase(catalogue: Catalogue, warehouse: Path, out: Path, phase: str, office: Office | None = None,
                  wait_seconds: float = WAIT_SECONDS) -> tuple[list[Report], Publication]:
    """The phase's Biểu into ``out/<phase>/``, set aside and switched in as a period's set is
    (``pipeline.publication.publish``), with their PDFs when ``office`` is given."""
    phase_period(catalogue, phase)
    with connect(warehouse, wait_seconds=wait_seconds) as conn:
        create_schema(conn)
        reports = build_phase_reports(catalogue, conn, phase)
    folder = out / phase
    with _locked(folder / SETS):
        build = folder / SETS / f"{time.time_ns()}-{os.getpid()}"
        publication = publish(catalogue, reports, build, signing_for(catalogue, phase, {}))
        if office is not None:
            _render_pdfs(publication, office)
        with atomic_output(build / STATUS_FILE) as temporary:  # the page lists the set; no unit sends a phase
            temporary.write_text(json.dumps(set_document([], publication, reports), ensure_ascii=False, indent=2),
                                 encoding="utf-8")
        publication = _switch(publication, folder)
    with connect(warehouse, wait_seconds=wait_seconds) as conn:
        write_status(catalogue, conn, out)
    return reports, publication
