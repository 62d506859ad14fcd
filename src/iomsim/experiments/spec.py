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
      offending.offence_types.burglary.cost_of_crime:
        {distribution: normal, mean: 5000, sd: 1000, low: 1000, bounds: truncate}
      iom_cost_scale: {low: 0.5, high: 2}   # special: multiplies every IOM programme cost

A ``psa`` design may also sample a calibration's accepted draws::

    design: psa
    posterior: ../sussex-2013.posterior.csv   # written by iomsim calibrate (method: abc)

A ``psa`` design also draws every scenario value that carries its own uncertainty
(``{value: ..., source: ..., uncertainty: {distribution: ...}}``, see
:mod:`iomsim.scenario.uncertainty`), one draw per sample, unless ``scenario_uncertainty: false``.
A path the posterior gives or ``parameters:`` names is drawn from there instead (the
calibration's accepted draws, or the sweep file's own distribution), and one set by
``overrides:`` is not drawn at all.

Each sample takes one accepted row of the file whole (its parameter columns as the point's
values; the accepted rows shuffled with the sweep's seed and taken in turn, a new shuffle each
pass), and draws the sweep's ``parameters:`` (which may then be left out) as any PSA does. The
file is confined as ``scenario:`` is, its rows are checked (parameter columns that are scenario
paths, at least one accepted row) and its content is part of the sweep's hash.

