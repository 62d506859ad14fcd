"""The loader: extends, provenance, uprating, overrides applied all-or-nothing."""

import pytest

import iomsim
from iomsim.errors import ScenarioError
from iomsim.scenario.loader import gdp_deflator, uprating_factor
from tests.support import MINIMAL


def test_extends_merges_and_overrides_dotted_values(tmp_path):
    child = tmp_path / "child.yaml"
    child.write_text(f"extends: {MINIMAL}\nname: child\njustice:\n  charge_probability: 0.5\n")
    # tests/scenarios is outside tmp_path: allowed on purpose, as extends: requires.
    s = iomsim.load_scenario(child, extends_path=[MINIMAL.parent])
    assert s.name == "child"
    assert s.justice.charge_probability == 0.5
    assert s.justice.conviction_probability == 0.9  # inherited


def test_provenance_is_stripped_and_money_uprated_to_the_price_year(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text(f"extends: {MINIMAL}\njustice:\n  prison_cost_per_day: "
                 "{value: 100, price_year: '2013-14', source: 'a table'}\n")
    s = iomsim.load_scenario(f, extends_path=[MINIMAL.parent])
    index = gdp_deflator()
    assert s.justice.prison_cost_per_day == pytest.approx(100 * index["2011-12"] / index["2013-14"])
    assert s.meta.provenance["justice.prison_cost_per_day"]["source"] == "a table"
    assert uprating_factor("2011-12", "2011-12") == 1.0


def test_probabilities_are_not_uprated(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text(f"extends: {MINIMAL}\njustice:\n  price_year: '2003-04'\n  charge_probability: 0.5\n")
    assert iomsim.load_scenario(f, extends_path=[MINIMAL.parent]).justice.charge_probability \
        == 0.5


def test_a_bad_override_leaves_the_scenario_untouched():
    s = iomsim.load_scenario(MINIMAL)
    with pytest.raises(ScenarioError):
        iomsim.apply_overrides(s, {"discount_rate": 0.01, "justice.charge_probability": 7})
    assert s.discount_rate == 0.035
    t = iomsim.apply_overrides(s, {"discount_rate": 0.01})
    assert t.discount_rate == 0.01 and s.discount_rate == 0.035
