"""Memory is estimated from the scenario before anything runs: a run that would not fit is
refused (exit 3, one line, nothing written) and a pool that would not fit runs fewer workers.

The estimate's per-offender figures are measurements (engine/footprint.py says how they were
taken); these tests hold the decisions made from it, with the machine's available memory given.
"""

from __future__ import annotations

import pytest

import iomsim
from iomsim.engine.footprint import (BYTES_PER_SIMULATED_OFFENDER, bytes_per_worker,
                                    simulated_offenders)
from iomsim.errors import MemoryShortfall
from iomsim.runner import fit_jobs_to_memory
from tests.support import MINIMAL, ROOT, load_minimal

GB = 1024 ** 3


def test_the_estimate_grows_with_the_population_and_is_larger_on_simpy():
    small, large = load_minimal({"cohort.size": 1_000}), load_minimal({"cohort.size": 100_000})
    assert simulated_offenders(large) == 100_000
    extra = {e: bytes_per_worker(large, e) - bytes_per_worker(small, e)
             for e in ("compiled", "simpy")}
    for engine, grown in extra.items():  # linear in the offenders simulated
        assert grown == BYTES_PER_SIMULATED_OFFENDER[engine] * 99_000
    assert extra["simpy"] > 10 * extra["compiled"]  # measured: 7,345 against 420 to 696 B


def test_a_cohort_of_records_counts_its_records():
    case_study = iomsim.load_scenario(ROOT / "scenarios" / "case-study-61k.yaml")
    assert simulated_offenders(case_study) == len(case_study.cohort.offenders)


def test_jobs_are_lowered_to_what_fits_and_said_once(capsys):
    s = load_minimal({"cohort.size": 1_000_000})
    need = bytes_per_worker(s, "simpy")
    assert fit_jobs_to_memory(s, "simpy", 4, reps=10, available=int(2.5 * need)) == 2
    assert "running 2 at once instead" in capsys.readouterr().err
    assert fit_jobs_to_memory(s, "simpy", 4, reps=10, available=10 * need) == 4
    assert fit_jobs_to_memory(s, "simpy", 4, reps=1, available=int(1.5 * need)) == 4  # one rep
    assert capsys.readouterr().err == ""


def test_a_worker_that_cannot_fit_is_refused_before_running():
    s = load_minimal({"cohort.size": 1_000_000})
    with pytest.raises(MemoryShortfall, match=r"one worker would need about 9\.4 GB.*compiled"):
        fit_jobs_to_memory(s, "simpy", 1, reps=2, available=4 * GB)


def test_the_command_line_refuses_it_in_one_line_with_exit_3(tmp_path, monkeypatch, capsys):
    from iomsim.cli import main
    from iomsim.engine import footprint

    monkeypatch.setattr(footprint, "available_bytes", lambda: 50_000_000)  # 50 MB
    out = tmp_path / "res"
    code = main(["run", str(MINIMAL), "--reps", "2", "--jobs", "1", "--out", str(out),
                 "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert code == 3
    assert len(err.splitlines()) == 1 and "one worker would need about" in err
    assert list(tmp_path.iterdir()) == []  # no folder, no lock, no temporary
