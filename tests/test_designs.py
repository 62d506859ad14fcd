"""Designs: sizes, structure, distributions and determinism (no simulation)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from iomsim.experiments.designs import DesignError, Parameter, make_design


def test_grid_is_the_full_product_of_levels():
    d = make_design("grid", [Parameter("a", levels=[1, 2, 3]),
                             Parameter("b", low=0.0, high=1.0, steps=3)])
    assert len(d.points) == 9
    assert set(map(tuple, d.points[["a", "b"]].to_numpy().tolist())) == {
        (a, b) for a in (1, 2, 3) for b in (0.0, 0.5, 1.0)}


def test_oneway_moves_one_parameter_at_a_time_from_base():
    params = [Parameter("a", low=1.0, high=3.0, base=2.0),
              Parameter("b", low=10.0, high=30.0, base=20.0)]
    d = make_design("oneway", params)
    assert d.points.to_numpy().tolist() == [[2, 20], [1, 20], [3, 20], [2, 10], [2, 30]]
    assert d.roles["role"].tolist() == ["base", "low", "high", "low", "high"]
    assert d.roles["parameter"].tolist() == ["", "a", "a", "b", "b"]


def test_oneway_uses_distribution_percentiles_without_low_high():
    p = Parameter("a", distribution="normal", args={"mean": 10.0, "sd": 2.0}, base=10.0)
    d = make_design("oneway", [p])
    lo, hi = d.points["a"].iloc[1], d.points["a"].iloc[2]
    assert lo == pytest.approx(10 - 1.959964 * 2, abs=1e-5)
    assert hi == pytest.approx(10 + 1.959964 * 2, abs=1e-5)


def test_latin_hypercube_puts_one_point_in_each_stratum():
    n = 20
    d = make_design("lhs", [Parameter("a", low=0.0, high=10.0), Parameter("b", low=-1.0, high=1.0)],
                    samples=n, seed=7)
    for col, (lo, hi) in (("a", (0, 10)), ("b", (-1, 1))):
        strata = np.floor((d.points[col].to_numpy() - lo) / (hi - lo) * n).astype(int)
        assert sorted(strata) == list(range(n))


def test_sobol_sequence_needs_a_power_of_two_and_is_balanced():
    with pytest.raises(DesignError, match="power of 2"):
        make_design("sobol", [Parameter("a", low=0.0, high=1.0)], samples=10)
    d = make_design("sobol", [Parameter("a", low=0.0, high=1.0)], samples=16, seed=1)
    # A scrambled Sobol net of 16 points has exactly one point in each 1/16 interval.
    assert sorted(np.floor(d.points["a"].to_numpy() * 16).astype(int)) == list(range(16))


@pytest.mark.parametrize("name,args,low,high,mean,sd", [
    ("beta", {"mean": 0.3, "sd": 0.1}, None, None, 0.3, 0.1),
    ("beta", {"mean": 50.0, "sd": 5.0, "bounds": "rescale"}, 20.0, 80.0, 50.0, 5.0),
    ("gamma", {"mean": 4.0, "sd": 2.0}, None, None, 4.0, 2.0),
    ("lognormal", {"mean": 100.0, "sd": 30.0}, None, None, 100.0, 30.0),
    ("normal", {"mean": -2.0, "sd": 0.5}, None, None, -2.0, 0.5),
    ("uniform", {}, 2.0, 8.0, 5.0, 6 / math.sqrt(12)),
    ("triangular", {"mode": 3.0}, 1.0, 8.0, 4.0, math.sqrt((1 + 9 + 64 - 3 - 8 - 24) / 18)),
])
def test_psa_draws_have_the_moments_asked_for(name, args, low, high, mean, sd):
    args = dict(args)
    bounds = args.pop("bounds", None)
    p = Parameter("x", distribution=name, args=args, low=low, high=high, bounds=bounds)
    d = make_design("psa", [p], samples=20000, seed=3)
    v = d.points["x"].to_numpy()
    se = sd / math.sqrt(len(v))
    assert abs(v.mean() - mean) < 5 * se + 1e-3 * abs(sd)
    assert v.std(ddof=1) == pytest.approx(sd, rel=0.05)


def test_fixed_distribution_stays_put_and_psa_needs_distributions():
    d = make_design("psa", [Parameter("x", distribution="fixed", args={"value": 7.5}),
                            Parameter("y", distribution="uniform", low=0.0, high=1.0)],
                    samples=50, seed=1)
    assert (d.points["x"] == 7.5).all()
    with pytest.raises(DesignError, match="distribution"):
        make_design("psa", [Parameter("x", low=0.0, high=1.0)], samples=5)


def test_bad_distribution_parameters_are_refused_with_the_field():
    with pytest.raises(DesignError) as e:
        Parameter("x", distribution="beta", args={"mean": 0.5, "sd": 0.6})
    assert e.value.key == "sd"
    with pytest.raises(DesignError) as e:
        Parameter("x", distribution="gamma", args={"mean": 1.0})
    assert e.value.key == "sd"
    with pytest.raises(DesignError, match="unknown distribution"):
        Parameter("x", distribution="weibull", args={})


def test_designs_are_a_pure_function_of_the_seed():
    params = [Parameter("a", distribution="gamma", args={"mean": 2.0, "sd": 1.0}),
              Parameter("b", distribution="uniform", low=0.0, high=1.0)]
    for kind in ("lhs", "psa", "saltelli", "morris"):
        one = make_design(kind, params, samples=8, seed=11).points
        two = make_design(kind, params, samples=8, seed=11).points
        other = make_design(kind, params, samples=8, seed=12).points
        assert one.equals(two)
        assert not one.equals(other)


def test_salib_design_sizes():
    params = [Parameter(n, low=0.0, high=1.0) for n in "abc"]
    assert len(make_design("saltelli", params, samples=16).points) == 16 * (3 + 2)
    assert len(make_design("saltelli", params, samples=16, second_order=True).points) == 16 * 8
    assert len(make_design("morris", params, samples=5).points) == 5 * 4


def test_unbounded_distributions_stay_finite_at_the_corners_of_the_cube():
    p = Parameter("x", distribution="normal", args={"mean": 0.0, "sd": 1.0})
    v = p.ppf(np.array([0.0, 1.0]))
    assert np.all(np.isfinite(v))
    assert v[1] == pytest.approx(stats.norm.ppf(1 - 0.0005))


def test_low_high_on_a_normal_must_say_clip_or_truncate():
    with pytest.raises(DesignError, match="bounds: truncate") as e:
        Parameter("x", distribution="normal", args={"mean": 0.0, "sd": 1.0}, low=0.0)
    assert e.value.key == "low"
    with pytest.raises(DesignError, match="rescale applies to a beta only"):
        Parameter("x", distribution="gamma", args={"mean": 1.0, "sd": 1.0}, low=0.0, high=2.0,
                  bounds="rescale")
    with pytest.raises(DesignError, match="does not apply to a uniform"):
        Parameter("x", distribution="uniform", low=0.0, high=2.0, bounds="clip")


def test_clip_piles_draws_at_the_bound_and_truncate_renormalises():
    u = (np.arange(10_000) + 0.5) / 10_000
    clip = Parameter("x", distribution="normal", args={"mean": 0.0, "sd": 1.0}, low=0.0,
                     bounds="clip").ppf(u)
    trunc = Parameter("x", distribution="normal", args={"mean": 0.0, "sd": 1.0}, low=0.0,
                      bounds="truncate").ppf(u)
    assert np.mean(clip == 0.0) == pytest.approx(0.5, abs=1e-3)
    assert (trunc > 0).all()
    # the truncated normal is scipy's, as sweep files always had it (unbounded above, so drawn
    # between its 0.05th and 99.95th percentiles)
    expected = stats.truncnorm(0.0, np.inf).ppf(0.0005 + u * (1 - 0.001))
    np.testing.assert_array_equal(trunc, expected)
    # a truncated lognormal is the lognormal conditioned on lying below high
    logn = Parameter("x", distribution="lognormal", args={"mean": 1.0, "sd": 0.5}, high=1.2,
                     bounds="truncate")
    v = logn.ppf(u)
    assert v.max() <= 1.2 and np.mean(v == 1.2) < 1e-3
    base = logn._frozen.base
    np.testing.assert_allclose(base.cdf(v) / base.cdf(1.2), u, atol=1e-9)


def test_clip_means_what_it_means_in_a_scenario():
    """A sweep parameter with bounds: clip draws exactly what the engine draws for the same
    distribution in a scenario (where low and high always clip)."""
    from iomsim.engine.distributions import ppf as engine_ppf
    from iomsim.scenario.schema import Distribution

    u = np.linspace(0.001, 0.999, 301)
    for kind, args in (("normal", {"mean": 30.0, "sd": 8.0}), ("lognormal", {"mean": 500.0,
                                                                             "sd": 500.0}),
                       ("gamma", {"mean": 2.0, "sd": 1.5}), ("beta", {"mean": 0.5, "sd": 0.2})):
        low, high = ((18.0, 65.0) if kind == "normal" else (1.0, 2000.0) if kind == "lognormal"
                     else (0.5, 4.0) if kind == "gamma" else (0.1, 0.8))
        ours = Parameter("x", distribution=kind, args=args, low=low, high=high,
                         bounds="clip").ppf(u)
        engine = engine_ppf(Distribution(distribution=kind, low=low, high=high, **args), u)
        np.testing.assert_allclose(ours, engine, rtol=1e-12, err_msg=kind)


def test_counts_truncate_to_whole_numbers_inside_the_bounds():
    p = Parameter("x", distribution="poisson", args={"mean": 3.0}, low=2.0, high=5.0,
                  bounds="truncate")
    v = p.ppf(np.linspace(0, 1, 1001))
    assert set(np.unique(v)) == {2.0, 3.0, 4.0, 5.0}


def test_an_sd_of_zero_is_the_constant_mean_as_in_a_scenario():
    p = Parameter("x", distribution="normal", args={"mean": 4.0, "sd": 0.0})
    assert (p.ppf(np.array([0.0, 0.3, 1.0])) == 4.0).all()
    assert p.low_high() == (4.0, 4.0)


@pytest.mark.parametrize("kind, samples, key", [("psa", 10 ** 9, "samples"),
                                                ("sobol", 2 ** 30, "samples"),
                                                ("saltelli", 40_000, "samples"),
                                                ("morris", 50_000, "samples"),
                                                ("grid", None, "parameters")])
def test_a_design_of_more_points_than_the_limit_is_refused_before_it_is_built(kind, samples, key):
    """Promise: a sweep's cost follows from what it declares, and building its design is
    bounded: samples: 1e9 (or a grid whose product of values is huge) is refused at once, in
    the sweep file's key, instead of taking the machine's memory (a Sobol design of 2**30
    points was killed by the kernel at 23 GB)."""
    from iomsim.experiments.designs import MAX_POINTS

    params = [Parameter(path=f"p{i}", low=0.0, high=1.0, steps=1000 if kind == "grid" else None,
                        distribution="uniform" if kind == "psa" else None,
                        args={"low": 0.0, "high": 1.0} if kind == "psa" else {})
              for i in range(2)]
    with pytest.raises(DesignError, match=f"more than the {MAX_POINTS:,}") as info:
        make_design(kind, params, samples=samples, seed=1)
    assert info.value.key == key
    assert len(make_design("lhs", params, samples=64, seed=1).points) == 64  # within: built
