"""``iomsim breakeven``: the IOM effect and cost at which the benefit per £1 reaches a target."""

from __future__ import annotations

from pathlib import Path

from iomsim.cli.common import (fail, fraction, non_negative_int, positive_int, replications,
                               refuse_input_as_output)
from iomsim.defaults import DEFAULT_ENGINE, DEFAULT_SEED, ENGINE_HELP, ENGINES
from iomsim.errors import one_line


def register(subparsers) -> None:
    p = subparsers.add_parser("breakeven", help="find the IOM effect and cost at which the "
                              "benefit per £1 reaches 1",
                              description="Root-finding with common random numbers over "
                              "replications; the interval is a bootstrap over replications.")
    p.add_argument("scenario", type=Path)
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE")
    p.add_argument("--reps", type=replications, default=20,
                   help="replications of each arm at each value tried (default: 20)")
    p.add_argument("--seed", type=non_negative_int, default=None,
                   help=f"the seed every random stream derives from (default: {DEFAULT_SEED})")
    p.add_argument("--jobs", type=positive_int, default=None)
    p.add_argument("--scheduler", default=None, metavar="ADDRESS")
    p.add_argument("--engine", choices=ENGINES, default=DEFAULT_ENGINE, help=ENGINE_HELP)
    p.add_argument("--parameter", default=None, metavar="PATH",
                   help="find the break-even value of this parameter only (a dotted path, or "
                        "iom_cost_scale)")
    p.add_argument("--bracket", type=float, nargs=2, default=None, metavar=("LOW", "HIGH"),
                   help="search range for --parameter (default 0 1 for the effect, 0.01 100 for "
                        "the cost scale)")
    p.add_argument("--target", type=float, default=1.0, help="benefit per £1 to reach")
    p.add_argument("--confidence", type=fraction, default=0.95)
    p.add_argument("--out", type=Path, default=None, help="also write the results to this CSV")
    p.add_argument("--switching-value", action="store_true",
                   help="find the IOM effect at which the taxpayer's and society's NPV are zero "
                        "(the switching value) instead of the benefit per £1 break-even")
    p.add_argument("--results", type=Path, default=None, metavar="FOLDER",
                   help="with --switching-value: add switching_value.csv to this results folder "
                        "(written by `iomsim run` for the same scenario), for its report")
    p.add_argument("--verbose", action="store_true", help="print each value simulated")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_breakeven)


def cmd_breakeven(args) -> int:
    import pandas as pd

    from iomsim import load_scenario
    from iomsim.atomic import write_csv_atomic
    from iomsim.experiments.breakeven import (EFFECT_PARAMETER, breakeven,
                                              breakeven_cost, describe)
    from iomsim.scenario.lineage import based_on, title
    from iomsim.scenario.points import IOM_COST_SCALE

    scenario = load_scenario(args.scenario, overrides=args.overrides)
    if args.out:
        refuse_input_as_output(args.out, scenario)
    seed = DEFAULT_SEED if args.seed is None else args.seed
    common = dict(target=args.target, reps=args.reps, seed=seed, jobs=args.jobs,
                  scheduler=args.scheduler, confidence=args.confidence,
                  progress=False if args.no_progress else None, verbose=args.verbose,
                  engine=args.engine)
    if args.results is not None and not args.switching_value:
        raise SystemExit(fail("iomsim breakeven: --results needs --switching-value"))
    if args.switching_value:
        return _switching(args, scenario, seed, common)
    if args.parameter is None and args.bracket is not None:
        raise SystemExit(fail("iomsim breakeven: --bracket needs --parameter"))
    results = []
    if args.parameter in (None, EFFECT_PARAMETER):
        results.append(breakeven(scenario, EFFECT_PARAMETER, tuple(args.bracket or (0.0, 1.0)),
                                 **common))
    if args.parameter in (None, IOM_COST_SCALE):
        results.append(breakeven_cost(scenario, tuple(args.bracket or (0.01, 100.0)), **common))
    if args.parameter not in (None, EFFECT_PARAMETER, IOM_COST_SCALE):
        if args.bracket is None:
            raise SystemExit(fail("iomsim breakeven: --parameter needs --bracket LOW HIGH"))
        results.append(breakeven(scenario, args.parameter, tuple(args.bracket), **common))
    name = one_line(title(scenario.name, scenario.meta.file, based_on(scenario)))
    print(f"{name}: break-even where benefit per £1 = {args.target:g} "
          f"({args.reps} replications, seed {seed}, common random numbers)")
    for r in results:
        print("\n".join(describe(r)))
    if args.out:
        frame = pd.concat([r.to_frame() for r in results], ignore_index=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        write_csv_atomic(frame, args.out, float_format="%.10g")
        print(f"Written to {args.out}")
    return 0


def _switching(args, scenario, seed: int, common: dict) -> int:
    """``--switching-value``: the effect at which the taxpayer's and society's NPV are zero."""
    from iomsim.atomic import write_csv_atomic
    from iomsim.economics import switching_sentence
    from iomsim.experiments.breakeven import switching_value_frame, switching_values
    from iomsim.folders import hold
    from iomsim.results_folder import MANIFEST, SWITCHING_VALUE, read_manifest
    from iomsim.scenario.lineage import based_on, title

    if args.parameter is not None or args.bracket is not None or args.target != 1.0:
        raise SystemExit(fail("iomsim breakeven: --switching-value searches the IOM effect "
                              "for an NPV of 0; it takes no --parameter, --bracket or --target"))
    if args.results is not None:
        if not (args.results / MANIFEST).is_file():
            raise SystemExit(fail(f"{one_line(args.results)}: not a results folder (no "
                                  f"{MANIFEST}); expected a folder written by `iomsim run`"))
        written_for = read_manifest(args.results).get("scenario_hash")
        if written_for and written_for != scenario.meta.hash:
            raise SystemExit(fail(f"{one_line(args.results)}: its results are for another "
                                  "scenario (or other --set values) than this one; run the "
                                  "same scenario, or write the switching value to --out"))
    common = {k: v for k, v in common.items() if k != "target"}
    results = switching_values(scenario, **common)
    name = one_line(title(scenario.name, scenario.meta.file, based_on(scenario)))
    print(f"{name}: switching values, where the NPV is zero ({args.reps} replications, seed "
          f"{seed}, common random numbers)")
    frame = switching_value_frame(results)
    for _, row in frame.iterrows():
        print("  " + switching_sentence(row["measure"], row["effect"], row["effect_lo"],
                                        row["effect_hi"], row["confidence"]))
        if row["note"]:
            print(f"    ({row['note']})")
    if args.out:
        refuse_input_as_output(args.out, scenario)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        write_csv_atomic(frame, args.out, float_format="%.10g")
        print(f"Written to {args.out}")
    if args.results is not None:
        with hold(args.results, "results"):
            write_csv_atomic(frame, args.results / SWITCHING_VALUE.file, float_format="%.10g")
        print(f"Written to {args.results / SWITCHING_VALUE.file}; `iomsim report "
              f"{args.results}` shows it")
    return 0
