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
from iomsim.scenario.schema import CORE_AGENCIES, PAYERS, VICTIMS, Scenario

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


# The benefit measures, by perspective (economics.csv: benefit_per_pound_<p>, npv_<p>), with the
# words the terminal, report and workbook show for each.
PERSPECTIVES = ("evaluation", "taxpayer", "taxpayer_cashable", "social")
BENEFIT_MEASURES = tuple(f"benefit_per_pound_{p}" for p in PERSPECTIVES)
PERSPECTIVE_LABELS = {
    "evaluation": "as the evaluation counted it (proven reoffences averted against predicted, "
                  "over police and probation's IOM spend)",
    "taxpayer": "to the taxpayer (public costs averted, over IOM's cost and the costs it raises)",
    "taxpayer_cashable": "to the taxpayer, cashable (only what is released as cash)",
    "social": "to society (the taxpayer's plus victims' costs averted)",
}
PUBLIC_PROGRAMME_PAYERS = ("police", "probation")  # the evaluation's "additional running costs"


def cost_of_crime_per_proven_offence(scenario: Scenario, *, full: bool = False) -> float:
    """The cost of crime of one proven offence: each type's ``cost_of_crime`` (victims and
    society; with ``full``, plus ``cost_of_crime_response``, the published criminal justice part,
    giving the Home Office's full unit cost) weighted by its share of detected offences (share x
    detection probability, without IOM), since an offence is proven only once detected."""
    types = list(scenario.offending.offence_types.values())
    weights = [t.share * t.detection_probability for t in types]
    total = sum(weights)
    if total <= 0:
        return 0.0
    return sum(w * (t.cost_of_crime + (t.cost_of_crime_response if full else 0.0))
               for w, t in zip(weights, types)) / total


def _annual_stream_factor(scenario: Scenario, rate: float) -> float:
    """Sum of the discount factors of each year of the horizon, the last year weighted by the
    part of it inside the horizon: the present value of £1 a year over the horizon."""
    horizon = float(scenario.horizon_years)
    n_years = int(math.ceil(horizon - 1e-9))
    weights = np.array([min(1.0, horizon - k) for k in range(n_years)])
    return float(weights @ discount_factors(rate, n_years))


def evaluation_measure(scenario: Scenario, metrics: dict[str, dict[str, float]],
                       cohort: float, spend: float, *,
                       discounted: bool = True, count: str = "reoffences") -> dict[str, float]:
    """The evaluation's arithmetic on the model's own quantities (docs/model.md, 7.12).

    Proven reoffences averted in two years = (predicted - actual two-year proven reoffending
    rate of the IOM arm) x cohort x the IOM arm's proven reoffences per reoffender (with
    ``count="reoffenders"``: x 1, reoffenders averted); predicted = mean OGRS at registration
    when measured, else mean OGRS. The two-year figure, as a yearly rate (half of it), is kept
    up over the horizon and valued at the full cost of crime per proven offence (the published
    unit costs, criminal justice part included: :func:`cost_of_crime_per_proven_offence` with
    ``full``), discounted as a yearly stream. ``spend`` is the additional police and probation
    running cost of IOM.
    """
    iom = metrics.get("iom", {})
    predicted = iom.get("mean_ogrs_at_registration", iom.get("mean_ogrs", math.nan))
    actual = iom.get("proven_reoffending_rate_24m", math.nan)
    per_offender = iom.get("proven_reoffences_per_offender_24m", math.nan)
    if count == "reoffenders":
        per_reoffender = 1.0
    else:
        per_reoffender = per_offender / actual if actual > 0 else math.nan
    averted = (predicted - actual) * cohort * per_reoffender
    value = cost_of_crime_per_proven_offence(scenario, full=True)
    stream = _annual_stream_factor(scenario, scenario.discount_rate if discounted else 0.0)
    benefit = averted / 2.0 * value * stream
    return {"proven_reoffences_averted_24m": averted, "cost_per_proven_reoffence": value,
            "benefit": benefit, "cost": spend,
            "benefit_per_pound": benefit / spend if spend > 0 else math.nan,
            "npv": benefit - spend}


