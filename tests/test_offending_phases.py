"""Offending that changes over time, against closed forms, in both engines.

The phase is a two-state Markov chain (active A, quiet Q) with leaving rates a (A to Q) and b
(Q to A): its stationary share of A is pi = b / (a + b), and P(A at t | A at 0) =
pi + (1 - pi) exp(-(a + b) t), so the autocorrelation of the propensity is exp(-(a + b) t). A
cohort picked in the active phase offends, over [0, H], at its base rate times
H + (h_A - 1) (1 - exp(-(a + b) H)) / (a + b): it falls back toward the population's mean rate
at the rate a + b.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from iomsim.engine.model import DAYS_PER_YEAR, baseline_hazard, compile_model, phase_parameters
from iomsim.engine.replication import simulate_replication
from support import load_minimal

SHARE, RATIO, MEAN_ACTIVE = 0.4, 8.0, 200.0
PHASES = {"offending.phases.active_share": SHARE, "offending.phases.active_rate_ratio": RATIO,
          "offending.phases.mean_active_days": MEAN_ACTIVE}
(H_ACTIVE, H_QUIET, _), (LEAVE_A, LEAVE_Q) = phase_parameters(SHARE, RATIO, MEAN_ACTIVE)
KAPPA = LEAVE_A + LEAVE_Q
ENGINES = ("compiled", "simpy")


def _z(observed: float, expected: float, n: int) -> float:
    """How many binomial standard errors ``observed`` (a share of n) is from ``expected``."""
    return abs(observed - expected) / math.sqrt(expected * (1 - expected) / n)


@pytest.mark.parametrize("engine", ENGINES)
def test_phase_chain_matches_its_stationary_share_and_autocorrelation(engine):
    n = 6000 if engine == "compiled" else 1500
    horizon_years = 0.5
    scenario = load_minimal({**PHASES, "cohort.size": n, "pre_period_months": 6,
                             "horizon_years": horizon_years})
    result = simulate_replication(scenario, 3, 0, keep_offenders=True, engine=engine)
    # Everyone stays (no selection, no exits), so records of day 0 and of the end pair up.
    start = result_population_phase(scenario, engine, 3)
    end = result.records["non_iom"].phase
    assert len(start) == len(end) == n
    # Started stationary six months before day 0: still stationary at day 0 and at the end.
    assert _z(float(np.mean(start == 0)), SHARE, n) < 4
    assert _z(float(np.mean(end == 0)), SHARE, n) < 4
    t = horizon_years * DAYS_PER_YEAR
    stay = SHARE + (1 - SHARE) * math.exp(-KAPPA * t)
    active = start == 0
    assert _z(float(np.mean(end[active] == 0)), stay, int(active.sum())) < 4
    back = SHARE * (1 - math.exp(-KAPPA * t))  # P(A at t | Q at 0)
    assert _z(float(np.mean(end[~active] == 0)), back, int((~active).sum())) < 4


def result_population_phase(scenario, engine, seed):
    """Everyone's phase at day 0, from the population records the engine hands to selection."""
    from iomsim.engine import measures

    seen = {}
    original = measures.select_cohort

    def spy(pop, rules):
        seen["phase"] = pop.phase.copy()
        return original(pop, rules)

    import iomsim.engine.numba.driver as numba_driver
    import iomsim.engine.simpy.driver as simpy_driver
    module = numba_driver if engine == "compiled" else simpy_driver
    saved = module.select_cohort
    module.select_cohort = spy
    try:
        simulate_replication(scenario, seed, 0, engine=engine)
    finally:
        module.select_cohort = saved
    return seen["phase"]


@pytest.mark.parametrize("engine", ENGINES)
def test_a_cohort_picked_while_active_falls_back_at_the_closed_form_rate(engine):
    """Offences (undetected ones counted by expectation, detected ones as they happen) of those
    active at day 0 over [0, H], against their base rates times the closed form."""
    n = 4000 if engine == "compiled" else 1000
    horizon_years = 1.0
    scenario = load_minimal({**PHASES, "cohort.size": n, "pre_period_months": 3,
                             "horizon_years": horizon_years})
    model = compile_model(scenario)
    result = simulate_replication(scenario, 5, 0, keep_offenders=True, engine=engine)
    start = result_population_phase(scenario, engine, 5)
    rec = result.records["non_iom"]
    base = np.array([baseline_hazard(g, 0.0) for g in rec.ogrs]) / (
        model.release_normaliser * model.p_proven_per_offence)
    t = horizon_years * DAYS_PER_YEAR
    decay = (1 - math.exp(-KAPPA * t)) / KAPPA
    offences = rec.offences_by_type.sum(axis=1)
    for phase, h in ((0, H_ACTIVE), (1, H_QUIET)):
        group = start == phase
        expected = base[group] * (t + (h - 1) * decay)
        gap = offences[group] - expected
        se = gap.std(ddof=1) / math.sqrt(group.sum())
        assert abs(gap.mean()) < 4 * se, (phase, gap.mean(), se)
        # and it is a fall (or a rise) toward the mean, not a level that stays
        stayed = base[group] * t * h
        assert abs(offences[group].mean() - stayed.mean()) > 10 * se


def test_without_phases_nothing_moves_and_the_mean_multiplier_is_one():
    quiet, active = phase_parameters(0.25, 5.0, 100.0)[0][1], phase_parameters(0.25, 5.0, 100.0)[0][0]
    assert 0.25 * active + 0.75 * quiet == pytest.approx(1.0)
    model = compile_model(load_minimal())
    assert model.phase_multiplier == (1.0, 1.0, 0.0) and model.phase_leave_rate == (0.0, 0.0)