Other keys: ``levels`` (Morris grid levels, default 4), ``second_order`` (saltelli, default
false), ``sampling`` (psa: ``random`` or ``lhs``), ``acceptability: {max_cost_per_offender,
max_benefit_per_pound, steps}`` (PSA acceptability curves), ``scenario_uncertainty`` (psa:
false draws only ``parameters:`` and ``posterior:``). A parameter may also give ``base`` (its
value at the base point of a one-way design; default the scenario's value), ``steps`` (grid from
``low`` to ``high``), ``integer: true`` (paths the schema types as whole numbers are rounded
anyway) and,
for money, ``price_year`` (its values are uprated to the scenario's price year with the GDP
deflator, as a scenario's money is).
A distribution is the scenario schema's (:class:`~iomsim.scenario.schema.ParameterDistribution`):
the same keys mean the same things, and ``low``/``high`` on a normal, lognormal, gamma, beta or
count come with ``bounds: clip``, ``truncate`` or (beta) ``rescale``.
``engine: simpy`` runs the points on the readable reference engine instead of the default,
``compiled`` (numba: the same model and random numbers, many times faster; see docs/model.md);
the engine is part of the sweep's hash, so a sweep folder never mixes engines.

Seeding: replication ``r`` of every point is simulated with seed ``seed`` and replication ``r``
(common random numbers), so points differ only by their parameters; this makes one-way and
break-even curves smooth. With ``common_random_numbers: false`` point ``p`` uses a seed derived
from (``seed``, ``p``). Either way, results never depend on the order or place of execution.

The file is checked by the pydantic model :class:`SweepFile` (with the scenario loader's
located errors), every parameter path against the scenario schema, and every design point is
applied to the scenario and validated before anything runs, so a bad key, path or value is
reported with the sweep file, line and YAML path.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, Mapping

import numpy as np
from pydantic import Field, StrictBool, field_validator

from iomsim import __version__
from iomsim.defaults import DEFAULT_ENGINE, ENGINES, MAX_REPS
from iomsim.errors import InputError, SweepError
from iomsim.experiments.designs import DESIGNS, Design, DesignError, Parameter, make_design
from iomsim.experiments.posterior_file import PosteriorDraws, PosteriorFileError, read_posterior
from iomsim.inputs import file_digests
from iomsim.scenario.points import (IOM_COST_SCALE, current_value, parameter_problem,
                                      point_scenario)
from iomsim.runner import check_engine
from iomsim.scenario import apply_overrides, load_scenario
from iomsim.scenario.loader import (EXTENDS_PATH_ENV, extends_roots, origin_of, path_is_money,
                                    schema_node, shipped_scenario, uprating_factor)
from iomsim.scenario.paths import PathLookupError, SchemaPaths, is_within
from iomsim.scenario.schema import (DistributionKind, ParameterDistribution, Positive, Scenario,
                                    Strict, whole_number)
from iomsim.scenario.validation import document_origin, error_at, validate_data
from iomsim.scenario.yamlio import YamlDocument, read_yaml_file

SWEEP_FORMAT = 1
ARMS = ("non_iom", "iom", "economics")
DEFAULT_MEASURES = (
    "economics.benefit_per_pound", "economics.npv", "economics.benefit", "economics.iom_cost",
    "economics.benefit_per_pound_evaluation", "economics.npv_evaluation",
    "economics.benefit_per_pound_taxpayer", "economics.npv_taxpayer",
    "economics.benefit_per_pound_taxpayer_cashable", "economics.npv_taxpayer_cashable",
    "economics.benefit_per_pound_social", "economics.npv_social",
    "economics.iom_cost_per_offender", "economics.fiscal_net_change",
    "economics.social_net_change", "non_iom.reconviction_rate_24m", "iom.reconviction_rate_24m",
    "non_iom.discounted_fiscal_cost", "iom.discounted_fiscal_cost", "iom.offenders",
)
# Always kept: the PSA, acceptability and break-even tables need them.
REQUIRED_MEASURES = ("economics.benefit_per_pound", "economics.npv", "economics.benefit",
                     "economics.iom_cost", "economics.iom_cost_per_offender", "iom.offenders")
# The keys of a parameter that describe its distribution (beyond low, high and bounds).
DIST_ARGS = ("mean", "sd", "mode", "value", "meanlog", "sdlog", "shape", "scale", "alpha", "beta")

Count = whole_number(1)
Replications = whole_number(1, MAX_REPS)
Seed = whole_number(0)
AtLeastTwo = whole_number(2)
CurveSteps = whole_number(2, 100_000)


# --------------------------------------------------------------------------- the file's model

def _measure_problem(text: Any) -> str | None:
    if not isinstance(text, str) or "." not in text:
        return f"expected arm.measure (arm one of {', '.join(ARMS)}), got {text!r}"
    arm = text.split(".", 1)[0]
    if arm not in ARMS:
        return f"unknown arm {arm!r} in {text!r}; expected one of {', '.join(ARMS)}"
    return None


class SweepParameter(ParameterDistribution):
    """How one parameter varies: ``levels``, a range (``low``, ``high``, ``steps``) or a
    distribution (the keys of :class:`ParameterDistribution`), and its one-way ``base``."""

    distribution: DistributionKind | None = None  # type: ignore[assignment]
    levels: list[Any] | None = Field(None, min_length=1)
    steps: AtLeastTwo | None = None
    base: Any = None
    integer: StrictBool = False
    price_year: Annotated[str, Field(pattern=r"^\d{4}-\d{2}$")] | None = Field(
        None, description="money: the financial year its values are in (uprated to the "
        "scenario's price year with the GDP deflator, as a scenario's money is)")
    source: str | None = None
    assumption: str | None = None
    note: str | None = None

    def _check(self) -> None:
        if self.distribution is not None:
            super()._check()
            return
        for key in (*DIST_ARGS, "bounds"):
            if getattr(self, key) is not None:
                raise error_at(key, f"{key} belongs to a distribution; add distribution: (or, "
                               "for a range, give only low and high)")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise error_at("low", f"low ({self.low:g}) must not exceed high ({self.high:g})")

    @field_validator("base")
    @classmethod
    def _one_value(cls, value: Any) -> Any:
        if isinstance(value, (dict, list)):
            raise ValueError("expected one value (the parameter's value at the base point)")
        return value


class Acceptability(Strict):
    max_cost_per_offender: Positive | None = Field(
        None, description="the highest IOM cost per offender on the curve, in pounds")
    max_benefit_per_pound: Positive | None = Field(
        None, description="the highest threshold of the benefit-cost acceptability curves "
        "(acceptability_by_measure.csv); default 4, or the largest 97.5th percentile if higher")
    steps: CurveSteps = 101


class SweepFile(Strict):
    """A sweep file as written (see the module's documentation)."""

    scenario: str = Field(description="the base scenario file, relative to the sweep file")
    overrides: dict[str, Any] | None = None
    design: Literal[DESIGNS] = Field(description=f"one of {', '.join(DESIGNS)}")  # type: ignore
    samples: Count | None = None
    replications: Replications = 10
    seed: Seed = 1
    common_random_numbers: StrictBool = True
    measures: Any = None
    primary_measure: str = "economics.benefit_per_pound"
    parameters: dict[str, SweepParameter] | None = Field(
        None, description="dotted scenario paths and how each varies (required unless a psa "
        "design samples a posterior: or scenario values with an uncertainty:)")
    posterior: str | None = Field(
        None, description="psa: a calibration's posterior CSV (iomsim calibrate, method: abc), "
        "relative to the sweep file; each sample takes one accepted draw")
    levels: AtLeastTwo = 4
    second_order: StrictBool = False
    sampling: Literal["random", "lhs"] = "random"
    acceptability: Acceptability | None = None
    scenario_uncertainty: StrictBool = Field(
        True, description="psa: also draw every scenario value that carries an uncertainty: "
        "(false: only parameters: and posterior:)")
    name: str | None = None
    description: str | None = None
    engine: str = DEFAULT_ENGINE

    @field_validator("overrides", mode="before")
    @classmethod
    def _override_paths(cls, value: Any) -> Any:
        for dotted in value if isinstance(value, dict) else ():
            problem = parameter_problem(str(dotted))
            if dotted == IOM_COST_SCALE:
                problem = f"{IOM_COST_SCALE} is a sweep parameter, not a scenario override"
            if problem:
                raise error_at(str(dotted), problem)
        return value

    @field_validator("parameters", mode="before")
    @classmethod
    def _parameter_paths(cls, value: Any) -> Any:
        # Before each parameter's own keys: a wrong path is the bigger mistake.
        if isinstance(value, dict) and not value:
            raise ValueError("expected a mapping of dotted scenario paths to how each varies")
        for dotted in value if isinstance(value, dict) else ():
            problem = parameter_problem(str(dotted))
            if problem:
                raise error_at(str(dotted), problem)
        return value

    @field_validator("posterior", mode="before")
    @classmethod
    def _posterior_name(cls, value: Any) -> Any:
        return str(value) if isinstance(value, Path) else value

    @field_validator("measures")
    @classmethod
    def _measures(cls, value: Any) -> Any:
        if value is None or value == "all":
            return value
        if not isinstance(value, list) or not value:
            raise ValueError("expected a list of arm.measure names (or all)")
        for i, text in enumerate(value):
            problem = _measure_problem(text)
            if problem:
                raise error_at(i, problem)
        return value

    @field_validator("primary_measure")
    @classmethod
    def _primary(cls, value: str) -> str:
        problem = _measure_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("engine")
    @classmethod
    def _engine(cls, value: str) -> str:
        if value not in ENGINES:
            raise ValueError(f"unknown engine {value!r}; expected one of {', '.join(ENGINES)}")
        return value


SWEEP_PATHS = SchemaPaths(SweepFile.model_json_schema)


# --------------------------------------------------------------------------- the checked sweep

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
    engine: str = DEFAULT_ENGINE  # part of the hash: a sweep folder never mixes engines
    # SHA-256 of every file the scenario was read from (extends: chain, cohort CSV), by path,
    # and of the posterior file a psa samples.
    inputs: dict[str, str] = field(default_factory=dict)
    posterior: PosteriorDraws | None = None
    # psa: the scenario values drawn from their own uncertainty: (path -> the distribution, as
    # scenario.meta.uncertainty gives it), and where each is written ("file:line").
    scenario_uncertainty: dict[str, dict[str, Any]] = field(default_factory=dict)
    uncertainty_origins: dict[str, str] = field(default_factory=dict)

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
        """Hash of everything a point's numbers depend on: the sweep definition, the resolved
        base scenario (after its overrides), the content of every file it was read from (its
        ``extends:`` chain and cohort CSV: a CSV's numbers are not in the resolved scenario,
        only its name), the content of the posterior file a psa samples, the engine and the
        package version."""
        # The engine that runs, written out or not: the same sweep file with or without
        # ``engine: compiled`` is one sweep, and a folder made by one engine never resumes with
        # the other.
        # The posterior file by content (in ``inputs``), as the scenario is, not by its name.
        data = {k: v for k, v in self.data.items() if k not in ("scenario", "posterior")}
        data["engine"] = self.engine
        # The package version is part of it: a sweep is never resumed with another model version.
        payload = {"format": SWEEP_FORMAT, "sweep": data, "scenario": self.scenario.meta.hash,
                   "iomsim": __version__,
                   # Contents only: the same files in a moved folder are the same sweep.
                   "inputs": list(self.inputs.values())}
        if self.scenario_uncertainty:  # what the points are drawn from (files aside)
            payload["scenario_uncertainty"] = self.scenario_uncertainty
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def where(self, name: str) -> str:
        """The sweep file's YAML path that gives the parameter ``name``: ``posterior`` for a
        column of the posterior file, ``scenario`` for a scenario value drawn from its own
        uncertainty, else ``parameters.<name>``."""
        if name in self.design.posterior_columns:
            return "posterior"
        if name in self.scenario_uncertainty:
            return "scenario"
        return f"parameters.{name}"

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
    origin = document_origin(file, doc)

    def err(message: str, path: str | None) -> SweepError:
        return SweepError(message, file=file, line=origin(path or "")[1], path=path)

    base: Scenario | None = None
    if isinstance(data.get("scenario"), Scenario):
        base = data["scenario"]
        data = {**data, "scenario": f"<scenario {base.meta.hash[:12]}>"}
    elif isinstance(data.get("scenario"), Path):
        data = {**data, "scenario": str(data["scenario"])}
    sweep = validate_data(SweepFile, data, paths=SWEEP_PATHS, origin=origin, error=SweepError)

    # -- base scenario, with the sweep's overrides
    if base is None:
        # A path relative to the sweep file, else a shipped scenario by name (sussex-2013).
        path = folder / sweep.scenario
        shipped = None if path.exists() else shipped_scenario(sweep.scenario)
        if shipped is not None:
            base = load_scenario(shipped)
        elif doc is not None:  # a sweep file names its scenario as a scenario names extends:
            _check_scenario_path(sweep.scenario, folder, err)
            # Named as the sweep file was, so that errors show the path the user would.
            base = load_scenario(Path(file).parent / sweep.scenario)
        else:
            base = load_scenario(path)
    if sweep.overrides:
        try:
            base = apply_overrides(base, sweep.overrides)
        except InputError as exc:
            first = err(exc.message, f"overrides.{exc.path}" if exc.path else "overrides")
            first.more = tuple(err(m.message, f"overrides.{m.path}" if m.path else "overrides")
                               for m in exc.more)
            raise first from None

    # -- a calibration's accepted draws
    posterior: PosteriorDraws | None = None
    if sweep.posterior is not None:
        posterior = _read_posterior(sweep, base, folder, doc is not None, err)
    uncertain, origins = _scenario_uncertainty(sweep, base, posterior)
    if posterior is None and not sweep.parameters and not uncertain:
        raise err("expected a mapping of dotted scenario paths to how each varies (or, in a psa "
                  "design, a posterior: to sample, or scenario values with an uncertainty:)",
                  "parameters")

    # -- parameters
    params: list[Parameter] = []
    for dotted, spec in (sweep.parameters or {}).items():
        where = f"parameters.{dotted}"
        try:
            value_now = current_value(base, dotted)
        except PathLookupError as exc:
            raise err(f"the scenario has no value at this path: {exc.message}", where) from None
        node = schema_node(dotted) or {}
        if dotted == IOM_COST_SCALE or node.get("type") in ("number", "integer"):
            _check_numbers(spec, lambda m, k: err(m, f"{where}.{k}"))
        if spec.price_year is not None:
            spec = _uprated(spec, dotted, base, lambda m, k: err(m, f"{where}.{k}"))
        base_value = spec.base if spec.base is not None else value_now
        if not isinstance(base_value, (int, float, str, bool)):
            base_value = None
        try:
            p = Parameter(path=dotted, low=spec.low, high=spec.high, levels=spec.levels,
                          steps=spec.steps, distribution=spec.distribution,
                          args={k: getattr(spec, k) for k in DIST_ARGS
                                if getattr(spec, k) is not None},
                          base=base_value, bounds=spec.bounds,
                          integer=spec.integer or node.get("type") == "integer")
        except DesignError as exc:
            raise err(str(exc), f"{where}.{exc.key}" if exc.key else where) from None
        if sweep.design == "oneway" and p.base is None:
            raise err("a one-way design needs a base value here (the scenario's value is not a "
                      "number); add base:", where)
        params.append(p)
    for dotted, u in uncertain.items():
        node = schema_node(dotted) or {}
        try:
            params.append(Parameter(
                path=dotted, distribution=u["distribution"],
                args={k: u[k] for k in DIST_ARGS if k in u}, low=u.get("low"),
                high=u.get("high"), bounds=u.get("bounds"), base=current_value(base, dotted),
                integer=bool(u.get("integer")) or node.get("type") == "integer"))
        except DesignError as exc:
            raise err(f"the uncertainty of {dotted} ({origins[dotted]}): {exc}",
                      "scenario") from None

    try:
        design = make_design(sweep.design, params, samples=sweep.samples, seed=sweep.seed,
                             num_levels=sweep.levels, second_order=sweep.second_order,
                             sampling=sweep.sampling,
                             posterior=posterior.values if posterior is not None else None)
    except DesignError as exc:
        raise err(str(exc), exc.key or "design") from None

    primary = _pair(sweep.primary_measure)
    measures = _measures(sweep.measures)
    if measures is not None and primary not in measures:
        measures.append(primary)
    inputs = file_digests(base)
    if posterior is not None:  # its numbers are the points': a changed file is another sweep
        inputs[str(posterior.path.resolve())] = posterior.digest
    spec_obj = SweepSpec(file=file, data=data, scenario=base, design=design,
                         replications=sweep.replications, seed=sweep.seed,
                         common_random_numbers=sweep.common_random_numbers, measures=measures,
                         primary_measure=primary,
                         acceptability=(sweep.acceptability or Acceptability()).model_dump(),
                         doc=doc, engine=sweep.engine, inputs=inputs, posterior=posterior,
                         scenario_uncertainty=uncertain, uncertainty_origins=origins)
    try:
        check_engine(base, sweep.engine)
    except InputError as exc:  # a feature of the scenario: say where, at the sweep's engine key
        where = f"{exc.file}{f':{exc.line}' if exc.line else ''}"
        raise err(f"{exc.message} ({exc.path} at {where}); use engine: simpy", "engine") from None
    _check_points(spec_obj)
    return spec_obj


def _scenario_uncertainty(sweep: SweepFile, base: Scenario, posterior: PosteriorDraws | None
                          ) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """The scenario values a psa draws from their own ``uncertainty:`` (by path, in the order
    the scenario gives them), and where each uncertainty is written: every one the scenario
    has (after the sweep's overrides, which drop what they set), but those the posterior or
    ``parameters:`` give."""
    if sweep.design != "psa" or not sweep.scenario_uncertainty:
        return {}, {}
    given = [*(posterior.columns if posterior is not None else ()), *(sweep.parameters or {})]
    out: dict[str, dict[str, Any]] = {}
    origins: dict[str, str] = {}
    for dotted, u in base.meta.uncertainty.items():
        if any(dotted == g or is_within(dotted, g) or is_within(g, dotted) for g in given):
            continue
        out[dotted] = dict(u)
        file, line = origin_of(base, f"{dotted}.uncertainty")
        origins[dotted] = f"{Path(file).name}{f':{line}' if line else ''}" if file else dotted
    return out, origins


def _check_numbers(spec: SweepParameter, err) -> None:
    """Refuse a level or base of a numeric parameter that is not a number. YAML 1.1 reads
    ``1e-300`` (no point in the mantissa) as text: it is refused with how to write it, not
    converted behind the user's back."""
    given = [(f"levels[{i}]", v) for i, v in enumerate(spec.levels or ())]
    if spec.base is not None:
        given.append(("base", spec.base))
    for key, value in given:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise err(f"expected a number, got {_not_a_number(value)}", key)


def _not_a_number(value: Any) -> str:
    """How a value that should have been a number is described (with how to write it as one,
    when it is text that reads as a number)."""
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if not isinstance(value, str):
        return f"{type(value).__name__} {value!r}"
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:40] + "..."
    try:
        number = float(value)
    except ValueError:
        return f"the text {shown}"
    mantissa, _, exponent = value.strip().lower().partition("e")
    if exponent and "." not in mantissa and np.isfinite(number):
        sign = "-" if mantissa.startswith("-") else ""
        digits = mantissa.lstrip("+-")
        return (f"the text {shown} (YAML reads a number with an exponent but no point as text; "
                f"write {sign}{digits}.0e{exponent.lstrip('+')})")
    return f"the text {shown} (write it without quotes)"


