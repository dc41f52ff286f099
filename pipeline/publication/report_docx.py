"""Writes the report's draft as a .docx with python-docx, formatted as Nghị định 30/2020 asks
of an administrative document: A4, margins 20/20/30/15 mm, Times New Roman 14 (13 in the
header), the authority and Quốc hiệu side by side, page numbers centred at the top from page
2, the signature block beside "Nơi nhận". Placeholders for the officer are italic and
highlighted. Each figure carries a comment naming where it comes from (Biểu, sheet, row,
column): the officer sees it in the word processor, the printed page does not. The last
paragraph before the closing keeps with it, so the signature never stands on a page alone
with one sentence. The same draft always gives the same bytes: fixed document properties,
comment dates and zip entry times (python-docx stamps the clock on all three)."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

from docx import Document
from docx.enum.section import WD_SECTION
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_COLOR_INDEX
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor

from pipeline.files import atomic_output
from pipeline.publication.report import HEADING, WRITE, Draft, Paragraph

FONT = "Times New Roman"
BODY_SIZE, HEADER_SIZE, SMALL_SIZE = Pt(14), Pt(13), Pt(11)
MARGINS = {"top_margin": Mm(20), "bottom_margin": Mm(20), "left_margin": Mm(30), "right_margin": Mm(15)}
FIRST_LINE = Mm(10)
REPUBLIC, MOTTO = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc"


def write_report(draft: Draft, path: Path) -> Path:
    """The draft as ``path`` (written atomically)."""
    document = Document()
    _setup(document, draft)
    _header(document, draft)
    when = dt.datetime.combine(draft.date, dt.time(), dt.timezone.utc)
    last = len(draft.paragraphs) - 1
    for n, paragraph in enumerate(draft.paragraphs):
        if paragraph.kind == HEADING:
            _paragraph(document, paragraph.text, bold=True, italic=paragraph.level == 3, indent=True, keep=True)
        elif paragraph.kind == WRITE:
            _paragraph(document, paragraph.text, italic=True, indent=True, highlight=True, keep=n == last)
        else:
            keep = n == last or paragraph.text.endswith(":")  # a lead-in stays with what it introduces
            _figures(document, _paragraph(document, "", indent=True, keep=keep), paragraph, draft, when)
    _paragraph(document, draft.closing, indent=True, keep=True)  # never apart from the signature
    _signatures(document, draft)
    buffer = io.BytesIO()
    document.save(buffer)
    with atomic_output(path) as temporary:
        temporary.write_bytes(_fixed_zip(buffer.getvalue(), draft.date))
    return path


def _setup(document, draft: Draft) -> None:
    normal = document.styles["Normal"]
    normal.font.name, normal.font.size = FONT, BODY_SIZE
    normal.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), FONT)
    normal.paragraph_format.space_after = Pt(6)
    normal.paragraph_format.line_spacing = 1.15
    section = document.sections[0]
    section.start_type = WD_SECTION.NEW_PAGE
    section.page_width, section.page_height = Mm(210), Mm(297)
    for name, value in MARGINS.items():
        setattr(section, name, value)
    section.header_distance = section.footer_distance = Mm(10)
    section.different_first_page_header_footer = True  # no number on page 1
    number = section.header.paragraphs[0]
    number.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _page_field(number)
    when = dt.datetime.combine(draft.date, dt.time())
    properties = document.core_properties
    properties.title = f"{draft.title} – {draft.subtitle}"
    properties.subject = draft.note
    properties.author = properties.last_modified_by = draft.authority
    properties.created = properties.modified = when
    properties.revision = 1
    properties.keywords = properties.comments = properties.category = ""


def _page_field(paragraph) -> None:
    """A PAGE field (the page number, filled in by the word processor)."""
    run = paragraph.add_run()
    run.font.name, run.font.size = FONT, BODY_SIZE
    for kind, text in (("begin", None), (None, "PAGE"), ("separate", None), (None, None), ("end", None)):
        if kind:
            element = OxmlElement("w:fldChar")
            element.set(qn("w:fldCharType"), kind)
        elif text:
            element = OxmlElement("w:instrText")
            element.set(qn("xml:space"), "preserve")
            element.text = text
        else:
            element = OxmlElement("w:t")
            element.text = "2"
        run._r.append(element)


def _run(paragraph, text: str, bold=False, italic=False, size=None, underline=False, highlight=False, color=None):
    run = paragraph.add_run(text)
    run.bold, run.italic, run.underline = bold, italic, underline
    run.font.name = FONT
    if size:
        run.font.size = size
    if highlight:
        run.font.highlight_color = WD_COLOR_INDEX.YELLOW
    if color:
        run.font.color.rgb = color
    return run


def _paragraph(container, text: str, bold=False, italic=False, size=None, align=WD_ALIGN_PARAGRAPH.JUSTIFY,
               indent=False, keep=False, highlight=False, underline=False, color=None, after=None):
    paragraph = container.add_paragraph()
    paragraph.alignment = align
    if indent:
        paragraph.paragraph_format.first_line_indent = FIRST_LINE
    if keep:
        paragraph.paragraph_format.keep_with_next = True
    if after is not None:
        paragraph.paragraph_format.space_after = after
    if text:
        _run(paragraph, text, bold, italic, size, underline, highlight, color)
    return paragraph


def _figures(document, container, paragraph: Paragraph, draft: Draft, when: dt.datetime) -> None:
    """The paragraph's text as runs, each figure its own run with a comment naming its source."""
    at = 0
    for start, end, source in paragraph.figures:
        if start > at:
            _run(container, paragraph.text[at:start])
        run = _run(container, paragraph.text[start:end])
        comment = document.add_comment(run, text=source, author=draft.authority, initials="")
        comment._comment_elm.date = when  # python-docx stamps the clock
        at = end
    if at < len(paragraph.text):
        _run(container, paragraph.text[at:])


