"""Calibration by approximate Bayesian computation: priors, acceptance, the posterior written
with its spread, and the leave-one-target-out check."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import iomsim
from iomsim.calibration import Target, TargetsFile, measure, read_targets
from iomsim.errors import InputError
from iomsim.posterior import Prior, calibrate_abc, leave_one_out, sample_priors
from tests.support import MINIMAL, load_minimal


@settings(max_examples=60, deadline=None)
@given(u=st.floats(0.0, 1.0), kind=st.sampled_from(["uniform", "lognormal", "beta", "normal"]))
def test_prior_quantiles_stay_inside_the_truncation(u, kind):
    prior = Prior(kind=kind, low=0.2, high=0.8, median=0.5, sigma_log=0.5, a=2, b=3,
                  mean=0.5, sd=0.2)
    x = float(prior.ppf(np.array([u]))[0])
    assert 0.2 <= x <= 0.8


def test_a_truncated_lognormal_prior_has_its_median_when_the_truncation_is_symmetric():
    prior = Prior(kind="lognormal", low=0.5, high=2.0, median=1.0, sigma_log=0.3)
    draws = sample_priors({"x": prior}, 2001, seed=4)["x"]
    assert draws.median() == pytest.approx(1.0, abs=0.01)
    assert draws.min() >= 0.5 and draws.max() <= 2.0


def test_leave_one_out_predicts_a_withheld_target_from_the_others():
    """Two targets that move together: accepting on one predicts the other; a third that is
    noise is not predicted."""
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 1, 500)
    values = np.column_stack([x, 2 * x, rng.uniform(0, 1, 500)])
    targets = [Target("metric", "a", "iom", 0.3, 0.02), Target("metric", "b", "iom", 0.6, 0.04),
               Target("metric", "c", "iom", 0.95, 0.02)]
    table = leave_one_out(values, targets, [0, 1, 2], accept=25)
    row = table.set_index("withheld")
    assert row.loc["a [iom]", "predicted"] == pytest.approx(0.3, abs=0.02)
    assert row.loc["b [iom]", "predicted"] == pytest.approx(0.6, abs=0.04)
    assert not row.loc["c [iom]", "within_tolerance"]


def test_abc_recovers_a_known_offending_multiplier():
    """Targets simulated at rate_multiplier 1.2 are recovered from a uniform prior on [0.5,
    2], and the accepted draws' interval covers it."""
    scenario = load_minimal({"cohort.size": 150})
    truth = iomsim.run(iomsim.apply_overrides(scenario, {"offending.rate_multiplier": 1.2}),
                       reps=4, seed=9)
    target = Target("metric", "offences_per_offender", "non_iom", 0.0, 0.05)
    target.value = measure(truth, target)
    targets = TargetsFile(file="t.yaml", parameters=[], targets=[target], reps=4, seed=9)
    prior = Prior(kind="uniform", low=0.5, high=2.0)
    post = calibrate_abc(scenario, targets, {"offending.rate_multiplier": prior}, measure=measure,
                         draws=60,
                         accept=6, reps=4, seed=9, progress=False)
    lo, hi = post.intervals["offending.rate_multiplier"]
    assert lo <= 1.2 <= hi
    assert post.parameters["offending.rate_multiplier"] == pytest.approx(1.2, abs=0.05)
    assert int(post.draws["accepted"].sum()) == 6
    chosen = post.draws[post.draws["chosen"]]
    assert len(chosen) == 1 and bool(chosen["accepted"].iloc[0])
    assert set(post.draws.columns) >= {"offending.rate_multiplier", "distance", "accepted",
                                       "sim:offences_per_offender [non_iom]"}


def test_a_prior_missing_its_parameters_is_refused(tmp_path):
    p = tmp_path / "t.yaml"
    p.write_text("method: abc\nparameters:\n  offending.rate_multiplier: {prior: lognormal, "
                 "low: 0.5, high: 2}\ntargets:\n  - {metric: offences_per_offender, value: 1, "
                 "tolerance: 0.1}\n")
    with pytest.raises(InputError) as err:
        read_targets(p)
    assert "median and sigma_log" in str(err.value) and ":3:" in str(err.value)


def test_cli_abc_writes_the_fitted_scenario_its_draws_and_the_check(tmp_path):
    targets = tmp_path / "t.yaml"
    targets.write_text(
        "method: abc\ndraws: 12\naccept: 3\nreps: 2\nseed: 1\noverrides: {cohort.size: 60}\n"
        "parameters:\n"
        "  offending.rate_multiplier: {prior: lognormal, median: 1.0, sigma_log: 0.3, low: 0.5,"
        " high: 2.0, source: a test prior}\n"
        "targets:\n"
        "  - {metric: offences_per_offender, arm: non_iom, value: 1.5, tolerance: 0.2}\n"
        "  - {metric: detected_offences_per_offender, arm: non_iom, value: 0.4, tolerance: 0.1}\n")
    out = tmp_path / "fitted.yaml"
    scenario = tmp_path / "minimal.yaml"  # the fitted file extends it from beside it
    scenario.write_text(MINIMAL.read_text())
    proc = subprocess.run([sys.executable, "-m", "iomsim.cli", "calibrate", str(scenario),
                           "--targets", str(targets), "--out", str(out), "--no-progress"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert "an ABC fit (the accepted draw" in text and "a test prior" in text
    fitted = iomsim.load_scenario(out)
    assert 0.5 <= fitted.offending.rate_multiplier <= 2.0
    draws = pd.read_csv(out.with_suffix(".posterior.csv"))
    assert len(draws) == 12 and draws["accepted"].sum() == 3
    loo = pd.read_csv(out.with_suffix(".leave-one-out.csv"))
    assert len(loo) == 2 and "leave one target out" in proc.stdout


def test_a_draw_the_model_refuses_is_rejected_and_the_fit_goes_on():
    """OGRS near 1 with a large frailty variance would offend without bound: the runaway guard
    refuses such a population, and ABC rejects the draw instead of stopping."""
    scenario = load_minimal({"cohort.size": 60,
                             "cohort.profile.ogrs": {"distribution": "fixed", "value": 0.999}})
    target = Target("metric", "offences_per_offender", "non_iom", 30.0, 10.0)
    targets = TargetsFile(file="t.yaml", parameters=[], targets=[target], reps=2, seed=3)
    prior = Prior(kind="uniform", low=0.0, high=3.0)
    post = calibrate_abc(scenario, targets, {"cohort.profile.frailty_variance": prior},
                         measure=measure, draws=16, accept=3, reps=2, seed=3, progress=False)
    refused = post.draws["distance"] == np.inf
    assert refused.any() and (~refused).any()
    assert (post.draws.loc[refused, "cohort.profile.frailty_variance"] > 0.5).all()
    assert not post.draws.loc[post.draws["accepted"], "distance"].isin([np.inf]).any()
