"""Dotted paths into nested data: ``justice.arrest_cost``, ``iom.case_conferences.attendees[0].hours``.

This is the one grammar for every place a user names a value inside a scenario: ``--set``
overrides, a sweep file's ``overrides`` and ``parameters``, a targets file's fitted parameters,
break-even's ``--parameter`` and the YAML paths that errors report.

Grammar: parts separated by ``.``; a part is a mapping key (any text without ``.``, ``[`` or
``]``) followed by any number of list indexes ``[i]`` (``i`` a whole number >= 0). The first part
must be a key. :func:`parse` turns ``a.b[2][0].c`` into ``["a", "b", 2, 0, "c"]`` and
:func:`format_path` turns it back.

Values are read with :func:`get_value` (mappings by key, lists by index, pydantic models by
field) and written with :func:`set_value` (in place) or :func:`with_value` (a new copy).
:class:`SchemaPaths` says which paths a JSON schema (a pydantic model's) allows and suggests the
path a user probably meant.
"""

from __future__ import annotations

import copy
import difflib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Union

Part = Union[str, int]
PathLike = Union[str, Sequence[Part]]

EXAMPLE = "justice.arrest_cost or iom.case_conferences.attendees[0].hours"

_CHUNK = re.compile(r"([^\[\]]*)((?:\[\d+\])*)")
_INDEX = re.compile(r"\[(\d+)\]")


class PathSyntaxError(ValueError):
    """Text that is not a dotted path; the message says which part is malformed."""


class PathLookupError(LookupError):
    """A well-formed path that names nothing in the data.

    ``message`` says what is missing; ``depth`` is how many parts of ``parts`` were found.
    """

    def __init__(self, message: str, parts: Sequence[Part], depth: int):
        super().__init__(message)
        self.message = message
        self.parts = list(parts)
        self.depth = depth

    @property
    def path(self) -> str:
        return format_path(self.parts)


# --------------------------------------------------------------------------- grammar

def parse(path: PathLike) -> list[Part]:
    """``a.b[2].c`` as ``["a", "b", 2, "c"]``; :class:`PathSyntaxError` if malformed.

    A list or tuple of parts is returned as a list unchanged, so that callers may pass either.
    """
    if not isinstance(path, str):
        if isinstance(path, Sequence) and all(isinstance(p, (str, int)) for p in path):
            return list(path)
        raise PathSyntaxError(f"expected a dotted path, got {type(path).__name__}")
    if not path.strip():
        raise PathSyntaxError("empty path")
    parts: list[Part] = []
    for chunk in path.split("."):
        match = _CHUNK.fullmatch(chunk)
        if not chunk or match is None or (not match.group(1) and not match.group(2)) \
                or (not match.group(1) and not parts):
            raise PathSyntaxError(f"malformed path part {chunk!r}")
        if match.group(1):
            parts.append(match.group(1))
        parts.extend(int(i) for i in _INDEX.findall(match.group(2)))
    return parts


def format_path(parts: Iterable[Part]) -> str:
    """The text of a path given as parts: the inverse of :func:`parse`."""
    text = ""
    for part in parts:
        text = join(text, part)
    return text


def join(parent: str, key: Part) -> str:
    """Path of a child: ``a.b`` for a mapping key, ``a[3]`` for a list item."""
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else str(key)


def is_within(path: str, ancestor: str) -> bool:
    """True when ``path`` is ``ancestor`` or lies inside it (``a.b[0]`` is within ``a.b``)."""
    return path == ancestor or path.startswith(ancestor + ".") or path.startswith(ancestor + "[")


# --------------------------------------------------------------------------- values

def _no_item(node: Any, index: int) -> str:
    if not isinstance(node, list):
        return "no list item at this index: the value here is not a list"
    if not node:
        return "no list item at this index: the list is empty"
    return (f"no list item at this index: the list has {len(node)} item"
            f"{'s' * (len(node) != 1)}, [0] to [{len(node) - 1}]")


def _child(node: Any, part: Part, parts: list[Part], depth: int) -> Any:
    if isinstance(part, int):
        if not isinstance(node, (list, tuple)) or part >= len(node):
            shown = list(node) if isinstance(node, (list, tuple)) else None
            raise PathLookupError(_no_item(shown, part), parts, depth)
        return node[part]
    if isinstance(node, Mapping):
        if part not in node:
            raise PathLookupError(f"no key {part!r} in {format_path(parts[:depth]) or 'the data'}",
                                  parts, depth)
        return node[part]
    fields = getattr(type(node), "model_fields", None)
    if fields is not None:  # a pydantic model: its fields, never its other attributes
        if part not in fields:
            raise PathLookupError(f"no key {part!r} in {format_path(parts[:depth]) or 'the data'}",
                                  parts, depth)
        return getattr(node, part)
    raise PathLookupError(f"{format_path(parts[:depth]) or 'the data'} is a "
                          f"{type(node).__name__}, not a mapping", parts, depth)


def get_value(root: Any, path: PathLike) -> Any:
    """The value at ``path`` in ``root`` (nested mappings, lists and pydantic models).

    :class:`PathLookupError` when a key or list item is missing.
    """
    parts = parse(path)
    node = root
    for depth, part in enumerate(parts):
        node = _child(node, part, parts, depth)
    return node


