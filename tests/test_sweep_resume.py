"""A sweep killed part way (SIGKILL) resumes: the finished table has every point exactly once and
equals an uninterrupted run's; a finished sweep does nothing; a different sweep is refused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import iomsim
from iomsim.errors import ResultsExistError
from tests.support import SMALL_SWEEP, pool_workers

ROOT = Path(__file__).resolve().parents[1]

SWEEP = """\
scenario: {scenario}
overrides: {{cohort.size: 60, selection.cohort_size: 10, horizon_years: 1, pre_period_months: 6}}
design: grid
replications: 2
seed: {seed}
parameters:
  iom.effects.offending_multiplier: {{levels: [0.2, 0.4, 0.6, 0.8, 1.0]}}
  iom_cost_scale: {{levels: [0.5, 1.5]}}
"""
N_POINTS = 10


def _sweep_file(tmp_path: Path, seed: int = 5) -> Path:
    path = tmp_path / f"grid-{seed}.yaml"
    path.write_text(SWEEP.format(scenario=ROOT / "scenarios" / "sussex-2013.yaml", seed=seed))
    return path


def _cli(sweep_file: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "iomsim.cli", "sweep", str(sweep_file), "--out", str(out),
            "--jobs", "1", "--no-progress"]


def _points(out: Path) -> int:
    return len(list((out / "points").glob("point-*.parquet"))) if (out / "points").exists() else 0


def _run_and_kill(cmd: list[str], out: Path, after: int) -> int:
    """Start the sweep, SIGKILL it once ``after`` points are saved; return how many were."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + 120
    try:
        while _points(out) < after:
            assert proc.poll() is None, "the sweep ended before it could be killed"
            assert time.time() < deadline, "the sweep made no progress"
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    return _points(out)


def test_killed_sweep_resumes_to_the_uninterrupted_table(tmp_path):
    sweep_file = _sweep_file(tmp_path)
    out = tmp_path / "out"
    cmd = _cli(sweep_file, out)
    first = _run_and_kill(cmd, out, after=2)
    assert 2 <= first < N_POINTS
    assert not (out / "results.parquet").exists()
    second = _run_and_kill(cmd, out, after=first + 2)
    assert first < second < N_POINTS
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"computed {N_POINTS - second} of {N_POINTS} points" in done.stdout
    resumed = pd.read_parquet(out / "results.parquet")
    key = ["point", "replication", "arm", "measure"]
    assert not resumed.duplicated(key).any()
    assert sorted(resumed["point"].unique()) == list(range(N_POINTS))
    assert not list((out / "points").glob(".*tmp*"))
    whole = iomsim.sweep(sweep_file, jobs=1, progress=False)
    pd.testing.assert_frame_equal(resumed, whole, check_exact=True)

    # Run again: complete, so nothing is computed and no point file is rewritten.
    stamps = {p: p.stat().st_mtime_ns for p in (out / "points").iterdir()}
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0
    assert "nothing to compute" in again.stdout
    assert {p: p.stat().st_mtime_ns for p in (out / "points").iterdir()} == stamps


def test_a_different_sweep_into_the_same_folder_is_refused_unless_forced(tmp_path):
    scenario = ROOT / "scenarios" / "sussex-2013.yaml"
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text(SMALL_SWEEP.format(scenario=scenario, seed=1, levels=[0.5]))
    b.write_text(SMALL_SWEEP.format(scenario=scenario, seed=2, levels=[0.5]))
    out = tmp_path / "out"
    iomsim.sweep(a, jobs=1, out=out, progress=False)
    with pytest.raises(ResultsExistError, match="different sweep"):
        iomsim.sweep(b, jobs=1, out=out, progress=False)
    proc = subprocess.run([sys.executable, "-m", "iomsim.cli", "sweep", str(b), "--out", str(out),
                           "--jobs", "1", "--no-progress"], capture_output=True, text=True)
    assert proc.returncode == 2 and "use --force" in proc.stderr
    forced = iomsim.sweep(b, jobs=1, out=out, force=True, progress=False)
    pd.testing.assert_frame_equal(pd.read_parquet(out / "results.parquet"), forced)


@pytest.mark.skipif(not Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").exists(),
                    reason="needs Linux /proc/PID/task/PID/children")
def test_a_pool_worker_killed_mid_sweep_has_its_task_rerun(tmp_path):
    sweep_file = _sweep_file(tmp_path, seed=6)
    out = tmp_path / "out"
    cmd = _cli(sweep_file, out)
    cmd[cmd.index("--jobs") + 1] = "2"
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        deadline = time.time() + 120
        while _points(out) < 1:
            assert proc.poll() is None and time.time() < deadline
            time.sleep(0.02)
        workers = pool_workers(proc.pid)
        assert workers, "no pool worker found"
        os.kill(workers[0], signal.SIGKILL)
        stdout, stderr = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, stderr
    assert "a worker process died" in stderr
    table = pd.read_parquet(out / "results.parquet")
    pd.testing.assert_frame_equal(table, iomsim.sweep(sweep_file, jobs=1, progress=False),
                                  check_exact=True)


