"""Parallel runs from a plain script, as a commissioner writes one: no ``__main__`` guard.

Each script runs in its own interpreter under a timeout, in a session of its own, so that a hang
(the spawned workers re-running the script, which used to leave the parent waiting for good)
fails the test instead of stalling the suite.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import iomsim
from tests.support import ROOT

TIMEOUT = 180  # seconds; a run here takes a few


def run_script(path: Path, cwd: Path = ROOT, timeout: float = TIMEOUT,
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run ``python path`` with this interpreter and this checkout's iomsim; on timeout, kill
    the script and every process it started, and fail."""
    src = str(Path(iomsim.__file__).resolve().parents[1])
    full_env = {**os.environ, **(env or {}),
                "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, str(path)], cwd=cwd, env=full_env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError(f"{path.name} did not finish in {timeout} s (a hang)\n"
                             f"stdout:\n{out}\nstderr:\n{err[-3000:]}") from None
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def write(tmp_path: Path, text: str, name: str = "script.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


SCENARIO = (ROOT / "scenarios" / "sussex-2013.yaml").as_posix()
SMALL = {"cohort.size": 300, "selection.cohort_size": 40, "horizon_years": 2}


def test_run_with_two_jobs_from_a_script_without_the_guard(tmp_path):
    script = write(tmp_path, f"""
        import iomsim
        print("top level ran")
        scenario = iomsim.load_scenario({SCENARIO!r}, overrides={SMALL!r})
        parallel = iomsim.run(scenario, reps=6, seed=1, jobs=2, progress=False)
        serial = iomsim.run(scenario, reps=6, seed=1, jobs=1, progress=False)
        assert parallel.economics.equals(serial.economics)
        print("benefit per pound", parallel.metric("benefit_per_pound"))
    """)
    proc = run_script(script)
    assert proc.returncode == 0, proc.stderr
    # The workers never ran the script again: its top level ran once, in this process.
    assert proc.stdout.count("top level ran") == 1
    assert "benefit per pound" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_sweep_with_two_jobs_from_a_script_without_the_guard(tmp_path):
    sweep_file = (ROOT / "scenarios" / "sweeps" / "tornado-small.yaml").as_posix()
    script = write(tmp_path, f"""
        import iomsim
        print("top level ran")
        table = iomsim.sweep({sweep_file!r}, jobs=2, progress=False)
        print("rows", len(table))
    """)
    proc = run_script(script)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("top level ran") == 1
    assert "rows" in proc.stdout and "Traceback" not in proc.stderr


def test_a_worker_of_another_pool_that_reruns_the_script_fails_at_once(tmp_path):
    # The script's own spawned process (not iomsim's) re-runs the unguarded script, and with it
    # iomsim.run(jobs=2): that must stop there with the fix, not start workers of its own.
    script = write(tmp_path, f"""
        import multiprocessing, os
        import iomsim
        scenario = iomsim.load_scenario({SCENARIO!r}, overrides={SMALL!r})
        iomsim.run(scenario, reps=2, seed=1, jobs=2, progress=False)
        child = multiprocessing.get_context("spawn").Process(target=os.getpid)
        child.start()
        child.join()
        print("child exit code", child.exitcode)
    """)
    proc = run_script(script)
    assert "is being re-run in a worker process" in proc.stderr
    assert 'if __name__ == "__main__":' in proc.stderr


def test_local_dask_cluster_from_a_script_without_the_guard(tmp_path):
    script = write(tmp_path, f"""
        import iomsim
        print("top level ran")
        scenario = iomsim.load_scenario({SCENARIO!r}, overrides={SMALL!r})
        results = iomsim.run(scenario, reps=4, seed=1, jobs=2, scheduler="local", progress=False)
        print("benefit per pound", results.metric("benefit_per_pound"))
    """)
    proc = run_script(script)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("top level ran") == 1
    assert "benefit per pound" in proc.stdout
