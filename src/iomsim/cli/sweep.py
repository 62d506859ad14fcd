"""``iomsim sweep``: the design of a sweep file, run and resumed in a sweep folder."""

from __future__ import annotations

import sys
from pathlib import Path

from iomsim.cli.common import EXIT_ENVIRONMENT, check_writable, fail, positive_int
from iomsim.errors import EnvironmentFault, Terminated, one_line


def register(subparsers) -> None:
    p = subparsers.add_parser("sweep", help="run a parameter sweep, PSA or sensitivity analysis",
                              description="Run the design of a sweep file. Finished points are "
                              "saved as they finish; running the same command again resumes.")
    p.add_argument("sweep_file", type=Path, metavar="SWEEP.yaml")
    p.add_argument("--jobs", type=positive_int, default=None,
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
    p.add_argument("--dry-run", action="store_true",
                   help="print the memory and run-time estimates per worker (for the base "
                        "scenario) and exit: nothing is simulated or written")
    p.set_defaults(func=cmd_sweep)


def cmd_sweep(args) -> int:
    from iomsim.experiments.spec import load_sweep
    from iomsim.experiments.sweep import run_sweep

    from iomsim.runner import prepare_engine

    spec = load_sweep(args.sweep_file)
    if args.dry_run:
        from iomsim.cli.run import dry_run

        print(f"{one_line(args.sweep_file)}: {spec.design.kind} design, {spec.n_points} points x "
              f"{spec.replications} replications (estimated for the base scenario; points that "
              "change the cohort's size change it)")
        return dry_run(spec.scenario, spec.engine, spec.n_points * spec.replications, args.jobs,
                       args.scheduler, label="sweep")
    prepare_engine(spec.scenario, spec.engine, announce=not args.no_progress)
    out = args.out or Path("results") / args.sweep_file.stem
    check_writable(out, "sweep folder")
    jobs = args.jobs
    if args.scheduler in (None, "local"):  # as a run: fewer workers rather than swapping
        from iomsim.runner import fit_jobs_to_memory

        jobs = fit_jobs_to_memory(spec.scenario, spec.engine, jobs,
                                  spec.n_points * spec.replications,
                                  announce=not args.no_progress)
    print(f"{one_line(args.sweep_file)}: {spec.design.kind} design, {spec.n_points} points x "
          f"{spec.replications} replications, seed {spec.seed}", file=sys.stderr)
    try:
        result = run_sweep(spec, jobs=jobs, scheduler=args.scheduler, out=out,
                           force=args.force, progress=False if args.no_progress else None)
    except KeyboardInterrupt as exc:
        print(f"interrupted; {_saved(out)} of {spec.n_points} points are saved in {out}/; run the "
              "same command again to finish", file=sys.stderr)
        return 143 if isinstance(exc, Terminated) else 130
    except EnvironmentFault as exc:  # every saved point is whole: what to do is to resume
        return fail(f"{exc}; {_saved(out)} of {spec.n_points} points are saved in {out}/; "
                    f"{exc.remedy.replace('run again', 'run the same command again')}",
                    EXIT_ENVIRONMENT)
    from iomsim.execution import close_workers

    close_workers()  # this command runs nothing more
    n = spec.n_points
    if result.computed_points == 0:
        print(f"{out}/ already holds this sweep, complete ({n} points); nothing to compute")
    elif result.computed_points < n:
        print(f"resumed: computed {result.computed_points} of {n} points")
    print(summary_text(result))
    print(f"Results written to {out}/")
    return 0


def _saved(out: Path) -> int:
    points = out / "points"
    return len(list(points.glob("point-*.parquet"))) if points.is_dir() else 0


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
