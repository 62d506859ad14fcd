"""Tables computed from a sweep's tidy table (``point, <parameters>, replication, arm,
measure, value``): the per-point summary, the tornado table, the PSA tables and the Sobol and
Morris indices. Each function takes frames and returns a frame; the plots are drawn elsewhere.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd

from iomsim.experiments.designs import Design, salib_problem
from iomsim.economics import BENEFIT_MEASURES, PERSPECTIVE_LABELS, PERSPECTIVES
from iomsim.results import summarise

ID_COLUMNS = ("point", "replication", "arm", "measure", "value")


def parameter_columns(table: pd.DataFrame) -> list[str]:
    return [c for c in table.columns if c not in ID_COLUMNS]


def summary_table(table: pd.DataFrame) -> pd.DataFrame:
    """Per point, arm and measure: ``value`` (mean over replications), ``lo, hi`` (95%
    t-interval of the mean), ``p025, p975`` (percentiles across replications), ``n``."""
    params = parameter_columns(table)
    rows = []
    for (point, arm, measure), sub in table.groupby(["point", "arm", "measure"], sort=False):
        first = sub.iloc[0]
        values = sub["value"].to_numpy(dtype=float)
        rows.append({"point": point, **{p: first[p] for p in params}, "arm": arm,
                     "measure": measure, **summarise(values), "n": int(np.isfinite(values).sum())})
    out = pd.DataFrame(rows)
    return out.sort_values(["point"], kind="stable").reset_index(drop=True)


def point_means(table: pd.DataFrame, arm: str, measure: str) -> pd.Series:
    """The mean over replications of one measure at each point (index ``point``)."""
    sub = table[(table["arm"] == arm) & (table["measure"] == measure)]
    if sub.empty:
        raise KeyError(f"{arm}.{measure} is not in the sweep table")
    return sub.groupby("point", sort=True)["value"].mean()


def wide_by_point(table: pd.DataFrame, arm: str = "economics") -> pd.DataFrame:
    """One row per point: parameter values and the mean of every measure of ``arm``."""
    params = parameter_columns(table)
    sub = table[table["arm"] == arm]
    means = sub.pivot_table(index="point", columns="measure", values="value", aggfunc="mean",
                            sort=False)
    means.columns.name = None
    first = table.groupby("point", sort=True)[params].first()
    return first.join(means).reset_index()


# --------------------------------------------------------------------------- one-way

def tornado_table(table: pd.DataFrame, design: Design, arm: str = "economics",
                  measure: str = "benefit_per_pound") -> pd.DataFrame:
    """``parameter, low_value, high_value, measure_low, measure_high, base``: the measure (mean
    over replications) with each parameter at its low and its high value and the others at
    base; ``base`` is the measure at the base point. Sorted by swing, largest first."""
    if design.roles is None:
        raise ValueError("a tornado table needs a oneway design")
    y = point_means(table, arm, measure)
    roles = design.roles
    base_point = int(roles.index[roles["role"] == "base"][0])
    rows = []
    for p in design.names:
        lo_pt = int(roles.index[(roles["role"] == "low") & (roles["parameter"] == p)][0])
        hi_pt = int(roles.index[(roles["role"] == "high") & (roles["parameter"] == p)][0])
        rows.append({"parameter": p, "low_value": design.points.loc[lo_pt, p],
                     "high_value": design.points.loc[hi_pt, p],
                     "measure_low": float(y.loc[lo_pt]), "measure_high": float(y.loc[hi_pt]),
                     "base": float(y.loc[base_point])})
    out = pd.DataFrame(rows, columns=["parameter", "low_value", "high_value", "measure_low",
                                      "measure_high", "base"])
    swing = (out["measure_high"] - out["measure_low"]).abs()
    return out.iloc[np.argsort(-swing.to_numpy(), kind="stable")].reset_index(drop=True)


# --------------------------------------------------------------------------- PSA

def psa_samples(table: pd.DataFrame) -> pd.DataFrame:
    """One row per PSA sample (point): parameter values, the mean over replications of every
    economics measure (``benefit_per_pound``, ``npv``, ...), and ``benefit_per_offender``."""
    wide = wide_by_point(table, "economics")
    sub = table[(table["arm"] == "iom") & (table["measure"] == "offenders")]
    if not sub.empty:
        b = table[(table["arm"] == "economics") & (table["measure"] == "benefit")]
        merged = b.merge(sub[["point", "replication", "value"]], on=["point", "replication"],
                         suffixes=("", "_n"))
        merged["bpo"] = merged["value"] / merged["value_n"]
        wide = wide.merge(merged.groupby("point")["bpo"].mean().rename("benefit_per_offender"),
                          left_on="point", right_index=True, how="left")
    return wide


def psa_summary(samples: pd.DataFrame) -> pd.DataFrame:
    """Distribution of the benefit per £1 and the NPV across PSA samples, with P(benefit per
    £1 > 1) and P(NPV > 0) (``probability_above_threshold``) and that share's standard error
    over the samples (``probability_se``, binomial: sqrt(p (1 - p) / n))."""
    rows = []
    for m in ("benefit_per_pound", "npv", "benefit", "iom_cost", "iom_cost_per_offender",
              "benefit_per_offender", *BENEFIT_MEASURES, *(f"npv_{k}" for k in PERSPECTIVES)):
        if m not in samples:
            continue
        v = samples[m].to_numpy(dtype=float)
        v = v[np.isfinite(v)]
        row = {"measure": m, "mean": float(v.mean()) if v.size else math.nan,
               "sd": float(v.std(ddof=1)) if v.size > 1 else math.nan,
               "p025": float(np.percentile(v, 2.5)) if v.size else math.nan,
               "median": float(np.median(v)) if v.size else math.nan,
               "p975": float(np.percentile(v, 97.5)) if v.size else math.nan,
               "probability_above_threshold": math.nan, "threshold": math.nan, "n": int(v.size),
               "probability_se": math.nan}
        if v.size and m.startswith(("benefit_per_pound", "npv")):
            threshold = 1.0 if m.startswith("benefit_per_pound") else 0.0
            p = float((v > threshold).mean())
            row["threshold"], row["probability_above_threshold"] = threshold, p
            row["probability_se"] = math.sqrt(p * (1 - p) / v.size)
        rows.append(row)
    return pd.DataFrame(rows)


def acceptability_curve(samples: pd.DataFrame, costs: Sequence[float] | None = None,
                        max_cost: float | None = None, steps: int = 101) -> pd.DataFrame:
    """``iom_cost_per_offender, probability_npv_positive``.

    The benefit of IOM (crime and criminal justice costs averted) does not include the
    programme's own cost, so with IOM costing ``c`` per offender the NPV is positive exactly
    when the benefit per offender exceeds ``c``; the curve is the share of PSA samples where it
    does. Costs run from 0 to ``max_cost`` (default: twice the largest of the samples' benefit
    per offender and their IOM cost per offender).
    """
    b = samples["benefit_per_offender"].to_numpy(dtype=float)
    b = b[np.isfinite(b)]
    if costs is None:
        if max_cost is None:
            top = [np.nanmax(b) if b.size else 0.0]
            if "iom_cost_per_offender" in samples:
                top.append(float(np.nanmax(samples["iom_cost_per_offender"])))
            max_cost = 2 * max(max(top), 1.0)
        costs = np.linspace(0.0, float(max_cost), int(steps))
    costs = np.asarray(costs, dtype=float)
    prob = [(b > c).mean() if b.size else math.nan for c in costs]
    return pd.DataFrame({"iom_cost_per_offender": costs, "probability_npv_positive": prob})


# The benefit per £1 that a decision-maker may ask of a programme before funding it: £1 (the
# benefit covers the cost) and the Department for Transport's value-for-money categories
# (low 1 to 1.5, medium 1.5 to 2, high 2 to 4, very high above 4; DfT, Value for money
# framework, 2015), which HM Treasury's Green Book appraisal practice follows.
HURDLES = (1.0, 1.5, 2.0, 4.0)


def acceptability_by_measure(samples: pd.DataFrame, thresholds: Sequence[float] | None = None,
                             max_threshold: float | None = None, steps: int = 101
                             ) -> pd.DataFrame:
    """The benefit-cost acceptability curve of each benefit measure: ``measure, perspective,
    threshold, probability, probability_se, n``, one row per measure and threshold, where
    ``probability`` is the share of PSA samples whose benefit per £1 on that measure (the mean
    over the sample's replications) exceeds ``threshold``.

    A cost-effectiveness acceptability curve plots P(net benefit > 0) against a willingness to
    pay per unit of an effect that is not in money (a QALY). Every benefit here is in money, so
    there is no effect to put a price on; what a funder asks of a benefit-cost programme is a
    benefit per £1 above some hurdle (at least £1; £1.50, £2 or £4 for the value-for-money
    categories of :data:`HURDLES`), and the curve gives the chance of clearing each hurdle. At
    a threshold of 1 it is P(benefit > cost), equivalently P(NPV > 0) on that measure.
    Thresholds: ``steps`` evenly from 0 to ``max_threshold`` (default: 4, or the largest
    97.5th percentile of the measures rounded up, if higher), with :data:`HURDLES` added (£1,
    P(benefit > cost), always).
    ``probability_se`` is the binomial standard error over the ``n`` samples.
    """
    present = [m for m in BENEFIT_MEASURES if m in samples]
    if thresholds is None:
        if max_threshold is None:
            tops = [np.nanpercentile(samples[m].to_numpy(dtype=float), 97.5) for m in present
                    if np.isfinite(samples[m].to_numpy(dtype=float)).any()]
            max_threshold = max([HURDLES[-1], *(math.ceil(t) for t in tops if np.isfinite(t))])
        grid = np.linspace(0.0, float(max_threshold), int(steps))
        thresholds = np.unique(np.round(np.concatenate(
            [grid, [h for h in HURDLES if h <= max_threshold or h == 1.0]]), 12))
    thresholds = np.asarray(thresholds, dtype=float)
    rows = []
    for m in present:
        v = samples[m].to_numpy(dtype=float)
        v = v[np.isfinite(v)]
        perspective = m.removeprefix("benefit_per_pound_")
        for t in thresholds:
            p = float((v > t).mean()) if v.size else math.nan
            rows.append({"measure": m, "perspective": perspective, "threshold": float(t),
                         "probability": p,
                         "probability_se": math.sqrt(p * (1 - p) / v.size) if v.size
                         else math.nan, "n": int(v.size)})
    return pd.DataFrame(rows, columns=["measure", "perspective", "threshold", "probability",
                                       "probability_se", "n"])


def benefit_cost_probabilities(samples: pd.DataFrame) -> pd.DataFrame:
    """P(benefit > cost) on each benefit measure: ``measure, perspective, label, mean, p025,
    p975, probability, probability_se, n`` (``probability``: the share of PSA samples whose
    benefit per £1 exceeds 1), with the chance of clearing each of :data:`HURDLES`
    (``p_above_1.5``, ...)."""
    rows = []
    for m in BENEFIT_MEASURES:
        if m not in samples:
            continue
        v = samples[m].to_numpy(dtype=float)
        v = v[np.isfinite(v)]
        perspective = m.removeprefix("benefit_per_pound_")
        p = float((v > 1).mean()) if v.size else math.nan
        row = {"measure": m, "perspective": perspective,
               "label": PERSPECTIVE_LABELS.get(perspective, perspective),
               "mean": float(v.mean()) if v.size else math.nan,
               "p025": float(np.percentile(v, 2.5)) if v.size else math.nan,
               "p975": float(np.percentile(v, 97.5)) if v.size else math.nan,
               "probability": p,
               "probability_se": math.sqrt(p * (1 - p) / v.size) if v.size else math.nan,
               "n": int(v.size)}
        for h in HURDLES[1:]:
            row[f"p_above_{h:g}"] = float((v > h).mean()) if v.size else math.nan
        rows.append(row)
    columns = ["measure", "perspective", "label", "mean", "p025", "p975", "probability",
               "probability_se", "n", *(f"p_above_{h:g}" for h in HURDLES[1:])]
    return pd.DataFrame(rows, columns=columns)  # the columns even with no measure (a header)


# --------------------------------------------------------------------------- global sensitivity

def _outputs(design: Design, y: Sequence[float] | pd.Series) -> np.ndarray:
    y = np.asarray(y, dtype=float)
    if y.shape != (len(design.points),):
        raise ValueError(f"expected {len(design.points)} outputs, one per design point, got "
                         f"{y.shape}")
    if not np.all(np.isfinite(y)):
        bad = int((~np.isfinite(y)).sum())
        raise ValueError(f"{bad} design points have no finite value of the measure (e.g. a "
                         "benefit per £1 with no IOM cost); choose another primary_measure")
    return y


def sobol_table(design: Design, y: Sequence[float] | pd.Series, seed: int = 0,
                num_resamples: int = 200) -> pd.DataFrame:
    """``parameter, S1, S1_conf, ST, ST_conf`` by SALib's Sobol analysis of a ``saltelli``
    design; ``y`` holds one output per design point, in point order."""
    from SALib.analyze import sobol

    if design.kind != "saltelli":
        raise ValueError("Sobol indices need a saltelli design")
    res = sobol.analyze(salib_problem(design.names), _outputs(design, y),
                        calc_second_order=design.options.get("second_order", False),
                        num_resamples=num_resamples, seed=seed)
    return pd.DataFrame({"parameter": design.names, "S1": res["S1"], "S1_conf": res["S1_conf"],
                         "ST": res["ST"], "ST_conf": res["ST_conf"]})


def morris_table(design: Design, y: Sequence[float] | pd.Series, seed: int = 0,
                 num_resamples: int = 200) -> pd.DataFrame:
    """``parameter, mu, mu_star, sigma, mu_star_conf`` by SALib's Morris analysis. Elementary
    effects are per unit of each parameter's quantile scale (its range from low to high, or its
    distribution's quantiles), so ``mu_star`` compares parameters on an equal footing."""
    from SALib.analyze import morris

    if design.kind != "morris":
        raise ValueError("Morris indices need a morris design")
    res = morris.analyze(salib_problem(design.names), design.unit, _outputs(design, y),
                         num_resamples=num_resamples, num_levels=design.options["num_levels"],
                         seed=seed)
    return pd.DataFrame({"parameter": design.names, "mu": res["mu"], "mu_star": res["mu_star"],
                         "sigma": res["sigma"], "mu_star_conf": res["mu_star_conf"]})
