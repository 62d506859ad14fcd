"""Validation: the shipped scenarios against the Sussex evaluation's published figures.

Targets and tolerances are read from scenarios/targets/*.yaml (the files the scenarios were
calibrated to), so there is one statement of each. A target the model cannot meet with
defensible parameters is marked xfail(strict=True) with its measured value and the reason; see
docs/validation.md.

Default run (CI-sized): the case study at its record setting (200 replications; one offender,
so a few seconds), and the Sussex scenario at its calibration setting (1,000 offenders with 242
selected, 4 replications, seed 1). With IOMSIM_SLOW=1 the Sussex scenario is also checked at its
record setting: 2,000 offenders, 483 selected, 200 replications (tens of minutes).
"""

from __future__ import annotations

import math
import os

import pandas as pd
import pytest

import iomsim
from iomsim.calibration import measure, read_targets
from tests.support import ROOT

SCEN = ROOT / "scenarios"
CASE = SCEN / "case-study-61k.yaml"
SUSSEX = SCEN / "sussex-2013.yaml"
CASE_TARGETS = read_targets(SCEN / "targets" / "case-study-61k.yaml").targets
SUSSEX_TARGETS = read_targets(SCEN / "targets" / "sussex-2013.yaml").targets
SLOW = pytest.mark.skipif(not os.environ.get("IOMSIM_SLOW"),
                          reason="set IOMSIM_SLOW=1 for the 200-replication Sussex check")

# Targets not met with defensible parameters: measured value (record setting) and reason.
UNMET: dict[str, str] = {
    # The Sussex fit (an ABC fit with every IOM parameter inside its prior; docs/validation.md)
    # leaves these unmet rather than forcing them: measured at the record setting (200
    # replications, seed 1) and at the calibration setting (242 of 1,000, 8 replications).
    "reconviction_rate_24m_before": (
        "measured 0.385 (record) and 0.376 (calibration setting) against 0.45 +/- 0.03: a "
        "cohort selected on recent convictions among the supervised and in custody has either "
        "more reconvicted before or too few eligible; no accepted draw reaches 0.45 with 0.19 "
        "after"),
    "reconviction_rate_24m": (
        "measured 0.278 (record) and 0.270 (calibration setting) against 0.19 +/- 0.03: with "
        "IOM's effect inside its prior (a 1-2% relative effect here), the fall is regression to "
        "the mean, ageing and custody, and not as deep as published"),
    "convictions_per_offender_24m_before": (
        "measured 1.123 (record) and 1.095 (calibration setting) against 1.24 +/- 0.10: since "
        "the offence mix of issue 14 (lower detection, fewer Crown Court cases) the re-fit's "
        "chosen draw (the same as before) trades it for the reconviction rates; accepted draws "
        "span 0.91 to 1.62 (median 1.17)"),
    "actual_vs_predicted_reduction": (
        "measured 0.522 (record) and 0.514 (calibration setting) against 0.78 +/- 0.05: it "
        "needs a mean OGRS at registration near 0.86 with 19% reconvicted; reported, not fitted"),
    "benefit_per_pound_evaluation": (
        "measured 1.37 (record; 95% CI 1.35 to 1.39), 1.37 (calibration setting) and 1.34 "
        "(95% CI 1.32 to 1.37, 100 replications, seed 2026) against 1.59 +/- 0.15, valuing a "
        "proven reoffence at the full Home Office 2018 cost of crime of the proven mix; with the "
        "published two-year rates in place of the model's unmet ones it would be 2.67 "
        "(docs/validation.md, 'Benefit per £1, three ways')"),
}


def _param(t, targets_name):
    key = t.name if t.kind == "metric" else f"{t.kind}:{t.name}"
    marks = []
    if key in UNMET:
        marks.append(pytest.mark.xfail(strict=True, reason=UNMET[key]))
    return pytest.param(t, id=t.label.replace(" ", "_"), marks=marks)


@pytest.fixture(scope="module")
def case_results():
    return iomsim.run(iomsim.load_scenario(CASE), reps=200, seed=1, jobs=1, progress=False)


@pytest.fixture(scope="module")
def sussex_fast():
    from tests.regression.update_headline import run_headline

    return run_headline(jobs=1)


@pytest.fixture(scope="module")
def sussex_record():
    return iomsim.run(iomsim.load_scenario(SUSSEX), reps=200, seed=1, jobs=2, progress=False)


def _check(results, target):
    value = measure(results, target)
    assert math.isfinite(value)
    assert abs(value - target.value) <= target.tolerance, \
        f"{target.label}: simulated {value:.4g}, target {target.value:g} +/- {target.tolerance:g}"


@pytest.mark.parametrize("target", [_param(t, "case") for t in CASE_TARGETS])
def test_case_study(case_results, target):
    _check(case_results, target)


def test_case_study_is_one_offender_over_a_year_with_release_and_recall():
    s = iomsim.load_scenario(CASE)
    assert s.horizon_years == 1 and s.pre_period_months == 0 and s.selection is None
    (off,) = s.cohort.offenders
    assert [e.event for e in off.scheduled_events] == ["release", "recall"]
    assert s.price_year == "2011-12"


@pytest.mark.parametrize("target", [_param(t, "sussex") for t in SUSSEX_TARGETS])
def test_sussex_at_calibration_setting(sussex_fast, target):
    _check(sussex_fast, target)


@pytest.mark.slow
@SLOW
@pytest.mark.parametrize("target", [_param(t, "sussex") for t in SUSSEX_TARGETS])
def test_sussex_record(sussex_record, target):
    _check(sussex_record, target)


def test_sussex_scenario_shape():
    s = iomsim.load_scenario(SUSSEX)
    assert s.selection.cohort_size == 483 and s.pre_period_months == 24
    assert s.horizon_years == 5 and s.price_year == "2011-12"


def test_headline_regression(sussex_fast):
    """Current five-year figures per agency and economics against the regression table."""
    from tests.regression.update_headline import TABLE, headline

    expected = pd.read_csv(TABLE, keep_default_na=False)
    current = headline(sussex_fast)
    key = ["table", "arm", "name", "measure"]
    merged = expected.merge(current, on=key, how="outer", suffixes=("_expected", "_current"),
                            indicator=True)
    missing = merged[merged["_merge"] != "both"]
    assert missing.empty, f"rows differ from {TABLE.name}:\n{missing[key + ['_merge']]}"
    bad = []
    for r in merged.itertuples():
        exp, cur = float(r.value_expected), float(r.value_current)
        if abs(cur - exp) > r.rel_tol_expected * max(abs(exp), 1.0):
            bad.append(f"{r.table}/{r.arm}/{r.name}/{r.measure}: {cur:.6g} vs {exp:.6g}")
    assert not bad, ("headline figures moved (regenerate with "
                     "tests/regression/update_headline.py only if intended):\n" + "\n".join(bad))