def economics_of(scenario: Scenario, costs: dict[str, np.ndarray], items: ItemRegistry,
                 metrics: dict[str, dict[str, float]] | None = None) -> dict[str, float]:
    """Economics of one replication from each arm's (year, item) cost matrix (and, for the
    evaluation's measure, each arm's outcome metrics).

    Three benefit measures, each with its NPV (docs/model.md, 7.12):

    - ``benefit_per_pound_evaluation``: the Sussex evaluation's arithmetic
      (:func:`evaluation_measure`) over ``iom_cost_police_probation``, the IOM-programme items
      paid by police and probation (IOM arm minus non-IOM arm). NaN without ``metrics``.
    - ``benefit_per_pound_taxpayer``: ``benefit_taxpayer`` (the public costs that fall with IOM:
      every agency but victims, item by item, programme items excluded, at the model's average
      costs) over ``cost_taxpayer`` = ``iom_cost`` (the programme) + ``induced_cost`` (the
      public items that rise with IOM). ``_taxpayer_cashable``: the same with each agency's
      falls and rises weighted by its ``economics.cashable_share`` (a prison day at the average
      cost releases no cash unless places close).
    - ``benefit_per_pound_social``: ``benefit_social`` = ``benefit_taxpayer`` + the cost of
      crime to victims and society averted (unless ``include_victims_in_benefit`` is false),
      over ``cost_taxpayer``.

    ``benefit_per_pound``, ``benefit`` and ``npv`` are aliases of the social measure's.
    ``benefit_criminal_justice``: averted costs of ``economics.benefit_agencies`` (programme
    items excluded), a component; ``benefit_victims``: victims' costs averted.
    ``net_change_<payer>``: IOM minus non-IOM, discounted.
    """
    benefit_agencies = set(scenario.economics.benefit_agencies)
    programme = np.array([it.iom_programme for it in items.items])
    agency = np.array([it.agency for it in items.items])
    justice = np.isin(agency, list(benefit_agencies)) & ~programme
    victims = agency == VICTIMS
    public = ~victims & ~programme
    cash_share = np.array([scenario.economics.cashable(a) for a in agency]) * public
    police_probation = programme & np.isin(agency, list(PUBLIC_PROGRAMME_PAYERS))
    totals = {arm: item_totals(scenario, costs[arm]) for arm in ARMS}
    metrics = metrics or {}
    cohort = metrics.get("iom", {}).get("offenders", math.nan)
    row: dict[str, float] = {}

    def ratio(b: float, c: float) -> float:
        return b / c if c > 0 else math.nan

    for which, suffix in ((1, ""), (0, "_undiscounted")):
        iom, base = totals["iom"][which], totals["non_iom"][which]
        averted = base - iom
        iom_cost = float(iom[programme].sum() - base[programme].sum())
        averted_cj = float(averted[justice].sum())
        averted_victims = float(averted[victims].sum())
        tax_benefit = float(np.clip(averted[public], 0, None).sum())
        induced = float(np.clip(-averted[public], 0, None).sum())
        cash_benefit = float((np.clip(averted, 0, None) * cash_share).sum())
        cash_induced = float((np.clip(-averted, 0, None) * cash_share).sum())
        social = tax_benefit + (averted_victims if scenario.economics.include_victims_in_benefit
                                else 0.0)
        cost = iom_cost + induced
        row[f"iom_cost{suffix}"] = iom_cost
        row[f"induced_cost{suffix}"] = induced
        row[f"cost_taxpayer{suffix}"] = cost
        row[f"benefit_criminal_justice{suffix}"] = averted_cj
        row[f"benefit_victims{suffix}"] = averted_victims
        row[f"benefit_taxpayer{suffix}"] = tax_benefit
        row[f"benefit_per_pound_taxpayer{suffix}"] = ratio(tax_benefit, cost)
        row[f"npv_taxpayer{suffix}"] = tax_benefit - cost
        row[f"benefit_taxpayer_cashable{suffix}"] = cash_benefit
        row[f"cost_taxpayer_cashable{suffix}"] = iom_cost + cash_induced
        row[f"benefit_per_pound_taxpayer_cashable{suffix}"] = ratio(cash_benefit,
                                                                    iom_cost + cash_induced)
        row[f"npv_taxpayer_cashable{suffix}"] = cash_benefit - iom_cost - cash_induced
        row[f"benefit_social{suffix}"] = social
        row[f"benefit_per_pound_social{suffix}"] = ratio(social, cost)
        row[f"npv_social{suffix}"] = social - cost
        # Aliases of the social measure (sweeps, break-even and the calibration targets name them).
        row[f"benefit{suffix}"] = social
        row[f"benefit_per_pound{suffix}"] = row[f"benefit_per_pound_social{suffix}"]
        row[f"npv{suffix}"] = row[f"npv_social{suffix}"]
        spend = float(iom[police_probation].sum() - base[police_probation].sum())
        ev = evaluation_measure(scenario, metrics, cohort, spend, discounted=bool(which))
        row[f"iom_cost_police_probation{suffix}"] = spend
        row[f"benefit_evaluation{suffix}"] = ev["benefit"]
        row[f"benefit_per_pound_evaluation{suffix}"] = ev["benefit_per_pound"]
        row[f"npv_evaluation{suffix}"] = ev["npv"]
    row["proven_reoffences_averted_evaluation"] = ev["proven_reoffences_averted_24m"]
    row["cost_per_proven_reoffence_evaluation"] = ev["cost_per_proven_reoffence"]
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


