"""``iomsim validate``, ``iomsim run`` and ``iomsim schema``: one scenario, checked, simulated or
described."""

from __future__ import annotations

import json
import math
from pathlib import Path

from iomsim.cli.common import check_writable, non_negative_int, positive_int, replications
from iomsim.defaults import DEFAULT_ENGINE, ENGINE_HELP, ENGINES
from iomsim.errors import one_line


def register(subparsers) -> None:
    from iomsim.defaults import DEFAULT_REPS, DEFAULT_SEED

    p = subparsers.add_parser("validate", help="check a scenario file and say what is wrong")
    p.add_argument("scenario", type=Path)
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE")
    p.set_defaults(func=cmd_validate)

    p = subparsers.add_parser("run", help="simulate a scenario, with and without IOM")
    p.add_argument("scenario", type=Path)
    p.add_argument("--reps", type=replications, default=DEFAULT_REPS,
                   help=f"replications of each arm (default: {DEFAULT_REPS})")
    p.add_argument("--seed", type=non_negative_int, default=DEFAULT_SEED,
                   help=f"the seed every random stream derives from (default: {DEFAULT_SEED})")
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
    p.add_argument("--dry-run", action="store_true",
                   help="print the memory and run-time estimates per worker (and how many "
                        "workers fit in memory) and exit: nothing is simulated or written")
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
    from iomsim.execution import close_workers
    from iomsim.folders import hold
    from iomsim.results import prepare_results_folder, write_results
    from iomsim.runner import default_jobs

    scenario = load_scenario(args.scenario, overrides=args.overrides)
    out = args.out or Path("results") / args.scenario.stem
    if args.dry_run:
        return dry_run(scenario, args.engine, args.reps, args.jobs, args.scheduler)
    check_writable(out)
    # Held from before the simulation to the last file written, so that a second run into the
    # same --out is refused at once, not after it has simulated.
    with hold(out, "results"):
        prepare_results_folder(out, force=args.force)
        jobs = args.jobs or default_jobs()
        results = run(scenario, reps=args.reps, seed=args.seed, jobs=jobs,
                      progress=False if args.no_progress else None, engine=args.engine,
                      scheduler=args.scheduler)
        close_workers()  # this command runs nothing more: they end while the files are written
        report = None
        if args.report:  # into the hidden folder: the report appears with the tables or not at all
            from iomsim.reporting.report import write_report as report
        write_results(results, out, force=args.force, before_publish=report)
    print(summary_text(results, out))
    return 0


def dry_run(scenario, engine: str, reps: int, jobs: int | None, scheduler: str | None,
            label: str = "run") -> int:
    """``--dry-run``: the estimates of :func:`iomsim.runner.estimate_run`, printed; status 0.
    Nothing is simulated, compiled or written (the engine is only checked to run the
    scenario)."""
    from iomsim.runner import check_engine, estimate_run, estimate_text

    check_engine(scenario, engine)
    if scheduler not in (None, "local"):  # a remote cluster's memory and cores are its own
        from iomsim.runner import duration_text

        est = estimate_run(scenario, engine, reps, 1)
        lines = estimate_text(est, label).splitlines()[:2]
        lines.append(f"  on the Dask cluster at {one_line(scheduler)}: each worker needs about "
                     f"{est.bytes_per_worker / 1024 ** 3:.2f} GB; {reps:,} replications of about "
                     f"{duration_text(est.seconds_per_replication)} each, shared among its workers")
        print("\n".join(lines))
        return 0
    print(estimate_text(estimate_run(scenario, engine, reps, jobs), label))
    return 0


SUMMARY_OUTCOMES = (  # (metric, label): the evaluation's headline outcomes
    ("reconviction_rate_24m_before", "reconvicted in 24 months before"),
    ("reconviction_rate_24m", "reconvicted in 24 months after"),
    ("convictions_per_offender_12m", "convictions per offender, 12 months"),
    ("actual_vs_predicted_reduction", "actual vs predicted reduction"),
)


DECOMPOSITION_LABELS = (  # (component, words): the rows of decomposition.csv in the summary
    ("regression_to_mean_and_ageing", "regression to the mean and ageing"),
    ("custody", "custody (time at liberty)"),
    ("iom_effect", "IOM"),
)


