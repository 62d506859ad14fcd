"""decomposition.csv for people: the short table the report shows under the decomposition chart.

The numbers are read from the results folder's ``decomposition.csv`` (see
:mod:`iomsim.decomposition` for what each row is); nothing is recomputed here.
"""

from __future__ import annotations

import math
from typing import Callable

import pandas as pd

from iomsim.decomposition import EXPOSURE_ADJUSTED, why_undefined
from iomsim.reporting.labels import percent, points

DECOMPOSITION_LABELS = {  # component: words, in the table's order
    "before": "24 months before day 0",
    "after_non_iom": "24 months after, without IOM",
    "after_iom": "24 months after, with IOM",
    "observed_change": "Observed change (after with IOM − before)",
    "regression_to_mean_and_ageing": "… of which regression to the mean and ageing",
    "custody": "… of which custody (time at liberty)",
    "iom_effect": "… of which IOM",
}
LEVELS = ("before", "after_non_iom", "after_iom")
COLUMNS = (("rate", "reconviction_rate_24m"), ("convictions", "convictions_per_offender_24m"))


def _missing(v: float) -> bool:
    return v is None or math.isnan(v)


def _formatter(key: str, level: bool) -> Callable[[float], str]:
    """Rates as percentages and their changes in points; counts and their changes to 2 places."""
    if key == "rate":
        return (lambda v: percent(v, 1)) if level else (
            lambda v: points(v, unit="points").replace("-", "−"))
    if level:
        return lambda v: "–" if _missing(v) else f"{v:,.2f}"
    return lambda v: ("–" if _missing(v) else f"{0:.2f}" if round(v, 2) == 0 else
                      f"{v:+,.2f}".replace("-", "−"))


def decomposition_rows(d: pd.DataFrame) -> list[dict[str, str]]:
    """One row per component, both measures side by side: value, 95% interval and share of the
    observed change (``rate``, ``rate_interval``, ``rate_share``, then ``convictions...``)."""
    rows = []
    for component, label in DECOMPOSITION_LABELS.items():
        row = {"label": label}
        level = component in LEVELS
        for key, measure in COLUMNS:
            r = d[(d["measure"] == measure) & (d["component"] == component)]
            if not len(r):
                row[key] = row[key + "_interval"] = row[key + "_share"] = ""
                continue
            r = r.iloc[0]
            fmt = _formatter(key, level)
            row[key] = fmt(r["mean"])
            if _missing(r["mean"]) and component in EXPOSURE_ADJUSTED:
                before = d[(d["measure"] == measure) & (d["component"] == "before")]["mean"]
                if len(before) and not _missing(before.iloc[0]):
                    row[key] = why_undefined(measure, before.iloc[0])
            row[key + "_interval"] = ("" if _missing(r["lower"]) or _missing(r["upper"]) else
                                      f"{fmt(r['lower'])} to {fmt(r['upper'])}")
            share = r["share_of_observed_change"]
            row[key + "_share"] = "" if level or _missing(share) else percent(share, 0)
        rows.append(row)
    return rows


__all__ = ["DECOMPOSITION_LABELS", "decomposition_rows"]
