"""Writes the unit submission workbook and the district plan workbook from the catalogue.

Every input sheet carries hidden codes: cell A1 names the sheet (``BIEU:01``,
``THONG_TIN``, ``KE_HOACH``), the hidden first column holds item codes and the hidden
first row holds column codes, so the reader finds cells by code, never by position.
The same writer fills values in, which is how the sample submissions are made.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from xlsxwriter.utility import xl_rowcol_to_cell

from pipeline.catalogue import TOTAL_ROW, Body, Catalogue, Form, Item, Ref, Target, Unit
from pipeline.text import ERROR, WARNING
from pipeline.files import atomic_output
from pipeline.catalogue.contract import (
    FILE_KIND,
    FORM_MARKER_PREFIX,
    GUIDE_SHEET,
    INFO_COLUMN,
    INFO_MARKER,
    INFO_SHEET,
    LIST_SHEET,
    NO,
    PERIOD_FIELD,
    PLAN_COLUMNS,
    PLAN_DATE_FIELDS,
    PLAN_FILE,
    PLAN_MARKER,
    PLAN_SHEET,
    PLAN_TEXT_FIELDS,
    PREPARER_FIELD,
    UNIT_FIELD,
    UNIT_FILE,
    UNIT_KIND_FIELD,
    UNIT_NAME_FIELD,
    VERSION_FIELD,
    YES,
)
from pipeline.workbook.style import LINE, Styles, fit_row_height, new_workbook, page_setup, wrapped_lines

INFO_FIRST_ROW = 3  # 0-based row of the first Thông tin field
LABEL_WIDTH = 66  # characters: the label column of every form sheet
GUIDE_WIDTH = 80  # characters: the Hướng dẫn sheet's one column, within an A4 portrait page
SUBSET_INDENT = 2  # indent levels per parent of an item
KIND_LABELS = {"xa": "Xã", "thi_tran": "Thị trấn", "co_quan_huyen": "Cơ quan cấp huyện"}
TYPE_HINTS = {
    "count": ("Nhập số nguyên", "Nhập số nguyên không âm ({unit}). Không có thì nhập 0.", "integer"),
    "money": ("Nhập số tiền", "Nhập số tiền, đơn vị triệu đồng, tối đa 3 chữ số thập phân. Không có thì nhập 0.", "decimal"),
    "flag": ("Nhập 1 hoặc 0", "Nhập 1 nếu có, 0 nếu không.", "integer"),
}


@dataclass
class Filling:
    """Values to write into a workbook: Thông tin fields and input cells.

    ``notes`` (by Thông tin field code or cell) highlight a cell and attach a comment: that
    is how the feedback workbook annotates a unit's copy. The writer records in
    ``addresses`` the sheet and cell where each input went."""

    info: dict[str, object] = field(default_factory=dict)
    values: dict[Ref, object] = field(default_factory=dict)
    notes: dict[Ref | str, list[tuple[str, str]]] = field(default_factory=dict)  # (severity, message)
    addresses: dict[Ref | str, tuple[str, str]] = field(default_factory=dict)


@dataclass
class PlanFilling:
    info: dict[str, object] = field(default_factory=dict)
    # target code -> (due this period, plan value, last year's result)
    targets: dict[str, tuple[bool, Decimal | int | None, Decimal | int | None]] = field(default_factory=dict)


def _hidden_codes(ws, marker: str, column_codes: dict[int, str]) -> None:
    """Row 1 and column A are hidden and hold the sheet marker and column codes."""
    ws.write_string(0, 0, marker)
    for col, code in column_codes.items():
        ws.write_string(0, col, code)
    ws.set_row(0, None, None, {"hidden": True})
    ws.set_column(0, 0, 12, None, {"hidden": True})


def _validation(ws, row: int, col: int, kind: str, unit: str) -> None:
    title, message, validate = TYPE_HINTS[kind]
    options = {
        "validate": validate,
        "input_title": title,
        "input_message": message.format(unit=unit),
        "error_title": "Giá trị không hợp lệ",
        "error_message": message.format(unit=unit),
    }
    if kind == "flag":
        options.update(criteria="between", minimum=0, maximum=1)
    else:
        options.update(criteria=">=", value=0)
    ws.data_validation(row, col, row, col, options)


def _input(ws, styles: Styles, row: int, col: int, key: Ref | str, kind: str | None, filling: Filling,
           value: object) -> None:
    """An input cell: shaded and unlocked, or highlighted with a comment where it has notes."""
    fmt = _noted(ws, row, col, key, kind, filling, styles)
    _write_value(ws, row, col, value, fmt or styles.input(kind))


def _computed(ws, styles: Styles, row: int, col: int, formula: str, ref: Ref, kind: str, filling: Filling) -> None:
    """A computed cell (a formula), highlighted with a comment where it has notes."""
    ws.write_formula(row, col, formula, _noted(ws, row, col, ref, kind, filling, styles) or styles.derived(kind), "")


def _noted(ws, row: int, col: int, key: Ref | str, kind: str | None, filling: Filling, styles: Styles):
    """Where a cell has notes (a feedback copy): its comment, and the highlighted format to write it
    with; None otherwise. Records where the cell went."""
    filling.addresses[key] = (ws.name, xl_rowcol_to_cell(row, col))
    notes = filling.notes.get(key)
    if not notes:
        return None
    ws.write_comment(row, col, "\n".join(f"[{level}] {text}" for level, text in notes),
                     {"x_scale": 3, "y_scale": 2, "font_name": "Times New Roman"})
    return styles.flagged(kind, ERROR if any(level == ERROR for level, _ in notes) else WARNING)


def _write_value(ws, row, col, value, fmt) -> None:
    if value is None:
        ws.write_blank(row, col, None, fmt)
    elif isinstance(value, (dt.date, dt.datetime)):
        ws.write_datetime(row, col, dt.datetime.combine(value, dt.time()) if type(value) is dt.date else value, fmt)
    elif isinstance(value, (int, float, Decimal)):
        ws.write_number(row, col, float(value), fmt)
    else:
        ws.write_string(row, col, str(value), fmt)


def _guide(workbook, styles: Styles, title: str, lines: list[str]) -> None:
    ws = workbook.add_worksheet(GUIDE_SHEET)
    ws.set_column(0, 0, GUIDE_WIDTH)
    ws.write_string(0, 0, title, styles.get(bold=True, font_size=14))
    for n, line in enumerate(lines, start=2):
        ws.write_string(n, 0, line, styles.get(text_wrap=True, valign="top"))
        ws.set_row(n, LINE * wrapped_lines(line, GUIDE_WIDTH) + 2)  # printed whole, not over the next line
    page_setup(ws, landscape=False)
    ws.protect()


def _info_sheet(workbook, styles: Styles, title: str, fields: list[tuple], filling: Filling, version: str,
                file_kind: str):
    """Thông tin: field codes in the hidden column A, values in column C."""
    ws = workbook.add_worksheet(INFO_SHEET)
    _hidden_codes(ws, INFO_MARKER, {2: INFO_COLUMN})
    ws.set_column(1, 1, 28)
    ws.set_column(2, 2, 60)
    ws.merge_range(1, 1, 1, 2, title, styles.title())
    rows = {}
    all_fields = fields + [(VERSION_FIELD, "Phiên bản mẫu", "hidden"), (FILE_KIND, "Loại tệp", "hidden")]
    fixed = {VERSION_FIELD: version, FILE_KIND: file_kind}
    for n, (code, label, kind, *extra) in enumerate(all_fields, start=INFO_FIRST_ROW):
        rows[code] = n
        ws.write_string(n, 0, code)
        ws.write_string(n, 1, label, styles.text(bold=True))
        if kind == "hidden":
            ws.write_string(n, 2, fixed[code], styles.text())
            ws.set_row(n, None, None, {"hidden": True})
        elif kind == "formula":
            ws.write_formula(n, 2, extra[0], styles.derived("count"), extra[1] if len(extra) > 1 else "")
        else:
            _input(ws, styles, n, 2, code, "date" if kind == "date" else None, filling, filling.info.get(code))
            if kind == "date":
                ws.data_validation(n, 2, n, 2, {
                    "validate": "date", "criteria": ">", "value": dt.date(2000, 1, 1),
                    "input_title": "Nhập ngày", "input_message": "Nhập ngày dạng ngày/tháng/năm, ví dụ 05/08/2023.",
                    "error_title": "Ngày không hợp lệ", "error_message": "Nhập ngày dạng ngày/tháng/năm, ví dụ 05/08/2023.",
                })
            elif len(extra) == 1:  # a list of allowed values
                ws.data_validation(n, 2, n, 2, {
                    "validate": "list", "source": extra[0],
                    "input_title": "Chọn trong danh sách", "input_message": f"Chọn {label.lower()} trong danh sách.",
                    "error_title": "Giá trị không có trong danh sách", "error_message": f"Chọn {label.lower()} trong danh sách.",
                })
    page_setup(ws, landscape=False)
    ws.protect()
    return ws, rows


def _cell(info_rows: dict, code: str) -> str:
    return f"'{INFO_SHEET}'!{xl_rowcol_to_cell(info_rows[code], 2, row_abs=True, col_abs=True)}"


def _period_list(catalogue: Catalogue) -> list[str]:
    own = catalogue.own_periods() or list(catalogue.periods)  # the periods of this form set
    return [key for key in own if catalogue.periods[key].is_open] or own


def _body(catalogue: Catalogue) -> Body:
    """The body the template names: that of the last period it offers."""
    return catalogue.body(_period_list(catalogue)[-1])


# --------------------------------------------------------------------------- unit workbook


def unit_guide_lines(catalogue: Catalogue) -> list[str]:
    body, programme = _body(catalogue), catalogue.regime(_period_list(catalogue)[-1]).programme
    return [
        f"Mẫu báo cáo kết quả thực hiện {programme.name} – {body.authority}.",
        "1. Sheet \"Thông tin\": chọn mã đơn vị trong danh sách (tên đơn vị tự hiện ra), chọn kỳ báo cáo, ghi người lập biểu, số điện thoại và ngày lập.",
        "2. Nhập số liệu vào các ô màu vàng trên từng sheet biểu. Ô màu xám là công thức, tự tính, không cần nhập.",
        "3. Mọi ô màu vàng đều bắt buộc: không có số liệu thì nhập 0, không để trống.",
        "4. Số nguyên (hộ, người, công trình…) nhập số nguyên không âm; số tiền nhập theo triệu đồng, tối đa 3 chữ số thập phân.",
        "5. Sheet có dòng chữ đỏ \"KHÔNG ÁP DỤNG\" thì đơn vị bạn không phải báo cáo, bỏ qua sheet đó.",
        "6. Không đổi tên, không xoá sheet; có thể chèn dòng ghi chú, nhưng không sửa các cột, dòng bị ẩn.",
        "7. Lưu tệp dạng .xlsx (Excel, LibreOffice hoặc WPS đều được) và gửi về "
        f"{body.standing_office_in_text}; tên tệp đặt tuỳ ý.",
        f"Phiên bản mẫu: {catalogue.version}. Mẫu cũ hơn sẽ bị từ chối: khi có mẫu mới, hãy dùng mẫu mới.",
    ]


def write_unit_workbook(path: Path | str, catalogue: Catalogue, unit: Unit | None = None,
                        filling: Filling | None = None) -> Path:
    """The unit submission workbook: blank, pre-filled for one unit, or filled with values."""
    path = Path(path)
    with atomic_output(path) as temporary:
        workbook = new_workbook(temporary, "Mẫu báo cáo giảm nghèo bền vững", _body(catalogue).authority)
        styles = Styles(workbook)
        _guide(workbook, styles, "HƯỚNG DẪN NHẬP BÁO CÁO", unit_guide_lines(catalogue))
        add_unit_sheets(workbook, styles, catalogue, unit, filling or Filling())
        workbook.get_worksheet_by_name(INFO_SHEET).activate()
        workbook.close()
    return path


def add_unit_sheets(workbook, styles: Styles, catalogue: Catalogue, unit: Unit | None, filling: Filling) -> None:
    """Thông tin, the form sheets and the hidden unit list (the units of the periods the
    template offers and of the period filled in: a code reused by a new unit, as 03253 after
    1/7/2025, keeps its name of those periods), into an open workbook."""
    offered = _period_list(catalogue)
    filled = filling.info.get(PERIOD_FIELD)
    units = catalogue.reporting_units(offered + [filled] if filled in catalogue.periods and filled not in offered else offered)
    last = len(units) + 1
    code_cell = xl_rowcol_to_cell(INFO_FIRST_ROW, 2, row_abs=True, col_abs=True)  # MA_DON_VI comes first
    list_range = f"'{LIST_SHEET}'!$A$2:$D${last}"
    if unit is not None:
        filling.info.setdefault(UNIT_FIELD, unit.code)
    fields = [
        (UNIT_FIELD, "Mã đơn vị", "text", f"='{LIST_SHEET}'!$A$2:$A${last}"),
        (UNIT_NAME_FIELD, "Tên đơn vị", "formula", f'=IFERROR(VLOOKUP({code_cell},{list_range},2,FALSE),"")',
         unit.name if unit else ""),
        (UNIT_KIND_FIELD, "Loại đơn vị", "formula", f'=IFERROR(VLOOKUP({code_cell},{list_range},4,FALSE),"")',
         KIND_LABELS[unit.kind] if unit else ""),
        (PERIOD_FIELD, "Kỳ báo cáo", "text", _period_list(catalogue)),
        (PREPARER_FIELD, "Người lập biểu", "text"),
        ("DIEN_THOAI", "Số điện thoại", "text"),
        ("NGAY_LAP", "Ngày lập", "date"),
        ("MA_LOAI_DON_VI", "Mã loại đơn vị", "formula", f'=IFERROR(VLOOKUP({code_cell},{list_range},3,FALSE),"")',
         unit.kind if unit else ""),
    ]
    info_ws, info_rows = _info_sheet(workbook, styles, "THÔNG TIN ĐƠN VỊ BÁO CÁO", fields, filling,
                                     catalogue.version, UNIT_FILE)
    info_ws.set_row(info_rows["MA_LOAI_DON_VI"], None, None, {"hidden": True})

    kind_cell = _cell(info_rows, "MA_LOAI_DON_VI")
    for form in catalogue.forms.values():
        in_scope = unit is None or catalogue.reports(unit, form)
        if form.is_grid:
            _grid_sheet(workbook, styles, catalogue, form, kind_cell, in_scope, filling)
        else:
            _item_sheet(workbook, styles, form, kind_cell, in_scope, filling)

    ws = workbook.add_worksheet(LIST_SHEET)
    for col, header in enumerate(("Mã đơn vị", "Tên đơn vị", "Mã loại", "Loại đơn vị")):
        ws.write_string(0, col, header, styles.header())
    for n, u in enumerate(units, start=1):
        for col, value in enumerate((u.code, u.name, u.kind, KIND_LABELS[u.kind])):
            ws.write_string(n, col, value, styles.text())
    ws.set_column(0, 0, 14)
    ws.set_column(1, 1, 50)
    ws.set_column(2, 3, 18)
    ws.protect()
    ws.hide()


def _scope_banner(ws, styles: Styles, form: Form, kind_cell: str, in_scope: bool, last_col: int) -> None:
    fmt = styles.get(bold=True, font_color="#C00000", align="center")
    text = "KHÔNG ÁP DỤNG cho loại đơn vị này – không cần nhập sheet này"
    ws.merge_range(2, 1, 2, last_col, "", fmt)
    if not in_scope:
        ws.write_string(2, 1, text, fmt)
        return
    kinds = ",".join(f'{kind_cell}="{k}"' for k in sorted(form.reported_by))
    ws.write_formula(2, 1, f'=IF(OR({kind_cell}="",{kinds}),"","{text}")', fmt, "")


def _depth(form: Form, item: Item) -> int:
    """How many parents an item has: 0 for a main item, 1 for a part of it, 2 for a part of that."""
    depth = 0
    while item.parent:
        item, depth = form.item(item.parent), depth + 1
    return depth


def _form_title(form: Form) -> str:
    return f"Biểu {form.code}. {form.title}"


def _item_sheet(workbook, styles: Styles, form: Form, kind_cell: str, in_scope: bool, filling: Filling) -> None:
    ws = workbook.add_worksheet(form.sheet)
    value_col = 4
    _hidden_codes(ws, FORM_MARKER_PREFIX + form.code, {value_col: form.columns[0].code})
    ws.set_column(1, 1, 6)
    ws.set_column(2, 2, LABEL_WIDTH)
    ws.set_column(3, 3, 14)
    ws.set_column(4, 4, 18)
    ws.merge_range(1, 1, 1, value_col, _form_title(form), styles.title())
    ws.set_row(1, 36)
    _scope_banner(ws, styles, form, kind_cell, in_scope, value_col)
    for col, header in enumerate(("STT", "Chỉ tiêu", "Đơn vị tính", "Số liệu"), start=1):
        ws.write_string(3, col, header, styles.header())
    first = 4
    rows = {item.code: first + n for n, item in enumerate(form.items)}
    number = 0
    for item in form.items:
        row = rows[item.code]
        indent = SUBSET_INDENT * _depth(form, item)  # a "trong đó" part sits under its parent
        if not indent:
            number += 1
        ws.write_string(row, 0, item.code)
        ws.write_string(row, 1, "" if indent else str(number), styles.center())
        ws.write_string(row, 2, item.label, styles.text(indent=indent, bold=item.derived))
        fit_row_height(ws, row, item.label, LABEL_WIDTH - 2 * indent)
        ws.write_string(row, 3, item.unit, styles.center())
        if item.derived:
            formula = "".join(
                f"{'+' if t.sign > 0 else '-'}{xl_rowcol_to_cell(rows[t.ref.row], value_col)}" for t in item.formula
            )
            _computed(ws, styles, row, value_col, "=" + formula.lstrip("+"), Ref(form.code, item.code), item.type, filling)
        elif in_scope:
            ref = Ref(form.code, item.code)
            _input(ws, styles, row, value_col, ref, item.type, filling, filling.values.get(ref))
            _validation(ws, row, value_col, item.type, item.unit)
        else:
            ws.write_blank(row, value_col, None, styles.text())
    ws.freeze_panes(first, 0)
    page_setup(ws, landscape=False, header_rows=(3, 3))
    ws.protect()


def _grid_sheet(workbook, styles: Styles, catalogue: Catalogue, form: Form, kind_cell: str,
                in_scope: bool, filling: Filling) -> None:
    ws = workbook.add_worksheet(form.sheet)
    first_col = 3
    col_of = {c.code: first_col + n for n, c in enumerate(form.columns)}
    last_col = first_col + len(form.columns) - 1
    _hidden_codes(ws, FORM_MARKER_PREFIX + form.code, {col_of[c.code]: c.code for c in form.columns})
    ws.set_column(1, 1, 6)
    ws.set_column(2, 2, LABEL_WIDTH)
    ws.set_column(first_col, last_col, 14)
    ws.merge_range(1, 1, 1, last_col, _form_title(form) + " (đơn vị: triệu đồng)", styles.title())
    ws.set_row(1, 30)
    _scope_banner(ws, styles, form, kind_cell, in_scope, last_col)
    header = styles.header()
    ws.merge_range(3, 1, 4, 1, "STT", header)
    ws.merge_range(3, 2, 4, 2, "Dự án, tiểu dự án", header)
    start = 0
    columns = list(form.columns)
    while start < len(columns):  # consecutive columns of one group share a merged header
        end = start
        while end + 1 < len(columns) and columns[end + 1].group == columns[start].group:
            end += 1
        if end == start and columns[start].label == columns[start].group:
            ws.merge_range(3, col_of[columns[start].code], 4, col_of[columns[start].code], columns[start].group, header)
        else:
            if end > start:
                ws.merge_range(3, col_of[columns[start].code], 3, col_of[columns[end].code], columns[start].group, header)
            else:
                ws.write_string(3, col_of[columns[start].code], columns[start].group, header)
            for c in columns[start:end + 1]:
                ws.write_string(4, col_of[c.code], c.label, header)
        start = end + 1
    ws.set_row(3, 32)
    ws.set_row(4, 32)

    # Rows: the total, then each project (a subtotal row unless it is its own sub-project).
    layout: list[tuple[str, object]] = [("total", None)]
    for project in catalogue.projects:
        if project.has_subtotal:
            layout.append(("project", project))
        layout += [("sub", s) for s in project.sub_projects]
    first_row = 5
    sub_rows = {s.code: first_row + n for n, (k, s) in enumerate(layout) if k == "sub"}
    roman = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X")
    project_number, sub_number = 0, 0
    for n, (kind, entry) in enumerate(layout):
        row = first_row + n
        if kind == "total":
            row_code = TOTAL_ROW  # the computed rows have codes too: the reader checks a number found there
            ws.write_string(row, 1, "", styles.center(bold=True))
            ws.write_string(row, 2, "TỔNG CỘNG", styles.text(bold=True))
            members = list(sub_rows.values())
        elif kind == "project":
            project_number += 1
            sub_number = 0
            row_code = entry.code
            ws.write_string(row, 1, roman[project_number - 1], styles.center(bold=True))
            ws.write_string(row, 2, entry.name, styles.text(bold=True))
            fit_row_height(ws, row, entry.name, LABEL_WIDTH)
            members = [sub_rows[s.code] for s in entry.sub_projects]
        else:
            is_project = entry.code == entry.project
            if is_project:
                project_number += 1
                number = roman[project_number - 1]
            else:
                sub_number += 1
                number = str(sub_number)
            row_code = entry.code
            ws.write_string(row, 1, number, styles.center(bold=is_project))
            ws.write_string(row, 2, entry.name, styles.text(bold=is_project, indent=0 if is_project else 1))
            fit_row_height(ws, row, entry.name, LABEL_WIDTH - 2)
        ws.write_string(row, 0, row_code)
        for column in form.columns:
            col = col_of[column.code]
            if column.derived:
                formula = "".join(
                    f"{'+' if t.sign > 0 else '-'}{xl_rowcol_to_cell(row, col_of[t.ref.column])}" for t in column.formula
                )
                _computed(ws, styles, row, col, "=" + formula.lstrip("+"), Ref(form.code, row_code, column.code),
                          column.type, filling)
            elif kind != "sub":
                cells = ",".join(xl_rowcol_to_cell(r, col) for r in members)
                _computed(ws, styles, row, col, f"=SUM({cells})", Ref(form.code, row_code, column.code), column.type,
                          filling)
            elif in_scope:
                ref = Ref(form.code, entry.code, column.code)
                _input(ws, styles, row, col, ref, column.type, filling, filling.values.get(ref))
                _validation(ws, row, col, column.type, column.unit)
            else:
                ws.write_blank(row, col, None, styles.text())
    ws.freeze_panes(first_row, first_col)
    page_setup(ws, landscape=True, header_rows=(3, 4))
    ws.protect()


# --------------------------------------------------------------------------- plan workbook


def plan_guide_lines(catalogue: Catalogue) -> list[str]:
    body = _body(catalogue)
    return [
        f"Mẫu nhập kế hoạch năm của {body.level} cho Biểu 01 – {body.authority}.",
        f"Người nhập: {body.standing_office} (cơ quan thường trực Chương trình), "
        f"theo Kế hoạch thực hiện Chương trình của UBND {body.level} trong năm.",
        "1. Sheet \"Thông tin\": chọn kỳ báo cáo, ghi người lập, số điện thoại, ngày lập; rồi người ký báo cáo "
        "(ký thay nếu có, ví dụ \"KT. CHỦ TỊCH\"; chức vụ, ví dụ \"PHÓ CHỦ TỊCH\"; họ và tên), số báo cáo "
        "(ví dụ 125 của 125/BC-UBND) và ngày báo cáo. Các ô này in ở phần ký của các Biểu và của dự thảo báo cáo; "
        "để trống ô nào thì chỗ đó để trống cho ghi tay.",
        "2. Sheet \"Kế hoạch\": với từng chỉ tiêu, chọn \"Có\" nếu chỉ tiêu được đánh giá trong kỳ này, "
        "\"Không\" nếu chưa; nhập giá trị kế hoạch năm và kết quả thực hiện năm trước (nếu có).",
        "3. Chỉ tiêu được đánh giá (\"Có\") phải có giá trị kế hoạch. Ô thực hiện năm trước để trống nếu không có số liệu.",
        "4. Lưu tệp .xlsx và đặt vào thư mục hộp thư đến của kỳ báo cáo, như báo cáo của các đơn vị.",
        f"Phiên bản mẫu: {catalogue.version}.",
    ]


def write_plan_workbook(path: Path | str, catalogue: Catalogue, filling: PlanFilling | None = None) -> Path:
    """The district plan workbook: per target, whether it is due, the plan, last year's result."""
    path = Path(path)
    with atomic_output(path) as temporary:
        body = _body(catalogue)
        workbook = new_workbook(temporary, f"Mẫu kế hoạch chỉ tiêu giảm nghèo của {body.level}", body.authority)
        _plan_sheets(workbook, catalogue, filling or PlanFilling())
        workbook.close()
    return path


