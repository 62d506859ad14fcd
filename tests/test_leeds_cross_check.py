"""The Sussex IOM parameters against a controlled result: the Justice Data Lab's Leeds IOM
analysis (July 2017) found no significant difference in one-year proven reoffending between 142
IOM participants and a matched comparison group (56% reoffended, 2.05 proven reoffences per
person). scenarios/leeds-jdl-2017.yaml fits only the cohort so that the non-IOM arm reoffends as
that group did; every IOM parameter is the calibrated Sussex one. Checked at a seed other than
the fit's (1)."""

from __future__ import annotations

import pytest

import iomsim
from tests.support import ROOT

LEEDS = ROOT / "scenarios" / "leeds-jdl-2017.yaml"
SUSSEX = ROOT / "scenarios" / "sussex-2013.yaml"
SEED, REPS = 2026, 100


@pytest.fixture(scope="module")
def leeds():
    return iomsim.run(iomsim.load_scenario(LEEDS), reps=REPS, seed=SEED, jobs=2, progress=False)


def _row(results, arm, metric):
    o = results.outcomes
    return o[(o["arm"] == arm) & (o["metric"] == metric)].iloc[0]


def test_the_iom_parameters_are_the_sussex_ones():
    leeds, sussex = iomsim.load_scenario(LEEDS), iomsim.load_scenario(SUSSEX)
    assert leeds.iom == sussex.iom and leeds.offending == sussex.offending
    assert leeds.selection.cohort_size == 142


def test_the_non_iom_arm_reoffends_as_the_comparison_group(leeds):
    assert abs(_row(leeds, "non_iom", "proven_reoffending_rate_12m")["value"] - 0.56) <= 0.03


def test_the_non_iom_arm_has_the_comparison_groups_frequency(leeds):
    # Measured 2.192 (95% CI 2.140-2.243) at seed 2026 against 2.05 +/- 0.15 since the re-fit
    # of issue 14 (2.101 at seed 1); close to the edge, with a Monte Carlo error of about
    # +-0.08 at 40 replications of 142.
    assert abs(_row(leeds, "non_iom", "proven_reoffences_per_offender_12m")["value"] - 2.05) <= 0.15


def test_iom_makes_no_difference_a_cohort_of_142_could_detect(leeds):
    """The difference in one replication (a cohort of 142, as the JDL had) lies within about
    +-8 points (the JDL comparison's 95% half-width) in 95% of replications: as the JDL found,
    no significant difference."""
    diff = _row(leeds, "iom_minus_non_iom", "proven_reoffending_rate_12m")
    assert -0.08 <= diff["p025"] and diff["p975"] <= 0.08
    assert diff["p025"] <= 0.0 <= diff["p975"]
