"""``python -m pipeline.tools.draft_share``: how much of the evaluation report the officer
still writes. The draft of the 2023 sample (taken in from data/sample into a temporary
folder, or the warehouse of ``--data``) is measured against the 2023 report of UBND huyện
Tuần Giáo: the words the 2023 report wrote where the draft leaves a placeholder (each
``write`` block of report.toml says how many) over the 2023 report's words."""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
from pathlib import Path

from pipeline.catalogue import default_catalogue
from pipeline.intake.take_in import take_in_plan, take_in_unit
from pipeline.publication.report import TEXT, WRITE, Draft, compose
from pipeline.publication.tables import build_reports
from pipeline.settings import Places
from pipeline.warehouse import connect, plan_info

# Words of "Báo cáo đánh giá thực hiện Chương trình mục tiêu quốc gia giảm nghèo bền vững năm
# 2023" of UBND huyện Tuần Giáo (the text from its number line to the signer's name, counted
# as `wc -w` counts: runs of characters between blanks).
REPORT_2023_WORDS = 4315
SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"


def officer_share(draft: Draft) -> float:
    """The share of the 2023 report's words that fall where the draft leaves a placeholder."""
    return draft.words(WRITE) / REPORT_2023_WORDS


def sample_draft(data: Path, period: str = "2023") -> Draft:
    catalogue = default_catalogue()
    places = Places.under(data, SAMPLE)
    if not places.warehouse.exists():
        now = dt.datetime(2023, 8, 10, 8, 0)
        for unit in catalogue.units_in(period):
            take_in_unit(catalogue, places, period, unit.code, now)
        take_in_plan(catalogue, places, period, now)
    with connect(places.warehouse) as conn:
        reports = build_reports(catalogue, conn, period)
        info = plan_info(conn, period)
    return compose(catalogue, reports, info)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="a data folder whose warehouse holds 2023 (default: the sample)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        draft = sample_draft(args.data or Path(folder))
    placeholders = sum(p.kind == WRITE for p in draft.paragraphs)
    print(f"Words written from the data: {draft.words(TEXT)} ({sum(len(p.figures) for p in draft.paragraphs)} figures)")
    print(f"Words the 2023 report wrote where the draft leaves {placeholders} placeholders: {draft.words(WRITE)}")
    for paragraph in draft.paragraphs:  # where the words are: each placeholder and its 2023 count
        if paragraph.kind == WRITE:
            print(f"  {paragraph.words_2023:4d}  {paragraph.text}")
    print(f"Officer's share: {draft.words(WRITE)} / {REPORT_2023_WORDS} = {officer_share(draft):.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
