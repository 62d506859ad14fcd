"""Fit scenario parameters to published targets, with common random numbers.

A targets file (YAML) names the parameters to fit, as dotted paths with bounds, and the targets
to fit them to::

    reps: 40                 # replications at every evaluation (the same ones each time)
    seed: 1
    max_evaluations: 60
    overrides: {cohort.size: 1500}      # optional, applied while fitting only
    parameters:
      iom.effects.offending_multiplier: {low: 0.02, high: 1.0, start: 0.3}
    targets:
      - {metric: reconviction_rate_24m, arm: iom, value: 0.19, tolerance: 0.03}
      - {metric: benefit_per_pound, value: 1.59, tolerance: 0.15}           # economics.csv
      - {agency_share: housing, arm: iom, value: 0.55, tolerance: 0.03}     # costs_by_agency
      - {agency_cost: prison, arm: iom, value: 10370, tolerance: 1000}
      - {total_agency_cost: iom, value: 61000, tolerance: 3050}             # all agencies

Each target names one of ``metric``, ``agency_share``, ``agency_cost`` or
``total_agency_cost``, and may say ``fit: false`` (reported, not fitted), ``note`` and
``source``. The file is checked by the pydantic model :class:`TargetsSpec`; a problem is one
line naming the file, line and YAML path, as for a scenario.

Every evaluation runs the same seed and replications, so the objective (the sum of squared
gaps, each divided by its tolerance) changes only through the parameters and is as smooth as
the model allows. Only assumptions and behavioural rates may be fitted: a money parameter whose
provenance is ``source:`` is refused. The fitted scenario is written as a small file that
``extends:`` the one fitted and sets each fitted value with ``calibrated:`` provenance naming
the targets and the command.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Callable, Literal, Sequence

import numpy as np
import yaml
from pydantic import AfterValidator, Field, StrictBool, field_validator, model_validator

from iomsim.defaults import DEFAULT_ENGINE, MAX_REPS
from iomsim.errors import InputError
from iomsim.scenario.loader import apply_overrides, path_is_money, schema_has_path, suggest_path
from iomsim.scenario.paths import (EXAMPLE, PathLookupError, PathSyntaxError, SchemaPaths,
                                   get_value, parse, set_value)
from iomsim.scenario.schema import Positive, Strict, whole_number
from iomsim.scenario.validation import document_origin, error_at, validate_data
from iomsim.scenario.yamlio import read_yaml_file

ECONOMICS_ARM = "economics"


class _Budget(Exception):
    """Raised inside the objective when the evaluation budget is spent."""


@dataclass
class Parameter:
    path: str
    low: float
    high: float
    start: float | None = None


@dataclass
class Target:
    kind: str  # metric, agency_share, agency_cost, total_agency_cost
    name: str  # metric name or agency ("" for total)
    arm: str
    value: float
    tolerance: float
    fit: bool = True

    @property
    def label(self) -> str:
        if self.kind == "metric":
            return self.name if self.arm == ECONOMICS_ARM else f"{self.name} [{self.arm}]"
        if self.kind == "total_agency_cost":
            return f"total agency cost [{self.arm}]"
        return f"{self.kind.replace('_', ' ')} {self.name} [{self.arm}]"


@dataclass
class TargetsFile:
    file: str
    parameters: list[Parameter]
    targets: list[Target]
    reps: int = 20
    seed: int = 1
    jobs: int = 1
    max_evaluations: int = 60
    overrides: dict[str, Any] | None = None
    step_scale: str = "range"
    method: str = "least_squares"
    draws: int = 200
    accept: int = 20
    priors: dict[str, Any] | None = None  # path -> iomsim.posterior.Prior (method abc)


@dataclass
class Fit:
    parameters: dict[str, float]
    rows: list[tuple[Target, float]]
    objective: float
    evaluations: int


# --------------------------------------------------------------------------- reading targets

TARGET_KINDS = ("metric", "agency_share", "agency_cost", "total_agency_cost")
Count = whole_number(1)
Replications = whole_number(1, MAX_REPS)
Draws = whole_number(1, 100_000)
Seed = whole_number(0)


class FitParameterSpec(Strict):
    """A fitted parameter's range (and starting value) as a targets file gives it."""

    low: float
    high: float
    start: float | None = None
    prior: Literal["uniform", "lognormal", "beta", "normal"] = Field(
        "uniform", description="method abc: the prior, truncated to [low, high]")
    median: Positive | None = Field(None, description="lognormal prior: its median")
    sigma_log: Positive | None = Field(None, description="lognormal prior: sd of its log")
    a: Positive | None = Field(None, description="beta prior: first shape")
    b: Positive | None = Field(None, description="beta prior: second shape")
    mean: float | None = Field(None, description="normal prior: its mean")
    sd: Positive | None = Field(None, description="normal prior: its sd")
    source: str | None = Field(None, description="where the prior comes from")

    @model_validator(mode="after")
    def _inside(self) -> "FitParameterSpec":
        needs = {"lognormal": ("median", "sigma_log"), "beta": ("a", "b"),
                 "normal": ("mean", "sd"), "uniform": ()}[self.prior]
        missing = [k for k in needs if getattr(self, k) is None]
        if missing:
            raise error_at(missing[0], f"a {self.prior} prior needs {' and '.join(needs)}")
        if not self.low < self.high:
            raise error_at("low", f"low ({self.low:g}) must be below high ({self.high:g})")
        if self.start is not None and not self.low <= self.start <= self.high:
            raise error_at("start", f"start {self.start:g} is outside [{self.low:g}, "
                           f"{self.high:g}]")
        return self


