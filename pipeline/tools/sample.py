"""The synthetic samples: one filled submission per unit and the filled plan workbook, for
2023 and for the other years of the 2021–2025 phase (2021, 2022, 2024); and the synthetic
sample of the new communes of a period after 1/7/2025, made of 2023's (``write_merged_sample``).

Per-unit values are plausible (they differ between units; the town is less poor than the
rural communes) and every rule holds, while the district totals equal exactly the figures
the 2023 evaluation report publishes (``sample_2023.toml``). Another year's figures
(``sample_<year>.toml``) replace entries of the 2023 ones: a form's item, a sub-project's
funds, a form of outputs, the plan; what a year does not name is 2023's. They are made
consistent with what the 2023 report says of other years (the poverty rates it compares
with 2021, the funds 2022 carried over), and their workbooks say they are synthetic (a
comment on the period in Thông tin). Totals are split with a largest-remainder method so
sums are exact; money is split in whole đồng-cents (0,01 triệu đồng). Deterministic: the
same catalogue always gives the same files.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import tomllib
from decimal import Decimal
from pathlib import Path

from pipeline.catalogue import Catalogue, Ref, Term, Unit, parse_sum
from pipeline.catalogue.lineage import origins
from pipeline.errors import UserError
from pipeline.intake.take_in import IntakeResult, take_in_batch, take_in_plan
from pipeline.publication.status import write_intake_status
from pipeline.settings import Places
from pipeline.warehouse import connect
from pipeline.text import slug
from pipeline.catalogue.contract import (
    PERIOD_FIELD,
    PREPARER_FIELD,
    SIGNER_FIELD,
    SIGNER_ON_BEHALF_FIELD,
    SIGNER_TITLE_FIELD,
    UNIT_FIELD,
)
from pipeline.workbook.template import Filling, PlanFilling, write_plan_workbook, write_unit_workbook

FIGURES_DIR = Path(__file__).parent
PERIOD = "2023"  # the year whose figures are the report's; the others replace entries of them
YEARS = ("2021", "2022", "2023", "2024")  # the shipped samples (data/sample/<year>/)
FIGURES_FILE = FIGURES_DIR / f"sample_{PERIOD}.toml"
PLAN_FILE_NAME = "ke-hoach-huyen-2023.xlsx"
CENT = Decimal("0.01")
SYNTHETIC_NOTE = ("Lưu ý", "Dữ liệu mẫu giả lập (không phải báo cáo thật của đơn vị), dựng cho thử nghiệm; "
                  "xem README, mục dữ liệu mẫu.")


def figures_file(year: str) -> Path:
    return FIGURES_DIR / f"sample_{year}.toml"


def plan_file_name(year: str) -> str:
    return f"ke-hoach-huyen-{year}.xlsx"


def split(total: int, weights: list[float], minimum: int = 0) -> list[int]:
    """Split a whole number by weights so the parts sum exactly (largest remainder)."""
    n = len(weights)
    if total < minimum * n:
        minimum = 0
    rest = total - minimum * n
    weight_sum = sum(weights)
    if weight_sum <= 0:
        weights, weight_sum = [1.0] * n, float(n)
    exact = [rest * w / weight_sum for w in weights]
    parts = [int(x) for x in exact]
    order = sorted(range(n), key=lambda i: (-(exact[i] - parts[i]), i))
    for i in order[: rest - sum(parts)]:
        parts[i] += 1
    return [p + minimum for p in parts]


def split_within(total: int, parents: list[int], rates: list[float]) -> list[int]:
    """Split a subset total so that each part is at most its parent (a 'trong đó' item)."""
    if total > sum(parents):
        raise ValueError(f"subset total {total} exceeds parent total {sum(parents)}")
    parts = split(total, [p * r for p, r in zip(parents, rates)])
    for i in range(len(parts)):  # move any overflow to the units with the most room
        while parts[i] > parents[i]:
            j = max(range(len(parts)), key=lambda k: (parents[k] - parts[k], -k))
            moved = min(parts[i] - parents[i], parents[j] - parts[j])
            parts[i] -= moved
            parts[j] += moved
    return parts


class _Sampler:
    """Builds every unit's values from the district figures."""

    def __init__(self, catalogue: Catalogue, figures: dict, period: str = PERIOD):
        self.catalogue = catalogue
        self.figures = figures
        self.period = period
        self.rng = random.Random(int(period))  # 2023's seed is its year
        units = catalogue.units_in(period)
        self.communes = [u for u in units if u.is_commune]
        self.agencies = {u.code: u for u in units if not u.is_commune}
        self.values: dict[str, dict[Ref, int | Decimal]] = {u.code: {} for u in units}

    def rates(self, low: float, high: float, town: float | None = None) -> list[float]:
        return [
            town if (town is not None and u.kind == "thi_tran") else self.rng.uniform(low, high)
            for u in self.communes
        ]

    def put(self, form: str, item: str, parts: list, column: str = "GIA_TRI", units: list[Unit] | None = None):
        for unit, value in zip(units or self.communes, parts):
            self.values[unit.code][Ref(form, item, column)] = value

    def get(self, form: str, item: str) -> list[int]:
        return [self.values[u.code][Ref(form, item)] for u in self.communes]

    # -- form 01 -----------------------------------------------------------------
    def indicators(self) -> None:
        f = self.figures["01"]
        households = split(f["HO_TONG"], self.rates(0.6, 1.4, town=1.7))
        self.put("01", "HO_TONG", households)
        poor = split_within(f["HO_NGHEO"], households, self.rates(0.30, 0.60, town=0.10))
        self.put("01", "HO_NGHEO", poor)
        not_poor = [h - p for h, p in zip(households, poor)]
        near_poor = split_within(f["HO_CAN_NGHEO"], not_poor, self.rates(0.15, 0.30, town=0.08))
        self.put("01", "HO_CAN_NGHEO", near_poor)
        self.put("01", "HO_NGHEO_DTTS", split_within(f["HO_NGHEO_DTTS"], poor, self.rates(0.90, 1.0, town=0.70)))
        poor_or_near = [p + n for p, n in zip(poor, near_poor)]
        self.subset_pair("01", "NGUOI_HN_HCN", "NGUOI_HN_HCN_BHYT", poor_or_near, (4.2, 4.8))
        self.subset_pair("01", "TE_HN_HCN_DO_TUOI", "TE_HN_HCN_DI_HOC", poor_or_near, (0.8, 1.0))
        for total, part in (("TE5_TONG", "TE5_RA_LOP"), ("HS6_10_TONG", "HS6_10_HOC"),
                            ("HS11_14_TONG", "HS11_14_HOC"), ("HS15_18_TONG", "HS15_18_HOC"),
                            ("NGUOI15_TONG", "NGUOI15_BIET_CHU")):
            self.subset_pair("01", total, part, households, (0.8, 1.2))
        self.subset_pair("01", "LD_HN_TONG", "LD_HN_QUA_DAO_TAO", poor_or_near, (2.0, 2.8))
        trained = self.get("01", "LD_HN_QUA_DAO_TAO")
        self.put("01", "LD_HN_CHUNG_CHI", split_within(f["LD_HN_CHUNG_CHI"], trained, self.rates(0.2, 0.4)))
        self.put("01", "HO_NUOC_HVS", split_within(f["HO_NUOC_HVS"], poor_or_near, self.rates(0.8, 1.0, town=1.0)))
        self.put("01", "HO_NHA_TIEU_HVS", split_within(f["HO_NHA_TIEU_HVS"], poor_or_near, self.rates(0.3, 0.7, town=0.9)))

    def subset_pair(self, form: str, total_item: str, part_item: str, base: list[int], spread: tuple) -> None:
        """A total split in proportion to ``base``, then its 'trong đó' part within it."""
        f = self.figures[form]
        totals = split(f[total_item], [b * self.rng.uniform(*spread) for b in base], minimum=1)
        self.put(form, total_item, totals)
        self.put(form, part_item, split_within(f[part_item], totals, self.rates(0.9, 1.0)))

    # -- forms 03–15 -------------------------------------------------------------
    def outputs(self) -> None:
        """Items of forms 03–15: main items first (each unit gets at least one), subsets within parents."""
        for code, spec in self.figures["outputs"].items():
            form = self.catalogue.form(code)
            units = self.communes + [self.agencies[a] for a in spec.get("agencies", [])]
            for unit in self.catalogue.units_in(self.period):
                if self.catalogue.reports(unit, form) and unit not in units:
                    for item in form.input_items:
                        self.values[unit.code][Ref(code, item.code)] = 0
            weights = [self.rng.uniform(0.5, 1.5) for _ in units]
            for item in form.input_items:
                total = spec["totals"].get(item.code, 0)
                within = spec.get("within", {}).get(item.code, item.parent)
                if within:
                    parents = self._cell_values(code, within, units)
                    parts = split_within(total, parents, [self.rng.uniform(0.6, 1.0) for _ in units])
                else:
                    parts = split(total, weights, minimum=1 if item.code in spec.get("every_unit", []) else 0)
                self.put(code, item.code, parts, units=units)
        for unit in self.communes:  # the town is not an extremely difficult commune
            dbkk = 0 if unit.kind == "thi_tran" or unit.code in self.figures["12"]["not_dbkk"] else 1
            for item in ("XA_DBKK", "XA_DBKK_DAI_TT"):
                self.values[unit.code][Ref("12", item)] = dbkk
            self.values[unit.code][Ref("12", "HO_DIA_BAN")] = self.values[unit.code][Ref("01", "HO_TONG")]
        households = self.get("12", "HO_DIA_BAN")
        self.put("12", "HO_TIEP_CAN_TT", split_within(self.figures["12"]["HO_TIEP_CAN_TT"], households, self.rates(0.9, 1.0)))

    def _cell_values(self, form: str, expression: str, units: list[Unit]) -> list[int]:
        """Per unit, the value of an expression of the form's items (derived ones expanded)."""
        terms = [
            Term(inner.ref, inner.sign * term.sign)
            for term in parse_sum(expression, form, False, FIGURES_FILE.name, expression)
            for inner in self.catalogue.expand(term.ref)
        ]
        return [sum(t.sign * self.values[u.code][t.ref] for t in terms) for u in units]

    # -- form 02 -----------------------------------------------------------------
    def funds(self) -> None:
        """Each sub-project's funds: the agencies' fixed shares, the rest split over communes."""
        form = self.catalogue.form("02")
        cents: dict[tuple[str, str, str], int] = {}
        for unit in self.catalogue.units_in(self.period):
            for ref in form.input_cells():
                cents[(unit.code, ref.row, ref.column)] = 0
        commune_weights = {}
        poor = self.get("01", "HO_NGHEO")
        for sub in self.catalogue.sub_projects:
            spec = self.figures["funds"].get(sub.code, {})  # a sub-project without figures has no funds
            commune_weights[sub.code] = [p * self.rng.uniform(0.5, 1.5) for p in poor]
            for column, total in spec.get("totals", {}).items():
                if column.startswith("GN_"):
                    continue
                rest = _cents(total)
                for agency, shares in spec.get("agencies", {}).items():
                    cents[(agency, sub.code, column)] = _cents(shares.get(column, 0))
                    rest -= _cents(shares.get(column, 0))
                for unit, part in zip(self.communes, split(rest, commune_weights[sub.code], minimum=1)):
                    cents[(unit.code, sub.code, column)] = part
        # Counterpart funds go to the communes, in proportion to their central SN funds.
        commune_cells = [(u.code, s.code) for s in self.catalogue.sub_projects for u in self.communes]
        counterpart = split(_cents(self.figures["funds"]["DOI_UNG"]), [cents[(u, s, "NSTW_SN")] for u, s in commune_cells])
        for (u, s), part in zip(commune_cells, counterpart):
            cents[(u, s, "DOI_UNG")] = part
        # Disbursement: agencies' fixed shares, the rest within each commune's funds.
        for sub in self.catalogue.sub_projects:
            spec = self.figures["funds"].get(sub.code, {})
            for kind in ("DT", "SN"):
                total = spec.get("totals", {}).get(f"GN_{kind}", 0)
                rest = _cents(total)
                for agency, shares in spec.get("agencies", {}).items():
                    share = _cents(shares.get(f"GN_{kind}", 0))
                    cents[(agency, sub.code, f"GN_{kind}")] = share
                    rest -= share
                available = [self._fund_total(cents, u.code, sub.code, kind) for u in self.communes]
                parts = split_within(rest, available, [self.rng.uniform(0.2, 0.6) for _ in self.communes])
                for unit, part in zip(self.communes, parts):
                    cents[(unit.code, sub.code, f"GN_{kind}")] = part
        for (unit, row, column), value in cents.items():
            self.values[unit][Ref("02", row, column)] = (Decimal(value) * CENT).quantize(CENT)

    def others(self) -> None:
        """Every input cell the figures do not cover (a form added to the catalogue since) is 0."""
        for unit in self.catalogue.units_in(self.period):
            for form in self.catalogue.forms.values():
                if self.catalogue.reports(unit, form):
                    for ref in form.input_cells():
                        self.values[unit.code].setdefault(ref, 0)

    def _fund_total(self, cents: dict, unit: str, row: str, kind: str) -> int:
        column = self.catalogue.form("02").column(f"TONG_{kind}")
        return sum(t.sign * cents[(unit, row, t.ref.column)] for t in column.formula)


