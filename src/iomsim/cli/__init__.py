"""The ``iomsim`` command line, one module per group of commands.

:mod:`~iomsim.cli.run` (validate, run, schema), :mod:`~iomsim.cli.sweep`,
:mod:`~iomsim.cli.breakeven`, :mod:`~iomsim.cli.calibrate` and :mod:`~iomsim.cli.report` each
add their subcommands and call the public API; :mod:`~iomsim.cli.common` holds what they share
and :mod:`~iomsim.cli.app` the parser and ``main``. The modules that do the work (scenario,
runner, experiments, calibration, reporting) know nothing of the command line.
"""

from iomsim.cli.app import build_parser, main

__all__ = ["build_parser", "main"]