class TargetSpec(Strict):
    """One target as a targets file gives it: what to measure (one of :data:`TARGET_KINDS`),
    in which arm, the value to reach and the tolerance the objective divides the gap by."""

    metric: str | None = None
    agency_share: str | None = None
    agency_cost: str | None = None
    total_agency_cost: str | None = Field(None, description="the arm whose total is the target")
    arm: str = "iom"
    value: float
    tolerance: Positive
    fit: StrictBool = True
    note: str | None = None
    source: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _one_kind(cls, data: Any) -> Any:
        if isinstance(data, dict):
            kinds = [k for k in TARGET_KINDS if k in data]
            if len(kinds) != 1:
                got = f"; got {' and '.join(kinds)}" if kinds else ""
                raise ValueError(f"expected one of {', '.join(TARGET_KINDS)} (what the target "
                                 f"measures){got}")
        return data

    def target(self) -> "Target":
        if self.total_agency_cost is not None:
            return Target("total_agency_cost", "", self.total_agency_cost, self.value,
                          self.tolerance, self.fit)
        kind = next(k for k in TARGET_KINDS if getattr(self, k) is not None)
        return Target(kind, getattr(self, kind), self.arm, self.value, self.tolerance, self.fit)


def _step_scale(value: str) -> str:
    if value not in ("range", "position"):
        raise ValueError("expected range (steps of 5-10% of each range) or position (steps of 5% "
                         "of each parameter's position in its range)")
    return value


class TargetsSpec(Strict):
    """A targets file as written (see the module's documentation)."""

    parameters: dict[str, FitParameterSpec] = Field(
        description="dotted scenario paths to fit, each with {low, high} and optionally start")
    targets: list[TargetSpec] = Field(description="the targets to fit to")
    reps: Replications = 20
    seed: Seed = 1
    jobs: Count = 1
    max_evaluations: Count = 60
    overrides: dict[str, Any] | None = None
    step_scale: Annotated[str, AfterValidator(_step_scale)] = "range"
    method: Literal["least_squares", "abc"] = Field(
        "least_squares", description="least_squares (a local fit from start values) or abc "
        "(rejection approximate Bayesian computation from the parameters' priors)")
    # Drawn together (a Latin hypercube) before the first is run: bounded as a sweep's design is.
    draws: Draws = Field(200, description="method abc: parameter sets drawn from the priors")
    accept: Count = Field(20, description="method abc: the nearest draws kept")
    description: str | None = None
    scenario: str | None = None
    note: str | None = None

    @field_validator("targets", mode="before")
    @classmethod
    def _some(cls, value: Any) -> Any:
        if isinstance(value, list) and not value:
            raise ValueError("expected at least one target")
        return value

    @field_validator("parameters", mode="before")
    @classmethod
    def _paths(cls, value: Any) -> Any:
        if isinstance(value, dict) and not value:
            raise ValueError("expected at least one parameter: a mapping of dotted scenario "
                             "paths to {low: ..., high: ...}")
        for dotted in value if isinstance(value, dict) else ():
            problem = _fit_path_problem(str(dotted))
            if problem:
                raise error_at(str(dotted), problem)
        return value


