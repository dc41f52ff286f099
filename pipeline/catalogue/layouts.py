"""Loads the layouts of the published Biểu (``bieu/*.toml``) and checks them against the
forms, the programme and the targets: each problem is a CatalogueError naming the file
and the entry. ``bieu/sub_project.toml`` is the layout of every sub-project's Biểu, a
``bieu/<code>.toml`` overrides it for one form or declares a Biểu of its own. The result
is fully expanded (one column per item, per target…), so the table builder only reads it."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Literal

from pipeline.catalogue.batches import LEVEL_LABELS
from pipeline.catalogue.contract import PLAN_COLUMNS
from pipeline.catalogue.model import (
    SAME_ROW,
    SHEET_NAME_FORBIDDEN,
    Bieu,
    Catalogue,
    CatalogueError,
    Form,
    LayoutColumn,
    LayoutTable,
    SubProject,
)
from pipeline.catalogue.schema import Model, Text, validated
from pipeline.catalogue.sources import REF, check_ref, parse_ref, read_toml, relative_name, required

LAYOUT_DIR = "bieu"
SHARED_LAYOUT = "sub_project.toml"
ROWS = ("targets", "units", "programme")
SHOWS = ("number", "label", "unit", "assessment")
TARGET_SHOWS = ("unit", "assessment")  # only rows about a target have them
EACH = ("item", "column", "rate_target")
KINDS = ("count", "money", "rate", "flag", "text", "row")
SOURCES = ("show", "ref", "target", "plan", "rate", "sum", "each")
EACH_KEYS = {"each", "label", "group"}  # all that a column of "each" takes
WHO = ("who", "Who", "WHO", "level", "LEVEL")  # filled in when a table is built: the level of its rows; of its body
REF_TEXT = re.compile(rf"^(?:{REF}|[0-9]{{2}}:\*:[A-Z0-9_]+)$")


class RateEntry(Model):
    numerator: Text
    denominator: Text


class LayoutColumnEntry(Model):
    """A column of a layout's table: exactly one source (``SOURCES``) and how it prints."""

    key: Text | None = None  # the ref's item or column code by default
    label: str | None = None
    group: str | None = None
    kind: Text | None = None  # checked once expanded: a sum takes the kind of its columns
    empty: str = ""
    assessed_only: bool = False
    previous: str | None = None
    show: Literal[SHOWS] | None = None
    ref: Text | None = None
    target: Text | None = None
    plan: Text | None = None
    rate: RateEntry | None = None
    sum: list[Text] | None = None
    each: Literal[EACH] | None = None


class TotalEntry(Model):
    label: Text
    label_grouped: str | None = None  # the label by default
    first: bool = False


class ChartEntry(Model):
    column: Text
    title: Text


class TableEntry(Model):
    sheet: Text
    title: Text
    unit_note: Text
    rows: Literal[ROWS]
    form: Text | None = None
    columns: list[LayoutColumnEntry]
    total: TotalEntry | None = None
    chart: ChartEntry | None = None
    include_nonzero: list[Text] = []
    summary: str = ""
    summary_without_plan: str = ""
    notes: list[str] = []


class SharedLayout(Model):
    """``bieu/sub_project.toml``: the layout of every sub-project's Biểu."""

    title: Text
    tables: list[TableEntry]


class LayoutFile(Model):
    """``bieu/<code>.toml``: a Biểu of its own, or what it changes of the shared layout for
    one sub-project's form."""

    code: Text
    title: Text | None = None
    tables: list[TableEntry] | None = None


Layers = list[tuple[str, SharedLayout | LayoutFile]]  # (file, its layout), the shared one first


def who_fields(level_label: str) -> dict[str, str]:
    """The {who} placeholders for rows of this kind of unit ("đơn vị", "huyện", "tỉnh")."""
    return {"who": level_label, "Who": level_label.capitalize(), "WHO": level_label.upper()}


