"""One way to run replications: ``iomsim run`` (and calibration, which evaluates through the same
runner) gives the same numbers in one process, on a local pool and on a Dask cluster, and a pool
worker killed mid-run costs only time.

The scenario is the shipped scenarios/sussex-2013.yaml made small with overrides; runs are
compared with each other, not with stored numbers.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import iomsim
from iomsim.calibration import Parameter, Target, TargetsFile, calibrate, measure
from tests.support import ROOT, pool_workers

SCENARIO = ROOT / "scenarios" / "sussex-2013.yaml"
OVERRIDES = {"cohort.size": 600, "selection.cohort_size": 150}
SET_ARGS = [a for k, v in OVERRIDES.items() for a in ("--set", f"{k}={v}")]
SEED = 13
TABLES = ("costs", "costs_by_agency", "outcomes", "economics", "survival", "population")
COMPARED = ["costs_by_agency.csv", "outcomes.csv", "economics.csv", "survival.csv",
            "population.csv"]


def _scenario():
    return iomsim.load_scenario(SCENARIO, overrides=OVERRIDES)


def _cli(out: Path, reps: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "iomsim.cli", "run", str(SCENARIO), *SET_ARGS, "--reps",
            str(reps), "--seed", str(SEED), "--no-progress", "--out", str(out), *extra]


def _run_cli(out: Path, reps: int, *extra: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(_cli(out, reps, *extra), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc


def _assert_same_files(reference: Path, other: Path, label: str) -> None:
    for name in COMPARED:
        assert (reference / name).read_bytes() == (other / name).read_bytes(), \
            f"{name} differs between a one-process run and {label}"
    pd.testing.assert_frame_equal(pd.read_parquet(reference / "costs.parquet"),
                                  pd.read_parquet(other / "costs.parquet"), check_exact=True)


def test_run_gives_the_same_tables_in_one_process_a_pool_and_a_local_dask_cluster():
    pytest.importorskip("distributed")
    scenario = _scenario()
    one = iomsim.run(scenario, reps=4, seed=SEED, jobs=1, progress=False)
    pool = iomsim.run(scenario, reps=4, seed=SEED, jobs=2, progress=False)
    dask = iomsim.run(scenario, reps=4, seed=SEED, jobs=2, scheduler="local", progress=False)
    for name in TABLES:
        pd.testing.assert_frame_equal(getattr(one, name), getattr(pool, name), check_exact=True)
        pd.testing.assert_frame_equal(getattr(one, name), getattr(dask, name), check_exact=True)
    assert (one.manifest["jobs"], one.manifest["scheduler"]) == (1, None)
    assert (dask.manifest["jobs"], dask.manifest["scheduler"]) == (2, "local")
    assert dask.manifest["replications"] == [0, 1, 2, 3]


def test_cli_run_on_a_dask_cluster_writes_the_files_of_a_local_run(tmp_path, dask_cluster):
    local, remote = tmp_path / "local", tmp_path / "dask"
    _run_cli(local, 3, "--jobs", "1")
    _run_cli(remote, 3, "--scheduler", dask_cluster)
    _assert_same_files(local, remote, f"iomsim run --scheduler {dask_cluster}")
    manifest = json.loads((remote / "manifest.json").read_text())
    assert manifest["scheduler"] == dask_cluster


def test_run_with_an_unreachable_scheduler_is_one_line_and_exit_2(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "out"
    proc = subprocess.run(_cli(out, 2, "--scheduler", f"tcp://127.0.0.1:{port}"),
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "IOMSIM_DASK_TIMEOUT": "2"})
    assert proc.returncode == 2
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}" in errors[0]
    assert "Traceback" not in proc.stderr
    assert not out.exists()
    proc = subprocess.run(_cli(out, 2, "--scheduler", f"127.0.0.1:{port}"), capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2 and "expected a scheduler address" in proc.stderr


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:{port}", "tls://127.0.0.1:{port}",
                                     "tcp://127.0.0.1", "inproc://nowhere"])
def test_a_scheduler_that_cannot_be_used_leaves_nothing_said_after_the_one_line(tmp_path,
                                                                                address):
    """Promise: an unusable --scheduler is one line and status 2, and nothing after it. A Dask
    client that failed to start used to print an "Exception ignored in Client.__del__"
    traceback as the command exited (and wait twice the connection timeout first)."""
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = address.format(port=port)
    proc = subprocess.run(_cli(tmp_path / "out", 1, "--scheduler", address),
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "IOMSIM_DASK_TIMEOUT": "1"})
    assert proc.returncode == 2, proc.stderr
    said = proc.stderr.strip().splitlines()
    assert len(said) == 1 and said[0].startswith(
        f"error: --scheduler: cannot reach the Dask scheduler at {address}"), proc.stderr
    assert not (tmp_path / "out").exists()


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.skipif(not Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").exists(),
                    reason="needs Linux /proc/PID/task/PID/children")
def test_a_pool_worker_killed_mid_run_costs_only_time(tmp_path):
    reps = 20
    # The runner does not depend on the engine; the simpy engine keeps a worker busy long
    # enough to be killed mid-run (the compiled one finishes these 20 replications in well
    # under the 1.5 s of CPU that tells a working worker from one still starting).
    engine = ("--engine", "simpy")
    reference = tmp_path / "reference"
    _run_cli(reference, reps, "--jobs", "1", *engine)
    out = tmp_path / "killed"
    proc = subprocess.Popen(_cli(out, reps, "--jobs", "2", *engine), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        # Kill the worker once it has used more CPU than its start-up (imports, about 0.5 s)
        # takes: it is then simulating, with replications in hand.
        deadline = time.time() + 120
        victim = None
        while victim is None:
            assert proc.poll() is None, "the run ended before its worker could be killed"
            assert time.time() < deadline, "the pool worker never got to work"
            for pid in pool_workers(proc.pid):
                try:
                    if _cpu_seconds(pid) > 1.5:
                        victim = pid
                except OSError:
                    continue
            time.sleep(0.05)
        os.kill(victim, signal.SIGKILL)
        stdout, stderr = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, stderr
    assert re.search(r"a worker process died; restarting the pool and re-running [1-9]\d* "
                     r"unfinished tasks", stderr), stderr
    assert "Traceback" not in stderr
    _assert_same_files(reference, out, "a run whose pool worker was killed")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["replications"] == list(range(reps))  # none lost, none twice


def test_calibration_evaluates_on_the_same_runner_whatever_the_backend():
    targets = TargetsFile(file="t.yaml", reps=3, seed=5, max_evaluations=3,
                          parameters=[Parameter("iom.effects.offending_multiplier", 0.2, 1.0,
                                                start=0.6)],
                          targets=[Target("metric", "reconviction_rate_24m", "iom", 0.2, 0.05)])
    scenario = _scenario()
    fits = [calibrate(scenario, targets, jobs=1),
            calibrate(scenario, targets, jobs=2),
            calibrate(scenario, targets, jobs=2, scheduler="local")]
    for fit in fits[1:]:
        assert fit.parameters == fits[0].parameters
        assert fit.objective == fits[0].objective
        assert [v for _, v in fit.rows] == [v for _, v in fits[0].rows]
    # each evaluation is a run of the scenario with the fitted values applied
    (target, value), = fits[0].rows
    again = iomsim.run(iomsim.apply_overrides(scenario, fits[0].parameters), reps=3, seed=5)
    assert measure(again, target) == value
