"""Uncertainty that lives with a parameter: ``{value: ..., uncertainty: {distribution: ...}}``.

A scenario leaf written as a value with its provenance may also say how uncertain that value
is, under a key of its own::

    prison_cost_per_day:
      value: 92.5
      price_year: "2013-14"
      source: "NOMS costs per prisoner 2013-14"
      uncertainty: {distribution: gamma, mean: 92.5, sd: 10,
                    assumption: "spread between prison categories; judgement"}

The leaf still stands for its ``value`` in every run. ``uncertainty`` is what a probabilistic
sensitivity analysis (a sweep of ``design: psa``) draws the parameter from: one draw per PSA
sample, for every leaf of the scenario that has one (see :mod:`iomsim.experiments.spec`).
It is the uncertainty *about the value*, one number for the whole population; a distribution
written as the value itself (``{distribution: normal, mean: 30, sd: 8}``) still means a spread
*across offenders*, each offender drawing their own. Uncertainty about such a distribution is
given on one of its numbers (``mean: {value: 30, uncertainty: {...}}``).

The distribution is the sweep file's (:class:`~iomsim.scenario.schema.ParameterDistribution`:
the scenario's kinds, with ``bounds: clip|truncate|rescale`` for ``low``/``high`` on a bounded
kind, and ``meanlog``/``sdlog``, ``shape``/``scale``, ``alpha``/``beta``), given in the unit of
the value; money is at the leaf's ``price_year`` and uprated with it to the scenario's. It must
say why it is as wide as it is, with ``source:`` or ``assumption:`` (``note:`` may add to
either), and the value must lie within the distribution's range.
"""

from __future__ import annotations

import math
import re
from typing import Any, Callable

from iomsim.errors import ScenarioError
from iomsim.scenario.paths import SchemaPaths, join
from iomsim.scenario.schema import BOUNDED_KINDS, ParameterDistribution
from iomsim.scenario.validation import validate_data

UNCERTAINTY = "uncertainty"
# The provenance an uncertainty may carry (why the spread is as wide as it is).
UNCERTAINTY_PROVENANCE = ("source", "assumption", "note")
# Every value in pounds that uprating multiplies (a lognormal's meanlog moves by the log).
MONEY_KEYS = ("low", "high", "mean", "sd", "mode", "value", "scale")
_PATHS = SchemaPaths(ParameterDistribution.model_json_schema)

Origin = Callable[[str], "tuple[str | None, int | None]"]


def allowed_range(text: str | None) -> tuple[float, float] | None:
    """The values a leaf may take that a draw must respect, from its schema's ``x-range``
    (``0 to 1``, ``between 0 and 1``, ``>= 0``, ``> 0 to 5``): the lower end always, the upper
    only for a share (at most 1); other upper ends are ceilings against typing errors, not
    part of what the value can be. None when the text says neither."""
    if not text:
        return None
    m = re.fullmatch(r"(?:between )?(?:>=?\s*)?(-?[\d.,]+)(?:\s*(?:to|and)\s*(-?[\d.,]+))?",
                     text.strip())
    if m is None:
        return None
    lo = float(m.group(1).replace(",", ""))
    hi = float(m.group(2).replace(",", "")) if m.group(2) else math.inf
    return lo, hi if hi <= 1 else math.inf


