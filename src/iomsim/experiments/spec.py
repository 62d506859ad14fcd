"""The sweep file: reading it, checking it against its scenario, and the scenario at each point.

A sweep file is YAML (read with the same safe reader as scenarios)::

    scenario: ../sussex-2013.yaml      # base scenario, relative to this file
    overrides:                          # optional: dotted paths set on the base scenario first
      cohort.size: 400
      selection.cohort_size: 60
    design: oneway                      # grid | oneway | lhs | sobol | psa | saltelli | morris
    samples: 64                         # lhs, sobol, psa; saltelli base samples; morris trajectories
    replications: 5                     # per point
    seed: 1
    common_random_numbers: true         # default: every point uses the same streams
    measures: [economics.benefit_per_pound, iom.reconviction_rate_24m]   # arm.measure
    primary_measure: economics.benefit_per_pound   # for the tornado, Sobol and Morris tables
    parameters:                         # dotted scenario paths
      iom.effects.offending_multiplier: {low: 0.2, high: 0.6}
      justice.prison_cost_per_day: {levels: [80, 92.5, 110]}
      iom.effects.responder_share: {distribution: beta, mean: 0.7, sd: 0.1}
      iom_cost_scale: {low: 0.5, high: 2}   # special: multiplies every IOM programme cost

Other keys: ``levels`` (Morris grid levels, default 4), ``second_order`` (saltelli, default
false), ``sampling`` (psa: ``random`` or ``lhs``), ``acceptability: {max_cost_per_offender,
steps}`` (PSA acceptability curve). A parameter may also give ``base`` (its value at the base
point of a one-way design; default the scenario's value), ``steps`` (grid from ``low`` to
``high``) and ``integer: true`` (paths the schema types as whole numbers are rounded anyway).
``engine: compiled`` runs the points on the numba engine instead of the simpy reference (the
same model and random numbers, many times faster; see docs/model.md); it is part of the sweep's
hash, so a sweep folder never mixes engines.

Seeding: replication ``r`` of every point is simulated with seed ``seed`` and replication ``r``
(common random numbers), so points differ only by their parameters; this makes one-way and
break-even curves smooth. With ``common_random_numbers: false`` point ``p`` uses a seed derived
from (``seed``, ``p``). Either way, results never depend on the order or place of execution.

Every parameter path is checked against the scenario schema before anything runs, and every
design point is applied to the scenario and validated, so a bad path or a value out of range is
reported with the sweep file, line and YAML path.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from iomsim.engine.replication import ENGINES
from iomsim.errors import InputError, SweepError
from iomsim.experiments.designs import DESIGNS, Design, DesignError, Parameter, make_design
from iomsim.experiments.points import (IOM_COST_SCALE, current_value, parameter_problem,
                                      point_scenario)
from iomsim.runner import check_engine
from iomsim.scenario import apply_overrides, load_scenario
from iomsim.scenario.loader import schema_node
from iomsim.scenario.paths import PathLookupError
from iomsim.scenario.schema import Scenario
from iomsim.scenario.yamlio import YamlDocument, read_yaml_file

SWEEP_FORMAT = 1
ARMS = ("non_iom", "iom", "economics")
DEFAULT_MEASURES = (
    "economics.benefit_per_pound", "economics.npv", "economics.benefit", "economics.iom_cost",
    "economics.iom_cost_per_offender", "economics.fiscal_net_change",
    "economics.social_net_change", "non_iom.reconviction_rate_24m", "iom.reconviction_rate_24m",
    "non_iom.discounted_fiscal_cost", "iom.discounted_fiscal_cost", "iom.offenders",
)
# Always kept: the PSA, acceptability and break-even tables need them.
REQUIRED_MEASURES = ("economics.benefit_per_pound", "economics.npv", "economics.benefit",
                     "economics.iom_cost", "economics.iom_cost_per_offender", "iom.offenders")
TOP_KEYS = ("scenario", "overrides", "design", "samples", "replications", "seed",
            "common_random_numbers", "measures", "primary_measure", "parameters", "levels",
            "second_order", "sampling", "acceptability", "name", "description", "engine")
PARAM_KEYS = ("low", "high", "levels", "steps", "distribution", "base", "integer", "mean", "sd",
              "mode", "value", "meanlog", "sdlog", "shape", "scale", "alpha", "beta", "source",
              "assumption", "note")
DIST_ARGS = ("mean", "sd", "mode", "value", "meanlog", "sdlog", "shape", "scale", "alpha", "beta")


@dataclass
class SweepSpec:
    """A checked sweep: the base scenario, the design, and how to run and keep it."""

    file: str
    data: dict[str, Any]
    scenario: Scenario
    design: Design
    replications: int
    seed: int
    common_random_numbers: bool
    measures: list[tuple[str, str]] | None  # None keeps every measure
    primary_measure: tuple[str, str]
    acceptability: dict[str, Any] = field(default_factory=dict)
    doc: YamlDocument | None = None
    engine: str = "simpy"  # part of ``data``, so of the hash: a sweep never mixes engines

    @property
    def parameters(self) -> list[str]:
        return self.design.names

    @property
    def n_points(self) -> int:
        return len(self.design.points)

    def point_seed(self, point: int) -> int:
        if self.common_random_numbers:
            return self.seed
        return int(np.random.SeedSequence([self.seed, 0xB01, point]).generate_state(1)[0] >> 1)

    def point_values(self, point: int) -> dict[str, Any]:
        row = self.design.points.iloc[point]
        return {k: _plain(row[k]) for k in self.design.names}

    @property
    def hash(self) -> str:
        """Hash of the sweep definition and the resolved base scenario (after its overrides)."""
        # Writing the default engine out must not make a finished sweep look like another one.
        data = {k: v for k, v in self.data.items()
                if k != "scenario" and not (k == "engine" and v == "simpy")}
        from iomsim import __version__

        # The package version is part of it: a sweep is never resumed with another model version.
        payload = {"format": SWEEP_FORMAT, "sweep": data, "scenario": self.scenario.meta.hash,
                   "iomsim": __version__}
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def error(self, message: str, path: str | None) -> SweepError:
        line = self.doc.line_of(path) if (self.doc is not None and path) else None
        return SweepError(message, file=self.file, line=line, path=path)


def _plain(v: Any) -> Any:
    if isinstance(v, (np.floating, np.integer, np.bool_)):
        return v.item()
    return v


# --------------------------------------------------------------------------- reading

def load_sweep(source: str | Path | Mapping[str, Any], *, base_dir: str | Path | None = None
               ) -> SweepSpec:
    """Read and check a sweep file (a path) or a sweep given as a mapping.

    A mapping's ``scenario`` may be a path (relative to ``base_dir``, default the working
    folder) or an already loaded :class:`~iomsim.Scenario`.
    """
    doc: YamlDocument | None = None
    if isinstance(source, Mapping):
        data = dict(source)
        file = "<sweep>"
        folder = Path(base_dir) if base_dir is not None else Path.cwd()
    else:
        path = Path(source)
        doc = read_yaml_file(path)
        data = doc.data
        file = str(path)
        folder = path.resolve().parent
        if not isinstance(data, dict):
            raise SweepError("expected a mapping of sweep keys (scenario, design, parameters, ...)",
                             file=file, line=1)

    def err(message: str, path: str | None) -> SweepError:
        line = doc.line_of(path) if (doc is not None and path) else None
        return SweepError(message, file=file, line=line, path=path)

    for key in data:
        if key not in TOP_KEYS:
            close = difflib.get_close_matches(str(key), TOP_KEYS, n=1)
            raise err(f"unknown key {key!r}" + (f"; did you mean {close[0]!r}?" if close else
                                               f"; expected one of: {', '.join(TOP_KEYS)}"), str(key))
    # -- base scenario
    if "scenario" not in data:
        raise err("missing required key 'scenario' (the base scenario file, relative to the "
                  "sweep file)", None)
    raw_scenario = data["scenario"]
    if isinstance(raw_scenario, Scenario):
        base = raw_scenario
        data = {**data, "scenario": f"<scenario {base.meta.hash[:12]}>"}
    elif isinstance(raw_scenario, (str, Path)):
        base = load_scenario(folder / raw_scenario)
    else:
        raise err(f"expected a file name, got {raw_scenario!r}", "scenario")
    overrides = data.get("overrides") or {}
    if not isinstance(overrides, dict):
        raise err("expected a mapping of dotted paths to values", "overrides")
    if overrides:
        for dotted in overrides:
            problem = parameter_problem(str(dotted))
            if problem or dotted == IOM_COST_SCALE:
                raise err(problem or "iom_cost_scale is a sweep parameter, not an override",
                          f"overrides.{dotted}")
        try:
            base = apply_overrides(base, overrides)
        except InputError as exc:
            where = f"overrides.{exc.path}" if exc.path else "overrides"
            raise err(exc.message, where) from None

    # -- plain settings
    def integer(key: str, default: int | None, minimum: int) -> int | None:
        v = data.get(key, default)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
            raise err(f"expected a whole number >= {minimum}, got {v!r}", key)
        return v

    design_kind = data.get("design")
    if design_kind is None:
        raise err(f"missing required key 'design' (one of {', '.join(DESIGNS)})", None)
    if design_kind not in DESIGNS:
        close = difflib.get_close_matches(str(design_kind), DESIGNS, n=1)
        raise err(f"unknown design {design_kind!r}" + (f"; did you mean {close[0]!r}?" if close
                                                       else f"; expected one of {', '.join(DESIGNS)}"),
                  "design")
    samples = integer("samples", None, 1)
    replications = integer("replications", 10, 1)
    seed = integer("seed", 1, 0)
    num_levels = integer("levels", 4, 2)
    crn = data.get("common_random_numbers", True)
    if not isinstance(crn, bool):
        raise err(f"expected true or false, got {crn!r}", "common_random_numbers")
    second_order = data.get("second_order", False)
    if not isinstance(second_order, bool):
        raise err(f"expected true or false, got {second_order!r}", "second_order")
    sampling = data.get("sampling", "random")
    engine = data.get("engine", "simpy")
    if engine not in ENGINES:
        raise err(f"unknown engine {engine!r}; expected one of {', '.join(ENGINES)}", "engine")

    measures = _measures(data, err)
    primary = data.get("primary_measure", "economics.benefit_per_pound")
    primary_pair = _measure_pair(primary, err, "primary_measure")
    if measures is not None and primary_pair not in measures:
        measures.append(primary_pair)

    acceptability = data.get("acceptability") or {}
    if not isinstance(acceptability, dict) or set(acceptability) - {"max_cost_per_offender", "steps"}:
        raise err("expected {max_cost_per_offender: POUNDS, steps: N}", "acceptability")
    top = acceptability.get("max_cost_per_offender")
    if top is not None and (isinstance(top, bool) or not isinstance(top, (int, float))
                            or not 0 < top < math.inf):
        raise err(f"expected a positive amount in pounds, got {top!r}",
                  "acceptability.max_cost_per_offender")
    steps = acceptability.get("steps", 101)
    if isinstance(steps, bool) or not isinstance(steps, int) or not 2 <= steps <= 100_000:
        raise err(f"expected a whole number from 2 to 100000, got {steps!r}", "acceptability.steps")

    # -- parameters
    params_raw = data.get("parameters")
    if not isinstance(params_raw, dict) or not params_raw:
        raise err("expected a mapping of dotted scenario paths to how each varies", "parameters")
    params: list[Parameter] = []
    for dotted, spec in params_raw.items():
        dotted = str(dotted)
        where = f"parameters.{dotted}"
        problem = parameter_problem(dotted)
        if problem:
            raise err(problem, where)
        try:
            value_now = current_value(base, dotted)
        except PathLookupError as exc:
            raise err(f"the scenario has no value at this path: {exc.message}", where) from None
        if not isinstance(spec, dict):
            raise err("expected a mapping such as {low: ..., high: ...}, {levels: [...]} or "
                      "{distribution: ..., ...}", where)
        for key in spec:
            if key not in PARAM_KEYS:
                close = difflib.get_close_matches(str(key), PARAM_KEYS, n=1)
                raise err(f"unknown key {key!r}" + (f"; did you mean {close[0]!r}?" if close else ""),
                          f"{where}.{key}")
        for key in ("low", "high", "steps"):
            v = spec.get(key)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))
                                  or not math.isfinite(v)):
                raise err(f"expected a finite number, got {v!r}", f"{where}.{key}")
        node = schema_node(dotted) or {}
        is_int = bool(spec.get("integer", False)) or node.get("type") == "integer"
        base_value = spec.get("base", value_now)
        if base_value is not None and not isinstance(base_value, (int, float, str, bool)):
            base_value = None
        try:
            p = Parameter(path=dotted, low=spec.get("low"), high=spec.get("high"),
                          levels=spec.get("levels"), steps=spec.get("steps"),
                          distribution=spec.get("distribution"),
                          args={k: spec[k] for k in DIST_ARGS if k in spec},
                          base=base_value, integer=is_int)
        except DesignError as exc:
            raise err(str(exc), f"{where}.{exc.key}" if exc.key else where) from None
        if design_kind == "oneway" and p.base is None:
            raise err("a one-way design needs a base value here (the scenario's value is not a "
                      "number); add base:", where)
        params.append(p)

    try:
        design = make_design(design_kind, params, samples=samples, seed=seed,
                             num_levels=num_levels, second_order=second_order, sampling=sampling)
    except DesignError as exc:
        raise err(str(exc), exc.key or "design") from None

    spec_obj = SweepSpec(file=file, data=data, scenario=base, design=design,
                         replications=replications, seed=seed, common_random_numbers=crn,
                         measures=measures, primary_measure=primary_pair,
                         acceptability=acceptability, doc=doc, engine=engine)
    try:
        check_engine(base, engine)
    except InputError as exc:  # a feature of the scenario: say where, at the sweep's engine key
        where = f"{exc.file}{f':{exc.line}' if exc.line else ''}"
        raise err(f"{exc.message} ({exc.path} at {where}); use engine: simpy", "engine") from None
    _check_points(spec_obj)
    return spec_obj


def _check_points(spec: SweepSpec) -> None:
    """Apply every design point to the scenario, so a bad value fails before anything runs."""
    seen: set[str] = set()
    for point in range(spec.n_points):
        values = spec.point_values(point)
        key = json.dumps(values, sort_keys=True, default=str)
        if key in seen:
            continue
        seen.add(key)
        try:
            point_scenario(spec.scenario, values)
        except InputError as exc:
            bad = exc.path if exc.path in values else None
            if bad is None:
                bad = next((k for k in values if exc.path and (exc.path.startswith(k + ".")
                                                               or exc.path.startswith(k + "["))),
                           None)
            shown = ", ".join(f"{k}={v!r}" for k, v in values.items())
            raise spec.error(f"design point {point} ({shown}) is not a valid scenario: "
                             f"{exc.path + ': ' if exc.path else ''}{exc.message}",
                             f"parameters.{bad}" if bad else "parameters") from None


def _measure_pair(text: Any, err, where: str) -> tuple[str, str]:
    if not isinstance(text, str) or "." not in text:
        raise err(f"expected arm.measure (arm one of {', '.join(ARMS)}), got {text!r}", where)
    arm, measure = text.split(".", 1)
    if arm not in ARMS:
        raise err(f"unknown arm {arm!r} in {text!r}; expected one of {', '.join(ARMS)}", where)
    return arm, measure


def _measures(data: dict[str, Any], err) -> list[tuple[str, str]] | None:
    raw = data.get("measures", list(DEFAULT_MEASURES))
    if raw == "all":
        return None
    if not isinstance(raw, list) or not raw:
        raise err("expected a list of arm.measure names (or all)", "measures")
    out: list[tuple[str, str]] = []
    for i, text in enumerate(raw):
        pair = _measure_pair(text, err, f"measures[{i}]")
        if pair not in out:
            out.append(pair)
    for text in REQUIRED_MEASURES:
        pair = tuple(text.split(".", 1))
        if pair not in out:
            out.append(pair)  # type: ignore[arg-type]
    return out
