"""Offending: OGRS sets each offender's rate so that P(proven reoffence in 2 years) = OGRS."""

import math

import numpy as np
import pytest

from iomsim.engine import compile_model, simulate_replication
from iomsim.engine.model import baseline_hazard
from tests.support import load_minimal


@pytest.mark.parametrize("frailty_variance", [0.0, 0.8])
def test_two_year_proven_reoffending_matches_mean_ogrs(frailty_variance):
    # No IOM effect, no needs, always at liberty (no custody, no remand), quick courts, a horizon
    # long enough for the six-month wait: the simulated rate should equal mean OGRS.
    n = 5000
    s = load_minimal({"cohort.size": n, "horizon_years": 3,
                      "cohort.profile.frailty_variance": frailty_variance})
    r = simulate_replication(compile_model(s), seed=3, replication=0)
    m = r.metrics["non_iom"]
    p = m["mean_ogrs"]
    se = math.sqrt(p * (1 - p) / n)
    assert abs(m["proven_reoffending_rate_24m"] - p) < 4 * se


def test_frailty_hazard_closed_form_inverts_the_gamma_laplace_transform():
    for ogrs in (0.1, 0.5, 0.9):
        for v in (0.3, 1.0, 2.0):
            h = baseline_hazard(ogrs, v)
            assert 1 - (1 + v * h) ** (-1 / v) == pytest.approx(ogrs, rel=1e-12)
        assert baseline_hazard(ogrs, 0.0) == pytest.approx(-math.log(1 - ogrs))


def test_offence_mix_follows_the_shares():
    s = load_minimal({"cohort.size": 3000})
    r = simulate_replication(compile_model(s), seed=4, replication=0)
    m = r.metrics["non_iom"]
    share_theft = m["offences_per_offender_theft"] / m["offences_per_offender"]
    total = m["offences_per_offender"] * 3000
    assert abs(share_theft - 0.7) < 4 * math.sqrt(0.7 * 0.3 / total)


def test_release_uplift_raises_offending_just_after_release():
    # Everyone is released on day 0 (custody with no time left); offending in the first 90 days
    # runs at three times the later rate.
    base = {"cohort.size": 3000, "horizon_years": 1,
            "cohort.profile.status": {"custody": 1.0},
            "cohort.profile.custody_days_remaining": {"distribution": "fixed", "value": 0}}
    flat = simulate_replication(compile_model(load_minimal(base)), 1, 0)
    up = simulate_replication(compile_model(load_minimal({
        **base, "offending.release_multiplier": 3.0, "offending.release_window_days": 90})), 1, 0)
    # Same two-year hazard in total, redistributed: window share 3*90/(730.5+2*90) of the hazard.
    f, u = flat.metrics["non_iom"], up.metrics["non_iom"]
    expected_ratio = (3 * 90 + (365.25 - 90)) / (730.5 + 2 * 90) / (365.25 / 730.5)
    assert u["offences_per_offender"] / f["offences_per_offender"] == pytest.approx(expected_ratio, rel=0.05)


def test_release_uplift_ends_when_its_window_ends_whatever_the_rounding():
    # (45.49671522677234 + 90) - 45.49671522677234 rounds to just under 90: the uplift must still
    # end at day 135.5, as it does for a release on day 45.5. Tiny OGRS: no detected offences,
    # so each count is the integral of the offending rate and the two must agree.
    offenders = [{"id": str(i), "age": 30, "ogrs": 1e-6, "status": "custody",
                  "status_days_remaining": days}
                 for i, days in enumerate((45.49671522677234, 45.5))]
    s = load_minimal({"cohort.profile": None, "cohort.size": None, "cohort.offenders": offenders,
                      "horizon_years": 1, "offending.release_multiplier": 3.0,
                      "offending.release_window_days": 90})
    r = simulate_replication(compile_model(s), 1, 0, keep_offenders=True)
    a, b = r.records["non_iom"].offences_by_type.sum(axis=1)
    assert a == pytest.approx(b, rel=1e-3)
