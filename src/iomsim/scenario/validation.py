"""Validate YAML data with a pydantic model; report the first problem as one line at its place.

Scenarios, sweep files and targets files are all checked this way: booleans are refused where
the model expects a number (YAML reads yes/no/on/off as booleans, which pydantic would take as
1 and 0), then the model validates, and the first of pydantic's errors becomes an
:class:`~iomsim.errors.InputError` naming the file, the line and the dotted YAML path, saying
what was found and what was expected.

A model-level check that is about one field raises :func:`error_at`, so that the problem is
reported at that field's line rather than at the model's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from iomsim.errors import InputError, ScenarioError
from iomsim.scenario.paths import Part, SchemaPaths, close_match, did_you_mean, format_path, join
from iomsim.scenario.yamlio import YamlDocument

M = TypeVar("M", bound=BaseModel)
Origin = Callable[[str], "tuple[str | None, int | None]"]

# error_at's mark: the path as a JSON string, so that any key (brackets and all) survives.
_AT = re.compile(r'\[at ("(?:[^"\\]|\\.)*")\] (.*)', re.S)
_PYDANTIC_TAG = re.compile(r"[a-z][a-z-]*\[.*\]", re.S)
_TYPE_TAGS = ("int", "float", "str", "bool")


def error_at(path: str | int, message: str) -> ValueError:
    """A ValueError from a model-level check that is about one field: ``path`` is relative to
    the model (``status.custody``, a key, or ``[2]`` for a list item); the problem is reported
    at that path, with that path's file and line."""
    text = f"[{path}]" if isinstance(path, int) else str(path)
    return ValueError(f"[at {json.dumps(text)}] {message}")


def short(value: Any, limit: int = 60) -> str:
    """``repr(value)``, cut to ``limit`` characters so that an error stays readable."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def document_origin(file: str, doc: YamlDocument | None) -> Origin:
    """Where a path of one YAML document is: its file and the line of the path (or of its
    nearest enclosing key); no line for the document as a whole."""
    def origin(dotted: str) -> tuple[str | None, int | None]:
        return file, (doc.line_of(dotted) if doc is not None and dotted else None)

    return origin


def validate_data(model: type[M], data: Any, *, paths: SchemaPaths, origin: Origin,
                  error: type[InputError] = ScenarioError, context: Any = None) -> M:
    """``model.model_validate(data)``, with every problem raised as one located ``error``."""
    refuse_booleans_as_numbers(data, paths=paths, origin=origin, error=error)
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        raise located_error(exc, paths=paths, origin=origin, error=error, data=data) from None
    except RecursionError:
        raise error("values nested too deeply; expected plain data", file=origin("")[0]) from None


def refuse_booleans_as_numbers(data: Any, *, paths: SchemaPaths, origin: Origin,
                               error: type[InputError] = ScenarioError) -> None:
    """Refuse a boolean wherever the schema expects a number."""
    def walk(node: Any, parts: list[Part]) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, [*parts, str(k)])
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, [*parts, i])
        elif isinstance(node, bool):
            schema = paths.node(parts)
            if schema is not None and schema.get("type") in ("number", "integer"):
                dotted = format_path(parts)
                file, line = origin(dotted)
                raise error(f"got {str(node).lower()}; expected a number (YAML reads "
                            "true/false/yes/no/on/off as true or false)", file=file, line=line,
                            path=dotted)

    walk(data, [])


def _clean_loc(loc: tuple[Any, ...]) -> list[Part]:
    """Pydantic's location without its type and validator tags (``function-after[...]``)."""
    return [p for p in loc if not (isinstance(p, str) and (
        p in _TYPE_TAGS or _PYDANTIC_TAG.fullmatch(p)))]


def _pick(errors: list[dict[str, Any]]) -> dict[str, Any]:
    """The error to report. A missing key is often a misspelt one, so an unknown key in the
    same mapping is reported in its place (with the key it is closest to suggested)."""
    first = errors[0]
    if first["type"] == "missing":
        parent = _clean_loc(first["loc"])[:-1]
        for other in errors:
            loc = _clean_loc(other["loc"])
            if other["type"] == "extra_forbidden" and loc[:-1] == parent:
                return other
    return first


def _choices(ctx: dict[str, Any] | None) -> list[str]:
    return re.findall(r"'([^']*)'", str((ctx or {}).get("expected", "")))


def describe(exc: ValidationError, paths: SchemaPaths) -> tuple[str, str]:
    """The dotted path and the one-line message of the problem a ValidationError reports."""
    problems = describe_all(exc, paths)
    dotted, msg = problems[0]
    if len(problems) > 1:
        n = len(problems) - 1
        msg += f" (and {n} more problem{'s' if n > 1 else ''})"
    return dotted, msg


