"""A metric whose window runs past the horizon is not available (NaN), never a count over part
of its window, and every table, the summary, the report and calibration say so."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

import iomsim
from iomsim.engine.measures import window_days
from iomsim.errors import InputError
from tests.support import ROOT

SUSSEX = ROOT / "scenarios" / "sussex-2013.yaml"
ONE_YEAR = {"cohort.size": 400, "selection.cohort_size": 60, "horizon_years": 1}
PAST_ONE_YEAR = ("reconviction_rate_24m", "convictions_per_offender_24m",
                 "proven_reoffending_rate_12m", "proven_reoffending_rate_24m",
                 "actual_vs_predicted_reduction", "reconviction_rate_24m_relative_change")


@pytest.fixture(scope="module")
def results():
    scenario = iomsim.load_scenario(SUSSEX, overrides=ONE_YEAR)
    return iomsim.run(scenario, reps=3, seed=4, jobs=1, progress=False, keep_replications=True)


def test_every_24m_and_proven_12m_metric_is_nan_on_a_one_year_horizon(results):
    for rep in results.replications:
        for arm, metrics in rep.metrics.items():
            for name, value in metrics.items():
                past = window_days(name) > 365.25 + 1e-9
                assert math.isnan(value) == past or (not past and name.endswith("_before")
                                                     and math.isnan(value)), (arm, name, value)
            for name in PAST_ONE_YEAR[:-1]:
                assert math.isnan(metrics[name]), (arm, name)
            # What fits in the year is still counted, and the pre-period is whole.
            assert not math.isnan(metrics["reconviction_rate_12m"])
            assert not math.isnan(metrics["reconviction_rate_24m_before"])
    o = results.outcomes
    for name in PAST_ONE_YEAR:
        assert o.loc[o["metric"] == name, "value"].isna().all(), name
    noted = results.manifest["metrics_not_available"]
    assert set(PAST_ONE_YEAR) <= set(noted)
    assert noted["reconviction_rate_24m"].startswith("window runs past the 1-year horizon")
    assert "reconviction_rate_12m" not in noted


def test_the_relative_change_over_12_months_needs_12_months():
    assert window_days("convictions_12m_relative_change_vs_24m_before") == 365.25
    assert window_days("reconviction_rate_24m_before") == 0.0


def test_the_summary_prints_no_24_month_line_on_a_one_year_horizon(results):
    from iomsim.cli.run import summary_text

    text = summary_text(results, Path("out"))
    assert "24 months" not in text and "n/a" not in text
    assert "convictions per offender, 12 months" in text
    assert "not available: their windows run past the 1-year horizon" in text


def test_the_report_and_workbook_show_them_as_not_available(results, tmp_path):
    from openpyxl import load_workbook

    from iomsim.reporting.report import write_report

    out = results.write(tmp_path / "out")
    html = write_report(out).read_text(encoding="utf-8")
    assert "not available: window runs past the 1-year horizon" in html
    assert not re.search(r"[>\s(]-?nan\b", html, re.I)  # no NaN shown as a number
    wb = load_workbook(out / "results.xlsx", read_only=True)
    assert "decomposition" not in wb.sheetnames  # a one-year run has no decomposition
    economics = iomsim.read_results(out).economics.set_index("metric")["value"]
    # Only the evaluation's measure uses these windows (two-year proven reoffending); a payback
    # year is missing when the payer has not paid back by the horizon.
    uses_them = economics.index.str.contains("evaluation") & ~economics.index.str.startswith(
        "cost_per_proven_reoffence")
    payback = economics.index.str.startswith("payback_year_")
    assert economics[uses_them].isna().all()
    assert not economics[~uses_them & ~payback].isna().any()


def test_calibration_refuses_a_target_past_the_horizon(tmp_path):
    from iomsim.calibration import calibrate, read_targets

    targets = tmp_path / "targets.yaml"
    targets.write_text("reps: 1\nmax_evaluations: 1\nparameters:\n"
                       "  iom.effects.offending_multiplier: {low: 0.1, high: 1}\ntargets:\n"
                       "  - {metric: reconviction_rate_24m, value: 0.2, tolerance: 0.05}\n")
    scenario = iomsim.load_scenario(SUSSEX, overrides=ONE_YEAR)
    with pytest.raises(InputError, match="past the 1-year horizon"):
        calibrate(scenario, read_targets(targets), progress=False)