def set_value(root: Any, path: PathLike, value: Any, *, create: bool = True) -> None:
    """Set the value at ``path`` in nested mappings and lists, in place.

    With ``create``, a missing (or null) mapping on the way is created, so that an override may
    name a value the file leaves to its default. A list item must already exist.
    """
    parts = parse(path)
    node = root
    for depth, part in enumerate(parts[:-1]):
        if isinstance(part, str) and isinstance(node, dict) and create and node.get(part) is None:
            node[part] = [] if isinstance(parts[depth + 1], int) else {}
        if isinstance(part, str) and not isinstance(node, dict):
            raise PathLookupError("cannot set a key inside a value that is not a mapping", parts,
                                  depth)
        node = _child(node, part, parts, depth)
    last = parts[-1]
    if isinstance(last, int):
        if not isinstance(node, list) or last >= len(node):
            raise PathLookupError(_no_item(node, last), parts, len(parts) - 1)
        node[last] = value
    elif isinstance(node, dict):
        if not create and last not in node:
            raise PathLookupError(f"no key {last!r} in {format_path(parts[:-1]) or 'the data'}",
                                  parts, len(parts) - 1)
        node[last] = value
    else:
        raise PathLookupError("cannot set a key inside a value that is not a mapping", parts,
                              len(parts) - 1)


def with_value(root: Any, path: PathLike, value: Any, *, create: bool = True) -> Any:
    """A deep copy of ``root`` with the value at ``path`` set; ``root`` is unchanged."""
    out = copy.deepcopy(root)
    set_value(out, path, value, create=create)
    return out


# --------------------------------------------------------------------------- suggestions

def close_match(word: str, choices: Iterable[str]) -> str | None:
    """The choice closest to ``word`` (difflib's ratio of at least 0.6), or None."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1)
    return close[0] if close else None


def did_you_mean(suggestion: str | None) -> str:
    """``; did you mean 'x'?`` to append to a message, or nothing."""
    return f"; did you mean {suggestion!r}?" if suggestion else ""


# --------------------------------------------------------------------------- schema paths

class SchemaPaths:
    """Which dotted paths a JSON schema allows (a pydantic model's ``model_json_schema()``).

    ``schema`` may be a function that returns it, so that building the schema waits for its
    first use. A mapping typed ``dict[K, V]`` allows any key (or the keys of ``K``'s
    enumeration); ``T | None`` is looked through to ``T``.
    """

    def __init__(self, schema: Mapping[str, Any] | Callable[[], Mapping[str, Any]]):
        self._source = schema
        self._schema: Mapping[str, Any] | None = None

    @property
    def schema(self) -> Mapping[str, Any]:
        if self._schema is None:
            self._schema = self._source() if callable(self._source) else self._source
        return self._schema

    def _deref(self, node: Mapping[str, Any]) -> Mapping[str, Any]:
        while True:
            if "$ref" in node:
                node = self.schema["$defs"][node["$ref"].split("/")[-1]]
                continue
            for combo in ("anyOf", "allOf", "oneOf"):
                if combo in node:
                    options = [self._deref(o) for o in node[combo] if o.get("type") != "null"]
                    # A value that may be a mapping (or list) or something plainer is walked
                    # as the mapping: that is where deeper paths lead.
                    objects = [o for o in options if o.get("type") in ("object", "array")
                               or "properties" in o]
                    node = (objects or options or [{}])[0]
                    break
            else:
                return node

    def _step(self, node: Mapping[str, Any], part: Part) -> Mapping[str, Any] | None:
        if isinstance(part, int):
            if node.get("type") != "array":
                return None
            return self._deref(node.get("items", {}))
        props = node.get("properties")
        if props is not None and part in props:
            return self._deref(props[part])
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):
            names = node.get("propertyNames", {})
            if "enum" in names and part not in names["enum"]:
                return None
            return self._deref(extra)
        return None

    def node(self, path: PathLike) -> Mapping[str, Any] | None:
        """The schema node a path names (``""`` or ``[]``: the root), or None if it has none."""
        try:
            parts = parse(path) if path != "" else []
        except PathSyntaxError:
            return None
        node: Mapping[str, Any] | None = self._deref(self.schema)
        for part in parts:
            node = self._step(node, part)
            if node is None:
                return None
        return node

    def has(self, path: PathLike) -> bool:
        return self.node(path) is not None

    def keys(self, path: PathLike) -> list[str]:
        """The keys a mapping at ``path`` may hold, when the schema lists them."""
        node = self.node(path)
        if node is None:
            return []
        keys = list(node.get("properties", {}))
        keys += [str(k) for k in node.get("propertyNames", {}).get("enum", [])]
        return keys

    def suggest(self, path: PathLike) -> str | None:
        """The path the schema has that ``path`` most likely meant, or None.

        Each key the schema does not know is replaced by its closest known key, and a key given
        where the schema has a list is tried as its first item (``[0]``). The whole corrected path
        is returned when the schema has it, else the corrected part up to the first key that
        could not be mended.
        """
        try:
            parts = parse(path)
        except PathSyntaxError:
            return None
        node = self._deref(self.schema)
        fixed: list[Part] = []
        changed = False
        for part in parts:
            nxt = self._step(node, part)
            if nxt is None and isinstance(part, str) and node.get("type") == "array":
                item = self._step(node, 0)
                if item is not None:
                    fixed.append(0)
                    node, nxt, changed = item, self._step(item, part), True
            if nxt is None and isinstance(part, str):
                close = close_match(part, self.keys(fixed))
                if close is None:
                    return format_path(fixed) if changed and fixed else None
                part, nxt, changed = close, self._step(node, close), True
            if nxt is None:
                return format_path(fixed) if changed and fixed else None
            fixed.append(part)
            node = nxt
        return format_path(fixed) if changed else None
