"""Needs resolve and relapse at their rates."""

import math

import numpy as np

from iomsim.engine import compile_model, simulate_replication
from tests.support import load_minimal


def _final_share(overrides, seed=1):
    s = load_minimal(overrides)
    r = simulate_replication(compile_model(s), seed, 0, keep_offenders=True)
    records = r.records["non_iom"]
    j = 5  # drugs
    return np.mean([records.needs(k)[j] for k in range(len(records))]), len(records)


def test_share_still_in_need_decays_exponentially():
    share, n = _final_share({"cohort.size": 3000, "horizon_years": 2,
                             "cohort.profile.needs": {"drugs": 1.0},
                             "needs.drugs": {"resolution_rate_per_year": 0.5}})
    expected = math.exp(-0.5 * 2)
    assert abs(share - expected) < 4 * math.sqrt(expected * (1 - expected) / n)


def test_resolution_and_relapse_reach_the_two_state_chain_at_time_t():
    # Two-state Markov chain: P(active at t | active at 0) = b/(a+b) + a/(a+b) e^{-(a+b)t}.
    a, b, t = 0.8, 0.4, 2.0
    share, n = _final_share({"cohort.size": 3000, "horizon_years": t,
                             "cohort.profile.needs": {"drugs": 1.0},
                             "needs.drugs": {"resolution_rate_per_year": a, "relapse_rate_per_year": b}})
    expected = b / (a + b) + a / (a + b) * math.exp(-(a + b) * t)
    assert abs(share - expected) < 4 * math.sqrt(expected * (1 - expected) / n)
