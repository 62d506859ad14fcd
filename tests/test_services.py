"""Services: time-in-state costs accrue by duration; capacity-limited services queue."""

import math

import pytest

import iomsim
from iomsim.engine import compile_model, simulate_replication
from tests.support import load_minimal

STUCK_IN_NEED = {"cohort.profile.needs": {"accommodation": 1.0},
                 "needs.accommodation": {"resolution_rate_per_year": 0.0}}


def test_daily_and_contact_costs_accrue_by_duration():
    s = load_minimal({"cohort.size": 40, "horizon_years": 2, **STUCK_IN_NEED,
                      "services": {
                          "hostel": {"agency": "housing", "needs_any": ["accommodation"],
                                     "cost_per_day": 10.0},
                          "gp": {"agency": "nhs", "contacts_per_year": 4, "cost_per_contact": 45.0}}})
    r = iomsim.run(s, reps=1, seed=1, jobs=1)
    c = r.costs[(r.costs.arm == "non_iom")]
    assert c[c.item == "hostel"]["cost"].sum() == pytest.approx(40 * 10.0 * 730.5, rel=1e-12)
    assert c[c.item == "gp"]["cost"].sum() == pytest.approx(40 * 4 * 45.0 * 2, rel=1e-12)


def test_uptake_is_a_per_offender_draw():
    n = 2000
    s = load_minimal({"cohort.size": n, "horizon_years": 1, **STUCK_IN_NEED,
                      "services": {"hostel": {"agency": "housing", "needs_any": ["accommodation"],
                                              "cost_per_day": 1.0, "uptake": 0.3}}})
    r = iomsim.run(s, reps=1, seed=2, jobs=1)
    c = r.costs[(r.costs.arm == "non_iom") & (r.costs.item == "hostel")]
    users = c["cost"].sum() / 365.25
    assert abs(users / n - 0.3) < 4 * math.sqrt(0.3 * 0.7 / n)


def test_capacity_limits_use_and_makes_offenders_wait():
    n = 100
    s = load_minimal({"cohort.size": n, "horizon_years": 2,
                      "cohort.profile.needs": {"drugs": 1.0},
                      "needs.drugs": {"resolution_rate_per_year": 1.0},
                      "services": {"treatment": {"agency": "drug_alcohol_treatment",
                                                 "needs_any": ["drugs"], "cost_per_day": 1.0,
                                                 "capacity_per_1000": 100}}})
    model = compile_model(s)
    r = simulate_replication(model, 3, 0)
    places = 10
    item = next(i for i, it in enumerate(model.items.items) if it.item == "treatment")
    used_days = r.costs["non_iom"][:, item].sum()
    assert used_days <= places * 730.5 + 1e-6
    assert r.metrics["non_iom"]["waits_per_offender_treatment"] > 0
    assert r.metrics["non_iom"]["mean_wait_days_treatment"] > 0


@pytest.mark.parametrize("engine", ["simpy", "compiled"])
def test_a_wait_still_open_at_the_horizon_is_not_counted(engine):
    """One place, two offenders who both want it from day 0 and nothing else happening: the
    first holds it to the horizon, the second waits the whole time. Leaving at the horizon hands
    the place on, but that ends no wait: there are no completed waits (the old code counted one
    wait of the whole horizon, 730.5 days, or not, by the order of events at the horizon)."""
    if engine == "compiled":
        pytest.importorskip("numba")
    s = load_minimal({"cohort.size": 2, "cohort.profile.ogrs": {"distribution": "fixed",
                                                                "value": 1e-6},
                      "services": {"hostel": {"agency": "housing", "uptake": 1.0,
                                              "iom_uptake": 1.0, "cost_per_day": 10.0,
                                              "capacity_per_1000": 1}}})
    model = compile_model(s)
    r = simulate_replication(model, 1, 0, engine=engine)
    for arm in ("non_iom", "iom"):
        assert r.metrics[arm]["detected_offences_per_offender"] == 0
        assert r.metrics[arm]["waits_per_offender_hostel"] == 0
        assert r.metrics[arm]["mean_wait_days_hostel"] == 0
    item = next(i for i, it in enumerate(model.items.items) if it.item == "hostel")
    assert r.costs["non_iom"][:, item].sum() == pytest.approx(10.0 * 730.5)  # one place in use
