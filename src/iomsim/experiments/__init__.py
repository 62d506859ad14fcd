"""Experiments on many simulations: sweeps and their designs, probabilistic sensitivity
analysis, global sensitivity indices and break-even. Their replications run on the backends of
:mod:`iomsim.execution` (this process, a local process pool or a Dask cluster), as a run's do.

    import iomsim
    table = iomsim.sweep("scenarios/sweeps/tornado-small.yaml", out="results/tornado-small")
"""

from iomsim._lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, {
    "BreakEven": "iomsim.experiments.breakeven",
    "breakeven_cost": "iomsim.experiments.breakeven",
    "find_breakeven": "iomsim.experiments.breakeven",
    "Design": "iomsim.experiments.designs", "Parameter": "iomsim.experiments.designs",
    "make_design": "iomsim.experiments.designs",
    "SweepSpec": "iomsim.experiments.spec", "load_sweep": "iomsim.experiments.spec",
    "SweepResult": "iomsim.experiments.sweep", "analyse": "iomsim.experiments.sweep",
    "run_sweep": "iomsim.experiments.sweep",
})
# `sweep` and `breakeven` are also the names of submodules here; the functions are public as
# iomsim.sweep and iomsim.breakeven.

__all__ = __dir__()
