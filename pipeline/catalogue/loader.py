"""Loads the data files under ``pipeline/catalogue/`` and checks them; each problem is a
CatalogueError naming the file and the entry. Nothing else reads those files directly."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import hashlib
import json
import re
import unicodedata
from pathlib import Path

from pipeline.catalogue.layouts import load_layouts
from pipeline.catalogue.model import (
    DIRECTIONS,
    PERIOD_STATES,
    SHEET_NAME_FORBIDDEN,
    TYPES,
    UNIT_KINDS,
    UNITS_FILE,
    VALUE_COLUMN,
    Catalogue,
    CatalogueError,
    Column,
    Form,
    Headline,
    Item,
    Period,
    Project,
    Ref,
    Rule,
    SubProject,
    Target,
    Term,
    Unit,
)
from pipeline.catalogue.report_text import load_report_text
from pipeline.catalogue.sources import REF, check_ref, parse_ref, parse_rules, parse_sum, read_toml, relative_name, require
from pipeline.text import ERROR, WARNING, Severity
from pipeline.catalogue.contract import FIXED_SHEETS

CATALOGUE_DIR = Path(__file__).parent

# --------------------------------------------------------------------------- loading


def load_catalogue(directory: Path | str = CATALOGUE_DIR, units_file: Path | str | None = None) -> Catalogue:
    """Load and check the whole catalogue; raise CatalogueError naming the file and entry.

    ``units_file`` replaces the catalogue's unit list (same columns as units.csv), for a
    province's or the country's register of units."""
    directory = Path(directory)
    projects = _load_projects(directory)
    units = _load_units(Path(units_file) if units_file else directory / UNITS_FILE)
    forms = {}
    for path in sorted((directory / "forms").glob("*.toml")):
        form = _load_form(path, directory, projects, forms)
        if form.code in forms:
            raise CatalogueError(relative_name(path, directory), form.code, "mã biểu bị trùng")
        forms[form.code] = form
    district = read_toml(directory / "district.toml", directory)
    headline = district.pop("headline", [])
    catalogue = Catalogue(
        forms=forms,
        projects=projects,
        targets=_load_targets(directory),
        units=units,
        periods=_load_periods(directory),
        district=district,
    )
    _check(catalogue, directory)
    catalogue = dataclasses.replace(catalogue, bieu=load_layouts(directory, catalogue),
                                    headline=_headline(catalogue, headline), version=catalogue_version(catalogue))
    return dataclasses.replace(catalogue, report=load_report_text(directory, catalogue))


_CACHE: dict[str, Catalogue] = {}


def default_catalogue(units_file: Path | str | None = None) -> Catalogue:
    """The project's own catalogue (with another unit list if given), loaded once per process."""
    key = str(units_file or "")
    if key not in _CACHE:
        _CACHE[key] = load_catalogue(CATALOGUE_DIR, units_file)
    return _CACHE[key]


def _load_projects(directory: Path) -> tuple[Project, ...]:
    file = "programme.toml"
    data = read_toml(directory / file, directory)
    projects = []
    for p in data.get("projects", []):
        code = require(p, "code", file, str(p))
        subs = tuple(
            SubProject(
                require(s, "code", file, code), require(s, "name", file, code),
                require(s, "form", file, code), code,
            )
            for s in p.get("sub_projects", [])
        )
        if not subs:
            raise CatalogueError(file, code, "dự án không có tiểu dự án nào")
        projects.append(Project(code, require(p, "name", file, code), subs))
    return tuple(projects)


