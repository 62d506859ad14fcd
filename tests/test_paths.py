"""Dotted paths: the one grammar for --set, sweep and targets parameters, break-even and errors."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iomsim.scenario.loader import SCENARIO_PATHS, load_scenario
from iomsim.scenario.paths import (
    PathLookupError, PathSyntaxError, SchemaPaths, format_path, get_value, is_within, join, parse,
    set_value, with_value,
)
from tests.support import ROOT

DATA = {
    "justice": {"arrest_cost": 700.0, "recall": {"standard_days": {"mean": 30}}},
    "iom": {"offender_managers": [{"agency": "police", "share": 0.6},
                                  {"agency": "probation", "share": 0.4}]},
    "grid": [[1, 2], [3, 4]],
    "services": {"Mental Health": {"uptake": 0.5}},
}


@pytest.mark.parametrize("text,parts", [
    ("justice.arrest_cost", ["justice", "arrest_cost"]),
    ("iom.offender_managers[1].share", ["iom", "offender_managers", 1, "share"]),
    ("grid[1][0]", ["grid", 1, 0]),
    ("services.Mental Health.uptake", ["services", "Mental Health", "uptake"]),
    ("discount_rate", ["discount_rate"]),
])
def test_parse_and_format_known_answers(text, parts):
    assert parse(text) == parts
    assert format_path(parts) == text
    assert parse(tuple(parts)) == parts  # parts are accepted as they are


@pytest.mark.parametrize("text", ["", " ", "a..b", "a.", ".a", "a[x]", "a[1", "a]", "[0]",
                                  "a[-1]", "a[1]b", "a[]"])
def test_malformed_paths_say_which_part(text):
    with pytest.raises(PathSyntaxError):
        parse(text)


def test_get_known_answers():
    assert get_value(DATA, "justice.arrest_cost") == 700.0
    assert get_value(DATA, "iom.offender_managers[1].share") == 0.4
    assert get_value(DATA, "grid[1][0]") == 3
    assert get_value(DATA, ["services", "Mental Health", "uptake"]) == 0.5


@pytest.mark.parametrize("text,message,depth", [
    ("iom.offender_managers[5].share", "the list has 2 items, [0] to [1]", 2),
    ("justice.arest_cost", "no key 'arest_cost' in justice", 1),
    ("justice.arrest_cost.value", "justice.arrest_cost is a float, not a mapping", 2),
    ("justice[0]", "the value here is not a list", 1),
])
def test_get_says_what_is_missing(text, message, depth):
    with pytest.raises(PathLookupError) as info:
        get_value(DATA, text)
    assert message in info.value.message
    assert info.value.depth == depth and info.value.path == text


def test_get_reads_a_validated_scenario_by_field_only():
    scenario = load_scenario(ROOT / "scenarios" / "sussex-2013.yaml")
    assert get_value(scenario, "iom.effects.offending_multiplier") == \
        scenario.iom.effects.offending_multiplier
    assert get_value(scenario, "iom.offender_managers.probation.share") == \
        scenario.iom.offender_managers["probation"].share
    with pytest.raises(PathLookupError):
        get_value(scenario, "meta")  # a property, not a field of the scenario


def test_set_in_place_and_as_a_copy():
    data = copy.deepcopy(DATA)
    set_value(data, "iom.offender_managers[0].share", 0.5)
    set_value(data, "exits.death_rate_per_year", 0.01)  # a missing mapping is created
    assert data["iom"]["offender_managers"][0]["share"] == 0.5
    assert data["exits"] == {"death_rate_per_year": 0.01}
    new = with_value(DATA, "justice.recall.standard_days.mean", 45)
    assert new["justice"]["recall"]["standard_days"]["mean"] == 45
    assert DATA["justice"]["recall"]["standard_days"]["mean"] == 30
    with pytest.raises(PathLookupError, match=r"the list has 2 items, \[0\] to \[1\]"):
        set_value(copy.deepcopy(DATA), "iom.offender_managers[2].share", 1)
    with pytest.raises(PathLookupError, match="not a mapping"):
        set_value(copy.deepcopy(DATA), "justice.arrest_cost.value", 1)
    with pytest.raises(PathLookupError, match="no key 'nope'"):
        set_value(copy.deepcopy(DATA), "justice.nope", 1, create=False)


def test_join_and_within():
    assert join("", "a") == "a" and join("a", "b") == "a.b" and join("a", 3) == "a[3]"
    assert is_within("a.b[0].c", "a.b") and is_within("a.b", "a.b")
    assert not is_within("a.bc", "a.b")


@pytest.mark.parametrize("wrong,right", [
    ("justice.arest_cost", "justice.arrest_cost"),
    ("iom.efects.offending_multiplier", "iom.effects.offending_multiplier"),
    ("iom.effects.offending_multiplierr", "iom.effects.offending_multiplier"),
    ("iom.case_conferences.attendees.hours", "iom.case_conferences.attendees[0].hours"),  # [0]
    ("iom.case_conferences.attendees.hour", "iom.case_conferences.attendees[0].hours"),
    ("cohort.profile.needs.drug", "cohort.profile.needs.drugs"),  # a key of an enumeration
    ("justice.arest_cost.zzzz", "justice.arrest_cost"),  # what can be mended
])
def test_suggest_known_answers(wrong, right):
    assert not SCENARIO_PATHS.has(wrong)
    assert SCENARIO_PATHS.suggest(wrong) == right


def test_suggest_nothing_when_nothing_is_close_or_the_path_is_right():
    assert SCENARIO_PATHS.suggest("zzzz.yyyy") is None
    assert SCENARIO_PATHS.suggest("justice.arrest_cost") is None
    assert SCENARIO_PATHS.suggest("a[") is None


def test_schema_paths_of_any_model():
    from pydantic import BaseModel

    class Item(BaseModel):
        size: int

    class Doc(BaseModel):
        items: list[Item]
        named: dict[str, Item]

    paths = SchemaPaths(Doc.model_json_schema)
    assert paths.has("items[3].size") and paths.has(["named", "a.b", "size"])
    assert paths.keys("") == ["items", "named"] and paths.keys("named.x") == ["size"]
    assert paths.node("items[0].size")["type"] == "integer"
    assert not paths.has("items.size") and paths.suggest("items.sise") == "items[0].size"


# --------------------------------------------------------------------------- properties

keys = st.text(st.characters(blacklist_characters=".[]", blacklist_categories=("Cs",)),
               min_size=1, max_size=8)
# A path that is only whitespace is refused as empty, so the first key holds something else.
parts_lists = st.builds(lambda first, rest: [first, *rest], keys.filter(str.strip),
                        st.lists(st.one_of(keys, st.integers(min_value=0, max_value=50)),
                                 max_size=6))


@settings(max_examples=200, deadline=None)
@given(parts=parts_lists)
def test_format_then_parse_is_the_identity(parts):
    assert parse(format_path(parts)) == parts


@settings(max_examples=200, deadline=None)
@given(parts=parts_lists, value=st.one_of(st.integers(), st.text(max_size=5), st.none()))
def test_set_then_get_gives_the_value_back(parts, value):
    root: dict = {}
    # Lists must already hold the item an index names: build them, then set and read back.
    node: object = root
    for part, nxt in zip(parts, parts[1:]):
        child = [None] * (nxt + 1) if isinstance(nxt, int) else {}
        node[part] = child  # type: ignore[index]
        node = child
    before = copy.deepcopy(root)
    changed = with_value(root, parts, value)
    assert root == before  # the copy leaves the input alone
    assert get_value(changed, format_path(parts)) == value
    set_value(root, format_path(parts), value)
    assert root == changed
