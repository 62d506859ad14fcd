"""A scenario leaf's ``uncertainty:`` (``{value: ..., source: ..., uncertainty: {...}}``): read
into ``scenario.meta.uncertainty`` beside the value, which a run uses unchanged; money uprated
with the leaf's price year; dropped where an override or a child file replaces the value.
(Malformed uncertainties are cases of the bad-input corpus, tests/bad_inputs/uncertainty-*.)"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from iomsim.scenario import apply_overrides, load_scenario
from iomsim.scenario.loader import uprating_factor

BASE = Path(__file__).parent / "bad_inputs" / "base" / "minimal.yaml"

LEAVES = """
justice:
  prison_cost_per_day:
    value: 92.5
    price_year: "2013-14"
    source: test
    uncertainty: {distribution: gamma, mean: 92.5, sd: 10, assumption: judgement}
  conviction_probability:
    value: 0.85
    source: test
    uncertainty: {distribution: beta, mean: 0.85, sd: 0.05, source: a test}
cohort:
  size: {value: 200, assumption: test, uncertainty: {distribution: uniform, low: 150, high: 250, assumption: test}}
  profile:
    ogrs:
      distribution: beta
      mean: {value: 0.6, assumption: a, uncertainty: {distribution: uniform, low: 0.5, high: 0.7, assumption: b}}
      sd: 0.15
"""


def _scenario(tmp_path: Path, text: str, name: str = "s.yaml"):
    (tmp_path / "base.yaml").write_text(BASE.read_text())
    (tmp_path / name).write_text("extends: base.yaml\n" + text)
    return load_scenario(tmp_path / name)


def test_the_value_is_used_and_the_uncertainty_kept_beside_it(tmp_path):
    s = _scenario(tmp_path, LEAVES)
    assert s.justice.conviction_probability == 0.85
    assert s.cohort.profile.ogrs.mean == 0.6
    u = s.meta.uncertainty
    assert set(u) == {"justice.prison_cost_per_day", "justice.conviction_probability",
                      "cohort.size", "cohort.profile.ogrs.mean"}
    assert u["justice.conviction_probability"] == {
        "distribution": "beta", "mean": 0.85, "sd": 0.05, "source": "a test", "integer": False}
    assert u["cohort.size"]["integer"] is True
    # provenance of the value is the value's, not the uncertainty's
    assert s.meta.provenance["justice.prison_cost_per_day"]["source"] == "test"


def test_money_uncertainty_is_uprated_with_its_leaf(tmp_path):
    s = _scenario(tmp_path, LEAVES)
    f = uprating_factor("2013-14", "2011-12")
    u = s.meta.uncertainty["justice.prison_cost_per_day"]
    assert s.justice.prison_cost_per_day == pytest.approx(92.5 * f)
    assert u["mean"] == pytest.approx(92.5 * f) and u["sd"] == pytest.approx(10 * f)


def test_lognormal_meanlog_moves_by_the_log_of_the_factor(tmp_path):
    s = _scenario(tmp_path, """
justice:
  prison_cost_per_day:
    value: 92.5
    price_year: "2013-14"
    source: test
    uncertainty: {distribution: lognormal, meanlog: 4.5, sdlog: 0.1, assumption: judgement}
