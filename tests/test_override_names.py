"""An override names an existing item of a mapping whose items the user names (services,
offence types), or gives a whole new one: `--set services.housing.cost_per_day=20` with no
service `housing` used to start a new, half-described service and fail elsewhere."""

from __future__ import annotations

import pytest

import iomsim
from tests.support import ROOT

SUSSEX = ROOT / "scenarios" / "sussex-2013.yaml"


def test_a_field_of_an_unknown_service_is_refused_with_the_known_names():
    with pytest.raises(iomsim.InputError) as info:
        iomsim.load_scenario(SUSSEX, overrides={"services.housing.cost_per_day": 20})
    text = str(info.value)
    assert text.startswith("--set: services.housing.cost_per_day: services has no item named "
                           "'housing'")
    assert "temporary_accommodation" in text and "set services.housing to a mapping" in text


def test_a_field_of_an_unknown_offence_type_is_refused():
    with pytest.raises(iomsim.InputError, match="has no item named 'arson'"):
        iomsim.load_scenario(SUSSEX, overrides={
            "offending.offence_types.arson.detection_probability": 0.5})


def test_existing_items_fixed_names_and_whole_new_items_are_accepted():
    base = iomsim.load_scenario(SUSSEX)
    s = iomsim.load_scenario(SUSSEX, overrides={
        "services.temporary_accommodation.cost_per_day": 20,     # an existing service
        "offending.need_multipliers.drugs": 1.5,                 # need areas: a fixed list
        "services.peer_mentoring": {"agency": "vcs", "cost_per_day": 1.0},  # a whole new one
    })
    assert s.services["temporary_accommodation"].cost_per_day == 20
    assert s.offending.need_multipliers["drugs"] == 1.5
    assert set(s.services) == set(base.services) | {"peer_mentoring"}
