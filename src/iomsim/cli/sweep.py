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
    from iomsim.folders import hold
    from iomsim.reporting.sweep_report import write_sweep_report

    with hold(out, "report"):  # not while another sweep replaces the folder
        write_sweep_report(out)
    print(f"Results written to {out}/ (report.html: the sweep's report)")
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
        lines += psa_lines(result)
    for name in ("sobol", "morris"):
        if name in t:
            lines.append(f"{name.capitalize()} indices ({arm}.{measure}):")
            lines.append(t[name].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    return "\n".join(lines)


def psa_lines(result) -> list[str]:
    """The PSA's answer: where its uncertainty comes from, then P(benefit > cost) on each
    benefit measure (the share of samples whose benefit per £1 exceeds 1, with its standard
    error over the samples) and the chance of clearing the value-for-money hurdles."""
    from iomsim.experiments.analysis import HURDLES, benefit_cost_probabilities

    spec, t = result.spec, result.tables
    samples = t["psa_samples"]
    lines = [f"PSA: {len(samples)} samples x {spec.replications} replications; "
             f"uncertainty from {uncertainty_sources(spec)}"]
    if spec.common_random_numbers:
        lines.append("  (common random numbers: every sample shares one Monte Carlo error, which "
                     "shifts the distribution; common_random_numbers: false gives each its own)")
    probs = benefit_cost_probabilities(samples)
    if probs.empty:  # a sweep that kept none of the measures by perspective
        s = t["psa_summary"].set_index("measure")
        if "benefit_per_pound" in s.index:
            r = s.loc["benefit_per_pound"]
            lines.append(f"Benefit per £1: mean {r['mean']:.2f} (2.5%-97.5%: {r['p025']:.2f} "
                         f"to {r['p975']:.2f}); P(> 1) = {r['probability_above_threshold']:.3f}")
        return lines
    hurdles = "  ".join(f"P(>£{h:.2f})" for h in HURDLES[1:])
    lines.append(f"P(benefit > cost), by measure: benefit per £1 (mean, 2.5%-97.5%), "
                 f"P(> £1) ± s.e., and {hurdles.replace('  ', ', ')}:")
    words = {"evaluation": "as the evaluation counted it", "taxpayer": "to the taxpayer",
             "taxpayer_cashable": "to the taxpayer, cashable", "social": "to society"}
    for r in probs.to_dict("records"):
        more = "  ".join(f"{r[f'p_above_{h:g}']:.2f}" for h in HURDLES[1:])
        lines.append(f"  {words.get(r['perspective'], r['perspective']):<30} "
                     f"{r['mean']:5.2f} ({r['p025']:.2f} to {r['p975']:.2f})  "
                     f"P(> 1) = {r['probability']:.3f} ± {r['probability_se']:.3f}  {more}")
    return lines


def uncertainty_sources(spec) -> str:
    """What a PSA draws: the calibration's accepted draws, the scenario's values with an
    uncertainty:, the sweep file's parameters."""
    parts = []
    if spec.posterior is not None:
        parts.append(f"{len(spec.posterior.values)} accepted calibration draws "
                     f"({len(spec.posterior.columns)} parameters)")
    leaves = len(spec.scenario_uncertainty)
    if leaves:
        parts.append(f"{leaves} scenario value{'s' * (leaves != 1)} with an uncertainty:")
    own = len(spec.design.parameters) - leaves
    if own:
        parts.append(f"{own} sweep parameter{'s' * (own != 1)}")
    return ", ".join(parts) or "nothing (every value fixed)"