def describe_all(exc: ValidationError, paths: SchemaPaths,
                 data: Any = None) -> list[tuple[str, str]]:
    """Every problem a ValidationError reports, as (dotted path, one-line message), the one to
    report first (see :func:`_pick`) first; one per path (a value that fits none of a union's
    types is one problem, not one per type). ``data``, what was validated, lets a key missing
    from a new entry of a mapping of free keys name the entry it was likely meant to be."""
    errors = exc.errors(include_url=False)
    first = _pick(errors)
    out: dict[str, str] = {}
    for error in [first, *(e for e in errors if e is not first)]:
        dotted, msg = _describe_one(error, paths, data)
        out.setdefault(dotted, msg)
    return list(out.items())


def _at(data: Any, parts: list[Part]) -> Any:
    """What ``data`` holds at ``parts`` (None where it holds nothing)."""
    for part in parts:
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            return None
    return data


def _describe_one(first: dict[str, Any], paths: SchemaPaths,
                  data: Any = None) -> tuple[str, str]:
    """The dotted path and the one-line message of one of pydantic's errors."""
    loc = _clean_loc(first["loc"])
    bad_key = bool(loc) and loc[-1] == "[key]"  # a mapping key that is not one of the choices
    if bad_key:
        loc = loc[:-1]
    dotted = format_path(loc)
    kind = first["type"]
    msg = first["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    at = _AT.fullmatch(msg)
    if at:  # a model-level check that names the field it is about
        rel = json.loads(at.group(1))
        dotted = f"{dotted}{rel}" if rel.startswith("[") else join(dotted, rel)
        msg = at.group(2)
    if kind == "extra_forbidden":
        key = str(loc[-1]) if loc else ""
        choices = paths.keys(loc[:-1])  # with list indexes, so list items are looked up too
        close = close_match(key, choices)
        msg = f"unknown key {key!r}" + (did_you_mean(close) if close else
                                        f"; expected one of: {', '.join(choices)}")
    elif bad_key:
        key = str(first.get("input"))
        choices = _choices(first.get("ctx"))
        close = close_match(key, choices)
        msg = f"unknown key {short(key)}" + (
            did_you_mean(close) if close else f"; expected one of: {', '.join(choices)}"
            if choices else ": " + str(first.get("msg", "not allowed here")).removeprefix(
                "Value error, "))
    elif kind == "missing":
        msg = f"missing required key {str(loc[-1])!r}" if loc else "missing required key"
        description = (paths.node(loc) or {}).get("description") if loc else None
        if description:
            msg += f" ({description})"
        # A misspelt entry of a mapping whose keys are free (offender managers' roles, say)
        # is a new entry, missing what the one meant would have inherited.
        entry = loc[-2] if len(loc) >= 2 and isinstance(loc[-2], str) else None
        siblings = _at(data, loc[:-2]) if entry is not None else None
        if isinstance(siblings, dict) and not paths.keys(loc[:-2]):
            close = close_match(entry, [str(k) for k in siblings if k != entry])
            if close:
                msg += f"; {entry!r} is a new entry here: did you mean {close!r}?"
    elif kind in ("literal_error", "enum"):
        got = first.get("input")
        close = close_match(str(got), _choices(first.get("ctx"))) if isinstance(got, str) else None
        what = f"unknown {loc[-1]}: " if loc and isinstance(loc[-1], str) else ""
        msg = f"{what}got {short(got)}" + (did_you_mean(close) if close else
                                           f"; {msg[0].lower() + msg[1:]}")
    elif kind == "finite_number":
        msg = f"got {short(first.get('input'))}; expected a finite number (not NaN or infinity)"
    else:
        got = first.get("input")
        # "or instance of CourtSentencing" names a Python class, which a YAML file cannot give.
        msg = re.sub(r" or instance of \w+", "", msg)
        if kind in ("value_error", "assertion_error"):
            pass
        elif isinstance(got, (dict, list)):
            msg = f"got a {'mapping' if isinstance(got, dict) else 'list'}; " \
                  f"{msg[0].lower() + msg[1:]}"
        else:
            msg = f"got {short(got)}; {msg[0].lower() + msg[1:]}"
    return dotted, msg


def located_error(exc: ValidationError, *, paths: SchemaPaths, origin: Origin,
                  error: type[InputError] = ScenarioError, data: Any = None) -> InputError:
    """The problems of a ValidationError as one ``error`` at the first one's file, line and
    path, which says how many more there are and holds each of them (``more``), located too
    (``data``: what was validated, see :func:`describe_all`)."""
    problems = describe_all(exc, paths, data)
    located = []
    for dotted, msg in problems:
        file, line = origin(dotted)
        located.append(error(msg, file=file, line=line, path=dotted or None))
    first = located[0]
    if len(located) > 1:
        n = len(located) - 1
        first = error(f"{first.message} (and {n} more problem{'s' if n > 1 else ''}, listed "
                      "below)", file=first.file, line=first.line, path=first.path,
                      more=located[1:])
    return first
