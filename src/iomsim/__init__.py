"""iomsim: what offenders cost the agencies that work with them, with and without IOM.

The public API is small::

    import iomsim
    scenario = iomsim.load_scenario("scenarios/sussex-2013.yaml", overrides={"discount_rate": 0.015})
    results = iomsim.run(scenario, reps=50, seed=1)
    results.costs_by_agency      # pandas DataFrames, documented in the README
    results.write("results/sussex")
"""

from iomsim._lazy import lazy_exports

__version__ = "0.1.0"

# Imported on first use, so that `iomsim validate` and `--help` stay quick.
__getattr__, __dir__ = lazy_exports(__name__, {
    "InputError": "iomsim.errors", "IomsimError": "iomsim.errors",
    "ScenarioError": "iomsim.errors", "Results": "iomsim.results",
    "read_results": "iomsim.results", "run": "iomsim.runner", "Scenario": "iomsim.scenario",
    "apply_overrides": "iomsim.scenario", "load_scenario": "iomsim.scenario",
    "load_scenario_text": "iomsim.scenario", "breakeven": "iomsim.experiments.breakeven",
    "sweep": "iomsim.experiments.sweep",
})

__all__ = sorted([*__dir__(), "__version__"])