""")
    f = uprating_factor("2013-14", "2011-12")
    assert s.meta.uncertainty["justice.prison_cost_per_day"]["meanlog"] == \
        pytest.approx(4.5 + math.log(f))


def test_the_uncertainty_does_not_change_the_scenario_or_its_hash(tmp_path):
    with_u = _scenario(tmp_path, LEAVES)
    stripped = LEAVES
    for text in (", uncertainty: {distribution: uniform, low: 150, high: 250, assumption: test}",
                 ", uncertainty: {distribution: uniform, low: 0.5, high: 0.7, assumption: b}",
                 "    uncertainty: {distribution: gamma, mean: 92.5, sd: 10, assumption: "
                 "judgement}\n",
                 "    uncertainty: {distribution: beta, mean: 0.85, sd: 0.05, source: a test}\n"):
        assert text in stripped
        stripped = stripped.replace(text, "")
    without = _scenario(tmp_path, stripped, name="t.yaml")
    assert without.meta.uncertainty == {}
    assert without.meta.hash == with_u.meta.hash


def test_an_override_drops_the_uncertainty_of_what_it_sets(tmp_path):
    s = _scenario(tmp_path, LEAVES)
    t = apply_overrides(s, {"justice.conviction_probability": 0.8})
    assert "justice.conviction_probability" not in t.meta.uncertainty
    assert "justice.prison_cost_per_day" in t.meta.uncertainty
    u = apply_overrides(s, {"cohort.profile.ogrs": {"distribution": "beta", "mean": 0.5,
                                                    "sd": 0.1}})
    assert "cohort.profile.ogrs.mean" not in u.meta.uncertainty


def test_a_child_file_that_restates_the_value_drops_the_parents_uncertainty(tmp_path):
    _scenario(tmp_path, LEAVES, name="parent.yaml")
    (tmp_path / "child.yaml").write_text(
        "extends: parent.yaml\njustice:\n  conviction_probability: 0.8\n")
    child = load_scenario(tmp_path / "child.yaml")
    assert "justice.conviction_probability" not in child.meta.uncertainty
    assert "justice.prison_cost_per_day" in child.meta.uncertainty


@pytest.mark.parametrize("text,message", [
    # a share: only what stays within 0 to 1 (a beta, or bounds inside it)
    ("justice:\n  conviction_probability: {value: 0.85, source: t, uncertainty: "
     "{distribution: uniform, low: 0.7, high: 1.2, assumption: t}}\n",
     "a share between 0 and 1, but this distribution can draw values from 0.7 to 1.2"),
    # money: nothing below zero (a normal reaches it), a gamma is fine
    ("justice:\n  prison_cost_per_day: {value: 92.5, price_year: '2013-14', source: t, "
     "uncertainty: {distribution: normal, mean: 92.5, sd: 10, assumption: t}}\n",
     "at least 0, but this distribution can draw values from -inf to inf; use distribution: "
     "gamma or lognormal"),
    # a slope limited to -0.2 to 0.2: neither a share nor a positive number
    ("offending:\n  desistance:\n    annual_rate_at_age_30: 0.1\n    age_slope: {value: -0.03, "
     "source: t, uncertainty: {distribution: normal, mean: -0.03, sd: 0.01, assumption: t}}\n",
     "between -0.2 and 0.2, but this distribution can draw values from -inf to inf; use a "
     "distribution that stays inside it"),
])
def test_an_uncertainty_that_can_draw_what_the_value_may_not_be_is_refused(tmp_path, text,
                                                                          message):
    from iomsim.errors import ScenarioError

    with pytest.raises(ScenarioError, match=message.replace("(", r"\(")) as info:
        _scenario(tmp_path, text)
    assert info.value.path.endswith(".uncertainty.distribution")
    # truncated inside the range, the same distributions are accepted
    fixed = text.replace("high: 1.2", "high: 1.0").replace(
        "sd: 10, assumption", "sd: 10, bounds: truncate, low: 0, high: 200, assumption").replace(
        "sd: 0.01, assumption", "sd: 0.01, bounds: truncate, low: -0.2, high: 0.2, assumption")
    assert _scenario(tmp_path, fixed).meta.uncertainty


def test_the_range_a_draw_must_respect_is_read_from_the_schema():
    from iomsim.scenario.uncertainty import allowed_range

    assert allowed_range("0 to 1") == (0.0, 1.0)
    assert allowed_range("between 0 and 1") == (0.0, 1.0)
    assert allowed_range(">= 0") == (0.0, math.inf)
    assert allowed_range("0 to 1,000,000") == (0.0, math.inf)  # a ceiling, not a support
    assert allowed_range("> 0 to 5") == (0.0, math.inf)
    assert allowed_range("8 to 80") == (8.0, math.inf)
    assert allowed_range("per year") is None and allowed_range(None) is None
