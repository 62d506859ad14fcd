"""The national-scale example (scenarios/national/england-wales.yaml): every IOM cohort in
England and Wales, tens of thousands selected and hundreds of thousands simulated. It fits one
machine by the --dry-run estimate, and runs on a local Dask cluster of several workers with the
same results as in one process (shrunk with --set so that the test is quick: the full size is
measured by benchmarks/run.py, not here)."""

from __future__ import annotations

import subprocess
import sys

import iomsim
from iomsim.engine.footprint import bytes_per_worker, simulated_offenders
from iomsim.runner import estimate_run
from tests.support import ROOT

NATIONAL = ROOT / "scenarios" / "national" / "england-wales.yaml"
SUSSEX = ROOT / "scenarios" / "sussex-2013.yaml"
SMALL = ["--set", "cohort.size=3000", "--set", "selection.cohort_size=160"]
COMPARED = ["costs_by_agency.csv", "outcomes.csv", "economics.csv", "survival.csv",
            "population.csv"]


def test_it_is_national_in_size_and_extends_the_shipped_sussex_scenario():
    national = iomsim.load_scenario(NATIONAL)
    sussex = iomsim.load_scenario(SUSSEX)
    assert national.selection.cohort_size >= 10_000
    assert simulated_offenders(national) >= 100_000
    # Only the sizes (and the name) differ from Sussex: the model is the calibrated one.
    assert national.iom.effects == sussex.iom.effects
    assert national.cohort.profile == sussex.cohort.profile
    assert national.horizon_years == sussex.horizon_years


def test_one_machine_holds_it_by_the_estimate():
    est = estimate_run(iomsim.load_scenario(NATIONAL), "compiled", reps=20, jobs=2,
                       available=8 * 1024 ** 3)
    assert est.jobs == 2  # two workers in 8 GB
    assert bytes_per_worker(iomsim.load_scenario(NATIONAL), "compiled") < 2 * 1024 ** 3


def test_dry_run_of_the_full_size_exits_0_and_writes_nothing(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "iomsim.cli", "run", str(NATIONAL),
                           "--dry-run", "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "325,000 offenders (16,855 selected)" in proc.stdout
    assert list(tmp_path.iterdir()) == []


def _run(out, *extra):
    proc = subprocess.run([sys.executable, "-m", "iomsim.cli", "run", str(NATIONAL), *SMALL,
                           "--reps", "3", "--seed", "5", "--no-progress", "--out", str(out),
                           *extra], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return proc


def test_it_runs_on_a_local_dask_cluster_of_several_workers_as_in_one_process(tmp_path):
    _run(tmp_path / "one", "--jobs", "1")
    _run(tmp_path / "dask", "--scheduler", "local", "--jobs", "3")
    for name in COMPARED:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "dask" / name).read_bytes(), \
            f"{name} differs between one process and a local Dask cluster of 3 workers"
