"""Where replications run: in this process, a local process pool, or a Dask cluster.

Everything that simulates many replications comes here: ``iomsim run`` (one point with no
parameter values), sweeps (many points), break-even and calibration (one point at a time, on a
backend kept open between them). The unit of work is a :class:`Task`: a few points, or part of
one point's replications, sized so that each task lasts long enough for scheduling overhead to
stay small and there are still several tasks per worker. Every backend runs the same function,
:func:`run_task`, on the same tasks, and each replication's seed comes from the task (the
point's seed and the replication number), never from where or when it runs, so results are
identical on every backend, with any number of workers, and when a worker dies and its tasks
run again.

Workers import this module, the engine and :mod:`iomsim.economics`, never pandas, scipy.stats
or SALib (tests/test_worker_imports.py): a spawned worker then starts in about half a second.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import sys
import threading
import time
import types
import uuid
from collections import deque
from contextlib import contextmanager
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping, Sequence

from iomsim.defaults import MAX_REPS, REPS_REASON
from iomsim.engine.replication import DEFAULT_ENGINE
from iomsim.errors import InputError, IomsimError, WorkersDied
from iomsim.scenario.schema import Scenario

Row = tuple[str, str, float]  # arm, measure, value
# (point, replication, payload): the payload is a list of Rows for MEASURES, the
# ReplicationResult itself for REPLICATIONS.
TaskResult = list[tuple[int, int, Any]]

MEASURES = "measures"  # what sweeps keep: a few numbers per replication, cheap to send back
REPLICATIONS = "replications"  # what a run keeps: every table's raw material

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
    base_key: str  # the backend's base scenario: workers cache compiled models under it
    work: tuple[PointWork, ...]
    measures: tuple[tuple[str, str], ...] | None = None  # None keeps every measure
    engine: str = DEFAULT_ENGINE
    output: str = MEASURES

    @property
    def size(self) -> int:
        return sum(len(w.replications) for w in self.work)


def default_jobs() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else
               (os.cpu_count() or 1))


def make_tasks(prefix: str, base_key: str, points: Sequence[tuple[int, Mapping[str, Any], int]],
               replications: int | Sequence[int], workers: int,
               measures: Sequence[tuple[str, str]] | None = None, engine: str = DEFAULT_ENGINE,
               output: str = MEASURES, task_size: int | None = None) -> list[Task]:
    """Cut ``points`` (point, values, seed) x ``replications`` (a count, or the replication
    numbers) into tasks.

    Aim for about eight tasks per worker (or ``task_size`` replications a task); never more than
    a few points in one task (so finished points are saved often), and split a point's
    replications only when there are too few points to keep the workers busy.
    """
    if output not in (MEASURES, REPLICATIONS):
        raise ValueError(f"unknown task output {output!r}")
    if isinstance(replications, int) and replications > MAX_REPS:
        raise ValueError(f"at most {MAX_REPS:,} replications, got {replications:,}: "
                         f"{REPS_REASON}")
    reps = tuple(range(replications)) if isinstance(replications, int) else tuple(replications)
    if not points or not reps:
        return []
    total = len(points) * len(reps)
    target = task_size or max(1, total // (max(1, workers) * 8))
    meas = tuple(tuple(m) for m in measures) if measures is not None else None
    tasks: list[Task] = []
    if target >= len(reps):
        per = max(1, min(target // len(reps), 4))
        for i in range(0, len(points), per):
            group = points[i:i + per]
            work = tuple(PointWork(p, _frozen(v), s, reps) for p, v, s in group)
            tasks.append(Task(f"{prefix}-{group[0][0]}", base_key, work, meas, engine, output))
    else:
        for p, v, s in points:
            for r0 in range(0, len(reps), target):
                chunk = reps[r0:r0 + target]
                tasks.append(Task(f"{prefix}-{p}-{chunk[0]}", base_key,
                                  (PointWork(p, _frozen(v), s, chunk),), meas, engine, output))
    return tasks


def _frozen(values: Mapping[str, Any] | None) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted(dict(values or {}).items()))


# --------------------------------------------------------------------------- the work itself

_MODELS: dict[tuple[str, str], tuple[Scenario, Any]] = {}
_MAX_MODELS = 8
_BASE: Scenario | None = None


def model_for(base: Scenario, base_key: str, values: tuple[tuple[str, Any], ...] = ()):
    """``(scenario, model)``: ``base`` with a point's ``values`` applied, and its compiled model.

    Cached by ``base_key`` (unique to a backend, so two scenarios never share an entry even if
    they carry the same hash) and the values: a worker compiles each point once.
    """
    from iomsim.engine.model import compile_model
    from iomsim.scenario.points import point_scenario

    key = (base_key, json.dumps(values, default=str))
    hit = _MODELS.get(key)
    if hit is None:
        scenario = point_scenario(base, dict(values))
        hit = (scenario, compile_model(scenario))
        if len(_MODELS) >= _MAX_MODELS:
            # A Dask worker with several threads shares this cache: another may evict first.
            _MODELS.pop(next(iter(_MODELS), None), None)
        _MODELS[key] = hit
    return hit


def _forget(base_key: str) -> None:
    for key in [k for k in _MODELS if k[0] == base_key]:
        del _MODELS[key]


def run_task(base: Scenario, task: Task) -> TaskResult:
    """Simulate a task's replications and return what the task keeps, in a fixed order."""
    from iomsim.engine.replication import simulate_replication

    out: TaskResult = []
    for w in task.work:
        scenario, model = model_for(base, task.base_key, w.values)
        for r in w.replications:
            rep = simulate_replication(model, w.seed, r, engine=task.engine)
            if task.output == REPLICATIONS:
                out.append((w.point, r, rep))  # the runner refuses an empty selection
            else:
                if rep.cohort_size == 0 and scenario.selection is not None:
                    # Every IOM measure would be 0 / 0 (NaN in a sweep's table): refused here,
                    # in the worker, so that a sweep stops at the first such point.
                    from iomsim.engine.measures import empty_selection_error

                    raise empty_selection_error(scenario, rep, point=w.point)
                out.append((w.point, r, _kept_measures(scenario, model, rep, task.measures)))
    return out