def _fit_path_problem(dotted: str) -> str | None:
    try:
        parts = parse(dotted)
    except PathSyntaxError as exc:
        return f"{exc}; expected a dotted path such as {EXAMPLE}"
    if not schema_has_path(dotted):
        return f"no scenario parameter at this path{suggest_path(dotted)}"
    if any(isinstance(p, int) for p in parts):
        # The fitted file extends the scenario, and extends replaces a list whole.
        return "parameters inside lists cannot be fitted; name a mapping path"
    return None


TARGETS_PATHS = SchemaPaths(TargetsSpec.model_json_schema)


def read_targets(path: str | Path) -> TargetsFile:
    """Read and check a targets file; problems raise :class:`InputError` naming file and line."""
    doc = read_yaml_file(Path(path))
    f = str(path)
    if not isinstance(doc.data, dict):
        raise InputError("expected a mapping with parameters and targets", file=f,
                         line=1 if doc.data is not None else None)
    spec = validate_data(TargetsSpec, doc.data, paths=TARGETS_PATHS,
                         origin=document_origin(f, doc), error=InputError)
    return TargetsFile(
        file=f, parameters=[Parameter(p, q.low, q.high, q.start)
                            for p, q in spec.parameters.items()],
        targets=[t.target() for t in spec.targets], reps=spec.reps, seed=spec.seed,
        jobs=spec.jobs, max_evaluations=spec.max_evaluations, overrides=spec.overrides or {},
        step_scale=spec.step_scale, method=spec.method, draws=spec.draws,
        accept=min(spec.accept, spec.draws),
        priors={p: _prior(q) for p, q in spec.parameters.items()})


def _prior(q: FitParameterSpec):
    from iomsim.posterior import Prior
    return Prior(kind=q.prior, low=q.low, high=q.high, median=q.median, sigma_log=q.sigma_log,
                 a=q.a, b=q.b, mean=q.mean, sd=q.sd, source=q.source)


# --------------------------------------------------------------------------- measuring

def measure(results, target: Target) -> float:
    """The simulated value of one target from a :class:`~iomsim.results.Results`."""
    if target.kind == "metric":
        o = results.outcomes
        row = o[(o["arm"] == target.arm) & (o["metric"] == target.name)]
        if len(row):
            return float(row["value"].iloc[0])
        e = results.economics
        row = e[e["metric"] == target.name]
        if len(row):
            return float(row["value"].iloc[0])
        raise InputError(f"no outcome or economics metric named {target.name!r}",
                         path="targets")
    c = results.costs_by_agency
    c = c[(c["arm"] == target.arm) & (c["agency"] != "victims")]
    if target.kind == "total_agency_cost":
        return float(c["cost"].sum())
    row = c[c["agency"] == target.name]
    if not len(row):
        return 0.0
    col = "share" if target.kind == "agency_share" else "cost"
    return float(row[col].iloc[0])


def check_calibratable(scenario, params: Sequence[Parameter], file: str | None = None) -> None:
    """Refuse to fit a sourced unit cost (money whose provenance names a ``source:``, even if an
    ``assumption:`` adjusts it, as the cost of crime's criminal-justice split does)."""
    prov = scenario.meta.provenance if scenario.meta is not None else {}
    for p in params:
        if not path_is_money(p.path):
            continue
        meta = prov.get(p.path, {})
        if "source" in meta:
            raise InputError("is a sourced unit cost; calibrate only assumptions and behavioural "
                             "rates", file=file, path=p.path)


def check_windows(scenario, targets: TargetsFile) -> None:
    """Refuse a metric target whose window runs past the scenario's horizon: the model gives it
    no value (NaN), never a count over part of its window."""
    from iomsim.engine.measures import window_days
    from iomsim.engine.model import DAYS_PER_YEAR

    horizon_days = scenario.horizon_years * DAYS_PER_YEAR
    for t in targets.targets:
        days = window_days(t.name) if t.kind == "metric" else 0.0
        if days > horizon_days + 1e-9:
            raise InputError(f"target {t.label} needs {12 * days / DAYS_PER_YEAR:g} months "
                             f"after day 0, past the {scenario.horizon_years:g}-year "
                             "horizon; lengthen horizon_years or drop the target",
                             file=targets.file, path="targets")


