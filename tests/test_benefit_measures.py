"""Known answers for the three benefit measures (docs/model.md, 7.12): hand-made costs and
outcome metrics of one replication, each measure checked exactly, and the alias."""

import math

import numpy as np
import pytest

from iomsim.economics import cost_of_crime_per_proven_offence, economics_of, evaluation_measure
from iomsim.engine.model import ItemRegistry
from tests.support import load_minimal

RATE = 0.035
# (agency, item, iom programme): {year: (non-IOM cost, IOM cost)}
ENTRIES = {
    ("prison", "custody_sentenced", False): {0: (1000.0, 600.0)},
    ("police", "arrest_and_custody", False): {0: (300.0, 250.0)},
    ("police", "iom_offender_manager", True): {0: (0.0, 200.0)},
    ("probation", "iom_offender_manager", True): {0: (0.0, 100.0), 1: (0.0, 100.0 * (1 + RATE))},
    ("vcs", "iom_offender_manager", True): {0: (0.0, 50.0)},
    ("housing", "hostel", False): {0: (50.0, 80.0)},   # rises with IOM: an induced cost
    ("nhs", "gp", False): {0: (40.0, 20.0)},
    ("victims", "theft", False): {0: (500.0, 200.0)},
}
METRICS = {
    "iom": {"mean_ogrs": 0.7, "mean_ogrs_at_registration": 0.6,
            "proven_reoffending_rate_24m": 0.4, "proven_reoffences_per_offender_24m": 1.2,
            "offenders": 100.0},
    "non_iom": {"proven_offences_per_offender_horizon": 2.0, "offenders": 100.0},
}


RESPONSE = {"offending.offence_types.theft.cost_of_crime_response": 40.0,
            "offending.offence_types.violence.cost_of_crime_response": 600.0}


def _scenario(**over):
    return load_minimal({"horizon_years": 5, "discount_rate": RATE, **RESPONSE, **over})


def _inputs():
    items = ItemRegistry()
    for key in ENTRIES:
        items.add(*key)
    costs = {arm: np.zeros((5, len(items))) for arm in ("non_iom", "iom")}
    for i, years in enumerate(ENTRIES.values()):
        for year, (base, iom) in years.items():
            costs["non_iom"][year, i], costs["iom"][year, i] = base, iom
    return costs, items


def test_taxpayer_cashable_and_social_measures():
    costs, items = _inputs()
    e = economics_of(_scenario(), costs, items, METRICS)
    assert e["iom_cost"] == pytest.approx(200 + 100 + 100 + 50)
    assert e["induced_cost"] == pytest.approx(30.0)
    assert e["cost_taxpayer"] == pytest.approx(480.0)
    # Public costs that fall: prison 400, police arrests 50, GP 20 (housing rose).
    assert e["benefit_taxpayer"] == pytest.approx(470.0)
    assert e["benefit_per_pound_taxpayer"] == pytest.approx(470 / 480)
    assert e["npv_taxpayer"] == pytest.approx(-10.0)
    assert e["npv_taxpayer"] == pytest.approx(-e["fiscal_net_change"])
    # Cashable: without the prison's average cost per day.
    assert e["benefit_taxpayer_cashable"] == pytest.approx(70.0)
    assert e["benefit_per_pound_taxpayer_cashable"] == pytest.approx(70 / 480)
    assert e["npv_taxpayer_cashable"] == pytest.approx(-410.0)
    # Social: the taxpayer's benefit and the victims' 300.
    assert e["benefit_social"] == pytest.approx(770.0)
    assert e["benefit_per_pound_social"] == pytest.approx(770 / 480)
    assert e["npv_social"] == pytest.approx(290.0)
    assert e["npv_social"] == pytest.approx(-e["social_net_change"])
    # Components kept: criminal justice agencies' net change and victims'.
    assert e["benefit_criminal_justice"] == pytest.approx(450.0)
    assert e["benefit_victims"] == pytest.approx(300.0)
    # Undiscounted: the probation's year-two 103.5 counts in full.
    assert e["iom_cost_undiscounted"] == pytest.approx(453.5)
    assert e["benefit_per_pound_social_undiscounted"] == pytest.approx(770 / 483.5)


def test_benefit_per_pound_is_the_social_measure():
    costs, items = _inputs()
    e = economics_of(_scenario(), costs, items, METRICS)
    for suffix in ("", "_undiscounted"):
        assert e[f"benefit_per_pound{suffix}"] == e[f"benefit_per_pound_social{suffix}"]
        assert e[f"benefit{suffix}"] == e[f"benefit_social{suffix}"]
        assert e[f"npv{suffix}"] == e[f"npv_social{suffix}"]


def test_social_measure_without_victims_is_the_taxpayer_measure():
    costs, items = _inputs()
    e = economics_of(_scenario(**{"economics.include_victims_in_benefit": False}), costs, items,
                     METRICS)
    assert e["benefit_per_pound_social"] == pytest.approx(e["benefit_per_pound_taxpayer"])


