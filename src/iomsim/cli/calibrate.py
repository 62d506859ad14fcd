"""``iomsim calibrate``: fit scenario parameters to targets (see :mod:`iomsim.calibration`)."""

from __future__ import annotations

import sys
from pathlib import Path

from iomsim.cli.common import replications
from iomsim.defaults import DEFAULT_ENGINE, ENGINE_HELP, ENGINES
from iomsim.errors import InputError, one_line


def register(subparsers) -> None:
    p = subparsers.add_parser("calibrate", help="fit scenario parameters to targets")
    p.add_argument("scenario", type=Path)
    p.add_argument("--targets", type=Path, required=True, help="targets YAML file")
    p.add_argument("--out", type=Path, default=None, help="write the fitted scenario here")
    p.add_argument("--reps", type=replications, default=None,
                   help="replications per evaluation")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--jobs", type=int, default=None)
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="tcp://HOST:PORT of a running Dask scheduler, or 'local' for a local "
                        "Dask cluster")
    p.add_argument("--engine", choices=ENGINES, default=DEFAULT_ENGINE, help=ENGINE_HELP)
    p.add_argument("--max-evaluations", type=int, default=None,
                   help="at most this many evaluations (least squares) or draws (method abc)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_calibrate)


def cmd_calibrate(args) -> int:
    from iomsim.atomic import write_text_atomic
    from iomsim.calibration import (Fit, calibrate, fitted_yaml, format_table, measure,
                                    read_targets)
    from iomsim.cli.common import refuse_input_as_output
    from iomsim.scenario.loader import load_scenario

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
    if args.out:
        refuse_input_as_output(args.out, scenario, [args.targets])
    command = f"iomsim calibrate {args.scenario} --targets {args.targets}"
    for flag, v in (("--out", args.out), ("--reps", args.reps), ("--seed", args.seed),
                    ("--max-evaluations", args.max_evaluations)):
        if v is not None:
            command += f" {flag} {v}"
    print(f"calibrating {len(targets.parameters)} parameter(s) of {one_line(args.scenario)} to "
          f"{len(targets.targets)} target(s); {args.reps or targets.reps} replications, seed "
          f"{targets.seed if args.seed is None else args.seed} at every evaluation",
          file=sys.stderr)
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    progress = False if args.no_progress else None
    intervals = post = None
    if targets.method == "abc":
        from iomsim.posterior import calibrate_abc, format_posterior
        # --max-evaluations bounds the simulations of either method: for ABC, the draws.
        draws = min(targets.draws, args.max_evaluations or targets.draws)
        post = calibrate_abc(scenario, targets, targets.priors, measure=measure,
                             draws=draws,
                             accept=min(targets.accept, draws), reps=args.reps or targets.reps,
                             seed=targets.seed if args.seed is None else args.seed,
                             jobs=args.jobs or targets.jobs, scheduler=args.scheduler,
                             engine=args.engine, progress=progress, log=log)
        fit = Fit(parameters=post.parameters, rows=post.rows, objective=post.objective,
                  evaluations=targets.draws + 1)
        intervals = post.intervals
    else:
        fit = calibrate(scenario, targets, reps=args.reps, seed=args.seed, jobs=args.jobs,
                        max_evaluations=args.max_evaluations, scheduler=args.scheduler,
                        engine=args.engine, progress=progress, log=log)
    print(format_table(fit))
    if post is not None:
        print()
        print(format_posterior(post, targets.priors))
    if args.out:
        text = fitted_yaml(args.scenario, args.out, scenario, fit, targets, command,
                           intervals=intervals)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(args.out, text)
        print(f"fitted scenario written to {args.out}")
        if post is not None:
            # Every draw, its simulated targets and whether it was accepted: sweeps and PSA
            # sample the accepted rows; the leave-one-target-out check beside it.
            draws_csv = args.out.with_suffix(".posterior.csv")
            loo_csv = args.out.with_suffix(".leave-one-out.csv")
            write_text_atomic(draws_csv, post.draws.to_csv(index=False, float_format="%.6g"))
            write_text_atomic(loo_csv, post.leave_one_out.to_csv(index=False,
                                                                 float_format="%.6g"))
            print(f"draws written to {draws_csv}; leave-one-target-out check to {loo_csv}")
    return 0