def load_layouts(directory: Path, catalogue: Catalogue) -> dict[str, Bieu]:
    """Every published Biểu, in code order."""
    shared: tuple[str, SharedLayout] | None = None
    own: dict[str, tuple[str, LayoutFile]] = {}
    for path in sorted((directory / LAYOUT_DIR).glob("*.toml")):
        file, data = relative_name(path, directory), read_toml(path, directory)
        if path.name == SHARED_LAYOUT:
            shared = (file, validated(SharedLayout, data, file))
            continue
        layout = validated(LayoutFile, data, file, f"Biểu {path.stem}")
        if layout.code in own:
            raise CatalogueError(file, layout.code, f'mã biểu bị trùng với tệp "{own[layout.code][0]}"')
        own[layout.code] = (file, layout)
    bieu: dict[str, Bieu] = {}
    for form in catalogue.forms.values():
        if not form.sub_project:
            continue
        layers = [layer for layer in (shared, own.pop(form.code, None)) if layer]
        if not layers:
            raise CatalogueError(f"{LAYOUT_DIR}/{SHARED_LAYOUT}", form.code, "biểu của tiểu dự án chưa có bố cục")
        bieu[form.code] = _bieu(catalogue, form.code, layers, form)
    for code, layer in own.items():
        bieu[code] = _bieu(catalogue, code, [layer], None)
    _check_sheets(bieu)
    return dict(sorted(bieu.items()))


def _sub_project(catalogue: Catalogue, form: Form) -> SubProject:
    return next(s for s in catalogue.sub_projects if s.code == form.sub_project)


def _layer(layers: Layers, key: str, code: str):
    """The file and the value of ``key`` in the last layer that sets it."""
    file, value = next(((file, getattr(layout, key)) for file, layout in reversed(layers)
                        if getattr(layout, key) is not None), (layers[-1][0], None))
    return file, required(value, key, file, code)


def _bieu(catalogue: Catalogue, code: str, layers: Layers, form: Form | None) -> Bieu:
    fields = {"code": code}
    if form is not None:
        sub = _sub_project(catalogue, form)
        project = next(p for p in catalogue.projects if p.code == sub.project)
        within = sub.name if sub.name == project.name else f"{project.name}\n{sub.name}"  # a sub-project under its project
        fields |= {"sub_project": sub.name, "SUB_PROJECT": sub.name.upper(), "project": project.name,
                   "PROJECT": project.name.upper(), "WITHIN_PROJECT": within.upper()}
    title_file, title = _layer(layers, "title", code)
    file, tables_data = _layer(layers, "tables", code)
    tables = tuple(_table(catalogue, t, fields, form, file, f"Biểu {code}, bảng {n}")
                   for n, t in enumerate(tables_data, start=1))
    forms: set[str] = set()  # every form whose cells it prints: the units that report them are expected
    for table in tables:
        if table.rows == "targets":
            forms |= {t.ref.form for target in catalogue.targets for t in target.numerator + target.denominator}
        else:
            forms.add(table.form)
        forms |= {column.ref.form for column in table.columns if column.ref is not None}
    return Bieu(code, _fill(title, fields, title_file, code), tables, tuple(sorted(forms)),
                form.sub_project if form else None, ", ".join(file for file, _ in layers))


def _fill(text: str, fields: dict[str, str], file: str, entry: str) -> str:
    """Fill the placeholders known now; {who}… stay for the builder."""
    try:
        return text.format_map({**{w: "{" + w + "}" for w in WHO}, **fields})
    except KeyError as e:
        raise CatalogueError(file, entry, f'chỗ điền {{{e.args[0]}}} trong "{text}" không có') from None
    except (ValueError, IndexError):
        raise CatalogueError(file, entry, f'dấu ngoặc {{ }} trong "{text}" không đúng') from None