def current_value(scenario, path: str) -> float | None:
    """The number at ``path`` in the validated scenario (its default if the file leaves it
    out), or None when there is no number there."""
    try:
        node = get_value(scenario, path)
    except (PathLookupError, PathSyntaxError):
        return None
    if isinstance(node, bool) or not isinstance(node, (int, float)):
        return None
    return float(node)


# --------------------------------------------------------------------------- fitting

def calibrate(scenario, targets: TargetsFile, *, reps: int | None = None, seed: int | None = None,
              jobs: int | None = None, max_evaluations: int | None = None,
              log: Callable[[str], None] | None = None, scheduler: str | None = None,
              engine: str = DEFAULT_ENGINE, progress: bool | None = None) -> Fit:
    """Fit ``targets.parameters`` of ``scenario`` to ``targets.targets``.

    Bounded trust-region least squares (scipy.optimize.least_squares) on parameters scaled to
    [1, 2], with the same seed and replications at every evaluation (common random numbers).
    ``max_evaluations`` bounds the simulations run. Returns the best point found and its gaps.
    Each evaluation's replications run as :func:`iomsim.run`'s do, on ``jobs`` local processes
    or the Dask ``scheduler`` (``"tcp://HOST:PORT"`` or ``"local"``), started once for the fit.
    ``progress`` shows a bar of evaluations on stderr (default: when stderr is a terminal and
    the fit lasts); ``log`` lines are written above it.
    """
    from scipy.optimize import least_squares
    from tqdm import tqdm

    from iomsim.runner import open_backend, prepare_engine, run_with

    prepare_engine(scenario, engine, announce=progress is not False)

    reps = reps or targets.reps
    seed = targets.seed if seed is None else seed
    jobs = jobs or targets.jobs
    max_evaluations = max_evaluations or targets.max_evaluations
    params = targets.parameters
    check_calibratable(scenario, params, targets.file)
    base = apply_overrides(scenario, targets.overrides) if targets.overrides else scenario
    check_windows(base, targets)
    lo = np.array([p.low for p in params])
    hi = np.array([p.high for p in params])
    x0 = []
    for p in params:
        v = p.start if p.start is not None else current_value(base, p.path)
        if v is None:
            v = (p.low + p.high) / 2
        x0.append(min(max(v, p.low), p.high))
    # Scaled coordinates z = offset + (x - low) / (high - low). least_squares takes its
    # finite-difference step relative to |z|: with offset 1 (step_scale: range, the default) the
    # step is 5-10% of each range everywhere, even at a lower bound; with offset 0 (step_scale:
    # position, kept to reproduce fits made with it) it is 5% of the parameter's position in its
    # range, which is tiny near the lower bound.
    offset = 1.0 if targets.step_scale == "range" else 0.0
    z0 = offset + (np.array(x0) - lo) / (hi - lo)
    cache: dict[tuple, tuple[float, list[tuple[Target, float]]]] = {}
    best: dict[str, Any] = {"f": math.inf}
    count = [0]

    def residuals(z: np.ndarray) -> np.ndarray:
        z = np.clip(z, offset, offset + 1.0)
        x = lo + (z - offset) * (hi - lo)
        key = tuple(np.round(x, 10))
        if key not in cache:
            if count[0] >= max_evaluations:
                raise _Budget
            # An evaluation can take minutes: the bar moves with its replications.
            res = run_with(backend, {p.path: float(v) for p, v in zip(params, x)}, reps=reps,
                           seed=seed, progress=False, engine=engine,
                           on_replications=lambda n: bar.update(n / reps))
            rows = [(t, measure(res, t)) for t in targets.targets]
            r = np.array([(v - t.value) / t.tolerance if math.isfinite(v) else 1e3
                          for t, v in rows if t.fit])
            f = float(np.sum(r ** 2))
            cache[key] = (f, rows, r)
            count[0] += 1
            if f < best["f"]:
                best.update(f=f, x=x.copy(), rows=rows)
            if log:
                xs = ", ".join(f"{p.path.rsplit('.', 1)[-1]}={v:.4g}" for p, v in zip(params, x))
                gaps = " ".join(f"{(v - t.value) / t.tolerance:+.1f}" for t, v in rows)
                with tqdm.external_write_mode():
                    log(f"  eval {count[0]:3d}: objective {f:9.3f}  {xs}  [gaps/tol {gaps}]")
        return cache[key][2]

    # Trust-region least squares on the scaled residuals (gap / tolerance of each fitted
    # target), with forward differences of 5-10% of each parameter's range: with common random
    # numbers a difference that size measures the parameter's effect, not Monte Carlo noise.
    bar = tqdm(total=max_evaluations, desc="calibrate", unit="eval", delay=1.0,
               bar_format="{l_bar}{bar}| {n:.1f}/{total} evaluations [{elapsed}<{remaining}]",
               disable={True: False, False: True, None: None}[progress])
    with bar, open_backend(base, jobs, scheduler, reps) as backend:
        try:
            least_squares(residuals, z0, bounds=(offset, offset + 1.0), method="trf",
                          diff_step=0.05, x_scale=1.0, max_nfev=max_evaluations,
                          xtol=1e-3, ftol=1e-3, gtol=1e-4)
        except _Budget:
            pass
    fitted = {p.path: float(v) for p, v in zip(params, best["x"])}
    return Fit(parameters=fitted, rows=best["rows"], objective=best["f"], evaluations=count[0])


