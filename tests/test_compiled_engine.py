"""The compiled (numba) engine gives the simpy engine's results.

Both engines draw every random number from the same keyed stream at the same index, so without
capacity-limited services or IOM places (where offenders do not interact) the event histories are
the same and every metric, cost cell, survival point and population figure agrees to rounding
(the tests ask for relative 1e-9; in practice they are bit-identical), and so do the per-offender
records and, exactly, the count of every rule branch taken (``events_by_kind``). With
capacity-limited services or IOM places the order in which a freed place is handed on at exactly
equal times can differ, so those scenarios, branch counts included (but two that the order of
hand-offs at the horizon decides, ``tests.support.BRANCHES_ORDERED_BY_HANDOFF``), are compared
statistically over several replications. Every feature of the schema is compared: fixed events
from cohort records (the case study among them), capacity-limited IOM, 40 services, cases of
many offences.

The first call compiles the kernels (about a minute; numba caches them on disk for later runs).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import iomsim
from iomsim.engine import compile_model, simulate_replication
from iomsim.engine.branches import BRANCHES
from iomsim.scenario.schema import NEEDS, STATUSES
from tests.support import BRANCHES_ORDERED_BY_HANDOFF, assert_same, load_minimal

pytest.importorskip("numba")

ROOT = Path(__file__).resolve().parent.parent
SUSSEX = ROOT / "scenarios" / "sussex-2013.yaml"
NO_CAPACITY = {"services.approved_premises.capacity_per_1000": None,
               "services.drug_treatment.capacity_per_1000": None}
SMALL = {"cohort.size": 600, "selection.cohort_size": 150}


@pytest.fixture(scope="module")
def sussex_no_capacity():
    return compile_model(iomsim.load_scenario(SUSSEX, overrides=NO_CAPACITY))


@pytest.mark.parametrize("seed,replication", [(1, 0), (2, 3), (7, 1), (12345, 9)])
def test_same_as_simpy_without_capacity(sussex_no_capacity, seed, replication):
    model = sussex_no_capacity
    a = simulate_replication(model, seed, replication, engine="simpy")
    b = simulate_replication(model, seed, replication, engine="compiled")
    assert_same(a, b)
    assert b.events > 0


@pytest.mark.parametrize("overrides", [
    # no IOM effect on offending: the arms differ only by IOM's costs and enforcement
    {"iom.effects.offending_multiplier": 1.0, "iom.effects.offending_multiplier_cv": 0.0},
    # a shorter pre-period and a horizon that ends inside a year (year-boundary splitting)
    {"pre_period_months": 13, "horizon_years": 2.5},
    # no pre-period; selection by convictions
    {"pre_period_months": 0, "selection.rank_by": "convictions_pre_period"},
])
def test_same_as_simpy_variants(overrides):
    model = compile_model(iomsim.load_scenario(SUSSEX, overrides={**NO_CAPACITY, **SMALL,
                                                                  **overrides}))
    for rep in range(2):
        assert_same(simulate_replication(model, 5, rep, engine="simpy"),
                    simulate_replication(model, 5, rep, engine="compiled"))


def test_same_as_simpy_with_iom_mechanisms_off():
    """IOM's effects on offending, detection, recall and needs all switched off (the arms still
    differ by IOM's costs, its different service uptake and de-selection)."""
    off = {"iom.effects.offending_multiplier": 1.0, "iom.effects.offending_multiplier_cv": 0.0,
           "iom.enforcement.detection_multiplier": 1.0, "iom.enforcement.recall_multiplier": 1.0,
           "iom.pathway_referrals.need_resolution_multiplier": 1.0}
    model = compile_model(iomsim.load_scenario(SUSSEX, overrides={**NO_CAPACITY, **SMALL, **off}))
    for rep in range(2):
        assert_same(simulate_replication(model, 3, rep, engine="simpy"),
                    simulate_replication(model, 3, rep, engine="compiled"))


