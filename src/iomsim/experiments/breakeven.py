"""Break-even: the parameter value at which the benefit per £1 spent on IOM reaches 1.

Two questions, one method:

* the **smallest IOM effect** that breaks even: the largest ``iom.effects.offending_multiplier``
  (effect = 1 - multiplier) at which the benefit per £1 is still 1 (:func:`breakeven`);
* the **largest IOM cost per offender** that breaks even: every IOM programme cost is multiplied
  by a scale (``iom_cost_scale``) until the benefit per £1 falls to 1 (:func:`breakeven_cost`).

The curve is the mean over ``reps`` replications of the measure, each replication with the same
seed at every parameter value (common random numbers), so the curve is a smooth function of the
parameter rather than noise, and :func:`scipy.optimize.brentq` finds where it crosses the
target. The interval comes from a bootstrap over replications: each bootstrap sample reweights
the replications' curves (known at every value the root-finder visited, joined by straight
lines), and its root is found; the interval is the percentiles of those roots. The ends of the
interval are then simulated exactly and the bootstrap repeated, so that the interval rests on
simulated values, not only on interpolation. The interval expresses Monte Carlo uncertainty
(which replications were drawn), not uncertainty in the other parameters: use a PSA for that.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from tqdm import tqdm

from iomsim.defaults import DEFAULT_SEED
from iomsim.economics import SWITCHING_WHO
from iomsim.errors import InputError, NobodySelected
from iomsim.engine.replication import DEFAULT_ENGINE
from iomsim.execution import make_backend
from iomsim.runner import prepare_engine
from iomsim.scenario.points import IOM_COST_SCALE, parameter_problem, point_scenario
from iomsim.scenario.schema import Scenario

EFFECT_PARAMETER = "iom.effects.offending_multiplier"


@dataclass
class BreakEven:
    """Where the mean measure crosses ``target`` as ``parameter`` varies, with an interval.

    ``evaluations``: every parameter value simulated, with the mean of the measure and of each
    reported measure. ``reported``: other measures at the root (interpolated), e.g. the IOM
    cost per offender, as ``{name: (value, lo, hi)}``.
    """

    parameter: str
    measure: str
    target: float
    value: float
    lo: float
    hi: float
    confidence: float
    reps: int
    seed: int | None
    evaluations: pd.DataFrame
    reported: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    bootstrap_failures: int = 0
    note: str = ""  # why there is no break-even (value NaN), when there is none


    def to_frame(self) -> pd.DataFrame:
        rows = [{"quantity": self.parameter, "value": self.value, "lo": self.lo, "hi": self.hi}]
        for name, (v, lo, hi) in self.reported.items():
            rows.append({"quantity": name, "value": v, "lo": lo, "hi": hi})
        out = pd.DataFrame(rows)
        out["measure"], out["target"], out["reps"] = self.measure, self.target, self.reps
        out["confidence"] = self.confidence
        out["note"] = self.note
        return out


def _plain(x: float) -> str:
    """A measure's value for a note: whole numbers with thousands separators when large."""
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.4g}"


def _crossings(x: np.ndarray, c: np.ndarray) -> list[float]:
    """Roots of the piecewise-linear curve through (x, c)."""
    out = []
    for i in range(len(x) - 1):
        a, b = c[i], c[i + 1]
        if a == 0:
            out.append(float(x[i]))
        elif a * b < 0:
            out.append(float(x[i] + (x[i + 1] - x[i]) * a / (a - b)))
    if len(c) and c[-1] == 0:
        out.append(float(x[-1]))
    return out


