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
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import yaml

from iomsim.errors import InputError
from iomsim.scenario.loader import apply_overrides, load_scenario, path_is_money, schema_has_path
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


@dataclass
class Fit:
    parameters: dict[str, float]
    rows: list[tuple[Target, float]]
    objective: float
    evaluations: int


# --------------------------------------------------------------------------- reading targets

def read_targets(path: str | Path) -> TargetsFile:
    """Read and check a targets file; problems raise :class:`InputError` naming file and line."""
    doc = read_yaml_file(Path(path))
    data = doc.data
    f = str(path)

    def fail(msg: str, where: str | None = None) -> InputError:
        return InputError(msg, file=f, line=doc.line_of(where) if where else None, path=where)

    if not isinstance(data, dict):
        raise fail("expected a mapping with parameters and targets")
    known = {"parameters", "targets", "reps", "seed", "jobs", "max_evaluations", "overrides",
             "description", "scenario", "note", "step_scale"}
    for key in data:
        if key not in known:
            raise fail(f"unknown key {key!r}; expected one of {', '.join(sorted(known))}", key)
    params_in = data.get("parameters")
    if not isinstance(params_in, dict) or not params_in:
        raise fail("expected 'parameters': a mapping of dotted paths to {low, high}",
                   "parameters")
    params = []
    for p, spec in params_in.items():
        where = f"parameters.{p}"
        if not isinstance(spec, dict) or "low" not in spec or "high" not in spec:
            raise fail("expected {low: ..., high: ...} (and optionally start)", where)
        try:
            low, high = float(spec["low"]), float(spec["high"])
            start = float(spec["start"]) if spec.get("start") is not None else None
        except (TypeError, ValueError):
            raise fail("low, high and start must be numbers", where) from None
        if not low < high:
            raise fail(f"low ({low:g}) must be below high ({high:g})", where)
        if start is not None and not low <= start <= high:
            raise fail(f"start {start:g} is outside [{low:g}, {high:g}]", where)
        if "[" in str(p):
            raise fail("parameters inside lists cannot be fitted; name a mapping path", where)
        if not schema_has_path(str(p)):
            raise fail("no scenario parameter at this path", where)
        params.append(Parameter(str(p), low, high, start))
    targets_in = data.get("targets")
    if not isinstance(targets_in, list) or not targets_in:
        raise fail("expected 'targets': a list of targets", "targets")
    targets = []
    for i, t in enumerate(targets_in):
        where = f"targets[{i}]"
        if not isinstance(t, dict):
            raise fail("expected a mapping", where)
        try:
            value, tol = float(t["value"]), float(t["tolerance"])
        except KeyError as exc:
            raise fail(f"missing {exc.args[0]!r}", where) from None
        except (TypeError, ValueError):
            raise fail("value and tolerance must be numbers", where) from None
        if not tol > 0:
            raise fail("tolerance must be > 0", where)
        arm = str(t.get("arm", "iom"))
        fit_it = t.get("fit", True)
        if not isinstance(fit_it, bool):
            raise fail("fit must be true or false", where)
        if "metric" in t:
            targets.append(Target("metric", str(t["metric"]), arm,
                                  value, tol, fit_it))
        elif "agency_share" in t:
            targets.append(Target("agency_share", str(t["agency_share"]), arm, value, tol, fit_it))
        elif "agency_cost" in t:
            targets.append(Target("agency_cost", str(t["agency_cost"]), arm, value, tol, fit_it))
        elif "total_agency_cost" in t:
            targets.append(Target("total_agency_cost", "", str(t["total_agency_cost"]), value,
                                  tol, fit_it))
        else:
            raise fail("expected one of metric, agency_share, agency_cost, total_agency_cost",
                       where)
    ints = {}
    for key, default, lo in (("reps", 20, 1), ("seed", 1, 0), ("jobs", 1, 1),
                             ("max_evaluations", 60, 1)):
        v = data.get(key, default)
        if not isinstance(v, int) or isinstance(v, bool) or v < lo:
            raise fail(f"expected a whole number >= {lo}", key)
        ints[key] = v
    overrides = data.get("overrides") or {}
    if not isinstance(overrides, dict):
        raise fail("expected a mapping of dotted paths to values", "overrides")
    step_scale = data.get("step_scale", "range")
    if step_scale not in ("range", "position"):
        raise fail("expected range (steps of 5-10% of each range) or position (steps of 5% of "
                   "each parameter's position in its range)", "step_scale")
    return TargetsFile(file=f, parameters=params, targets=targets, overrides=overrides,
                       step_scale=step_scale, **ints)


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


def current_value(scenario, path: str) -> float | None:
    node: Any = scenario.meta.resolved
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    try:
        return float(node)
    except (TypeError, ValueError):
        return None


# --------------------------------------------------------------------------- fitting

