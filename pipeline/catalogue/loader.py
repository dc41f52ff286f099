"""Loads the data files under ``pipeline/catalogue/`` and checks them; each problem is a
CatalogueError naming the file and the entry. Nothing else reads those files directly."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import os
import re
import unicodedata
from pathlib import Path

from pipeline.catalogue.contract import FIXED_SHEETS
from pipeline.catalogue.layouts import load_layouts
from pipeline.catalogue.lineage import load_lineage
from pipeline.catalogue.model import (
    DEFAULT_RESTATE,
    LINEAGE_FILE,
    SHEET_NAME_FORBIDDEN,
    Body,
    UNITS_FILE,
    VALUE_COLUMN,
    Catalogue,
    CatalogueError,
    Column,
    PHASE,
    Form,
    Headline,
    Item,
    Period,
    Programme,
    Project,
    Ref,
    Regime,
    Rule,
    Standard,
    SubProject,
    Target,
    Term,
    Unit,
)
from pipeline.catalogue.phase import load_phase_rules
from pipeline.catalogue.report_text import load_report_text
from pipeline.catalogue.schema import (
    ColumnEntry,
    DistrictFile,
    FormFile,
    HeadlineEntry,
    ItemEntry,
    PeriodsFile,
    ProgrammeFile,
    RegimesFile,
    TargetsFile,
    UnitRow,
    day_of,
    validated,
)
from pipeline.catalogue.sources import REF, check_ref, parse_ref, parse_rules, parse_sum, read_toml, relative_name, required
from pipeline.text import ERROR, WARNING

CATALOGUE_DIR = Path(__file__).parent
REGIMES_FILE = "regimes.toml"

# --------------------------------------------------------------------------- loading


def load_catalogue(directory: Path | str = CATALOGUE_DIR, units_file: Path | str | None = None) -> Catalogue:
    """Load and check the whole catalogue; raise CatalogueError naming the file and entry.

    The catalogue returned is the form set kept in ``directory`` itself; every form set of
    regimes.toml is loaded beside it (``Catalogue.for_period``). ``units_file`` replaces the
    catalogue's unit list (same columns as units.csv), for a province's or the country's
    register of units."""
    directory = Path(directory)
    units = _load_units(Path(units_file) if units_file else directory / UNITS_FILE)
    _check_units(units)
    # A unit list given instead of units.csv has its lineage beside it, or none (a register that states no change).
    lineage = load_lineage(Path(units_file).with_name(LINEAGE_FILE) if units_file else directory / LINEAGE_FILE,
                           units, required=not units_file)
    periods = _load_periods(directory)
    raw_district = read_toml(directory / "district.toml", directory)
    district = validated(DistrictFile, raw_district, "district.toml")
    regimes, folders = _load_regimes(directory, periods)
    shared = {"units": units, "lineage": lineage, "periods": periods, "regimes": regimes,
              "district": {key: value for key, value in raw_district.items() if key != "headline"}}  # validated above
    form_sets = {}
    for key, folder in folders.items():
        try:
            form_sets[key] = _load_form_set(folder, key, shared, district.headline, own_units=units_file is None)
        except CatalogueError as e:  # a file of another form set: named from the catalogue folder
            if folder == directory:
                raise
            raise CatalogueError(Path(os.path.relpath(folder / e.file, directory)).as_posix(), e.entry, e.message) from None
    for catalogue in form_sets.values():
        catalogue._form_sets.update(form_sets)
    return next(form_sets[key] for key, folder in folders.items() if folder == directory)


def _load_form_set(directory: Path, key: str, shared: dict, headline: list[HeadlineEntry], own_units: bool) -> Catalogue:
    """One form set (catalogue version): its forms, projects, targets, Biểu and report wording
    from ``directory``, with the units, periods, regimes and district settings all share."""
    projects = _load_projects(directory)
    forms: dict[str, Form] = {}
    form_files: dict[str, FormFile] = {}
    for path in sorted((directory / "forms").glob("*.toml")):
        file = relative_name(path, directory)
        form_file = validated(FormFile, read_toml(path, directory), file, path.stem)
        form = _load_form(form_file, file, projects, form_files)
        if form.code in forms:
            raise CatalogueError(file, form.code, "mã biểu bị trùng")
        forms[form.code], form_files[form.code] = form, form_file
    catalogue = Catalogue(forms=forms, projects=projects, targets=_load_targets(directory), form_set=key, **shared)
    _check(catalogue, directory)
    catalogue = dataclasses.replace(catalogue, bieu=load_layouts(directory, catalogue),
                                    headline=_headline(catalogue, headline),
                                    version=catalogue_version(catalogue))
    return dataclasses.replace(catalogue, report=load_report_text(directory, catalogue, own_units),
                               phase=load_phase_rules(directory, catalogue))


def _load_regimes(directory: Path, periods: dict[str, Period]) -> tuple[tuple[Regime, ...], dict[str, Path]]:
    """The regimes of regimes.toml, checked: every name they use declared, no two in force on
    the same day, every period in exactly one; and the folder of each form set."""
    file = REGIMES_FILE
    data = validated(RegimesFile, read_toml(directory / file, directory), file)
    for table in ("form_sets", "programmes", "standards", "bodies", "regimes"):
        keys = [entry.key for entry in getattr(data, table)]
        for key in keys:
            if keys.count(key) > 1:
                raise CatalogueError(file, key, f"mã bị trùng trong [[{table}]]")
    folders = {entry.key: (directory / entry.directory).resolve() for entry in data.form_sets}
    for entry in data.form_sets:
        if not (folders[entry.key] / "forms").is_dir():
            raise CatalogueError(file, entry.key, f'bộ biểu không có thư mục "{entry.directory}/forms"')
    if list(folders.values()).count(directory.resolve()) != 1:
        raise CatalogueError(file, "form_sets", 'phải có đúng một bộ biểu nằm ngay trong thư mục danh mục (directory = ".")')
    folders = {key: directory if folder == directory.resolve() else folder for key, folder in folders.items()}
    programmes = {e.key: Programme(**e.model_dump()) for e in data.programmes}
    standards = {e.key: Standard(**e.model_dump()) for e in data.standards}
    bodies = {e.key: Body(**e.model_dump()) for e in data.bodies}
    regimes: list[Regime] = []
    for r in data.regimes:
        for table, known, name in (("programmes", programmes, r.programme), ("form_sets", folders, r.form_set),
                                   ("standards", standards, r.standard), ("bodies", bodies, r.body)):
            if name not in known:
                raise CatalogueError(file, r.key, f'"{name}" không có trong [[{table}]]')
        if r.end < r.start:
            raise CatalogueError(file, r.key, "ngày kết thúc (end) trước ngày bắt đầu (start)")
        regimes.append(Regime(r.key, r.start, r.end, programmes[r.programme], r.form_set, standards[r.standard],
                              bodies[r.body], r.forms_note))
    ordered = sorted(regimes, key=lambda r: r.start)
    for before, after in zip(ordered, ordered[1:]):
        if after.start <= before.end:
            raise CatalogueError(file, after.key, f'thời gian hiệu lực ({_day(after.start)} – {_day(after.end)}) trùng với '
                                                  f'chế độ "{before.key}" ({_day(before.start)} – {_day(before.end)})')
    for p in periods.values():
        if p.regime and not any(r.key == p.regime for r in regimes):
            raise CatalogueError("periods.toml", p.key, f'chế độ "{p.regime}" không có trong {file}')
        if not p.regime and not any(r.holds(p.report_date) for r in regimes):
            raise CatalogueError("periods.toml", p.key,
                                 f"ngày báo cáo {_day(p.report_date)} không thuộc chế độ nào trong {file}")
    return tuple(regimes), folders


def _day(date) -> str:
    return date.strftime("%d/%m/%Y")


_CACHE: dict[str, Catalogue] = {}


def default_catalogue(units_file: Path | str | None = None) -> Catalogue:
    """The project's own catalogue (with another unit list if given), loaded once per process."""
    key = str(units_file or "")
    if key not in _CACHE:
        _CACHE[key] = load_catalogue(CATALOGUE_DIR, units_file)
    return _CACHE[key]


