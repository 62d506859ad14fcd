"""Long commands show progress on stderr: break-even and calibration, as run and sweep do.

tqdm shows a bar only after a second, and only on a terminal unless told; here the bar is made
to show at once (``delay=0``) and asked for (``progress=True``), and stays quiet by default when
stderr is not a terminal.
"""

from __future__ import annotations

import pytest
import tqdm as tqdm_module

import iomsim
from iomsim.calibration import Parameter, Target, TargetsFile, calibrate
from iomsim.experiments import breakeven as breakeven_module
from tests.support import ROOT

SUSSEX = ROOT / "scenarios" / "sussex-2013.yaml"
CASE_PRIOR = ROOT / "scenarios" / "case-study-61k-uncalibrated.yaml"
TINY = {"cohort.size": 100, "selection.cohort_size": 15, "horizon_years": 1,
        "pre_period_months": 6}


class Immediate(tqdm_module.tqdm):
    def __init__(self, *args, **kwargs):
        kwargs["delay"] = 0
        super().__init__(*args, **kwargs)


@pytest.fixture
def immediate_bars(monkeypatch):
    monkeypatch.setattr(breakeven_module, "tqdm", Immediate)
    monkeypatch.setattr(tqdm_module, "tqdm", Immediate)


def test_breakeven_shows_progress_and_verbose_values(capsys, immediate_bars):
    scenario = iomsim.load_scenario(SUSSEX, overrides=TINY)
    breakeven_module.breakeven_cost(scenario, (0.05, 200.0), reps=2, seed=3, jobs=1,
                                    bootstrap=50, progress=True, verbose=True)
    out, err = capsys.readouterr()
    assert "break-even iom_cost_scale" in err and "rep" in err
    assert "iom_cost_scale = " in out  # --verbose: each value simulated


def test_breakeven_is_quiet_by_default_off_a_terminal(capsys):
    scenario = iomsim.load_scenario(SUSSEX, overrides=TINY)
    breakeven_module.breakeven_cost(scenario, (0.05, 200.0), reps=2, seed=3, jobs=1,
                                    bootstrap=50)
    out, err = capsys.readouterr()
    assert "break-even" not in err and out == ""


def test_calibration_shows_progress_with_its_log_above(capsys, immediate_bars):
    s = iomsim.load_scenario(CASE_PRIOR, overrides=TINY)
    t = TargetsFile(file="t.yaml", reps=2, seed=3, max_evaluations=3,
                    parameters=[Parameter("services.complex_needs_supported_housing.cost_per_day",
                                          20.0, 250.0, start=30.0)],
                    targets=[Target("total_agency_cost", "", "iom", 61000.0, 3050.0)])
    lines = []
    fit = calibrate(s, t, progress=True, log=lines.append)
    err = capsys.readouterr().err
    assert "calibrate" in err and "/3 evaluations" in err
    assert len(lines) == fit.evaluations == 3
