"""The local pool backend runs every task exactly once, in the calling process or a spawned
worker, even when a worker dies while the caller is busy with a finished result."""

import sys
import time
from pathlib import Path

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