def calibrate(scenario, targets: TargetsFile, *, reps: int | None = None, seed: int | None = None,
              jobs: int | None = None, max_evaluations: int | None = None,
              log: Callable[[str], None] | None = None, scheduler: str | None = None) -> Fit:
    """Fit ``targets.parameters`` of ``scenario`` to ``targets.targets``.

    Bounded trust-region least squares (scipy.optimize.least_squares) on parameters scaled to
    [1, 2], with the same seed and replications at every evaluation (common random numbers).
    ``max_evaluations`` bounds the simulations run. Returns the best point found and its gaps.
    Each evaluation's replications run as :func:`iomsim.run`'s do, on ``jobs`` local processes
    or the Dask ``scheduler`` (``"tcp://HOST:PORT"`` or ``"local"``), started once for the fit.
    """
    from scipy.optimize import least_squares

    from iomsim.runner import open_backend, run_with

    reps = reps or targets.reps
    seed = targets.seed if seed is None else seed
    jobs = jobs or targets.jobs
    max_evaluations = max_evaluations or targets.max_evaluations
    params = targets.parameters
    check_calibratable(scenario, params, targets.file)
    base = apply_overrides(scenario, targets.overrides) if targets.overrides else scenario
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
            res = run_with(backend, {p.path: float(v) for p, v in zip(params, x)}, reps=reps,
                           seed=seed, progress=False)
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
                log(f"  eval {count[0]:3d}: objective {f:9.3f}  {xs}  [gaps/tol {gaps}]")
        return cache[key][2]

    # Trust-region least squares on the scaled residuals (gap / tolerance of each fitted
    # target), with forward differences of 5-10% of each parameter's range: with common random
    # numbers a difference that size measures the parameter's effect, not Monte Carlo noise.
    with open_backend(base, jobs, scheduler, reps) as backend:
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


def _nest(path: str, leaf: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = leaf
    for part in reversed(path.split(".")):
        out = {part: out}
    return out


def _merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge(out[k], v) if k in out and isinstance(out[k], dict) and "value" not in v \
            else v
    return out


def fitted_yaml(scenario_path: Path, out: Path, scenario, fit: Fit, targets: TargetsFile,
                command: str) -> str:
    """A scenario that extends the one fitted and sets each fitted value (``calibrated:``)."""
    rel = os.path.relpath(Path(scenario_path).resolve(), Path(out).resolve().parent)
    gaps = "; ".join(f"{t.label} target {t.value:g}, fitted {v:.4g}" for t, v in fit.rows)
    body: dict[str, Any] = {}
    for path, value in fit.parameters.items():
        leaf: dict[str, Any] = {
            "value": float(f"{value:.6g}"),
            "calibrated": f"targets {targets.file} ({gaps}); command: {command}",
        }
        if path_is_money(path):
            leaf["price_year"] = scenario.price_year
        body = _merge(body, _nest(path, leaf))
    head = (f"# Written by `{command}`.\n"
            f"# The scenario {rel} with the parameters fitted to {targets.file}.\n"
            f"# Edit {rel} or the targets and re-run the command rather than editing this file.\n")
    text = yaml.safe_dump({"extends": [rel]}, sort_keys=False)
    text += yaml.safe_dump(body, sort_keys=False, width=100, allow_unicode=True)
    return head + text


# --------------------------------------------------------------------------- command line

def register(subparsers) -> None:
    p = subparsers.add_parser("calibrate", help="fit scenario parameters to targets")
    p.add_argument("scenario", type=Path)
    p.add_argument("--targets", type=Path, required=True, help="targets YAML file")
    p.add_argument("--out", type=Path, default=None, help="write the fitted scenario here")
    p.add_argument("--reps", type=int, default=None, help="replications per evaluation")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--jobs", type=int, default=None)
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="tcp://HOST:PORT of a running Dask scheduler, or 'local' for a local "
                        "Dask cluster")
    p.add_argument("--max-evaluations", type=int, default=None)
    p.set_defaults(func=cmd_calibrate)


def cmd_calibrate(args) -> int:
    for name in ("reps", "jobs", "max_evaluations"):
        v = getattr(args, name)
        if v is not None and v < 1:
            raise InputError(f"--{name.replace('_', '-')} must be at least 1, got {v}")
    if args.seed is not None and args.seed < 0:
        raise InputError(f"--seed must be >= 0, got {args.seed}")
    if not args.targets.is_file():
        raise InputError("targets file not found", file=args.targets)
    targets = read_targets(args.targets)
    scenario = load_scenario(args.scenario)
    command = f"iomsim calibrate {args.scenario} --targets {args.targets}"
    for flag, v in (("--out", args.out), ("--reps", args.reps), ("--seed", args.seed),
                    ("--max-evaluations", args.max_evaluations)):
        if v is not None:
            command += f" {flag} {v}"
    print(f"calibrating {len(targets.parameters)} parameter(s) of {args.scenario} to "
          f"{len(targets.targets)} target(s); {args.reps or targets.reps} replications, seed "
          f"{targets.seed if args.seed is None else args.seed} at every evaluation",
          file=sys.stderr)
    fit = calibrate(scenario, targets, reps=args.reps, seed=args.seed, jobs=args.jobs,
                    max_evaluations=args.max_evaluations, scheduler=args.scheduler,
                    log=lambda m: print(m, file=sys.stderr, flush=True))
    print(format_table(fit))
    if args.out:
        text = fitted_yaml(args.scenario, args.out, scenario, fit, targets, command)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
        print(f"fitted scenario written to {args.out}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m iomsim.calibration ...``: the same as ``iomsim calibrate ...``."""
    import argparse

    parser = argparse.ArgumentParser(prog="iomsim")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    args = parser.parse_args(["calibrate", *(sys.argv[1:] if argv is None else argv)])
    try:
        return args.func(args)
    except InputError as exc:
        print(f"iomsim: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
