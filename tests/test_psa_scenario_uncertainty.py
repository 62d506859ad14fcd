"""A psa design draws every scenario value that carries an ``uncertainty:`` (with the posterior's
accepted draws and the sweep's own parameters, which take precedence), and P(benefit > cost)
comes out as the closed-form tail of the drawn distribution when the benefit per £1 is a known
function of the drawn value."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from iomsim.errors import SweepError
from iomsim.experiments import analysis
from iomsim.experiments.spec import load_sweep
from iomsim.scenario.loader import uprating_factor
from tests.support import MINIMAL

PRISON = "justice.prison_cost_per_day"
CONVICTION = "justice.conviction_probability"
OGRS = "cohort.profile.ogrs.mean"

SCENARIO = """\
extends: minimal.yaml
justice:
  prison_cost_per_day:
    value: 92.5
    price_year: "2013-14"
    source: test
    uncertainty: {distribution: gamma, mean: 92.5, sd: 10, assumption: judgement}
  conviction_probability:
    value: 0.85
    source: test
    uncertainty: {distribution: lognormal, meanlog: -0.17, sdlog: 0.2, low: 0.6, high: 0.95,
                  bounds: truncate, source: a test}
cohort:
  profile:
    ogrs:
      distribution: beta
      mean: {value: 0.6, assumption: a, uncertainty: {distribution: uniform, low: 0.5, high: 0.7, assumption: b}}
      sd: 0.15
