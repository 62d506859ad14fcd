"""Inverse distribution functions for the scenario's :class:`Distribution` specs.

Draws are made by inversion of keyed uniforms, so the same uniform gives the same quantile in
both arms. Vectorised draws (cohort generation) use scipy's exact ppf; draws inside the event
loop use a precomputed quantile table with linear interpolation, which is exact at its 8,193
knots and clamps the outer 1/16,384 of each tail to the last knot.

For the kinds the shipped scenarios use, :func:`ppf` evaluates scipy.stats' own formula through
the same scipy.special functions, which gives the same numbers bit for bit (tested) without
importing scipy.stats: that import costs a new worker process about 0.6 s, half its start-up.
"""

from __future__ import annotations

import bisect
import math

import numpy as np
from scipy import special
from scipy.special import _ufuncs

from iomsim.scenario.schema import Distribution

# scipy.stats.nbinom's ppf; private, so looked up, and scipy.stats is used if it is gone.
_NBINOM_PPF = getattr(_ufuncs, "_nbinom_ppf", None)


def _scipy_stats():
    from scipy import stats

    return stats


def lognormal_params(mean: float, sd: float) -> tuple[float, float]:
    """(mu, sigma) of the log of a lognormal with this mean and standard deviation."""
    sigma = math.sqrt(math.log1p((sd / mean) ** 2))
    return math.log(mean) - sigma ** 2 / 2, sigma


def gamma_params(mean: float, sd: float) -> tuple[float, float]:
    """(shape, scale) of a gamma with this mean and standard deviation."""
    return (mean / sd) ** 2, sd ** 2 / mean


def beta_params(mean: float, sd: float) -> tuple[float, float]:
    """(alpha, beta) of a beta on (0, 1) with this mean and standard deviation."""
    common = mean * (1 - mean) / sd ** 2 - 1
    return mean * common, (1 - mean) * common


def _frozen(d: Distribution):
    kind = d.distribution
    if kind in ("normal", "lognormal", "gamma") and (d.sd or 0.0) == 0.0:
        return None
    if kind == "fixed":
        return None
    stats = _scipy_stats()
    if kind == "normal":
        return stats.norm(loc=d.mean, scale=d.sd)
    if kind == "lognormal":
        mu, sigma = lognormal_params(d.mean, d.sd)
        return stats.lognorm(s=sigma, scale=math.exp(mu))
    if kind == "gamma":
        shape, scale = gamma_params(d.mean, d.sd)
        return stats.gamma(a=shape, scale=scale)
    if kind == "beta":
        a, b = beta_params(d.mean, d.sd)
        return stats.beta(a=a, b=b)
    if kind == "uniform":
        return stats.uniform(loc=d.low, scale=d.high - d.low)
    if kind == "triangular":
        width = d.high - d.low
        c = 0.5 if width == 0 else (d.mode - d.low) / width
        return stats.triang(c=c, loc=d.low, scale=width)
    if kind == "poisson":
        return stats.poisson(mu=d.mean)
    if kind == "negative_binomial":
        n = d.mean ** 2 / (d.sd ** 2 - d.mean)
        return stats.nbinom(n=n, p=d.mean / d.sd ** 2)
    return None


def mean_of(d: Distribution) -> float:
    if d.distribution == "fixed":
        return float(d.value)
    frozen = _frozen(d)
    if frozen is None:
        return float(d.mean)
    return float(frozen.mean())


def _special_ppf(d: Distribution, u: np.ndarray) -> np.ndarray | None:
    """``_frozen(d).ppf(u)`` computed as scipy.stats computes it for ``u`` inside (0, 1): the
    distribution's ``_ppf`` times scale plus loc. None where this does not apply (other kinds,
    arguments scipy would reject, a degenerate spread, ``u`` at or outside the ends)."""
    kind = d.distribution
    if u.size == 0 or not bool(np.all((u > 0) & (u < 1))):
        return None
    if kind in ("normal", "lognormal", "gamma") and not (d.sd or 0.0) > 0:
        return None
    if kind == "normal":
        return special.ndtri(u) * d.sd + d.mean
    if kind == "lognormal" and d.mean > 0:
        mu, sigma = lognormal_params(d.mean, d.sd)
        return np.exp(sigma * special.ndtri(u)) * math.exp(mu) + 0.0
    if kind == "gamma" and d.mean > 0:
        shape, scale = gamma_params(d.mean, d.sd)
        return special.gammaincinv(shape, u) * scale + 0.0
    if kind == "beta" and d.sd and d.sd > 0:
        a, b = beta_params(d.mean, d.sd)
        if a > 0 and b > 0:
            return special.betaincinv(a, b, u) * 1.0 + 0.0
    if kind == "uniform" and d.high > d.low:
        return u * (d.high - d.low) + d.low
    if kind == "negative_binomial" and _NBINOM_PPF is not None and d.sd ** 2 > d.mean > 0:
        n, p = d.mean ** 2 / (d.sd ** 2 - d.mean), d.mean / d.sd ** 2
        with np.errstate(over="ignore"):
            return _NBINOM_PPF(u, n, p) + 0.0
    return None


def ppf(d: Distribution, u: np.ndarray) -> np.ndarray:
    """Quantiles of ``d`` at uniforms ``u`` (vectorised, exact), clipped to [low, high]."""
    u = np.asarray(u, dtype=float)
    if d.distribution == "fixed":
        out = np.full(u.shape, float(d.value))
    else:
        out = _special_ppf(d, u)
        if out is None:
            frozen = _frozen(d)
            out = np.full(u.shape, float(d.mean)) if frozen is None else frozen.ppf(u)
    if d.distribution not in ("uniform", "triangular", "fixed") and (
            d.low is not None or d.high is not None):
        out = np.clip(out, d.low if d.low is not None else -np.inf,
                      d.high if d.high is not None else np.inf)
    return out


class QuantileTable:
    """Fast scalar inverse CDF for use inside the event loop."""

    KNOTS = 8193

    def __init__(self, d: Distribution):
        self.spec = d
        edge = 1.0 / (2 * (self.KNOTS - 1))
        # The grid of probabilities and the quantiles at it; read by the numba engine's tables.
        self.grid: list[float] = np.linspace(edge, 1 - edge, self.KNOTS).tolist()
        self.quantiles: list[float] = list(map(float, ppf(d, np.asarray(self.grid))))
        self.constant: float | None = (self.quantiles[0] if self.quantiles[0] == self.quantiles[-1]
                                       else None)

    def __call__(self, u: float) -> float:
        if self.constant is not None:
            return self.constant
        us, qs = self.grid, self.quantiles
        if u <= us[0]:
            return qs[0]
        if u >= us[-1]:
            return qs[-1]
        i = bisect.bisect_right(us, u)
        u0, u1 = us[i - 1], us[i]
        return qs[i - 1] + (qs[i] - qs[i - 1]) * (u - u0) / (u1 - u0)


def poisson_quantile(mean: float, u: float) -> int:
    """Smallest k with P(X <= k) >= u for X ~ Poisson(mean), by summing the pmf."""
    if mean <= 0:
        return 0
    p = math.exp(-mean)
    cdf = p
    k = 0
    while cdf < u and k < 10_000:
        k += 1
        p *= mean / k
        cdf += p
    return k
