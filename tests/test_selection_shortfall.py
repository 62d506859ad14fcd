"""A run says so when selection picks fewer offenders than ``selection.cohort_size`` asks for.

The simulated population (``cohort.size``) is not the selected cohort; "150 offenders" written as
both sizes used to run quietly with a cohort of about 46.
"""

from __future__ import annotations

import subprocess
import sys

import iomsim
from tests.support import ROOT

SUSSEX = ROOT / "scenarios" / "sussex-2013.yaml"
SHORT = {"cohort.size": 150, "selection.cohort_size": 150, "horizon_years": 1}


def test_run_warns_once_with_the_counts(capsys):
    scenario = iomsim.load_scenario(SUSSEX, overrides=SHORT)
    results = iomsim.run(scenario, reps=3, seed=1, progress=False)
    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if line.startswith("warning: selection")]
    assert len(warnings) == 1, err
    fewest = min(results.manifest["cohort_size"])
    assert fewest < 150
    line = warnings[0]
    assert "fewer offenders than selection.cohort_size (150) in 3 of 3 replications" in line
    assert f"as few as {fewest}" in line and "present at day 0" in line


def test_no_warning_when_selection_gets_its_cohort(capsys):
    scenario = iomsim.load_scenario(SUSSEX, overrides={**SHORT, "cohort.size": 600,
                                                       "selection.cohort_size": 40})
    iomsim.run(scenario, reps=2, seed=1, progress=False)
    assert "warning" not in capsys.readouterr().err


def test_the_command_line_warns_on_stderr(tmp_path):
    sets = [a for k, v in SHORT.items() for a in ("--set", f"{k}={v}")]
    proc = subprocess.run([sys.executable, "-m", "iomsim.cli", "run", str(SUSSEX), *sets,
                           "--reps", "2", "--jobs", "1", "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("warning: selection picked fewer") == 1
    assert "warning" not in proc.stdout
