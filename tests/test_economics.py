"""Economics from a hand-built cost table: IOM spend, benefit, benefit per pound, who pays."""

import pandas as pd
import pytest

from iomsim.results import economics_per_replication
from tests.support import load_minimal


def _row(arm, agency, item, cost, iom=False):
    return {"arm": arm, "replication": 0, "year": 1, "agency": agency, "item": item,
            "iom_programme": iom, "cost": cost, "discounted_cost": cost}


def test_benefit_per_pound_counts_averted_crime_and_criminal_justice_costs():
    s = load_minimal()
    costs = pd.DataFrame([
        _row("non_iom", "prison", "custody", 1000.0),
        _row("iom", "prison", "custody", 600.0),
        _row("non_iom", "police", "arrest", 300.0),
        _row("iom", "police", "arrest", 250.0),
        _row("iom", "police", "iom_offender_manager", 200.0, iom=True),
        _row("iom", "probation", "iom_offender_manager", 100.0, iom=True),
        _row("non_iom", "housing", "hostel", 50.0),
        _row("iom", "housing", "hostel", 80.0),
        _row("non_iom", "victims", "theft", 500.0),
        _row("iom", "victims", "theft", 200.0),
    ])
    e = economics_per_replication(s, costs).iloc[0]
    assert e["iom_cost"] == 300.0
    assert e["benefit_criminal_justice"] == (1000 - 600) + (300 - 250)
    assert e["benefit_victims"] == 300.0
    assert e["benefit"] == 450.0 + 300.0
    assert e["benefit_per_pound"] == pytest.approx(750.0 / 300.0)
    assert e["npv"] == 450.0
    # Who pays: IOM minus non-IOM, positive = spends more.
    assert e["net_change_police"] == (250 + 200) - 300
    assert e["net_change_housing"] == 30.0
    assert e["net_change_victims"] == -300.0
    assert e["fiscal_net_change"] == pytest.approx(-400 + 150 + 100 + 30)