def _load_projects(directory: Path) -> tuple[Project, ...]:
    file = "programme.toml"
    programme = validated(ProgrammeFile, read_toml(directory / file, directory), file)
    projects = []
    for p in programme.projects:
        if not p.sub_projects:
            raise CatalogueError(file, p.code, "dự án không có tiểu dự án nào")
        subs = tuple(SubProject(s.code, s.name, s.form, p.code) for s in p.sub_projects)
        projects.append(Project(p.code, p.name, subs))
    return tuple(projects)


def _load_units(path: Path) -> tuple[Unit, ...]:
    file = path.name
    units = []
    try:
        with path.open(encoding="utf-8", newline="") as f:
            for n, row in enumerate(csv.DictReader(f, restval=""), start=2):
                if None in row:  # csv's key for the cells beyond the header
                    raise CatalogueError(file, f"dòng {n}", "dòng có nhiều ô hơn dòng tiêu đề")
                u = validated(UnitRow, row, file, f"dòng {n}")
                units.append(Unit(u.ma_don_vi, u.ten_don_vi, u.kieu, u.khu_vuc, u.ma_huyen, u.ten_huyen, u.ma_tinh,
                                  u.ten_tinh, day_of(u.valid_from, file, f"dòng {n}", "valid_from"),
                                  day_of(u.valid_to, file, f"dòng {n}", "valid_to"), u.reports != "no",
                                  u.code_confirmed != "no", u.code_source))
    except FileNotFoundError:
        raise CatalogueError(file, "-", "thiếu tệp") from None
    return tuple(units)


