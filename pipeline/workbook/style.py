"""The official look shared by every workbook the project writes: Times New Roman (printed
as Liberation Serif 2.x, its metric twin with every Vietnamese letter: fonts-liberation2),
bordered tables, shaded input cells, number formats, and reproducible file metadata."""

from __future__ import annotations

import datetime as dt
import unicodedata

import xlsxwriter

from pipeline.text import ERROR

FONT = "Times New Roman"
INPUT_FILL = "#FFF2CC"  # pale yellow: a cell the unit types into
DERIVED_FILL = "#E7E6E6"  # grey: a formula the district recomputes
NUMBER_FORMATS = {"count": "#,##0", "flag": "0", "money": "#,##0.00", "rate": "0.0"}
# The published Biểu: Vietnamese separators (1.000; 13.334,47) whatever the computer's locale
# (the [$-42A] language tag, honoured by LibreOffice), whole amounts without ",00".
VIETNAMESE = "[$-42A]"
PRINTED_FORMATS = {"count": "#,##0", "flag": '"x";;""', "money": "#,##0.00", "rate": "0.0"}
LINE = 16.5  # points: one line of 12 pt Times New Roman in a row
TITLE_SIZE = 14  # points: a printed table's title
PITCH = 13.8  # points from one line of wrapped 12 pt text to the next (13,3 measured in LibreOffice's PDF)
# Fixed document properties: the same content always gives the same bytes.
FIXED_CREATED = dt.datetime(2023, 1, 1)


def new_workbook(path, title: str, author: str) -> xlsxwriter.Workbook:
    """A workbook that never turns unit text into formulas or links, with fixed metadata."""
    workbook = xlsxwriter.Workbook(
        str(path),
        {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False},
    )
    workbook.set_properties({"title": title, "author": author, "company": author, "created": FIXED_CREATED})
    workbook.formats[0].set_font_name(FONT)
    workbook.formats[0].set_font_size(12)
    return workbook


class Styles:
    """Formats of one workbook, created on first use (xlsxwriter formats are per workbook)."""

    def __init__(self, workbook: xlsxwriter.Workbook):
        self._workbook = workbook
        self._cache: dict[tuple, object] = {}

    def get(self, **props):
        key = tuple(sorted(props.items()))
        if key not in self._cache:
            self._cache[key] = self._workbook.add_format({"font_name": FONT, "font_size": 12, **props})
        return self._cache[key]

    def title(self):
        return self.get(bold=True, font_size=TITLE_SIZE, align="center", valign="vcenter", text_wrap=True)

    def header(self):
        return self.get(bold=True, border=1, align="center", valign="vcenter", text_wrap=True, bg_color="#DDEBF7")

    def text(self, bold=False, indent=0, locked=True):
        return self.get(border=1, valign="vcenter", text_wrap=True, bold=bold, indent=indent, locked=locked)

    def center(self, bold=False):
        return self.get(border=1, align="center", valign="vcenter", bold=bold)

    def input(self, kind: str | None = None):
        """An unlocked, shaded input cell; kind None means text."""
        props = {"border": 1, "locked": False, "bg_color": INPUT_FILL, "valign": "vcenter"}
        if kind is None:
            props["num_format"] = "@"
        elif kind == "date":
            props["num_format"] = "dd/mm/yyyy"
        else:
            props["num_format"] = NUMBER_FORMATS[kind]
        return self.get(**props)

    def flagged(self, kind: str | None, severity: str):
        """An input cell a finding points at: red for an error, orange for a warning."""
        fill = "#FF9999" if severity == ERROR else "#FFD27F"
        num_format = "@" if kind is None else ("dd/mm/yyyy" if kind == "date" else "General")  # show 12.5 as typed
        return self.get(border=2, border_color="#C00000", locked=False, bg_color=fill, bold=True,
                        num_format=num_format, valign="vcenter")

    def printed(self, kind: str, bold=False, whole=False):
        """A figure of a published Biểu: Vietnamese separators, money without decimals when
        the whole column is whole; a yes/no flag as "x" (1) or blank (0)."""
        number_format = PRINTED_FORMATS["count" if kind == "money" and whole else kind]
        align = {"align": "center"} if kind == "flag" else {}
        return self.get(border=1, num_format=VIETNAMESE + number_format, bold=bold, valign="vcenter", **align)

    def derived(self, kind: str):
        return self.get(border=1, num_format=NUMBER_FORMATS[kind], bg_color=DERIVED_FILL, valign="vcenter")

    def note(self, color="#000000", bold=False):
        return self.get(italic=not bold, bold=bold, font_color=color, text_wrap=True, valign="top")


def page_setup(ws, landscape: bool, header_rows: tuple[int, int] | None = None, paper: int = 9,
               scale: int | None = None, footer_size: int = 11) -> None:
    """A4 (or ``paper``), header rows repeated on every printed page, "Trang x/y" at the foot
    (``footer_size`` pt before the scale); fit to the page width, or at a fixed ``scale`` (%)
    where the caller sets the page breaks."""
    ws.set_paper(paper)
    if landscape:
        ws.set_landscape()
    else:
        ws.set_portrait()
    if scale:
        ws.set_print_scale(scale)
    else:
        ws.fit_to_pages(1, 0)
    ws.set_margins(left=0.5, right=0.4, top=0.6, bottom=0.6)
    ws.set_footer(f'&C&"{FONT},Regular"&{footer_size}Trang &P/&N')
    if header_rows:
        ws.repeat_rows(*header_rows)