def _table(catalogue: Catalogue, data: TableEntry, fields: dict[str, str], sub_form: Form | None, file: str,
           entry: str) -> LayoutTable:
    rows = data.rows
    form = _table_form(catalogue, data, sub_form, file, entry)
    columns = _columns(catalogue, data.columns, rows, form, sub_form, fields, file, entry)
    numbers = {c.key for c in columns if not c.show}
    total = data.total
    if rows != "targets" and total is None:
        raise CatalogueError(file, entry, 'thiếu dòng tổng: total = { label = "TỔNG CỘNG" }')
    for key in data.include_nonzero:
        if key not in numbers:
            raise CatalogueError(file, entry, f'"include_nonzero" nhắc tới cột số "{key}" không có trong bảng')
    if data.include_nonzero and rows != "units":
        raise CatalogueError(file, entry, '"include_nonzero" chỉ dùng cho bảng theo đơn vị (rows = "units")')
    chart = None
    if data.chart is not None:
        if data.chart.column not in numbers:
            raise CatalogueError(file, entry, f'biểu đồ nhắc tới cột số "{data.chart.column}" không có trong bảng')
        chart = (data.chart.column, _fill(data.chart.title, fields, file, entry))
    if data.summary and rows != "targets":
        raise CatalogueError(file, entry, '"summary" chỉ dùng cho bảng chỉ tiêu (rows = "targets")')
    try:
        data.summary.format(met=0, targets=0, not_assessed=0)
    except (KeyError, ValueError, IndexError):
        raise CatalogueError(file, entry, f'"summary" chỉ được dùng {{met}}, {{targets}}, {{not_assessed}}: '
                                          f'"{data.summary}"') from None
    if not any(c.show == "label" for c in columns):
        raise CatalogueError(file, entry, 'bảng cần một cột tên dòng: { key = "label", show = "label" }')
    total_label, grouped = ("", "") if total is None else (
        total.label, total.label if total.label_grouped is None else total.label_grouped)
    return LayoutTable(
        sheet=_fill(data.sheet, fields, file, entry),
        title=_fill(data.title, fields, file, entry),
        unit_note=_fill(data.unit_note, fields, file, entry),
        rows=rows, form=form.code if form else "", columns=columns,
        total_label=_fill(total_label, fields, file, entry),
        total_label_grouped=_fill(grouped, fields, file, entry),
        total_first=total is not None and total.first, include_nonzero=tuple(data.include_nonzero), chart=chart,
        summary=data.summary, summary_without_plan=data.summary_without_plan,
        notes=tuple(_fill(n, fields, file, entry) for n in data.notes),
    )


def _table_form(catalogue: Catalogue, data: TableEntry, sub_form: Form | None, file: str, entry: str) -> Form | None:
    code = data.form
    if code is None and data.rows == "units" and sub_form is not None:
        return sub_form
    if code is None:
        if data.rows == "targets":
            return None
        raise CatalogueError(file, entry, 'thiếu trường "form" (biểu có đơn vị báo cáo hoặc lưới nguồn vốn)')
    form = catalogue.forms.get(code)
    if form is None:
        raise CatalogueError(file, entry, f'biểu "{code}" không có trong forms/')
    if data.rows == "programme" and not form.is_grid:
        raise CatalogueError(file, entry, f'bảng theo chương trình cần biểu lưới tiểu dự án (grid = "sub_projects"), "{code}" không phải')
    return form


