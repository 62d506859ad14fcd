"""Where sweep work runs: in this process, a local process pool, or a Dask cluster.

The unit of work is a :class:`Task`: a few points, or part of one point's replications, sized
so that each task lasts long enough for scheduling overhead to stay small and there are still
several tasks per worker. Every backend runs the same function, :func:`run_task`, on the same
tasks, and each replication's seed comes from the task, never from where or when it runs, so
results are identical on every backend and any number of workers.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

from iomsim.errors import InputError, IomsimError
from iomsim.scenario.schema import Scenario

Row = tuple[str, str, float]  # arm, measure, value
TaskResult = list[tuple[int, int, list[Row]]]  # (point, replication, rows)

MAX_RESTARTS = 3
DASK_CONNECT_TIMEOUT = float(os.environ.get("IOMSIM_DASK_TIMEOUT", "10"))


@dataclass(frozen=True)
class PointWork:
    point: int
    values: tuple[tuple[str, Any], ...]  # parameter path -> value
    seed: int
    replications: tuple[int, ...]


@dataclass(frozen=True)
class Task:
    key: str
    base_hash: str
    work: tuple[PointWork, ...]
    measures: tuple[tuple[str, str], ...] | None  # None keeps every measure
    engine: str = "simpy"

    @property
    def size(self) -> int:
        return sum(len(w.replications) for w in self.work)


def default_jobs() -> int:
    from iomsim.runner import default_jobs as core_default

    return core_default()


def make_tasks(prefix: str, base_hash: str, points: list[tuple[int, dict[str, Any], int]],
               replications: int, workers: int,
               measures: list[tuple[str, str]] | None, engine: str = "simpy") -> list[Task]:
    """Cut ``points`` (point, values, seed) x ``replications`` into tasks.

    Aim for about eight tasks per worker; never more than a few points in one task (so finished
    points are saved often), and split a point's replications only when there are too few
    points to keep the workers busy.
    """
    total = len(points) * replications
    target = max(1, total // (max(1, workers) * 8))
    meas = tuple(measures) if measures is not None else None
    tasks: list[Task] = []
    if target >= replications:
        per = max(1, min(target // replications, 4))
        for i in range(0, len(points), per):
            group = points[i:i + per]
            work = tuple(PointWork(p, tuple(sorted(v.items())), s, tuple(range(replications)))
                         for p, v, s in group)
            tasks.append(Task(f"{prefix}-{group[0][0]}", base_hash, work, meas, engine))
    else:
        for p, v, s in points:
            for r0 in range(0, replications, target):
                reps = tuple(range(r0, min(replications, r0 + target)))
                tasks.append(Task(f"{prefix}-{p}-{r0}", base_hash,
                                  (PointWork(p, tuple(sorted(v.items())), s, reps),), meas,
                                  engine))
    return tasks


# --------------------------------------------------------------------------- the work itself

_MODELS: dict[tuple[str, str], tuple[Scenario, Any]] = {}
_MAX_MODELS = 8
_BASE: Scenario | None = None


def _model_for(base: Scenario, base_hash: str, values: tuple[tuple[str, Any], ...]):
    from iomsim.engine.model import compile_model
    from iomsim.experiments.points import point_scenario

    key = (base_hash, json.dumps(values, default=str))
    hit = _MODELS.get(key)
    if hit is None:
        scenario = point_scenario(base, dict(values))
        hit = (scenario, compile_model(scenario))
        if len(_MODELS) >= _MAX_MODELS:
            _MODELS.pop(next(iter(_MODELS)))
        _MODELS[key] = hit
    return hit


def run_task(base: Scenario, task: Task) -> TaskResult:
    """Simulate a task's replications and return the kept measures, in a fixed order."""
    from iomsim.engine.replication import simulate_replication
    from iomsim.economics import replication_measures

    out: TaskResult = []
    for w in task.work:
        scenario, model = _model_for(base, task.base_hash, w.values)
        for r in w.replications:
            rep = simulate_replication(model, w.seed, r, engine=task.engine)
            measures = replication_measures(scenario, rep, model.items)
            if task.measures is None:
                rows = [(arm, m, float(v)) for arm, d in measures.items() for m, v in d.items()]
            else:
                rows = [(arm, m, float(measures[arm][m])) for arm, m in task.measures
                        if m in measures.get(arm, {})]
            out.append((w.point, r, rows))
    return out


def _init_pool(base: Scenario) -> None:
    global _BASE
    _BASE = base


def _run_in_pool(task: Task) -> TaskResult:
    assert _BASE is not None
    return run_task(_BASE, task)


# --------------------------------------------------------------------------- backends

class SerialBackend:
    """Runs every task in this process, in order."""

    name = "serial"

    def __init__(self, base: Scenario):
        self.base = base
        self.workers = 1

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def map(self, tasks: Iterable[Task]) -> Iterator[tuple[Task, TaskResult]]:
        for t in tasks:
            yield t, run_task(self.base, t)