def wrapped_lines(text: str, column_width: float, font_size: int = 12, bold: bool = False) -> int:
    """How many lines a text wraps to in a column (Times New Roman is wider than the default
    font; bold wider still); each line of the text counted apart."""
    chars_per_line = max(1, int(column_width * (0.85 if bold else 0.95) * 12 / font_size))
    return sum(max(1, -(-len(line) // chars_per_line)) for line in str(text).split("\n"))


def column_points(width: float) -> float:
    """A column width in characters (as xlsxwriter sets it) in points, as office suites print
    it: xlsxwriter stores the width plus 0.71 characters of the default font's digit width,
    6 pt for Times New Roman 12 (measured on LibreOffice's PDF)."""
    return (width + 0.71) * 6


# Advance widths of Times New Roman (and of Liberation Serif, its metric twin), in 1/1000 em,
# regular and bold; a Vietnamese letter is as wide as its base letter (the marks sit above or
# below it), "Đ" as "D". Other characters: their own width where listed, else 500.
_UPPER, _LOWER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz"
_WIDTHS = {
    False: dict(zip(_UPPER, (722, 667, 667, 722, 611, 556, 722, 722, 333, 389, 722, 611, 889, 722, 722, 556, 722, 667,
                             556, 611, 722, 722, 944, 722, 722, 611)))
    | dict(zip(_LOWER, (444, 500, 444, 500, 444, 333, 500, 500, 278, 278, 500, 278, 778, 500, 500, 500, 500, 333, 389,
                        278, 500, 500, 722, 500, 500, 444)))
    | {" ": 250, ".": 250, ",": 250, ":": 278, ";": 278, "(": 333, ")": 333, "-": 333, "/": 278, "%": 833, "–": 500,
       "…": 1000, "“": 444, "”": 444, '"': 408, "'": 180},
    True: dict(zip(_UPPER, (722, 667, 722, 722, 667, 611, 778, 778, 389, 500, 778, 667, 944, 722, 778, 611, 778, 722,
                            556, 667, 722, 722, 1000, 722, 722, 667)))
    | dict(zip(_LOWER, (500, 556, 444, 556, 444, 333, 500, 556, 278, 333, 556, 278, 833, 556, 500, 556, 556, 444, 389,
                        333, 556, 500, 722, 500, 500, 444)))
    | {" ": 250, ".": 250, ",": 250, ":": 333, ";": 333, "(": 333, ")": 333, "-": 333, "/": 278, "%": 1000, "–": 500,
       "…": 1000, "“": 500, "”": 500, '"': 555, "'": 278},
}
CELL_PADDING = 6.0  # points: the office suite's margins left and right of a cell's text
MARGIN = 1.03  # "ơ", "ư" are wider than "o", "u", and the office suite rounds: 3 % more


def text_points(text: str, font_size: float = 12, bold: bool = False) -> float:
    """How wide a line of text prints, in points."""
    widths = _WIDTHS[bold]
    base = unicodedata.normalize("NFD", text.replace("Đ", "D").replace("đ", "d"))
    return sum(widths.get(c, 500) for c in base if not unicodedata.combining(c)) * font_size / 1000 * MARGIN


def printed_lines(text: str, points: float, font_size: float = 12, bold: bool = False) -> int:
    """How many lines a wrapping cell ``points`` wide prints a text on: words are kept whole
    and moved to the next line as an office suite does; a word wider than the cell is cut.
    (The templates still size their rows with ``wrapped_lines``' rougher count: their
    committed bytes, and the sample made from them, depend on it.)"""
    room = max(1.0, points - CELL_PADDING)
    space = text_points(" ", font_size, bold)
    lines = 0
    for paragraph in str(text).split("\n"):
        used, lines = None, lines + 1
        for word in paragraph.split():
            width = text_points(word, font_size, bold)
            if used is not None and used + space + width <= room:
                used += space + width
                continue
            if used is not None:
                lines += 1
            extra = int(width // room) if width > room else 0  # a word longer than a line
            lines += extra
            used = width - extra * room
    return lines


def text_height(lines: int, font_size: float = 12) -> float:
    """A row's height for ``lines`` lines of wrapped text, in points: the line pitch (LibreOffice
    prints 12 pt Liberation Serif 13,3 pt apart) and room above and below; one LINE at least."""
    return max(LINE, PITCH * font_size / 12 * lines + 4)


def fit_row_height(ws, row: int, text: str, column_width: float, font_size: int = 12) -> None:
    """Tall enough for wrapped text (xlsxwriter cannot autofit; office suites keep the height)."""
    lines = wrapped_lines(text, column_width, font_size)
    if lines > 1:
        ws.set_row(row, LINE * lines)