def test_same_as_simpy_independent_arms(sussex_no_capacity):
    a = simulate_replication(sussex_no_capacity, 4, 2, independent_arms=True, engine="simpy")
    b = simulate_replication(sussex_no_capacity, 4, 2, independent_arms=True, engine="compiled")
    assert_same(a, b)


def test_same_as_simpy_minimal_scenario():
    """The plain test scenario with a few mechanisms switched on."""
    s = load_minimal({"justice.magistrates.custody_probability": 0.3,
                      "justice.crown.community_order_probability": 0.5,
                      "justice.remand_probability": 0.2})
    model = compile_model(s)
    for rep in range(3):
        assert_same(simulate_replication(model, 11, rep, engine="simpy"),
                    simulate_replication(model, 11, rep, engine="compiled"))


def _branch_differences(a, b, diffs: dict) -> bool:
    """Each branch's count in ``b`` less that in ``a``, appended to ``diffs[("branch", name)]``;
    whether all were equal. With capacity limits the branches taken depend on queue order as
    the metrics do, so they are compared as the metrics are: in distribution (but those that
    place hand-offs order, see tests.support)."""
    assert list(a.events_by_kind) == list(b.events_by_kind) == list(BRANCHES)
    same = True
    for name in BRANCHES:
        if name in BRANCHES_ORDERED_BY_HANDOFF:
            continue
        d = b.events_by_kind[name] - a.events_by_kind[name]
        diffs.setdefault(("branch", name), []).append(d)
        same &= d == 0
    return same


def _paired_agreement(model, replications: int, arms: tuple[str, ...], keys: list[str],
                      check=None) -> int:
    """Both engines over ``replications`` replications of ``model`` (seed 1): the paired
    differences of each metric in ``keys``, each arm's total cost and each branch count must
    be within three standard errors of zero. Returns how many replications were identical."""
    diffs: dict = {(arm, k): [] for arm in arms for k in keys + ["total_cost"]}
    identical = 0
    for rep in range(replications):
        a = simulate_replication(model, 1, rep, engine="simpy")
        b = simulate_replication(model, 1, rep, engine="compiled")
        if check is not None:
            check(a)
        same = _branch_differences(a, b, diffs)
        for arm in arms:
            # A difference within rounding of the amount (costs added up in another order) is
            # no difference: otherwise the same last-bit rounding in every replication would
            # read as a systematic one (its standard error near zero).
            for k in keys:
                d = b.metrics[arm][k] - a.metrics[arm][k]
                d = d if abs(d) > 1e-9 * max(1.0, abs(a.metrics[arm][k])) else 0.0
                diffs[(arm, k)].append(d)
                same &= d == 0.0
            d = float(b.costs[arm].sum() - a.costs[arm].sum())
            d = d if abs(d) > 1e-9 * abs(float(a.costs[arm].sum())) else 0.0
            diffs[(arm, "total_cost")].append(d)
            same &= d == 0.0
        identical += same
    for key, d in diffs.items():
        d = np.asarray(d)
        se = d.std(ddof=1) / math.sqrt(len(d))
        assert abs(d.mean()) <= 3 * se + 1e-9 * max(1.0, np.abs(d).max()), (key, d.mean(), se)
    return identical


def test_capacity_limited_services_agree_statistically():
    """Full Sussex (approved premises and treatment places limited): 20 replications.

    Queue order at exactly equal times may differ between the engines, so the paired
    differences of the replication results (branch counts included) must be within three
    standard errors of zero; most replications are in fact identical.
    """
    model = compile_model(iomsim.load_scenario(SUSSEX))
    keys = ["reconviction_rate_24m", "offences_per_offender", "custody_days_per_offender",
            "waits_per_offender_approved_premises", "waits_per_offender_drug_treatment",
            "mean_wait_days_drug_treatment"]
    identical = _paired_agreement(model, 20, ("non_iom", "iom"), keys)
    assert identical >= 10, f"only {identical} of 20 replications identical"


