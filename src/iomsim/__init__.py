"""iomsim: what offenders cost the agencies that work with them, with and without IOM.

The public API is small::

    import iomsim
    scenario = iomsim.load_scenario("scenarios/sussex-2013.yaml", overrides={"discount_rate": 0.015})
    results = iomsim.run(scenario, reps=50, seed=1)
    results.costs_by_agency      # pandas DataFrames, documented in the README
    results.write("results/sussex")
"""

from iomsim.errors import InputError, IomsimError, ScenarioError
from iomsim.results import Results, read_results
from iomsim.runner import run
from iomsim.scenario import Scenario, apply_overrides, load_scenario, load_scenario_text
from iomsim.experiments import breakeven, sweep

__version__ = "0.1.0"

__all__ = [
    "InputError", "IomsimError", "Results", "Scenario", "ScenarioError", "apply_overrides",
    "load_scenario", "load_scenario_text", "read_results", "run", "__version__", "breakeven",
    "sweep",
]
