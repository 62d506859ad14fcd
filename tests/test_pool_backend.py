"""The local pool backend runs every task exactly once, in the calling process or a spawned
worker, even when a worker dies while the caller is busy with a finished result. Its workers are
kept between runs in a process (they start once), but not after an interruption."""

import sys
import time
from pathlib import Path

import pytest

from iomsim import execution

sys.path.insert(0, str(Path(__file__).parent))  # spawned workers import pool_standins from here
import pool_standins  # noqa: E402


def test_a_worker_dying_while_the_caller_saves_a_result_loses_no_task(tmp_path, monkeypatch,
                                                                      capsys):
    monkeypatch.setattr(execution, "_run_in_pool", pool_standins.in_worker)
    monkeypatch.setattr(execution, "run_task", pool_standins.in_caller)
    marker = str(tmp_path / "a worker died")
    keys = ["fast", "dies", "slow1", "slow2"] + [f"other{i}" for i in range(6)]
    tasks = [execution.Task(k, marker, (), None) for k in keys]
    seen = []
    with execution.PoolBackend(None, jobs=3) as pool:
        for task, result in pool.map(tasks):
            seen.append(task.key)
            assert result[0][1] == task.key
            if task.key == "fast":
                time.sleep(3.0)  # saving the point while the worker dies: the next submit fails
    assert sorted(seen) == sorted(keys)
    assert Path(marker).exists()
    assert "a worker process died" in capsys.readouterr().err


SCENARIO_OVERRIDES = {"cohort.size": 300, "selection.cohort_size": 70}


def _small():
    import iomsim
    from tests.support import ROOT

    return iomsim.load_scenario(ROOT / "scenarios" / "sussex-2013.yaml",
                                overrides=SCENARIO_OVERRIDES)


def test_workers_are_kept_between_runs_and_the_results_do_not_depend_on_them():
    """Workers start once per process: a second run (of another scenario, too) takes the same
    worker processes, and gives what one process gives."""
    import iomsim

    execution.close_workers()
    scenario = _small()
    other = iomsim.load_scenario(scenario.meta.file, overrides={**SCENARIO_OVERRIDES,
                                                                "cohort.size": 320})
    first = iomsim.run(scenario, reps=6, seed=3, jobs=2, progress=False)
    pool = execution._POOL
    assert pool is not None
    pids = set(pool._processes)
    second = iomsim.run(other, reps=6, seed=3, jobs=2, progress=False)
    assert execution._POOL is pool and set(pool._processes) == pids
    alone = iomsim.run(other, reps=6, seed=3, jobs=1, progress=False)
    assert second.outcomes.equals(alone.outcomes) and second.costs.equals(alone.costs)
    assert not first.outcomes.equals(second.outcomes)  # two scenarios, two sets of results
    execution.close_workers()
    assert execution._POOL is None


def test_an_interrupted_run_does_not_leave_its_workers_to_the_next():
    execution.close_workers()
    scenario = _small()
    with pytest.raises(KeyboardInterrupt):
        with execution.PoolBackend(scenario, jobs=2) as backend:
            pool = execution._POOL
            for _ in backend.run([(0, {}, 1)], 8):
                raise KeyboardInterrupt
    assert execution._POOL is None
    assert pool._shutdown_thread


def test_a_run_left_with_tasks_running_does_not_keep_its_workers():
    execution.close_workers()
    scenario = _small()
    with execution.PoolBackend(scenario, jobs=2) as backend:
        pool = execution._POOL
        for _ in backend.run([(p, {}, 1) for p in range(6)], 2):
            break  # the caller stops reading with tasks still in the workers
    assert execution._POOL is None and pool._shutdown_thread
