"""Tidy results tables, summaries with intervals, discounting, and the results folder.

Every table is long, with documented id columns; see the README's "Results directory" section.
The folder's files and columns are defined in :mod:`iomsim.results_folder`.
Numbers are reduced in replication order and written at a fixed precision, so the same scenario,
seed and replications give byte-identical CSVs however many processes ran them.
"""

from __future__ import annotations

import hashlib
import math
import platform
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from iomsim import decomposition as decomp
from iomsim.atomic import AtomicFolder, environment_fault, recover_folder
from iomsim.economics import (agency_order, discount_factors, economics_of,  # noqa: F401
                              payback_year, replication_measures, savings_by_payer)
from iomsim.engine.model import DAYS_PER_YEAR, ItemRegistry
from iomsim.engine.measures import MONTH, window_days
from iomsim.engine.records import ARMS, ReplicationResult
from iomsim.errors import EnvironmentFault, InputError, ResultsExistError
from iomsim.folders import check_ours, hold, real_target, write_marker
from iomsim.results_folder import (COSTS_BY_AGENCY, DECOMPOSITION, ECONOMICS, MANIFEST,
                                   OPTIONAL_TABLES, OUTCOMES, POPULATION, RESULT_FILES,
                                   SAVINGS_BY_PAYER,
                                   SUMMARY_COLUMNS, SURVIVAL, TABLES, missing_files,
                                   read_manifest, read_optional_tables, read_table, write_folder)
from iomsim.scenario.schema import VICTIMS, Scenario

DIFFERENCE_ARM = "iom_minus_non_iom"
RELATIVE_CHANGES = (
    ("reconviction_rate_24m_relative_change", "reconviction_rate_24m",
     "reconviction_rate_24m_before"),
    ("convictions_12m_relative_change_vs_24m_before", "convictions_per_offender_12m",
     "convictions_per_offender_24m_before"),
)


