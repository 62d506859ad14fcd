"""Run a sweep: many points of a design, each with several replications of both arms.

``sweep(...)`` returns the tidy table ``point, <parameter paths...>, replication, arm, measure,
value`` (one row per kept measure of each replication at each point; arms ``non_iom``, ``iom``
and ``economics`` as in :func:`iomsim.economics.replication_measures`). With ``out`` it also
writes the sweep folder (see :mod:`iomsim.experiments.store`): ``results.parquet`` (that
table), ``points.csv`` (the design), ``summary.csv`` (per point, arm and measure: mean,
interval, percentiles) and, by design, ``tornado.csv`` (oneway), ``psa_samples.csv``,
``psa_summary.csv``, ``psa_by_measure.csv`` (P(benefit > cost) on each benefit measure),
``acceptability.csv`` and ``acceptability_by_measure.csv`` (psa),
``sobol.csv`` (saltelli) or ``morris.csv`` (morris). The sweep file format is described in
:mod:`iomsim.experiments.spec` and in ``scenarios/sweeps/README.md``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import pandas as pd
from tqdm import tqdm

from iomsim.atomic import write_csv_atomic, write_parquet_atomic
from iomsim.errors import NobodySelected, WorkersDied
from iomsim.execution import make_backend
from iomsim.experiments import analysis
from iomsim.experiments.spec import SweepSpec, load_sweep
from iomsim.experiments.store import CSV_FLOAT_FORMAT, FolderStore, MemoryStore
from iomsim.folders import hold


@dataclass
class SweepResult:
    """A finished sweep: the tidy table, the summary, and the design's analysis tables."""

    spec: SweepSpec
    table: pd.DataFrame
    summary: pd.DataFrame
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    computed_points: int = 0
    folder: Path | None = None


def sweep(sweep_file_or_spec: str | Path | Mapping[str, Any] | SweepSpec, jobs: int | None = None,
          scheduler: str | None = None, out: str | Path | None = None, force: bool = False,
          progress: bool | None = None) -> pd.DataFrame:
    """Run a sweep and return its tidy table (see the module docstring).

    ``jobs``: local worker processes (default all cores). ``scheduler``: ``"tcp://HOST:PORT"`` of
    a running Dask scheduler, or ``"local"`` for a local Dask cluster of ``jobs`` workers.
    ``out``: a sweep folder; finished points are saved there as they finish, and running the
    same sweep again computes only the missing ones. Results do not depend on ``jobs`` or
    ``scheduler``.
    """
    return run_sweep(sweep_file_or_spec, jobs=jobs, scheduler=scheduler, out=out, force=force,
                     progress=progress).table


def run_sweep(sweep_file_or_spec: str | Path | Mapping[str, Any] | SweepSpec,
              jobs: int | None = None, scheduler: str | None = None,
              out: str | Path | None = None, force: bool = False,
              progress: bool | None = None) -> SweepResult:
    """As :func:`sweep`, returning a :class:`SweepResult` with every table."""
    spec = sweep_file_or_spec if isinstance(sweep_file_or_spec, SweepSpec) \
        else load_sweep(sweep_file_or_spec)
    n = spec.n_points
    info = {"sweep_file": spec.file, "design": spec.design.kind, "points": n,
            "replications": spec.replications, "seed": spec.seed,
            "common_random_numbers": spec.common_random_numbers,
            "parameters": spec.parameters, "engine": spec.engine,
            "scenario_hash": spec.scenario.meta.hash, "inputs": spec.inputs,
            "scenario_name": spec.scenario.name}
    if spec.scenario_uncertainty:  # scenario values drawn from their own uncertainty:
        info["scenario_uncertainty"] = spec.uncertainty_origins
    if spec.posterior is not None:
        info["posterior"] = {"file": str(spec.data.get("posterior")),
                             "draws": spec.posterior.draws,
                             "accepted": len(spec.posterior.values),
                             "columns": spec.posterior.columns}
    if out is None:
        return _run(spec, MemoryStore(), jobs, scheduler, progress)
    with hold(out, "sweep"):  # a second sweep (or run) into the same folder is refused
        return _run(spec, FolderStore(out, spec.hash, info, force=force), jobs, scheduler,
                    progress)


def _run(spec: SweepSpec, store: MemoryStore, jobs: int | None, scheduler: str | None,
         progress: bool | None) -> SweepResult:
    n = spec.n_points
    missing = sorted(set(range(n)) - store.done())
    started = time.time()
    if missing:
        _compute(spec, store, missing, jobs, scheduler, progress)
    table = store.table(n)
    summary = analysis.summary_table(table)
    tables = analyse(spec, table)
    already = isinstance(store, FolderStore) and not missing and store.is_complete() and all(
        (store.folder / f"{name}.csv").exists() for name in ("summary", *tables))
    if isinstance(store, FolderStore) and not already:
        folder = store.folder
        write_parquet_atomic(table, folder / "results.parquet")
        points = spec.design.points.reset_index()
        if spec.design.roles is not None:
            points = points.join(spec.design.roles)
        if spec.design.posterior_draws is not None:  # which accepted draw each point took
            points.insert(1, "posterior_draw", spec.design.posterior_draws)
        write_csv_atomic(points, folder / "points.csv", float_format=CSV_FLOAT_FORMAT)
        write_csv_atomic(summary, folder / "summary.csv", float_format=CSV_FLOAT_FORMAT)
        for name, frame in tables.items():
            write_csv_atomic(frame, folder / f"{name}.csv", float_format=CSV_FLOAT_FORMAT)
        store.finish({"computed_points": len(missing), "elapsed_seconds":
                      round(time.time() - started, 3), "tables": sorted(tables)})
    return SweepResult(spec=spec, table=table, summary=summary, tables=tables,
                       computed_points=len(missing), folder=getattr(store, "folder", None))