def test_same_as_simpy_with_queues_groups_and_windows():
    """Three capacity-limited services with long queues (two in an exclusive group, one with a
    post-release window). Before waits ending at the horizon were left out, the compiled
    engine counted more of them than simpy (0.204 against 0.202 waits per offender, seed 1)."""
    services = {
        "hostel": {"agency": "housing", "uptake": 0.6, "iom_uptake": 0.9, "cost_per_day": 10.0,
                   "capacity_per_1000": 50, "statuses": ["licence", "unsupervised"],
                   "within_days_of_release": 60, "group": "g", "needs_any": ["accommodation"],
                   "need_resolution_multiplier": {"accommodation": 3.0}},
        "bnb": {"agency": "housing", "uptake": 0.3, "cost_per_day": 30.0, "group": "g",
                "capacity_per_1000": 20, "needs_any": ["accommodation"]},
        "drugs": {"agency": "nhs", "uptake": 0.5, "iom_uptake": 0.8, "cost_per_day": 5.0,
                  "capacity_per_1000": 30, "needs_any": ["drugs"],
                  "need_resolution_multiplier": {"drugs": 2.0}},
    }
    model = compile_model(load_minimal({
        "services": services, "cohort.size": 1000,
        "cohort.profile.needs": {"accommodation": 0.5, "drugs": 0.4},
        "needs": {"accommodation": {"resolution_rate_per_year": 1.0, "relapse_rate_per_year": 0.5},
                  "drugs": {"resolution_rate_per_year": 0.5, "relapse_rate_per_year": 1.0}},
        "cohort.profile.status": {"custody": 0.4, "licence": 0.3, "unsupervised": 0.3},
        "cohort.profile.custody_days_remaining": {"distribution": "uniform", "low": 1, "high": 300},
        "cohort.profile.licence_days_remaining": {"distribution": "uniform", "low": 1, "high": 300},
        "justice.magistrates.custody_probability": 0.4,
        "justice.licence_breach_rate_per_year": 1.0}))
    for seed in (1, 2, 3):
        a = simulate_replication(model, seed, 0, engine="simpy")
        b = simulate_replication(model, seed, 0, engine="compiled")
        assert a.metrics["non_iom"]["waits_per_offender_bnb"] > 0
        assert_same(a, b, places_limited=True)


def test_same_as_simpy_with_cases_carried_over_day_0():
    """Long court delays and frequent detected offences: cases with more offences than a row
    holds, open at day 0, carried from the pre-period into both arms."""
    model = compile_model(load_minimal({
        "cohort.size": 300, "pre_period_months": 24,
        "justice.magistrates.delay_days": {"distribution": "fixed", "value": 700},
        "justice.crown.delay_days": {"distribution": "fixed", "value": 700},
        "cohort.profile.ogrs.mean": 0.97, "cohort.profile.ogrs.sd": 0.01,
        "offending.offence_types.theft.detection_probability": 0.9}))
    a = simulate_replication(model, 1, 0, engine="simpy")
    b = simulate_replication(model, 1, 0, engine="compiled")
    assert a.metrics["non_iom"]["convictions_per_offender_12m"] > 1  # multi-offence cases
    assert_same(a, b)


def assert_same_records(a, b) -> None:
    """The per-offender records of each arm (keep_offenders), the same from both engines."""
    assert set(a.records) == set(b.records) == {"non_iom", "iom"}
    for arm in a.records:
        ra, rb = a.records[arm], b.records[arm]
        assert len(ra) == len(rb) == a.cohort_size
        for name in ("ogrs", "need_mask", "exited", "detected", "recalls", "referrals"):
            np.testing.assert_array_equal(getattr(ra, name), getattr(rb, name), err_msg=name)
        for name in ("offences_by_type", "custody_days", "iom_days"):
            np.testing.assert_allclose(getattr(rb, name), getattr(ra, name), rtol=1e-9,
                                       atol=0.0, err_msg=name)
        # the numba engine records proven offences from 12 months before day 0 only
        proven = ra.proven[ra.proven["offence_day"] >= -365.25]
        for table_a, table_b in ((ra.convictions, rb.convictions), (proven, rb.proven),
                                 (ra.waits, rb.waits)):
            assert table_a.dtype == table_b.dtype
            assert len(table_a) == len(table_b), (arm, table_a.dtype.names)
            for field in table_a.dtype.names:
                np.testing.assert_allclose(table_b[field], table_a[field], rtol=1e-9, atol=0.0,
                                           err_msg=f"{arm}: {field}")


