"""The schema describes every key, and docs/scenarios.md is the reference generated from it."""

from __future__ import annotations

import json
from pathlib import Path

from iomsim.scenario.loader import load_scenario_text
from iomsim.scenario.reference import COMMAND, build_reference, key_rows, note_of
from iomsim.scenario.schema import NEEDS, ParameterDistribution, Scenario

DOC = Path(__file__).resolve().parents[1] / "docs" / "scenarios.md"


def undescribed(schema: dict) -> list[str]:
    """Every property of the schema and its $defs without a non-empty description."""
    missing = []
    for where, node in [("", schema)] + list(schema.get("$defs", {}).items()):
        for name, prop in node.get("properties", {}).items():
            if not str(prop.get("description", "")).strip():
                missing.append(f"{where or node.get('title')}.{name}")
    return missing


def test_every_scenario_key_has_a_description():
    assert undescribed(Scenario.model_json_schema()) == []


def test_every_sweep_parameter_key_has_a_description():
    assert undescribed(ParameterDistribution.model_json_schema()) == []


def test_the_schema_stays_json():
    schema = Scenario.model_json_schema()
    assert json.loads(json.dumps(schema)) == schema


def test_every_key_is_in_the_reference_with_a_meaning():
    rows = key_rows()
    paths = {r[0] for r in rows}
    for path in ("justice.arrest_cost", "services.<name>.cost_per_day",
                 "iom.offender_managers.<name>.caseload", "needs.<need area>.relapse_rate_per_year",
                 "<distribution>.mean"):
        assert path in paths
    assert all(r[1] for r in rows)


def test_the_reference_names_shipped_services_and_needs_with_sources():
    text = build_reference()
    assert "`temporary_accommodation`" in text
    assert all(f"`{n}`" in text for n in NEEDS)
    assert "GMCA Unit Cost Database" in text  # a source: note of a shipped value
    assert "calibrated: " in text


def test_a_note_follows_its_value():
    sussex = Path(__file__).resolve().parents[1] / "scenarios"
    kept = load_scenario_text("extends: [sussex-2013.yaml]\nname: x\n", folder=sussex)
    assert note_of(kept, "justice.arrest_cost").startswith("source: GMCA Unit Cost Database")
    replaced = load_scenario_text("extends: [sussex-2013.yaml]\nname: x\n"
                                  "justice: {arrest_cost: 700}\n", folder=sussex, file="mine.yaml")
    note = note_of(replaced, "justice.arrest_cost")
    # The library's source no longer describes the value that replaced it.
    assert note == "set in `mine.yaml` without a note", note
    noted = load_scenario_text("extends: [sussex-2013.yaml]\nname: x\njustice:\n"
                               "  arrest_cost: {value: 700, source: our force}\n", folder=sussex)
    assert note_of(noted, "justice.arrest_cost") == "source: our force"


def test_docs_scenarios_md_is_current():
    current = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
    assert current == build_reference(), (
        f"docs/scenarios.md is stale; regenerate it with: {COMMAND}")
