"""Scale knobs: scale.agency_costs.<agency> multiplies every cost that agency pays and nothing
else; scale.service_capacity multiplies services' places. Known answers on the compiled model
and on a run (both engines, common random numbers: the events are the same, only the prices
differ)."""

from __future__ import annotations

import pytest

import iomsim
from iomsim.engine.model import compile_model
from iomsim.errors import ScenarioError
from tests.support import ROOT

SUSSEX = ROOT / "scenarios" / "sussex-2013.yaml"
SMALL = {"cohort.size": 300, "selection.cohort_size": 60, "horizon_years": 2}


def _sussex(**overrides):
    return iomsim.load_scenario(SUSSEX, overrides={**SMALL, **overrides})


def test_the_compiled_model_scales_only_the_named_agency():
    base, scaled = compile_model(_sussex()), compile_model(
        _sussex(**{"scale.agency_costs.housing": 1.2, "scale.agency_costs.police": 0.5}))
    for a, b in zip(base.services, scaled.services):
        k = {"housing": 1.2, "police": 0.5}.get(base.scenario.services[a.name].agency, 1.0)
        assert b.per_day == pytest.approx(k * a.per_day, rel=1e-15)
        assert b.capacity_per_1000 == a.capacity_per_1000
    assert scaled.arrest_cost == pytest.approx(0.5 * base.arrest_cost, rel=1e-15)
    assert scaled.offence_investigation_cost == pytest.approx(
        [0.5 * c for c in base.offence_investigation_cost], rel=1e-15)
    assert scaled.prison_per_day == base.prison_per_day
    assert scaled.offence_victim_cost == base.offence_victim_cost
    assert scaled.courts == base.courts
    by_item = {i: base.items.items[i].agency for i in range(len(base.items))}
    for (item, a), (_, b) in zip(base.iom_daily, scaled.iom_daily):
        assert b == pytest.approx({"police": 0.5}.get(by_item[item], 1.0) * a, rel=1e-15)


def test_service_capacity_scales_places_of_all_or_of_one_service():
    base = compile_model(_sussex())
    limited = [s.name for s in base.services if s.capacity_per_1000 is not None]
    assert limited, "the Sussex scenario has services with a capacity"
    everyone = compile_model(_sussex(**{"scale.service_capacity": 0.8}))
    one = compile_model(_sussex(**{f"scale.service_capacity.{limited[0]}": 0.5}))
    for a, b, c in zip(base.services, everyone.services, one.services):
        if a.capacity_per_1000 is None:
            assert b.capacity_per_1000 is None and c.capacity_per_1000 is None
            continue
        assert b.capacity_per_1000 == pytest.approx(0.8 * a.capacity_per_1000, rel=1e-15)
        k = 0.5 if a.name == limited[0] else 1.0
        assert c.capacity_per_1000 == pytest.approx(k * a.capacity_per_1000, rel=1e-15)
        assert b.per_day == a.per_day


@pytest.mark.parametrize("engine", ["compiled", "simpy"])
def test_a_run_scales_the_costs_of_that_agency_by_k_and_no_other(engine):
    base = iomsim.run(_sussex(), reps=1, seed=4, jobs=1, engine=engine)
    scaled = iomsim.run(_sussex(**{"scale.agency_costs.housing": 1.2}), reps=1, seed=4, jobs=1,
                        engine=engine)
    a = base.costs.groupby(["arm", "agency"])["cost"].sum()
    b = scaled.costs.groupby(["arm", "agency"])["cost"].sum()
    assert list(a.index) == list(b.index)
    assert a[("iom", "housing")] > 0
    for key in a.index:
        if key[1] == "housing":
            assert b[key] == pytest.approx(1.2 * a[key], rel=1e-12)
        else:
            assert b[key] == a[key], key  # the same events at the same prices
    assert base.metric("offences_per_offender", "iom") == \
        scaled.metric("offences_per_offender", "iom")
    # the knob is in the manifest, with its provenance, as the report's assumptions read it
    m = scaled.manifest
    assert m["validated_scenario"]["scale"]["agency_costs"] == {"housing": 1.2}
    assert "assumption" in m["provenance"]["scale.agency_costs.housing"]


def test_a_scale_in_a_file_needs_a_reason(tmp_path):
    (tmp_path / "my.yaml").write_text(
        f"extends: [{SUSSEX.name}]\nname: mine\nscale:\n  agency_costs:\n    housing: 1.2\n")
    with pytest.raises(ScenarioError) as info:
        iomsim.load_scenario(tmp_path / "my.yaml")
    assert (info.value.line, info.value.path) == (5, "scale.agency_costs.housing")
    assert "needs a reason" in info.value.message
    (tmp_path / "my.yaml").write_text(
        f"extends: [{SUSSEX.name}]\nname: mine\nscale:\n  agency_costs:\n"
        "    housing: {value: 1.2, assumption: our B&B rates are a fifth higher}\n")
    s = iomsim.load_scenario(tmp_path / "my.yaml")
    assert s.scale.agency_cost("housing") == 1.2
    assert s.meta.provenance["scale.agency_costs.housing"]["assumption"].startswith("our B&B")


@pytest.mark.parametrize("path,words", [
    ("scale.agency_costs.housng", "no agency 'housng' pays for anything in this scenario; did "
                                  "you mean 'housing'?"),
    ("scale.service_capacity.nope", "no service named 'nope' (services with a capacity:"),
    ("scale.service_capacity.gp", "has no capacity"),
])
def test_a_knob_naming_nothing_is_refused(path, words):
    with pytest.raises(Exception) as info:
        _sussex(**{path: 1.1})
    assert words in str(info.value)


def test_a_sweep_point_may_set_a_knob_the_scenario_leaves_at_one():
    from iomsim.scenario.points import current_value, point_scenario

    base = _sussex()
    assert current_value(base, "scale.agency_costs.housing") == 1.0
    assert current_value(base, "scale.service_capacity.drug_treatment") == 1.0
    point = point_scenario(base, {"scale.agency_costs.housing": 1.3})
    assert point.scale.agency_cost("housing") == 1.3 and point.scale.agency_cost("police") == 1.0
    assert "assumption" in point.meta.provenance["scale.agency_costs.housing"]


def test_a_key_refused_by_name_says_why_not_an_empty_list():
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "iomsim.cli", "validate", "sussex-2013", "--set",
                           "scale.agency_costs.victims=2"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2
    line = proc.stderr.strip().splitlines()[-1]
    assert not line.rstrip().endswith("expected one of:")
    assert "victims" in line and "reserved for the cost of crime" in line
