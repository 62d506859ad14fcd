"""The ``iomsim sweep`` and ``iomsim breakeven`` subcommands (registered by the core CLI)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from iomsim.cli import whole_number
from iomsim.errors import Terminated


_positive_int = whole_number(1)
_non_negative_int = whole_number(0)


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a fraction between 0 and 1, got {value}")
    return value


def register(subparsers) -> None:
    p = subparsers.add_parser("sweep", help="run a parameter sweep, PSA or sensitivity analysis",
                              description="Run the design of a sweep file. Finished points are "
                              "saved as they finish; running the same command again resumes.")
    p.add_argument("sweep_file", type=Path, metavar="SWEEP.yaml")
    p.add_argument("--jobs", type=_positive_int, default=None,
                   help="local processes, or Dask workers with --scheduler local "
                        "(default: all cores); results do not depend on it")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="tcp://HOST:PORT of a running Dask scheduler, or 'local' for a local "
                        "Dask cluster")
    p.add_argument("--out", type=Path, default=None,
                   help="sweep folder (default: results/<sweep file name>)")
    p.add_argument("--force", action="store_true",
                   help="replace the results of a different sweep in --out")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_sweep)

    p = subparsers.add_parser("breakeven", help="find the IOM effect and cost at which the "
                              "benefit per £1 reaches 1",
                              description="Root-finding with common random numbers over "
                              "replications; the interval is a bootstrap over replications.")
    p.add_argument("scenario", type=Path)
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE")
    p.add_argument("--reps", type=_positive_int, default=20)
    p.add_argument("--seed", type=_non_negative_int, default=None)
    p.add_argument("--jobs", type=_positive_int, default=None)
    p.add_argument("--scheduler", default=None, metavar="ADDRESS")
    p.add_argument("--parameter", default=None, metavar="PATH",
                   help="find the break-even value of this parameter only (a dotted path, or "
                        "iom_cost_scale)")
    p.add_argument("--bracket", type=float, nargs=2, default=None, metavar=("LOW", "HIGH"),
                   help="search range for --parameter (default 0 1 for the effect, 0.01 100 for "
                        "the cost scale)")
    p.add_argument("--target", type=float, default=1.0, help="benefit per £1 to reach")
    p.add_argument("--confidence", type=_fraction, default=0.95)
    p.add_argument("--out", type=Path, default=None, help="also write the results to this CSV")
    p.add_argument("--verbose", action="store_true", help="print each value simulated")
    p.set_defaults(func=cmd_breakeven)


def cmd_sweep(args) -> int:
    from iomsim.experiments.spec import load_sweep
    from iomsim.experiments.sweep import run_sweep

    spec = load_sweep(args.sweep_file)
    out = args.out or Path("results") / args.sweep_file.stem
    print(f"{args.sweep_file}: {spec.design.kind} design, {spec.n_points} points x "
          f"{spec.replications} replications, seed {spec.seed}", file=sys.stderr)
    try:
        result = run_sweep(spec, jobs=args.jobs, scheduler=args.scheduler, out=out,
                           force=args.force, progress=False if args.no_progress else None)
    except KeyboardInterrupt as exc:
        done = len(list((out / "points").glob("point-*.parquet"))) if out.exists() else 0
        print(f"interrupted; {done} of {spec.n_points} points are saved in {out}/; run the same "
              "command again to finish", file=sys.stderr)
        return 143 if isinstance(exc, Terminated) else 130
    n = spec.n_points
    if result.computed_points == 0:
        print(f"{out}/ already holds this sweep, complete ({n} points); nothing to compute")
    elif result.computed_points < n:
        print(f"resumed: computed {result.computed_points} of {n} points")
    print(summary_text(result))
    print(f"Results written to {out}/")
    return 0


def summary_text(result) -> str:
    lines = []
    t = result.tables
    arm, measure = result.spec.primary_measure
    if "tornado" in t:
        lines.append(f"Tornado ({arm}.{measure}; base {t['tornado']['base'].iloc[0]:.4g}):")
        for row in t["tornado"].itertuples(index=False):
            lines.append(f"  {row.parameter:<45} {row.measure_low:>10.4g} {row.measure_high:>10.4g}")
    if "psa_summary" in t:
        s = t["psa_summary"].set_index("measure")
        if "benefit_per_pound" in s.index:
            r = s.loc["benefit_per_pound"]
            lines.append(f"Benefit per £1: mean {r['mean']:.2f} (2.5%-97.5%: {r['p025']:.2f} to "
                         f"{r['p975']:.2f}); P(> 1) = {r['probability_above_threshold']:.3f}")
        if "npv" in s.index:
            lines.append(f"P(NPV > 0) = {s.loc['npv', 'probability_above_threshold']:.3f}")
    for name in ("sobol", "morris"):
        if name in t:
            lines.append(f"{name.capitalize()} indices ({arm}.{measure}):")
            lines.append(t[name].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    return "\n".join(lines)


def cmd_breakeven(args) -> int:
    import pandas as pd

    from iomsim import load_scenario
    from iomsim.experiments.breakeven import (DEFAULT_SEED, EFFECT_PARAMETER, breakeven,
                                              breakeven_cost, describe)
    from iomsim.experiments.points import IOM_COST_SCALE

    scenario = load_scenario(args.scenario, overrides=args.overrides)
    seed = DEFAULT_SEED if args.seed is None else args.seed
    common = dict(target=args.target, reps=args.reps, seed=seed, jobs=args.jobs,
                  scheduler=args.scheduler, confidence=args.confidence, progress=args.verbose)
    if args.parameter is None and args.bracket is not None:
        raise SystemExit(_usage_error("--bracket needs --parameter"))
    results = []
    if args.parameter in (None, EFFECT_PARAMETER):
        results.append(breakeven(scenario, EFFECT_PARAMETER, tuple(args.bracket or (0.0, 1.0)),
                                 **common))
    if args.parameter in (None, IOM_COST_SCALE):
        results.append(breakeven_cost(scenario, tuple(args.bracket or (0.01, 100.0)), **common))
    if args.parameter not in (None, EFFECT_PARAMETER, IOM_COST_SCALE):
        if args.bracket is None:
            raise SystemExit(_usage_error("--parameter needs --bracket LOW HIGH"))
        results.append(breakeven(scenario, args.parameter, tuple(args.bracket), **common))
    print(f"{scenario.name}: break-even where benefit per £1 = {args.target:g} "
          f"({args.reps} replications, seed {seed}, common random numbers)")
    for r in results:
        print("\n".join(describe(r)))
    if args.out:
        frame = pd.concat([r.to_frame() for r in results], ignore_index=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(args.out, index=False, float_format="%.10g", lineterminator="\n")
        print(f"Written to {args.out}")
    return 0


def _usage_error(message: str) -> int:
    print(f"error: iomsim breakeven: {message}", file=sys.stderr)
    return 2
