"""Scenarios: the schema, the loader and the shipped parameter libraries."""

from iomsim.scenario.loader import apply_overrides, load_scenario, load_scenario_text
from iomsim.scenario.schema import Scenario

__all__ = ["Scenario", "apply_overrides", "load_scenario", "load_scenario_text"]
