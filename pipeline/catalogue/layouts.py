"""Loads the layouts of the published Biểu (``bieu/*.toml``) and checks them against the
forms, the programme and the targets: each problem is a CatalogueError naming the file
and the entry. ``bieu/sub_project.toml`` is the layout of every sub-project's Biểu, a
``bieu/<code>.toml`` overrides it for one form or declares a Biểu of its own. The result
is fully expanded (one column per item, per target…), so the table builder only reads it."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from pipeline.catalogue.batches import LEVEL_LABELS
from pipeline.catalogue.sources import REF, check_ref, parse_ref, read_toml, relative_name, require
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
from pipeline.catalogue.contract import PLAN_COLUMNS

LAYOUT_DIR = "bieu"
SHARED_LAYOUT = "sub_project.toml"
ROWS = ("targets", "units", "programme")
SHOWS = ("number", "label", "unit", "assessment")
TARGET_SHOWS = ("unit", "assessment")  # only rows about a target have them
EACH = ("item", "column", "rate_target")
KINDS = ("count", "money", "rate", "flag", "text", "row")
SOURCES = ("show", "ref", "target", "plan", "rate", "sum", "each")
COLUMN_KEYS = {"key", "label", "group", "kind", "empty", "assessed_only", "previous", *SOURCES}
TABLE_KEYS = {"sheet", "title", "unit_note", "rows", "form", "columns", "total", "chart", "include_nonzero",
              "summary", "summary_without_plan", "notes"}
WHO = ("who", "Who", "WHO")  # filled in when a table is built, for the level of its rows
REF_TEXT = re.compile(rf"^(?:{REF}|[0-9]{{2}}:\*:[A-Z0-9_]+)$")


def who_fields(level_label: str) -> dict[str, str]:
    """The {who} placeholders for rows of this kind of unit ("đơn vị", "huyện", "tỉnh")."""
    return {"who": level_label, "Who": level_label.capitalize(), "WHO": level_label.upper()}


def load_layouts(directory: Path, catalogue: Catalogue) -> dict[str, Bieu]:
    """Every published Biểu, in code order."""
    shared: tuple[str, dict] | None = None
    own: dict[str, tuple[str, dict]] = {}
    for path in sorted((directory / LAYOUT_DIR).glob("*.toml")):
        file, data = relative_name(path, directory), read_toml(path, directory)
        if path.name == SHARED_LAYOUT:
            shared = (file, data)
            continue
        code = str(require(data, "code", file, path.stem))
        if code in own:
            raise CatalogueError(file, code, f'mã biểu bị trùng với tệp "{own[code][0]}"')
        own[code] = (file, data)
    bieu: dict[str, Bieu] = {}
    for form in catalogue.forms.values():
        if not form.sub_project:
            continue
        layers = [layer for layer in (shared, own.pop(form.code, None)) if layer]
        if not layers:
            raise CatalogueError(f"{LAYOUT_DIR}/{SHARED_LAYOUT}", form.code, "biểu của tiểu dự án chưa có bố cục")
        origin = {key: file for file, data in layers for key in data}  # which file gave each key
        merged = {key: value for _, data in layers for key, value in data.items()}
        bieu[form.code] = _bieu(catalogue, form.code, merged, origin, form, ", ".join(file for file, _ in layers))
    for code, (file, data) in own.items():
        bieu[code] = _bieu(catalogue, code, data, dict.fromkeys(data, file), None, file)
    _check_sheets(bieu)
    return dict(sorted(bieu.items()))


def _sub_project(catalogue: Catalogue, form: Form) -> SubProject:
    return next(s for s in catalogue.sub_projects if s.code == form.sub_project)


def _bieu(catalogue: Catalogue, code: str, data: dict, origin: dict[str, str], form: Form | None, source: str) -> Bieu:
    file = origin.get("tables") or next(iter(origin.values()))
    unknown = set(data) - {"code", "title", "tables"}
    if unknown:
        raise CatalogueError(origin[sorted(unknown)[0]], code, f'trường lạ "{sorted(unknown)[0]}"')
    fields = {"code": code}
    if form is not None:
        sub = _sub_project(catalogue, form)
        project = next(p for p in catalogue.projects if p.code == sub.project)
        fields |= {"sub_project": sub.name, "SUB_PROJECT": sub.name.upper(), "project": project.name,
                   "PROJECT": project.name.upper()}
    title = _fill(require(data, "title", origin.get("title", file), code), fields, origin.get("title", file), code)
    tables_data = require(data, "tables", file, code)
    if not isinstance(tables_data, list):
        raise CatalogueError(file, code, '"tables" phải là danh sách bảng ([[tables]])')
    tables = tuple(_table(catalogue, t, fields, form, file, f"Biểu {code}, bảng {n}")
                   for n, t in enumerate(tables_data, start=1))
    forms: set[str] = set()  # every form whose cells it prints: the units that report them are expected
    for table in tables:
        if table.rows == "targets":
            forms |= {t.ref.form for target in catalogue.targets for t in target.numerator + target.denominator}
        else:
            forms.add(table.form)
        forms |= {column.ref.form for column in table.columns if column.ref is not None}
    return Bieu(code, title, tables, tuple(sorted(forms)), form.sub_project if form else None, source)


def _fill(text, fields: dict[str, str], file: str, entry: str) -> str:
    """Fill the placeholders known now; {who}… stay for the builder."""
    if not isinstance(text, str):
        raise CatalogueError(file, entry, f'"{text}" phải là chữ')
    try:
        return text.format_map({**{w: "{" + w + "}" for w in WHO}, **fields})
    except KeyError as e:
        raise CatalogueError(file, entry, f'chỗ điền {{{e.args[0]}}} trong "{text}" không có') from None
    except (ValueError, IndexError):
        raise CatalogueError(file, entry, f'dấu ngoặc {{ }} trong "{text}" không đúng') from None


def _table(catalogue: Catalogue, data: dict, fields: dict[str, str], sub_form: Form | None, file: str,
           entry: str) -> LayoutTable:
    if not isinstance(data, dict):
        raise CatalogueError(file, entry, "mỗi bảng phải là một bảng TOML ([[tables]])")
    unknown = sorted(set(data) - TABLE_KEYS)
    if unknown:
        raise CatalogueError(file, entry, f'trường lạ "{unknown[0]}"')
    rows = require(data, "rows", file, entry)
    if rows not in ROWS:
        raise CatalogueError(file, entry, f'"rows" phải là một trong {ROWS}')
    form = _table_form(catalogue, data, rows, sub_form, file, entry)
    columns = _columns(catalogue, require(data, "columns", file, entry), rows, form, sub_form, fields, file, entry)
    numbers = {c.key for c in columns if not c.show}
    total = data.get("total", {})
    if rows != "targets" and not total.get("label"):
        raise CatalogueError(file, entry, 'thiếu dòng tổng: total = { label = "TỔNG CỘNG" }')
    include = tuple(data.get("include_nonzero", ()))
    for key in include:
        if key not in numbers:
            raise CatalogueError(file, entry, f'"include_nonzero" nhắc tới cột số "{key}" không có trong bảng')
    if include and rows != "units":
        raise CatalogueError(file, entry, '"include_nonzero" chỉ dùng cho bảng theo đơn vị (rows = "units")')
    chart = None
    if "chart" in data:
        column = require(data["chart"], "column", file, entry)
        if column not in numbers:
            raise CatalogueError(file, entry, f'biểu đồ nhắc tới cột số "{column}" không có trong bảng')
        chart = (column, _fill(require(data["chart"], "title", file, entry), fields, file, entry))
    summary = data.get("summary", "")
    if summary and rows != "targets":
        raise CatalogueError(file, entry, '"summary" chỉ dùng cho bảng chỉ tiêu (rows = "targets")')
    try:
        summary.format(met=0, targets=0, not_assessed=0)
    except (KeyError, ValueError, IndexError):
        raise CatalogueError(file, entry, f'"summary" chỉ được dùng {{met}}, {{targets}}, {{not_assessed}}: "{summary}"') from None
    if not any(c.show == "label" for c in columns):
        raise CatalogueError(file, entry, 'bảng cần một cột tên dòng: { key = "label", show = "label" }')
    return LayoutTable(
        sheet=_fill(require(data, "sheet", file, entry), fields, file, entry),
        title=_fill(require(data, "title", file, entry), fields, file, entry),
        unit_note=_fill(require(data, "unit_note", file, entry), fields, file, entry),
        rows=rows, form=form.code if form else "", columns=columns,
        total_label=_fill(total.get("label", ""), fields, file, entry),
        total_label_grouped=_fill(total.get("label_grouped", total.get("label", "")), fields, file, entry),
        total_first=bool(total.get("first", False)), include_nonzero=include, chart=chart,
        summary=summary, summary_without_plan=data.get("summary_without_plan", ""),
        notes=tuple(_fill(n, fields, file, entry) for n in data.get("notes", ())),
    )


def _table_form(catalogue: Catalogue, data: dict, rows: str, sub_form: Form | None, file: str, entry: str) -> Form | None:
    code = data.get("form")
    if code is None and rows == "units" and sub_form is not None:
        return sub_form
    if code is None:
        if rows == "targets":
            return None
        raise CatalogueError(file, entry, 'thiếu trường "form" (biểu có đơn vị báo cáo hoặc lưới nguồn vốn)')
    form = catalogue.forms.get(str(code))
    if form is None:
        raise CatalogueError(file, entry, f'biểu "{code}" không có trong forms/')
    if rows == "programme" and not form.is_grid:
        raise CatalogueError(file, entry, f'bảng theo chương trình cần biểu lưới tiểu dự án (grid = "sub_projects"), "{code}" không phải')
    return form


def _columns(catalogue: Catalogue, entries, rows: str, form: Form | None, sub_form: Form | None,
             fields: dict[str, str], file: str, entry: str) -> tuple[LayoutColumn, ...]:
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise CatalogueError(file, entry, '"columns" phải là danh sách cột { key = …, label = … }')
    named = {str(e["ref"]) for e in entries if "ref" in e}
    columns: list[LayoutColumn] = []
    for data in entries:
        where = f"{entry}, cột {data.get('key') or data.get('ref') or data.get('each') or data}"
        unknown = sorted(set(data) - COLUMN_KEYS)
        if unknown:
            raise CatalogueError(file, where, f'trường lạ "{unknown[0]}"')
        sources = [s for s in SOURCES if s in data]
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


def _label(data: dict, default: str, fields: dict[str, str], file: str, where: str) -> str:
    return _fill(data.get("label", default), fields, file, where)


def _kind(type_: str) -> str:
    return type_  # count, money, or flag: "x" for a unit, the count of units on the total row


def _column(catalogue: Catalogue, data: dict, source: str, rows: str, form: Form | None, sub_form: Form | None,
            fields: dict[str, str], file: str, where: str) -> LayoutColumn:
    common = {"group": _fill(data.get("group", ""), fields, file, where), "empty": str(data.get("empty", ""))}
    value = data[source]
    if "previous" in data and source != "plan":
        raise CatalogueError(file, where, '"previous" chỉ dùng cho cột kế hoạch (plan = …)')
    if source == "ref":
        ref = _layout_ref(catalogue, str(value), rows, form, sub_form, file, where)
        target = catalogue.forms[ref.form]
        if target.is_grid:
            column = target.column(ref.column)
            key, label, group, kind = column.code, column.label, column.group, _kind(column.type)
        else:
            item = target.item(ref.row)
            key, label, group, kind = item.code, item.label, "", _kind(item.type)
        return LayoutColumn(str(data.get("key", key)), _label(data, label, fields, file, where),
                            _fill(data.get("group", group), fields, file, where), data.get("kind", kind),
                            ref=ref, empty=common["empty"])
    key = require(data, "key", file, where)
    label = _label(data, require(data, "label", file, where), fields, file, where)
    if source == "show":
        if value not in SHOWS:
            raise CatalogueError(file, where, f'"show" phải là một trong {SHOWS}')
        if value in TARGET_SHOWS and rows != "targets":
            raise CatalogueError(file, where, f'"show = {value}" chỉ dùng cho bảng chỉ tiêu (rows = "targets")')
        return LayoutColumn(key, label, kind=data.get("kind", "text"), show=value, **common)
    if source == "target":
        if value == SAME_ROW:
            if rows != "targets":
                raise CatalogueError(file, where, '"target = *" chỉ dùng cho bảng chỉ tiêu (rows = "targets")')
            kind = "row"
        else:
            target = next((t for t in catalogue.targets if t.code == value), None)
            if target is None:
                raise CatalogueError(file, where, f'chỉ tiêu "{value}" không có trong targets.toml')
            kind = "rate" if target.kind == "rate" else "count"
        return LayoutColumn(key, label, kind=data.get("kind", kind), target=value, **common)
    if source == "plan":
        codes = [code for code, _ in PLAN_COLUMNS]
        if value not in codes or rows != "targets":
            raise CatalogueError(file, where, f'"plan" phải là một trong {codes}, trong bảng chỉ tiêu')
        return LayoutColumn(key, label, kind=data.get("kind", "row"), plan=value,
                            assessed_only=bool(data.get("assessed_only", False)),
                            previous=_fill(data.get("previous", ""), fields, file, where), **common)
    if source == "sum":
        if not isinstance(value, list) or len(value) < 2 or not all(isinstance(k, str) for k in value):
            raise CatalogueError(file, where, 'tổng ghi dạng sum = ["KHÓA_CỘT_1", "KHÓA_CỘT_2", …] (ít nhất hai cột)')
        return LayoutColumn(key, label, kind=data.get("kind", ""), sum=tuple(value), **common)
    if not isinstance(value, dict):
        raise CatalogueError(file, where, 'tỷ lệ ghi dạng rate = { numerator = "…", denominator = "…" }')
    rate = (str(require(value, "numerator", file, where)), str(require(value, "denominator", file, where)))
    return LayoutColumn(key, label, kind=data.get("kind", "rate"), rate=rate, **common)


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


def _each(catalogue: Catalogue, data: dict, rows: str, form: Form | None, named: set[str], fields: dict[str, str],
          file: str, where: str) -> list[LayoutColumn]:
    what = data["each"]
    if what not in EACH:
        raise CatalogueError(file, where, f'"each" phải là một trong {EACH}')
    extra = set(data) - {"each", "label", "group"}
    if extra:
        raise CatalogueError(file, where, f'cột "each" chỉ nhận label và group, không nhận "{sorted(extra)[0]}"')
    group = _fill(data.get("group", ""), fields, file, where)
    if what == "rate_target":
        return [LayoutColumn(t.code, _each_label(data, "{code}. {label}", fields, t.code, t.label, t.unit, file, where),
                             group, "rate", target=t.code) for t in catalogue.targets if t.kind == "rate"]
    if form is None or form.is_grid != (what == "column"):
        raise CatalogueError(file, where, f'"each = {what}" cần bảng của một biểu {"lưới" if what == "column" else "chỉ tiêu"}')
    if what == "item":
        return [LayoutColumn(i.code, _each_label(data, "{label}", fields, i.code, i.label, i.unit, file, where), group,
                             _kind(i.type), ref=parse_ref(i.code, form.code, False)) for i in form.items]
    return [LayoutColumn(c.code, _each_label(data, "{label}", fields, c.code, c.label, c.unit, file, where),
                         _fill(data.get("group", c.group), fields, file, where), _kind(c.type),
                         ref=parse_ref(c.code, form.code, True))
            for c in form.columns if c.code not in named and f"{form.code}:{SAME_ROW}:{c.code}" not in named]


def _each_label(data: dict, default: str, fields: dict[str, str], code: str, label: str, unit: str, file: str,
                where: str) -> str:
    return _fill(data.get("label", default), {**fields, "code": code, "label": label, "unit": unit}, file, where)


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