def _kept_measures(scenario, model, rep, kept) -> list[Row]:
    from iomsim.economics import replication_measures

    measures = replication_measures(scenario, rep, model.items)
    if kept is None:
        return [(arm, m, float(v)) for arm, d in measures.items() for m, v in d.items()]
    return [(arm, m, float(measures[arm][m])) for arm, m in kept if m in measures.get(arm, {})]


@contextmanager
def _workers_skip_main():
    """Start processes here that do not re-run the ``__main__`` module.

    A spawned process normally runs the parent's main script again (as ``__mp_main__``) before
    its task, so that functions defined there can be unpickled. Our workers run only iomsim's
    own functions and never need it, and re-running a script without an
    ``if __name__ == "__main__":`` guard would call ``iomsim.run`` again inside the worker, which
    fails while the worker starts and left the parent waiting for good. multiprocessing decides
    what to re-run from ``sys.modules["__main__"]`` when a process starts, so a bare stand-in for
    the moment of the start is enough: the user's module object itself is never changed.
    """
    main = sys.modules.get("__main__")
    if main is None or (getattr(main, "__file__", None) is None
                        and getattr(main, "__spec__", None) is None):
        yield  # an interactive session or a notebook: nothing would be re-run
        return
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


def refuse_in_spawned_main() -> None:
    """Fail at once, with the fix, when iomsim is asked to start workers while a spawned process
    is re-running its parent's main script (a script without the guard, started by some other
    pool): starting processes there cannot work, and waiting for them would hang the parent."""
    # While a spawned process re-runs the script, the script is "__mp_main__" and not yet
    # "__main__" (in the main process, and in a worker once started, they are one module).
    rerun = sys.modules.get("__mp_main__")
    if multiprocessing.current_process().name != "MainProcess" and rerun is not None \
            and rerun is not sys.modules.get("__main__"):
        raise IomsimError(f"{getattr(rerun, '__file__', None) or 'the main script'} is being "
                          "re-run in a worker process; put the code that runs iomsim under "
                          "`if __name__ == \"__main__\":`")


def _init_worker() -> None:
    """A pool worker's start: it ends with its parent, and has the engine imported before its
    first task (numba loads the cached kernels at the first replication)."""
    _exit_with_parent()
    import iomsim.engine.replication  # noqa: F401


