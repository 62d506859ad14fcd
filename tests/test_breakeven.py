"""Break-even by root-finding, on cases whose answer is known."""

from __future__ import annotations

import math

import numpy as np
import pytest

import iomsim
from iomsim.errors import InputError
from iomsim.experiments.breakeven import breakeven_cost, find_breakeven

SUSSEX = "scenarios/sussex-2013.yaml"
# A strong IOM effect (far outside its prior) so that the benefit is positive and a cost
# break-even exists: these are known-answer checks of the root-finding, not of IOM.
TINY = {"cohort.size": 100, "selection.cohort_size": 15, "horizon_years": 2,
        "pre_period_months": 12, "iom.effects.offending_multiplier": 0.3}


def test_root_and_interval_of_a_known_curve():
    # Replication r has benefit a_r * (1 - x) and costs c: benefit per pound a_r (1 - x) / c.
    # The mean crosses 1 at x* = 1 - c / mean(a); the delta method gives its standard error
    # c * sd(a) / (mean(a)^2 * sqrt(R)).
    rng = np.random.default_rng(4)
    R, c = 60, 2.0
    a = rng.gamma(shape=16.0, scale=0.5, size=R)  # mean about 8
    result = find_breakeven(lambda x: a * (1 - x) / c, (0.0, 1.0), xtol=1e-9, bootstrap=2000,
                            seed=1)
    exact = 1 - c / a.mean()
    assert result.value == pytest.approx(exact, abs=1e-8)
    se = c * a.std(ddof=1) / (a.mean() ** 2 * math.sqrt(R))
    assert result.lo < exact < result.hi
    assert (result.hi - result.lo) == pytest.approx(2 * 1.959964 * se, rel=0.2)
    assert result.bootstrap_failures == 0


def test_no_crossing_in_the_bracket_is_a_clear_error():
    with pytest.raises(InputError, match="does not reach 1"):
        find_breakeven(lambda x: np.full(5, 3.0 + x), (0.0, 1.0))


def test_a_benefit_that_is_not_positive_has_no_cost_break_even():
    """Benefit per £1 = b / (k c): with b <= 0 no cost scale k reaches 1, whatever the bracket;
    that is an answer (NaN with a note), not an input error."""
    from iomsim.scenario.points import IOM_COST_SCALE

    b = np.array([-3.0, -1.0, -2.0])
    result = find_breakeven(lambda k: b / k, (0.05, 200.0), parameter=IOM_COST_SCALE,
                            none_if_not_positive=True)
    assert math.isnan(result.value) and "no break-even" in result.note
    with pytest.raises(InputError, match="does not reach 1"):  # positive but small: widen it
        find_breakeven(lambda k: np.full(3, 0.001) / k, (1.0, 200.0), parameter=IOM_COST_SCALE,
                       none_if_not_positive=True)


def test_cost_break_even_solves_the_closed_form_at_todays_runs():
    # Scaling every IOM programme cost by k leaves each replication's benefit b and induced cost
    # d as they are and scales its programme cost c, so its benefit per pound is b / (k c + d);
    # the break-even k solves mean_r b_r / (k c_r + d_r) = 1, found here from today's
    # replications by a root-finder of its own (without induced costs: k = mean benefit per £1).
    from scipy.optimize import brentq

    from iomsim.engine.model import compile_model
    from iomsim.results import economics_per_replication

    scenario = iomsim.load_scenario(SUSSEX, overrides=TINY)
    reps, seed = 4, 9
    today = iomsim.run(scenario, reps=reps, seed=seed, jobs=1, progress=False,
                       keep_replications=True)
    per_rep = economics_per_replication(scenario, today.replications,
                                        compile_model(scenario).items)
    b, c, d = (per_rep[k].to_numpy() for k in ("benefit", "iom_cost", "induced_cost"))
    assert np.all(c > 0)
    expected_scale = brentq(lambda k: np.mean(b / (k * c + d)) - 1.0, 0.05, 200.0, xtol=1e-12)
    result = breakeven_cost(scenario, (0.05, 200.0), reps=reps, seed=seed, jobs=1,
                            bootstrap=200, xtol=1e-7)
    assert result.value == pytest.approx(expected_scale, rel=1e-4)
    cost_now = today.metric("iom_cost_per_offender")
    per_offender, lo, hi = result.reported["economics.iom_cost_per_offender"]
    # IOM cost per offender scales exactly with the programme's unit costs.
    assert per_offender == pytest.approx(expected_scale * cost_now, rel=1e-3)
    assert lo < per_offender < hi


def test_breakeven_command_line(tmp_path):
    import subprocess
    import sys

    import pandas as pd

    sets = []
    for k, v in {"cohort.size": 60, "selection.cohort_size": 10, "horizon_years": 1,
                 "pre_period_months": 6, "iom.effects.offending_multiplier": 0.3}.items():
        sets += ["--set", f"{k}={v}"]
    base = [sys.executable, "-m", "iomsim.cli", "breakeven", SUSSEX, *sets, "--reps", "2",
            "--jobs", "1"]
    out = tmp_path / "be.csv"
    proc = subprocess.run([*base, "--parameter", "iom_cost_scale", "--bracket", "0.1", "100",
                           "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "largest IOM cost per offender" in proc.stdout
    table = pd.read_csv(out).set_index("quantity")
    assert list(table.index) == ["iom_cost_scale", "economics.iom_cost_per_offender"]
    for q in table.index:
        assert table.loc[q, "lo"] <= table.loc[q, "value"] <= table.loc[q, "hi"]
    bad = subprocess.run([*base, "--parameter", "iom.effects.nope", "--bracket", "0", "1"],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines()[-1].startswith(
        "error: --parameter: iom.effects.nope: no parameter at this path")