def _cents(value) -> int:
    return int((Decimal(str(value)) * 100).to_integral_value())


def _read(path: Path) -> dict:
    with path.open("rb") as f:
        return tomllib.load(f)


def load_figures(year: str = PERIOD) -> dict:
    """A year's district figures: 2023's, with the entries the year's file names replaced (a
    section's entry is replaced whole: an item of a form, a sub-project's funds, a form of
    outputs, a key of the plan)."""
    figures = _read(figures_file(PERIOD))
    if year != PERIOD:
        for section, entries in _read(figures_file(year)).items():
            if isinstance(entries, dict) and isinstance(figures.get(section), dict):
                figures[section] = {**figures[section], **entries}
            else:
                figures[section] = entries
    return figures


def sample_values(catalogue: Catalogue, year: str = PERIOD) -> dict[str, dict[Ref, int | Decimal]]:
    """Every unit's input values for a year, keyed by unit code."""
    sampler = _Sampler(catalogue, load_figures(year), year)
    sampler.indicators()
    sampler.outputs()
    sampler.funds()
    sampler.others()
    return sampler.values


PREPARERS = ("Lò Văn Minh", "Quàng Thị Lan", "Lường Văn Hùng", "Cà Thị Hoa", "Tòng Văn Thắng",
             "Lò Thị Xuân", "Quàng Văn Dũng", "Vì Thị Thu", "Lường Thị Mai", "Cầm Văn Sơn")


