"""The compiled engine run in parts gives what one run of everyone gives.

In the pre-period and in each arm, offenders who may never wait for a capacity-limited place
run block by block, those who may run together, and only the state of those eligible at day 0
is kept (engine/numba/driver.py); the population's uniforms are drawn a column at a time
(engine/cohort.py). None of this may change a result: every metric, survival point, population
figure, branch count and per-offender record is compared exactly with one run of everyone.
The arms' cost cells are the same sums added up in another order (a block's offenders' costs
before the next block's, not interleaved in time): they are compared to 1e-12 of their size,
far above the rounding of adding a few thousand terms (about 1e-16 each) and far below any
difference a model change makes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import iomsim
from iomsim.engine import compile_model, simulate_replication
from iomsim.engine.cohort import build_population, cohort_uniforms

pytest.importorskip("numba")
from iomsim.engine.numba import driver  # noqa: E402

SUSSEX = Path(__file__).resolve().parent.parent / "scenarios" / "sussex-2013.yaml"


def assert_identical(a, b) -> None:
    assert a.cohort_size == b.cohort_size and a.events == b.events
    assert a.events_by_kind == b.events_by_kind
    assert a.population == b.population
    for arm in a.metrics:
        assert a.metrics[arm] == b.metrics[arm], arm
        np.testing.assert_allclose(b.costs[arm], a.costs[arm], rtol=1e-12, atol=0.0,
                                   err_msg=arm)
        assert np.array_equal(a.survival[arm], b.survival[arm]), arm
        ra, rb = a.records[arm], b.records[arm]
        for name in vars(ra):
            x, y = getattr(ra, name), getattr(rb, name)
            if isinstance(x, np.ndarray) and x.dtype.names:
                assert all(np.array_equal(x[f], y[f], equal_nan=True) for f in x.dtype.names), name
            else:
                assert np.array_equal(x, y, equal_nan=True), (arm, name)


def together(model, seed, replication):
    old = driver.EVERYONE_TOGETHER
    driver.EVERYONE_TOGETHER = True
    try:
        return simulate_replication(model, seed, replication, keep_offenders=True)
    finally:
        driver.EVERYONE_TOGETHER = old


@pytest.mark.parametrize("overrides,block", [
    # Sussex's two capacity-limited services: those who may wait for a place run together
    ({"cohort.size": 3000, "selection.cohort_size": 725}, 64),
    ({"cohort.size": 3000, "selection.cohort_size": 725}, 4096),
    # places so scarce that queues are long; IOM places in the arms too
    ({"cohort.size": 2000, "services.drug_treatment.capacity_per_1000": 20,
      "iom.places_per_1000": 300}, 100),
    # no capacity-limited service: everyone runs in blocks; selection by convictions
    ({"cohort.size": 2500, "services.approved_premises.capacity_per_1000": None,
      "services.drug_treatment.capacity_per_1000": None,
      "selection.rank_by": "convictions_pre_period", "selection.min_convictions_pre_period": 1}, 128),
])
def test_blocks_give_the_results_of_one_run(monkeypatch, overrides, block):
    model = compile_model(iomsim.load_scenario(SUSSEX, overrides=overrides))
    monkeypatch.setattr(driver, "BLOCK", block)
    split = []
    parts = driver._parts
    monkeypatch.setattr(driver, "_parts", lambda meets: split.append(parts(meets)) or list(split[-1]))
    for seed, replication in [(1, 0), (7, 3)]:
        split.clear()
        one = together(model, seed, replication)
        assert all(len(p) == 1 and p[0][1] for p in split)  # (one part of everyone each time)
        split.clear()
        assert_identical(one, simulate_replication(model, seed, replication,
                                                   keep_offenders=True))
        # the pre-period and both arms ran in parts, but an arm with offender managers' places
        # (everyone asks for one) runs everyone together
        arms = split[1:]
        assert len(split[0]) > 1
        if "iom.places_per_1000" in overrides:
            assert len(arms[0]) > 1 and len(arms[1]) == 1
        else:
            assert all(len(p) > 1 for p in arms)


def test_an_offender_run_apart_who_waits_for_a_place_is_an_error(monkeypatch):
    """The parts rest on who may wait for a capacity-limited place; an arm's block whose
    offenders touched a queue (a wrong partition) stops the run instead of giving wrong
    results (the pre-period checks its own partition against the offenders' uptake)."""
    model = compile_model(iomsim.load_scenario(SUSSEX, overrides={"cohort.size": 1200}))
    calls = []
    parts = driver._parts

    def wrong_in_the_arms(meets):
        calls.append(1)
        if len(calls) == 1:  # the pre-period's
            return parts(meets)
        return [(np.flatnonzero(meets), False), (np.flatnonzero(~meets), False)]

    monkeypatch.setattr(driver, "_parts", wrong_in_the_arms)
    with pytest.raises(RuntimeError, match="run apart from the others asked"):
        simulate_replication(model, 1, 0)


def test_population_drawn_a_column_at_a_time_is_the_table_of_uniforms():
    scenario = iomsim.load_scenario(SUSSEX, overrides={"cohort.size": 300,
                                                       "selection.cohort_size": 70})
    pop = build_population(scenario, 5, 2)
    u = cohort_uniforms(5, 2, 300, 18)
    prof = scenario.cohort.profile
    assert np.array_equal(pop.male, u[:, 0] < prof.male_share)
    assert len(pop.ids) == len(pop.status) == len(pop.scheduled) == 300
    assert pop.ids[7] == "7" and pop.ids[-1] == "299" and pop.ids[:2] == ["0", "1"]
    assert pop.scheduled[3] == [] and pop.scheduled[1:3] == [[], []]
    with pytest.raises(IndexError):
        pop.ids[300]
    assert {pop.status[i] for i in range(300)} <= set(prof.status)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 10**6), min_size=0, max_size=40), st.integers(1, 5),
       st.randoms(use_true_random=False))
def test_rows_permuted_in_place_are_the_rows_taken_in_that_order(values, width, rng):
    """permute_rows (the last arm's state put in the order of its parts without a copy) gives
    X[order] for every permutation, for each dtype the state has."""
    from iomsim.engine.numba.kernels import permute_rows

    n = len(values) // width
    order = np.array(rng.sample(range(n), n), dtype=np.int64)
    for dtype in (np.float64, np.int32, np.int64):
        x = np.array(values[:n * width], dtype=dtype).reshape(n, width)
        expected = x[order]
        permute_rows(x, order)
        assert np.array_equal(x, expected)