def _exit_with_parent(interval: float = 0.5) -> None:
    """End this worker when the process that started it is gone: killed with SIGKILL, the
    parent cannot shut its pool down, and a worker blocked on its pipe would wait for ever."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(1)

    threading.Thread(target=watch, name="iomsim-parent-watch", daemon=True).start()


# The base scenarios a pool worker has been sent, by backend key (a persistent worker serves
# many backends: one run, sweep or calibration after another).
_BASES: dict[str, Scenario] = {}
_MAX_BASES = 4


def _run_in_pool(task: Task, base_blob: bytes) -> TaskResult:
    """Run by a pool worker: ``task`` on its backend's base scenario (``base_blob``, pickled once
    by the backend and unpickled once per worker)."""
    base = _BASES.get(task.base_key)
    if base is None:
        import pickle

        base = pickle.loads(base_blob)
        while len(_BASES) >= _MAX_BASES:
            old = next(iter(_BASES))
            del _BASES[old]
            _forget(old)
        _BASES[task.base_key] = base
    return run_task(base, task)


# The local pool, kept between backends: a spawned worker takes about a second to import
# numpy, numba and the engine and load the compiled kernels, longer than a short sweep's
# points; kept, it starts once per process (a notebook, a calibration, a benchmark running
# sweep after sweep) and takes every later run's tasks at once.
_POOL: ProcessPoolExecutor | None = None
_POOL_WORKERS = 0
_POOL_LOCK = threading.Lock()


def _shared_pool(workers: int) -> ProcessPoolExecutor:
    """The kept pool of ``workers`` spawned processes, started (or replaced, for another size)
    when needed."""
    global _POOL, _POOL_WORKERS
    with _POOL_LOCK:
        if _POOL is not None and (_POOL_WORKERS != workers or _broken(_POOL)):
            _POOL.shutdown(wait=False, cancel_futures=True)
            _POOL = None
        if _POOL is None:
            context = multiprocessing.get_context("spawn")
            _POOL = ProcessPoolExecutor(max_workers=workers, mp_context=context,
                                        initializer=_init_worker)
            _POOL_WORKERS = workers
        return _POOL


def _broken(pool: ProcessPoolExecutor) -> bool:
    return bool(getattr(pool, "_broken", False)) or bool(getattr(pool, "_shutdown_thread", False))


def close_workers() -> None:
    """End the kept local worker processes (they end with this process anyway)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is not None:
            _POOL.shutdown(wait=False, cancel_futures=True)
            _POOL = None


def _discard_pool(pool: ProcessPoolExecutor | None) -> None:
    """Shut ``pool`` down and, if it is the kept one, forget it (after a failure or an
    interruption: its workers may still be busy with tasks nobody wants)."""
    global _POOL
    if pool is None:
        return
    with _POOL_LOCK:
        if _POOL is pool:
            _POOL = None
    pool.shutdown(wait=False, cancel_futures=True)


# --------------------------------------------------------------------------- backends

class Backend:
    """Runs tasks on one base scenario; a context manager. ``workers``: how many tasks it can
    run at once (it sizes the tasks)."""

    name = "backend"
    task_size: int | None = None  # replications per task; None: sized from ``workers``

    def __init__(self, base: Scenario):
        self.base = base
        self.base_key = uuid.uuid4().hex[:16]
        self.workers = 1
        self._batches = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _forget(self.base_key)  # this process's compiled models of this backend's scenario
        return False

    def map(self, tasks: Iterable[Task]) -> Iterator[tuple[Task, TaskResult]]:
        raise NotImplementedError

    def run(self, points: Sequence[tuple[int, Mapping[str, Any], int]],
            replications: int | Sequence[int], *, measures: Sequence[tuple[str, str]] | None = None,
            engine: str = DEFAULT_ENGINE, output: str = MEASURES
            ) -> Iterator[tuple[Task, TaskResult]]:
        """Simulate ``replications`` of each of ``points`` (point, values, seed); yield each
        task with its result as it finishes (in any order)."""
        self._batches += 1  # task keys differ between batches (a Dask key names one result)
        tasks = make_tasks(f"{self.base_key}-{self._batches}", self.base_key, points,
                           replications, self.workers, measures, engine, output, self.task_size)
        return self.map(tasks)

    def model(self, values: Mapping[str, Any] | None = None):
        """``(scenario, model)`` of the point with ``values``, compiled in this process (shared
        with the tasks this process runs)."""
        return model_for(self.base, self.base_key, _frozen(values))


class SerialBackend(Backend):
    """Runs every task in this process, in order."""

    name = "serial"
    # Here a task costs nothing to schedule: one replication a task moves a progress bar at
    # every replication.
    task_size = 1

    def map(self, tasks: Iterable[Task]) -> Iterator[tuple[Task, TaskResult]]:
        for t in tasks:
            yield t, run_task(self.base, t)


