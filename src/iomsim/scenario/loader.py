"""Load a scenario: safe YAML, ``extends:``, provenance, uprating, overrides, validation.

A scenario file is data. It may ``extends:`` other scenarios (paths relative to it) or parameter
libraries shipped in the package (by bare name), then override any dotted path. A path in
``extends:`` must name a ``.yaml`` file inside the top scenario's folder tree, the shipped
``scenarios/`` folder, or a folder the user allows (``IOMSIM_EXTENDS_PATH`` or ``extends_path=``),
so that a scenario cannot make iomsim read (and quote in its errors) any file on the machine.
Each file is read once per load, however many times the tree names it. Any mapping may
carry provenance keys (``source``, ``assumption``, ``calibrated``, ``note``, ``unit``,
``price_year``); a mapping ``{value: ..., <provenance>}`` stands for its value, and may say how
uncertain the value is under ``uncertainty:`` (read into ``meta.uncertainty`` for a PSA to
draw; see :mod:`iomsim.scenario.uncertainty`). Money with a
``price_year`` other than the scenario's is uprated with the GDP deflator shipped in the package.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Mapping

from iomsim.errors import OverrideError, ScenarioError
from iomsim.scenario import paths as dotted_paths
from iomsim.scenario.paths import EXAMPLE, PathLookupError, PathSyntaxError, SchemaPaths, join
from iomsim.scenario.schema import OGRS_CEILING, Scenario, unreachable_ogrs
from iomsim.scenario.uncertainty import UNCERTAINTY, allowed_range, check_uncertainty
from iomsim.scenario.validation import short, validate_data
from iomsim.scenario.yamlio import YamlDocument, read_yaml_file, read_yaml_text

PROVENANCE_KEYS = frozenset({"source", "assumption", "calibrated", "note", "unit", "price_year"})
# The keys of a value leaf {value: ..., <provenance>, uncertainty: {...}}.
LEAF_KEYS = PROVENANCE_KEYS | {"value", UNCERTAINTY}
LIBRARY_PACKAGE = "iomsim.scenario.library"
# The paths a scenario has (built from the schema on first use).
SCENARIO_PATHS = SchemaPaths(Scenario.model_json_schema)
# Folders (separated by os.pathsep) from which extends: may read besides the scenario's own.
EXTENDS_PATH_ENV = "IOMSIM_EXTENDS_PATH"
# Files in one chain of extends: (each file's parent, its parent, ...). Deeper chains are not
# written by hand; the limit keeps a generated chain from exhausting the stack.
MAX_EXTENDS_DEPTH = 32
# The shipped scenarios: in the package as shipped_scenarios (a link to the repository's
# scenarios/ folder, whose files an installed package holds as copies; pyproject.toml).
_SHIPPED = Path(__file__).resolve().parents[1] / "shipped_scenarios"
_CHECKOUT = Path(__file__).resolve().parents[3]


def shipped_scenarios_folder() -> Path | None:
    """The folder of the shipped scenarios (``scenarios/`` in the repository), if there is one."""
    for folder in (_SHIPPED, _CHECKOUT / "scenarios"):
        try:
            if folder.is_dir() and any(folder.glob("*.yaml")):
                return folder.resolve()
        except OSError:
            continue
    return None


def shipped_scenario_names() -> list[str]:
    """Names of the shipped scenarios (``sussex-2013``, ...), by which any command finds them."""
    folder = shipped_scenarios_folder()
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder is not None else []


def shipped_scenario(name: str | Path) -> Path | None:
    """The shipped scenario a bare name (``sussex-2013`` or ``sussex-2013.yaml``) names, or
    None: a name with a folder in it, or one that is not shipped."""
    text = str(name)
    if not text or "/" in text or "\\" in text or text in (".", ".."):
        return None
    folder = shipped_scenarios_folder()
    if folder is None:
        return None
    stem = text[:-5] if text.endswith(".yaml") else text
    path = folder / f"{stem}.yaml"
    return path if stem in shipped_scenario_names() and path.is_file() else None


def scenario_path(path: str | Path) -> Path:
    """Where a scenario given to a command is: the file, if it exists; else the shipped scenario
    of that name (``iomsim run sussex-2013`` from any folder); else the path as given (reading
    it then says what is wrong)."""
    given = Path(path)
    if _exists(given):
        return given
    return shipped_scenario(path) or given


@dataclass
class _Load:
    """One load's state: where extends: may read, and each file resolved so far."""

    roots: tuple[Path, ...]
    done: dict[Path, tuple[Any, dict, dict]] = field(default_factory=dict)
    # what each file extends (resolved paths), and the top file's own keys and their lines
    parents: dict[Path, list[Path]] = field(default_factory=dict)
    top_lines: dict[str, int] = field(default_factory=dict)