def _cell_lines(cell, lines: list[tuple[str, dict]]) -> None:
    """Centred lines in a table cell (the cell's own first paragraph takes the first line)."""
    for n, (text, style) in enumerate(lines):
        paragraph = cell.paragraphs[0] if n == 0 else cell.add_paragraph()
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        paragraph.paragraph_format.space_after = Pt(0)
        paragraph.paragraph_format.line_spacing = 1.0
        _run(paragraph, text, **style)


def _layout_table(document, rows: int, widths: tuple):
    """A borderless table of fixed column widths whose rows never split across pages."""
    table = document.add_table(rows=rows, cols=len(widths))
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    for column, width in zip(table.columns, widths):
        column.width = width
    for row in table.rows:
        row._tr.get_or_add_trPr().append(OxmlElement("w:cantSplit"))
        for cell, width in zip(row.cells, widths):
            cell.width = width
    return table


def _header(document, draft: Draft) -> None:
    """Authority and number on the left, Quốc hiệu, tiêu ngữ and the date line on the right,
    then the title, the draft note and, if figures are missing, the warning."""
    table = _layout_table(document, 2, (Mm(68), Mm(97)))
    _cell_lines(table.cell(0, 0), [(draft.authority, {"bold": True, "size": HEADER_SIZE}),
                                   ("――――", {"size": HEADER_SIZE})])
    _cell_lines(table.cell(0, 1), [(REPUBLIC, {"bold": True, "size": Pt(12)}),
                                   (MOTTO, {"bold": True, "size": HEADER_SIZE, "underline": True})])
    _cell_lines(table.cell(1, 0), [(draft.number_line, {"size": HEADER_SIZE})])
    _cell_lines(table.cell(1, 1), [(draft.date_line, {"italic": True, "size": BODY_SIZE})])
    _paragraph(document, "", after=Pt(0))
    _paragraph(document, draft.title, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER, after=Pt(0))
    _paragraph(document, draft.subtitle, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER)
    _paragraph(document, draft.note, italic=True, size=Pt(12), align=WD_ALIGN_PARAGRAPH.CENTER, highlight=True)
    if draft.warning:
        _paragraph(document, draft.warning, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER, color=RGBColor(0xC0, 0, 0))


def _signatures(document, draft: Draft) -> None:
    table = _layout_table(document, 1, (Mm(80), Mm(85)))
    left, right = table.cell(0, 0), table.cell(0, 1)
    _cell_lines(left, [(draft.recipients_title, {"bold": True, "italic": True, "size": Pt(12)})])
    for line in draft.recipients:
        paragraph = left.add_paragraph()
        paragraph.paragraph_format.space_after = Pt(0)
        _run(paragraph, line, size=SMALL_SIZE)
    left.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.LEFT
    lines = [(line, {"bold": True}) for line in draft.signature]
    _cell_lines(right, [*lines, *[("", {})] * 4, (draft.signer, {"bold": True})])


def _fixed_zip(data: bytes, date: dt.date) -> bytes:
    """The same package with every entry dated ``date`` (in the order python-docx wrote them)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            entry = zipfile.ZipInfo(info.filename, (date.year, date.month, date.day, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(entry, source.read(info.filename))
    return out.getvalue()
