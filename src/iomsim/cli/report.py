"""``iomsim report RESULTS_DIR``: the report, workbook and charts of a results folder."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    """Add the ``report`` subcommand to the ``iomsim`` command line."""
    p = subparsers.add_parser(
        "report", help="write report.html, results.xlsx and chart PNGs for a results folder",
        description="Write report.html (self-contained), results.xlsx (one sheet per results "
                    "table) and each chart as a PNG into RESULTS_DIR, a folder written by "
                    "`iomsim run`. Nothing is re-simulated.")
    p.add_argument("results_dir", type=Path, metavar="RESULTS_DIR")
    # It writes into the folder it reads (no --out): where to write instead, if it cannot.
    p.set_defaults(func=cmd_report, elsewhere="copy the results folder somewhere writable and "
                                              "run the command on the copy")


def cmd_report(args: argparse.Namespace) -> int:
    from iomsim.folders import hold
    from iomsim.reporting.report import write_report

    if (args.results_dir / "sweep.json").is_file():  # a sweep folder: the sweep's report
        from iomsim.reporting.sweep_report import write_sweep_report

        with hold(args.results_dir, "report"):
            out = write_sweep_report(args.results_dir)
        print(f"Sweep report written to {out}")
        return 0
    if args.results_dir.is_dir():
        with hold(args.results_dir, "report"):  # not while a run is replacing the folder
            out = write_report(args.results_dir)
    else:  # no lock (nor a folder for it) for a typo: the reader says what is wrong
        out = write_report(args.results_dir)
    print(f"Report written to {out} (with results.xlsx and the charts as PNGs beside it)")
    return 0
