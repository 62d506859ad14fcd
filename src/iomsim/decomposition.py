"""What the before/after fall in reconviction is made of, one replication at a time.

An evaluation without a comparison group sees the IOM cohort's reconviction in the 24 months
before day 0 (``before``) and in the 24 months after it (``after_iom``), and may take the fall for
the effect of IOM. The model also has the same cohort without IOM (``after_non_iom``, the
``non_iom`` arm, on the same random numbers), so the observed change splits into three parts that
sum to it exactly (up to rounding):

``observed_change = after_iom - before
                  = regression_to_mean_and_ageing + custody + iom_effect``

- ``iom_effect = after_iom - after_non_iom``: the counterfactual difference, IOM against the same
  cohort without IOM.
- ``custody``: the change ``before`` would show if only the time at liberty changed, ``L``
  being the days at liberty per offender in the window: the window's length
  (:data:`WINDOW_DAYS`, 24 months of 365.25-day years) less the mean days in custody or on
  remand per selected offender (``custody_days_per_offender_24m_before`` for ``L_before``;
  ``custody_days_per_offender_24m`` of the non-IOM arm for ``L_after``). For a count per
  offender (convictions) it is ``before * (L_after / L_before - 1)``: counts grow in proportion
  to exposure. For a share of offenders (reconviction) it is ``1 - (1 - before) ** (L_after /
  L_before) - before``: the share that a constant hazard, the one giving ``before`` over
  ``L_before``, gives over ``L_after``; it stays a share (the proportional form implied rates
  above 100% for a cohort much in custody before day 0). Both are exposure adjustments of the
  mean: they say nothing about who was in custody. It is zero when the mean custody days before
  and after are equal.
- ``regression_to_mean_and_ageing = (after_non_iom - before) - custody``: what is left of the
  change without IOM. Offenders are selected on recent offending, so their offending falls back
  towards their long-run rate (regression to the mean), and they are two years older; the model
  does not separate the two.

The decomposition needs the 24 months before day 0 (``pre_period_months`` of at least 24) and the
24 months after (a horizon of at least two years): :func:`applies`. The table of means and
intervals over replications is built by :func:`iomsim.results.decomposition_table`.
"""

from __future__ import annotations

import math
from typing import Mapping

from iomsim.engine.model import TWO_YEARS

WINDOW_DAYS = TWO_YEARS
MEASURES = ("reconviction_rate_24m", "convictions_per_offender_24m")
SHARES = ("reconviction_rate_24m",)  # shares of offenders; the others are counts per offender
CUSTODY_BEFORE = "custody_days_per_offender_24m_before"
CUSTODY_AFTER = "custody_days_per_offender_24m"
LEVELS = ("before", "after_non_iom", "after_iom")
COMPONENTS = ("regression_to_mean_and_ageing", "custody", "iom_effect")
# The components that rest on the exposure adjustment (custody_term), undefined with it.
EXPOSURE_ADJUSTED = ("regression_to_mean_and_ageing", "custody")
ROWS = (*LEVELS, "observed_change", *COMPONENTS)  # the ``component`` column, in this order


def applies(pre_period_months: float, horizon_years: float) -> bool:
    """Whether a scenario has both windows: 24 months before day 0 and 24 months after."""
    return pre_period_months >= 24 - 1e-9 and horizon_years >= 2 - 1e-9


def custody_term(before: float, custody_days_before: float, custody_days_after: float,
                 window_days: float = WINDOW_DAYS, share: bool = False) -> float:
    """The change in ``before`` that the change in time at liberty alone would make, with
    ``L = window_days - custody days`` per offender: ``before * (L_after / L_before - 1)`` for a
    count, ``1 - (1 - before) ** (L_after / L_before) - before`` for a ``share`` (a constant
    hazard over the time at liberty). NaN when there was no time at liberty before."""
    at_liberty_before = window_days - custody_days_before
    at_liberty_after = window_days - custody_days_after
    if not at_liberty_before > 0:
        return math.nan
    ratio = at_liberty_after / at_liberty_before
    if share:
        return 1.0 - (1.0 - before) ** ratio - before if 0.0 <= before < 1.0 else math.nan
    return before * (ratio - 1.0)


def decompose(before: float, after_non_iom: float, after_iom: float, custody_days_before: float,
              custody_days_after: float, share: bool = False) -> dict[str, float]:
    """Every row of :data:`ROWS` for one measure of one replication (``share``: the measure is a
    share of offenders, as reconviction is)."""
    custody = custody_term(before, custody_days_before, custody_days_after, share=share)
    without_iom = after_non_iom - before
    return {"before": before, "after_non_iom": after_non_iom, "after_iom": after_iom,
            "observed_change": after_iom - before,
            "regression_to_mean_and_ageing": without_iom - custody,
            "custody": custody,
            "iom_effect": after_iom - after_non_iom}


def decompose_replication(metrics: Mapping[str, Mapping[str, float]]
                          ) -> dict[str, dict[str, float]]:
    """For each measure of :data:`MEASURES`, :func:`decompose` of one replication's arm metrics
    (``metrics[arm][metric]``, as :func:`iomsim.engine.measures.arm_metrics` gives them). The
    before figures are the IOM arm's (the pre-period is the same in both arms); the custody days
    after day 0 are the non-IOM arm's. A metric missing from the arms gives NaN."""
    iom, non = metrics["iom"], metrics["non_iom"]
    get = lambda arm, name: float(arm.get(name, math.nan))  # noqa: E731
    return {m: decompose(get(iom, f"{m}_before"), get(non, m), get(iom, m),
                         get(iom, CUSTODY_BEFORE), get(non, CUSTODY_AFTER),
                         share=m in SHARES)
            for m in MEASURES}


def why_undefined(measure: str, before: float) -> str:
    """Why the custody term of ``measure`` (and so regression to the mean, what is left beside
    it) is undefined, ``before`` being its level before day 0: a share of 100% reconvicted
    before gives no hazard to adjust for exposure (every hazard large enough gives it), and
    with no time at liberty before day 0 there is no exposure to compare."""
    if measure in SHARES and before >= 1.0:
        return "n/a: everyone was reconvicted before day 0"
    return "n/a: no time at liberty before day 0"


__all__ = ["COMPONENTS", "CUSTODY_AFTER", "CUSTODY_BEFORE", "EXPOSURE_ADJUSTED", "LEVELS",
           "MEASURES", "ROWS", "WINDOW_DAYS", "applies", "custody_term", "decompose",
           "decompose_replication", "why_undefined"]