def extends_roots(top_folder: Path, extra: Iterable[str | Path] | None = None
                  ) -> tuple[Path, ...]:
    """The folders whose files (and subfolders') ``extends:`` may name: the top scenario's
    folder, the shipped scenarios, the folders in ``IOMSIM_EXTENDS_PATH`` and ``extra``."""
    folders: list[str | Path] = [top_folder]
    shipped = shipped_scenarios_folder()
    if shipped is not None:
        folders.append(shipped)
    folders += [f for f in os.environ.get(EXTENDS_PATH_ENV, "").split(os.pathsep) if f.strip()]
    folders += list(extra or ())
    roots = []
    for folder in folders:
        try:
            roots.append(Path(folder).resolve())
        except (OSError, ValueError):
            continue
    return tuple(roots)


@dataclass
class ScenarioMeta:
    """What the loader knows about a scenario beyond its validated values."""

    file: str
    folder: Path
    resolved: dict[str, Any]
    provenance: dict[str, dict[str, Any]] = field(default_factory=dict)
    origins: dict[str, tuple[str, int | None]] = field(default_factory=dict)
    overrides: dict[str, Any] = field(default_factory=dict)
    # what each file of the extends: tree extends, and the lines of the top file's own keys
    parents: dict[Path, list[Path]] = field(default_factory=dict)
    top_lines: dict[str, int] = field(default_factory=dict)
    # Each leaf's uncertainty (``{value: ..., uncertainty: {...}}``), by dotted path: the
    # distribution's keys (money uprated to the scenario's price year), its provenance and
    # ``integer``. Not part of the resolved scenario: a run uses the value.
    uncertainty: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def hash(self) -> str:
        return scenario_hash(self.resolved)


def scenario_hash(resolved: Mapping[str, Any]) -> str:
    """SHA-256 of the resolved scenario. The order of keys counts: the engine gives each
    offence type, service and need its draws in the order the scenario lists them, so the same
    values in another order give other (equally valid) numbers, and must not share a hash."""
    text = json.dumps(resolved, sort_keys=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def library_names() -> list[str]:
    """Names of the parameter libraries shipped in the package."""
    root = resources.files(LIBRARY_PACKAGE)
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".yaml"))


def load_scenario(path: str | Path, overrides: Mapping[str, Any] | Iterable[str] | None = None,
                  *, extends_path: Iterable[str | Path] | None = None) -> Scenario:
    """Read, resolve and validate a scenario file.

    ``overrides`` maps dotted paths to values (or is a list of ``path=value`` strings as given
    to ``--set``); all of them are checked before any is applied. ``extends_path``: folders
    (beyond the scenario's own folder tree, the shipped scenarios and ``IOMSIM_EXTENDS_PATH``)
    whose ``.yaml`` files ``extends:`` may name.
    """
    path = scenario_path(path)
    if not _exists(path) and path.parent == Path(".") and shipped_scenario_names():
        close = dotted_paths.close_match(path.stem, shipped_scenario_names())
        raise ScenarioError("file not found, and no shipped scenario has this name"
                            + (dotted_paths.did_you_mean(close) if close else
                               f" (shipped: {', '.join(shipped_scenario_names())})"), file=path)
    load = _Load(extends_roots(_folder_of(path), extends_path))
    merged, origins, provenance = _resolve(path, (), load)
    if not isinstance(merged, dict):
        raise ScenarioError("expected a mapping of scenario keys at the top level",
                            file=path, line=1)
    meta = ScenarioMeta(file=str(path), folder=path.resolve().parent, resolved={},
                        provenance=provenance, origins=origins, parents=load.parents,
                        top_lines=load.top_lines)
    data = _finish(merged, meta)
    meta.resolved = data
    scenario = _validate(data, meta)
    if overrides:
        scenario = apply_overrides(scenario, overrides)
    return scenario


