"""The scenario reference, docs/scenarios.md, generated from the schema and the shipped files.

Regenerate it with ``python -m iomsim.scenario.reference > docs/scenarios.md``; a test fails when
the file is stale. Every key comes from ``Scenario.model_json_schema()`` (meaning, type, unit,
default, allowed range); every shipped name and its source from loading the shipped scenarios,
whose loader keeps each value's ``source:`` / ``assumption:`` / ``calibrated:`` note.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from iomsim.scenario import paths as dotted_paths
from iomsim.scenario import schema as schema_module
from iomsim.scenario.loader import (LIBRARY_PACKAGE, load_scenario, origin_of,
                                    shipped_scenarios_folder)
from iomsim.scenario.schema import CORE_AGENCIES, NEEDS, STATUSES, VICTIMS, Scenario

COMMAND = "python -m iomsim.scenario.reference > docs/scenarios.md"
NOTES = ("source", "assumption", "calibrated", "note")


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """``node`` with a ``$ref`` replaced by its definition (the node's own keys kept)."""
    if "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[-1]]
        merged = {k: v for k, v in target.items() if k != "description"}
        merged.update({k: v for k, v in node.items() if k != "$ref"})
        return merged
    return node


def _options(node: dict[str, Any], defs: dict[str, Any]) -> list[dict[str, Any]]:
    """The non-null alternatives of a node (``X | None`` is an anyOf with null)."""
    alts = node.get("anyOf", [node])
    return [_resolve(a, defs) for a in alts if a.get("type") != "null"]


def _kind(node: dict[str, Any], defs: dict[str, Any]) -> str:
    """The type of a node in words, with its unit."""
    words = []
    for alt in _options(node, defs):
        if "enum" in alt:
            words.append("one of " + ", ".join(f"`{v}`" for v in alt["enum"]))
        elif "const" in alt:
            words.append(f"`{alt['const']}`")
        elif alt.get("type") == "array":
            words.append("list of " + _kind(alt.get("items", {}), defs))
        elif alt.get("type") == "object" and "properties" in alt:
            words.append(alt.get("title", "mapping"))
        elif alt.get("type") == "object":
            enum = tuple(_resolve(alt.get("propertyNames", {}), defs).get("enum", ()))
            key = {NEEDS: "need area", STATUSES: "status"}.get(enum, "name")
            words.append(f"mapping of {key} to " + _kind(alt.get("additionalProperties", {}),
                                                        defs))
        else:
            words.append(alt.get("type", "any"))
    text = " or ".join(words) or "any"
    if any(a.get("type") == "null" for a in node.get("anyOf", [])):
        text += " or null"
    unit = node.get("x-unit") or next((a.get("x-unit") for a in _options(node, defs)
                                       if a.get("x-unit")), None)
    return f"{text}, {unit}" if unit else text


def _range(node: dict[str, Any], defs: dict[str, Any]) -> str:
    """The allowed range of a node, from its constraints."""
    parts = []
    for alt in [node] + _options(node, defs):
        if alt.get("x-range"):
            parts.append(alt["x-range"])
        for key, sign in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="),
                          ("exclusiveMaximum", "<")):
            if key in alt:
                parts.append(f"{sign} {alt[key]:g}")
        if "pattern" in alt:
            parts.append(f"matches `{alt['pattern']}`")
    return ", ".join(dict.fromkeys(parts))


def _default(node: dict[str, Any], required: bool, model: Any, name: str) -> str:
    if required:
        return "required"
    if "default" in node:
        value = node["default"]
    else:  # a default_factory, which the JSON Schema leaves out
        value = model.model_fields[name].get_default(call_default_factory=True)
        if hasattr(value, "model_dump"):
            return "the defaults of its keys"
    if value is None:
        return "none"
    return "`" + json.dumps(value) + "`"


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def key_rows(schema: dict[str, Any] | None = None) -> list[tuple[str, str, str, str, str]]:
    """One row per key: (dotted path, meaning, type and unit, default, allowed range)."""
    schema = schema or Scenario.model_json_schema()
    defs = schema.get("$defs", {})
    rows: list[tuple[str, str, str, str, str]] = []

    def walk(node: dict[str, Any], path: str, depth: int) -> None:
        for name, prop in node.get("properties", {}).items():
            here = dotted_paths.join(path, name) if path else name
            needed = name in node.get("required", ())
            model = getattr(schema_module, node.get("title", "Scenario"), Scenario)
            rows.append((here, prop.get("description", ""), _kind(prop, defs),
                         _default(prop, needed, model, name),
                         _range(prop, defs)))
            if depth > 6:
                continue
            for alt in _options(prop, defs):
                if alt.get("title") in ("Distribution", "ParameterDistribution"):
                    continue  # every distribution has the same keys, listed once below
                if "properties" in alt:
                    walk(alt, here, depth + 1)
                elif alt.get("type") == "object":
                    value = _resolve(alt.get("additionalProperties", {}), defs)
                    enum = tuple(_resolve(alt.get("propertyNames", {}), defs).get("enum", ()))
                    key = "<need area>" if enum == NEEDS else "<name>"
                    if "properties" in value:
                        walk(value, f"{here}.{key}", depth + 1)
                elif alt.get("type") == "array":
                    item = _resolve(alt.get("items", {}), defs)
                    if "properties" in item:
                        walk(item, f"{here}[i]", depth + 1)

    walk(schema, "", 0)
    distribution = defs.get("Distribution")
    if distribution:
        walk(distribution, "<distribution>", 1)
    return rows


