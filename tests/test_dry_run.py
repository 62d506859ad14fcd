"""``--dry-run``: the memory and run-time estimates per worker, printed before anything runs;
nothing is simulated, compiled or written, and the status is 0. The estimate that lowers a
run's ``--jobs`` (tests/test_memory_estimate.py) is the one shown. No timing is asserted: the
figures are estimates, checked here only for what they are made of."""

from __future__ import annotations

import pytest

from iomsim.cli import main
from iomsim.runner import estimate_run
from tests.support import MINIMAL, ROOT, load_minimal

GB = 1024 ** 3


@pytest.fixture
def no_simulation(monkeypatch):
    """Any replication simulated fails the test."""
    from iomsim.engine import replication

    def refuse(*args, **kwargs):
        raise AssertionError("a dry run simulated a replication")

    monkeypatch.setattr(replication, "simulate_replication", refuse)


def test_run_dry_run_prints_the_estimates_and_writes_nothing(tmp_path, capsys, no_simulation,
                                                             monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "res"
    code = main(["run", str(MINIMAL), "--reps", "8", "--jobs", "2", "--out", str(out),
                 "--dry-run"])
    text = capsys.readouterr().out
    assert code == 0
    assert "dry run: nothing simulated, nothing written" in text
    assert "memory per worker: about" in text
    assert "time per worker: 4 replications" in text
    assert "workers: 2" in text
    assert list(tmp_path.iterdir()) == []  # no results folder, no lock, no default results/


def test_dry_run_shows_the_workers_that_fit_in_memory(tmp_path, capsys, no_simulation,
                                                      monkeypatch):
    from iomsim.engine import footprint

    need = footprint.bytes_per_worker(load_minimal(), "compiled")
    monkeypatch.setattr(footprint, "available_bytes", lambda: int(2.5 * need))
    code = main(["run", str(MINIMAL), "--reps", "8", "--jobs", "4", "--out",
                 str(tmp_path / "res"), "--dry-run"])
    text = capsys.readouterr().out
    assert code == 0
    assert "workers: 4 asked, 2 fit in memory" in text
    assert "time per worker: 4 replications" in text


def test_dry_run_says_when_one_worker_would_not_fit(tmp_path, capsys, no_simulation,
                                                    monkeypatch):
    from iomsim.engine import footprint

    monkeypatch.setattr(footprint, "available_bytes", lambda: 1_000_000)
    code = main(["run", str(MINIMAL), "--reps", "2", "--out", str(tmp_path / "res"),
                 "--dry-run"])
    assert code == 0
    assert "not even one worker fits" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []


def test_dry_run_refuses_bad_input_in_one_line_with_status_2(tmp_path, capsys):
    code = main(["run", str(MINIMAL), "--set", "cohort.size=-3", "--out", str(tmp_path / "r"),
                 "--dry-run"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("error: ")
    assert list(tmp_path.iterdir()) == []


def test_sweep_dry_run_estimates_every_point_and_writes_nothing(tmp_path, capsys,
                                                                no_simulation):
    sweep = ROOT / "scenarios" / "sweeps" / "tornado-small.yaml"
    out = tmp_path / "sweep"
    code = main(["sweep", str(sweep), "--jobs", "1", "--out", str(out), "--dry-run"])
    text = capsys.readouterr().out
    assert code == 0
    assert "points x" in text and "time per worker" in text and "memory per worker" in text
    assert not out.exists()


def test_the_estimate_grows_with_the_population_the_horizon_and_the_replications():
    small = estimate_run(load_minimal({"cohort.size": 1_000}), "compiled", 10, 1,
                         available=64 * GB)
    large = estimate_run(load_minimal({"cohort.size": 100_000}), "compiled", 10, 1,
                         available=64 * GB)
    longer = estimate_run(load_minimal({"cohort.size": 1_000, "horizon_years": 10}),
                          "compiled", 10, 1, available=64 * GB)
    more = estimate_run(load_minimal({"cohort.size": 1_000}), "compiled", 40, 1,
                        available=64 * GB)
    assert large.seconds_per_replication > small.seconds_per_replication
    assert large.bytes_per_worker > small.bytes_per_worker
    assert longer.offender_months > small.offender_months
    assert more.seconds_per_worker == pytest.approx(4 * small.seconds_per_worker)
    simpy = estimate_run(load_minimal({"cohort.size": 100_000}), "simpy", 10, 1,
                         available=64 * GB)
    assert simpy.seconds_per_replication > large.seconds_per_replication


def test_two_workers_share_the_replications():
    s = load_minimal({"cohort.size": 1_000})
    one = estimate_run(s, "compiled", 10, 1, available=64 * GB)
    two = estimate_run(s, "compiled", 10, 2, available=64 * GB)
    assert (one.reps_per_worker, two.reps_per_worker) == (10, 5)
    assert two.jobs == 2
