"""The schema describes every key, and docs/scenarios.md is the reference generated from it."""

from __future__ import annotations

import json
from pathlib import Path

from iomsim.scenario.reference import COMMAND, build_reference, key_rows
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
                 "iom.offender_managers[i].caseload", "needs.<need area>.relapse_rate_per_year",
                 "<distribution>.mean"):
        assert path in paths
    assert all(r[1] for r in rows)


def test_the_reference_names_shipped_services_and_needs_with_sources():
    text = build_reference()
    assert "`temporary_accommodation`" in text
    assert all(f"`{n}`" in text for n in NEEDS)
    assert "GMCA Unit Cost Database" in text  # a source: note of a shipped value
    assert "calibrated: " in text


def test_docs_scenarios_md_is_current():
    current = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
    assert current == build_reference(), (
        f"docs/scenarios.md is stale; regenerate it with: {COMMAND}")