def _plan_sheets(workbook, catalogue: Catalogue, filling: PlanFilling) -> None:
    styles = Styles(workbook)
    _guide(workbook, styles, "HƯỚNG DẪN NHẬP KẾ HOẠCH", plan_guide_lines(catalogue))
    texts = {code: (label, limit) for code, label, limit in PLAN_TEXT_FIELDS}
    fields = [
        (PERIOD_FIELD, "Kỳ báo cáo", "text", _period_list(catalogue)),
        (PREPARER_FIELD, texts[PREPARER_FIELD][0], "text"),
        ("DIEN_THOAI", "Số điện thoại", "text"),
        ("NGAY_LAP", "Ngày lập", "date"),
        *((code, label, "text") for code, (label, _) in texts.items() if code != PREPARER_FIELD),
        *((code, label, "date") for code, label in PLAN_DATE_FIELDS),
    ]
    info_ws, info_rows = _info_sheet(workbook, styles, "THÔNG TIN KẾ HOẠCH CỦA HUYỆN", fields,
                                     Filling(info=filling.info), catalogue.version, PLAN_FILE)
    for code, (label, limit) in texts.items():
        message = f"Ghi {label.lower()}, tối đa {limit} ký tự; để trống nếu chưa có."
        info_ws.data_validation(info_rows[code], 2, info_rows[code], 2, {
            "validate": "length", "criteria": "<=", "value": limit,
            "input_title": label, "input_message": message, "error_title": "Quá dài", "error_message": message,
        })
    ws = workbook.add_worksheet(PLAN_SHEET)
    first_col = 4
    _hidden_codes(ws, PLAN_MARKER, {first_col + n: code for n, (code, _) in enumerate(PLAN_COLUMNS)})
    ws.set_column(1, 1, 6)
    ws.set_column(2, 2, LABEL_WIDTH)
    ws.set_column(3, 3, 12)
    ws.set_column(first_col, first_col + len(PLAN_COLUMNS) - 1, 18)
    last_col = first_col + len(PLAN_COLUMNS) - 1
    ws.merge_range(1, 1, 1, last_col, "KẾ HOẠCH CÁC CHỈ TIÊU CỦA BIỂU 01", styles.title())
    headers = ["STT", "Chỉ tiêu", "Đơn vị tính"] + [label for _, label in PLAN_COLUMNS]
    for col, header in enumerate(headers, start=1):
        ws.write_string(3, col, header, styles.header())
    ws.set_row(3, 45)
    for n, target in enumerate(catalogue.targets, start=1):
        row = 3 + n
        due, plan, last_year = filling.targets.get(target.code, (None, None, None))
        ws.write_string(row, 0, target.code)
        ws.write_string(row, 1, str(n), styles.center())
        ws.write_string(row, 2, target.label, styles.text())
        fit_row_height(ws, row, target.label, LABEL_WIDTH)
        ws.write_string(row, 3, target.unit, styles.center())
        due_text = None if due is None else (YES if due else NO)
        _write_value(ws, row, first_col, due_text, styles.input())
        ws.data_validation(row, first_col, row, first_col, {
            "validate": "list", "source": [YES, NO],
            "input_title": "Có đánh giá trong kỳ?", "input_message": "Chọn Có hoặc Không.",
            "error_title": "Chọn Có hoặc Không", "error_message": "Chỉ chọn Có hoặc Không.",
        })
        kind = _plan_number_kind(target)
        for offset, value in ((1, plan), (2, last_year)):
            _write_value(ws, row, first_col + offset, value, styles.input(kind))
            ws.data_validation(row, first_col + offset, row, first_col + offset, {
                "validate": "decimal", "criteria": ">=", "value": 0,
                "input_title": "Nhập số", "input_message": f"Nhập số ({target.unit}); để trống nếu không có.",
                "error_title": "Giá trị không hợp lệ", "error_message": "Chỉ nhập số không âm.",
            })
    ws.freeze_panes(4, 0)
    page_setup(ws, landscape=True, header_rows=(3, 3))
    ws.protect()


def _plan_number_kind(target: Target) -> str:
    return "rate" if target.kind == "rate" else "count"