class PoolBackend(Backend):
    """``jobs`` processes at work: this one and ``jobs - 1`` spawned workers (spawned, so it
    behaves the same on every platform).

    This process takes tasks too whenever no finished result is waiting. A spawned worker spends
    about a second importing numpy, scipy.special, numba and the engine and loading the compiled
    kernels before its first task (it needs neither scipy.stats nor pandas:
    tests/test_worker_imports.py); meanwhile this process, which has them already, is working.
    The workers are kept after a clean finish (:func:`_shared_pool`) and take the next run's,
    sweep's or calibration's tasks in this process without starting again.
    """

    name = "processes"

    def __init__(self, base: Scenario, jobs: int):
        super().__init__(base)
        self.workers = jobs
        self.pool: ProcessPoolExecutor | None = None
        self._running: dict = {}

    def __enter__(self):
        refuse_in_spawned_main()
        import pickle

        self._blob = pickle.dumps(self.base, protocol=pickle.HIGHEST_PROTOCOL)
        self._start()
        return self

    def _start(self) -> None:
        self.pool = _shared_pool(max(1, self.workers - 1))

    def __exit__(self, exc_type, *exc):
        assert self.pool is not None
        if exc_type is not None or self._running:
            # Interrupted, failed, or left with tasks running (a caller that stopped reading):
            # nothing more is wanted from the workers, and a kept pool would make the next run
            # queue behind the tasks they are still running. Never wait for them (the
            # interpreter joins them at exit).
            _discard_pool(self.pool)
        # After a clean finish every result is in and the workers are idle: they are kept for
        # the next run in this process (close_workers() ends them).
        return super().__exit__(exc_type, *exc)

    def map(self, tasks: Iterable[Task]) -> Iterator[tuple[Task, TaskResult]]:
        """Yield results as tasks finish. If a worker process dies (killed, out of memory), the
        pool is restarted and its unfinished tasks are run again, up to ``MAX_RESTARTS`` times:
        every task is yielded exactly once, and a task run again gives the same result."""
        queue = deque(tasks)
        feed = 2 * max(1, self.workers - 1)  # tasks kept in flight: no worker waits for the next
        # Kept on the backend: a caller that stops reading leaves tasks running (see __exit__).
        running: dict = {}
        self._running = running
        restarts = 0
        while queue or running:
            assert self.pool is not None
            try:
                # The last task left is this process's: with fewer tasks than the pool takes in
                # (a short run) it would otherwise sit idle while the workers do them all.
                while len(queue) > 1 and len(running) < feed:
                    with _workers_skip_main():  # a submit may start a worker process
                        running[self.pool.submit(_run_in_pool, queue[0], self._blob)] = queue[0]
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
                    raise WorkersDied(f"worker processes died {restarts} times; giving up") \
                        from None
                # Keep what finished before the pool broke; run the rest again.
                for f in [f for f in running if f.done() and not f.cancelled()
                          and f.exception() is None]:
                    yield running.pop(f), f.result()
                print(f"warning: a worker process died; restarting the pool and re-running "
                      f"{len(running)} unfinished tasks", file=sys.stderr)
                queue.extendleft(reversed(list(running.values())))
                running.clear()
                _discard_pool(self.pool)
                self._start()