def _uprated(spec: SweepParameter, dotted: str, base: Scenario, err) -> SweepParameter:
    """``spec`` with its money uprated from its ``price_year`` to the scenario's (the GDP
    deflator ratio, as the loader uprates a scenario's money): every value in pounds (``low``,
    ``high``, ``levels``, ``base``, ``mean``, ``sd``, ``mode``, ``value``, a gamma's ``scale``)
    is multiplied, a lognormal's ``meanlog`` moved by the log of the factor."""
    if not path_is_money(dotted):
        raise err("price_year belongs to money (a value the schema gives in £ at price_year); "
                  "this parameter is not money", "price_year")
    if spec.distribution == "beta" and spec.bounds != "rescale":
        raise err("a beta on [0, 1] is not money; give low, high and bounds: rescale for a beta "
                  "in pounds", "price_year")
    try:
        factor = uprating_factor(spec.price_year, str(base.price_year))
    except InputError as exc:
        raise err(exc.message, "price_year") from None
    if factor == 1:
        return spec
    changed: dict[str, Any] = {}
    for key in ("low", "high", "mean", "sd", "mode", "value", "scale", "base"):
        value = getattr(spec, key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            changed[key] = value * factor
    if spec.meanlog is not None:
        changed["meanlog"] = spec.meanlog + float(np.log(factor))
    if spec.levels is not None:
        changed["levels"] = [v * factor if isinstance(v, (int, float)) and not isinstance(v, bool)
                             else v for v in spec.levels]
    return spec.model_copy(update=changed)


def _check_scenario_path(name: str, folder: Path, err, key: str = "scenario") -> None:
    """Refuse, without reading it, a ``scenario:`` that is not a ``.yaml`` file under the sweep
    file's folder, directly in the folder above it (``../x.yaml``, the layout of the shipped
    ``scenarios/sweeps/``), under the shipped ``scenarios/`` or a folder of
    ``IOMSIM_EXTENDS_PATH``: as ``extends:`` is confined, so that a sweep file cannot make
    iomsim read (and quote in its errors) any file on the machine. ``key: posterior`` confines
    a posterior file alike, a ``.csv`` file."""
    suffixes, kind, what = ((".csv",), ".csv", "a posterior CSV file") if key == "posterior" \
        else ((".yaml", ".yml"), ".yaml", "a scenario file")
    shown = repr(name) if len(repr(name)) <= 80 else repr(name)[:80] + "..."
    try:
        resolved = (folder / name).resolve()
    except (OSError, ValueError) as exc:
        raise err(f"{shown} is not a usable file name ({getattr(exc, 'strerror', None) or exc})",
                  key) from None
    roots = extends_roots(folder)
    if not (any(resolved.is_relative_to(root) for root in roots)
            or resolved.parent == folder.parent):
        shipped = "a shipped scenario" if key == "scenario" else "one in the shipped scenarios/"
        raise err(f"{shown} is outside the sweep file's folder; {key}: may name a {kind} file "
                  "under the sweep file's folder or directly in the folder above it, or "
                  f"{shipped} (add the folder to {EXTENDS_PATH_ENV} to allow another on "
                  "purpose)", key)
    if resolved.suffix not in suffixes:
        raise err(f"{shown} is not a {kind} file; expected {what}", key)


def _read_posterior(sweep: SweepFile, base: Scenario, folder: Path, confined: bool, err
                    ) -> PosteriorDraws:
    """The accepted draws of the sweep's ``posterior:``, every parameter column a path of the
    scenario that neither the sweep's ``overrides:`` nor its ``parameters:`` also set (whole
    numbers rounded where the schema types them so)."""
    if sweep.design != "psa":
        raise err(f"belongs to a psa design (each sample takes one accepted draw), "
                  f"not {sweep.design}", "posterior")
    name = sweep.posterior
    if confined:  # a sweep file names its posterior as it names its scenario
        _check_scenario_path(name, folder, err, key="posterior")
    try:
        draws = read_posterior(folder / name, shown=name)
    except PosteriorFileError as exc:
        raise err(str(exc), "posterior") from None
    for column in draws.columns:
        problem = parameter_problem(column)
        if problem is None:
            try:
                current_value(base, column)
            except PathLookupError as exc:
                problem = f"the scenario has no value at this path: {exc.message}"
        if problem:
            shown = repr(column) if len(repr(column)) <= 80 else repr(column)[:80] + "..."
            raise err(f"{name} column {shown}: {problem}; the columns of a posterior file other "
                      "than sim:..., selected, distance, accepted and chosen are scenario "
                      "paths", "posterior")
        if column in (sweep.overrides or {}):
            raise err(f"{column} is set by overrides: and by the posterior's draws; remove it "
                      "from overrides:", f"overrides.{column}")
        if (schema_node(column) or {}).get("type") == "integer":
            draws.values[column] = draws.values[column].round().astype(int)
    return draws


def _pair(text: str) -> tuple[str, str]:
    arm, measure = text.split(".", 1)
    return arm, measure


def _measures(raw: Any) -> list[tuple[str, str]] | None:
    if raw == "all":
        return None
    out: list[tuple[str, str]] = []
    for text in raw if raw is not None else DEFAULT_MEASURES:
        if _pair(text) not in out:
            out.append(_pair(text))
    for text in REQUIRED_MEASURES:
        if _pair(text) not in out:
            out.append(_pair(text))
    return out


def _check_points(spec: SweepSpec) -> None:
    """Apply every design point to the scenario, so a bad value fails before anything runs."""
    seen: set[str] = set()
    horizons: set[float] = set()
    for point in range(spec.n_points):
        values = spec.point_values(point)
        key = json.dumps(values, sort_keys=True, default=str)
        if key in seen:
            continue
        seen.add(key)
        try:
            scenario = point_scenario(spec.scenario, values)
        except InputError as exc:
            # Values drawn from the scenario's uncertainty. A rule between values (a cohort
            # smaller than its selection) broken where every value was drawn so is the draws'
            # doing: it is shown where they come from.
            uncertain = [k for k in values if k in spec.uncertainty_origins]
            all_drawn = bool(uncertain) and len(uncertain) == len(values)

            def where_of(path: str | None) -> str:
                bad = path if path in values else \
                    next((k for k in values if path and is_within(path, k)), None)
                bad = bad or (uncertain[0] if all_drawn else None)
                return spec.where(bad) if bad else "parameters"

            shown = ", ".join(f"{k}={v!r}" for k, v in values.items())
            drawn = ""
            bad = exc.path if exc.path in spec.uncertainty_origins else next(
                (k for k in spec.uncertainty_origins if exc.path and is_within(exc.path, k)), None)
            if bad is not None:
                drawn = f" ({bad} drawn from its uncertainty at {spec.uncertainty_origins[bad]})"
            elif all_drawn and len(uncertain) <= 3:
                drawn = " (" + ", ".join(f"{k} drawn from its uncertainty at "
                                         f"{spec.uncertainty_origins[k]}" for k in uncertain) + ")"
            elif all_drawn:
                drawn = f" ({len(uncertain)} values drawn from their uncertainty)"
            elif spec.design.posterior_draws is not None:
                drawn = (f" (draw {int(spec.design.posterior_draws[point])} of "
                         f"{spec.data['posterior']})")
            head = f"design point {point}{drawn} ({shown}) is not a valid scenario: "
            first = spec.error(f"{head}{exc.path + ': ' if exc.path else ''}{exc.message}",
                               where_of(exc.path))
            # Every other problem of the point on its own line, as the message promises.
            first.more = tuple(
                spec.error(f"design point {point}: {m.path + ': ' if m.path else ''}{m.message}",
                           where_of(m.path)) for m in exc.more)
            raise first from None
        if scenario.horizon_years not in horizons:
            horizons.add(scenario.horizon_years)
            _check_primary_window(spec, scenario, point, values)


def _check_primary_window(spec: SweepSpec, scenario: Scenario, point: int,
                          values: dict[str, Any]) -> None:
    """Refuse a primary measure whose window runs past the horizon of ``point``'s scenario: the
    model gives it no value (NaN), so the tornado, Sobol or Morris table would be empty."""
    from iomsim.engine.measures import window_days
    from iomsim.engine.model import DAYS_PER_YEAR

    arm, measure = spec.primary_measure
    days = window_days(measure)
    horizon = float(scenario.horizon_years)
    if days <= horizon * DAYS_PER_YEAR + 1e-9:
        return
    name = f"{arm}.{measure}"
    months = 12 * days / DAYS_PER_YEAR
    years = int(np.ceil(days / DAYS_PER_YEAR - 1e-9))
    of = "the scenario's" if "horizon_years" not in values else f"design point {point}'s"
    other = measure.replace("_24m", "_12m")
    if other == measure or window_days(other) > horizon * DAYS_PER_YEAR + 1e-9:
        other = "benefit_per_pound"
        arm = "economics"
    raise spec.error(f"{name} needs {months:g} months after day 0, past {of} "
                     f"{horizon:g}-year horizon (the model gives it no value there); "
                     f"lengthen horizon_years (to at least {years}) or choose a measure the "
                     f"horizon covers, such as {arm}.{other}",
                     "primary_measure" if "primary_measure" in spec.data else "measures")