def decomposition_lines(results, measure: str = "reconviction_rate_24m") -> list[str]:
    """The before/after change with IOM in ``measure`` and, one line each, what it is made of
    (decomposition.csv), in percentage points with their 95% intervals; none without the
    table."""
    import math

    from iomsim.decomposition import EXPOSURE_ADJUSTED, why_undefined
    from iomsim.reporting.labels import points

    d = results.decomposition
    if d is None:
        return []
    d = d[d["measure"] == measure].set_index("component")
    if "observed_change" not in d.index:
        return []

    def cell(component: str) -> str:
        row = d.loc[component]
        before = d.loc["before", "mean"] if "before" in d.index else math.nan
        if math.isnan(row["mean"]) and component in EXPOSURE_ADJUSTED and not math.isnan(before):
            return f"{'':>29}{why_undefined(measure, before)}"
        interval = ("" if row[["lower", "upper"]].isna().any() else
                    f"  ({points(row['lower'], unit='').strip()} to "
                    f"{points(row['upper'], unit='').strip()})")
        return f"{'':>28}{points(row['mean']):>14}{interval}"

    lines = [f"  {'change on before, with IOM, of which:':<40}{cell('observed_change')}"]
    for component, words in DECOMPOSITION_LABELS:
        if component in d.index:
            lines.append(f"    {words:<38}{cell(component)}")
    return lines


def summary_text(results, out: Path) -> str:
    """A short plain-text summary of a run for the terminal, in the report's words: agencies by
    name, the horizon and price year stated, rates as percentages and changes in them in
    percentage points."""
    import math

    from iomsim.engine.measures import window_days
    from iomsim.engine.model import DAYS_PER_YEAR
    from iomsim.reporting.labels import (ARM_LABELS, VICTIMS, agency_label, horizon_adjective,
                                         horizon_phrase, is_rate, money, points, price_phrase,
                                         run_terms)
    from iomsim.scenario.lineage import title

    m = results.manifest
    cba = results.costs_by_agency
    terms = run_terms(m)
    horizon = terms["horizon_years"]
    if horizon is None:  # a manifest without the scenario: the simulated years
        horizon = float(results.costs["year"].max())
    name = one_line(title(m["scenario_name"], m.get("scenario_file"), m.get("scenario_based_on")))
    cohort = round(sum(m["cohort_size"]) / max(1, len(m["cohort_size"])))
    reps = int(m["reps"])
    lines = [f"{name}: {reps} replication{'s' if reps != 1 else ''}, seed {m['seed']}, "
             f"cohort {cohort:,} offender{'s' if cohort != 1 else ''}, "
             f"{horizon_phrase(horizon)}",
             f"Money: {price_phrase(terms['price_year'], terms['discount_rate'])} "
             "(year 1 undiscounted)", ""]
    arms = f"{ARM_LABELS['non_iom']:>14}{ARM_LABELS['iom']:>14}{'change':>14}"
    lines.append(f"{horizon_adjective(horizon) + ' cost (discounted, £)':<34}{arms}")

    def cost_row(label: str, base: float, iom: float) -> str:
        change = f"{iom - base:+,.0f}" if round(iom - base) else "0"
        return f"  {label:<32}{base:>14,.0f}{iom:>14,.0f}{change:>14}"

    totals = [0.0, 0.0]
    victims = None
    for agency in dict.fromkeys(cba["agency"]):
        a = cba[cba["agency"] == agency].set_index("arm")["discounted_cost"]
        base, iom = float(a.get("non_iom", 0.0)), float(a.get("iom", 0.0))
        if base == 0 and iom == 0:
            continue
        if agency == VICTIMS:  # not an agency: after the agencies' total
            victims = (base, iom)
            continue
        totals[0] += base
        totals[1] += iom
        lines.append(cost_row(agency_label(agency), base, iom))
    lines.append(cost_row("All agencies", *totals))
    if victims is not None:
        lines.append(cost_row(agency_label(VICTIMS), *victims))
    lines.append("")
    lines.append(f"{'Outcomes':<42}{arms}")
    left_out = 0
    for metric, label in SUMMARY_OUTCOMES:
        try:
            base, iom = results.metric(metric, "non_iom"), results.metric(metric, "iom")
        except KeyError:
            continue
        # A window past the horizon (or the before figure of one) is not available: a number
        # counted over part of its window would mislead, so the row is left out and said so.
        if window_days(metric.removesuffix("_before")) > horizon * DAYS_PER_YEAR + 1e-9:
            left_out += 1
            continue
        try:
            change = results.metric(metric, "iom_minus_non_iom")
        except KeyError:
            change = iom - base
        if is_rate(metric):
            cells = [f"{100 * base:.1f}%", f"{100 * iom:.1f}%", points(change)]
        else:
            cells = [f"{base:.3f}", f"{iom:.3f}",
                     "–" if math.isnan(change) else
                     f"{change:+.3f}" if round(change, 3) else f"{0:.3f}"]
        lines.append(f"  {label:<40}" + "".join(f"{c:>14}" for c in cells))
        if metric == "reconviction_rate_24m":
            lines.extend(decomposition_lines(results))
    if left_out:
        lines.append(f"  ({left_out} measure{'s' if left_out != 1 else ''} not available: "
                     f"{'their windows run' if left_out != 1 else 'its window runs'} past the "
                     f"{horizon:g}-year horizon; see metrics_not_available in manifest.json)")
    lines.extend(benefit_lines(results))
    lines.append("")
    lines.append(f"Results written to {one_line(out)}/")
    return "\n".join(lines)