def _load_form(form_file: FormFile, file: str, projects, form_files: dict[str, FormFile]) -> Form:
    """A form, from its file; ``form_files`` holds those read before it (a twin of ``same_items_as``)."""
    code = form_file.code
    grid = form_file.grid is not None
    sub_projects = {s.code: s for p in projects for s in p.sub_projects}
    if form_file.sub_project is not None and form_file.sub_project not in sub_projects:
        raise CatalogueError(file, code, f'tiểu dự án "{form_file.sub_project}" không có trong programme.toml')
    title = form_file.title or (sub_projects[form_file.sub_project].name if form_file.sub_project else "")
    if not title:
        raise CatalogueError(file, code, 'thiếu trường "title"')
    keys, why = _unused_keys(form_file)
    unused = sorted(form_file.model_fields_set & keys)
    if unused:
        raise CatalogueError(file, code, f'"{unused[0]}" {why}')

    source = form_file
    if form_file.same_items_as is not None:
        twin = form_file.same_items_as
        if twin not in form_files or form_files[twin].grid is not None:
            raise CatalogueError(file, code, f'"same_items_as" chỉ tới biểu "{twin}" không có (hoặc chưa đứng trước)')
        source = form_files[twin]

    if grid:
        items = tuple(Item(s.code, s.name, "triệu đồng", "money") for s in sub_projects.values())
        columns = tuple(_load_column(c, code, file) for c in required(form_file.columns, "columns", file, code))
    else:
        items = tuple(_load_item(i, code, file) for i in required(source.items, "items", file, code))
        columns = (Column(VALUE_COLUMN, "Giá trị", type=""),)

    rules: list[Rule] = []
    for r in source.rules:
        rules += parse_rules(r.rule, code, grid, file, r.message, r.severity)
    for item in items:
        if item.parent:
            rules.append(
                Rule(f"{item.code} <= {item.parent}", (Term(Ref(code, item.code), 1),), "<=",
                     (Term(Ref(code, item.parent), 1),), ""),
            )
    return Form(
        code=code,
        total_column=required(form_file.total_column, "total_column", file, code) if grid else "",
        sheet=form_file.sheet,
        title=title,
        reported_by=frozenset(form_file.reported_by),
        items=items,
        columns=columns,
        rules=tuple(rules),
        sub_project=form_file.sub_project,
        is_grid=grid,
        source=file,
    )


def _unused_keys(form_file: FormFile) -> tuple[set[str], str]:
    """The keys this kind of form (the grid, an item sheet, a copy of another's items) does
    not read, and why."""
    if form_file.grid is not None:
        return {"items", "same_items_as"}, 'không dùng cho biểu lưới (grid = "sub_projects")'
    if form_file.same_items_as is not None:
        return ({"items", "rules", "columns", "total_column"},
                f'không dùng cùng "same_items_as" (biểu lấy chỉ tiêu và quy tắc của biểu "{form_file.same_items_as}")')
    return {"columns", "total_column"}, 'chỉ dùng cho biểu lưới (grid = "sub_projects")'


def _load_item(entry: ItemEntry, form: str, file: str) -> Item:
    if entry.restate is not None and entry.type != "flag":
        raise CatalogueError(file, entry.code, '"restate" chỉ dùng cho chỉ tiêu có/không (type = "flag"): số đếm và '
                                               "tiền luôn được cộng")
    return Item(
        code=entry.code,
        label=entry.label,
        unit=entry.unit,
        type=entry.type,
        parent=entry.parent,
        formula=parse_sum(entry.formula, form, False, file, entry.code) if entry.formula else None,
        restate=entry.restate or (DEFAULT_RESTATE if entry.type == "flag" else ""),
    )


def _load_column(entry: ColumnEntry, form: str, file: str) -> Column:
    return Column(
        code=entry.code,
        label=entry.label,
        type=entry.type,
        unit=entry.unit,
        group=entry.group,
        full_label=entry.label if entry.full_label is None else entry.full_label,
        formula=parse_sum(entry.formula, form, True, file, entry.code) if entry.formula else None,
    )


