"""``python -m pipeline``: the command line of the domain core."""

import sys

from pipeline.cli import main

sys.exit(main())
