"""A sweep worker starts without scipy.stats and pandas, and gives the same numbers without them.

The engine evaluates the common distributions' quantiles through scipy.special, by the formula
scipy.stats itself uses; these tests hold it to scipy.stats bit for bit, so that a scenario
simulates identically whichever path a process takes.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special, stats

from iomsim.engine.distributions import _frozen, _special_ppf, ppf
from iomsim.scenario.schema import Distribution
from tests.support import ROOT

SUSSEX = ROOT / "scenarios" / "sussex-2013.yaml"

uniforms = st.lists(st.floats(min_value=1e-12, max_value=1 - 1e-12), min_size=1, max_size=40)
positive = st.floats(min_value=0.01, max_value=5000.0)


def _same_as_scipy_stats(d: Distribution, u: list[float]) -> None:
    u_arr = np.asarray(u, dtype=float)
    fast = _special_ppf(d, u_arr)
    assert fast is not None, d
    expected = _frozen(d).ppf(u_arr)
    np.testing.assert_array_equal(fast, expected)


@settings(max_examples=60, deadline=None)
@given(mean=st.floats(min_value=-1000, max_value=1000), sd=positive, u=uniforms)
def test_normal_quantiles_equal_scipy_stats(mean, sd, u):
    _same_as_scipy_stats(Distribution(distribution="normal", mean=mean, sd=sd), u)


@settings(max_examples=60, deadline=None)
@given(mean=positive, cv=st.floats(min_value=0.01, max_value=5.0), u=uniforms)
def test_lognormal_and_gamma_quantiles_equal_scipy_stats(mean, cv, u):
    for kind in ("lognormal", "gamma"):
        _same_as_scipy_stats(Distribution(distribution=kind, mean=mean, sd=mean * cv), u)


@settings(max_examples=60, deadline=None)
@given(mean=st.floats(min_value=0.02, max_value=0.98), share=st.floats(min_value=0.01, max_value=0.99),
       u=uniforms)
def test_beta_quantiles_equal_scipy_stats(mean, share, u):
    sd = share * np.sqrt(mean * (1 - mean))  # below the largest sd a beta with this mean can have
    _same_as_scipy_stats(Distribution(distribution="beta", mean=mean, sd=float(sd)), u)


@settings(max_examples=60, deadline=None)
@given(low=st.floats(min_value=-100, max_value=100), width=positive, u=uniforms)
def test_uniform_quantiles_equal_scipy_stats(low, width, u):
    _same_as_scipy_stats(Distribution(distribution="uniform", low=low, high=low + width), u)


@settings(max_examples=60, deadline=None)
@given(mean=st.floats(min_value=0.1, max_value=200), excess=st.floats(min_value=0.01, max_value=50),
       u=uniforms)
def test_negative_binomial_quantiles_equal_scipy_stats(mean, excess, u):
    sd = float(np.sqrt(mean * (1 + excess)))  # overdispersed: variance above the mean
    _same_as_scipy_stats(Distribution(distribution="negative_binomial", mean=mean, sd=sd), u)


@settings(max_examples=60, deadline=None)
@given(v=st.floats(min_value=0.01, max_value=10), x=st.floats(min_value=-8, max_value=8), u=uniforms)
def test_cohort_formulas_equal_scipy_stats(v, x, u):
    """The cohort's frailty (gamma, mean 1, variance v) and its Gaussian copula."""
    u_arr = np.asarray(u, dtype=float)
    np.testing.assert_array_equal(special.gammaincinv(1 / v, u_arr) * v,
                                  stats.gamma(a=1 / v, scale=v).ppf(u_arr))
    np.testing.assert_array_equal(special.ndtri(u_arr), stats.norm.ppf(u_arr))
    assert special.ndtr(x) == stats.norm.cdf(x)


def test_other_kinds_and_edge_uniforms_fall_back_to_scipy_stats():
    tri = Distribution(distribution="triangular", low=0, mode=2, high=10)
    assert _special_ppf(tri, np.array([0.5])) is None
    np.testing.assert_array_equal(ppf(tri, np.array([0.5])), stats.triang(c=0.2, scale=10).ppf(0.5))
    normal = Distribution(distribution="normal", mean=1, sd=2)
    assert _special_ppf(normal, np.array([0.0, 0.5])) is None  # scipy's bounds rule applies
    np.testing.assert_array_equal(ppf(normal, np.array([0.0, 0.5])), [-np.inf, 1.0])


def test_worker_path_imports_neither_scipy_stats_nor_pandas(tmp_path):
    """What a pool or Dask worker imports to run a task, a sweep's (measures) or a run's (whole
    replications): about 0.5 s instead of 1.2 s, which is most of what kept a short sweep on two
    cores from running twice as fast."""
    script = f"""
import sys
from iomsim import load_scenario
from iomsim.execution import REPLICATIONS, PointWork, Task, run_task
base = load_scenario({str(SUSSEX)!r}, overrides={{"cohort.size": 200, "selection.cohort_size": 40,
                                               "horizon_years": 1}})
task = Task("t", "h", (PointWork(0, (("iom.effects.offending_multiplier", 0.5),), 1, (0,)),), None)
rows = run_task(base, task)
assert rows and rows[0][2], rows
task = Task("r", "h", (PointWork(0, (), 1, (0, 1)),), None, output=REPLICATIONS)
reps = run_task(base, task)
assert [(p, r, rep.replication) for p, r, rep in reps] == [(0, 0, 0), (0, 1, 1)], reps
print(sorted(m for m in ("scipy.stats", "pandas", "matplotlib", "SALib") if m in sys.modules))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