def summarise(values: Sequence[float]) -> dict[str, float]:
    """Mean over replications, the 95% t-interval of that mean, and the 2.5th/97.5th percentiles.

    NaN values (a measure undefined in a replication) are left out; with one replication the
    interval is undefined (NaN).
    """
    x = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=float)
    if x.size == 0:
        return dict.fromkeys(SUMMARY_COLUMNS, math.nan)
    mean = float(x.mean())
    if x.size > 1:
        half = float(stats.t.ppf(0.975, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
        lo, hi = mean - half, mean + half
    else:
        lo = hi = math.nan
    p025, p975 = (float(v) for v in np.percentile(x, [2.5, 97.5]))
    return {"value": mean, "lo": lo, "hi": hi, "p025": p025, "p975": p975}


@dataclass
class Results:
    """What a run produced: tidy tables (pandas DataFrames) and the manifest."""

    costs: pd.DataFrame
    costs_by_agency: pd.DataFrame
    outcomes: pd.DataFrame
    economics: pd.DataFrame
    survival: pd.DataFrame
    population: pd.DataFrame
    manifest: dict[str, Any]
    # What the before/after change is made of (decomposition.csv); None when the scenario lacks
    # 24 months before day 0 or two years after it (iomsim.decomposition.applies).
    decomposition: pd.DataFrame | None = None
    # Each payer's discounted saving by year, cumulated, with its payback year
    # (savings_by_payer.csv); None only in a folder written before it existed.
    savings_by_payer: pd.DataFrame | None = None
    # Added by `iomsim breakeven --switching-value --results FOLDER` (switching_value.csv).
    switching_value: pd.DataFrame | None = None
    replications: list[ReplicationResult] = field(default_factory=list, repr=False)

    def metric(self, name: str, arm: str = "iom") -> float:
        """The mean of one outcome metric for one arm (or of an economics metric, arm ignored)."""
        o = self.outcomes
        row = o[(o["arm"] == arm) & (o["metric"] == name)]
        if len(row):
            return float(row["value"].iloc[0])
        e = self.economics
        row = e[e["metric"] == name]
        if len(row):
            return float(row["value"].iloc[0])
        raise KeyError(f"no metric {name!r}")

    def write(self, out: str | Path, *, force: bool = False) -> Path:
        """Write the results folder atomically: a hidden temporary folder, moved into place.

        A folder that already holds results is replaced only with ``force=True`` (and only if
        iomsim wrote it); otherwise :class:`iomsim.errors.ResultsExistError` is raised and
        nothing is written."""
        try:
            return write_results(self, out, force=force)
        except ResultsExistError:
            # The folder check words its refusal for the command line (--force); a Python
            # caller has an argument to pass instead.
            raise ResultsExistError(f"{out} already holds results; pass force=True to replace "
                                    "them") from None


def build_results(scenario: Scenario, reps: Sequence[ReplicationResult], items: ItemRegistry, *,
                  seed: int, manifest_extra: dict[str, Any] | None = None,
                  keep_replications: bool = False) -> Results:
    reps = sorted(reps, key=lambda r: r.replication)
    costs = cost_table(scenario, reps, items)
    by_agency = costs_by_agency_table(costs, reps)
    outcomes = outcomes_table(reps)
    savings = savings_by_payer_table(scenario, reps, items)
    economics = pd.concat([economics_table(scenario, reps, items), payback_rows(savings)],
                          ignore_index=True)
    survival = survival_table(reps)
    population = population_table(reps)
    applies = decomp.applies(scenario.pre_period_months, scenario.horizon_years)
    decomposition = decomposition_table(reps) if applies else None
    notes = not_available(list(reps[0].metrics[ARMS[0]]) if reps else [], scenario.horizon_years)
    extra = dict(manifest_extra or {})
    if notes:
        extra["metrics_not_available"] = notes
    if not applies:
        extra["decomposition_not_written"] = (
            f"{DECOMPOSITION.file} needs 24 months before day 0 and a horizon of at least two "
            f"years (this run: pre_period_months {scenario.pre_period_months:g}, horizon_years "
            f"{scenario.horizon_years:g})")
    manifest = build_manifest(scenario, reps, seed=seed, extra=extra)
    return Results(costs=costs, costs_by_agency=by_agency, outcomes=outcomes, economics=economics,
                   survival=survival, population=population, manifest=manifest,
                   decomposition=decomposition, savings_by_payer=savings,
                   replications=list(reps) if keep_replications else [])


def not_available(metrics: Sequence[str], horizon_years: float) -> dict[str, str]:
    """The metrics whose window runs past the horizon (NaN in every table), each with why: the
    manifest's ``metrics_not_available``. Relative changes built on them are listed too."""
    horizon_days = horizon_years * DAYS_PER_YEAR
    names = list(metrics) + [name for name, _, _ in RELATIVE_CHANGES]
    out = {}
    for m in dict.fromkeys(names):
        days = window_days(m)
        if days > horizon_days + 1e-9:
            out[m] = (f"window runs past the {horizon_years:g}-year horizon (it needs "
                      f"{12 * days / DAYS_PER_YEAR:g} months after day 0)")
    return out


def decomposition_table(reps: Sequence[ReplicationResult]) -> pd.DataFrame:
    """decomposition.csv: for each measure of :data:`iomsim.decomposition.MEASURES` and each
    row of :data:`iomsim.decomposition.ROWS`, the mean over replications with its 95%
    t-interval (:func:`summarise`), its share of the observed change (components and the
    observed change itself; NaN for the levels) and the replications it was defined in."""
    per = [decomp.decompose_replication(r.metrics) for r in reps]
    rows = []
    for measure in decomp.MEASURES:
        values = {c: [p[measure][c] for p in per] for c in decomp.ROWS}
        observed = summarise(values["observed_change"])["value"]
        for component in decomp.ROWS:
            s = summarise(values[component])
            share = (s["value"] / observed
                     if component not in decomp.LEVELS and observed and not math.isnan(observed)
                     else math.nan)
            defined = sum(1 for v in values[component] if not math.isnan(v))
            rows.append({"measure": measure, "component": component, "mean": s["value"],
                         "lower": s["lo"], "upper": s["hi"], "share_of_observed_change": share,
                         "replications": defined})
    return pd.DataFrame(rows, columns=list(DECOMPOSITION.columns))


def cost_table(scenario: Scenario, reps: Sequence[ReplicationResult], items: ItemRegistry
               ) -> pd.DataFrame:
    """Long table: one row per arm, replication, year, agency and item."""
    frames = []
    for r in reps:
        for arm in ARMS:
            c = r.costs[arm]
            n_years = c.shape[0]
            factors = discount_factors(scenario.discount_rate, n_years)
            years = np.repeat(np.arange(1, n_years + 1), len(items))
            frames.append(pd.DataFrame({
                "arm": arm, "replication": r.replication, "year": years,
                "agency": [it.agency for it in items.items] * n_years,
                "item": [it.item for it in items.items] * n_years,
                "iom_programme": [it.iom_programme for it in items.items] * n_years,
                "cost": c.reshape(-1),
                "discounted_cost": (c * factors[:, None]).reshape(-1),
            }))
    table = pd.concat(frames, ignore_index=True)
    table["arm"] = table["arm"].astype(str)
    table["agency"] = table["agency"].astype(str)
    table["item"] = table["item"].astype(str)
    return table


def _per_rep_agency(costs: pd.DataFrame) -> pd.DataFrame:
    return costs.groupby(["arm", "replication", "agency"], sort=False)[
        ["cost", "discounted_cost"]].sum().reset_index()


def costs_by_agency_table(costs: pd.DataFrame, reps: Sequence[ReplicationResult]) -> pd.DataFrame:
    per_rep = _per_rep_agency(costs)
    agencies = agency_order(set(per_rep["agency"]))
    rows = []
    for arm in ARMS:
        sub = per_rep[per_rep["arm"] == arm]
        fiscal = sub[sub["agency"] != VICTIMS]["cost"].sum()
        for agency in agencies:
            a = sub[sub["agency"] == agency].sort_values("replication")
            values = a["cost"].to_numpy() if len(a) else np.zeros(len(reps))
            summ = summarise(values)
            mean_cost = float(values.mean())
            share = (mean_cost * len(values) / fiscal) if (agency != VICTIMS and fiscal > 0) else math.nan
            rows.append({"arm": arm, "agency": agency, "cost": mean_cost,
                         "discounted_cost": float(a["discounted_cost"].mean()) if len(a) else 0.0,
                         "share": share, "lo": summ["lo"], "hi": summ["hi"],
                         "p025": summ["p025"], "p975": summ["p975"]})
    return pd.DataFrame(rows, columns=list(COSTS_BY_AGENCY.columns))


def outcomes_table(reps: Sequence[ReplicationResult]) -> pd.DataFrame:
    metrics = list(reps[0].metrics[ARMS[0]].keys())
    per_arm: dict[str, dict[str, list[float]]] = {}
    for arm in ARMS:
        per = {m: [r.metrics[arm].get(m, math.nan) for r in reps] for m in metrics}
        # The evaluation's before/after comparisons, as relative changes (negative = a fall).
        for name, after, before in RELATIVE_CHANGES:
            if before in per and after in per:
                per[name] = [(a / b - 1.0) if b else math.nan
                             for a, b in zip(per[after], per[before])]
        per_arm[arm] = per
    # The counterfactual: IOM arm minus non-IOM arm, replication by replication.
    per_arm[DIFFERENCE_ARM] = {m: [a - b for a, b in zip(per_arm["iom"][m], per_arm["non_iom"][m])]
                               for m in per_arm["iom"]}
    rows = [{"arm": arm, "metric": m, **summarise(values)}
            for arm, per in per_arm.items() for m, values in per.items()]
    return pd.DataFrame(rows, columns=list(OUTCOMES.columns))


def economics_per_replication(scenario: Scenario, reps: Sequence[ReplicationResult],
                              items: ItemRegistry) -> pd.DataFrame:
    """One row per replication: IOM spend, benefit, benefit per pound, NPV and who pays."""
    return pd.DataFrame([{"replication": r.replication,
                          **economics_of(scenario, r.costs, items, r.metrics)}
                         for r in sorted(reps, key=lambda r: r.replication)])


def economics_table(scenario: Scenario, reps: Sequence[ReplicationResult], items: ItemRegistry
                    ) -> pd.DataFrame:
    per = economics_per_replication(scenario, reps, items)
    cohort = float(np.mean([r.cohort_size for r in reps])) if reps else math.nan
    rows = []
    for col in per.columns:
        if col == "replication":
            continue
        rows.append({"metric": col, **summarise(per[col].tolist())})
    if cohort:
        rows.append({"metric": "iom_cost_per_offender",
                     **summarise((per["iom_cost"] / cohort).tolist())})
        rows.append({"metric": "benefit_per_pound_exceeds_one_share",
                     **summarise((per["benefit_per_pound"] > 1).astype(float).tolist())})
    return pd.DataFrame(rows, columns=list(ECONOMICS.columns))


def savings_by_payer_table(scenario: Scenario, reps: Sequence[ReplicationResult],
                           items: ItemRegistry) -> pd.DataFrame:
    """savings_by_payer.csv: for each payer and year of the horizon, the discounted saving
    (non-IOM minus IOM cost, the IOM programme included) and its running total, each the mean
    over replications with a 95% interval, the share of replications whose running total is at
    or above zero, and the payer's payback year (from the mean running total; NaN when it is
    still below zero at the horizon)."""
    per = [savings_by_payer(scenario, r.costs, items) for r in reps]
    rows = []
    for payer in (per[0] if per else {}):
        yearly = np.vstack([p[payer] for p in per])  # (replications, years)
        cumulative = np.cumsum(yearly, axis=1)
        mean_cumulative = cumulative.mean(axis=0)
        payback = payback_year(mean_cumulative)
        for k in range(yearly.shape[1]):
            y, c = summarise(yearly[:, k].tolist()), summarise(cumulative[:, k].tolist())
            rows.append({"payer": payer, "year": k + 1, "saving": y["value"],
                         "saving_lo": y["lo"], "saving_hi": y["hi"],
                         "cumulative_saving": c["value"], "cumulative_lo": c["lo"],
                         "cumulative_hi": c["hi"],
                         "paid_back_share": float((cumulative[:, k] >= 0).mean()),
                         "payback_year": payback})
    return pd.DataFrame(rows, columns=list(SAVINGS_BY_PAYER.columns))


def payback_rows(savings: pd.DataFrame) -> pd.DataFrame:
    """economics.csv rows ``payback_year_<payer>``: each payer's payback year (value only)."""
    rows = [{"metric": f"payback_year_{payer}", "value": float(g["payback_year"].iloc[0])}
            for payer, g in savings.groupby("payer", sort=False)]
    return pd.DataFrame(rows, columns=list(ECONOMICS.columns))


def survival_table(reps: Sequence[ReplicationResult]) -> pd.DataFrame:
    rows = []
    for arm in ARMS:
        curves = np.array([r.survival[arm] for r in reps])
        for month in range(curves.shape[1]):
            s = summarise(curves[:, month].tolist())
            rows.append({"arm": arm, "month": month, "day": round(month * MONTH, 6),
                         "share_not_reconvicted": s["value"], "lo": s["lo"], "hi": s["hi"]})
    return pd.DataFrame(rows, columns=list(SURVIVAL.columns))


def population_table(reps: Sequence[ReplicationResult]) -> pd.DataFrame:
    keys = list(reps[0].population.keys())
    rows = []
    for key in keys:
        s = summarise([r.population.get(key, math.nan) for r in reps])
        rows.append({"population": key[0], "measure": key[1], **s})
    return pd.DataFrame(rows, columns=list(POPULATION.columns))


def _versions() -> dict[str, str]:
    names = ["iomsim", "simpy", "numpy", "pandas", "scipy", "pydantic", "pyyaml", "pyarrow",
             "dask", "distributed", "SALib"]
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    out["python"] = platform.python_version()
    return out


def build_manifest(scenario: Scenario, reps: Sequence[ReplicationResult], *, seed: int,
                   extra: dict[str, Any] | None = None) -> dict[str, Any]:
    meta = scenario.meta
    return {
        "scenario_name": scenario.name,
        "scenario_file": meta.file if meta else None,
        "scenario_hash": meta.hash if meta else None,
        "overrides": meta.overrides if meta else {},
        "seed": seed,
        "reps": len(reps),
        "replications": [r.replication for r in reps],
        # Every parameter as the engine saw it, defaults included (the resolved scenario below
        # holds only what the files and overrides said).
        "validated_scenario": scenario.model_dump(mode="json"),
        "cohort_file": _cohort_file_record(scenario),
        "python_executable": sys.executable,
        "cohort_size": [r.cohort_size for r in reps],
        "offender_months": float(sum(r.offender_months for r in reps)),
        "versions": _versions(),
        "platform": platform.platform(),
        "resolved_scenario": meta.resolved if meta else scenario.model_dump(),
        "provenance": meta.provenance if meta else {},
        **(extra or {}),
    }


def _cohort_file_record(scenario: Scenario) -> dict[str, Any] | None:
    """Path and SHA-256 of a cohort CSV: the numbers depend on its content, not only its name."""
    if scenario.cohort.from_csv is None:
        return None
    try:
        from iomsim.scenario.cohort_csv import read_cohort_bytes

        path, raw = read_cohort_bytes(scenario)
        return {"path": str(path), "sha256": hashlib.sha256(raw).hexdigest()}
    except (InputError, OSError) as exc:
        return {"path": scenario.cohort.from_csv, "error": str(exc)}


def prepare_results_folder(out: str | Path, *, force: bool = False) -> Path:
    """Check that ``out`` may be written as a results folder; returns where it is written (the
    target of a symbolic link ``out``: the link stays). Call it holding the folder's lock
    (:func:`iomsim.folders.hold`); :func:`write_results` does.

    First undoes what a killed writer left (:func:`iomsim.atomic.recover_folder`). A folder that
    is not empty is refused unless ``force``, and even then (:class:`~iomsim.errors.NotOurs`)
    unless iomsim wrote it and it holds nothing else (:func:`iomsim.folders.check_ours`).
    """
    target = real_target(out)
    recover_folder(target)
    if target.exists() and not target.is_dir():
        raise InputError("is a file; expected a folder for the results (--out)", file=out)
    if target.is_dir() and any(target.iterdir()):
        check_ours(target, shown=out)
        if not force:
            raise ResultsExistError(f"{out} already holds results; use --force to replace them")
    return target


def write_results(results: Results, out: str | Path, *, force: bool = False,
                  before_publish: Callable[[Path], object] | None = None) -> Path:
    """Write a results folder so that it is never half-written.

    Everything goes into a hidden folder ``.<name>.tmp-<pid>-<random>`` beside ``out``, the
    manifest last, each file flushed to disk; the folder is then renamed to ``out`` (see
    :class:`iomsim.atomic.AtomicFolder`). A run killed part way leaves at most such a hidden
    folder (removed by the next write once its process is gone) and never a folder named ``out``
    without a manifest. Existing results are replaced only with ``force``, and only if iomsim
    wrote them (:func:`prepare_results_folder`). ``before_publish(folder)`` may add files (the
    report) to the hidden folder before it is moved into place, so they appear with the tables
    or not at all. A full disk raises :class:`~iomsim.errors.EnvironmentFault`, leaving ``out``
    as it was.
    """
    out = Path(out)
    with hold(out, "results"):
        target = prepare_results_folder(out, force=force)
        try:
            staging = AtomicFolder(target)
        except OSError as exc:
            raise _refused(exc, out, "create a results folder here") from None
        try:
            with staging as tmp:
                write_marker(tmp, "results")
                write_folder({t.name: getattr(results, t.name)
                              for t in (*TABLES, *OPTIONAL_TABLES)}, results.manifest, tmp)
                if before_publish is not None:
                    before_publish(tmp)
        except EnvironmentFault as exc:  # about a file in the hidden folder: name the folder
            raise EnvironmentFault(exc.reason, out, exc.errno) from None
        except OSError as exc:
            raise _refused(exc, out, "write the results here") from None
    return out


def _refused(exc: OSError, out: Path, doing: str) -> Exception:
    """What a refused write of ``out`` is to the user: a fault of the machine (a full disk, ...)
    or, any other refusal (a permission taken away part way), a one-line error about --out."""
    fault = environment_fault(exc, out)
    if fault is not None:
        return fault
    return InputError(f"cannot {doing} ({exc.strerror or exc})", file=out)


def read_results(folder: str | Path) -> Results:
    """Read a results folder written by :func:`write_results`."""
    folder = Path(folder)
    if not (folder / MANIFEST).is_file():
        raise FileNotFoundError(f"{folder} is not a finished results folder (no {MANIFEST})")
    missing = missing_files(folder)
    if missing:
        raise FileNotFoundError(f"{folder} is not a complete results folder (missing "
                                f"{', '.join(missing)})")
    return Results(**{t.name: read_table(folder, t) for t in TABLES},
                   **read_optional_tables(folder), manifest=read_manifest(folder))


__all__ = ["Results", "build_results", "decomposition_table", "discount_factors",
           "not_available", "read_results", "replication_measures",
           "summarise", "prepare_results_folder",
           "write_results", "RESULT_FILES"]
