"""``python -m iomsim.cli ARGS``: the same as ``iomsim ARGS``."""

import sys

from iomsim.cli import main

sys.exit(main())
