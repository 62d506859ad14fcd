"""Every number shipped in a parameter library or a scenario says where it came from.

A numeric leaf passes when it, or a mapping enclosing it, carries ``source:``, ``assumption:`` or
``calibrated:``; money (a schema field marked as money) must also have a ``price_year`` on
itself or an enclosing mapping, unless it is zero.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import iomsim

from iomsim.scenario.loader import PROVENANCE_KEYS, gdp_deflator, load_scenario, path_is_money
from iomsim.scenario.yamlio import join_path, read_yaml_file

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = Path(iomsim.__file__).resolve().parent / "scenario" / "library"
SCENARIOS = ROOT / "scenarios"
PROVENANCE = ("source", "assumption", "calibrated")
# Keys whose numbers are structure, not parameters.
STRUCTURAL = {"extends"}


def shipped_files() -> list[Path]:
    files = sorted(p for p in LIBRARY.glob("*.yaml") if p.name != "gdp_deflator.yaml")
    assert len(files) >= 10, f"expected the parameter library in {LIBRARY}"
    files += sorted(SCENARIOS.glob("*.yaml"))
    files += sorted(SCENARIOS.glob("national/*.yaml"))  # the national-scale example
    return files


def _walk(node, path: str, has_prov: bool, price_year: bool, out: list):
    if isinstance(node, dict):
        has_prov = has_prov or any(k in node for k in PROVENANCE)
        price_year = price_year or "price_year" in node
        for k, v in node.items():
            if k in PROVENANCE_KEYS or k in STRUCTURAL:
                continue
            child = path if k == "value" else join_path(path, k)
            _walk(v, child, has_prov, price_year, out)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            _walk(v, join_path(path, i), has_prov, price_year, out)
    elif isinstance(node, (int, float)) and not isinstance(node, bool):
        out.append((path, node, has_prov, price_year))


def numeric_leaves(file: Path):
    doc = read_yaml_file(file)
    out: list = []
    _walk(doc.data or {}, "", False, False, out)
    return out


@pytest.mark.parametrize("file", shipped_files(), ids=lambda p: p.name)
def test_every_number_has_provenance(file):
    missing = [path for path, _, prov, _ in numeric_leaves(file) if not prov]
    assert not missing, f"{file.name}: numbers without source/assumption/calibrated: {missing}"


@pytest.mark.parametrize("file", shipped_files(), ids=lambda p: p.name)
def test_money_has_a_price_year(file):
    missing = [path for path, value, _, py in numeric_leaves(file)
               if value != 0 and not py and path_is_money(_generic(path))]
    assert not missing, f"{file.name}: money without price_year: {missing}"


def _generic(path: str) -> str:
    return path


def test_shipped_scenarios_load():
    for file in sorted(SCENARIOS.glob("*.yaml")) + sorted(SCENARIOS.glob("national/*.yaml")):
        load_scenario(file)


def test_gdp_deflator_values_have_a_source_or_a_flag():
    doc = read_yaml_file(LIBRARY / "gdp_deflator.yaml")
    assert "source" in doc.data
    for year, entry in doc.data["gdp_deflator"].items():
        assert isinstance(entry, dict) and ("source" in entry or "note" in entry), year
    index = gdp_deflator()
    assert index["2011-12"] > index["2003-04"]
    years = sorted(index)
    assert all(index[b] > 0 for b in years)


def test_the_check_catches_a_bare_number(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("justice:\n  arrest_cost: 593\n  charge_probability: {value: 0.7, assumption: x}\n")
    leaves = numeric_leaves(f)
    bare = [p for p, _, prov, _ in leaves if not prov]
    assert bare == ["justice.arrest_cost"]
