"""Calibration that respects priors: rejection approximate Bayesian computation (ABC).

A targets file with ``method: abc`` gives each parameter a prior (a distribution, truncated to
``[low, high]``) and its source::

    method: abc
    draws: 400        # parameter sets drawn from the priors (a Latin hypercube)
    accept: 40        # the nearest to the targets are kept: the approximate posterior
    parameters:
      iom.effects.offending_multiplier: {prior: lognormal, median: 0.9, sigma_log: 0.08,
                                         low: 0.6, high: 1.2, source: "..."}
      offending.phases.active_share: {prior: beta, a: 6, b: 4, low: 0.2, high: 0.9}
      cohort.profile.ogrs.mean: {low: 0.3, high: 0.8}           # uniform
    targets: [...]

Every draw runs the same seed and replications (common random numbers), and its distance to
the targets is the root of the sum of squared gaps, each divided by its tolerance (fitted
targets only). A draw whose selection picks fewer offenders than ``selection.cohort_size`` (on
average over its replications) is rejected whatever its distance: its targets would describe a
smaller, different cohort from the one the evaluation followed. So is a draw the model refuses
to run (a population that would offend without bound, say): the fit goes on without it. The ``accept`` nearest draws are the accepted sets, and each parameter's spread
is their 5th to 95th percentiles. A scenario needs one point, and the accepted draws' medians,
taken one parameter at a time, need not make a point that fits (in many dimensions no accepted
draw is near it): the point written is the accepted draw that, among the ``refine`` nearest,
fits best again at another seed (``seed + 1``) with twice the replications, so that it is not
chosen for the Monte Carlo noise of the seed it was found with. Because every draw's
simulated targets are kept, the leave-one-target-out check costs no simulation: for each fitted
target in turn, the draws are ranked by their distance to the other targets, the nearest
``accept`` kept, and the withheld target predicted by their simulated values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from iomsim.defaults import DEFAULT_ENGINE
from iomsim.errors import InputError

PRIORS = ("uniform", "lognormal", "beta", "normal")


@dataclass
class Prior:
    """A parameter's prior, truncated to [low, high]."""

    kind: str
    low: float
    high: float
    median: float | None = None
    sigma_log: float | None = None
    a: float | None = None
    b: float | None = None
    mean: float | None = None
    sd: float | None = None
    source: str | None = None

    def distribution(self):
        from scipy import stats
        if self.kind == "lognormal":
            return stats.lognorm(s=self.sigma_log, scale=self.median)
        if self.kind == "beta":
            return stats.beta(self.a, self.b)
        if self.kind == "normal":
            return stats.norm(self.mean, self.sd)
        return stats.uniform(self.low, self.high - self.low)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """Quantiles of the prior truncated to [low, high]."""
        d = self.distribution()
        lo, hi = d.cdf(self.low), d.cdf(self.high)
        return np.clip(d.ppf(lo + u * (hi - lo)), self.low, self.high)

    def describe(self) -> str:
        if self.kind == "lognormal":
            text = f"lognormal(median {self.median:g}, sigma_log {self.sigma_log:g})"
        elif self.kind == "beta":
            text = f"beta({self.a:g}, {self.b:g})"
        elif self.kind == "normal":
            text = f"normal({self.mean:g}, {self.sd:g})"
        else:
            text = "uniform"
        return f"{text} on [{self.low:g}, {self.high:g}]"


@dataclass
class Posterior:
    """What ABC found: every draw with its simulated targets and distance, the accepted ones,
    and the leave-one-target-out check."""

    draws: pd.DataFrame  # one row per draw: parameters, simulated targets, distance, accepted
    parameters: dict[str, float]  # the accepted draw chosen as the point (see the module)
    intervals: dict[str, tuple[float, float]]  # 5th and 95th percentiles of the accepted
    rows: list  # (Target, simulated value at the median) as Fit.rows
    leave_one_out: pd.DataFrame
    objective: float


def distances(values: np.ndarray, targets, columns: list[int]) -> np.ndarray:
    """Root of the summed squared gaps / tolerance over ``columns`` (targets' indices); a draw
    with a target that could not be computed is infinitely far."""
    gaps = np.stack([(values[:, k] - targets[k].value) / targets[k].tolerance for k in columns],
                    axis=1)
    d = np.sqrt(np.sum(gaps ** 2, axis=1))
    d[~np.isfinite(d)] = np.inf
    return d