def test_both_engines_keep_the_same_records(sussex_no_capacity):
    """keep_offenders: the per-offender records of each arm, the same from both engines."""
    a = simulate_replication(sussex_no_capacity, 3, 1, keep_offenders=True, engine="simpy")
    b = simulate_replication(sussex_no_capacity, 3, 1, keep_offenders=True, engine="compiled")
    assert len(a.records["iom"].convictions) > 0
    assert_same_records(a, b)


def test_poisson_quantile_copy_matches_the_reference():
    """The kernels' copy of distributions.poisson_quantile (extra offences at court)."""
    from iomsim.engine.distributions import poisson_quantile
    from iomsim.engine.numba import kernels

    rng = np.random.default_rng(11)
    for mean in (0.0, 0.3, 1.0, 2.5, 40.0, 700.0):
        for u in rng.uniform(size=50):
            assert kernels.poisson_quantile(mean, u) == poisson_quantile(mean, u), (mean, u)


def test_constants_copied_into_the_kernels_match_their_sources():
    """numba caches the kernels by kernels.py's text alone, so the constants they use are
    literals there, checked at import against the modules they come from; every scalar slot of
    the kernels' parameters is filled from a named Model field."""
    from iomsim.engine.numba import driver, kernels

    assert kernels.constants_drift() == []
    assert driver.layout_problems() == []


def test_a_branch_renamed_or_moved_is_out_of_date_in_the_kernels(monkeypatch):
    """The kernels count each branch in a slot fixed by a literal: a change to BRANCHES that
    was not copied into them is named at import, by the slots it moves."""
    from iomsim.engine.numba import kernels

    swapped = list(BRANCHES)
    swapped[0], swapped[1] = swapped[1], swapped[0]
    monkeypatch.setattr(kernels, "BRANCHES", tuple(swapped))
    assert [p.split(":")[0] for p in kernels.constants_drift()] == [
        "B_IOM_QUIET_CLOCK_RESET", "B_OFFENCE"]
    monkeypatch.setattr(kernels, "BRANCHES", ("detected_offence",) + BRANCHES[1:])
    assert [p.split(":")[0] for p in kernels.constants_drift()] == [
        "B_DETECTED_OFFENCE", "B_OFFENCE"]
    monkeypatch.setattr(kernels, "BRANCHES", BRANCHES + ("new_branch",))
    assert [p.split(":")[0] for p in kernels.constants_drift()] == ["B_NEW_BRANCH", "N_BRANCHES"]


def _many_services(n: int, capacity_from: int | None = None) -> dict:
    """``n`` services using every option: needs, groups, windows, boosts, IOM uptake; those from
    ``capacity_from`` on capacity-limited with a place for everyone (nobody waits)."""
    out = {}
    for i in range(n):
        svc = {"agency": ("housing", "nhs", "police", "probation")[i % 4],
               "uptake": 0.3 + 0.06 * ((i * 7) % 10), "cost_per_day": 1.0 + i}
        if i % 3 == 0:
            svc["iom_uptake"] = 0.95
        if i % 4 == 1:
            svc["needs_any"] = [NEEDS[i % 3]]
        if i % 5 == 2:
            svc["need_resolution_multiplier"] = {NEEDS[i % 3]: 1.0 + 0.1 * (i % 7)}
        if i % 6 == 3:
            svc["within_days_of_release"] = 30 + 10 * i
            svc["statuses"] = ["licence", "unsupervised"]
        if n - 10 <= i < n - 7:
            svc["group"] = "g"
            svc["uptake"] = 0.3
        if capacity_from is not None and i >= capacity_from:
            svc["capacity_per_1000"] = 1000
        out[f"s{i}"] = svc
    return out