def write_sample(out: Path, catalogue: Catalogue, year: str = PERIOD) -> list[Path]:
    """Write a year's sample submissions and plan workbook into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    figures = load_figures(year)
    # The 2023 files are pinned byte for byte as they were first made, without the mark.
    notes = {} if year == PERIOD else {PERIOD_FIELD: [SYNTHETIC_NOTE]}
    for n, (code, values) in enumerate(sample_values(catalogue, year).items()):
        unit = catalogue.unit(code)
        info = {
            UNIT_FIELD: unit.code,
            PERIOD_FIELD: year,
            PREPARER_FIELD: PREPARERS[n % len(PREPARERS)],
            "DIEN_THOAI": f"0215 38{n:02d} {100 + 7 * n:03d}",
            "NGAY_LAP": dt.date(int(year), 8, 1) + dt.timedelta(days=n % 7),
        }
        path = out / f"{unit.code}-{slug(unit.name)}.xlsx"
        paths.append(write_unit_workbook(path, catalogue, unit, Filling(info, values, dict(notes))))
    if year != PERIOD:
        paths.append(_write_synthetic_plan(out, catalogue, year, figures["plan"]))
        return paths
    plan = figures["plan"]
    targets = {
        t.code: (t.code not in plan["not_due"], _number(plan["values"].get(t.code)), None)
        for t in catalogue.targets
    }
    # The 2023 report's signer; it carries no number and no full date ("Số: /BC-UBND", "ngày   tháng 8"),
    # so those stay blank, and so does the preparer nobody named.
    info = {PERIOD_FIELD: PERIOD, "DIEN_THOAI": "0215 3862 001", "NGAY_LAP": dt.date(2023, 3, 22),
            SIGNER_ON_BEHALF_FIELD: "KT. CHỦ TỊCH", SIGNER_TITLE_FIELD: "PHÓ CHỦ TỊCH", SIGNER_FIELD: "Mùa Va Hồ"}
    paths.append(write_plan_workbook(out / PLAN_FILE_NAME, catalogue, PlanFilling(info, targets)))
    return paths


def _write_synthetic_plan(out: Path, catalogue: Catalogue, year: str, plan: dict) -> Path:
    """Another year's plan workbook: its targets and date; nobody signs a synthetic plan, so the
    signer and the report's number stay blank (dotted on the Biểu)."""
    targets = {t.code: (t.code not in plan["not_due"], _number(plan["values"].get(t.code)), None)
               for t in catalogue.targets}
    info = {PERIOD_FIELD: year, "DIEN_THOAI": "0215 3862 001", "NGAY_LAP": plan["date"]}
    return write_plan_workbook(out / plan_file_name(year), catalogue, PlanFilling(info, targets))


