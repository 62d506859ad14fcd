"""Stand-ins for the pool's task function, importable by spawned pool workers
(tests/test_pool_backend.py). A task's ``base_key`` carries the path of a marker file."""

import os
import time


def in_worker(task, *_):
    """Run by a spawned worker (after the task, the pool passes the pickled base scenario). The task keyed 'dies' kills its worker once, after a delay."""
    if task.key == "dies" and not os.path.exists(task.base_key):
        open(task.base_key, "w").close()
        time.sleep(2.0)
        os._exit(1)
    if task.key.startswith("slow"):
        time.sleep(1.5)
    return [("worker", task.key)]


def in_caller(base, task):
    """Run by the calling process."""
    time.sleep(0.5)
    return [("caller", task.key)]
