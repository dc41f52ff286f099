"""``python -m pipeline``: the command line of the domain core."""

from pipeline.cli import run

run()
