"""One sweep point's scenario: the base scenario with the point's parameter values applied.

Kept apart from the sweep specification (which needs pandas and scipy.stats for its designs) so
that a sweep's worker processes, which only apply points, start without importing those.
"""

from __future__ import annotations

from typing import Any, Mapping

from iomsim.scenario import apply_overrides
from iomsim.scenario.loader import _split_path
from iomsim.scenario.schema import Scenario

# A pseudo-parameter: multiplies every IOM programme cost (break-even and sweeps over IOM cost).
IOM_COST_SCALE = "iom_cost_scale"


def iom_cost_overrides(scenario: Scenario, scale: float) -> dict[str, float]:
    """Overrides that multiply every IOM programme cost of ``scenario`` by ``scale``."""
    iom = scenario.iom
    out: dict[str, float] = {}
    for i, m in enumerate(iom.offender_managers):
        out[f"iom.offender_managers[{i}].annual_cost"] = m.annual_cost * scale
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
    if scale is not None and scale != 1:
        scenario = apply_overrides(scenario, iom_cost_overrides(scenario, float(scale)))
    return scenario


def current_value(scenario: Scenario, dotted: str) -> Any:
    """The value at a dotted path of a validated scenario (KeyError/IndexError if absent)."""
    if dotted == IOM_COST_SCALE:
        return 1.0
    obj: Any = scenario
    for part in _split_path(dotted):
        if isinstance(part, int) or isinstance(obj, dict):
            obj = obj[part]
        else:
            if not hasattr(obj, part):
                raise KeyError(part)
            obj = getattr(obj, part)
    return obj
