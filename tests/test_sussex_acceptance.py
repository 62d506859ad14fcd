"""The re-fitted Sussex scenario against the evaluation, at a seed other than the calibration's.

The calibration (scenarios/targets/sussex-2013.yaml) ran at seed 1 on a reduced population;
this check runs the shipped scenario at full size, 100 replications, seed 2026, and asks for:
the published before/after figures within the targets file's tolerances; a non-IOM arm whose
24-month reconviction is at least 15% (relative) below its 24 months before, as a cohort
selected at a peak of its offending falls back; an IOM relative effect on 24-month
reconviction, 1 - IOM / non-IOM, between 0 and 40%; a decomposition.csv in the results folder;
and no 24-month figure from a one-year horizon. A published figure the model does not reach
inside its priors is a strict xfail carrying the measured figure (docs/validation.md says what
structure is missing), never a forced fit.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

import iomsim
from iomsim.calibration import read_targets
from tests.support import ROOT

SUSSEX = ROOT / "scenarios" / "sussex-2013.yaml"
TARGETS = ROOT / "scenarios" / "targets" / "sussex-2013.yaml"
SEED, REPS = 2026, 100

# Figures the model does not reach with every IOM parameter inside its prior: the measured
# value at SEED and REPS (python -m tests.test_sussex_acceptance prints them all). What is
# missing for each is in docs/validation.md ("Targets not met, and why").
UNMET = {
    "reconviction_rate_24m_before [iom]": "measured 0.3824 (target 0.45 +- 0.03)",
    "reconviction_rate_24m [iom]": "measured 0.2804 (target 0.19 +- 0.03): with IOM's effect "
                                   "inside its prior, the fall the model gives is mostly "
                                   "regression to the mean, and not as deep as published",
    "convictions_per_offender_24m_before [iom]": "measured 1.1104 (target 1.24 +- 0.10): the "
                                                 "re-fit after the offence mix of issue 14 "
                                                 "trades it for the reconviction rates",
    "actual_vs_predicted_reduction [iom]": "measured 0.5150 (target 0.78 +- 0.05)",
}


@pytest.fixture(scope="module")
def sussex(tmp_path_factory):
    out = tmp_path_factory.mktemp("sussex") / "results"
    results = iomsim.run(iomsim.load_scenario(SUSSEX), reps=REPS, seed=SEED, jobs=2,
                         progress=False)
    results.write(out)
    return results, out


def _value(results, arm: str, metric: str) -> float:
    o = results.outcomes
    row = o[(o["arm"] == arm) & (o["metric"] == metric)]
    return float(row["value"].iloc[0]) if len(row) else math.nan


def _published():
    out = []
    for t in read_targets(TARGETS).targets:
        if t.kind != "metric" or t.name.startswith("benefit_per_pound"):
            continue  # an economics figure: its own test below
        marks = [pytest.mark.xfail(strict=True, reason=UNMET[t.label])] if t.label in UNMET else []
        out.append(pytest.param(t, id=t.label.replace(" ", ""), marks=marks))
    return out


@pytest.mark.parametrize("target", _published())
def test_a_published_figure_is_reproduced_within_its_tolerance(sussex, target):
    results, _ = sussex
    value = _value(results, target.arm, target.name)
    assert abs(value - target.value) <= target.tolerance, (target.label, value)


# The evaluation's £1.59, by its own arithmetic on the model's figures (docs/model.md, 7.12):
# None when met, else the strict-xfail reason with the measured figure.
EVALUATION_UNMET: str | None = (
    "measured 1.342 (95% CI 1.318 to 1.365; target 1.59 +- 0.15): a proven reoffence valued at "
    "the full Home Office 2018 cost of crime of the proven mix (£2,335 at 2011-12 prices), "
    "most of the gap is the unmet reconviction targets: with the published two-year rates it "
    "would be 2.67 (docs/validation.md, 'Benefit per £1, three ways')")


@pytest.mark.xfail(EVALUATION_UNMET is not None, strict=True, reason=EVALUATION_UNMET or "")
def test_the_benefit_per_pound_as_the_evaluation_counted_it(sussex):
    results, _ = sussex
    target = next(t for t in read_targets(TARGETS).targets
                  if t.name == "benefit_per_pound_evaluation")
    value = results.metric("benefit_per_pound_evaluation")
    assert abs(value - target.value) <= target.tolerance, value


def test_the_non_iom_arm_falls_as_a_cohort_selected_at_its_peak(sussex):
    results, _ = sussex
    before = _value(results, "non_iom", "reconviction_rate_24m_before")
    after = _value(results, "non_iom", "reconviction_rate_24m")
    assert 1 - after / before >= 0.15, (before, after)


def test_iom_relative_effect_on_reconviction_is_between_0_and_40_percent(sussex):
    results, _ = sussex
    effect = 1 - (_value(results, "iom", "reconviction_rate_24m")
                  / _value(results, "non_iom", "reconviction_rate_24m"))
    assert 0.0 <= effect <= 0.40, effect


def test_the_results_folder_holds_the_decomposition(sussex):
    _, out = sussex
    table = pd.read_csv(out / "decomposition.csv")
    components = set(table["component"])
    assert {"regression_to_mean_and_ageing", "custody", "iom_effect",
            "observed_change"} <= components
    for measure, rows in table.groupby("measure"):
        parts = rows.set_index("component")["mean"]
        total = parts[["regression_to_mean_and_ageing", "custody", "iom_effect"]].sum()
        # the CSV holds six decimals: three rounded terms differ from the rounded total by at
        # most 4 x 5e-7
        assert total == pytest.approx(parts["observed_change"], abs=2e-6), measure


def test_a_one_year_horizon_reports_no_24_month_figure():
    results = iomsim.run(iomsim.load_scenario(SUSSEX, overrides={"horizon_years": 1}), reps=2,
                         seed=SEED, progress=False)
    o = results.outcomes
    for metric in ("reconviction_rate_24m", "convictions_per_offender_24m",
                   "proven_reoffending_rate_24m", "actual_vs_predicted_reduction"):
        rows = o[o["metric"] == metric]
        assert rows["value"].isna().all(), (metric, rows["value"].tolist())


if __name__ == "__main__":  # the measured figures behind UNMET
    r = iomsim.run(iomsim.load_scenario(SUSSEX), reps=REPS, seed=SEED, jobs=2, progress=False)
    from iomsim.calibration import measure

    for t in read_targets(TARGETS).targets:
        print(f"{t.label:45s} target {t.value:g} +- {t.tolerance:g}  measured "
              f"{measure(r, t):.4f}")