class PoolBackend:
    """``jobs`` processes at work: this one and ``jobs - 1`` spawned workers (spawned, so it
    behaves the same on every platform).

    This process takes tasks too whenever no finished result is waiting. A spawned worker spends
    about half a second importing numpy, scipy.special and the engine before its first task (it
    needs neither scipy.stats nor pandas: tests/test_worker_imports.py); meanwhile this process,
    which has them already, is working, so a short sweep is not that far behind.
    """

    name = "processes"

    def __init__(self, base: Scenario, jobs: int):
        self.base = base
        self.workers = jobs
        self.pool: ProcessPoolExecutor | None = None

    def __enter__(self):
        self._start()
        return self

    def _start(self) -> None:
        context = multiprocessing.get_context("spawn")
        self.pool = ProcessPoolExecutor(max_workers=max(1, self.workers - 1), mp_context=context,
                                        initializer=_init_pool, initargs=(self.base,))

    def __exit__(self, exc_type, *exc):
        assert self.pool is not None
        # Never wait: after a clean finish every result is in, and waiting would only watch the
        # workers tear down numpy and scipy (0.4 s of a 10 s sweep); after an interruption,
        # finished points are already saved. The interpreter joins them at exit.
        self.pool.shutdown(wait=False, cancel_futures=True)
        return False

    def map(self, tasks: Iterable[Task]) -> Iterator[tuple[Task, TaskResult]]:
        """Yield results as tasks finish. If a worker process dies (killed, out of memory), the
        pool is restarted and its unfinished tasks are run again, up to ``MAX_RESTARTS`` times."""
        queue = deque(tasks)
        feed = 2 * max(1, self.workers - 1)  # tasks kept in flight: no worker waits for the next
        running: dict = {}
        restarts = 0
        while queue or running:
            assert self.pool is not None
            try:
                while queue and len(running) < feed:
                    running[self.pool.submit(_run_in_pool, queue[0])] = queue[0]
                    queue.popleft()  # only once submitted: a broken pool must not lose it
                done = [f for f in running if f.done()]
                if not done and queue:
                    task = queue.popleft()
                    yield task, run_task(self.base, task)
                    continue
                if not done:
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                for f in done:
                    result = f.result()
                    yield running.pop(f), result
            except BrokenProcessPool:
                restarts += 1
                if restarts > MAX_RESTARTS:
                    raise IomsimError(f"worker processes died {restarts} times; giving up (the "
                                      "finished points are saved: run again to resume)") from None
                # Keep what finished before the pool broke; run the rest again.
                for f in [f for f in running if f.done() and not f.cancelled()
                          and f.exception() is None]:
                    yield running.pop(f), f.result()
                print(f"warning: a worker process died; restarting the pool and re-running "
                      f"{len(running)} unfinished tasks", file=sys.stderr)
                queue.extendleft(reversed(list(running.values())))
                running.clear()
                self.pool.shutdown(wait=False, cancel_futures=True)
                self._start()


class DaskBackend:
    """Runs tasks on a Dask distributed cluster: an existing one (``tcp://HOST:PORT``) or a
    :class:`~distributed.LocalCluster` of ``jobs`` single-threaded worker processes
    (``"local"``). A worker lost mid-task has its task re-run elsewhere by the scheduler."""

    name = "dask"

    def __init__(self, base: Scenario, address: str, jobs: int | None = None):
        self.base = base
        self.address = address
        self.jobs = jobs
        self.client = None
        self.cluster = None
        self.workers = 1
        self._scattered = None

    def __enter__(self):
        try:
            from distributed import Client, LocalCluster
        except ImportError:  # pragma: no cover - dask is a dependency
            raise InputError("dask.distributed is not installed; pip install 'dask[distributed]'",
                             file="--scheduler") from None
        if self.address == "local":
            self.cluster = LocalCluster(n_workers=self.jobs or default_jobs(), threads_per_worker=1,
                                        processes=True, host="127.0.0.1", dashboard_address=None)
            self.client = Client(self.cluster, set_as_default=False)
        else:
            if "://" not in self.address:
                raise InputError(f"expected a scheduler address like tcp://HOST:PORT or 'local', "
                                 f"got {self.address!r}", file="--scheduler")
            try:
                self.client = Client(self.address, timeout=DASK_CONNECT_TIMEOUT,
                                     set_as_default=False)
            except (OSError, TimeoutError, ValueError) as exc:
                reason = " ".join(str(exc).split()) or type(exc).__name__
                raise InputError(f"cannot reach the Dask scheduler at {self.address} "
                                 f"({reason[:200]})", file="--scheduler") from None
        info = self.client.scheduler_info()
        self.workers = max(1, sum(w.get("nthreads", 1) for w in info.get("workers", {}).values()))
        return self

    def __exit__(self, *exc):
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()
        return False

    def map(self, tasks: Iterable[Task]) -> Iterator[tuple[Task, TaskResult]]:
        from distributed import as_completed

        assert self.client is not None
        tasks = list(tasks)
        if self._scattered is None:  # once per backend, however many maps (break-even)
            self._scattered = self.client.scatter(self.base, broadcast=True, hash=False)
        base = self._scattered
        futures = {}
        for t in tasks:
            f = self.client.submit(run_task, base, t, key=f"iomsim-{t.key}", pure=False, retries=2)
            futures[f] = t
        try:
            for f in as_completed(list(futures), loop=self.client.loop):
                yield futures[f], f.result()
                f.release()
        finally:
            for f in futures:
                f.cancel()


def make_backend(base: Scenario, jobs: int | None = None, scheduler: str | None = None):
    """The backend for ``jobs`` and ``scheduler`` (a context manager)."""
    if scheduler:
        return DaskBackend(base, scheduler, jobs)
    jobs = jobs or default_jobs()
    if jobs <= 1:
        return SerialBackend(base)
    return PoolBackend(base, jobs)
