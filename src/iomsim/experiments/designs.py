"""Experimental designs: which parameter values a sweep simulates.

A design turns a list of :class:`Parameter` into a table of points (one row per point, one
column per parameter, by dotted path). Designs:

``grid``
    every combination of each parameter's ``levels`` (or ``steps`` values from ``low`` to ``high``).
``oneway``
    point 0 at every parameter's base value, then each parameter at its ``low`` and its ``high``
    with the others at base (the tornado diagram). A parameter with a distribution other than
    uniform uses its 2.5th and 97.5th percentiles; with ``levels``, the first and the last.
``lhs``, ``sobol``
    ``samples`` points of a Latin hypercube or a scrambled Sobol sequence (``scipy.stats.qmc``;
    Sobol needs a power of 2) in the unit cube, mapped through each parameter's quantile function
    (uniform from ``low`` to ``high``, or its distribution).
``psa``
    probabilistic sensitivity analysis: ``samples`` independent draws from each parameter's
    distribution (``sampling: lhs`` draws them by Latin hypercube instead). Given the accepted
    draws of a calibration (``posterior``), each sample also takes one of them whole (see
    :func:`posterior_order`).
``saltelli``
    SALib's Sobol (Saltelli) sampling, ``samples`` base samples: ``samples * (D + 2)`` points
    (``samples * (2D + 2)`` with ``second_order``), for Sobol indices.
``morris``
    SALib's Morris trajectories, ``samples`` of them: ``samples * (D + 1)`` points.

Distributions (``distribution:`` key) are the scenario schema's, checked by
:class:`~iomsim.scenario.schema.ParameterDistribution`: ``fixed`` (``value``); ``uniform``
(``low``, ``high``); ``triangular`` (``low``, ``mode``, ``high``); ``normal`` (``mean``, ``sd``);
``lognormal`` (``mean``, ``sd`` of the value, or ``meanlog``, ``sdlog``); ``gamma`` (``mean``,
``sd``, or ``shape``, ``scale``); ``beta`` (``mean``, ``sd``, or ``alpha``, ``beta``);
``poisson`` (``mean``); ``negative_binomial`` (``mean``, ``sd``). On any but the first three,
``low``/``high`` come with ``bounds``: ``clip``, ``truncate`` or (beta) ``rescale``. An ``sd``
of 0 is the constant ``mean``, as in a scenario.

Every design is a pure function of its parameters, size and seed. Unbounded distributions are
sampled between their 0.05th and 99.95th percentiles, so that the corner points of Morris and
Saltelli designs stay finite.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd
from pydantic import ValidationError
from scipy import stats
from scipy.stats import qmc

from iomsim.engine.distributions import beta_params, gamma_params, lognormal_params
from iomsim.scenario.paths import SchemaPaths
from iomsim.scenario.schema import BOUNDED_KINDS, ParameterDistribution
from iomsim.scenario.validation import describe

DESIGNS = ("grid", "oneway", "lhs", "sobol", "psa", "saltelli", "morris")
# Points a design may have. The design is built, and every point checked against the scenario,
# before anything runs: samples: 1e9 took all the machine's memory instead of refusing. A
# Saltelli design of N = 4,096 for ten parameters has 49,152 points.
MAX_POINTS = 100_000
POINTS_REASON = ("beyond any sensitivity analysis (a Saltelli design of N = 4,096 for ten "
                 "parameters has 49,152); the design is built and every point checked before "
                 "anything runs")
UNBOUNDED_TAIL = 0.0005
_DISTRIBUTION_PATHS = SchemaPaths(ParameterDistribution.model_json_schema)


class DesignError(ValueError):
    """A parameter or design specification that cannot be used; ``key`` names the bad field."""

    def __init__(self, message: str, key: str | None = None):
        super().__init__(message)
        self.key = key


@dataclass
class Parameter:
    """One swept parameter: a dotted path and how its values are chosen.

    Give ``levels`` (grid), ``low``/``high`` (ranges: oneway, lhs, sobol, saltelli, morris; with
    ``steps`` for a grid), or a distribution (every design): its kind, its other keys in
    ``args``, and ``low``, ``high`` and ``bounds`` as :class:`ParameterDistribution` reads them.
    ``base`` is its value at the base point of a one-way design (the scenario's value unless
    given). ``integer`` rounds values.
    """

    path: str
    low: float | None = None
    high: float | None = None
    levels: list[Any] | None = None
    steps: int | None = None
    distribution: str | None = None
    args: dict[str, float] = field(default_factory=dict)
    base: Any = None
    integer: bool = False
    bounds: str | None = None

    def __post_init__(self) -> None:
        self._frozen = None
        self.spec: ParameterDistribution | None = None
        if self.levels is not None:
            if not isinstance(self.levels, list) or not self.levels:
                raise DesignError("levels must be a non-empty list of values", "levels")
        if (self.low is None) != (self.high is None) and self.distribution is None:
            raise DesignError("give both low and high", "low" if self.low is None else "high")
        if self.low is not None and self.high is not None and self.distribution is None:
            if not self.low <= self.high:
                raise DesignError(f"low ({self.low}) is above high ({self.high})", "low")
        if self.steps is not None and (self.steps < 2 or self.low is None):
            raise DesignError("steps needs low and high and must be at least 2", "steps")
        if self.distribution is not None:
            given = {"distribution": self.distribution, **self.args, "low": self.low,
                     "high": self.high, "bounds": self.bounds}
            try:
                self.spec = ParameterDistribution.model_validate(
                    {k: v for k, v in given.items() if v is not None})
            except ValidationError as exc:
                where, message = describe(exc, _DISTRIBUTION_PATHS)
                raise DesignError(message, where or None) from None
            self._frozen = frozen_distribution(self.spec)

    # -- values
    @property
    def is_fixed(self) -> bool:
        return self.distribution == "fixed"

    def grid_values(self) -> list[Any]:
        if self.levels is not None:
            return list(self.levels)
        if self.steps is not None:
            return [self._cast(v) for v in np.linspace(self.low, self.high, self.steps)]
        if self.is_fixed:
            return [self._cast(self.args["value"])]
        raise DesignError("a grid needs levels, or low, high and steps", "levels")

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """Map unit-interval values to parameter values (uniform range or distribution)."""
        u = np.asarray(u, dtype=float)
        if self.distribution is not None:
            if self.is_fixed:
                out = np.full(u.shape, float(self.args["value"]))
            else:
                d = self._frozen
                lo_b, hi_b = d.support()
                if not (np.isfinite(lo_b) and np.isfinite(hi_b)):
                    u = UNBOUNDED_TAIL + u * (1 - 2 * UNBOUNDED_TAIL)
                out = d.ppf(u)
        elif self.low is not None:
            out = self.low + u * (self.high - self.low)
        else:
            raise DesignError("this design needs low and high, or a distribution", "low")
        return np.round(out) if self.integer else out

    def low_high(self) -> tuple[Any, Any]:
        """The one-way low and high values."""
        if self.distribution is not None and self.distribution not in ("fixed", "uniform"):
            lo, hi = self._frozen.ppf([0.025, 0.975])
            return self._cast(lo), self._cast(hi)
        if self.low is not None and self.high is not None:
            return self._cast(self.low), self._cast(self.high)
        if self.levels is not None and len(self.levels) >= 2:
            return self.levels[0], self.levels[-1]
        raise DesignError("a one-way design needs low and high (or a distribution)", "low")

    def _cast(self, v: Any) -> Any:
        if isinstance(v, (np.floating, np.integer)):
            v = v.item()
        if self.integer and isinstance(v, float):
            return int(round(v))
        return v


class _Constant:
    """A distribution that is one value (``fixed``, or an sd of 0)."""

    def __init__(self, value: float):
        self.value = float(value)

    def support(self) -> tuple[float, float]:
        return self.value, self.value

    def ppf(self, u) -> np.ndarray:
        return np.full(np.shape(u), self.value)


class _Clipped:
    """Draws beyond ``low``/``high`` moved onto them, as the engines do for a scenario."""

    def __init__(self, base, low: float | None, high: float | None):
        self.base, self.low, self.high = base, low, high

    def support(self) -> tuple[float, float]:
        lo, hi = self.base.support()
        return (lo if self.low is None else max(lo, self.low),
                hi if self.high is None else min(hi, self.high))

    def _clip(self, x) -> np.ndarray:
        return np.clip(x, -np.inf if self.low is None else self.low,
                       np.inf if self.high is None else self.high)

    def ppf(self, u) -> np.ndarray:
        return self._clip(self.base.ppf(u))


class _Truncated(_Clipped):
    """The distribution conditioned on lying in [low, high]: quantiles of the part inside."""

    def __init__(self, base, low: float | None, high: float | None):
        super().__init__(base, low, high)
        discrete = hasattr(getattr(base, "dist", None), "pmf")
        # For a count, P(X >= low) starts after the cdf at the count below low.
        below = -np.inf if low is None else (math.ceil(low) - 1 if discrete else low)
        self.f_low = 0.0 if low is None else float(base.cdf(below))
        self.f_high = 1.0 if high is None else float(base.cdf(high))
        if not self.f_high > self.f_low:
            raise DesignError("the distribution has no chance of lying between low and high; "
                              "truncating it leaves nothing", "low")

    def ppf(self, u) -> np.ndarray:
        q = self.f_low + np.asarray(u, dtype=float) * (self.f_high - self.f_low)
        # The clip only mends rounding (and a count's quantile at exactly f_low).
        return self._clip(self.base.ppf(q))


def frozen_distribution(d: ParameterDistribution):
    """An object with ``ppf`` and ``support`` (a frozen scipy distribution where there is one)
    that draws ``d`` as its schema documents, bounds included."""
    kind = d.distribution
    base = _unbounded(d)
    if kind not in BOUNDED_KINDS or d.bounds in (None, "rescale") \
            or (d.low is None and d.high is None):
        return base
    if d.bounds == "clip":
        return _Clipped(base, d.low, d.high)
    if kind == "normal" and not isinstance(base, _Constant):
        a = -np.inf if d.low is None else (d.low - d.mean) / d.sd
        b = np.inf if d.high is None else (d.high - d.mean) / d.sd
        return stats.truncnorm(a, b, loc=d.mean, scale=d.sd)
    if isinstance(base, _Constant):
        if (d.low is not None and base.value < d.low) or (d.high is not None
                                                          and base.value > d.high):
            raise DesignError("the distribution is the constant mean, which lies outside low "
                              "and high; truncating it leaves nothing", "low")
        return base
    return _Truncated(base, d.low, d.high)


def _unbounded(d: ParameterDistribution):
    kind = d.distribution
    if kind == "fixed":
        return _Constant(d.value)
    if kind == "uniform":
        if not d.low < d.high:
            raise DesignError("uniform needs low < high", "low")
        return stats.uniform(loc=d.low, scale=d.high - d.low)
    if kind == "triangular":
        if not d.low < d.high:
            raise DesignError("triangular needs low < high", "low")
        return stats.triang(c=(d.mode - d.low) / (d.high - d.low), loc=d.low, scale=d.high - d.low)
    if kind == "poisson":
        return stats.poisson(mu=d.mean)
    if kind == "negative_binomial":
        return stats.nbinom(n=d.mean ** 2 / (d.sd ** 2 - d.mean), p=d.mean / d.sd ** 2)
    if kind in ("normal", "lognormal", "gamma") and d.sd is not None and d.sd == 0:
        return _Constant(d.mean)
    if kind == "normal":
        return stats.norm(loc=d.mean, scale=d.sd)
    if kind == "lognormal":
        mu, sigma = (d.meanlog, d.sdlog) if d.meanlog is not None else \
            lognormal_params(d.mean, d.sd)
        return stats.lognorm(s=sigma, scale=math.exp(mu))
    if kind == "gamma":
        shape, scale = (d.shape, d.scale) if d.shape is not None else gamma_params(d.mean, d.sd)
        return stats.gamma(a=shape, scale=scale)
    # beta
    lo, hi = (d.low, d.high) if d.bounds == "rescale" else (0.0, 1.0)
    if d.alpha is not None:
        a, b = d.alpha, d.beta
    else:
        a, b = beta_params((d.mean - lo) / (hi - lo), d.sd / (hi - lo))
    return stats.beta(a, b, loc=lo, scale=hi - lo)


@dataclass
class Design:
    """The points of a design and what an analysis needs to know about them.

    ``points``: one row per point (index ``point`` from 0), one column per parameter path.
    ``unit``: for ``saltelli`` and ``morris``, the unit-cube sample SALib analyses (rows match
    ``points``). ``roles``: for ``oneway``, each point's role (``base``, or ``low``/``high``)
    and the parameter it moves.
    """

    kind: str
    parameters: list[Parameter]
    points: pd.DataFrame
    unit: np.ndarray | None = None
    roles: pd.DataFrame | None = None
    options: dict[str, Any] = field(default_factory=dict)
    # psa over a calibration's accepted draws: their columns (before the parameters' in
    # ``points``) and, per point, the draw it took (its row in the posterior file, from 0).
    posterior_columns: list[str] = field(default_factory=list)
    posterior_draws: np.ndarray | None = None

    @property
    def names(self) -> list[str]:
        return [*self.posterior_columns, *(p.path for p in self.parameters)]

    def salib_problem(self) -> dict[str, Any]:
        return salib_problem(self.names)


def salib_problem(names: Sequence[str]) -> dict[str, Any]:
    """The SALib problem: every parameter on the unit interval (values go through ``ppf``)."""
    return {"num_vars": len(names), "names": list(names), "bounds": [[0.0, 1.0]] * len(names)}


def _child_seed(seed: int, tag: int) -> int:
    return int(np.random.SeedSequence([int(seed), 0x5EED, tag]).generate_state(1)[0])


def posterior_order(accepted: int, samples: int, seed: int) -> np.ndarray:
    """Which accepted draw (0 to ``accepted`` - 1) each of ``samples`` PSA samples takes: the
    accepted draws shuffled with the sweep's seed and taken in turn, a new shuffle for each
    further pass, so that no draw is taken twice before every draw is taken once (with fewer
    samples than accepted draws, a random subset without repeats)."""
    rng = np.random.default_rng(_child_seed(seed, 0x9057))
    passes = -(-samples // accepted)
    return np.concatenate([rng.permutation(accepted) for _ in range(passes)])[:samples]


def make_design(kind: str, parameters: Sequence[Parameter], *, samples: int | None = None,
                seed: int = 0, num_levels: int = 4, second_order: bool = False,
                sampling: str = "random", posterior: pd.DataFrame | None = None) -> Design:
    """Build a design. ``samples`` is the sample size (see the module docstring per design).
    ``posterior`` (psa only): a calibration's accepted draws, one row each, one column per
    parameter path (index: the draw's number), of which each sample takes one whole."""
    params = list(parameters)
    if kind not in DESIGNS:
        raise DesignError(f"unknown design {kind!r}; expected one of {', '.join(DESIGNS)}", "design")
    if posterior is not None and kind != "psa":
        raise DesignError(f"posterior: belongs to a psa design, not {kind}", "posterior")
    if posterior is not None and posterior.empty:
        raise DesignError("the posterior has no accepted draw", "posterior")
    if not params and posterior is None:
        raise DesignError("a sweep needs at least one parameter", "parameters")
    names = [p.path for p in params]
    d = len(params)
    sized = kind in ("lhs", "sobol", "psa", "saltelli", "morris")
    if sized and (samples is None or samples < 1):
        raise DesignError(f"design {kind} needs samples: a whole number >= 1", "samples")

    _check_size(kind, params, samples, second_order)
    if kind == "grid":
        rows = list(itertools.product(*[_per_param(p, p.grid_values) for p in params]))
        return Design(kind, params, _frame(rows, names))

    if kind == "oneway":
        base = [p.base for p in params]
        rows, roles = [list(base)], [("base", "")]
        for i, p in enumerate(params):
            lo, hi = _per_param(p, p.low_high)
            for role, v in (("low", lo), ("high", hi)):
                row = list(base)
                row[i] = v
                rows.append(row)
                roles.append((role, p.path))
        return Design(kind, params, _frame(rows, names),
                      roles=pd.DataFrame(roles, columns=["role", "parameter"]))

    if kind == "psa" and posterior is not None:
        return _posterior_psa(params, posterior, samples, seed, sampling)

    if kind in ("lhs", "sobol", "psa"):
        rng = np.random.default_rng(_child_seed(seed, DESIGNS.index(kind)))
        if kind == "sobol":
            if samples & (samples - 1):
                lo = 1 << (samples.bit_length() - 1)
                raise DesignError(f"a Sobol sequence needs a power of 2 samples, got {samples}; "
                                  f"try {lo} or {lo * 2}", "samples")
            unit = qmc.Sobol(d, scramble=True, rng=rng).random(samples)
        elif kind == "lhs" or sampling == "lhs":
            unit = qmc.LatinHypercube(d, rng=rng).random(samples)
        elif sampling == "random":
            unit = rng.random((samples, d))
        else:
            raise DesignError(f"unknown sampling {sampling!r}; expected random or lhs", "sampling")
        if kind == "psa":
            _psa_distributions(params)
        return Design(kind, params, _values(params, unit))

    from SALib.sample import morris as morris_sample
    from SALib.sample import sobol as sobol_sample

    problem = salib_problem(names)
    if kind == "saltelli":
        unit = sobol_sample.sample(problem, samples, calc_second_order=second_order,
                                   seed=_child_seed(seed, 5))
        return Design(kind, params, _values(params, unit), unit=unit,
                      options={"second_order": second_order})
    if num_levels < 2 or num_levels % 2:
        raise DesignError("Morris levels must be an even number >= 2", "levels")
    unit = morris_sample.sample(problem, samples, num_levels=num_levels, seed=_child_seed(seed, 6))
    return Design(kind, params, _values(params, unit), unit=unit,
                  options={"num_levels": num_levels})


def _psa_distributions(params: list[Parameter]) -> None:
    for p in params:
        if p.distribution is None:
            raise DesignError("a psa design needs a distribution for every parameter "
                              "(use distribution: fixed to hold one still)",
                              f"parameters.{p.path}")


def _posterior_psa(params: list[Parameter], posterior: pd.DataFrame, samples: int, seed: int,
                   sampling: str) -> Design:
    """A PSA whose samples each take one accepted draw of a calibration (whole: the fitted
    parameters keep their joint spread) and draw the other parameters as a PSA does."""
    _psa_distributions(params)
    columns = [str(c) for c in posterior.columns]
    clash = next((p.path for p in params if p.path in columns), None)
    if clash is not None:
        raise DesignError("the posterior already gives this parameter (each sample takes it from "
                          "an accepted draw); remove it from parameters:", f"parameters.{clash}")
    take = posterior_order(len(posterior), samples, seed)
    drawn = posterior.iloc[take].reset_index(drop=True)
    drawn.columns = columns
    if params:
        rng = np.random.default_rng(_child_seed(seed, DESIGNS.index("psa")))
        if sampling == "lhs":
            unit = qmc.LatinHypercube(len(params), rng=rng).random(samples)
        elif sampling == "random":
            unit = rng.random((samples, len(params)))
        else:
            raise DesignError(f"unknown sampling {sampling!r}; expected random or lhs", "sampling")
        points = pd.concat([drawn, _values(params, unit).reset_index(drop=True)], axis=1)
    else:
        points = drawn
    points.index.name = "point"
    return Design("psa", params, points, posterior_columns=columns,
                  posterior_draws=np.asarray(posterior.index)[take])


def _check_size(kind: str, params: list[Parameter], samples: int | None,
                second_order: bool) -> None:
    """Refuse, before building it, a design of more than ``MAX_POINTS`` points."""
    d = len(params)
    if kind == "grid":
        n, key = 1, "parameters"
        for p in params:
            k = len(p.levels) if p.levels is not None else (p.steps or 1)
            if k > MAX_POINTS:
                raise DesignError(f"{k:,} grid values, more than the {MAX_POINTS:,} points a "
                                  f"design may have: {POINTS_REASON}",
                                  f"parameters.{p.path}.{'levels' if p.levels else 'steps'}")
            n *= k
        if n > MAX_POINTS:
            raise DesignError(f"the grid has {n:,} points (the product of every parameter's "
                              f"values), more than the {MAX_POINTS:,} a design may have: "
                              f"{POINTS_REASON}", key)
        return
    if kind == "oneway" or samples is None:
        return  # 2 D + 1 points
    per = {"saltelli": 2 * d + 2 if second_order else d + 2, "morris": d + 1}.get(kind, 1)
    if samples * per > MAX_POINTS:
        made = f" ({samples:,} x {per}, for {d} parameters)" if per > 1 else ""
        raise DesignError(f"{samples * per:,} points{made}, more than the {MAX_POINTS:,} a "
                          f"design may have: {POINTS_REASON}", "samples")


def _frame(rows: list[Sequence[Any]], names: list[str]) -> pd.DataFrame:
    df = pd.DataFrame([list(r) for r in rows], columns=names)
    df.index.name = "point"
    return df


def _per_param(p: Parameter, fn):
    """Call ``fn`` and say which parameter a DesignError is about."""
    try:
        return fn()
    except DesignError as exc:
        raise DesignError(str(exc), f"parameters.{p.path}") from None


def _values(params: list[Parameter], unit: np.ndarray) -> pd.DataFrame:
    cols = {p.path: _per_param(p, lambda p=p, i=i: p.ppf(unit[:, i]))
            for i, p in enumerate(params)}
    df = pd.DataFrame(cols)
    for p in params:
        if p.integer:
            df[p.path] = df[p.path].astype(int)
    df.index.name = "point"
    return df
