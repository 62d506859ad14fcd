"""Known answer: a cohort held in custody for the whole horizon costs exactly days x daily cost."""

import pytest

import iomsim
from tests.support import load_minimal


def test_whole_horizon_in_custody_costs_days_times_daily_cost():
    s = load_minimal({
        "cohort.size": 25, "horizon_years": 2, "justice.prison_cost_per_day": 123.0,
        "cohort.profile.status": {"custody": 1.0},
        "cohort.profile.custody_days_remaining": {"distribution": "fixed", "value": 5000},
    })
    r = iomsim.run(s, reps=2, seed=5, jobs=1)
    c = r.costs
    for arm in ("non_iom", "iom"):
        for year in (1, 2):
            sub = c[(c.arm == arm) & (c.year == year) & (c.replication == 0)]
            prison = sub[sub.agency == "prison"]["cost"].sum()
            assert prison == pytest.approx(25 * 365.25 * 123.0, rel=1e-12)
            assert sub[sub.agency != "prison"]["cost"].sum() == 0.0
        year2 = c[(c.arm == arm) & (c.year == 2) & (c.agency == "prison") & (c.replication == 0)]
        assert year2["discounted_cost"].sum() == pytest.approx(25 * 365.25 * 123.0 / 1.035, rel=1e-12)
    days = r.metric("custody_days_per_offender", "iom")
    assert days == pytest.approx(2 * 365.25, rel=1e-12)