def _columns(catalogue: Catalogue, entries: list[LayoutColumnEntry], rows: str, form: Form | None, sub_form: Form | None,
             fields: dict[str, str], file: str, entry: str) -> tuple[LayoutColumn, ...]:
    named = {e.ref for e in entries if e.ref is not None}
    columns: list[LayoutColumn] = []
    for n, data in enumerate(entries, start=1):
        where = f"{entry}, cột {data.key or data.ref or data.each or n}"
        sources = [s for s in SOURCES if s in data.model_fields_set]
        if len(sources) != 1:
            raise CatalogueError(file, where, f"mỗi cột cần đúng một nguồn số liệu trong {SOURCES}")
        if sources[0] == "each":
            columns += _each(catalogue, data, rows, form, named, fields, file, where)
        else:
            columns.append(_column(catalogue, data, sources[0], rows, form, sub_form, fields, file, where))
    keys = {c.key: c for c in columns}
    for n, column in enumerate(columns):
        if column.sum:
            missing = [key for key in column.sum if key not in keys or keys[key].show or keys[key].sum]
            if missing:
                raise CatalogueError(file, f"{entry}, cột {column.key}", f'tổng nhắc tới cột số "{missing[0]}" không có '
                                                                        "trong bảng (hoặc là một cột tổng khác)")
            columns[n] = dataclasses.replace(column, kind=column.kind or keys[column.sum[0]].kind)
    seen: dict[str, LayoutColumn] = {}
    for column in columns:
        if column.key in seen:
            raise CatalogueError(file, f"{entry}, cột {column.key}", "khóa cột bị trùng trong bảng")
        if column.kind not in KINDS:
            raise CatalogueError(file, f"{entry}, cột {column.key}", f'kiểu "{column.kind}" phải là một trong {KINDS}')
        if column.kind == "row" and rows != "targets":
            raise CatalogueError(file, f"{entry}, cột {column.key}", 'kiểu "row" chỉ dùng cho bảng chỉ tiêu')
        seen[column.key] = column
    for column in columns:
        for key in column.rate or ():
            if key not in seen or seen[key].show:
                raise CatalogueError(file, f"{entry}, cột {column.key}", f'tỷ lệ nhắc tới cột số "{key}" không có trong bảng')
    return tuple(columns)


def _label(data: LayoutColumnEntry, default: str, fields: dict[str, str], file: str, where: str) -> str:
    return _fill(default if data.label is None else data.label, fields, file, where)


def _column(catalogue: Catalogue, data: LayoutColumnEntry, source: str, rows: str, form: Form | None, sub_form: Form | None,
            fields: dict[str, str], file: str, where: str) -> LayoutColumn:
    group = _fill(data.group or "", fields, file, where)
    if data.previous is not None and source != "plan":
        raise CatalogueError(file, where, '"previous" chỉ dùng cho cột kế hoạch (plan = …)')
    if source == "ref":
        ref = _layout_ref(catalogue, data.ref, rows, form, sub_form, file, where)
        target = catalogue.forms[ref.form]
        if target.is_grid:
            column = target.column(ref.column)
            key, label, default_group, kind = column.code, column.label, column.group, column.type
        else:
            item = target.item(ref.row)
            key, label, default_group, kind = item.code, item.label, "", item.type
        return LayoutColumn(data.key or key, _label(data, label, fields, file, where),
                            _fill(default_group if data.group is None else data.group, fields, file, where),
                            data.kind or kind, ref=ref, empty=data.empty)
    key = required(data.key, "key", file, where)
    label = _label(data, required(data.label, "label", file, where), fields, file, where)
    common = {"group": group, "empty": data.empty}
    if source == "show":
        if data.show in TARGET_SHOWS and rows != "targets":
            raise CatalogueError(file, where, f'"show = {data.show}" chỉ dùng cho bảng chỉ tiêu (rows = "targets")')
        return LayoutColumn(key, label, kind=data.kind or "text", show=data.show, **common)
    if source == "target":
        if data.target == SAME_ROW:
            if rows != "targets":
                raise CatalogueError(file, where, '"target = *" chỉ dùng cho bảng chỉ tiêu (rows = "targets")')
            kind = "row"
        else:
            target = next((t for t in catalogue.targets if t.code == data.target), None)
            if target is None:
                raise CatalogueError(file, where, f'chỉ tiêu "{data.target}" không có trong targets.toml')
            kind = "rate" if target.kind == "rate" else "count"
        return LayoutColumn(key, label, kind=data.kind or kind, target=data.target, **common)
    if source == "plan":
        codes = [code for code, _ in PLAN_COLUMNS]
        if data.plan not in codes or rows != "targets":
            raise CatalogueError(file, where, f'"plan" phải là một trong {codes}, trong bảng chỉ tiêu')
        return LayoutColumn(key, label, kind=data.kind or "row", plan=data.plan, assessed_only=data.assessed_only,
                            previous=_fill(data.previous or "", fields, file, where), **common)
    if source == "sum":
        if len(data.sum) < 2:
            raise CatalogueError(file, where, 'tổng ghi dạng sum = ["KHÓA_CỘT_1", "KHÓA_CỘT_2", …] (ít nhất hai cột)')
        return LayoutColumn(key, label, kind=data.kind or "", sum=tuple(data.sum), **common)
    rate = (data.rate.numerator, data.rate.denominator)
    return LayoutColumn(key, label, kind=data.kind or "rate", rate=rate, **common)