def test_what_remains_refused():
    """Only the limits of the compiled engine's packing: more services than bits of one int64
    mask, and more offenders than the heap packs into a float64."""
    from iomsim.engine.numba.driver import MAX_SERVICES, unsupported

    case_study = iomsim.load_scenario(ROOT / "scenarios" / "case-study-61k.yaml")
    assert unsupported(case_study) is None
    s = iomsim.load_scenario(SUSSEX, overrides={**SMALL, "iom.places_per_1000": 50})
    assert unsupported(s) is None
    with pytest.raises(ValueError, match="unknown engine"):
        simulate_replication(s, 1, 0, engine="fast")
    too_many = load_minimal({"services": _many_services(MAX_SERVICES + 1)})
    assert unsupported(too_many)[0] == "services"
    with pytest.raises(ValueError, match="more than 63 services"):
        simulate_replication(too_many, 1, 0, engine="compiled")
    assert unsupported(load_minimal({"services": _many_services(MAX_SERVICES)})) is None
    big = iomsim.load_scenario(SUSSEX, overrides={"limits.max_offenders": 3_000_000,
                                                  "cohort.size": 2_100_000})
    assert unsupported(big)[0] == "cohort.size"  # the heap's packing limit, refused up front


def test_case_study_same_as_simpy():
    """scenarios/case-study-61k.yaml: fixed release and recall (with its days) from the cohort
    record, no pre-period."""
    model = compile_model(iomsim.load_scenario(ROOT / "scenarios" / "case-study-61k.yaml"))
    for rep in range(4):
        a = simulate_replication(model, 1, rep, keep_offenders=True, engine="simpy")
        b = simulate_replication(model, 1, rep, keep_offenders=True, engine="compiled")
        assert a.records["non_iom"].recalls[0] >= 1  # the scheduled recall
        assert_same(a, b)
        assert_same_records(a, b)


def _scheduled_offenders(n: int) -> list[dict]:
    """Offender records of every status with fixed events of each kind, unsorted, some falling
    before the pre-period starts (day -730), some before day 0, two on the same day."""
    patterns = [
        [{"event": "recall", "day": 100, "days": 30}, {"event": "release", "day": -800}],
        [{"event": "recall", "day": -200}, {"event": "release", "day": -150}],
        [{"event": "exit", "day": 200}],
        [{"event": "exit", "day": -100}],
        [{"event": "release", "day": 0.0}, {"event": "recall", "day": 400, "days": 10},
         {"event": "recall", "day": 400}],
        [{"event": "recall", "day": -45, "days": 5.5}, {"event": "release", "day": 50},
         {"event": "exit", "day": 1500}],
        [],
    ]
    return [{"id": f"o{i}", "age": 20 + i % 30, "ogrs": 0.3 + 0.006 * ((i * 37) % 100),
             "needs": [NEEDS[j] for j in range(len(NEEDS)) if (i >> j) % 3 == 0],
             "status": STATUSES[i % len(STATUSES)], "status_days_remaining": 20 + (i * 53) % 400,
             "scheduled_events": patterns[i % len(patterns)]} for i in range(n)]


def test_scheduled_events_same_as_simpy():
    """Release, recall (fixed days or drawn) and exit on fixed days, on Sussex's rules."""
    model = compile_model(iomsim.load_scenario(SUSSEX, overrides={
        **NO_CAPACITY, "cohort.profile": None, "cohort.size": None,
        "cohort.offenders": _scheduled_offenders(140), "selection.cohort_size": 70,
        "selection.statuses": list(STATUSES)}))
    for rep in range(3):
        a = simulate_replication(model, 2, rep, keep_offenders=True, engine="simpy")
        b = simulate_replication(model, 2, rep, keep_offenders=True, engine="compiled")
        assert a.population[("not_selected", "offenders")] < 140 - 70  # exits before day 0
        assert a.records["iom"].exited.any()
        assert_same(a, b)
        assert_same_records(a, b)


