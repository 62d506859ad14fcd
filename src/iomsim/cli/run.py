"""``iomsim validate``, ``iomsim run`` and ``iomsim schema``: one scenario, checked, simulated or
described."""

from __future__ import annotations

import json
import os
from pathlib import Path

from iomsim.cli.common import non_negative_int, positive_int
from iomsim.defaults import DEFAULT_ENGINE, ENGINE_HELP, ENGINES
from iomsim.errors import InputError, one_line


def register(subparsers) -> None:
    from iomsim.defaults import DEFAULT_REPS, DEFAULT_SEED

    p = subparsers.add_parser("validate", help="check a scenario file and say what is wrong")
    p.add_argument("scenario", type=Path)
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE")
    p.set_defaults(func=cmd_validate)

    p = subparsers.add_parser("run", help="simulate a scenario, with and without IOM")
    p.add_argument("scenario", type=Path)
    p.add_argument("--reps", type=positive_int, default=DEFAULT_REPS)
    p.add_argument("--seed", type=non_negative_int, default=DEFAULT_SEED)
    p.add_argument("--out", type=Path, default=None,
                   help="results folder (default: results/<scenario file name>)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE")
    p.add_argument("--jobs", type=positive_int, default=None,
                   help="processes to use (default: all cores); results do not depend on it")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="tcp://HOST:PORT of a running Dask scheduler, or 'local' for a local "
                        "Dask cluster of --jobs workers; results do not depend on it")
    p.add_argument("--force", action="store_true", help="replace existing results")
    p.add_argument("--report", action="store_true", help="also write report.html and results.xlsx")
    p.add_argument("--engine", choices=ENGINES, default=DEFAULT_ENGINE, help=ENGINE_HELP)
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_run)

    p = subparsers.add_parser("schema", help="print the JSON Schema of a scenario file")
    p.set_defaults(func=cmd_schema)


def cmd_validate(args) -> int:
    from iomsim import load_scenario

    scenario = load_scenario(args.scenario, overrides=args.overrides)
    # Names and paths come from the user: control characters are shown escaped, never sent.
    print(f"{one_line(args.scenario)}: valid ({one_line(scenario.name)}; hash {scenario.meta.hash[:12]})")
    return 0


def cmd_schema(args) -> int:
    from iomsim.scenario.schema import Scenario

    schema = Scenario.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "iomsim scenario"
    print(json.dumps(schema, indent=2))
    return 0


def cmd_run(args) -> int:
    from iomsim import load_scenario, run
    from iomsim.folders import hold
    from iomsim.results import prepare_results_folder, write_results
    from iomsim.runner import default_jobs

    scenario = load_scenario(args.scenario, overrides=args.overrides)
    out = args.out or Path("results") / args.scenario.stem
    _check_writable(out)
    # Held from before the simulation to the last file written, so that a second run into the
    # same --out is refused at once, not after it has simulated.
    with hold(out, "results"):
        prepare_results_folder(out, force=args.force)
        jobs = args.jobs or default_jobs()
        results = run(scenario, reps=args.reps, seed=args.seed, jobs=jobs,
                      progress=False if args.no_progress else None, engine=args.engine,
                      scheduler=args.scheduler)
        report = None
        if args.report:  # into the hidden folder: the report appears with the tables or not at all
            from iomsim.reporting.report import write_report as report
        write_results(results, out, force=args.force, before_publish=report)
    print(summary_text(results, out))
    return 0


def _check_writable(out: Path) -> None:
    """Refuse an --out that cannot be written before spending time on the simulation."""
    from iomsim.folders import real_target

    if out.exists() and not out.is_dir():
        raise InputError("is a file, expected a results folder", file=out)
    probe = real_target(out).parent
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise InputError(f"cannot create the results folder here ({probe} is not a writable "
                         "folder)", file=out)


def summary_text(results, out: Path) -> str:
    """A short plain-text summary of a run for the terminal."""
    from iomsim.scenario.lineage import title

    m = results.manifest
    cba = results.costs_by_agency
    name = one_line(title(m["scenario_name"], m.get("scenario_file"), m.get("scenario_based_on")))
    lines = [f"{name}: {m['reps']} replications, seed {m['seed']}, "
             f"cohort {int(sum(m['cohort_size']) / max(1, len(m['cohort_size'])))} offenders, "
             f"{results.costs['year'].max()} years"]
    lines.append("")
    lines.append(f"{'Five-year cost (discounted, £)':<34}{'non-IOM':>14}{'IOM':>14}{'change':>14}")
    agencies = [a for a in cba["agency"].unique()]
    for agency in agencies:
        a = cba[cba["agency"] == agency].set_index("arm")["discounted_cost"]
        base, iom = float(a.get("non_iom", 0.0)), float(a.get("iom", 0.0))
        if base == 0 and iom == 0:
            continue
        label = "victims and society" if agency == "victims" else agency
        lines.append(f"  {label:<32}{base:>14,.0f}{iom:>14,.0f}{iom - base:>+14,.0f}")
    lines.append("")
    from iomsim.engine.measures import window_days
    from iomsim.engine.model import DAYS_PER_YEAR

    horizon = float(m["validated_scenario"]["horizon_years"])
    for name, label in (("reconviction_rate_24m_before", "reconvicted in 24 months before"),
                        ("reconviction_rate_24m", "reconvicted in 24 months after"),
                        ("convictions_per_offender_12m", "convictions per offender, 12 months"),
                        ("actual_vs_predicted_reduction", "actual vs predicted reduction")):
        try:
            base, iom = results.metric(name, "non_iom"), results.metric(name, "iom")
        except KeyError:
            continue
        if window_days(name) > horizon * DAYS_PER_YEAR + 1e-9:
            # Counted over part of its window only: a number here would mislead.
            lines.append(f"  {label:<40}{'n/a':>10}{'n/a':>10}  (window longer than the "
                         f"{horizon:g}-year horizon)")
            continue
        lines.append(f"  {label:<40}{base:>10.3f}{iom:>10.3f}")
    try:
        bpp = results.metric("benefit_per_pound")
        cost = results.metric("iom_cost")
        lines.append("")
        lines.append(f"  IOM spend (discounted): £{cost:,.0f}; benefit per £1: £{bpp:.2f}")
    except KeyError:
        pass
    lines.append("")
    lines.append(f"Results written to {one_line(out)}/")
    return "\n".join(lines)
