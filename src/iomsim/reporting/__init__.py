"""Reports, charts and workbooks made from a results folder (never by re-running the model).

* :mod:`iomsim.reporting.plots`: one function per chart; a DataFrame in, a matplotlib Axes out.
* :func:`write_report`: ``report.html`` (self-contained), ``results.xlsx`` and the charts as PNGs.
* ``iomsim report RESULTS_DIR`` on the command line (:mod:`iomsim.cli.report`).
"""

from iomsim._lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, {
    "plot_acceptability": "iomsim.reporting.plots",
    "plot_acceptability_by_measure": "iomsim.reporting.plots",
    "plot_agency_shares": "iomsim.reporting.plots",
    "plot_cumulative_cost": "iomsim.reporting.plots",
    "plot_decomposition": "iomsim.reporting.plots",
    "plot_offender_breakdown": "iomsim.reporting.plots",
    "plot_psa_distribution": "iomsim.reporting.plots",
    "plot_reconviction_reductions": "iomsim.reporting.plots",
    "plot_sobol": "iomsim.reporting.plots",
    "plot_survival": "iomsim.reporting.plots",
    "plot_tornado": "iomsim.reporting.plots",
    "plot_who_pays": "iomsim.reporting.plots",
    "write_report": "iomsim.reporting.report",
})

__all__ = __dir__()