def _load_units(path: Path) -> tuple[Unit, ...]:
    file = path.name
    try:
        with path.open(encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
    except FileNotFoundError:
        raise CatalogueError(file, "-", "thiếu tệp") from None
    units = []
    for n, row in enumerate(rows, start=2):
        entry = f"dòng {n}"
        units.append(
            Unit(
                code=require(row, "ma_don_vi", file, entry).strip(),
                name=require(row, "ten_don_vi", file, entry).strip(),
                kind=require(row, "kieu", file, entry).strip(),
                area=(row.get("khu_vuc") or "").strip(),
                district_code=(row.get("ma_huyen") or "").strip(),
                district_name=(row.get("ten_huyen") or "").strip(),
                province_code=(row.get("ma_tinh") or "").strip(),
                province_name=(row.get("ten_tinh") or "").strip(),
                valid_from=(row.get("valid_from") or "").strip(),
                valid_to=(row.get("valid_to") or "").strip(),
            )
        )
    return tuple(units)


def _load_form(path: Path, directory: Path, projects, forms_so_far: dict[str, Form]) -> Form:
    file = relative_name(path, directory)
    data = read_toml(path, directory)
    code = str(require(data, "code", file, path.stem))
    sub_project = data.get("sub_project")
    grid = data.get("grid") == "sub_projects"
    sub_projects = {s.code: s for p in projects for s in p.sub_projects}
    if sub_project is not None and sub_project not in sub_projects:
        raise CatalogueError(file, code, f'tiểu dự án "{sub_project}" không có trong programme.toml')
    title = data.get("title") or (sub_projects[sub_project].name if sub_project else "")
    if not title:
        raise CatalogueError(file, code, 'thiếu trường "title"')

    source = data
    if "same_items_as" in data:
        twin = data["same_items_as"]
        if twin not in forms_so_far or forms_so_far[twin].is_grid:
            raise CatalogueError(file, code, f'"same_items_as" chỉ tới biểu "{twin}" không có (hoặc chưa đứng trước)')
        source = read_toml(directory / forms_so_far[twin].source, directory)

    if grid:
        items = tuple(Item(s.code, s.name, "triệu đồng", "money") for s in sub_projects.values())
        columns = tuple(_load_column(c, code, file) for c in require(data, "columns", file, code))
    else:
        items = tuple(_load_item(i, code, file) for i in require(source, "items", file, code))
        columns = (Column(VALUE_COLUMN, "Giá trị", type=""),)

    rules: list[Rule] = []
    for r in source.get("rules", []):
        text = require(r, "rule", file, str(r))
        severity = r.get("severity", ERROR)
        if severity not in tuple(Severity):
            raise CatalogueError(file, text, f'mức độ phải là "{ERROR}" hoặc "{WARNING}"')
        rules += parse_rules(text, code, grid, file, r.get("message", ""), severity)
    for item in items:
        if item.parent:
            rules.append(
                Rule(f"{item.code} <= {item.parent}", (Term(Ref(code, item.code), 1),), "<=",
                     (Term(Ref(code, item.parent), 1),), ""),
            )
    return Form(
        code=code,
        total_column=str(require(data, "total_column", file, code)) if grid else "",
        sheet=require(data, "sheet", file, code),
        title=title,
        reported_by=frozenset(require(data, "reported_by", file, code)),
        items=items,
        columns=columns,
        rules=tuple(rules),
        sub_project=sub_project,
        is_grid=grid,
        source=file,
    )


def _load_item(entry: dict, form: str, file: str) -> Item:
    code = require(entry, "code", file, str(entry))
    formula = entry.get("formula")
    return Item(
        code=code,
        label=require(entry, "label", file, code),
        unit=require(entry, "unit", file, code),
        type=require(entry, "type", file, code),
        parent=entry.get("parent"),
        formula=parse_sum(formula, form, False, file, code) if formula else None,
    )


def _load_column(entry: dict, form: str, file: str) -> Column:
    code = require(entry, "code", file, str(entry))
    formula = entry.get("formula")
    label = require(entry, "label", file, code)
    return Column(
        code=code,
        label=label,
        type=require(entry, "type", file, code),
        unit=entry.get("unit", ""),
        group=entry.get("group", ""),
        full_label=entry.get("full_label", label),
        formula=parse_sum(formula, form, True, file, code) if formula else None,
    )


def _load_targets(directory: Path) -> tuple[Target, ...]:
    file = "targets.toml"
    data = read_toml(directory / file, directory)
    targets = []
    for t in data.get("targets", []):
        code = require(t, "code", file, str(t))
        kind = require(t, "kind", file, code)
        if kind not in ("rate", "sum"):
            raise CatalogueError(file, code, 'loại chỉ tiêu phải là "rate" hoặc "sum"')
        denominator = t.get("denominator")
        if (kind == "rate") != bool(denominator):
            raise CatalogueError(file, code, 'chỉ tiêu "rate" cần mẫu số, chỉ tiêu "sum" thì không')
        targets.append(
            Target(
                code=code,
                label=require(t, "label", file, code),
                unit=require(t, "unit", file, code),
                kind=kind,
                numerator=parse_sum(require(t, "numerator", file, code), "", False, file, code),
                denominator=parse_sum(denominator, "", False, file, code) if denominator else (),
                direction=require(t, "direction", file, code),
            )
        )
    return tuple(targets)


def _load_periods(directory: Path) -> dict[str, Period]:
    file = "periods.toml"
    data = read_toml(directory / file, directory)
    periods = {}
    for p in data.get("periods", []):
        key = str(require(p, "key", file, str(p)))
        if key in periods:
            raise CatalogueError(file, key, "kỳ báo cáo bị trùng")
        for date_key in ("report_date", "deadline"):
            if not isinstance(require(p, date_key, file, key), dt.date):
                raise CatalogueError(file, key, f'"{date_key}" phải là ngày dạng 2023-08-15')
        periods[key] = Period(key, p.get("label", key), p["report_date"], p["deadline"], require(p, "state", file, key))
    return periods


# --------------------------------------------------------------------------- checking


def _check(cat: Catalogue, directory: Path) -> None:
    _check_units(cat)
    for period in cat.periods.values():
        if period.state not in PERIOD_STATES:
            raise CatalogueError("periods.toml", period.key, f'trạng thái phải là một trong {PERIOD_STATES}')
    sub_forms = {s.form: s for s in cat.sub_projects}
    if len(sub_forms) != len(cat.sub_projects) or len({s.code for s in cat.sub_projects}) != len(cat.sub_projects):
        raise CatalogueError("programme.toml", "-", "mã tiểu dự án hoặc mã biểu bị trùng")
    sheets = {name.casefold() for name in FIXED_SHEETS}
    for form in cat.forms.values():
        file = form.source
        _check_form(cat, form, file)
        if form.sheet.casefold() in sheets:
            raise CatalogueError(file, form.sheet, "tên sheet bị trùng với biểu khác hoặc với sheet cố định của mẫu")
        sheets.add(form.sheet.casefold())
        if form.sub_project and sub_forms.get(form.code, None) is None:
            raise CatalogueError(file, form.code, "programme.toml không gán biểu này cho tiểu dự án nào")
        if form.sub_project and sub_forms[form.code].code != form.sub_project:
            raise CatalogueError(file, form.code, f'programme.toml gán biểu này cho "{sub_forms[form.code].code}"')
    for s in cat.sub_projects:
        if s.form not in cat.forms:
            raise CatalogueError("programme.toml", s.code, f'biểu "{s.form}" không có trong forms/')
    codes = [t.code for t in cat.targets]
    for t in cat.targets:
        if codes.count(t.code) > 1:
            raise CatalogueError("targets.toml", t.code, "mã chỉ tiêu bị trùng")
        if t.direction not in DIRECTIONS:
            raise CatalogueError("targets.toml", t.code, f"hướng phải là một trong {DIRECTIONS}")
        for term in t.numerator + t.denominator:
            if not term.ref.form:
                raise CatalogueError("targets.toml", t.code, f'"{term.ref.row}" phải ghi kèm mã biểu, ví dụ "01:HO_NGHEO"')
            check_ref(cat, term.ref, "targets.toml", t.code)
    _check_nfc(directory)


def _headline(cat: Catalogue, entries) -> tuple[Headline, ...]:
    """The district figures shown with the consolidation (``headline`` in district.toml)."""
    file = "district.toml"
    figures = []
    for entry in entries:
        label = require(entry, "label", file, f"headline {entry}")
        text = str(require(entry, "ref", file, label))
        if not re.fullmatch(REF, text) or ":" not in text:
            raise CatalogueError(file, label, f'"{text}" phải là một ô ghi kèm mã biểu, ví dụ "01:HO_TONG"')
        ref = parse_ref(text, "", False)
        check_ref(cat, ref, file, label)
        figures.append(Headline(label, ref))
    return tuple(figures)


def _check_units(cat: Catalogue) -> None:
    seen: set[str] = set()
    for u in cat.units:
        if u.code in seen:
            raise CatalogueError("units.csv", u.code, "mã đơn vị bị trùng")
        seen.add(u.code)
        if u.kind not in UNIT_KINDS:
            raise CatalogueError("units.csv", u.code, f'kiểu đơn vị "{u.kind}" phải là một trong {UNIT_KINDS}')


def _check_form(cat: Catalogue, form: Form, file: str) -> None:
    name = form.sheet
    if not name or len(name) > 31 or SHEET_NAME_FORBIDDEN & set(name) or name[0] == "'" or name[-1] == "'":
        raise CatalogueError(file, name, "tên sheet phải có 1–31 ký tự, không chứa [ ] : * ? / \\ và không bắt đầu hay kết thúc bằng dấu '")
    for kind in form.reported_by:
        if kind not in UNIT_KINDS:
            raise CatalogueError(file, form.code, f'kiểu đơn vị "{kind}" phải là một trong {UNIT_KINDS}')
    item_codes = [i.code for i in form.items]
    column_codes = [c.code for c in form.columns]
    for codes in (item_codes, column_codes):
        for code in codes:
            if codes.count(code) > 1:
                raise CatalogueError(file, code, "mã bị trùng trong biểu")
    for item in form.items:
        if item.type not in TYPES:
            raise CatalogueError(file, item.code, f'kiểu "{item.type}" phải là một trong {TYPES}')
        if item.parent is not None and (item.parent not in item_codes or item.parent == item.code):
            raise CatalogueError(file, item.code, f'chỉ tiêu cha "{item.parent}" không có trong biểu {form.code}')
        for term in item.formula or ():
            check_ref(cat, term.ref, file, item.code)
            if term.ref.form != form.code:
                raise CatalogueError(file, item.code, "công thức chỉ được dùng chỉ tiêu của chính biểu này")
    if form.is_grid and form.total_column not in column_codes:
        raise CatalogueError(file, "total_column", f'cột tổng "{form.total_column}" không có trong biểu {form.code}')
    for column in form.columns:
        if form.is_grid and column.type not in TYPES:
            raise CatalogueError(file, column.code, f'kiểu "{column.type}" phải là một trong {TYPES}')
        for term in column.formula or ():
            if term.ref.column not in column_codes or term.ref.form != form.code:
                raise CatalogueError(file, column.code, f'công thức nhắc tới cột "{term.ref.column}" không có')
    for code in item_codes + column_codes:
        _check_acyclic(cat, form, code, file)
    for rule in form.rules:
        for term in rule.left + rule.right:
            check_ref(cat, term.ref, file, rule.text)


def _check_acyclic(cat: Catalogue, form: Form, code: str, file: str) -> None:
    seen: set[str] = set()
    stack = [code]
    while stack:
        current = stack.pop()
        if form.is_grid:
            entry = next((c for c in form.columns if c.code == current), None)
            refs = [t.ref.column for t in (entry.formula or ())] if entry else []
        else:
            entry = next((i for i in form.items if i.code == current), None)
            refs = [t.ref.row for t in (entry.formula or ())] if entry else []
        for ref in refs:
            if ref == code:
                raise CatalogueError(file, code, "công thức tự tham chiếu vòng")
            if ref not in seen:
                seen.add(ref)
                stack.append(ref)


def _check_nfc(directory: Path) -> None:
    for path in sorted(directory.rglob("*")):
        if path.suffix not in (".toml", ".csv"):
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if unicodedata.normalize("NFC", line) != line:
                raise CatalogueError(relative_name(path, directory), f"dòng {n}", "chữ chưa chuẩn hoá Unicode NFC (dấu tiếng Việt tổ hợp)")


# --------------------------------------------------------------------------- version


# A rule's severity as the version has always hashed it, so that templates keep their version.
VERSION_SEVERITY = {ERROR: "error", WARNING: "warning"}


def catalogue_version(cat: Catalogue) -> str:
    """A hash of codes, types, rules and scopes (not labels): templates carry it."""
    shape = [
        {
            "form": f.code,
            "grid": f.is_grid,
            "reported_by": sorted(f.reported_by),
            "items": [[i.code, i.type, i.parent, _terms_text(i.formula)] for i in f.items],
            "columns": [[c.code, c.type, _terms_text(c.formula)] for c in f.columns],
            "rules": [[_terms_text(r.left), r.op, _terms_text(r.right), VERSION_SEVERITY[r.severity]] for r in f.rules],
        }
        for f in sorted(cat.forms.values(), key=lambda f: f.code)
    ]
    digest = hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()
    return digest[:12]


def _terms_text(terms: tuple[Term, ...] | None) -> str | None:
    if terms is None:
        return None
    return " ".join(f"{'+' if t.sign > 0 else '-'}{t.ref}" for t in terms)