"""


def _sweep(tmp_path: Path, body: str, samples: int = 6) -> Path:
    shutil.copy(MINIMAL, tmp_path / "minimal.yaml")
    (tmp_path / "uncertain.yaml").write_text(SCENARIO)
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(f"scenario: uncertain.yaml\nsamples: {samples}\nreplications: 1\nseed: 4\n"
                     + body)
    return sweep


def test_a_psa_draws_every_value_with_an_uncertainty(tmp_path):
    spec = load_sweep(_sweep(tmp_path, "design: psa\n"))
    assert sorted(spec.parameters) == sorted([OGRS, PRISON, CONVICTION])
    assert spec.uncertainty_origins == {OGRS: "uncertain.yaml:17", PRISON: "uncertain.yaml:7",
                                        CONVICTION: "uncertain.yaml:11"}
    pts = spec.design.points
    assert pts[OGRS].between(0.5, 0.7).all() and pts[OGRS].nunique() == 6
    assert pts[CONVICTION].between(0.6, 0.95).all()


def test_the_sweeps_own_parameters_and_overrides_take_precedence(tmp_path):
    spec = load_sweep(_sweep(tmp_path, "design: psa\noverrides: {justice.conviction_probability: "
                                       "0.8}\nparameters:\n  justice.prison_cost_per_day: "
                                       "{distribution: fixed, value: 100}\n"))
    assert spec.parameters == [PRISON, OGRS]  # the sweep's parameter, then the scenario's
    assert (spec.design.points[PRISON] == 100).all()
    assert CONVICTION not in spec.parameters  # set by overrides: not drawn


def test_scenario_uncertainty_false_and_other_designs_draw_only_the_sweeps_parameters(tmp_path):
    body = "parameters:\n  justice.arrest_cost: {distribution: uniform, low: 500, high: 700}\n"
    off = load_sweep(_sweep(tmp_path, "design: psa\nscenario_uncertainty: false\n" + body))
    assert off.parameters == ["justice.arrest_cost"] and not off.scenario_uncertainty
    lhs = load_sweep(_sweep(tmp_path, "design: lhs\n" + body))
    assert lhs.parameters == ["justice.arrest_cost"]


def test_a_psa_with_nothing_to_draw_is_refused(tmp_path):
    sweep = _sweep(tmp_path, "design: psa\nscenario_uncertainty: false\n")
    with pytest.raises(SweepError, match="scenario values with an uncertainty"):
        load_sweep(sweep)


def test_a_posterior_column_replaces_the_values_own_uncertainty(tmp_path):
    (tmp_path / "p.posterior.csv").write_text(
        f"{OGRS},selected,distance,accepted,chosen\n0.52,8,0.9,True,False\n"
        "0.61,8,0.4,True,True\n")
    spec = load_sweep(_sweep(tmp_path, "design: psa\nposterior: p.posterior.csv\n"))
    assert spec.design.posterior_columns == [OGRS]
    assert set(spec.design.points[OGRS]) == {0.52, 0.61}
    assert OGRS not in spec.scenario_uncertainty
    assert set(spec.scenario_uncertainty) == {PRISON, CONVICTION}


def test_the_uncertainty_is_part_of_the_sweeps_hash(tmp_path):
    first = load_sweep(_sweep(tmp_path, "design: psa\n")).hash
    (tmp_path / "uncertain.yaml").write_text(SCENARIO.replace("sd: 10,", "sd: 12,"))
    second = load_sweep(tmp_path / "sweep.yaml").hash
    assert first != second


def _table(points: pd.DataFrame, benefit_per_pound: np.ndarray) -> pd.DataFrame:
    """A sweep's tidy table in which every benefit measure is the given function's value."""
    rows = []
    for p, b in enumerate(benefit_per_pound):
        for m in analysis.BENEFIT_MEASURES:
            rows.append({"point": p, "replication": 0, "arm": "economics", "measure": m,
                         "value": float(b)})
    table = pd.DataFrame(rows)
    for i, c in enumerate(points.columns):
        table.insert(1 + i, c, points[c].to_numpy()[table["point"]])
    return table


# n draws: the share above a threshold has standard error at most sqrt(0.25 / n) = 0.0112; four
# of them (0.045) bounds the Monte Carlo error with probability 0.99994.
N = 2000
TOLERANCE = 4 * math.sqrt(0.25 / N)


def test_p_benefit_above_cost_is_the_closed_form_tail_of_a_drawn_money_value(tmp_path):
    """Benefit per £1 = prison cost per day / £85: P(> 1) = P(cost > £85) under the gamma the
    scenario gives at 2013-14 prices, uprated to the scenario's 2011-12."""
    spec = load_sweep(_sweep(tmp_path, "design: psa\n", samples=N))
    x = spec.design.points[PRISON].to_numpy()
    samples = analysis.psa_samples(_table(spec.design.points, x / 85.0))
    f = uprating_factor("2013-14", "2011-12")
    mean, sd = 92.5 * f, 10 * f
    gamma = stats.gamma(a=(mean / sd) ** 2, scale=sd ** 2 / mean)
    expected = float(gamma.sf(85.0))
    summary = analysis.psa_summary(samples).set_index("measure")
    for m in analysis.BENEFIT_MEASURES:
        assert summary.loc[m, "probability_above_threshold"] == pytest.approx(
            expected, abs=TOLERANCE)
    curve = analysis.acceptability_by_measure(samples)
    social = curve[curve["perspective"] == "social"].set_index("threshold")["probability"]
    for t in (0.9, 1.0, 1.1, 1.2):
        assert social.loc[min(social.index, key=lambda v: abs(v - t))] == pytest.approx(
            float(gamma.sf(85.0 * min(social.index, key=lambda v: abs(v - t)))),
            abs=TOLERANCE)


def test_p_benefit_above_cost_under_a_truncated_lognormal(tmp_path):
    """Benefit per £1 = conviction probability / 0.8 with the probability a lognormal truncated
    to [0.6, 0.95]: P(> 1) = (F(0.95) - F(0.8)) / (F(0.95) - F(0.6))."""
    spec = load_sweep(_sweep(tmp_path, "design: psa\n", samples=N))
    x = spec.design.points[CONVICTION].to_numpy()
    samples = analysis.psa_samples(_table(spec.design.points, x / 0.8))
    d = stats.lognorm(s=0.2, scale=math.exp(-0.17))
    expected = (d.cdf(0.95) - d.cdf(0.8)) / (d.cdf(0.95) - d.cdf(0.6))
    got = analysis.benefit_cost_probabilities(samples).set_index("perspective")
    assert got.loc["taxpayer", "probability"] == pytest.approx(expected, abs=TOLERANCE)
    assert got.loc["taxpayer", "probability_se"] == pytest.approx(
        math.sqrt(expected * (1 - expected) / N), abs=0.002)