# The NPVs whose switching value `iomsim breakeven --switching-value` finds, and whose they are.
SWITCHING_WHO = {"npv_taxpayer": "to the taxpayer", "npv_social": "to society"}


def switching_sentence(measure: str, effect: float, lo: float, hi: float,
                       confidence: float = 0.95) -> str:
    """'IOM pays back to the taxpayer if it cuts offending by at least X%' for one row."""
    who = SWITCHING_WHO.get(measure, measure)
    if math.isnan(effect):
        return f"no cut in offending between 0% and 100% brings the NPV {who} to zero"
    interval = "" if math.isnan(lo) else f" ({confidence:.0%} interval {lo:.1%} to {hi:.1%})"
    return (f"IOM pays back {who} if it cuts offending by at least {effect:.1%} among "
            f"responders while on IOM{interval}")


def savings_by_payer(scenario: Scenario, costs: dict[str, np.ndarray], items: ItemRegistry
                     ) -> dict[str, np.ndarray]:
    """Each payer's discounted saving in each year of one replication: non-IOM minus IOM cost of
    every item its agencies pay, the IOM programme's included (``economics.payers``; victims are
    not a payer). ``{payer: array of one value per year}``, for the payers present."""
    agency = [it.agency for it in items.items]
    payer = np.array([scenario.economics.payer(a) if a != VICTIMS else "" for a in agency])
    factors = discount_factors(scenario.discount_rate, costs["iom"].shape[0])
    saving = (costs["non_iom"] - costs["iom"]) * factors[:, None]
    return {p: saving[:, payer == p].sum(axis=1) for p in PAYERS if (payer == p).any()}


def payback_year(cumulative: np.ndarray) -> float:
    """The first year (1-based) from which a cumulative saving stays at or above zero; NaN if it
    is below zero at the horizon."""
    below = np.flatnonzero(np.asarray(cumulative) < 0)
    if below.size == 0:
        return 1.0
    last = int(below[-1])
    return float(last + 2) if last + 1 < len(cumulative) else math.nan


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
    econ = economics_of(scenario, rep.costs, items, rep.metrics)
    econ["iom_cost_per_offender"] = econ["iom_cost"] / rep.cohort_size if rep.cohort_size else math.nan
    out["economics"] = econ
    return out