def test_capacity_limited_iom_with_a_place_for_everyone_is_exact():
    """iom.places_per_1000 with as many places as offenders: everyone starts IOM at day 0
    (after a first step without it, as simpy's allocation process interrupts the life one),
    and waits 0 days."""
    model = compile_model(iomsim.load_scenario(SUSSEX, overrides={
        **NO_CAPACITY, **SMALL, "iom.places_per_1000": 1000}))
    for rep in range(2):
        a = simulate_replication(model, 1, rep, keep_offenders=True, engine="simpy")
        b = simulate_replication(model, 1, rep, keep_offenders=True, engine="compiled")
        assert a.metrics["iom"]["iom_places_waits_per_offender"] == 1.0
        assert a.metrics["iom"]["mean_wait_days_iom_place"] == 0.0
        assert_same(a, b)
        assert_same_records(a, b)


def test_capacity_limited_iom_agrees_statistically():
    """Small Sussex with 45 offender managers' places for 150 offenders, and its capacity-limited
    services: ten replications. Places handed on at exactly equal times may go in another order,
    so the paired differences (branch counts included) must be within three standard errors of
    zero (most replications are in fact identical)."""
    model = compile_model(iomsim.load_scenario(SUSSEX, overrides={
        **SMALL, "iom.places_per_1000": 300}))
    keys = ["reconviction_rate_24m", "offences_per_offender", "custody_days_per_offender",
            "iom_days_per_offender", "iom_places_waits_per_offender", "mean_wait_days_iom_place",
            "waits_per_offender_approved_premises", "waits_per_offender_drug_treatment"]

    def offenders_did_wait(a):
        assert 0 < a.metrics["iom"]["mean_wait_days_iom_place"]

    identical = _paired_agreement(model, 10, ("iom",), keys, check=offenders_did_wait)
    assert identical >= 5, f"only {identical} of 10 replications identical"


def test_forty_services_same_as_simpy():
    """More services than an int32 mask holds (the old limit was 17): the last five
    capacity-limited (with a place for everyone), so that their bits are above 31 too."""
    model = compile_model(load_minimal({
        "services": _many_services(40, capacity_from=35), "cohort.size": 300,
        "pre_period_months": 12,
        "cohort.profile.needs": {"accommodation": 0.5, "education_training_employment": 0.4,
                                 "finance": 0.3},
        "needs": {name: {"resolution_rate_per_year": 1.0, "relapse_rate_per_year": 0.5}
                  for name in NEEDS[:3]},
        "cohort.profile.status": {"custody": 0.4, "licence": 0.3, "unsupervised": 0.3},
        "cohort.profile.custody_days_remaining": {"distribution": "uniform", "low": 1,
                                                  "high": 300},
        "cohort.profile.licence_days_remaining": {"distribution": "uniform", "low": 1,
                                                  "high": 300},
        "justice.magistrates.custody_probability": 0.4,
        "justice.licence_breach_rate_per_year": 1.0}))
    assert len(model.services) == 40 and model.boosting_services >> 32
    for seed in (1, 2):
        a = simulate_replication(model, seed, 0, keep_offenders=True, engine="simpy")
        b = simulate_replication(model, seed, 0, keep_offenders=True, engine="compiled")
        assert_same(a, b)
        assert_same_records(a, b)


