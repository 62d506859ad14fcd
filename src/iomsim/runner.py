"""Run a scenario's replications (both arms) and gather the results into tables.

Where the replications run (this process, a local pool that restarts dead workers, a Dask
cluster) is :mod:`iomsim.execution`'s business, shared with sweeps, break-even and calibration;
a run is one point with no parameter values. Each replication's seed comes from ``seed`` and its
number, so the tables do not depend on where it ran.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Mapping

from tqdm import tqdm

from iomsim.defaults import DEFAULT_REPS, DEFAULT_SEED, MAX_REPS, REPS_REASON
from iomsim.engine.measures import empty_selection_error  # noqa: F401 (re-exported)
from iomsim.engine.records import ReplicationResult
from iomsim.engine.replication import DEFAULT_ENGINE, ENGINES
from iomsim.errors import InputError, MemoryShortfall, one_line
from iomsim.execution import REPLICATIONS, Backend, default_jobs, make_backend
from iomsim.results import Results, build_results
from iomsim.scenario.lineage import based_on
from iomsim.scenario.schema import Scenario

__all__ = ["check_engine", "default_jobs", "estimate_run", "iter_replications", "open_backend",
           "prepare_engine", "run", "run_with"]


def check_engine(scenario: Scenario, engine: str) -> None:
    """Refuse, before anything runs, an engine that cannot run ``scenario``: ValueError for an
    unknown name, InputError naming the scenario's file, line and key for a feature the compiled
    engine does not implement."""
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}: expected one of {', '.join(ENGINES)}")
    if engine == "compiled":
        from iomsim.engine.numba.driver import unsupported
        from iomsim.scenario.loader import origin_of

        problem = unsupported(scenario)
        if problem is not None:
            file, line = origin_of(scenario, problem[0])
            raise InputError(f"the compiled engine does not implement {problem[1]}; run this "
                             "scenario with the simpy engine", file=file, line=line,
                             path=problem[0])


def selection_shortfall(scenario: Scenario, reps: list[ReplicationResult]) -> str | None:
    """A one-line warning when selection picked fewer offenders than ``selection.cohort_size``
    in some replication (all the eligible ones), saying how many and why; else None."""
    if scenario.selection is None or not reps:
        return None
    asked = scenario.selection.cohort_size
    short = [r for r in reps if r.cohort_size < asked]
    if not short:
        return None
    fewest = min(short, key=lambda r: r.cohort_size)
    present = int(fewest.population.get(("selected", "offenders"), 0)
                  + fewest.population.get(("not_selected", "offenders"), 0))
    if len(reps) > 1:
        picked = (f"selection picked fewer offenders than selection.cohort_size ({asked:,}) in "
                  f"{len(short)} of {len(reps)} replications, as few as {fewest.cohort_size:,}")
    else:
        picked = (f"selection picked {fewest.cohort_size:,} offenders, fewer than "
                  f"selection.cohort_size ({asked:,})")
    return (f"{picked}: only {fewest.cohort_size:,} of the {present:,} present at day 0 met the "
            "selection rules (selection.statuses, ogrs_min, min_needs, "
            "min_convictions_pre_period)")


def prepare_engine(scenario: Scenario, engine: str, announce: bool = True) -> None:
    """:func:`check_engine`, then, for the numba engine, its kernels compiled here once (saying
    so on stderr with ``announce``) rather than in every worker at its first replication."""
    check_engine(scenario, engine)
    if engine == "compiled":
        from iomsim.engine.numba.warmup import ensure_compiled

        ensure_compiled(scenario, announce=announce)


def fit_jobs_to_memory(scenario: Scenario, engine: str, jobs: int | None, reps: int,
                       announce: bool = True, available: int | None = None) -> int:
    """The number of local workers whose replications fit in the memory available: ``jobs``
    (``None``: all cores), lowered with a line on stderr if they would not all fit, or
    :class:`~iomsim.errors.MemoryShortfall` if even one would not (before anything runs).
    The estimate is :func:`iomsim.engine.footprint.bytes_per_worker`."""
    from iomsim.engine.footprint import available_bytes, bytes_per_worker

    wanted = max(1, min(default_jobs() if jobs is None else jobs, reps))
    need = bytes_per_worker(scenario, engine)
    have = available_bytes() if available is None else available
    if have is None or need * wanted <= have:
        return wanted if jobs is None else jobs
    gb = 1024 ** 3
    if need > have:
        other = " or the compiled engine" if engine == "simpy" else ""
        raise MemoryShortfall(
            f"one worker would need about {need / gb:.1f} GB for {one_line(scenario.name)} "
            f"and the machine has {have / gb:.1f} GB available; use a smaller cohort{other}, "
            "or a machine (or a Dask cluster, --scheduler) with more memory")
    fits = max(1, have // need)
    if announce:
        print(f"iomsim: {wanted} workers would need about {need * wanted / gb:.1f} GB and "
              f"{have / gb:.1f} GB is available; running {fits} at once instead (the results "
              "do not depend on it)", file=sys.stderr, flush=True)
    return int(fits)


# Run-time estimate. CPU seconds per simulated offender-month (the whole population through
# the pre-period, the selected cohort through both arms), measured with benchmarks/run.py on
# this project's 2-core AMD EPYC (docs/performance.md): the compiled engine runs 2.0 to 3.6
# million such months per CPU-second (slowest at 400,000 offenders, when the state leaves the
# cache), the simpy engine about 100,000. The slower figure is used: the estimate should not
# promise what a loaded machine will not give.
OFFENDER_MONTHS_PER_CPU_SECOND = {"compiled": 2_000_000, "simpy": 100_000}
SECONDS_PER_REPLICATION = 0.01  # building the population's tables, the measures
STARTUP_SECONDS = 2.0  # imports, the scenario, the compiled kernels loaded
WORKER_START_SECONDS = 1.2  # a spawned worker's imports, beside the calling process's work


@dataclass(frozen=True)
class RunEstimate:
    """What :func:`estimate_run` expects of a run, before anything is simulated."""

    engine: str
    reps: int
    jobs_asked: int
    jobs: int  # after the memory check (0: not even one worker fits)
    simulated: int  # offenders a replication simulates (the pre-period population)
    selected: int  # offenders a replication follows through both arms
    offender_months: float  # simulated offender-months a replication, pre-period included
    bytes_per_worker: int
    available_bytes: int | None
    seconds_per_replication: float
    reps_per_worker: int
    seconds_per_worker: float
    wall_seconds: float
    kernels_compiled: bool = True


def estimate_run(scenario: Scenario, engine: str, reps: int, jobs: int | None,
                 available: int | None = None) -> RunEstimate:
    """Memory and time of ``reps`` replications of ``scenario`` on ``jobs`` local processes
    (``None``: all cores), estimated from the scenario's size alone: nothing is simulated. The
    memory is :func:`iomsim.engine.footprint.bytes_per_worker`; ``jobs`` is lowered as
    :func:`fit_jobs_to_memory` would (0 when one worker does not fit). Good to about half
    either way; the constants above say where they come from."""
    import math

    from iomsim.engine.footprint import available_bytes, bytes_per_worker, simulated_offenders

    simulated = simulated_offenders(scenario)
    selected = min(simulated, scenario.selection.cohort_size) if scenario.selection is not None \
        else simulated
    months = simulated * float(scenario.pre_period_months) \
        + selected * 12.0 * float(scenario.horizon_years) * 2
    per_rep = SECONDS_PER_REPLICATION + months / OFFENDER_MONTHS_PER_CPU_SECOND[engine]
    asked = default_jobs() if jobs is None else max(1, jobs)
    need = bytes_per_worker(scenario, engine)
    have = available_bytes() if available is None else available
    try:
        fitted = fit_jobs_to_memory(scenario, engine, asked, reps, announce=False,
                                    available=have)
    except MemoryShortfall:
        fitted = 0
    workers = max(1, min(fitted or 1, reps))
    per_worker = math.ceil(reps / workers)
    wall = STARTUP_SECONDS + (WORKER_START_SECONDS if workers > 1 else 0.0) + per_worker * per_rep
    compiled = True
    if engine == "compiled":
        from iomsim.engine.numba.warmup import kernels_cached

        compiled = kernels_cached()
        if not compiled:
            wall += 60.0
    return RunEstimate(engine=engine, reps=reps, jobs_asked=asked, jobs=fitted,
                       simulated=simulated, selected=selected, offender_months=months,
                       bytes_per_worker=need, available_bytes=have,
                       seconds_per_replication=per_rep, reps_per_worker=per_worker,
                       seconds_per_worker=per_worker * per_rep, wall_seconds=wall,
                       kernels_compiled=compiled)


def estimate_text(est: RunEstimate, label: str = "run") -> str:
    """The estimate in a few lines, for ``--dry-run``."""
    gb = 1024 ** 3
    have = "unknown" if est.available_bytes is None else f"{est.available_bytes / gb:.1f} GB"
    lines = [f"dry run: nothing simulated, nothing written; engine {est.engine}",
             f"  each replication simulates {est.simulated:,} offenders ({est.selected:,} "
             f"selected), about {est.offender_months:,.0f} offender-months",
             f"  memory per worker: about {est.bytes_per_worker / gb:.2f} GB; available: {have}"]
    if est.jobs == 0:
        lines.append("  not even one worker fits in the memory available: the "
                     f"{label} would be refused")
    elif est.jobs < est.jobs_asked:
        lines.append(f"  workers: {est.jobs_asked} asked, {est.jobs} fit in memory: the {label} "
                     f"would run {est.jobs} at once")
    else:
        lines.append(f"  workers: {min(est.jobs, est.reps)}")
    lines.append(f"  time per worker: {est.reps_per_worker:,} replication"
                 f"{'s' * (est.reps_per_worker != 1)} x about "
                 f"{duration_text(est.seconds_per_replication)} = about "
                 f"{duration_text(est.seconds_per_worker)}"
                 f"; the whole {label} about {duration_text(est.wall_seconds)} (good to about half "
                 "either way on an idle machine; slower when other work shares the cores)")
    if not est.kernels_compiled:
        lines.append("  the fast engine's kernels are not compiled yet: the first run compiles "
                     "them (about a minute, included above)")
    return "\n".join(lines)


def duration_text(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds:.2g} s"
    if seconds < 90:
        return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def open_backend(scenario: Scenario, jobs: int | None, scheduler: str | None, reps: int
                 ) -> Backend:
    """The backend for :func:`run` and :func:`run_with` (a context manager): ``jobs`` local
    processes (``None``: all cores) or the Dask ``scheduler``, for ``reps`` replications a run."""
    jobs = default_jobs() if jobs is None else max(1, jobs)
    # A local pool for one replication would only add its start-up time.
    return make_backend(scenario, jobs if scheduler else min(jobs, reps), scheduler)


def iter_replications(scenario: Scenario, replications: Iterable[int], seed: int, jobs: int = 1,
                      engine: str = DEFAULT_ENGINE, scheduler: str | None = None
                      ) -> Iterator[ReplicationResult]:
    """Yield replication results as they finish (any order with more than one worker)."""
    replications = list(replications)
    with open_backend(scenario, jobs, scheduler, len(replications)) as backend:
        for _, result in backend.run([(0, {}, seed)], replications, engine=engine,
                                     output=REPLICATIONS):
            for _, _, rep in result:
                yield rep


def run(scenario: Scenario, reps: int = DEFAULT_REPS, seed: int = DEFAULT_SEED,
        jobs: int | None = 1, progress: bool | None = None, keep_replications: bool = False,
        engine: str = DEFAULT_ENGINE, scheduler: str | None = None) -> Results:
    """Simulate ``reps`` replications of ``scenario`` (both arms) and return the tables.

    ``seed`` and ``reps`` fix the results exactly; ``jobs`` and ``scheduler`` only change the
    speed. ``jobs``: processes on this machine (``None``: all cores); a worker process that dies
    is replaced and its replications run again. ``scheduler``: ``"tcp://HOST:PORT"`` of a
    running Dask scheduler, or ``"local"`` for a local Dask cluster of ``jobs`` workers.
    ``progress`` shows a bar on stderr (default: when stderr is a terminal and the run lasts).
    ``engine``: ``"compiled"`` (numba, the default) or ``"simpy"`` (the readable reference: the
    same model and random numbers, many times slower; see docs/model.md, section 9).
    """
    if reps < 1:
        raise ValueError("reps must be at least 1")
    if reps > MAX_REPS:
        raise ValueError(f"reps must be at most {MAX_REPS:,}, got {reps:,}: {REPS_REASON}")
    prepare_engine(scenario, engine, announce=progress is not False)
    if scheduler in (None, "local"):  # a remote cluster's memory is its own to manage
        jobs = fit_jobs_to_memory(scenario, engine, jobs, reps, announce=progress is not False)
    started = time.time()
    with open_backend(scenario, jobs, scheduler, reps) as backend:
        return run_with(backend, reps=reps, seed=seed, engine=engine, progress=progress,
                        keep_replications=keep_replications, started=started,
                        manifest_extra={"jobs": jobs, "scheduler": scheduler},
                        warn_short_selection=True)


def run_with(backend: Backend, values: Mapping[str, Any] | None = None, *, reps: int, seed: int,
             engine: str = DEFAULT_ENGINE, progress: bool | None = None,
             keep_replications: bool = False, started: float | None = None,
             manifest_extra: Mapping[str, Any] | None = None,
             warn_short_selection: bool = False,
             on_replications: Callable[[int], None] | None = None) -> Results:
    """As :func:`run`, on an open backend (from :func:`open_backend`), for its scenario with
    ``values`` applied (dotted path -> value, as a sweep point's). Calibration keeps one
    backend open for all its evaluations, so workers start once. A selection that picks nobody
    is refused (:class:`~iomsim.errors.InputError`); with ``warn_short_selection``, one that
    picks fewer than ``selection.cohort_size`` is said once on stderr (a run says so; a
    calibration, which calls this for every evaluation, does not). ``on_replications(n)`` is
    called as each batch of ``n`` replications finishes (calibration's progress bar)."""
    started = time.time() if started is None else started
    scenario, model = backend.model(values)
    bar = tqdm(total=reps, desc=one_line(scenario.name)[:40], unit="rep", delay=1.0,
               disable={True: False, False: True, None: None}[progress])
    got: dict[int, ReplicationResult] = {}
    try:
        for task, result in backend.run([(0, dict(values or {}), seed)], reps, engine=engine,
                                        output=REPLICATIONS):
            for _, r, rep in result:
                if r in got:
                    raise RuntimeError(f"replication {r} was returned twice")
                got[r] = rep
            bar.update(task.size)
            if on_replications is not None:
                on_replications(task.size)
    finally:
        bar.close()
    if sorted(got) != list(range(reps)):
        raise RuntimeError(f"expected replications 0 to {reps - 1}, got {sorted(got)}")
    empty = next((got[r] for r in range(reps) if got[r].cohort_size == 0), None)
    if empty is not None and scenario.selection is not None:
        raise empty_selection_error(scenario, empty)
    warning = warn_short_selection and selection_shortfall(scenario, list(got.values()))
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    finished = time.time()
    extra = {**(manifest_extra or {}), "engine": engine,
             "scenario_based_on": based_on(scenario),
             "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
             "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(finished)),
             "elapsed_seconds": round(finished - started, 3)}
    return build_results(scenario, [got[r] for r in range(reps)], model.items, seed=seed,
                         manifest_extra=extra, keep_replications=keep_replications)