def load_scenario_text(text: str, *, file: str = "<string>", folder: str | Path = ".",
                       extends_path: Iterable[str | Path] | None = None) -> Scenario:
    """Validate a scenario given as YAML text (``extends:`` resolved relative to ``folder``,
    which is the folder tree it may read from, as a file's own folder is)."""
    doc = read_yaml_text(text, file=file)
    load = _Load(extends_roots(_folder_of(Path(folder) / "_"), extends_path))
    merged, origins, provenance = _resolve_doc(doc, Path(folder) / "_", (), load)
    if not isinstance(merged, dict):
        raise ScenarioError("expected a mapping of scenario keys at the top level", file=file)
    meta = ScenarioMeta(file=file, folder=Path(folder).resolve(), resolved={},
                        provenance=provenance, origins=origins, parents=load.parents,
                        top_lines=load.top_lines)
    meta.resolved = _finish(merged, meta)
    return _validate(meta.resolved, meta)


def apply_overrides(scenario: Scenario, overrides: Mapping[str, Any] | Iterable[str]) -> Scenario:
    """A new scenario with dotted-path overrides applied; the input is unchanged.

    Every path must name a parameter the schema has; the whole set is validated together, so a
    bad override leaves nothing half-applied.
    """
    meta: ScenarioMeta = scenario.meta
    pairs = parse_overrides(overrides)
    data = copy.deepcopy(meta.resolved)
    origins = dict(meta.origins)
    for dotted, value in pairs.items():
        try:
            dotted_paths.parse(dotted)
        except PathSyntaxError as exc:
            raise OverrideError(f"{exc}; expected a dotted path such as {EXAMPLE}", file="--set",
                                path=dotted) from None
        if dotted == "price_year":
            # Every money value was uprated to the price year when the files were read: an
            # override would relabel the figures without repricing them.
            raise OverrideError("the price year cannot be overridden: money is uprated to it "
                                "when the scenario's files are read; write price_year: in a "
                                "scenario file that extends this one", file="--set",
                                path=dotted)
        if not schema_has_path(dotted):
            raise OverrideError(indexed_names(data, dotted)
                                or f"no parameter at this path{suggest_path(dotted, scenario)}",
                                file="--set", path=dotted)
        unknown = unknown_item(data, dotted, value)
        if unknown is not None:
            raise OverrideError(unknown, file="--set", path=dotted)
        try:
            dotted_paths.set_value(data, dotted, value)
        except PathLookupError as exc:
            raise OverrideError(exc.message, file="--set", path=dotted) from None
        origins[dotted] = ("--set", None)
    provenance = dict(meta.provenance)
    for dotted in pairs:  # an override is shown as the assumption it is, not the file's source
        for path in [p for p in provenance if p == dotted or dotted_paths.is_within(p, dotted)]:
            del provenance[path]
        provenance[dotted] = dict(OVERRIDE_PROVENANCE)
    # An overridden value is no longer the one its file's uncertainty describes.
    uncertain = {path: spec for path, spec in meta.uncertainty.items()
                 if not any(path == d or dotted_paths.is_within(path, d) for d in pairs)}
    new_meta = ScenarioMeta(file=meta.file, folder=meta.folder, resolved=data,
                            provenance=provenance, origins=origins,
                            overrides={**meta.overrides, **pairs}, parents=meta.parents,
                            top_lines=meta.top_lines, uncertainty=uncertain)
    return _validate(data, new_meta, override_paths=set(pairs))


def indexed_names(data: Mapping[str, Any], dotted: str) -> str | None:
    """Why a path that gives an index (``[0]``) to a mapping whose items have names
    (``iom.offender_managers[0].caseload``) names nothing, with the path by name; else None."""
    parts = dotted_paths.parse(dotted)
    for depth, part in enumerate(parts):
        if not isinstance(part, int):
            continue
        schema = SCENARIO_PATHS.node(parts[:depth]) or {}
        if schema.get("type") != "object" or not isinstance(schema.get("additionalProperties"),
                                                             dict):
            return None
        try:
            node = dotted_paths.get_value(data, parts[:depth])
        except dotted_paths.PathLookupError:
            node = {}
        names = [str(k) for k in node] if isinstance(node, Mapping) else []
        where = dotted_paths.format_path(parts[:depth])
        example = dotted_paths.format_path([*parts[:depth], names[0] if names else "<name>",
                                            *parts[depth + 1:]])
        return (f"{where} names its items, not numbers them: write {example} (it has: "
                f"{', '.join(names) or 'none'})")
    return None


