"""Loader and error details that the command-line corpus does not reach directly: errors keep
their location across processes, stay on one line whatever the input holds, --set paths are
parsed strictly, --set values are read with the same safe reader as files, and a bad override
set leaves nothing half-applied."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

import iomsim
from iomsim.errors import CohortError, InputError, OverrideError, ScenarioError, one_line
from iomsim.scenario.loader import apply_overrides, load_scenario, load_scenario_text
from iomsim.scenario.paths import parse
from iomsim.scenario.yamlio import MAX_DEPTH, read_yaml_text

BASE = Path(__file__).parent / "bad_inputs" / "base" / "minimal.yaml"


@pytest.fixture(scope="module")
def scenario():
    return load_scenario(BASE)


def test_errors_keep_file_line_and_path_when_pickled():
    # sweeps and process pools send errors between processes
    for cls in (InputError, ScenarioError, CohortError, OverrideError):
        err = cls("bad value", file="a.yaml", line=3, path="justice.arrest_cost")
        back = pickle.loads(pickle.dumps(err))
        assert type(back) is cls
        assert (back.file, back.line, back.path, back.message) == \
            ("a.yaml", 3, "justice.arrest_cost", "bad value")
        assert str(back) == "a.yaml:3: justice.arrest_cost: bad value"


def test_errors_are_one_line_whatever_the_input_holds():
    err = ScenarioError("two\nlines\tand tabs", file="odd\nname.yaml", line=1, path="a\nb")
    assert "\n" not in str(err)
    assert str(err) == "odd\\nname.yaml:1: a\\nb: two lines and tabs"
    assert one_line("x\u2028y\x1bz") == "x y\\x1bz"


@pytest.mark.parametrize("dotted,parts", [
    ("justice.arrest_cost", ["justice", "arrest_cost"]),
    ("iom.offender_managers[0].share", ["iom", "offender_managers", 0, "share"]),
    ("a[1][2]", ["a", 1, 2]),
])
def test_override_paths_are_split(dotted, parts):
    assert parse(dotted) == parts


@pytest.mark.parametrize("dotted", ["", " ", "a..b", "a.", ".a", "a[x]", "a[1", "a]", "[0]",
                                    "a[-1]", "a[1]b", "a[]"])
def test_malformed_override_paths_are_refused(dotted, scenario):
    with pytest.raises(ValueError):
        parse(dotted)
    with pytest.raises(OverrideError) as info:
        apply_overrides(scenario, {dotted: 1} if dotted.strip() else [f"{dotted}=1"])
    assert "\n" not in str(info.value)


def test_override_values_are_read_safely(scenario):
    names = "abcdef"
    bomb = "[&a [" + ", ".join(["1"] * 10) + "], " + ", ".join(
        f"&{n} [" + ", ".join([f"*{p}"] * 10) + "]" for p, n in zip(names, names[1:])) + "]"
    with pytest.raises(OverrideError, match="is not allowed"):
        apply_overrides(scenario, ["name=!!python/object/apply:os.system [ls]"])
    # aliases in a value are expanded within the same budget as in files
    deep = "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5)
    with pytest.raises(OverrideError, match="nested more than"):
        apply_overrides(scenario, [f"economics.benefit_agencies={deep}"])
    with pytest.raises(OverrideError, match="more than 200,000 values after expanding aliases"):
        apply_overrides(scenario, [f"economics.benefit_agencies={bomb}"])


def test_a_bad_override_set_applies_nothing(scenario):
    before = scenario.model_dump()
    with pytest.raises(InputError):
        apply_overrides(scenario, {"justice.arrest_cost": 10, "justice.conviction_probability": 85})
    assert scenario.model_dump() == before
    changed = apply_overrides(scenario, {"justice.arrest_cost": 10})
    assert changed.justice.arrest_cost == 10 and scenario.justice.arrest_cost != 10


def test_booleans_are_refused_where_numbers_are_expected_but_kept_where_booleans_are():
    text = BASE.read_text()
    with pytest.raises(ScenarioError, match="got false; expected a number"):
        load_scenario_text(text + "exits:\n  death_rate_per_year: off\n", folder=BASE.parent)
    ok = load_scenario_text(text + "economics:\n  include_victims_in_benefit: no\n",
                            folder=BASE.parent)
    assert ok.economics.include_victims_in_benefit is False


def test_control_characters_and_deep_nesting_are_input_errors():
    with pytest.raises(ScenarioError, match="control character U\\+0007") as info:
        read_yaml_text("name: a\nb: \x07\n", file="x.yaml")
    assert info.value.line == 2
    with pytest.raises(ScenarioError, match="nested more than"):
        read_yaml_text("a: " + "[" * 10_000 + "]" * 10_000, file="x.yaml")
    chain = "a0: &a0 [" + "[" * 50 + "1" + "]" * 50 + "]\n" + "".join(
        f"a{i}: &a{i} [" + "[" * 50 + f"*a{i - 1}" + "]" * 50 + "]\n" for i in range(1, 4))
    with pytest.raises(ScenarioError, match="through aliases"):
        read_yaml_text(chain, file="x.yaml")


def test_the_cohort_csv_is_checked_when_the_scenario_is_loaded(tmp_path):
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "minimal.yaml").write_text(BASE.read_text())
    (tmp_path / "cohort.csv").write_text("id,age,ogrs\nA,30,0.5\nB,31,1.5\n")
    scenario_file = tmp_path / "s.yaml"
    scenario_file.write_text("extends: base/minimal.yaml\nselection: {cohort_size: 1}\n"
                             "cohort: {size: null, profile: null, from_csv: cohort.csv}\n")
    with pytest.raises(CohortError) as info:
        iomsim.load_scenario(scenario_file)
    assert info.value.line == 3 and "column ogrs" in str(info.value)
    # and through an override, with the override named as the source
    (tmp_path / "cohort.csv").write_text("id,age,ogrs\nA,30,0.5\n")
    good = iomsim.load_scenario(scenario_file)
    with pytest.raises(CohortError) as info:
        apply_overrides(good, {"cohort.from_csv": "../elsewhere.csv"})
    assert info.value.file == "--set" and info.value.path == "cohort.from_csv"