def benefit_lines(results) -> list[str]:
    """IOM spend and the three benefit measures side by side, each with its 95% interval and
    NPV (docs/model.md, 7.12); nothing for tables without them."""
    from iomsim.reporting.labels import money

    e = results.economics.set_index("metric")
    if "iom_cost" not in e.index or "benefit_per_pound" not in e.index:
        return []

    def amount(metric: str, decimals: int = 0) -> str:
        v = e.loc[metric, "value"] if metric in e.index else math.nan
        return "n/a" if math.isnan(v) else money(v, decimals)

    lines = ["", f"  IOM spend (discounted): {amount('iom_cost')}"]
    if "cost_taxpayer" in e.index:
        lines[-1] += f"; by police and probation {amount('iom_cost_police_probation')}"
        lines.append(f"  IOM spend and the costs it raises elsewhere: {amount('cost_taxpayer')}")
    lines.append(f"  {'Benefit per £1 spent on IOM':<40}{'value':>10}{'95% interval':>22}"
                 f"{'NPV':>16}")
    for key, words in (("evaluation", "as the evaluation counted it"),
                       ("taxpayer", "to the taxpayer"),
                       ("taxpayer_cashable", "to the taxpayer, cashable"),
                       ("social", "to society (benefit_per_pound)")):
        m = f"benefit_per_pound_{key}"
        if m not in e.index:
            continue
        if math.isnan(e.loc[m, "value"]):  # e.g. two-year reoffending past a short horizon
            lines.append(f"    {words}: not available (its window runs past the horizon)")
            continue
        lo, hi = e.loc[m, "lo"], e.loc[m, "hi"]
        interval = "" if math.isnan(lo) else f"{money(lo, 2)} to {money(hi, 2)}"
        lines.append(f"    {words:<38}{amount(m, 2):>10}{interval:>22}{amount(f'npv_{key}'):>16}")
    if "benefit_per_pound_social" not in e.index:  # tables written before the three measures
        lines.append(f"    {'benefit per £1':<38}{amount('benefit_per_pound', 2):>10}")
    lines += payer_lines(results)
    return lines


def payer_lines(results) -> list[str]:
    """Who saves, by payer: each payer's discounted saving over the horizon (IOM's cost to it
    included) and the year it pays back in (savings_by_payer.csv)."""
    from iomsim.reporting.labels import money

    s = results.savings_by_payer
    if s is None or not len(s):
        return []
    lines = [f"  {'Saving by payer (discounted, IOM cost included)':<50}{'horizon':>12}"
             f"{'pays back':>20}"]
    for payer, g in s.groupby("payer", sort=False):
        last = g.sort_values("year").iloc[-1]
        year = last["payback_year"]
        when = "not by the horizon" if math.isnan(year) else f"in year {year:.0f}"
        lines.append(f"    {payer:<48}{money(last['cumulative_saving'], 0):>12}{when:>20}")
    return lines