def sample_priors(priors: dict[str, Prior], draws: int, seed: int) -> pd.DataFrame:
    """``draws`` parameter sets: a Latin hypercube (any number of draws, each prior's range
    evenly covered) mapped through each prior."""
    from scipy.stats import qmc
    u = qmc.LatinHypercube(d=len(priors), seed=seed).random(draws)
    return pd.DataFrame({path: prior.ppf(u[:, j]) for j, (path, prior) in enumerate(priors.items())})


def accepted_intervals(draws: pd.DataFrame, params: list[str], accepted: np.ndarray
                       ) -> dict[str, tuple[float, float]]:
    """Each parameter's 5th and 95th percentiles over the accepted draws."""
    kept = draws.loc[accepted, params]
    return {p: (float(kept[p].quantile(0.05)), float(kept[p].quantile(0.95))) for p in params}


def leave_one_out(values: np.ndarray, targets, fitted: list[int], accept: int) -> pd.DataFrame:
    """For each fitted target: accept on the others, predict it from the accepted draws (no
    rows with fewer than two fitted targets: nothing would be left to accept on)."""
    rows = []
    for k in fitted if len(fitted) > 1 else ():
        others = [j for j in fitted if j != k]
        d = distances(values, targets, others)
        keep = np.argsort(d, kind="stable")[:accept]
        predicted = values[keep, k]
        t = targets[k]
        rows.append({"withheld": t.label, "target": t.value, "tolerance": t.tolerance,
                     "predicted": float(np.median(predicted)),
                     "predicted_p05": float(np.quantile(predicted, 0.05)),
                     "predicted_p95": float(np.quantile(predicted, 0.95)),
                     "within_tolerance": bool(abs(np.median(predicted) - t.value)
                                              <= t.tolerance)})
    return pd.DataFrame(rows, columns=["withheld", "target", "tolerance", "predicted",
                                       "predicted_p05", "predicted_p95", "within_tolerance"])


def cohort_selected(results) -> float:
    """How many offenders the IOM arm followed, on average over the replications."""
    o = results.outcomes
    row = o[(o["arm"] == "iom") & (o["metric"] == "offenders")]
    return float(row["value"].iloc[0]) if len(row) else math.nan


def choose_point(values_again: np.ndarray, targets, candidates: np.ndarray) -> int:
    """The candidate draw (index) nearest the targets in ``values_again``, its targets
    simulated again at another seed (rows in the order of ``candidates``)."""
    fitted = [k for k, t in enumerate(targets) if t.fit]
    d = distances(values_again, targets, fitted)
    return int(candidates[int(np.argmin(d))])