def shipped_scenarios() -> dict[str, Scenario]:
    """Every shipped scenario, loaded, by its path under the checkout (``scenarios/...``)."""
    folder = shipped_scenarios_folder()
    if folder is None:
        return {}
    return {f"scenarios/{p.name}": load_scenario(p) for p in sorted(folder.glob("*.yaml"))}


def _where(file: str) -> str:
    """A file an origin names, shown without the machine's folders."""
    path = Path(file)
    if path.parent.name == "library" and path.parent.parent.name == "scenario":
        return f"library `{path.stem}`"
    return f"`scenarios/{path.name}`" if path.parent.name == "scenarios" else f"`{path.name}`"


def _noted(scenario: Scenario, dotted: str) -> tuple[str, str | None]:
    """The provenance note of the value at ``dotted`` (or of its nearest enclosing key), as
    text, and the file the note is written in."""
    prov = scenario.meta.provenance
    path = dotted
    while path:
        keys = [k for k in NOTES if k in prov.get(path, {})]
        if keys:
            text = "; ".join(f"{k}: {prov[path][k]}" for k in keys)
            noted = scenario.meta.origins.get(dotted_paths.join(path, keys[0]))
            return text, (noted[0] if noted else None)
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""
    return "", None


def note_of(scenario: Scenario, dotted: str) -> str:
    """The note of the value at ``dotted``. A note written in one file for a single value that a
    later file replaced without a note of its own no longer explains it: then both files are
    named. (A note on a mapping stays with the mapping; its keys have rows of their own.)"""
    text, noted = _noted(scenario, dotted)
    try:
        value = dotted_paths.get_value(scenario, dotted)
    except (LookupError, ValueError):
        return text
    valued = origin_of(scenario, dotted)[0]
    single = not isinstance(value, (dict, list)) and not hasattr(value, "model_dump")
    if noted and noted != valued and single:
        return (f"set in {_where(valued)} without a note; {_where(noted)} gave the value it "
                f"replaced ({text})")
    if not text and valued and single:
        # A plain value over a noted one drops the note when the files are read (the loader).
        return f"set in {_where(valued)} without a note"
    return text


def _value(value: Any) -> str:
    if hasattr(value, "model_dump"):
        value = value.model_dump(exclude_defaults=True)
    if isinstance(value, float):
        return f"{value:g}"
    return json.dumps(value) if not isinstance(value, str) else value


def names_section(scenarios: dict[str, Scenario]) -> list[str]:
    """The names of every shipped need area, agency, offence type and service."""
    out = ["## Names", "",
           "Names a scenario uses as keys. Need areas and statuses are fixed; offence types, "
           "services and agencies are names of your choice (lower-case letters, digits and _); "
           "those below are the shipped ones.", "",
           "**Need areas** (OASys): " + ", ".join(f"`{n}`" for n in NEEDS) + ".", "",
           "**Agencies** the engine books to itself: " + ", ".join(f"`{a}`" for a in CORE_AGENCIES)
           + f"; `{VICTIMS}` is the cost of crime (per offence type), not an agency you may name."]
    used: dict[str, set[str]] = {}
    for name, s in scenarios.items():
        for agency in [svc.agency for svc in s.services.values()] \
                + [m.agency for m in s.iom.offender_managers.values()] \
                + [a.agency for a in s.iom.case_conferences.attendees] \
                + list(s.iom.co_location_cost_per_offender_year) \
                + [s.iom.enforcement.agency, s.iom.pathway_referrals.agency]:
            used.setdefault(agency, set()).add(name)
    extra = sorted(set(used) - set(CORE_AGENCIES))
    if extra:
        out[-1] += " Also named in shipped scenarios: " + ", ".join(f"`{a}`" for a in extra) + "."
    out += ["", "### Offence types", "",
            "| name | share | detection | cost of crime (£) | shipped in | where the share comes "
            "from |", "|---|---|---|---|---|---|"]
    seen: dict[str, list[str]] = {}
    first: dict[str, tuple[str, Scenario]] = {}
    for name, s in scenarios.items():
        for t in s.offending.offence_types:
            seen.setdefault(t, []).append(name)
            first.setdefault(t, (name, s))
    for t, (name, s) in first.items():
        o = s.offending.offence_types[t]
        out.append(f"| `{t}` | {o.share:g} | {o.detection_probability:g} | "
                   f"{o.cost_of_crime:,.2f} | {', '.join(f'`{n}`' for n in seen[t])} | "
                   f"{_cell(note_of(s, f'offending.offence_types.{t}.share'))} |")
    out += ["", "### Services", "",
            "Keys under `services.<name>`. The values shown are those of the first shipped "
            "scenario that has the service, at its price year.", "",
            "| name | agency | needs_any | uptake | £ per day | last set in | shipped in | "
            "where the cost comes from |", "|---|---|---|---|---|---|---|---|"]
    seen, first = {}, {}
    for name, s in scenarios.items():
        for svc in s.services:
            seen.setdefault(svc, []).append(name)
            first.setdefault(svc, (name, s))
    for svc, (name, s) in first.items():
        v = s.services[svc]
        per_day = v.cost_per_day + v.contacts_per_year * v.cost_per_contact / 365.25
        cost_key = "cost_per_day" if v.cost_per_day else "cost_per_contact"
        out.append(f"| `{svc}` | `{v.agency}` | {', '.join(v.needs_any) or 'any'} | "
                   f"{v.uptake:g} | {per_day:,.2f} | {_where(origin_of(s, f'services.{svc}')[0])} "
                   f"| {', '.join(f'`{n}`' for n in seen[svc])} | "
                   f"{_cell(note_of(s, f'services.{svc}.{cost_key}'))} |")
    return out