def check_uncertainty(path: str, raw: Any, value: Any, *, money: bool, integer: bool,
                      factor: float, origin: Origin,
                      allowed: tuple[float, float] | None = None) -> dict[str, Any]:
    """The checked uncertainty of the leaf at ``path`` (a mapping of the distribution's keys,
    money uprated by ``factor``, plus its provenance and ``integer``), or a located
    :class:`ScenarioError`. ``origin(dotted)`` gives the file and line of a scenario path;
    ``allowed`` (see :func:`allowed_range`), what the leaf may be: a distribution that can
    draw outside it is refused here rather than at a draw of a sweep."""
    where = join(path, UNCERTAINTY)

    def refuse(message: str, key: str | None = None) -> ScenarioError:
        at = join(where, key) if key else where
        file, line = origin(at)
        return ScenarioError(message, file=file, line=line, path=at)

    if isinstance(value, dict) and "distribution" in value:
        raise refuse("the value is a distribution (a spread across offenders); give the "
                     "uncertainty on one of its numbers instead, e.g. mean: {value: 30, "
                     "uncertainty: {distribution: normal, mean: 30, sd: 3, source: ...}}")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise refuse(f"uncertainty describes a number; the value here is {_kind(value)}")
    if not isinstance(raw, dict):
        raise refuse(f"expected a distribution mapping such as {{distribution: gamma, mean: "
                     f"{value:g}, sd: ..., source: ...}}, got {_kind(raw)}")
    given = dict(raw)
    provenance = {k: given.pop(k) for k in UNCERTAINTY_PROVENANCE if k in given}
    for key, text in provenance.items():
        if not isinstance(text, str) or not text.strip():
            raise refuse(f"expected text saying why the uncertainty is this wide, got "
                         f"{_kind(text)}", key)
    if "distribution" not in given:
        raise refuse("expected distribution: (one of fixed, normal, lognormal, gamma, beta, "
                     "uniform, triangular, poisson, negative_binomial) with its parameters")

    def located(dotted: str) -> tuple[str | None, int | None]:
        return origin(join(where, dotted) if dotted else where)

    try:
        dist = validate_data(ParameterDistribution, given, paths=_PATHS, origin=located)
    except ScenarioError as exc:
        at = join(where, exc.path) if exc.path else where
        raise ScenarioError(exc.message, file=exc.file, line=exc.line, path=at) from None
    if not ({"source", "assumption"} & set(provenance)):
        raise refuse("an uncertainty needs a reason: add source: (where the spread comes "
                     "from) or assumption: (why it is this wide) inside it")
    spec = dist.model_dump(exclude_none=True)
    if money and dist.distribution == "beta" and dist.bounds != "rescale":
        raise refuse("a beta on [0, 1] is not money; give low, high and bounds: rescale for a "
                     "beta in pounds", "distribution")
    if money and factor != 1:
        for key in MONEY_KEYS:
            if key in spec:
                spec[key] = spec[key] * factor
        if "meanlog" in spec:
            spec["meanlog"] = spec["meanlog"] + math.log(factor)
        value = value * factor
    lo, hi = _range(spec)
    if allowed is not None and (lo < allowed[0] or hi > allowed[1]):
        a, b = allowed
        what = ("a share between 0 and 1" if (a, b) == (0, 1) else
                f"at least {a:g}" if b == math.inf else f"between {a:g} and {b:g}")
        fix = ("distribution: beta" if (a, b) == (0, 1) else
               "distribution: gamma or lognormal" if (a, b) == (0, math.inf) else
               "a distribution that stays inside it")
        raise refuse(f"the value is {what}, but this distribution can draw values from "
                     f"{lo:g} to {hi:g}; use {fix}, or bounds: truncate with low and high "
                     "inside that range", "distribution")
    if not lo - 1e-9 * abs(lo) <= value <= hi + 1e-9 * abs(hi):
        raise refuse(f"the value {value:g} lies outside the uncertainty's range "
                     f"[{lo:g}, {hi:g}]; the distribution should describe belief about the "
                     "value itself")
    return {**spec, **provenance, "integer": integer}


def _range(spec: dict[str, Any]) -> tuple[float, float]:
    """The interval a draw can take (infinite ends where the distribution has none)."""
    kind = spec["distribution"]
    if kind == "fixed":
        return spec["value"], spec["value"]
    if kind in ("uniform", "triangular"):
        return spec["low"], spec["high"]
    lo, hi = -math.inf, math.inf
    if kind in ("lognormal", "gamma", "poisson", "negative_binomial"):
        lo = 0.0
    if kind == "beta":
        lo, hi = (spec["low"], spec["high"]) if spec.get("bounds") == "rescale" else (0.0, 1.0)
    if kind in BOUNDED_KINDS and spec.get("bounds") in ("clip", "truncate"):
        lo = max(lo, spec.get("low", -math.inf))
        hi = min(hi, spec.get("high", math.inf))
    return lo, hi


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        text = repr(value)
        return f"the text {text if len(text) <= 40 else text[:40] + '...'}"
    return repr(value)
