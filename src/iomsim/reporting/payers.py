"""savings_by_payer.csv for people: the short table the report shows under the economics.

The numbers are read from the results folder's ``savings_by_payer.csv`` (see
:func:`iomsim.results.savings_by_payer_table`); nothing is recomputed here.
"""

from __future__ import annotations

import math

import pandas as pd

from iomsim.reporting.labels import money, percent


def payer_rows(savings: pd.DataFrame | None) -> list[dict[str, str]]:
    """Each payer's discounted saving over the horizon (IOM's cost to it included), its
    interval, the share of replications paid back, and the year it pays back in."""
    if savings is None or not len(savings):
        return []
    rows = []
    for payer, g in savings.groupby("payer", sort=False):
        last = g.sort_values("year").iloc[-1]
        year = float(last["payback_year"])
        lo, hi = float(last["cumulative_lo"]), float(last["cumulative_hi"])
        rows.append({"payer": payer, "saving": money(last["cumulative_saving"]),
                     "interval": "" if math.isnan(lo) else f"{money(lo)} to {money(hi)}",
                     "paid_back_share": percent(last["paid_back_share"]),
                     "payback": "not by the horizon" if math.isnan(year) else f"year {year:.0f}"})
    return rows


__all__ = ["payer_rows"]
