"""Economics from hand-built cost matrices: IOM spend, benefit, benefit per pound, who pays."""

import numpy as np
import pytest

from iomsim.engine.model import ItemRegistry
from iomsim.results import economics_of
from tests.support import load_minimal


def test_benefit_per_pound_counts_averted_crime_and_criminal_justice_costs():
    s = load_minimal()
    items = ItemRegistry()
    entries = {  # (agency, item, iom programme): (non-IOM cost, IOM cost), all in year 1
        ("prison", "custody", False): (1000.0, 600.0),
        ("police", "arrest", False): (300.0, 250.0),
        ("police", "iom_offender_manager", True): (0.0, 200.0),
        ("probation", "iom_offender_manager", True): (0.0, 100.0),
        ("housing", "hostel", False): (50.0, 80.0),
        ("victims", "theft", False): (500.0, 200.0),
    }
    for key in entries:
        items.add(*key)
    costs = {arm: np.zeros((2, len(items))) for arm in ("non_iom", "iom")}
    for i, (base, iom) in enumerate(entries.values()):
        costs["non_iom"][0, i], costs["iom"][0, i] = base, iom
    e = economics_of(s, costs, items)
    assert e["iom_cost"] == 300.0
    assert e["benefit_criminal_justice"] == (1000 - 600) + (300 - 250)
    assert e["benefit_victims"] == 300.0
    assert e["benefit"] == 450.0 + 300.0
    # The social measure: housing's rise (30) is a cost IOM induces, beside its own 300.
    assert e["induced_cost"] == 30.0
    assert e["benefit_per_pound"] == pytest.approx(750.0 / 330.0)
    assert e["npv"] == 420.0
    # Who pays: IOM minus non-IOM, positive = spends more.
    assert e["net_change_police"] == (250 + 200) - 300
    assert e["net_change_housing"] == 30.0
    assert e["net_change_victims"] == -300.0
    assert e["fiscal_net_change"] == pytest.approx(-400 + 150 + 100 + 30)


def test_year_two_costs_are_discounted_in_the_economics():
    s = load_minimal({"discount_rate": 0.05})
    items = ItemRegistry()
    items.add("prison", "custody")
    items.add("police", "iom_offender_manager", True)
    costs = {"non_iom": np.array([[0.0, 0.0], [105.0, 0.0]]),
             "iom": np.array([[0.0, 50.0], [0.0, 0.0]])}
    e = economics_of(s, costs, items)
    assert e["benefit"] == pytest.approx(100.0)
    assert e["benefit_undiscounted"] == pytest.approx(105.0)
    assert e["benefit_per_pound"] == pytest.approx(2.0)
