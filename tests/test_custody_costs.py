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


@pytest.mark.parametrize("leaves_remand_by, expected_custody_days", [
    # On remand from day 0, court on day 50, convicted, 200 days' custody of which half is
    # served, less the days spent on remand.
    (None, 0.5 * 200),  # remand to court: 50 days on remand + (100 - 50) after sentence
    ({"event": "release", "day": 10}, 10 + (0.5 * 200 - 10)),  # bailed on day 10: credit 10
    ({"event": "recall", "day": 10, "days": 5}, 10 + 5 + (0.5 * 200 - 10)),  # recalled for 5 days
])
def test_only_days_actually_on_remand_count_towards_the_sentence(leaves_remand_by,
                                                                 expected_custody_days):
    from iomsim.engine import compile_model, simulate_replication

    record = {"id": "remanded", "age": 30, "ogrs": 1e-9, "status": "remand",
              "status_days_remaining": 50, "licence_days_after_release": 0,
              "scheduled_events": [leaves_remand_by] if leaves_remand_by else []}
    s = load_minimal({"cohort.profile": None, "cohort.size": None, "cohort.offenders": [record],
                      "horizon_years": 1, "justice.conviction_probability": 1.0,
                      "justice.magistrates.custody_probability": 1.0,
                      "justice.magistrates.custody_days": {"distribution": "fixed", "value": 200}})
    r = simulate_replication(compile_model(s), 1, 0, keep_offenders=True)
    records = r.records["non_iom"]
    assert len(records) == 1
    assert len(records.convictions) and records.convictions["day"][0] == pytest.approx(50)
    assert records.custody_days[0] == pytest.approx(expected_custody_days, rel=1e-12)