def analyse(spec: SweepSpec, table: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The analysis tables that the sweep's design supports."""
    arm, measure = spec.primary_measure
    design = spec.design
    out: dict[str, pd.DataFrame] = {}
    if design.kind == "oneway":
        out["tornado"] = analysis.tornado_table(table, design, arm, measure)
    if design.kind == "psa":
        samples = analysis.psa_samples(table)
        out["psa_samples"] = samples
        out["psa_summary"] = analysis.psa_summary(samples)
        out["psa_by_measure"] = analysis.benefit_cost_probabilities(samples)
        acc = spec.acceptability
        out["acceptability"] = analysis.acceptability_curve(
            samples, max_cost=acc.get("max_cost_per_offender"), steps=int(acc.get("steps", 101)))
        out["acceptability_by_measure"] = analysis.acceptability_by_measure(
            samples, max_threshold=acc.get("max_benefit_per_pound"),
            steps=int(acc.get("steps", 101)))
    if design.kind in ("saltelli", "morris"):
        y = analysis.point_means(table, arm, measure).reindex(range(spec.n_points))
        try:
            if design.kind == "saltelli":
                out["sobol"] = analysis.sobol_table(design, y, seed=spec.seed)
            else:
                out["morris"] = analysis.morris_table(design, y, seed=spec.seed)
        except ValueError as exc:
            raise spec.error(str(exc), "primary_measure") from None
    return out


def _point_frame(spec: SweepSpec, point: int, reps: dict[int, list]) -> pd.DataFrame:
    values = spec.point_values(point)
    records = []
    for r in sorted(reps):
        for arm, measure, value in reps[r]:
            records.append((point, r, arm, measure, value))
    df = pd.DataFrame.from_records(records, columns=["point", "replication", "arm", "measure",
                                                     "value"])
    for i, (k, v) in enumerate(values.items()):
        df.insert(1 + i, k, v)
    return df


def _check_measures(spec: SweepSpec, rows: list) -> None:
    if spec.measures is None:
        return
    have = {(arm, m) for arm, m, _ in rows}
    for i, pair in enumerate(spec.measures):
        if pair not in have:
            where = f"measures[{i}]" if "measures" in spec.data else "primary_measure"
            raise spec.error(f"the simulation has no measure {'.'.join(pair)!r} (see "
                             "iomsim.economics.replication_measures for the names)", where)


def _compute(spec: SweepSpec, store, missing: list[int], jobs: int | None, scheduler: str | None,
             progress: bool | None) -> None:
    R = spec.replications
    points = [(p, spec.point_values(p), spec.point_seed(p)) for p in missing]
    pending: dict[int, dict[int, list]] = {}
    checked = False
    bar = tqdm(total=len(missing) * R, desc="sweep", unit="rep", delay=1.0,
               disable={True: False, False: True, None: None}[progress])
    try:
        with make_backend(spec.scenario, jobs, scheduler) as backend:
            for task, result in backend.run(points, R, measures=spec.measures,
                                            engine=spec.engine):
                for point, rep, rows in result:
                    if not checked:
                        _check_measures(spec, rows)
                        checked = True
                    got = pending.setdefault(point, {})
                    got[rep] = rows
                    if len(got) == R:
                        store.write_point(point, _point_frame(spec, point, pending.pop(point)))
                bar.update(task.size)
    except WorkersDied as exc:
        raise WorkersDied(f"{exc} (the finished points are saved: run again to resume)") from None
    except NobodySelected as exc:
        raise _nobody_at_point(spec, store, exc) from None
    finally:
        bar.close()


def _nobody_at_point(spec: SweepSpec, store, exc: NobodySelected) -> NobodySelected:
    """The sweep stops at a point whose selection picked nobody: every IOM measure there would
    be 0 / 0, and a table (or tornado, PSA, Sobol index) holding it would be NaN. Refused at the
    sweep file's parameter that selects (or at ``parameters``), naming the point's values and
    the rule, as ``run`` refuses an empty selection; the finished points stay in the folder."""
    point = exc.point if exc.point is not None else 0
    values = spec.point_values(point)
    shown = ", ".join(f"{k}={v!r}" for k, v in values.items())
    rule = exc.path or "selection"
    culprit = next((k for k in values if k == rule), None) or next(
        (k for k in values if k.startswith(("selection.", "cohort."))), None)
    said = exc.message.removesuffix("; relax that rule or enlarge the cohort")
    if culprit is not None:
        remedy = f"narrow the range of {culprit} so that every point selects someone"
    else:
        at = f" (at {exc.file}{f':{exc.line}' if exc.line else ''})" \
            if exc.file and exc.file != "--set" else ""
        remedy = f"relax {rule}{at} or enlarge the cohort so that every point selects someone"
    kept = ""
    if isinstance(store, FolderStore):
        n = len(store.done())
        kept = (f"; the sweep stopped, its {n} finished point{'s' * (n != 1)} kept in "
                f"{store.folder}/ (the corrected sweep replaces them with --force)")
    where = spec.where(culprit) if culprit else "parameters"
    return NobodySelected(f"design point {point} ({shown}): {said}; {remedy}{kept}",
                          file=spec.file, line=spec.error("", where).line, path=where,
                          point=point)