def sources_section(scenarios: dict[str, Scenario]) -> list[str]:
    """Every shipped value that carries a note, by the file it is written in: as that file
    resolves it when it is a shipped scenario, else as the first shipped scenario using it does."""
    by_file: dict[str, dict[str, tuple[str, str, bool]]] = {}
    for s in scenarios.values():
        for path, prov in s.meta.provenance.items():
            if not any(k in prov for k in NOTES):
                continue
            try:
                value = dotted_paths.get_value(s, path)
            except (LookupError, ValueError):
                continue
            noted = _noted(s, path)[1]
            where = _where(noted or origin_of(s, path)[0])
            own = _where(s.meta.file) == where
            rows = by_file.setdefault(where, {})
            if path not in rows or (own and not rows[path][2]):
                rows[path] = (_value(value), note_of(s, path), own)
    out = ["## Where shipped values come from", "",
           "Every shipped value written with a `source:`, `assumption:` or `calibrated:` note, by "
           "the file that writes the note (a library is used with `extends: [<name>]`). Values are "
           "as that scenario resolves them, or for a library as the first shipped scenario using "
           "it does (a mapping includes what that scenario changed in it); money is uprated to "
           "the scenario's price year.", ""]
    for where in sorted(by_file):
        out += [f"### {where}", "", "| key | value | note |", "|---|---|---|"]
        for path, (value, note, _) in sorted(by_file[where].items()):
            out.append(f"| `{path}` | {_cell(value)} | {_cell(note)} |")
        out.append("")
    return out


def build_reference() -> str:
    """The whole of docs/scenarios.md."""
    scenarios = shipped_scenarios()
    out = ["# Scenario reference", "",
           f"Generated from the schema and the shipped scenarios by `{COMMAND}`; edit "
           "`src/iomsim/scenario/schema.py` or the scenarios and regenerate rather than editing "
           "this file.", "",
           "Conventions: probabilities, shares and the discount rate are fractions (0.19, never "
           "19); money (£) is in pounds at the scenario's `price_year`; durations are in days; "
           "rates are per year. A key is named by its dotted path, as in `--set "
           "justice.arrest_cost=250`; `<name>` stands for a name of your choice (a service, an "
           "offence type, an offender-manager role) or a need area (`--set "
           "iom.offender_managers.probation.caseload=25`), and `[i]` for a list item by its index "
           "from 0 (`--set iom.case_conferences.attendees[0].hours=3`).", "",
           "Shipped scenarios: " + ", ".join(f"`{n}`" for n in scenarios) + ". Shipped "
           "parameter libraries (`extends: [<name>]`): see `src/iomsim/scenario/library/` "
           f"(package `{LIBRARY_PACKAGE}`).", "",
           "## Keys", "",
           "A `<distribution>` is any key whose type is a Distribution; its keys are listed last.",
           "", "| key | meaning | type, unit | default | allowed |", "|---|---|---|---|---|"]
    for path, meaning, kind, default, allowed in key_rows():
        out.append(f"| `{path}` | {_cell(meaning)} | {_cell(kind)} | {_cell(default)} | "
                   f"{_cell(allowed)} |")
    out.append("")
    out += names_section(scenarios)
    out.append("")
    out += sources_section(scenarios)
    return "\n".join(out).rstrip("\n") + "\n"


if __name__ == "__main__":
    import sys

    sys.stdout.write(build_reference())
