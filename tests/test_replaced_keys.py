"""A key that a newer one replaces is refused with a message naming the replacement, at the
file and line of the old key (not as an unknown key)."""

from __future__ import annotations

import pytest

import iomsim
from tests.support import MINIMAL


@pytest.mark.parametrize("old, value, new", [
    ("offending_multiplier_sd", 0.2, "offending_multiplier_cv"),
    ("persist_days_after_deselection", 365, "persistence_half_life_days"),
])
def test_a_replaced_key_names_its_replacement(tmp_path, old, value, new):
    (tmp_path / "minimal.yaml").write_text(MINIMAL.read_text())
    path = tmp_path / "old.yaml"
    path.write_text(f"extends: [minimal.yaml]\niom:\n  effects:\n    {old}: {value}\n")
    with pytest.raises(iomsim.ScenarioError) as err:
        iomsim.load_scenario(path)
    text = str(err.value)
    assert f"old.yaml:4: iom.effects.{old}" in text and f"replaced by {new}" in text
