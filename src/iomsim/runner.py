"""Run a scenario's replications, in one process or a pool, and gather the results."""

from __future__ import annotations

import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Iterable

from tqdm import tqdm

from iomsim.engine.model import Model, compile_model
from iomsim.engine.records import ReplicationResult
from iomsim.engine.replication import ENGINES, simulate_replication
from iomsim.errors import InputError
from iomsim.results import Results, build_results
from iomsim.scenario.schema import Scenario

from iomsim.defaults import DEFAULT_REPS, DEFAULT_SEED

_worker_model: Model | None = None


def _init_worker(scenario: Scenario) -> None:
    global _worker_model
    _worker_model = compile_model(scenario)


def _run_chunk(args: tuple[int, list[int], str]) -> list[ReplicationResult]:
    seed, replications, engine = args
    assert _worker_model is not None
    return [simulate_replication(_worker_model, seed, r, engine=engine) for r in replications]


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


def default_jobs() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else
               (os.cpu_count() or 1))


def iter_replications(scenario: Scenario, replications: Iterable[int], seed: int, jobs: int = 1,
                      engine: str = "simpy") -> Iterable[ReplicationResult]:
    """Yield replication results as they finish (any order when ``jobs`` > 1)."""
    replications = list(replications)
    if jobs <= 1 or len(replications) <= 1:
        model = compile_model(scenario)
        for r in replications:
            yield simulate_replication(model, seed, r, engine=engine)
        return
    jobs = min(jobs, len(replications))
    # A few chunks per worker keeps the pool busy without paying per-replication overhead.
    size = max(1, len(replications) // (jobs * 4))
    chunks = [replications[i:i + size] for i in range(0, len(replications), size)]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_init_worker,
                             initargs=(scenario,)) as pool:
        for chunk in pool.map(_run_chunk, [(seed, c, engine) for c in chunks]):
            yield from chunk


def run(scenario: Scenario, reps: int = DEFAULT_REPS, seed: int = DEFAULT_SEED, jobs: int = 1,
        progress: bool | None = None, keep_replications: bool = False,
        engine: str = "simpy") -> Results:
    """Simulate ``reps`` replications of ``scenario`` (both arms) and return the tables.

    ``seed`` and ``reps`` fix the results exactly; ``jobs`` only changes the speed.
    ``progress`` shows a bar on stderr (default: when stderr is a terminal and the run lasts).
    ``engine``: ``"simpy"`` (the reference) or ``"compiled"`` (numba; the same model and random
    numbers, many times faster; see docs/model.md for where the two can differ).
    """
    if reps < 1:
        raise ValueError("reps must be at least 1")
    check_engine(scenario, engine)
    started = time.time()
    model = compile_model(scenario)
    results: list[ReplicationResult] = []
    bar = tqdm(total=reps, desc=scenario.name[:40], unit="rep", delay=1.0,
               disable={True: False, False: True, None: None}[progress])
    try:
        for r in iter_replications(scenario, range(reps), seed, jobs, engine):
            results.append(r)
            bar.update(1)
    finally:
        bar.close()
    finished = time.time()
    extra = {"jobs": jobs, "engine": engine, "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
             "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(finished)),
             "elapsed_seconds": round(finished - started, 3)}
    return build_results(scenario, results, model.items, seed=seed, manifest_extra=extra,
                         keep_replications=keep_replications)
