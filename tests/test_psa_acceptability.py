"""The benefit-cost acceptability curves (acceptability_by_measure.csv): for each benefit
measure, the share of PSA samples whose benefit per £1 exceeds each threshold; at £1 it is
P(benefit > cost) as the PSA summary gives it. And their chart."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iomsim.economics import BENEFIT_MEASURES, PERSPECTIVES
from iomsim.experiments.analysis import (HURDLES, acceptability_by_measure,
                                         benefit_cost_probabilities, psa_summary)

values = st.lists(st.floats(min_value=-2, max_value=8, allow_nan=False), min_size=1,
                  max_size=40)


@settings(max_examples=60, deadline=None)
@given(st.lists(values, min_size=4, max_size=4), st.floats(min_value=0.5, max_value=10))
def test_each_point_is_the_share_above_it_and_the_curve_falls(columns, top):
    n = min(len(c) for c in columns)
    samples = pd.DataFrame({m: c[:n] for m, c in zip(BENEFIT_MEASURES, columns)})
    curve = acceptability_by_measure(samples, max_threshold=top, steps=11)
    assert list(curve.columns) == ["measure", "perspective", "threshold", "probability",
                                   "probability_se", "n"]
    assert list(dict.fromkeys(curve["perspective"])) == list(PERSPECTIVES)
    for m, sub in curve.groupby("measure", sort=False):
        v = samples[m].to_numpy()
        t = sub["threshold"].to_numpy()
        assert np.all(np.diff(t) > 0)  # thresholds ascend
        assert sub["probability"].tolist() == [float((v > x).mean()) for x in t]
        assert np.all(np.diff(sub["probability"].to_numpy()) <= 0)  # the curve never rises
        for h in HURDLES:  # the hurdles on every curve that reaches them; £1 always
            assert (h > top and h != 1) or np.isclose(t, h).any()
        p1 = float(sub.loc[np.isclose(sub["threshold"], 1.0), "probability"].iloc[0])
        summary = psa_summary(samples).set_index("measure")
        assert summary.loc[m, "probability_above_threshold"] == p1


def test_the_default_range_reaches_the_samples_and_at_least_four():
    samples = pd.DataFrame({"benefit_per_pound_social": np.linspace(0, 7.2, 50)})
    curve = acceptability_by_measure(samples)
    assert curve["threshold"].max() == 8  # the 97.5th percentile, 7.02, rounded up
    small = acceptability_by_measure(pd.DataFrame({"benefit_per_pound_social": [0.5, 1.5]}))
    assert small["threshold"].max() == 4


def test_benefit_cost_probabilities_by_measure():
    samples = pd.DataFrame({"benefit_per_pound_evaluation": [0.5, 1.2, 1.6, 2.5],
                            "benefit_per_pound_social": [0.9, 0.95, 4.5, 5.0],
                            "benefit_per_pound": [9.0, 9.0, 9.0, 9.0]})
    got = benefit_cost_probabilities(samples).set_index("perspective")
    assert list(got.index) == ["evaluation", "social"]
    assert got.loc["evaluation", "probability"] == 0.75
    assert got.loc["evaluation", "p_above_1.5"] == 0.5
    assert got.loc["evaluation", "p_above_2"] == 0.25
    assert got.loc["social", "p_above_4"] == 0.5
    assert got.loc["social", "probability_se"] == pytest.approx((0.25 / 4) ** 0.5)


def test_the_chart_draws_one_curve_per_measure_on_the_given_axes():
    import matplotlib.pyplot as plt

    from iomsim.reporting import plot_acceptability_by_measure

    rng = np.random.default_rng(1)
    samples = pd.DataFrame({m: rng.lognormal(0, 0.5, 30) for m in BENEFIT_MEASURES})
    curve = acceptability_by_measure(samples)
    fig, ax = plt.subplots()
    assert plot_acceptability_by_measure(curve, ax=ax) is ax
    labels = [line.get_label() for line in ax.get_lines() if not line.get_label().startswith("_")]
    assert len(labels) == 4 and labels[0].startswith("as the evaluation counted it; P(> £1) = ")
    plt.close(fig)
    made = plot_acceptability_by_measure(curve)
    assert made.get_ylim()[1] == pytest.approx(1.02)
    plt.close(made.figure)
    with pytest.raises(ValueError, match="no column"):
        plot_acceptability_by_measure(pd.DataFrame({"threshold": [1.0]}))
