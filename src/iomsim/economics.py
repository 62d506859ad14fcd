"""The economics of one replication, from each arm's (year, item) cost matrix: discounting,
horizon totals by agency, IOM spend, benefit, benefit per pound and who pays.

Numpy only: a sweep's worker processes import this, not the results tables (pandas), so that a
new worker starts sooner. :mod:`iomsim.results` summarises these over replications.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from iomsim.engine.records import ARMS, ReplicationResult
from iomsim.scenario.schema import CORE_AGENCIES, VICTIMS, Scenario

if TYPE_CHECKING:
    from iomsim.engine.model import ItemRegistry


def discount_factors(rate: float, n_years: int) -> np.ndarray:
    """Green Book factors: year 1 undiscounted, year k by (1 + rate)^-(k - 1)."""
    return (1.0 + rate) ** -np.arange(n_years, dtype=float)


def agency_order(agencies: set[str]) -> list[str]:
    core = [a for a in CORE_AGENCIES]
    others = sorted(a for a in agencies if a not in CORE_AGENCIES and a != VICTIMS)
    return core + others + [VICTIMS]


def item_totals(scenario: Scenario, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Horizon totals per item of a (year, item) cost matrix: undiscounted and discounted."""
    factors = discount_factors(scenario.discount_rate, matrix.shape[0])
    return matrix.sum(axis=0), factors @ matrix


def economics_of(scenario: Scenario, costs: dict[str, np.ndarray], items: ItemRegistry
                 ) -> dict[str, float]:
    """Economics of one replication from each arm's (year, item) cost matrix.

    ``iom_cost``: IOM-programme items, IOM arm minus non-IOM arm. ``benefit``: costs averted (non-IOM
    minus IOM) for the benefit agencies' non-programme items, plus the cost of crime to victims
    when the scenario counts it. ``net_change_<payer>``: IOM minus non-IOM, discounted.
    """
    benefit_agencies = set(scenario.economics.benefit_agencies)
    programme = np.array([it.iom_programme for it in items.items])
    agency = np.array([it.agency for it in items.items])
    justice = np.isin(agency, list(benefit_agencies)) & ~programme
    victims = agency == VICTIMS
    totals = {arm: item_totals(scenario, costs[arm]) for arm in ARMS}
    row: dict[str, float] = {}
    for which, suffix in ((1, ""), (0, "_undiscounted")):
        iom, base = totals["iom"][which], totals["non_iom"][which]
        iom_cost = float(iom[programme].sum() - base[programme].sum())
        averted_cj = float(base[justice].sum() - iom[justice].sum())
        averted_victims = float(base[victims].sum() - iom[victims].sum())
        benefit = averted_cj + (averted_victims if scenario.economics.include_victims_in_benefit
                                else 0.0)
        row[f"iom_cost{suffix}"] = iom_cost
        row[f"benefit_criminal_justice{suffix}"] = averted_cj
        row[f"benefit_victims{suffix}"] = averted_victims
        row[f"benefit{suffix}"] = benefit
        row[f"benefit_per_pound{suffix}"] = benefit / iom_cost if iom_cost > 0 else math.nan
        row[f"npv{suffix}"] = benefit - iom_cost
    change = totals["iom"][1] - totals["non_iom"][1]
    fiscal = 0.0
    for name in agency_order(set(agency)):
        value = float(change[agency == name].sum())
        row[f"net_change_{name}"] = value
        if name != VICTIMS:
            fiscal += value
    row["fiscal_net_change"] = fiscal
    row["social_net_change"] = fiscal + row[f"net_change_{VICTIMS}"]
    return row


def replication_measures(scenario: Scenario, rep: ReplicationResult, items: ItemRegistry
                         ) -> dict[str, dict[str, float]]:
    """Every measure of one replication, for sweeps: ``{arm: {measure: value}}``.

    Arms ``non_iom`` and ``iom`` hold the outcome metrics, ``cost_<agency>`` and
    ``discounted_cost_<agency>`` (horizon totals for the cohort) and ``fiscal_cost`` /
    ``discounted_fiscal_cost``; arm ``economics`` holds :func:`economics_of` for this
    replication and ``iom_cost_per_offender``.
    """
    agency = np.array([it.agency for it in items.items])
    names = agency_order(set(agency))
    out: dict[str, dict[str, float]] = {}
    for arm in ARMS:
        measures = dict(rep.metrics[arm])
        cost, discounted = item_totals(scenario, rep.costs[arm])
        for name in names:
            mask = agency == name
            measures[f"cost_{name}"] = float(cost[mask].sum())
            measures[f"discounted_cost_{name}"] = float(discounted[mask].sum())
        fiscal = agency != VICTIMS
        measures["fiscal_cost"] = float(cost[fiscal].sum())
        measures["discounted_fiscal_cost"] = float(discounted[fiscal].sum())
        out[arm] = measures
    econ = economics_of(scenario, rep.costs, items)
    econ["iom_cost_per_offender"] = econ["iom_cost"] / rep.cohort_size if rep.cohort_size else math.nan
    out["economics"] = econ
    return out
