"""Experiments on many simulations: sweeps and their designs, probabilistic sensitivity
analysis, global sensitivity indices, break-even, and the backends that run them (a local
process pool or a Dask cluster).

    import iomsim
    table = iomsim.sweep("scenarios/sweeps/tornado-small.yaml", out="results/tornado-small")
"""

from iomsim.experiments.breakeven import BreakEven, breakeven, breakeven_cost, find_breakeven
from iomsim.experiments.designs import Design, Parameter, make_design
from iomsim.experiments.spec import SweepSpec, load_sweep
from iomsim.experiments.sweep import SweepResult, analyse, run_sweep, sweep

__all__ = [
    "BreakEven", "Design", "Parameter", "SweepResult", "SweepSpec", "analyse", "breakeven",
    "breakeven_cost", "find_breakeven", "load_sweep", "make_design", "run_sweep", "sweep",
]
