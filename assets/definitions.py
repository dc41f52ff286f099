"""The Dagster code location, loaded by workspace.yaml: ``defs`` for the ``TUANGIAO_*`` variables."""

from assets.location import build_defs
from pipeline.settings import Settings

defs = build_defs(Settings.from_environment())
