"""How a published Biểu falls on printed pages: A4, the print scale and the column groups of a
wide table from the column widths, and where the pages break, so that the last page holds a
few table rows with the notes and the whole signature block (never a block alone, never a
block split).

Every row of a published sheet is given an explicit height, so the page arithmetic here is
what an office suite prints; the scale is fixed (not "fit to page", which would override the
breaks)."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.workbook.style import column_points

A4 = 9  # xlsxwriter's paper code: every printed page is A4 (an A4-only printer is the rule)
# Landscape printable area in points, inside the margins of style.page_setup (0,5" + 0,4"
# left and right, 0,6" top and bottom).
PRINTABLE = {A4: (841.9 - 64.8, 595.3 - 86.4)}
FILL = 0.94  # of the printable height: room for rounding in the office suite
FILL_WIDTH = 0.96  # of the printable width: a column past the edge would print on a page of its own
SCALES = (100, 90, 80, 75)  # print scales tried, largest first: the 12 pt text prints at 9 pt at least
MAX_STRETCH = 2.0  # a column group narrower than the page is widened up to this, then centred
KEEP_ROWS = 2  # table rows printed with the signature block


@dataclass(frozen=True)
class Paper:
    code: int  # A4
    scale: int  # print scale, %

    @property
    def capacity(self) -> float:
        """The unscaled height in points that one page holds."""
        return PRINTABLE[self.code][1] * FILL * 100 / self.scale

    @property
    def width(self) -> float:
        """The unscaled width in points that one page holds."""
        return PRINTABLE[self.code][0] * FILL_WIDTH * 100 / self.scale


def paper_for(widths: list[float]) -> Paper:
    """A4 landscape at the scale that fits the columns (never below the smallest scale)."""
    total = sum(column_points(w) for w in widths)
    return Paper(A4, max(SCALES[-1], min(100, int(PRINTABLE[A4][0] * FILL_WIDTH * 100 / total))))


def column_groups(fixed: float, points: list[float], runs: list[str]) -> tuple[Paper, list[range]]:
    """A wide table on A4: the scale and the groups of its columns printed side by side with
    the row labels (``fixed`` points wide) repeated before each. ``points``: the other
    columns' widths; ``runs``: for each, the header group it belongs to (the columns of one
    group stay together where they fit on a page). The fewest groups: a table that fits at
    the largest scale, one in groups at the smallest (each group's rows on fewer pages)."""
    layouts = [(Paper(A4, scale), _pack(Paper(A4, scale).width - fixed, points, runs)) for scale in SCALES]
    fewest = min(len(groups) for _, groups in layouts)
    fitting = [layout for layout in layouts if len(layout[1]) == fewest]
    return fitting[0] if fewest == 1 else fitting[-1]


def _pack(room: float, points: list[float], runs: list[str]) -> list[range]:
    """Consecutive columns into as few groups ``room`` wide as the header groups allow: a run
    of one header group goes whole to the next page when it does not fit on this one; a run
    wider than a page is cut."""
    units: list[range] = []
    n = 0
    while n < len(points):
        end = n + 1
        while end < len(points) and runs[end] == runs[n]:
            end += 1
        units += [range(n, end)] if sum(points[n:end]) <= room else [range(c, c + 1) for c in range(n, end)]
        n = end
    groups: list[range] = []
    start, used = 0, 0.0
    for unit in units:
        width = sum(points[c] for c in unit)
        if used and used + width > room:
            groups.append(range(start, unit.start))
            start, used = unit.start, 0.0
        used += width
    groups.append(range(start, len(points)))
    if len(groups) > 1 and len(groups[-1]) == 1 and len(groups[-2]) > 1:  # the signature needs two columns
        groups[-2:] = [range(groups[-2].start, groups[-2].stop - 1), range(groups[-2].stop - 1, len(points))]
    return groups


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