def _layout_ref(catalogue: Catalogue, text: str, rows: str, form: Form | None, sub_form: Form | None, file: str,
                where: str):
    if not REF_TEXT.match(text):
        raise CatalogueError(file, where, f'không đọc được ô "{text}" (ví dụ "01:HO_TONG", "02:*:TONG")')
    if ":" not in text and form is None:
        raise CatalogueError(file, where, f'"{text}" phải ghi kèm mã biểu, ví dụ "01:{text}"')
    ref = parse_ref(text, form.code if form else "", bool(form and form.is_grid))
    check_ref(catalogue, ref, file, where)
    if ref.row == SAME_ROW and not (rows == "programme" or (rows == "units" and sub_form is not None)):
        raise CatalogueError(file, where, f'"{text}": dòng * (các tiểu dự án của dòng) chỉ dùng trong bảng theo chương '
                                          "trình hoặc trong biểu của tiểu dự án")
    return ref


def _each(catalogue: Catalogue, data: LayoutColumnEntry, rows: str, form: Form | None, named: set[str],
          fields: dict[str, str], file: str, where: str) -> list[LayoutColumn]:
    what = data.each
    extra = sorted(data.model_fields_set - EACH_KEYS)
    if extra:
        raise CatalogueError(file, where, f'cột "each" chỉ nhận label và group, không nhận "{extra[0]}"')
    group = _fill(data.group or "", fields, file, where)
    if what == "rate_target":
        return [LayoutColumn(t.code, _each_label(data, "{code}. {label}", fields, t.code, t.label, t.unit, file, where),
                             group, "rate", target=t.code) for t in catalogue.targets if t.kind == "rate"]
    if form is None or form.is_grid != (what == "column"):
        raise CatalogueError(file, where, f'"each = {what}" cần bảng của một biểu {"lưới" if what == "column" else "chỉ tiêu"}')
    if what == "item":
        return [LayoutColumn(i.code, _each_label(data, "{label}", fields, i.code, i.label, i.unit, file, where), group,
                             i.type, ref=parse_ref(i.code, form.code, False)) for i in form.items]
    return [LayoutColumn(c.code, _each_label(data, "{label}", fields, c.code, c.label, c.unit, file, where),
                         _fill(c.group if data.group is None else data.group, fields, file, where), c.type,
                         ref=parse_ref(c.code, form.code, True))
            for c in form.columns if c.code not in named and f"{form.code}:{SAME_ROW}:{c.code}" not in named]


def _each_label(data: LayoutColumnEntry, default: str, fields: dict[str, str], code: str, label: str, unit: str, file: str,
                where: str) -> str:
    return _fill(default if data.label is None else data.label, {**fields, "code": code, "label": label, "unit": unit},
                 file, where)


def _check_sheets(bieu: dict[str, Bieu]) -> None:
    """Sheet names, once {who} is filled in for every kind of row, are valid and unique
    across all Biểu (the all-in-one workbook holds every sheet)."""
    for level_label in LEVEL_LABELS.values():
        seen: dict[str, str] = {}
        for code, b in bieu.items():
            for table in b.tables:
                name = table.sheet.format_map(who_fields(level_label))
                if not name or len(name) > 31 or SHEET_NAME_FORBIDDEN & set(name) or name[0] == "'" or name[-1] == "'":
                    raise CatalogueError(b.source, f"Biểu {code}, sheet {name}",
                                         "tên sheet phải có 1–31 ký tự, không chứa [ ] : * ? / \\ và không bắt đầu "
                                         "hay kết thúc bằng dấu '")
                if name.casefold() in seen:
                    raise CatalogueError(b.source, f"Biểu {code}, sheet {name}", f"tên sheet trùng với Biểu {seen[name.casefold()]}")
                seen[name.casefold()] = code