def find_breakeven(evaluate: Callable[[float], np.ndarray], bracket: tuple[float, float], *,
                   target: float = 1.0, xtol: float | None = None, grid: int = 5,
                   bootstrap: int = 1000, confidence: float = 0.95, seed: int = 0,
                   extra: Callable[[float], Mapping[str, np.ndarray]] | None = None,
                   parameter: str = "x", measure: str = "y",
                   none_if_not_positive: bool = False, no_root_is_an_answer: bool = False
                   ) -> BreakEven:
    """Root of ``mean(evaluate(x)) = target`` in ``bracket``, with a bootstrap interval.

    ``evaluate(x)`` returns the measure of every replication at ``x`` (same replications, in the
    same order, at every ``x``). The bracket is first scanned at ``grid`` values (geometric when
    it spans more than a factor of 20 above zero); the root in the first interval where the
    curve crosses the target is refined by Brent's method. ``extra(x)``, if given, returns other
    per-replication measures at ``x`` to report at the root (call it after ``evaluate(x)``).
    With ``none_if_not_positive``, a measure that stays below the target across the bracket and
    is 0 or less at its low end has no break-even at all (a benefit per £1 that is negative
    whatever the cost): the result's value is NaN with a note, not an error. With
    ``no_root_is_an_answer``, so is a measure that does not cross the target anywhere in the
    bracket (a switching value outside the range a parameter can take).
    """
    a, b = float(bracket[0]), float(bracket[1])
    if not a < b:
        raise InputError(f"the bracket must have low < high, got [{a}, {b}]", file="--bracket")
    xtol = xtol if xtol is not None else (b - a) * 1e-6
    cache: dict[float, np.ndarray] = {}
    extras: dict[float, dict[str, np.ndarray]] = {}

    def values(x: float) -> np.ndarray:
        x = float(x)
        if x not in cache:
            cache[x] = np.asarray(evaluate(x), dtype=float)
            if extra is not None:
                extras[x] = {k: np.asarray(v, dtype=float) for k, v in extra(x).items()}
        return cache[x]

    def f(x: float) -> float:
        return float(np.nanmean(values(x))) - target

    if a > 0 and b / a > 20:
        scan = np.geomspace(a, b, max(2, grid))
    else:
        scan = np.linspace(a, b, max(2, grid))
    fs = [f(x) for x in scan]
    root = None
    for i in range(len(scan) - 1):
        if fs[i] == 0:
            root = float(scan[i])
            break
        if fs[i] * fs[i + 1] < 0:
            root = float(brentq(f, scan[i], scan[i + 1], xtol=xtol))
            break
    if root is None and fs[-1] == 0:
        root = float(scan[-1])
    def no_root(note: str) -> BreakEven:
        """An answer with no root (value NaN), saying why."""
        nan = math.nan
        table = pd.DataFrame({parameter: scan, "mean": [v + target for v in fs]})
        return BreakEven(parameter=parameter, measure=measure, target=target, value=nan, lo=nan,
                         hi=nan, confidence=confidence,
                         reps=len(next(iter(cache.values()))), seed=None, evaluations=table,
                         reported={}, note=note)

    if root is None and none_if_not_positive and all(v < 0 for v in fs) and fs[0] + target <= 0:
        return no_root(f"no break-even: {measure} is {fs[0] + target:.3g} at {parameter} "
                       f"{a:g} and {fs[-1] + target:.3g} at {b:g}; the benefit is not "
                       "positive, so no programme cost brings it to the target")
    if root is None and no_root_is_an_answer:
        side = "above" if all(v > 0 for v in fs) else "below"
        return no_root(f"no switching value: {measure} stays {side} {target:g} for "
                       f"{parameter} from {a:g} ({_plain(fs[0] + target)}) to {b:g} "
                       f"({_plain(fs[-1] + target)})")
    if root is None:
        lo_v, hi_v = fs[0] + target, fs[-1] + target
        raise InputError(f"{measure} does not reach {target:g} for {parameter} between {a:g} and "
                         f"{b:g} (it is {lo_v:.3g} at {a:g} and {hi_v:.3g} at {b:g}); widen the "
                         "bracket", file="--bracket")

    rng = np.random.default_rng(seed)
    alpha = (1 - confidence) / 2
    lo = hi = math.nan
    failures = 0
    for refine in range(2):
        xs = np.array(sorted(cache))
        Y = np.vstack([cache[x] for x in xs])  # (n_x, R)
        keep = np.all(np.isfinite(Y), axis=0)
        Y = Y[:, keep]
        R = Y.shape[1]
        roots = np.full(bootstrap, np.nan)
        if R > 1 and bootstrap > 0:
            W = rng.multinomial(R, np.full(R, 1.0 / R), size=bootstrap) / R  # (B, R)
            C = W @ Y.T - target  # (B, n_x)
            for j in range(bootstrap):
                found = _crossings(xs, C[j])
                if found:
                    roots[j] = min(found, key=lambda r: abs(r - root))
        ok = roots[np.isfinite(roots)]
        failures = int(bootstrap - ok.size)
        if ok.size:
            lo, hi = (float(q) for q in np.quantile(ok, [alpha, 1 - alpha]))
        if refine == 0 and ok.size:
            for x in (lo, hi):
                if a <= x <= b:
                    values(x)
    xs = np.array(sorted(cache))
    table = pd.DataFrame({parameter: xs, "mean": [float(np.nanmean(cache[x])) for x in xs]})
    reported: dict[str, tuple[float, float, float]] = {}
    if extras:
        names = sorted({k for d in extras.values() for k in d})
        for name in names:
            means = np.array([float(np.nanmean(extras[x][name])) for x in xs])
            table[name] = means
            reported[name] = tuple(float(np.interp(v, xs, means)) if np.isfinite(v) else math.nan
                                   for v in (root, lo, hi))  # type: ignore[assignment]
    return BreakEven(parameter=parameter, measure=measure, target=target, value=root, lo=lo,
                     hi=hi, confidence=confidence, reps=len(next(iter(cache.values()))),
                     seed=None, evaluations=table, reported=reported, bootstrap_failures=failures)


