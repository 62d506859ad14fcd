"""A scenario can be priced in any year the shipped GDP deflator covers, and the shipped Sussex
variant priced in the latest covered year is the 2011-12 scenario times the deflator ratio."""

from __future__ import annotations

import pytest

import iomsim
from iomsim.scenario.loader import gdp_deflator, load_scenario_text
from tests.support import ROOT

SCEN = ROOT / "scenarios"
BASE = SCEN / "sussex-2013.yaml"
VARIANT = SCEN / "sussex-2013-prices-2023-24.yaml"
SMALL = {"cohort.size": 200, "selection.cohort_size": 48}


def _money(s):
    """A sample of money values from every kind of place money lives in a scenario."""
    t = s.offending.offence_types
    return {
        "prison_cost_per_day": s.justice.prison_cost_per_day,
        "arrest_cost": s.justice.arrest_cost,
        "licence_cost_per_year": s.justice.licence_cost_per_year,
        "crown court legal aid": s.justice.crown.costs.legal_aid,
        "violence_with_injury cost_of_crime": t["violence_with_injury"].cost_of_crime,
        "violence_with_injury cost_of_crime_response":
            t["violence_with_injury"].cost_of_crime_response,
        "shoplifting cost_of_crime": t["shoplifting"].cost_of_crime,
        "robbery police_investigation_cost": t["robbery"].police_investigation_cost,
        "gp cost_per_contact": s.services["gp"].cost_per_contact,
        "drug_treatment cost_per_day": s.services["drug_treatment"].cost_per_day,
    }


def test_the_variant_is_priced_in_the_latest_covered_year():
    assert iomsim.load_scenario(VARIANT).price_year == max(gdp_deflator())


def test_the_variants_money_is_the_base_times_the_deflator_ratio():
    base, variant = iomsim.load_scenario(BASE), iomsim.load_scenario(VARIANT)
    index = gdp_deflator()
    ratio = index[variant.price_year] / index[base.price_year]
    a, b = _money(base), _money(variant)
    for name in a:
        assert b[name] == pytest.approx(a[name] * ratio, rel=1e-12), name


def test_a_run_in_the_variant_costs_the_base_times_the_deflator_ratio():
    base = iomsim.load_scenario(BASE, overrides=SMALL)
    variant = iomsim.load_scenario(VARIANT, overrides=SMALL)
    index = gdp_deflator()
    ratio = index[variant.price_year] / index[base.price_year]
    ra = iomsim.run(base, reps=2, seed=3, jobs=1, progress=False)
    rb = iomsim.run(variant, reps=2, seed=3, jobs=1, progress=False)
    ca = ra.costs_by_agency.set_index(["arm", "agency"])
    cb = rb.costs_by_agency.set_index(["arm", "agency"])
    assert list(ca.index) == list(cb.index)
    for col in ("cost", "discounted_cost"):
        for key in ca.index:
            assert cb.loc[key, col] == pytest.approx(ca.loc[key, col] * ratio, rel=1e-9,
                                                     abs=1e-6), (key, col)
    assert rb.economics.set_index("metric")["value"]["benefit_per_pound"] == \
        pytest.approx(ra.economics.set_index("metric")["value"]["benefit_per_pound"], rel=1e-9)


@pytest.mark.parametrize("year", sorted(gdp_deflator()))
def test_every_covered_year_can_price_the_scenario(year):
    s = load_scenario_text(f'extends: [sussex-2013.yaml]\nname: x\nprice_year: "{year}"\n',
                           folder=SCEN)
    base = iomsim.load_scenario(BASE)
    index = gdp_deflator()
    assert s.price_year == year
    assert s.justice.prison_cost_per_day == pytest.approx(
        base.justice.prison_cost_per_day * index[year] / index[base.price_year], rel=1e-12)


def test_a_year_the_deflator_does_not_cover_is_refused():
    with pytest.raises(iomsim.InputError, match="no GDP deflator for price year '2024-25'"):
        load_scenario_text('extends: [sussex-2013.yaml]\nname: x\nprice_year: "2024-25"\n',
                           folder=SCEN)
