"""A scenario with parameter values applied: one point of a sweep, a break-even search or a fit.

Part of the scenario layer (it needs nothing above it), so that the execution layer's workers,
which only apply points, start without importing the experiments (pandas, scipy.stats).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from iomsim.errors import OverrideError
from iomsim.scenario import apply_overrides
from iomsim.scenario.loader import SCENARIO_PATHS
from iomsim.scenario.paths import (EXAMPLE, PathLookupError, PathSyntaxError, close_match,
                                   did_you_mean, get_value, parse)
from iomsim.scenario.schema import Scenario

# A pseudo-parameter: multiplies every IOM programme cost (break-even and sweeps over IOM cost).
IOM_COST_SCALE = "iom_cost_scale"
# Its bounds. Below a thousandth the programme is all but free and the benefit per £1 grows
# without limit (1e-300 gave -9e298 with infinite intervals); a thousandfold cost is beyond any
# costing error or plan (and money per unit is bounded anyway).
MIN_IOM_COST_SCALE = 0.001
MAX_IOM_COST_SCALE = 1000.0
IOM_COST_SCALE_REASON = (
    "below a thousandth the programme is all but free and the benefit per £1 grows without "
    "limit; a thousandfold cost is beyond any costing error")


def check_iom_cost_scale(scale: Any) -> float:
    """``scale`` as a float, or :class:`~iomsim.errors.OverrideError` (path ``iom_cost_scale``)
    when it is not a number from :data:`MIN_IOM_COST_SCALE` to :data:`MAX_IOM_COST_SCALE`."""
    if isinstance(scale, bool) or not isinstance(scale, (int, float, np.integer, np.floating)):
        raise OverrideError(f"expected a number, got {scale!r}", path=IOM_COST_SCALE)
    value = float(scale)
    if not MIN_IOM_COST_SCALE <= value <= MAX_IOM_COST_SCALE:
        raise OverrideError(
            f"expected a multiplier from {MIN_IOM_COST_SCALE:g} to {MAX_IOM_COST_SCALE:g}, got "
            f"{value:g}: {IOM_COST_SCALE_REASON}", path=IOM_COST_SCALE)
    return value


def iom_cost_overrides(scenario: Scenario, scale: float) -> dict[str, float]:
    """Overrides that multiply every IOM programme cost of ``scenario`` by ``scale``."""
    iom = scenario.iom
    out: dict[str, float] = {}
    for name, m in iom.offender_managers.items():
        out[f"iom.offender_managers.{name}.annual_cost"] = m.annual_cost * scale
    for i, a in enumerate(iom.case_conferences.attendees):
        out[f"iom.case_conferences.attendees[{i}].hourly_cost"] = a.hourly_cost * scale
    for agency, cost in iom.co_location_cost_per_offender_year.items():
        out[f"iom.co_location_cost_per_offender_year.{agency}"] = cost * scale
    out["iom.enforcement.cost_per_offender_year"] = iom.enforcement.cost_per_offender_year * scale
    out["iom.pathway_referrals.cost_per_referral"] = iom.pathway_referrals.cost_per_referral * scale
    return out


def point_scenario(base: Scenario, values: Mapping[str, Any]) -> Scenario:
    """The base scenario with one point's parameter values applied (all checked together)."""
    values = dict(values)
    scale = values.pop(IOM_COST_SCALE, None)
    scenario = apply_overrides(base, values) if values else base
    if scale is not None:
        scale = check_iom_cost_scale(scale)
    if scale is not None and scale != 1:
        scenario = apply_overrides(scenario, iom_cost_overrides(scenario, scale))
    return scenario


def current_value(scenario: Scenario, dotted: str) -> Any:
    """The value at a dotted path of a validated scenario
    (:class:`~iomsim.scenario.paths.PathLookupError` if the scenario has none there)."""
    if dotted == IOM_COST_SCALE:
        return 1.0
    try:
        return get_value(scenario, dotted)
    except PathLookupError:
        parts = parse(dotted)
        # A scale knob the scenario does not set is at its neutral value.
        if len(parts) == 3 and parts[:2] == ["scale", "agency_costs"]:
            return scenario.scale.agency_cost(str(parts[2]))
        if len(parts) == 3 and parts[:2] == ["scale", "service_capacity"]:
            return scenario.scale.capacity(str(parts[2]))
        raise


def parameter_problem(dotted: str) -> str | None:
    """Why ``dotted`` cannot be varied (a message), or None when it names a scenario parameter
    or is ``iom_cost_scale``."""
    if dotted == IOM_COST_SCALE:
        return None
    try:
        parse(dotted)
    except PathSyntaxError as exc:
        return f"{exc}; expected a dotted path such as {EXAMPLE}"
    if SCENARIO_PATHS.has(dotted):
        return None
    close = SCENARIO_PATHS.suggest(dotted)
    if close is None and "." not in dotted:
        close = close_match(dotted, [IOM_COST_SCALE])
    return f"no parameter at this path in the scenario{did_you_mean(close)}"
