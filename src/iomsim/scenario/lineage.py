"""What a scenario says about itself, as opposed to what it inherits through ``extends:``.

A scenario that extends another and gives no ``name`` or ``description`` of its own inherits
the parent's text with every other value. Reported as is, a commissioner's variant would carry
the parent's title and description word for word, and a reader could not tell the two runs
apart; it is reported instead as "<file>, based on <parent name>".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from iomsim.errors import ScenarioError
from iomsim.scenario.schema import Scenario
from iomsim.scenario.yamlio import read_yaml_file

# Origins of values given on the command line or as overrides: the user's own words.
_OWN_ORIGINS = ("--set",)


def based_on(scenario: Scenario) -> dict[str, Any] | None:
    """``{"name", "file", "name_inherited", "description_inherited"}`` when the scenario's
    ``name`` or ``description`` comes from a scenario it extends (``name``: that scenario's
    name, ``file``: the file it came from), else None."""
    meta = scenario.meta
    if meta is None:
        return None
    inherited = {key: _inherited_from(meta.origins.get(key), meta.file)
                 for key in ("name", "description")}
    if inherited["description"] is not None and not scenario.description:
        inherited["description"] = None  # nothing inherited worth replacing
    if inherited["name"] is None and inherited["description"] is None:
        return None
    if inherited["name"] is not None:
        name, file = scenario.name, inherited["name"]
    else:
        file = inherited["description"]
        name = _name_in(file) or Path(file).stem
    return {"name": name, "file": file, "name_inherited": inherited["name"] is not None,
            "description_inherited": inherited["description"] is not None}


def _inherited_from(origin: tuple[str, int | None] | None, own_file: str) -> str | None:
    if origin is None:
        return None
    file = origin[0]
    return None if file == own_file or file in _OWN_ORIGINS else file


def _name_in(file: str) -> str | None:
    """The ``name`` a scenario file sets itself, if it sets one."""
    try:
        data = read_yaml_file(file).data
    except ScenarioError:
        return None
    name = data.get("name") if isinstance(data, dict) else None
    if isinstance(name, dict):
        name = name.get("value")
    return name if isinstance(name, str) else None


def title(name: str, file: str | None, lineage: Mapping[str, Any] | None) -> str:
    """How a run names its scenario: its own name, or "<file>, based on <parent name>"."""
    if not lineage or not lineage.get("name_inherited"):
        return name
    stem = Path(file).stem if file else "this scenario"
    return f"{stem}, based on {lineage['name']}"


def description(text: str, lineage: Mapping[str, Any] | None) -> str:
    """The scenario's own description, or a pointer to the scenario it was inherited from."""
    if not lineage or not lineage.get("description_inherited"):
        return text
    return f"Based on {lineage['name']} ({Path(lineage['file']).name}); this scenario has no " \
           "description of its own."


__all__ = ["based_on", "description", "title"]
