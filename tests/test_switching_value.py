"""The switching value (issue 14): the IOM effect at which the taxpayer's and society's NPV are
zero, from the break-even search; known answers on closed-form curves, and the command that
adds it to a results folder for the report."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from iomsim.economics import switching_sentence
from iomsim.experiments.breakeven import find_breakeven, switching_value_frame
from iomsim.results_folder import SWITCHING_VALUE

PARAMETER = "iom.effects.offending_multiplier"
ROOT = Path(__file__).resolve().parents[1]
SUSSEX = ROOT / "scenarios" / "sussex-2013.yaml"


def test_linear_npv_crosses_zero_at_its_closed_form_root():
    # NPV(m) = 300 - 500 m in every replication (plus noise that averages to zero): root 0.6.
    noise = np.array([-20.0, 5.0, 15.0])
    r = find_breakeven(lambda m: 300 - 500 * m + noise, (0.0, 1.0), target=0.0,
                       parameter=PARAMETER, measure="economics.npv_social",
                       no_root_is_an_answer=True, xtol=1e-10)
    assert r.value == pytest.approx(0.6, abs=1e-8)
    frame = switching_value_frame([r])
    assert list(frame.columns) == list(SWITCHING_VALUE.columns)
    row = frame.iloc[0]
    assert row["measure"] == "npv_social"
    assert row["effect"] == pytest.approx(0.4)
    assert row["effect_lo"] == pytest.approx(1 - r.hi) and row["effect_hi"] == pytest.approx(1 - r.lo)
    assert row["effect_lo"] <= row["effect"] <= row["effect_hi"]


def test_an_npv_that_never_reaches_zero_is_an_answer_not_an_error():
    r = find_breakeven(lambda m: np.full(3, -1000.0 - 50 * m), (0.0, 1.0), target=0.0,
                       parameter=PARAMETER, measure="economics.npv_taxpayer",
                       no_root_is_an_answer=True)
    assert math.isnan(r.value) and "stays below 0" in r.note
    assert "-1,000" in r.note and "-1,050" in r.note
    row = switching_value_frame([r]).iloc[0]
    assert math.isnan(row["effect"])
    assert switching_sentence("npv_taxpayer", row["effect"], row["effect_lo"],
                              row["effect_hi"]).startswith("no cut in offending")


def test_switching_sentence_reads_as_a_commissioner_would():
    text = switching_sentence("npv_taxpayer", 0.237, 0.2, 0.28)
    assert text == ("IOM pays back to the taxpayer if it cuts offending by at least 23.7% among "
                    "responders while on IOM (95% interval 20.0% to 28.0%)")


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "iomsim.cli", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd)


TINY = ["--set", "cohort.size=100", "--set", "selection.cohort_size=15",
        "--set", "horizon_years=2", "--set", "pre_period_months=12"]


def test_switching_value_is_added_to_a_results_folder_and_reported(tmp_path):
    out = tmp_path / "run"
    done = _cli("run", SUSSEX, *TINY, "--reps", "4", "--seed", "3", "--out", out,
                "--no-progress")
    assert done.returncode == 0, done.stderr
    done = _cli("breakeven", SUSSEX, *TINY, "--switching-value", "--reps", "4", "--seed", "3",
                "--results", out, "--no-progress")
    assert done.returncode == 0, done.stderr
    frame = pd.read_csv(out / SWITCHING_VALUE.file)
    assert set(frame["measure"]) == {"npv_taxpayer", "npv_social"}
    for _, row in frame.iterrows():  # a value with its interval, or a note saying why not
        assert (not math.isnan(row["effect"]) and row["effect_lo"] <= row["effect"]
                <= row["effect_hi"]) or row["note"]
    assert "switching values" in done.stdout
    done = _cli("report", out)
    assert done.returncode == 0, done.stderr
    html = (out / "report.html").read_text()
    assert "Switching value" in html and "Who saves, by payer" in html


def test_switching_value_refuses_a_folder_of_another_scenario(tmp_path):
    out = tmp_path / "run"
    assert _cli("run", SUSSEX, *TINY, "--reps", "2", "--out", out, "--no-progress").returncode == 0
    done = _cli("breakeven", SUSSEX, *TINY, "--set", "horizon_years=3", "--switching-value",
                "--results", out, "--no-progress")
    assert done.returncode == 2
    assert "another scenario" in done.stderr and "Traceback" not in done.stderr
    assert not (out / SWITCHING_VALUE.file).exists()
    done = _cli("breakeven", SUSSEX, "--results", out)
    assert done.returncode == 2 and "--results needs --switching-value" in done.stderr
