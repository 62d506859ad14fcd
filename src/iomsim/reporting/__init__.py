"""Reports, charts and workbooks made from a results folder (never by re-running the model).

* :mod:`iomsim.reporting.plots`: one function per chart; a DataFrame in, a matplotlib Axes out.
* :func:`write_report`: ``report.html`` (self-contained), ``results.xlsx`` and the charts as PNGs.
* ``iomsim report RESULTS_DIR`` on the command line (:mod:`iomsim.reporting.cli`).
"""

from iomsim.reporting.plots import (
    plot_acceptability,
    plot_agency_shares,
    plot_cumulative_cost,
    plot_offender_breakdown,
    plot_psa_distribution,
    plot_reconviction_reductions,
    plot_sobol,
    plot_survival,
    plot_tornado,
    plot_who_pays,
)


def write_report(results_dir):
    """Write report.html, results.xlsx and the chart PNGs into ``results_dir``; see
    :func:`iomsim.reporting.report.write_report`."""
    from iomsim.reporting.report import write_report as _write

    return _write(results_dir)


__all__ = [
    "plot_acceptability", "plot_agency_shares", "plot_cumulative_cost", "plot_offender_breakdown",
    "plot_psa_distribution", "plot_reconviction_reductions", "plot_sobol", "plot_survival",
    "plot_tornado", "plot_who_pays", "write_report",
]