class DaskBackend(Backend):
    """Runs tasks on a Dask distributed cluster: an existing one (``tcp://HOST:PORT``) or a
    :class:`~distributed.LocalCluster` of ``jobs`` single-threaded worker processes
    (``"local"``). A worker lost mid-task has its task re-run elsewhere by the scheduler."""

    name = "dask"

    def __init__(self, base: Scenario, address: str, jobs: int | None = None):
        super().__init__(base)
        self.address = address
        self.jobs = jobs
        self.client = None
        self.cluster = None
        self._scattered = None

    def __enter__(self):
        try:
            from distributed import Client, LocalCluster
        except ImportError:  # pragma: no cover - dask is a dependency
            raise InputError("dask.distributed is not installed; pip install 'dask[distributed]'",
                             file="--scheduler") from None
        if self.address == "local":
            refuse_in_spawned_main()
            with _workers_skip_main():  # the cluster starts its worker processes before returning
                # Workers' own log lines are silenced: a heartbeat that meets the scheduler
                # closing at the end logs a traceback now and then, and a task's failure reaches
                # the client as its exception anyway.
                self.cluster = LocalCluster(n_workers=self.jobs or default_jobs(),
                                            threads_per_worker=1, processes=True,
                                            host="127.0.0.1", dashboard_address=None,
                                            silence_logs=logging.CRITICAL)
            self.client = Client(self.cluster, set_as_default=False)
        else:
            if "://" not in self.address:
                raise InputError(f"expected a scheduler address like tcp://HOST:PORT or 'local', "
                                 f"got {self.address!r}", file="--scheduler")
            try:
                self.client = _client_class()(self.address, timeout=DASK_CONNECT_TIMEOUT,
                                              set_as_default=False)
            except Exception as exc:  # noqa: BLE001 - whatever answered, one line and status 2
                if isinstance(exc, MemoryError):
                    # Something answered that speaks another protocol (an HTTP server, a proxy):
                    # distributed read a length from its bytes and tried to allocate it.
                    reason = "something answered there, but not a Dask scheduler"
                else:
                    reason = " ".join(str(exc).split()) or type(exc).__name__
                raise InputError(f"cannot reach the Dask scheduler at {self.address} "
                                 f"({reason[:200]})", file="--scheduler") from None
        info = self.client.scheduler_info()
        self.workers = max(1, sum(w.get("nthreads", 1) for w in info.get("workers", {}).values()))
        # A scheduler lost mid-run makes the client log its reconnection attempts as tracebacks;
        # map() says what happened in one line instead.
        self._client_log = logging.getLogger("distributed.client")
        self._client_level = self._client_log.level
        self._client_log.setLevel(logging.CRITICAL)
        return self

    def __exit__(self, *exc):
        try:
            if self.client is not None:
                self.client.close()
            if self.cluster is not None:
                self.cluster.close()
        finally:
            if getattr(self, "_client_log", None) is not None:
                self._client_log.setLevel(self._client_level)
        return super().__exit__(*exc)

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
            try:
                for f in as_completed(list(futures), loop=self.client.loop):
                    result = f.result()
                    yield futures[f], result
                    f.release()
            except cluster_lost_errors() as exc:
                # The cluster, not a task, failed: its only workers or its scheduler went away.
                # An error raised by a task itself comes back as that error, not one of these.
                reason = " ".join(str(exc).split())[:160] or type(exc).__name__
                raise WorkersDied(f"the Dask cluster at {self.address} lost its workers or its "
                                  f"scheduler ({type(exc).__name__}: {reason})") from None
        finally:
            for f in futures:
                try:
                    f.cancel()
                except Exception:  # noqa: BLE001 - a scheduler already gone cannot cancel
                    pass


_CLIENT_CLASS: type | None = None


def _client_class() -> type:
    """distributed's ``Client``, made to let go of itself when it fails to connect.

    A ``Client`` whose constructor fails (an address it cannot parse, a protocol it cannot use,
    a scheduler it cannot reach) is left half-started, and its ``__del__`` then tries to close
    it: that waits twice the connection timeout and prints an "Exception ignored" traceback as
    the command exits. This subclass marks such a client closed and stops its event loop at
    once, so the command's one-line error is all that is said."""
    global _CLIENT_CLASS
    if _CLIENT_CLASS is None:
        from distributed import Client

        class _Client(Client):
            def __init__(self, *args, **kwargs):
                try:
                    super().__init__(*args, **kwargs)
                except BaseException:
                    self.status = "closed"  # close(), and so __del__, then does nothing
                    runner = getattr(self, "_loop_runner", None)
                    if runner is not None:
                        try:
                            runner.stop()
                        except Exception:  # noqa: BLE001 - best effort, the error follows
                            pass
                    raise

        _CLIENT_CLASS = _Client
    return _CLIENT_CLASS


def cluster_lost_errors() -> tuple[type[BaseException], ...]:
    """The errors by which distributed says the cluster itself failed (workers killed, the
    scheduler gone, the connection closed), as opposed to an error of the task."""
    from distributed.client import FutureCancelledError
    from distributed.comm.core import CommClosedError
    from distributed.scheduler import KilledWorker

    return (FutureCancelledError, KilledWorker, CommClosedError, ConnectionError, TimeoutError)


def make_backend(base: Scenario, jobs: int | None = None, scheduler: str | None = None
                 ) -> Backend:
    """The backend for ``jobs`` and ``scheduler`` (a context manager): a Dask cluster when
    ``scheduler`` is given (``"tcp://HOST:PORT"``, or ``"local"`` for ``jobs`` local Dask
    workers), else ``jobs`` local processes (default: all cores), or this one alone."""
    if scheduler:
        return DaskBackend(base, scheduler, jobs)
    jobs = jobs or default_jobs()
    if jobs <= 1:
        return SerialBackend(base)
    return PoolBackend(base, jobs)
