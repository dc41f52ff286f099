"""How a published Biểu falls on printed pages: the paper and print scale from the column
widths, and where the pages break, so that the last page holds a few table rows with the
notes and the whole signature block (never a block alone, never a block split).

Every row of a published sheet is given an explicit height, so the page arithmetic here is
what an office suite prints; the scale is fixed (not "fit to page", which would override the
breaks)."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.workbook.style import column_points

A4, A3 = 9, 8  # xlsxwriter paper codes
# Landscape printable area in points, inside the margins of style.page_setup (0,5" + 0,4"
# left and right, 0,6" top and bottom).
PRINTABLE = {A4: (841.9 - 64.8, 595.3 - 86.4), A3: (1190.6 - 64.8, 841.9 - 86.4)}
FILL = 0.94  # of the printable height: room for rounding in the office suite
SMALLEST_TEXT = 8 / 12  # the 12 pt text must print at 8 pt at least
KEEP_ROWS = 2  # table rows printed with the signature block


@dataclass(frozen=True)
class Paper:
    code: int  # A4 or A3
    scale: int  # print scale, %

    @property
    def capacity(self) -> float:
        """The unscaled height in points that one page holds."""
        return PRINTABLE[self.code][1] * FILL * 100 / self.scale


def paper_for(widths: list[float]) -> Paper:
    """A4 landscape at the scale that fits the columns, or A3 where A4 would print the text
    below 8 pt (a wide table stays whole on one sheet of paper, its rows on one line)."""
    total = sum(column_points(w) for w in widths)
    scale = min(100, int(PRINTABLE[A4][0] * 100 / total))
    if scale >= SMALLEST_TEXT * 100:
        return Paper(A4, scale)
    return Paper(A3, max(10, min(100, int(PRINTABLE[A3][0] * 100 / total))))


def page_starts(first_page: float, repeated: float, rows: list[float], tail: float, capacity: float,
                keep: int = KEEP_ROWS) -> list[int]:
    """Which table rows begin a new page. ``first_page``: the height above the first table
    row on page 1 (titles and header); ``repeated``: the header repeated on every later page;
    ``rows``: each table row's height; ``tail``: the notes and signature block after the last
    row, kept whole on the last page together with at least ``keep`` rows."""
    starts: list[int] = []
    used = first_page
    for n, height in enumerate(rows):
        if used + height > capacity and n > (starts[-1] if starts else 0):
            starts.append(n)
            used = repeated
        used += height
    last_page_rows = len(rows) - (starts[-1] if starts else 0)
    if used + tail <= capacity and (not starts or last_page_rows >= min(keep, len(rows))):
        return starts
    last = max(0, len(rows) - keep)
    while last < len(rows) and repeated + sum(rows[last:]) + tail > capacity:
        last += 1  # a block too tall for even ``keep`` rows: as many as fit
    starts = [s for s in starts if s < last]
    if last > 0:
        starts.append(last)
    return starts