def test_evaluation_measure():
    costs, items = _inputs()
    s = _scenario()
    e = economics_of(s, costs, items, METRICS)
    # Proven reoffences averted: (0.6 predicted at registration - 0.4 actual) x 100 offenders x
    # (1.2 / 0.4 = 3 proven reoffences per reoffender) = 60 in two years.
    assert e["proven_reoffences_averted_evaluation"] == pytest.approx(60.0)
    # Cost of crime per proven reoffence: each type's full published cost (victims and society
    # plus the criminal justice response) weighted by detected offences (theft 0.7 x 0.2,
    # violence 0.3 x 0.4); the model's own criminal justice costs play no part.
    victims = (0.14 * 100 + 0.12 * 1000) / 0.26
    assert cost_of_crime_per_proven_offence(s) == pytest.approx(victims)
    per_proven = (0.14 * (100 + 40) + 0.12 * (1000 + 600)) / 0.26
    assert cost_of_crime_per_proven_offence(s, full=True) == pytest.approx(per_proven)
    assert e["cost_per_proven_reoffence_evaluation"] == pytest.approx(per_proven)
    # 30 a year kept up over five years, discounted; over police and probation's IOM spend
    # (the voluntary sector's 50 left out).
    stream = sum(1.035 ** -k for k in range(5))
    benefit = 30 * per_proven * stream
    assert e["iom_cost_police_probation"] == pytest.approx(400.0)
    assert e["benefit_evaluation"] == pytest.approx(benefit)
    assert e["benefit_per_pound_evaluation"] == pytest.approx(benefit / 400)
    assert e["npv_evaluation"] == pytest.approx(benefit - 400)
    assert e["benefit_per_pound_evaluation_undiscounted"] == pytest.approx(
        30 * per_proven * 5 / 403.5)


def test_evaluation_measure_choices():
    s = _scenario()
    # Without OGRS at registration, the predicted rate is the mean OGRS.
    metrics = {"iom": {k: v for k, v in METRICS["iom"].items()
                       if k != "mean_ogrs_at_registration"}}
    ev = evaluation_measure(s, metrics, 100.0, 400.0)
    assert ev["proven_reoffences_averted_24m"] == pytest.approx(0.3 * 100 * 3)
    # Reoffenders rather than reoffences: no multiplier.
    ev = evaluation_measure(s, METRICS, 100.0, 400.0, count="reoffenders")
    assert ev["proven_reoffences_averted_24m"] == pytest.approx(20.0)
    # A horizon of two and a half years: the last half year counts half.
    short = _scenario(horizon_years=2.5)
    ev = evaluation_measure(short, METRICS, 100.0, 400.0)
    assert ev["benefit"] == pytest.approx(30 * ev["cost_per_proven_reoffence"]
                                          * (1 + 1 / 1.035 + 0.5 / 1.035 ** 2))


def test_evaluation_measure_needs_the_outcome_metrics():
    costs, items = _inputs()
    e = economics_of(_scenario(), costs, items)
    assert math.isnan(e["benefit_per_pound_evaluation"])
    assert e["benefit_per_pound_social"] == pytest.approx(770 / 480)


def test_cashable_share_weights_each_agencys_falls_and_rises():
    costs, items = _inputs()
    e = economics_of(_scenario(**{"economics.cashable_share": {"prison": 0.25, "housing": 0.5}}),
                     costs, items, METRICS)
    # Prison's 400 fall at a quarter, police 50 and GP 20 in full; housing's 30 rise at half.
    assert e["benefit_taxpayer_cashable"] == pytest.approx(0.25 * 400 + 50 + 20)
    assert e["cost_taxpayer_cashable"] == pytest.approx(450 + 0.5 * 30)
    # Not naming prison keeps its default (no cash from a prison day at the average cost).
    e = economics_of(_scenario(**{"economics.cashable_share": {"housing": 1.0}}), costs, items,
                     METRICS)
    assert e["benefit_taxpayer_cashable"] == pytest.approx(70.0)


def test_savings_by_payer_and_payback_years():
    from iomsim.economics import payback_year, savings_by_payer

    costs, items = _inputs()
    saving = savings_by_payer(_scenario(), costs, items)
    # Central: prison's 400 fall less probation's 100 programme in year 1; probation's 103.5
    # in year 2, discounted by 1.035. Local: police 50 - 200 programme, housing -30, GP +20.
    assert saving["central"] == pytest.approx([300.0, -100.0, 0.0, 0.0, 0.0])
    assert saving["local"] == pytest.approx([-160.0, 0.0, 0.0, 0.0, 0.0])
    assert saving["voluntary"] == pytest.approx([-50.0, 0.0, 0.0, 0.0, 0.0])
    assert "" not in saving and "victims" not in saving
    assert payback_year(np.cumsum(saving["central"])) == 1.0
    assert math.isnan(payback_year(np.cumsum(saving["local"])))
    assert payback_year(np.array([-5.0, -1.0, 2.0, 3.0])) == 3.0
    assert payback_year(np.array([1.0, -1.0, 2.0])) == 3.0  # from the year it stays paid back


def test_payers_are_set_by_agency():
    from iomsim.economics import savings_by_payer

    costs, items = _inputs()
    scenario = _scenario(**{"economics.payers": {"housing": "central"}})
    saving = savings_by_payer(scenario, costs, items)
    # Housing's 30 rise moves from local to central; the other agencies keep their defaults.
    assert saving["central"][0] == pytest.approx(300.0 - 30.0)
    assert saving["local"][0] == pytest.approx(-130.0)