def _model_breakeven(scenario: Scenario, parameter: str, bracket: tuple[float, float], *,
                     measure: str, target: float, reps: int, seed: int, jobs: int | None,
                     scheduler: str | None, report: tuple[str, ...], xtol: float | None,
                     bootstrap: int, confidence: float, progress: bool | None,
                     engine: str, verbose: bool = False,
                     no_root_is_an_answer: bool = False) -> BreakEven:
    problem = parameter_problem(parameter)
    if problem:
        raise InputError(problem, file="--parameter", path=parameter)
    prepare_engine(scenario, engine, announce=progress is not False)
    for x in bracket:
        try:
            point_scenario(scenario, {parameter: float(x)})
        except InputError as exc:
            raise InputError(f"the bracket end {x:g} is not a valid value: {exc.message}",
                             file="--bracket", path=parameter) from None
    pairs = [tuple(m.split(".", 1)) for m in (measure, *report)]
    for m, p in zip((measure, *report), pairs):
        if len(p) != 2:
            raise InputError(f"expected arm.measure, got {m!r}", file="--measure")
    got: dict[float, dict[str, np.ndarray]] = {}
    # How many values the root-finder will visit is not known in advance: the bar counts
    # replications and says how many values have been simulated, so a search of several
    # minutes shows it is moving.
    bar = tqdm(desc=f"break-even {parameter.rsplit('.', 1)[-1]}"[:40], unit="rep", delay=1.0,
               disable={True: False, False: True, None: None}[progress])

    # One backend for every value simulated: workers start once and keep their compiled models.
    with bar, make_backend(scenario, jobs, scheduler) as backend:
        def run_at(x: float) -> dict[str, np.ndarray]:
            if x not in got:
                bar.set_postfix_str(f"value {len(got) + 1}: {x:.4g}", refresh=False)
                per_rep: dict[int, dict[str, float]] = {}
                try:
                    for task, result in backend.run([(0, {parameter: float(x)}, seed)], reps,
                                                    measures=pairs,  # type: ignore[arg-type]
                                                    engine=engine):
                        for _, r, rows in result:
                            per_rep[r] = {f"{arm}.{m}": v for arm, m, v in rows}
                        bar.update(task.size)
                except NobodySelected as exc:  # every measure would be 0 / 0 there
                    raise NobodySelected(f"at {parameter} = {x:g}: {exc.message}",
                                         file=exc.file, line=exc.line, path=exc.path) from None
                names = (measure, *report)
                missing = [n for n in names if n not in per_rep[0]]
                if missing:
                    raise InputError(f"the simulation has no measure {missing[0]!r}",
                                     file="--measure")
                got[x] = {n: np.array([per_rep[r][n] for r in range(reps)]) for n in names}
                if verbose:
                    bar.write(f"  {parameter} = {x:.6g}: mean {measure} = "
                              f"{np.nanmean(got[x][measure]):.4g}")
            return got[x]

        result = find_breakeven(lambda x: run_at(x)[measure], bracket, target=target, xtol=xtol,
                                bootstrap=bootstrap, confidence=confidence, seed=seed,
                                extra=lambda x: {n: run_at(x)[n] for n in report},
                                parameter=parameter, measure=measure,
                                none_if_not_positive=parameter == IOM_COST_SCALE,
                                no_root_is_an_answer=no_root_is_an_answer)
    result.seed = seed
    return result


def breakeven(scenario: Scenario, parameter: str = EFFECT_PARAMETER,
              bracket: tuple[float, float] = (0.0, 1.0), *,
              measure: str = "economics.benefit_per_pound", target: float = 1.0, reps: int = 20,
              seed: int = DEFAULT_SEED, jobs: int | None = None, scheduler: str | None = None,
              report: tuple[str, ...] = ("economics.iom_cost_per_offender",),
              xtol: float | None = None, bootstrap: int = 1000, confidence: float = 0.95,
              progress: bool | None = None, engine: str = DEFAULT_ENGINE,
              verbose: bool = False) -> BreakEven:
    """The value of ``parameter`` in ``bracket`` at which the mean of ``measure`` over ``reps``
    replications (common random numbers) equals ``target``; by default the largest IOM
    offending multiplier, i.e. the smallest IOM effect, with a benefit per £1 of 1.

    ``progress`` shows a bar on stderr (default: when stderr is a terminal and the search
    lasts); ``verbose`` prints each value simulated with its mean measure."""
    return _model_breakeven(scenario, parameter, bracket, measure=measure, target=target,
                            reps=reps, seed=seed, jobs=jobs, scheduler=scheduler, report=report,
                            xtol=xtol, bootstrap=bootstrap, confidence=confidence,
                            progress=progress, engine=engine, verbose=verbose)


