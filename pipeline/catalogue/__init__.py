"""The form catalogue: the data files in this folder (forms, programme, targets, periods,
units, the district, the regimes in force by period, the layouts of the published Biểu, the report's wording) and the one typed model every
other module uses. ``loader``, ``layouts`` and ``report_text`` read and check the files; ``model`` is what
they give."""

from pipeline.catalogue.sources import parse_rules, parse_sum
from pipeline.catalogue.model import (
    EXCEEDED,
    MET,
    NOT_ASSESSED,
    NOT_MET,
    SAME_ROW,
    TOTAL_ROW,
    TYPES,
    UNIT_KINDS,
    UNITS_FILE,
    VALUE_COLUMN,
    VERDICTS,
    Bieu,
    Body,
    Catalogue,
    CatalogueError,
    Column,
    Form,
    Headline,
    Item,
    LayoutColumn,
    LayoutTable,
    Period,
    Programme,
    Project,
    Ref,
    Regime,
    ReportBlock,
    ReportText,
    Rule,
    Standard,
    SubProject,
    Target,
    Term,
    Unit,
)

LOADER = ("CATALOGUE_DIR", "catalogue_version", "default_catalogue", "load_catalogue")


def __getattr__(name: str):
    """The loader, and pydantic with it, is imported when first asked for: a worker that is only
    sent a loaded catalogue never needs it."""
    if name in LOADER:
        from pipeline.catalogue import loader

        return getattr(loader, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CATALOGUE_DIR", "EXCEEDED", "MET", "NOT_ASSESSED", "NOT_MET", "SAME_ROW", "TOTAL_ROW", "TYPES", "UNIT_KINDS",
    "UNITS_FILE", "VALUE_COLUMN", "VERDICTS", "Bieu", "Body", "Catalogue", "CatalogueError", "Column", "Form", "Headline",
    "Item", "LayoutColumn", "LayoutTable", "Period", "Programme", "Project", "Ref", "Regime", "ReportBlock", "ReportText", "Rule",
    "Standard",
    "SubProject", "Target", "Term", "Unit",
    "catalogue_version", "default_catalogue", "load_catalogue", "parse_rules", "parse_sum",
]