def unknown_item(data: Mapping[str, Any], dotted: str, value: Any = None) -> str | None:
    """Why an override would set a field of an item that the scenario does not have, in a
    mapping whose items the user names (services, offence types): ``services.housing.cost_per_day``
    when there is no service ``housing`` would otherwise start a new service, half described,
    and fail elsewhere. None when the path is fine: the item exists, or the override gives a
    whole new item (``services.housing`` set to a mapping), or the names are a fixed list."""
    parts = dotted_paths.parse(dotted)
    node: Any = data
    # A whole new item must be a mapping: services.housing=20 is a field of an unknown item too.
    last = len(parts) if isinstance(value, Mapping) else len(parts) + 1
    for depth, part in enumerate(parts[:last - 1]):
        if isinstance(node, Mapping) and isinstance(part, str) and part not in node:
            schema = SCENARIO_PATHS.node(parts[:depth]) or {}
            items = schema.get("additionalProperties")
            named_freely = (isinstance(items, dict) and "properties" not in schema
                            and "enum" not in schema.get("propertyNames", {}))
            if named_freely and (SCENARIO_PATHS.node(parts[:depth + 1]) or {}).get("properties"):
                where = dotted_paths.format_path(parts[:depth]) or "the scenario"
                known = ", ".join(sorted(map(str, node))) or "none"
                return (f"{where} has no item named {part!r} (it has: {known}); to add one, set "
                        f"{dotted_paths.format_path(parts[:depth + 1])} to a mapping with every "
                        "required key")
            return None
        if isinstance(node, Mapping) and isinstance(part, str):
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            return None
    return None


def parse_overrides(overrides: Mapping[str, Any] | Iterable[str]) -> dict[str, Any]:
    if isinstance(overrides, Mapping):
        return {str(k): v for k, v in overrides.items()}
    pairs: dict[str, Any] = {}
    if isinstance(overrides, (str, bytes)):
        overrides = [overrides]
    for item in overrides:
        if not isinstance(item, str):
            raise OverrideError(f"expected path=value text, got {short(item)}", file="--set")
        if "=" not in item:
            raise OverrideError(f"expected path=value, got {item!r}", file="--set")
        dotted, text = item.split("=", 1)
        dotted = dotted.strip()
        if not dotted:
            raise OverrideError(f"expected path=value, got {item!r}", file="--set")
        if not text.strip():
            value = None
        else:
            # The same safe reader as for files: plain data only, aliases on a budget.
            try:
                value = read_yaml_text(text, file="--set").data
            except ScenarioError as exc:
                raise OverrideError(f"cannot read value {short(text)}: {exc.message}",
                                    file="--set", path=dotted) from None
        pairs[dotted] = value
    return pairs


# --------------------------------------------------------------------------- resolution

def _folder_of(path: Path) -> Path:
    try:
        return path.resolve().parent
    except (OSError, ValueError):
        return path.parent


def _resolve(path: Path, stack: tuple[Path, ...], load: _Load):
    key = _key(path)
    if key not in stack and key in load.done:
        # A file named again (a diamond of extends:) is the same data: resolved once per load,
        # so that nested diamonds cost one read per file rather than one per path to it.
        return load.done[key]
    doc = read_yaml_file(path)
    resolved = _resolve_doc(doc, path, stack, load)
    load.done[key] = resolved
    return resolved


def _key(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, ValueError):
        return path


def _resolve_doc(doc: YamlDocument, path: Path, stack: tuple[Path, ...], load: _Load):
    key = _key(path)
    if key in stack:
        chain = " -> ".join(p.name for p in (*stack, key))
        raise ScenarioError(f"circular extends: ({chain})", file=doc.file,
                            line=doc.line_of("extends"), path="extends")
    if len(stack) >= MAX_EXTENDS_DEPTH:
        raise ScenarioError(f"the chain of files from {stack[0].name} is more than "
                            f"{MAX_EXTENDS_DEPTH} files deep; expected a short chain of "
                            "scenarios and libraries", file=doc.file,
                            line=doc.line_of("extends"), path="extends")
    data = doc.data
    if data is None:
        raise ScenarioError("the file is empty; expected a mapping of scenario keys "
                            "(name, price_year, cohort, ...)", file=doc.file)
    if not isinstance(data, dict):
        raise ScenarioError(f"expected a mapping at the top level, got {type(data).__name__}",
                            file=doc.file, line=1)
    data = dict(data)
    parents = data.pop("extends", None)
    if parents is None:
        parents = []
    elif isinstance(parents, str):
        parents = [parents]
    elif not isinstance(parents, list) or not all(isinstance(p, str) for p in parents):
        raise ScenarioError("expected a name or a list of names of scenarios or libraries",
                            file=doc.file, line=doc.line_of("extends"), path="extends")
    merged: dict[str, Any] = {}
    origins: dict[str, tuple[str, int | None]] = {}
    provenance: dict[str, dict[str, Any]] = {}
    if not stack:
        load.top_lines = dict(doc.lines)
    load.parents[key] = []
    for i, parent in enumerate(parents):
        where = join("extends", i) if len(parents) > 1 else "extends"
        parent_path = _find_parent(parent, path, doc, where, load)
        load.parents[key].append(_key(parent_path))
        p_data, p_origins, p_prov = _resolve(parent_path, (*stack, key), load)
        merged = _merge(merged, p_data)
        origins.update(p_origins)
        provenance.update(p_prov)
    own_origins = {p: (doc.file, line) for p, line in doc.lines.items() if not p.startswith("extends")}
    own_prov = _collect_provenance(data, "")
    merged = _merge(merged, data)
    origins.update(own_origins)
    # A plain value over an inherited one does not keep the inherited value's source.
    for leaf in _plain_leaves(data, ""):
        if leaf in provenance and leaf not in own_prov:
            del provenance[leaf]
    provenance.update(own_prov)
    return merged, origins, provenance


