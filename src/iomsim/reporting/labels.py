"""Words and number formats shared by the report, the charts, the workbook and the terminal
summary, so that an agency, an arm, a horizon or a price year reads the same everywhere.

Nothing here imports matplotlib: the command line prints its summary through this module
without paying for the charts.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

VICTIMS = "victims"

AGENCY_LABELS = {
    "police": "Police",
    "probation": "Probation",
    "prison": "Prison",
    "courts": "Courts",
    "housing": "Housing",
    "nhs": "NHS",
    "drug_alcohol_treatment": "Drug and alcohol treatment",
    "local_authority": "Local authority",
    "vcs": "Voluntary sector",
    VICTIMS: "Victims and society",
}

ARM_LABELS = {"non_iom": "Without IOM", "iom": "With IOM"}

# An outcome metric whose name holds one of these is a fraction of the cohort (or a change in
# one): shown as a percentage, and a difference of two of them in percentage points.
RATE_WORDS = ("rate", "share", "reduction", "relative_change", "ogrs")

_NUMBER_WORDS = {1: "One", 2: "Two", 3: "Three", 4: "Four", 5: "Five", 6: "Six", 7: "Seven",
                 8: "Eight", 9: "Nine", 10: "Ten"}


def money(x: float, decimals: int = 0) -> str:
    """``£1,234`` (and ``−£1,234`` for a negative amount); an en dash for a missing value."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    sign = "−" if x < 0 and round(abs(x), decimals) != 0 else ""
    return f"{sign}£{abs(x):,.{decimals}f}"


def percent(x: float, decimals: int = 0) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    value = x * 100
    sign = "−" if value < 0 and round(abs(value), decimals) != 0 else ""
    return f"{sign}{abs(value):.{decimals}f}%"


def points(x: float, decimals: int = 1, unit: str = "pts") -> str:
    """A change in a rate (a difference of two fractions) in percentage points: ``-26.0 pts``."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    value = x * 100
    if round(value, decimals) == 0:
        return f"{0:.{decimals}f} {unit}"
    return f"{value:+.{decimals}f} {unit}"


def agency_label(agency: str) -> str:
    return AGENCY_LABELS.get(agency, agency.replace("_", " ").capitalize())


def arm_label(arm: str) -> str:
    return ARM_LABELS.get(arm, arm.replace("_", " "))


def is_rate(metric: str) -> bool:
    """Whether an outcome metric is a fraction of the cohort (or a relative change)."""
    return any(k in metric for k in RATE_WORDS)


def horizon_adjective(years: float) -> str:
    """``Five-year``, ``One-year``, ``0.5-year``: the horizon before a noun."""
    if float(years).is_integer() and int(years) in _NUMBER_WORDS:
        return f"{_NUMBER_WORDS[int(years)]}-year"
    return f"{years:g}-year"


def horizon_phrase(years: float) -> str:
    """``5-year horizon``."""
    return f"{years:g}-year horizon"


def price_phrase(price_year: Any, discount_rate: Any = None) -> str:
    """``£, 2011-12 prices, discounted at 3.5% a year``, as far as the scenario says."""
    words = ["£"]
    if price_year:
        words.append(f"{price_year} prices")
    if discount_rate is not None:
        words.append(f"discounted at {percent(float(discount_rate), 1)} a year"
                     if float(discount_rate) else "not discounted")
    return ", ".join(words)


def run_terms(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The horizon (years), price year and discount rate of a run, from its manifest: the
    validated scenario (every default filled in), else the resolved one."""
    out: dict[str, Any] = {"horizon_years": None, "price_year": None, "discount_rate": None}
    for key in ("validated_scenario", "resolved_scenario"):
        scenario = manifest.get(key)
        if not isinstance(scenario, Mapping):
            continue
        for name in out:
            value = scenario.get(name)
            if isinstance(value, Mapping):  # {value: ..., source: ...}
                value = value.get("value")
            if out[name] is None and value is not None:
                out[name] = value
    if out["horizon_years"] is not None:
        out["horizon_years"] = float(out["horizon_years"])
    return out


def chart_footer(manifest: Mapping[str, Any]) -> str:
    """What a chart pasted on its own needs to keep its meaning: the money's price year and
    discounting, and the horizon."""
    terms = run_terms(manifest)
    parts = []
    if terms["price_year"]:
        parts.append(f"£ at {terms['price_year']} prices")
    if terms["discount_rate"] is not None:
        parts.append(f"discounted at {percent(float(terms['discount_rate']), 1)} a year "
                     "where stated")
    if terms["horizon_years"] is not None:
        parts.append(horizon_phrase(terms["horizon_years"]))
    return "; ".join(parts)


__all__ = ["AGENCY_LABELS", "ARM_LABELS", "RATE_WORDS", "VICTIMS", "agency_label", "arm_label",
           "chart_footer", "horizon_adjective", "horizon_phrase", "is_rate", "money", "percent",
           "points", "price_phrase", "run_terms"]