def breakeven_cost(scenario: Scenario, bracket: tuple[float, float] = (0.01, 100.0), *,
                   measure: str = "economics.benefit_per_pound", target: float = 1.0,
                   reps: int = 20, seed: int = DEFAULT_SEED, jobs: int | None = None,
                   scheduler: str | None = None, xtol: float | None = None,
                   bootstrap: int = 1000, confidence: float = 0.95,
                   progress: bool | None = None, engine: str = DEFAULT_ENGINE,
                   verbose: bool = False) -> BreakEven:
    """The largest IOM cost per offender at which the benefit per £1 is still ``target``.

    Every IOM programme cost (offender managers, case conferences, co-location, enforcement,
    pathway referrals) is multiplied by ``iom_cost_scale``, searched in ``bracket``; the result's
    ``reported["economics.iom_cost_per_offender"]`` is the break-even cost per offender
    (discounted) with its interval.
    """
    return _model_breakeven(scenario, IOM_COST_SCALE, bracket, measure=measure, target=target,
                            reps=reps, seed=seed, jobs=jobs, scheduler=scheduler,
                            report=("economics.iom_cost_per_offender",), xtol=xtol,
                            bootstrap=bootstrap, confidence=confidence, progress=progress,
                            engine=engine, verbose=verbose)


SWITCHING_MEASURES = tuple(f"economics.{m}" for m in SWITCHING_WHO)


def switching_values(scenario: Scenario, *, reps: int = 20, seed: int = DEFAULT_SEED,
                     jobs: int | None = None, scheduler: str | None = None,
                     xtol: float | None = None, bootstrap: int = 1000, confidence: float = 0.95,
                     progress: bool | None = None, engine: str = DEFAULT_ENGINE,
                     verbose: bool = False) -> list[BreakEven]:
    """The switching values: for the taxpayer's and society's NPV (:data:`SWITCHING_MEASURES`),
    the IOM offending multiplier in [0, 1] at which the mean NPV over ``reps`` replications
    (common random numbers) is zero, with a bootstrap interval; the effect is one minus it. An
    NPV that is positive (or negative) over the whole range gives NaN with a note."""
    return [_model_breakeven(scenario, EFFECT_PARAMETER, (0.0, 1.0), measure=m, target=0.0,
                             reps=reps, seed=seed, jobs=jobs, scheduler=scheduler,
                             report=(), xtol=xtol, bootstrap=bootstrap, confidence=confidence,
                             progress=progress, engine=engine, verbose=verbose,
                             no_root_is_an_answer=True)
            for m in SWITCHING_MEASURES]


def switching_value_frame(results: list[BreakEven]) -> pd.DataFrame:
    """switching_value.csv (iomsim.results_folder.SWITCHING_VALUE): one row per measure, the
    multiplier and the effect (one minus it) with their intervals."""
    from iomsim.results_folder import SWITCHING_VALUE

    rows = [{"measure": r.measure.removeprefix("economics."), "offending_multiplier": r.value,
             "multiplier_lo": r.lo, "multiplier_hi": r.hi, "effect": 1 - r.value,
             "effect_lo": 1 - r.hi, "effect_hi": 1 - r.lo, "confidence": r.confidence,
             "reps": r.reps, "seed": r.seed, "note": r.note} for r in results]
    return pd.DataFrame(rows, columns=list(SWITCHING_VALUE.columns))


def describe(result: BreakEven) -> list[str]:
    """Plain-text lines for the terminal."""
    pct = f"{result.confidence:.0%}"
    lines = []
    if result.note:
        lines.append(f"  {result.note}")
    elif result.parameter == IOM_COST_SCALE:
        v = result.reported.get("economics.iom_cost_per_offender")
        if v:
            lines.append(f"  largest IOM cost per offender (discounted): £{v[0]:,.0f} "
                         f"({pct} interval £{v[1]:,.0f} to £{v[2]:,.0f}); "
                         f"{result.value:.3g} times the scenario's IOM costs")
    elif result.parameter == EFFECT_PARAMETER:
        lines.append(f"  smallest IOM effect: offending multiplier {result.value:.3f} "
                     f"({pct} interval {result.lo:.3f} to {result.hi:.3f}), "
                     f"i.e. a {1 - result.value:.1%} cut in offending by responders while on IOM")
    else:
        lines.append(f"  {result.parameter} = {result.value:.6g} ({pct} interval {result.lo:.6g} "
                     f"to {result.hi:.6g})")
    return lines
