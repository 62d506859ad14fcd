"""IOM: programme costs by caseload and duration; effects on offending; de-selection."""

import pytest

import iomsim
from tests.support import load_minimal

IN_CUSTODY = {"cohort.profile.status": {"custody": 1.0},
              "cohort.profile.custody_days_remaining": {"distribution": "fixed", "value": 5000}}


def test_offender_manager_cost_is_annual_cost_over_caseload_for_the_days_on_iom():
    s = load_minimal({"cohort.size": 30, "horizon_years": 2, **IN_CUSTODY,
                      "iom.max_duration_days": 365.25,
                      "iom.offender_managers": {"probation": {"share": 1.0,
                                                 "annual_cost": 36525.0, "caseload": 10}}})
    r = iomsim.run(s, reps=1, seed=1, jobs=1)
    c = r.costs
    om = c[(c.arm == "iom") & (c.item == "iom_offender_manager")]
    assert om["cost"].sum() == pytest.approx(30 * 3652.5, rel=1e-12)
    assert om["iom_programme"].all()
    assert r.metric("iom_cost") == pytest.approx(30 * 3652.5, rel=1e-12)
    assert r.metric("iom_days_per_offender", "iom") == pytest.approx(365.25, rel=1e-12)
    assert c[(c.arm == "non_iom") & c.iom_programme]["cost"].sum() == 0.0


def test_an_offending_effect_reduces_offences_in_the_iom_arm_only():
    s = load_minimal({"cohort.size": 400, "iom.effects.offending_multiplier": 0.5})
    r = iomsim.run(s, reps=1, seed=2, jobs=1)
    base = r.metric("offences_per_offender", "non_iom")
    iom = r.metric("offences_per_offender", "iom")
    assert iom == pytest.approx(0.5 * base, rel=0.1)


def test_deselection_after_a_quiet_period_ends_programme_costs():
    # Nobody offends (OGRS tiny), so everyone is de-selected after 100 quiet days.
    s = load_minimal({"cohort.size": 20, "cohort.profile.ogrs": {"distribution": "fixed", "value": 1e-9},
                      "iom.deselect_after_offence_free_days": 100,
                      "iom.offender_managers": {"police": {"share": 1.0,
                                                 "annual_cost": 36525.0, "caseload": 10}}})
    r = iomsim.run(s, reps=1, seed=3, jobs=1)
    assert r.metric("iom_days_per_offender", "iom") == pytest.approx(100.0, rel=1e-9)
    assert r.metric("iom_cost") == pytest.approx(20 * 100 * 10.0, rel=1e-9)


def test_caseload_capacity_makes_offenders_wait_for_an_iom_place():
    # 20 offenders, places for 10; each stays on IOM for exactly 100 days, so the second ten
    # start on day 100: everyone gets 100 IOM days, and the mean wait is (10*0 + 10*100)/20.
    s = load_minimal({"cohort.size": 20, "horizon_years": 2, **IN_CUSTODY,
                      "iom.places_per_1000": 500, "iom.max_duration_days": 100,
                      "iom.offender_managers": {"probation": {"share": 1.0,
                                                 "annual_cost": 36525.0, "caseload": 10}}})
    r = iomsim.run(s, reps=1, seed=1, jobs=1)
    assert r.metric("iom_days_per_offender", "iom") == pytest.approx(100.0, rel=1e-9)
    assert r.metric("mean_wait_days_iom_place", "iom") == pytest.approx(50.0, rel=1e-9)
    assert r.metric("iom_cost") == pytest.approx(20 * 100 * 10.0, rel=1e-9)


@pytest.mark.parametrize("engine", ["simpy", "compiled"])
def test_an_iom_place_handed_on_at_the_horizon_starts_no_iom(engine):
    """Offenders leaving at the horizon hand their places on at a time that can round a hair
    below it (1.3 years does, 1.25 does not): that must not start IOM, cost referrals or record
    a wait. With places for 30% of the cohort and none freed before the horizon, exactly those
    placed at day 0 are on IOM, whichever way the horizon rounds."""
    from iomsim.engine import simulate_replication

    seen = []
    for years in (1.25, 1.3):
        s = load_minimal({"cohort.size": 200, "iom.places_per_1000": 300, "horizon_years": years,
                          "cohort.profile.needs": {"drugs": 0.5},
                          "iom.pathway_referrals.cost_per_referral": 100})
        m = simulate_replication(s, 1, 0, engine=engine).metrics["iom"]
        seen.append((m["iom_places_waits_per_offender"], m["mean_wait_days_iom_place"],
                     m["pathway_referrals_per_offender"]))
    assert seen[0] == seen[1]
    assert seen[0][0] == pytest.approx(0.3) and seen[0][1] == 0.0