def test_many_offences_per_case_same_as_simpy():
    """Court four years after the first charge and every offence detected: cases of fifteen
    offences or more, most of them in the case pool rather than the offender's row."""
    model = compile_model(load_minimal({
        "cohort.size": 200, "pre_period_months": 36, "horizon_years": 4,
        "justice.magistrates.delay_days": {"distribution": "fixed", "value": 1400},
        "justice.crown.delay_days": {"distribution": "fixed", "value": 1400},
        "cohort.profile.ogrs.mean": 0.98, "cohort.profile.ogrs.sd": 0.01,
        "offending.offence_types.theft.detection_probability": 1.0,
        "offending.offence_types.violence.detection_probability": 1.0}))
    a = simulate_replication(model, 1, 0, keep_offenders=True, engine="simpy")
    b = simulate_replication(model, 1, 0, keep_offenders=True, engine="compiled")
    assert a.records["iom"].convictions["offences"].max() >= 15
    assert_same(a, b)
    assert_same_records(a, b)


@pytest.mark.parametrize("iom_places", [None, 300])
def test_heap_compaction_changes_nothing(monkeypatch, iom_places):
    """Stale heap entries (wake-ups replaced by a place granted) are compacted away when the
    heap is full: with almost no room to spare the results are the same."""
    from iomsim.engine.numba import driver

    model = compile_model(iomsim.load_scenario(SUSSEX, overrides={
        **SMALL, "services.approved_premises.capacity_per_1000": 5,
        "iom.places_per_1000": iom_places}))
    roomy = simulate_replication(model, 2, 0, engine="compiled")
    heap = driver._heap
    monkeypatch.setattr(driver, "_heap", lambda n: heap(n, spare=1))
    tight = simulate_replication(model, 2, 0, engine="compiled")
    assert_same(roomy, tight, rel=0.0)
    assert roomy.metrics["non_iom"]["waits_per_offender_approved_premises"] > 0
    if iom_places is not None:
        assert roomy.metrics["iom"]["mean_wait_days_iom_place"] > 0


@settings(max_examples=80, deadline=None)
@given(st.lists(st.one_of(st.sampled_from([0.0, 1.0, 2.5]), st.floats(0, 100)), min_size=1,
                max_size=300),
       st.lists(st.booleans(), max_size=600))
def test_the_heap_pops_in_time_then_push_order(times, pops):
    """The event heap (its times a contiguous row, the level below prefetched) gives entries
    back by time, ties in the order they were pushed, whatever pushes and pops interleave;
    many equal times and heaps deeper than a cache line of children are drawn."""
    from iomsim.engine.numba import kernels as k

    HP = np.empty((3, len(times)))
    RS = np.zeros(k.RS_HEAD, dtype=np.int64)
    pending, popped, expected = [], [], []
    steps = iter(pops)
    for seq, t in enumerate(times):
        assert k.heap_push(HP, RS, t, seq, 7)
        pending.append((t, seq))
        if next(steps, False) and pending:
            pending.sort()
            expected.append(pending.pop(0))
            t0, o, v = k.heap_pop(HP, RS)
            popped.append((t0, o))
            assert v == 7
    while RS[0]:
        t0, o, _ = k.heap_pop(HP, RS)
        popped.append((t0, o))
    assert popped == expected + sorted(pending)


def test_heap_compaction_keeps_iom_places_granted():
    """An offender manager's place granted is a heap entry with no version of the offender's
    (IOM_START): compaction keeps it while dropping wake-ups made stale."""
    from iomsim.engine.numba import kernels as k

    I = np.zeros((3, k.I_QN0), dtype=np.int32)
    I[:, k.I_VERSION] = [2, 0, 1]
    HP = np.empty((3, 8))  # an entry a column
    RS = np.zeros(k.RS_HEAD, dtype=np.int64)
    entries = [(1.0, 0, 1), (2.0, 0, 2), (0.5, 1, k.IOM_START), (3.0, 2, 0), (4.0, 2, 1),
               (0.25, 0, 0)]
    for t, o, v in entries:
        assert k.heap_push(HP, RS, t, o, v)
    k.heap_compact(HP, RS, I)
    popped = [tuple(k.heap_pop(HP, RS)) for _ in range(RS[0])]
    assert popped == [(0.5, 1, k.IOM_START), (2.0, 0, 2), (4.0, 2, 1)]