def test_a_point_file_that_does_not_read_back_is_computed_again(tmp_path):
    sweep_file = _sweep_file(tmp_path, seed=7)
    out = tmp_path / "out"
    whole = iomsim.sweep(sweep_file, jobs=1, out=out, progress=False)
    points = out / "points"
    truncated = points / "point-000003.parquet"
    truncated.write_bytes(truncated.read_bytes()[: truncated.stat().st_size // 2])
    (points / "point-000007.parquet").write_bytes(b"PAR1 not really parquet")
    done = subprocess.run(_cli(sweep_file, out), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    for point in (3, 7):
        assert f"point-{point:06d}.parquet does not read back" in done.stderr
        assert f"point {point} will be computed again" in done.stderr
    assert f"computed 2 of {N_POINTS} points" in done.stdout
    pd.testing.assert_frame_equal(pd.read_parquet(out / "results.parquet"), whole,
                                  check_exact=True)


@pytest.mark.parametrize("damage", [lambda text: text[: len(text) // 2], lambda text: "[]"])
def test_a_damaged_sweep_json_is_reported_as_unreadable_not_as_another_sweep(tmp_path, damage):
    scenario = ROOT / "scenarios" / "sussex-2013.yaml"
    a = tmp_path / "a.yaml"
    a.write_text(SMALL_SWEEP.format(scenario=scenario, seed=1, levels=[0.5]))
    out = tmp_path / "out"
    whole = iomsim.sweep(a, jobs=1, out=out, progress=False)
    manifest = out / "sweep.json"
    manifest.write_text(damage(manifest.read_text()))
    proc = subprocess.run([sys.executable, "-m", "iomsim.cli", "sweep", str(a), "--out", str(out),
                           "--jobs", "1", "--no-progress"], capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    line, = proc.stderr.strip().splitlines()[-1:]
    assert line.startswith(f"error: {manifest} does not read back (")
    assert "which sweep" in line and "use --force to replace its results or choose another " \
        "--out" in line and "different sweep" not in line and "None" not in line
    forced = iomsim.sweep(a, jobs=1, out=out, force=True, progress=False)
    pd.testing.assert_frame_equal(forced, whole)


def test_a_point_file_from_another_sweep_is_computed_again(tmp_path):
    # The same design with another seed: valid files, the same point numbers, other numbers.
    sweep_file, other_file = _sweep_file(tmp_path, seed=7), _sweep_file(tmp_path, seed=8)
    out, other = tmp_path / "out", tmp_path / "other"
    whole = iomsim.sweep(sweep_file, jobs=1, out=out, progress=False)
    iomsim.sweep(other_file, jobs=1, out=other, progress=False)
    name = "point-000003.parquet"
    (out / "points" / name).write_bytes((other / "points" / name).read_bytes())
    (out / "summary.csv").unlink()
    done = subprocess.run(_cli(sweep_file, out), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"{name} does not read back (written by another sweep (hash " in done.stderr
    assert "point 3 will be computed again" in done.stderr
    assert f"computed 1 of {N_POINTS} points" in done.stdout
    pd.testing.assert_frame_equal(pd.read_parquet(out / "results.parquet"), whole,
                                  check_exact=True)


CSV_SCENARIO = """\
extends: base/minimal.yaml
horizon_years: 1
selection: {cohort_size: 10}
cohort: {size: null, profile: null, from_csv: cohort.csv}
"""
CSV_SWEEP = """\
scenario: scenario.yaml
design: grid
replications: 1
seed: 1
parameters:
  iom.effects.offending_multiplier: {levels: [0.5]}
"""


def _cohort_csv(path: Path, ogrs: float) -> None:
    rows = [f"A{i},{25 + i % 20},{min(0.95, ogrs + i / 100):.2f},unsupervised" for i in range(30)]
    path.write_text("id,age,ogrs,status\n" + "\n".join(rows) + "\n")


def test_a_resume_after_an_input_file_changed_is_refused(tmp_path):
    import shutil

    from iomsim.experiments.spec import load_sweep

    shutil.copytree(ROOT / "tests" / "bad_inputs" / "base", tmp_path / "base")
    (tmp_path / "scenario.yaml").write_text(CSV_SCENARIO)
    _cohort_csv(tmp_path / "cohort.csv", 0.5)
    sweep_file = tmp_path / "sweep.yaml"
    sweep_file.write_text(CSV_SWEEP)
    out = tmp_path / "out"
    first = load_sweep(sweep_file).hash
    iomsim.sweep(sweep_file, jobs=1, out=out, progress=False)

    _cohort_csv(tmp_path / "cohort.csv", 0.6)  # the same name, another cohort
    assert load_sweep(sweep_file).hash != first
    proc = subprocess.run([sys.executable, "-m", "iomsim.cli", "sweep", str(sweep_file), "--out",
                           str(out), "--jobs", "1", "--no-progress"], capture_output=True,
                          text=True)
    assert proc.returncode == 2 and "different sweep" in proc.stderr, proc.stderr

    _cohort_csv(tmp_path / "cohort.csv", 0.5)
    assert load_sweep(sweep_file).hash == first
    parent = tmp_path / "base" / "minimal.yaml"  # a file of the extends: chain
    parent.write_text(parent.read_text() + "\n# edited\n")
    assert load_sweep(sweep_file).hash != first