# --------------------------------------------------------------------------- output

def format_table(fit: Fit) -> str:
    lines = [f"{'target':48s} {'target':>12s} {'fitted':>12s} {'gap':>10s} {'tol':>9s}  met"]
    for t, v in fit.rows:
        gap = v - t.value
        met = ("yes" if abs(gap) <= t.tolerance else "no") + ("" if t.fit else " (not fitted)")
        lines.append(f"{t.label[:48]:48s} {t.value:12.4g} {v:12.4g} {gap:+10.3g} "
                     f"{t.tolerance:9.3g}  {met}")
    lines.append("")
    lines.append("fitted parameters:")
    for p, v in fit.parameters.items():
        lines.append(f"  {p} = {v:.6g}")
    lines.append(f"objective {fit.objective:.4f} after {fit.evaluations} evaluations")
    return "\n".join(lines)


def fitted_yaml(scenario_path: Path, out: Path, scenario, fit: Fit, targets: TargetsFile,
                command: str, intervals: dict[str, tuple[float, float]] | None = None) -> str:
    """A scenario that extends the one fitted and sets each fitted value (``calibrated:``;
    with ``intervals``, an ABC fit: the value is the accepted draw chosen as the point, and
    the text gives the accepted draws' 5th to 95th percentiles and the prior)."""
    rel = os.path.relpath(Path(scenario_path).resolve(), Path(out).resolve().parent)
    gaps = "; ".join(f"{t.label} target {t.value:g}, fitted {v:.4g}" for t, v in fit.rows)
    body: dict[str, Any] = {}
    for path, value in fit.parameters.items():
        spread = ""
        if intervals is not None:
            lo, hi = intervals[path]
            prior = targets.priors[path]
            spread = (f"an ABC fit (the accepted draw that fitted best again at another seed), "
                      f"90% of accepted draws {lo:.4g} to {hi:.4g}; prior {prior.describe()}"
                      + (f" ({prior.source})" if prior.source else "") + "; ")
        leaf: dict[str, Any] = {
            "value": float(f"{value:.6g}"),
            "calibrated": f"{spread}targets {targets.file} ({gaps}); command: {command}",
        }
        if path_is_money(path):
            leaf["price_year"] = scenario.price_year
        set_value(body, path, leaf)
    head = (f"# Written by `{command}`.\n"
            f"# The scenario {rel} with the parameters fitted to {targets.file}.\n"
            f"# Edit {rel} or the targets and re-run the command rather than editing this file.\n")
    # Its own name, so that the fitted scenario is not reported as merely "based on" the one
    # it extends: it is that scenario, calibrated.
    name = scenario.name if scenario.name.endswith("(calibrated)") else f"{scenario.name} (calibrated)"
    described = " ".join((scenario.description or "").split())
    own = {"extends": [rel], "name": name,
           "description": (f"{described} " if described else "")
           + f"Calibrated: the values marked calibrated: are fitted to {targets.file}."}
    text = yaml.safe_dump(own, sort_keys=False, width=100, allow_unicode=True)
    text += yaml.safe_dump(body, sort_keys=False, width=100, allow_unicode=True)
    return head + text
