"""A sweep whose Dask cluster loses its only worker, or its scheduler, says so in one line
(exit status 3, no traceback), keeps the points that finished, and a rerun on a working
cluster resumes to the table of an uninterrupted sweep."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import iomsim
from tests.support import ROOT

SWEEP = """\
scenario: {scenario}
overrides: {{cohort.size: 600, selection.cohort_size: 150}}
design: grid
replications: 20
seed: 3
engine: simpy
parameters:
  iom.effects.offending_multiplier: {{levels: [0.3, 0.5, 0.7, 0.9]}}
"""


def _sweep_file(tmp_path: Path) -> Path:
    path = tmp_path / "sweep.yaml"
    path.write_text(SWEEP.format(scenario=ROOT / "scenarios" / "sussex-2013.yaml"))
    return path


def _start_sweep(sweep: Path, out: Path, address: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "iomsim.cli", "sweep", str(sweep), "--out",
                             str(out), "--scheduler", address, "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _points(out: Path) -> int:
    return len(list((out / "points").glob("point-*.parquet"))) if out.exists() else 0


def _wait_for_a_point(proc: subprocess.Popen, out: Path) -> None:
    deadline = time.time() + 180
    while _points(out) == 0:
        assert proc.poll() is None, proc.communicate()[1]
        assert time.time() < deadline, "no point finished"
        time.sleep(0.1)


@pytest.mark.parametrize("lose", ["worker", "scheduler"])
def test_losing_the_cluster_is_one_line_and_a_rerun_resumes(tmp_path, dask_processes, lose):
    sweep, out = _sweep_file(tmp_path), tmp_path / "out"
    dask_processes.add_worker()
    proc = _start_sweep(sweep, out, dask_processes.address)
    try:
        _wait_for_a_point(proc, out)
        if lose == "worker":
            dask_processes.kill_workers()
        else:
            dask_processes.scheduler.kill()
        _, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode == 0:
        pytest.skip("the sweep finished before the cluster was lost")  # a very fast machine
    assert proc.returncode == 3, err
    assert "Traceback" not in err, err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "lost its workers or its scheduler" in errors[0], err
    assert "run again to resume" in errors[0]
    assert _points(out) >= 1
    if lose == "scheduler":
        return  # resuming is the same as after a lost worker, on a new cluster
    dask_processes.add_worker()
    again = subprocess.run([sys.executable, "-m", "iomsim.cli", "sweep", str(sweep), "--out",
                            str(out), "--scheduler", dask_processes.address, "--no-progress"],
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    pd.testing.assert_frame_equal(pd.read_parquet(out / "results.parquet"),
                                  iomsim.sweep(sweep, jobs=1, progress=False))