def _number(value) -> Decimal | None:
    return None if value is None else Decimal(str(value))


# --------------------------------------------------------------------------- the synthetic sample of the new communes

SYNTHETIC_PREPARER = "Số liệu giả lập (mẫu thử, không phải báo cáo thật)"  # marks every synthetic file


def merged_sample_values(catalogue: Catalogue, period: str) -> dict[str, dict[Ref, int | Decimal]]:
    """Synthetic values of the units expected in ``period`` (the new communes after 1/7/2025):
    the 2023 sample's values of the old communes each is made of (lineage.csv), added; a yes/no
    item is yes if one of them was. Sums of valid submissions keep every rule (all are linear);
    a new commune made partly of another district's communes gets only its Tuần Giáo part."""
    old = sample_values(catalogue)
    made_of = origins(catalogue.lineage, catalogue.units, catalogue.units_date(PERIOD), catalogue.units_date(period))
    merged: dict[str, dict[Ref, int | Decimal]] = {}
    for unit in catalogue.units_in(period):
        values: dict[Ref, int | Decimal] = {}
        for origin in made_of.get(unit, ()):
            for ref, value in old.get(origin.unit.code, {}).items():
                form = catalogue.form(ref.form)
                if not form.is_grid and form.item(ref.row).type == "flag":
                    values[ref] = max(values.get(ref, 0), value)
                else:
                    values[ref] = values.get(ref, 0) + (value if origin.share == 1 else value * origin.share)
        merged[unit.code] = values
    return merged


