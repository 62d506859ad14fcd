"""What a value says about where it comes from follows the value: an override or a plain value
over a sourced one does not keep the source, and the price year cannot be overridden (money is
priced when the files are read)."""

from __future__ import annotations

import pytest

import iomsim
from tests.support import MINIMAL


@pytest.fixture()
def sourced(tmp_path):
    (tmp_path / "minimal.yaml").write_text(MINIMAL.read_text())
    parent = tmp_path / "parent.yaml"
    parent.write_text("extends: [minimal.yaml]\njustice:\n  prison_cost_per_day: {value: 100, "
                      "price_year: '2011-12', source: a published unit cost}\n")
    return tmp_path


def test_an_override_is_shown_as_an_override_not_as_the_files_source(sourced):
    base = iomsim.load_scenario(sourced / "parent.yaml")
    assert base.meta.provenance["justice.prison_cost_per_day"]["source"] == "a published unit cost"
    moved = iomsim.apply_overrides(base, {"justice.prison_cost_per_day": 120})
    prov = moved.meta.provenance["justice.prison_cost_per_day"]
    assert "source" not in prov and "override" in prov["assumption"]


def test_a_plain_value_over_a_sourced_one_drops_the_source(sourced):
    child = sourced / "child.yaml"
    child.write_text("extends: [parent.yaml]\njustice:\n  prison_cost_per_day: 120\n")
    s = iomsim.load_scenario(child)
    assert s.justice.prison_cost_per_day == 120
    assert "justice.prison_cost_per_day" not in s.meta.provenance
    child.write_text("extends: [parent.yaml]\njustice:\n  prison_cost_per_day: {value: 120, "
                     "assumption: a local figure}\n")
    s = iomsim.load_scenario(child)
    assert s.meta.provenance["justice.prison_cost_per_day"] == {"assumption": "a local figure"}


def test_the_price_year_cannot_be_overridden(sourced):
    base = iomsim.load_scenario(sourced / "parent.yaml")
    with pytest.raises(iomsim.InputError) as err:
        iomsim.apply_overrides(base, {"price_year": "2023-24"})
    assert "cannot be overridden" in str(err.value) and "extends this one" in str(err.value)
