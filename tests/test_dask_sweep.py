"""A sweep through a real Dask scheduler and worker on loopback equals the local result exactly.

The scheduler and worker are started as subprocesses with the ``dask`` command line, bound to
127.0.0.1 only, and stopped at the end (the ``dask_cluster`` fixture, tests/conftest.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import iomsim
from iomsim.errors import InputError

ROOT = Path(__file__).resolve().parents[1]

SWEEP = """\
scenario: {scenario}
overrides: {{cohort.size: 60, selection.cohort_size: 10, horizon_years: 1, pre_period_months: 6}}
design: lhs
samples: 4
replications: 2
seed: 17
parameters:
  iom.effects.offending_multiplier: {{low: 0.2, high: 0.9}}
  iom_cost_scale: {{distribution: lognormal, mean: 1.0, sd: 0.3}}
"""


def _write_sweep(tmp_path: Path) -> Path:
    path = tmp_path / "lhs.yaml"
    path.write_text(SWEEP.format(scenario=ROOT / "scenarios" / "sussex-2013.yaml"))
    return path


def test_sweep_on_a_dask_cluster_equals_the_local_sweep(tmp_path, dask_cluster):
    sweep_file = _write_sweep(tmp_path)
    local = iomsim.sweep(sweep_file, jobs=1, progress=False)
    remote = iomsim.sweep(sweep_file, scheduler=dask_cluster, out=tmp_path / "dask",
                          progress=False)
    assert len(local) == 4 * 2 * len(local[["arm", "measure"]].drop_duplicates())
    pd.testing.assert_frame_equal(local, remote, check_exact=True)
    # and the folder holds the same table
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "dask" / "results.parquet"), local,
                                  check_exact=True)


def test_process_pool_equals_one_process(tmp_path):
    sweep_file = _write_sweep(tmp_path)
    one = iomsim.sweep(sweep_file, jobs=1, progress=False)
    two = iomsim.sweep(sweep_file, jobs=2, progress=False)
    pd.testing.assert_frame_equal(one, two, check_exact=True)


def test_unreachable_scheduler_is_one_line_and_exit_2(tmp_path):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sweep_file = _write_sweep(tmp_path)
    env = {**os.environ, "IOMSIM_DASK_TIMEOUT": "2"}
    proc = subprocess.run([sys.executable, "-m", "iomsim.cli", "sweep", str(sweep_file),
                           "--scheduler", f"tcp://127.0.0.1:{port}", "--out",
                           str(tmp_path / "out"), "--no-progress"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}" in errors[0]
    assert "Traceback" not in proc.stderr
    with pytest.raises(InputError, match="expected a scheduler address"):
        iomsim.sweep(sweep_file, scheduler="127.0.0.1:1", progress=False)
