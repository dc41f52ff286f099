"""The summary sections of a phase's draft report ("Tỷ lệ hộ nghèo giảm bình quân … %/năm,
đạt/chưa đạt mục tiêu …"), written from the phase's published Biểu 01 (its rows, as
printed) with the wording of ``phase.toml`` ([summary]): a sentence per trend target, then
how many phase targets are met. A rate kept at the year's end (a stock, "last") tells its
mean change per year between the first and the last year with data; a count tells its
total. Where years are missing a first sentence says up to which year the summary holds."""

from __future__ import annotations

from pipeline.catalogue import EXCEEDED, MET, NOT_ASSESSED, Catalogue
from pipeline.publication.phase import PROVISIONAL, shown
from pipeline.publication.tables import Report, Row, round_half_up
from pipeline.text import show_number


def phase_sentences(catalogue: Catalogue, report: Report) -> list[str]:
    """The summary sentences of a phase from its Biểu 01 report."""
    wording = catalogue.phase.summary
    table = report.tables[0]
    years = [c.key[1:] for c in table.columns if c.key.startswith("Y") and c.key[1:].isdigit()]
    rows = {r.code: r for r in table.rows}
    present = [y for y in years if any(r.values.get(f"Y{y}") is not None for r in table.rows)]
    missing = [y for y in years if y not in present]
    sentences = [wording.provisional.format(last_year=present[-1], missing=", ".join(missing))] \
        if missing and present else []
    targets = {t.code: t for t in catalogue.targets}
    for code in catalogue.phase.trends:
        target, row = targets[code], rows[code]
        known = [y for y in present if row.values.get(f"Y{y}") is not None]
        fields = {"label": target.label, "unit": target.unit, "verdict": _verdict(row), "target": shown(row.values.get("target"), target.kind)}
        if target.kind == "rate" and len(known) >= 2 and row.values.get("phase") == row.values[f"Y{known[-1]}"]:
            first, last = row.values[f"Y{known[0]}"], row.values[f"Y{known[-1]}"]
            change = (last - first) / (int(known[-1]) - int(known[0]))
            verb, towards = wording.decrease if change < 0 else wording.increase
            sentences.append(wording.change.format(
                **fields, verb=verb, towards=towards, change=show_number(round_half_up(abs(change), 2), 2),
                first=shown(first, "rate"), first_year=known[0], last=shown(last, "rate"), last_year=known[-1]))
        elif row.values.get("phase") is not None:
            sentences.append(wording.total.format(**fields, total=shown(row.values["phase"], target.kind)))
    verdicts = [str(r.values.get("assessment", "")) for r in table.rows]
    met = sum(v.startswith((MET, EXCEEDED)) for v in verdicts)
    sentences.append(wording.met.format(met=met, targets=len(verdicts)))
    return sentences


def _verdict(row: Row) -> str:
    """The row's assessment as a sentence says it: "đạt", "vượt", "chưa đạt", "chưa đánh giá"."""
    text = str(row.values.get("assessment") or NOT_ASSESSED).replace(f" ({PROVISIONAL})", "")
    return text[:1].lower() + text[1:]