def write_merged_sample(out: Path, catalogue: Catalogue, period: str) -> list[Path]:
    """Write the synthetic submissions of the units expected in ``period`` into ``out``, each
    marked as synthetic (its preparer field and its file name)."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for n, (code, values) in enumerate(merged_sample_values(catalogue, period).items()):
        unit = catalogue.unit(code, period)
        info = {UNIT_FIELD: unit.code, PERIOD_FIELD: period, PREPARER_FIELD: SYNTHETIC_PREPARER,
                "NGAY_LAP": catalogue.units_date(period) - dt.timedelta(days=14 - n % 7)}
        path = out / f"{unit.code}-{slug(unit.name)}-gia-lap.xlsx"
        paths.append(write_unit_workbook(path, catalogue, unit, Filling(info, values)))
    return paths


def take_in_history(catalogue: Catalogue, places: Places, years: list[str]) -> dict[str, list[IntakeResult]]:
    """The shipped synthetic years (closed in the catalogue: they are over) taken in from
    ``places.inbox/<year>/`` as they would have been while open, each at its deadline, so
    that the warehouse holds the annual periods a phase summary is built from. Intake itself
    keeps refusing a closed period; only this loader of the samples' history opens them, in a
    copy of the catalogue."""
    unknown = [y for y in years if y not in catalogue.periods or catalogue.periods[y].is_phase]
    if unknown:
        raise UserError(f"Không có kỳ năm {', '.join(unknown)} trong danh mục (periods.toml).")
    opened = dataclasses.replace(catalogue, periods={
        key: dataclasses.replace(p, state="mo") if key in years else p for key, p in catalogue.periods.items()})
    results = {}
    for year in years:
        now = dt.datetime.combine(catalogue.periods[year].deadline, dt.time(17, 0))
        units = [u.code for u in opened.units_in(year)]
        results[year] = [*take_in_batch(opened, places, year, units, now), take_in_plan(opened, places, year, now)]
        with connect(places.warehouse) as conn:  # the page's units of the year, as for any intake
            write_intake_status(opened, conn, places, year, now.date())
    return results