def _load_targets(directory: Path) -> tuple[Target, ...]:
    file = "targets.toml"
    targets = []
    for t in validated(TargetsFile, read_toml(directory / file, directory), file).targets:
        if (t.kind == "rate") != (t.denominator is not None):
            raise CatalogueError(file, t.code, 'chỉ tiêu "rate" cần mẫu số, chỉ tiêu "sum" thì không')
        targets.append(
            Target(
                code=t.code,
                label=t.label,
                unit=t.unit,
                kind=t.kind,
                numerator=parse_sum(t.numerator, "", False, file, t.code),
                denominator=parse_sum(t.denominator, "", False, file, t.code) if t.denominator else (),
                direction=t.direction,
            )
        )
    return tuple(targets)


def _load_periods(directory: Path) -> dict[str, Period]:
    file = "periods.toml"
    periods = {}
    for p in validated(PeriodsFile, read_toml(directory / file, directory), file).periods:
        if p.key in periods:
            raise CatalogueError(file, p.key, "kỳ báo cáo bị trùng")
        if (p.kind == PHASE) != bool(p.years) or len(set(p.years)) != len(p.years):
            raise CatalogueError(file, p.key, f'"years" (các năm, không trùng) chỉ dùng và bắt buộc với kỳ loại "{PHASE}"')
        periods[p.key] = Period(p.key, p.key if p.label is None else p.label, p.report_date, p.deadline, p.state,
                                tuple(p.template_versions), p.regime or "", p.kind, tuple(p.years))
    return periods


# --------------------------------------------------------------------------- checking


def _check(cat: Catalogue, directory: Path) -> None:
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
        for term in t.numerator + t.denominator:
            if not term.ref.form:
                raise CatalogueError("targets.toml", t.code, f'"{term.ref.row}" phải ghi kèm mã biểu, ví dụ "01:HO_NGHEO"')
            check_ref(cat, term.ref, "targets.toml", t.code)
    _check_nfc(directory)


def _headline(cat: Catalogue, entries: list[HeadlineEntry]) -> tuple[Headline, ...]:
    """The district figures shown with the consolidation (``headline`` in district.toml)."""
    file = "district.toml"
    figures = []
    for entry in entries:
        if not re.fullmatch(REF, entry.ref) or ":" not in entry.ref:
            raise CatalogueError(file, entry.label, f'"{entry.ref}" phải là một ô ghi kèm mã biểu, ví dụ "01:HO_TONG"')
        ref = parse_ref(entry.ref, "", False)
        check_ref(cat, ref, file, entry.label)
        figures.append(Headline(entry.label, ref))
    return tuple(figures)


def _check_units(units: tuple[Unit, ...]) -> None:
    """A code may have several versions, one after the other: never two on the same day."""
    seen: dict[str, list] = {}
    for u in units:
        if u.valid_from and u.valid_to and u.valid_from > u.valid_to:
            raise CatalogueError(UNITS_FILE, u.code, f"ngày bắt đầu {u.valid_from:%d/%m/%Y} sau ngày kết thúc "
                                                     f"{u.valid_to:%d/%m/%Y}")
        for other in seen.get(u.code, ()):
            if _overlap(u, other):
                raise CatalogueError(UNITS_FILE, u.code, f'mã đơn vị bị trùng: "{other.name}" và "{u.name}" cùng có '
                                                         "hiệu lực trong một khoảng thời gian")
        seen.setdefault(u.code, []).append(u)


def _overlap(a: Unit, b: Unit) -> bool:
    """Whether two unit versions are valid on some common day."""
    return (a.valid_to is None or b.valid_from is None or b.valid_from <= a.valid_to) and (
        b.valid_to is None or a.valid_from is None or a.valid_from <= b.valid_to)


def _check_form(cat: Catalogue, form: Form, file: str) -> None:
    name = form.sheet
    if not name or len(name) > 31 or SHEET_NAME_FORBIDDEN & set(name) or name[0] == "'" or name[-1] == "'":
        raise CatalogueError(file, name, "tên sheet phải có 1–31 ký tự, không chứa [ ] : * ? / \\ và không bắt đầu hay kết thúc bằng dấu '")
    item_codes = [i.code for i in form.items]
    column_codes = [c.code for c in form.columns]
    for codes in (item_codes, column_codes):
        for code in codes:
            if codes.count(code) > 1:
                raise CatalogueError(file, code, "mã bị trùng trong biểu")
    for item in form.items:
        if item.parent is not None and (item.parent not in item_codes or item.parent == item.code):
            raise CatalogueError(file, item.code, f'chỉ tiêu cha "{item.parent}" không có trong biểu {form.code}')
        for term in item.formula or ():
            check_ref(cat, term.ref, file, item.code)
            if term.ref.form != form.code:
                raise CatalogueError(file, item.code, "công thức chỉ được dùng chỉ tiêu của chính biểu này")
    if form.is_grid and form.total_column not in column_codes:
        raise CatalogueError(file, "total_column", f'cột tổng "{form.total_column}" không có trong biểu {form.code}')
    for column in form.columns:
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