def calibrate_abc(scenario, targets, priors: dict[str, Prior], *, measure: Callable,
                  draws: int, accept: int, reps: int, seed: int, jobs: int = 1, refine: int = 10,
                  scheduler: str | None = None, engine: str = DEFAULT_ENGINE,
                  progress: bool | None = None,
                  log: Callable[[str], None] | None = None) -> Posterior:
    """Rejection ABC of ``priors`` against ``targets.targets`` (see the module's docstring);
    ``measure(results, target)`` reads a target's simulated value (calibration.measure)."""
    from tqdm import tqdm

    from iomsim.scenario.loader import apply_overrides
    from iomsim.runner import open_backend, prepare_engine, run_with

    prepare_engine(scenario, engine, announce=progress is not False)
    base = apply_overrides(scenario, targets.overrides) if targets.overrides else scenario
    table = sample_priors(priors, draws, seed)
    params = list(priors)
    tlist = list(targets.targets)
    values = np.full((draws, len(tlist)), np.nan)
    selected = np.full(draws, np.nan)
    wanted = base.selection.cohort_size if base.selection is not None else 0
    refused: list[str] = []
    bar = tqdm(total=draws, desc="abc", unit="draw", delay=1.0,
               disable={True: False, False: True, None: None}[progress])

    def evaluate_at(backend, point: dict[str, float], n: int, s: int
                    ) -> tuple[list[float], float]:
        """The targets' simulated values, and how many the selection picked; NaN for a draw
        the model refuses to run (a population that would offend without bound, a selection
        that picks nobody): such a draw is rejected, not the fit stopped."""
        try:
            res = run_with(backend, point, reps=n, seed=s, progress=False, engine=engine)
        except InputError as exc:
            refused.append(str(exc))
            return [math.nan] * len(tlist), math.nan
        return [measure(res, t) for t in tlist], cohort_selected(res)

    with bar, open_backend(base, jobs, scheduler, reps) as backend:
        for i in range(draws):
            point = {p: float(table.at[i, p]) for p in params}
            values[i], selected[i] = evaluate_at(backend, point, reps, seed)
            bar.update(1)
        fitted = [k for k, t in enumerate(tlist) if t.fit]
        d = distances(values, tlist, fitted)
        d[selected < wanted - 0.5] = np.inf  # a short selection: another cohort
        order = np.argsort(d, kind="stable")
        accepted = np.zeros(draws, dtype=bool)
        accepted[order[:accept]] = np.isfinite(d[order[:accept]])
        if not accepted.any():
            raise InputError(f"no draw of {draws} selected selection.cohort_size ({wanted}) "
                             "offenders with finite targets: widen the priors that set the "
                             "population, or draw more", path="parameters")
        intervals = accepted_intervals(table, params, accepted)
        candidates = order[:min(refine, int(accepted.sum()))]
        again = np.array([evaluate_at(backend, {p: float(table.at[int(i), p]) for p in params},
                                      2 * reps, seed + 1)[0] for i in candidates])
        chosen = choose_point(again, tlist, candidates)
        point = {p: float(table.at[chosen, p]) for p in params}
        at_point, _ = evaluate_at(backend, point, reps, seed)
    for k, t in enumerate(tlist):
        table[f"sim:{t.label}"] = values[:, k]
    table["selected"] = selected
    table["distance"] = d
    table["accepted"] = accepted
    table["chosen"] = np.arange(draws) == chosen
    objective = float(sum(((v - t.value) / t.tolerance) ** 2
                          for t, v in zip(tlist, at_point) if t.fit and math.isfinite(v)))
    n_accepted = int(accepted.sum())
    if log:
        short = int(np.sum(selected < wanted - 0.5))
        log(f"accepted {n_accepted} of {draws} draws ({short} rejected for selecting fewer than "
            f"{wanted}, {len(refused)} refused by the model"
            + (f", the first: {refused[0]}" if refused else "")
            + f"); distances {d[order[0]]:.3g} to {d[order[n_accepted - 1]]:.3g}")
    return Posterior(draws=table, parameters=point, intervals=intervals,
                     rows=list(zip(tlist, at_point)),
                     leave_one_out=leave_one_out(np.where(np.isfinite(d)[:, None], values,
                                                          np.nan), tlist, fitted, n_accepted),
                     objective=objective)


def format_posterior(post: Posterior, priors: dict[str, Prior]) -> str:
    lines = [f"{'parameter':48s} {'chosen':>10s} {'p05':>10s} {'p95':>10s}  prior"]
    for p, v in post.parameters.items():
        lo, hi = post.intervals[p]
        pr = priors[p]
        edge = ""
        if min(abs(v - pr.low), abs(v - pr.high)) <= 0.02 * (pr.high - pr.low):
            edge = "  AT A BOUND"
        lines.append(f"{p[:48]:48s} {v:10.4g} {lo:10.4g} {hi:10.4g}  {pr.describe()}{edge}")
    lines.append("")
    lines.append("leave one target out (accept on the others, predict the withheld one):")
    for r in post.leave_one_out.itertuples():
        lines.append(f"  {r.withheld[:46]:46s} target {r.target:8.4g}  predicted {r.predicted:8.4g}"
                     f" ({r.predicted_p05:.4g} to {r.predicted_p95:.4g})"
                     f"  {'within' if r.within_tolerance else 'outside'} tolerance")
    return "\n".join(lines)


__all__ = ["PRIORS", "Posterior", "Prior", "calibrate_abc", "format_posterior", "leave_one_out",
           "sample_priors"]