def _plain_leaves(node: Any, path: str):
    """Paths of the values a file gives without provenance (not ``{value: ..., source: ...}``)."""
    if isinstance(node, dict):
        if "value" in node and set(node) <= LEAF_KEYS:
            return
        for k, v in node.items():
            if k in PROVENANCE_KEYS:
                continue
            yield from _plain_leaves(v, join(path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _plain_leaves(v, join(path, i))
    elif path:
        yield path


def _find_parent(name: str, path: Path, doc: YamlDocument, where: str, load: _Load) -> Path:
    def refuse(message: str) -> ScenarioError:
        return ScenarioError(message, file=doc.file, line=doc.line_of(where), path=where)

    shown = short(name)
    if name.endswith((".yaml", ".yml")) or "/" in name or "\\" in name:
        candidate = (path.parent / name)
        resolved = _key(candidate)
        if not any(resolved.is_relative_to(root) for root in load.roots):
            raise refuse(f"extends {shown}, outside the scenario's folder tree; extends: may "
                         "name a library, a shipped scenario or a .yaml file under the top "
                         f"scenario's folder (add the folder to {EXTENDS_PATH_ENV} to allow "
                         "another on purpose)")
        if not name.endswith((".yaml", ".yml")):
            raise refuse(f"extends {shown}, which is not a .yaml file; expected a scenario "
                         "(.yaml) or the bare name of a library")
        if not _is_file(candidate):
            if _exists(candidate):
                raise refuse(f"extends {shown}, which is not a regular file; expected a "
                             "scenario (.yaml)")
            shipped = shipped_scenario(name)  # a shipped scenario by its file name
            if shipped is not None:
                return shipped
            raise refuse(f"extends a file that does not exist: {shown[1:-1]}"
                         f"{_shipped_hint(name)}")
        return candidate
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,100}", name):
        raise refuse(f"{shown} is not the name of a parameter library or a .yaml file")
    lib = resources.files(LIBRARY_PACKAGE) / f"{name}.yaml"
    if not _is_file(lib):
        shipped = shipped_scenario(name)  # a shipped scenario by name: extends: [sussex-2013]
        if shipped is not None:
            return shipped
        names = library_names() + shipped_scenario_names()
        close = dotted_paths.close_match(name, names)
        hint = dotted_paths.did_you_mean(close) if close else \
            f"; shipped libraries: {', '.join(library_names())}; shipped scenarios: " \
            f"{', '.join(shipped_scenario_names()) or 'none'}"
        raise refuse(f"no parameter library or shipped scenario named {shown}{hint}")
    return Path(str(lib))


def locate_parent(name: str, path: Path) -> Path | None:
    """The file an ``extends:`` name in the scenario at ``path`` reads, as the loader finds it
    (a path relative to the file, else a shipped scenario of that file name; a bare name: a
    library, else a shipped scenario), or None when there is none; no other checks."""
    if name.endswith((".yaml", ".yml")) or "/" in name or "\\" in name:
        candidate = path.parent / name
        return candidate if _is_file(candidate) else shipped_scenario(name)
    lib = resources.files(LIBRARY_PACKAGE) / f"{name}.yaml"
    return Path(str(lib)) if _is_file(lib) else shipped_scenario(name)


def _shipped_hint(name: str) -> str:
    close = dotted_paths.close_match(Path(name).stem, shipped_scenario_names())
    return f" (the shipped scenario {close!r} is named without a folder: {close})" \
        if close and ("/" in name or "\\" in name) else ""


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


def _is_file(path: Any) -> bool:
    """``path.is_file()``, False for names the system cannot even look up (too long, NUL)."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def _merge(base: Any, top: Any) -> Any:
    # A distribution is one value: a child that gives one replaces its parent's, so that no
    # parameter of the parent's distribution type survives into the child's.
    if isinstance(base, dict) and isinstance(top, dict) and not _is_value_leaf(top) \
            and "distribution" not in top:
        out = dict(base)
        for k, v in top.items():
            out[k] = _merge(base[k], v) if k in base else copy.deepcopy(v)
        return out
    return copy.deepcopy(top)


def _is_value_leaf(node: Any) -> bool:
    return isinstance(node, dict) and "value" in node and set(node) <= LEAF_KEYS


def _collect_provenance(node: Any, path: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    if isinstance(node, dict):
        meta = {k: node[k] for k in PROVENANCE_KEYS if k in node and path}
        if meta:
            out[path] = meta
        for k, v in node.items():
            if k in PROVENANCE_KEYS and path:
                continue
            if k in ("value", UNCERTAINTY) and _is_value_leaf(node):
                continue
            out.update(_collect_provenance(v, join(path, k)))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.update(_collect_provenance(v, join(path, i)))
    return out


def _finish(merged: dict[str, Any], meta: ScenarioMeta) -> dict[str, Any]:
    """Strip provenance and uprate money to the scenario's price year."""
    target = merged.get("price_year")
    if isinstance(target, dict) and _is_value_leaf(target):
        target = target["value"]
    raw: dict[str, tuple[Any, Any, Any]] = {}
    data = _strip(merged, "", None, target, meta, raw)
    meta.uncertainty = _uncertainties(raw, target, meta)
    return data


def _uncertainties(raw: Mapping[str, tuple[Any, Any, Any]], target: Any, meta: ScenarioMeta
                   ) -> dict[str, dict[str, Any]]:
    """Each leaf's ``uncertainty:`` checked (see :mod:`iomsim.scenario.uncertainty`), its money
    uprated from the leaf's price year to the scenario's."""
    out: dict[str, dict[str, Any]] = {}
    for path, (spec, value, price_year) in raw.items():
        node = schema_node(path) or {}
        money = bool(node.get("x-money"))
        factor = 1.0
        if money and price_year is not None and target is not None \
                and str(price_year) != str(target):
            factor = uprating_factor(str(price_year), str(target), meta, path)
        out[path] = check_uncertainty(path, spec, value, money=money,
                                      integer=node.get("type") == "integer", factor=factor,
                                      origin=lambda dotted: _origin_of(dotted, meta),
                                      allowed=allowed_range(node.get("x-range")))
    return out


def _strip(node: Any, path: str, price_year: Any, target: Any, meta: ScenarioMeta,
           raw: dict[str, tuple[Any, Any, Any]] | None = None) -> Any:
    if isinstance(node, dict):
        if path and "price_year" in node:
            price_year = node["price_year"]
        if _is_value_leaf(node):
            if UNCERTAINTY in node and raw is not None:
                raw[path] = (node[UNCERTAINTY], node["value"], price_year)
            return _strip(node["value"], path, price_year, target, meta, raw)
        if path and UNCERTAINTY in node and "value" not in node and set(node) <= LEAF_KEYS:
            file, line = _origin_of(join(path, UNCERTAINTY), meta)
            raise ScenarioError("uncertainty needs the value it describes: write {value: ..., "
                                "source: ..., uncertainty: {distribution: ...}}", file=file,
                                line=line, path=join(path, UNCERTAINTY))
        if path and UNCERTAINTY in node and "distribution" in node:
            file, line = _origin_of(join(path, UNCERTAINTY), meta)
            raise ScenarioError("a distribution here is a spread across offenders and takes no "
                                "uncertainty: key; give the uncertainty on one of its numbers, "
                                "e.g. mean: {value: 30, uncertainty: {distribution: normal, "
                                "mean: 30, sd: 3, source: ...}}", file=file, line=line,
                                path=join(path, UNCERTAINTY))
        out = {}
        for k, v in node.items():
            if path and k in PROVENANCE_KEYS:
                continue
            out[k] = _strip(v, join(path, k), price_year, target, meta, raw)
        return out
    if isinstance(node, list):
        return [_strip(v, join(path, i), price_year, target, meta, raw)
                for i, v in enumerate(node)]
    if price_year is not None and target is not None and isinstance(node, (int, float)) \
            and not isinstance(node, bool) and path_is_money(path):
        if str(price_year) != str(target):
            factor = uprating_factor(str(price_year), str(target), meta, path)
            return float(node) * factor
    return node


def uprating_factor(from_year: str, to_year: str, meta: ScenarioMeta | None = None,
                    path: str | None = None) -> float:
    """GDP deflator ratio that takes money from ``from_year`` prices to ``to_year`` prices."""
    index = gdp_deflator()
    for year in (from_year, to_year):
        if year not in index:
            # The scenario's own price year is at fault when it is the one missing.
            where = "price_year" if year == to_year and meta is not None else path
            origin = _origin_of(where or "", meta) if meta else (None, None)
            form = "" if re.fullmatch(r"\d{4}-\d{2}", year) else \
                "; expected a financial year such as 2011-12"
            raise ScenarioError(f"no GDP deflator for price year {year!r}{form}; the shipped "
                                f"index covers {min(index)} to {max(index)}", file=origin[0],
                                line=origin[1], path=where)
    return index[to_year] / index[from_year]


@lru_cache(maxsize=1)
def gdp_deflator() -> dict[str, float]:
    text = (resources.files(LIBRARY_PACKAGE) / "gdp_deflator.yaml").read_text("utf-8")
    doc = read_yaml_text(text, file="gdp_deflator.yaml")
    series = doc.data["gdp_deflator"]
    return {str(k): float(v["value"] if isinstance(v, dict) else v) for k, v in series.items()}


# --------------------------------------------------------------------------- schema paths

def schema_node(dotted: str) -> dict[str, Any] | None:
    """The JSON-schema node that a dotted path names, or None if the schema has no such path."""
    return SCENARIO_PATHS.node(dotted)


def schema_has_path(dotted: str) -> bool:
    return SCENARIO_PATHS.has(dotted)


def allowed_keys(dotted_parent: str) -> list[str]:
    return SCENARIO_PATHS.keys(dotted_parent)


def path_is_money(dotted: str) -> bool:
    """True when the schema says the value at this path is money (uprated by price year)."""
    node = schema_node(dotted)
    return bool(node and node.get("x-money"))


def suggest_path(dotted: str, scenario: Scenario | None = None) -> str:
    """``; did you mean 'x'?`` naming the scenario path closest to ``dotted``, or nothing.
    With ``scenario``, a scale knob named by its agency or service alone (``scale.housing``)
    is pointed to the mapping it belongs in: those keys are the scenario's names, which the
    schema cannot list."""
    meant = SCENARIO_PATHS.suggest(dotted)
    parts = dotted.split(".")
    if meant is None and scenario is not None and len(parts) == 2 and parts[0] == SCALE:
        if parts[1] in scenario.paying_agencies():
            meant = f"{SCALE}.agency_costs.{parts[1]}"
        elif parts[1] in scenario.services:
            meant = f"{SCALE}.service_capacity.{parts[1]}"
    return dotted_paths.did_you_mean(meant)


# --------------------------------------------------------------------------- validation

SCALE = "scale"
PROVENANCE_KINDS = ("source", "assumption", "calibrated")
OVERRIDE_PROVENANCE = {"assumption": "given as an override (--set, or a point of a sweep)"}


def _check_scale_provenance(data: Mapping[str, Any], meta: ScenarioMeta) -> None:
    """A scale knob in a file must say why (source:, assumption: or calibrated:, on itself or
    an enclosing mapping): it changes every value it scales away from that value's source."""
    def sourced(path: str) -> bool:
        while path:
            if any((meta.provenance.get(path) or {}).get(k) for k in PROVENANCE_KINDS):
                return True
            cut = max(path.rfind("."), path.rfind("["))
            path = path[:cut] if cut > 0 else ""
        return False

    def walk(node: Any, path: str) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                walk(value, join(path, str(key)))
            return
        file, line = _origin_of(path, meta)
        if file != "--set" and not sourced(path):
            raise ScenarioError(f"a scale knob needs a reason: write it as {{value: {node!r}, "
                                "source: ...} or {value: ..., assumption: ...} (it changes "
                                "every value it scales away from that value's source)",
                                file=file, line=line, path=path)

    if isinstance(data.get(SCALE), Mapping):
        walk(data[SCALE], SCALE)


def _shipped(file: str) -> bool:
    """Whether a file is one of the package's: a parameter library or a shipped scenario."""
    real = _key(Path(file))
    folders = [_key(Path(str(resources.files(LIBRARY_PACKAGE))))]
    shipped = shipped_scenarios_folder()
    if shipped is not None:
        folders.append(shipped)
    return any(real.parent == folder for folder in folders)


def _chain(meta: ScenarioMeta, target: Path) -> list[Path]:
    """The files of the extends: tree on the way from the top file to ``target``: the files in
    between and ``target`` itself, in order (the top file not included)."""
    top = _key(Path(meta.file))
    queue: list[list[Path]] = [[top]]
    seen = {top}
    while queue:
        route = queue.pop(0)
        for parent in meta.parents.get(route[-1], []):
            if parent == target:
                return route[1:] + [parent]
            if parent not in seen:
                seen.add(parent)
                queue.append(route + [parent])
    return [target]


def _display(path: Path) -> str:
    """A file of the extends: tree as a scenario names it: a library by its bare name."""
    library = _key(Path(str(resources.files(LIBRARY_PACKAGE))))
    return path.stem if path.parent == library else path.name


def in_users_file(error: ScenarioError, meta: ScenarioMeta) -> ScenarioError:
    """An error at a value inherited from a shipped file (a library or a shipped scenario) as
    one at the user's file, which is where to change it: the line of the user's nearest key
    (none if the user's file does not write this part), and the value's place and the chain of
    extends: that led there, e.g. ``in my.yaml (extends sussex-2013.yaml > iom-sussex)``."""
    top = meta.file
    more = [in_users_file(m, meta) for m in error.more]
    if not error.file or error.file in ("--set", top) or not _shipped(error.file) \
            or _key(Path(error.file)) == _key(Path(top)):
        return type(error)(error.message, file=error.file, line=error.line, path=error.path,
                           more=more) if error.more else error
    chain = " > ".join(_display(p) for p in _chain(meta, _key(Path(error.file))))
    line = None
    dotted = error.path or ""
    while dotted:
        if dotted in meta.top_lines:
            line = meta.top_lines[dotted]
            break
        cut = max(dotted.rfind("."), dotted.rfind("["))
        dotted = dotted[:cut] if cut > 0 else ""
    where = f"{_display(_key(Path(error.file)))}:{error.line}" if error.line else \
        _display(_key(Path(error.file)))
    return type(error)(f"{error.message} (the value is in {where}, in {Path(top).name} "
                       f"(extends {chain}))", file=top, line=line, path=error.path,
                       more=more)


def _validate(data: dict[str, Any], meta: ScenarioMeta,
              override_paths: set[str] | None = None) -> Scenario:
    _check_scale_provenance(data, meta)
    try:
        scenario = validate_data(Scenario, data, paths=SCENARIO_PATHS, origin=lambda dotted:
                                 _attributed_origin(dotted, meta, override_paths))
    except ScenarioError as exc:
        raise in_users_file(exc, meta) from None
    scenario._meta = meta
    if scenario.cohort.from_csv is not None:
        # Read and check the cohort file now, so that validate catches what run would.
        from iomsim.scenario.cohort_csv import read_cohort_records

        records = read_cohort_records(scenario)
        if scenario.selection is not None:
            highest = min(max(r["ogrs"] for r in records), OGRS_CEILING)
            problem = unreachable_ogrs(scenario.selection.ogrs_min, highest)
            if problem:
                file, line = _attributed_origin("selection.ogrs_min", meta, override_paths)
                raise ScenarioError(f"{problem} (the cohort file's highest)", file=file,
                                    line=line, path="selection.ogrs_min")
    return scenario


def _attributed_origin(dotted: str, meta: ScenarioMeta, override_paths: set[str] | None
                       ) -> tuple[str, int | None]:
    if override_paths and dotted and any(dotted_paths.is_within(dotted, p)
                                         or dotted_paths.is_within(p, dotted)
                                         for p in override_paths):
        return ("--set", None)
    return _origin_of(dotted, meta)


def origin_of(scenario: Scenario, dotted: str) -> tuple[str, int | None]:
    """The file and line a validated scenario's value at ``dotted`` came from (or the nearest
    enclosing key's; ``("--set", None)`` for an override)."""
    return _origin_of(dotted, scenario.meta)


def _origin_of(dotted: str, meta: ScenarioMeta) -> tuple[str, int | None]:
    path = dotted
    while True:
        if path in meta.origins:
            return meta.origins[path]
        if not path:
            return (meta.file, None)
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""
