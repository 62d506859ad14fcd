"""Selection, the population's description, the metrics and the survival curve, from records.

Every engine's output goes through these functions (see :mod:`iomsim.engine.records`), so a
metric is defined once. Sums over offenders are taken in index order with Python floats, as the
model's first implementation took them, so that results stay the same to the last bit.
"""

from __future__ import annotations

import math

import numpy as np

from iomsim.engine.model import DAYS_PER_YEAR, TWO_YEARS, Model, SelectionRules
from iomsim.engine.records import (IOM_PLACE, STATUS_CODES, ArmRecords, PopulationRecords,
                                   ReplicationResult, need_counts)
from iomsim.errors import NobodySelected
from iomsim.scenario.schema import NEEDS

MONTH = DAYS_PER_YEAR / 12
MOJ_WAIT = DAYS_PER_YEAR / 2  # six months for a conviction to be recorded


# The population figures that say, when selection picked nobody, how many offenders were left
# after each rule in turn (``present`` first); absent whenever anyone was picked.
FUNNEL = "selection_funnel"
SELECTION_RULES = ("selection.statuses", "selection.ogrs_min", "selection.min_needs",
                   "selection.min_convictions_pre_period")


class _NobodySelected(np.ndarray):
    """The empty selection, carrying how many offenders each rule left, so that
    :func:`describe_population` can report why (the engines pass one to the other)."""

    funnel: dict[str, int]


def _nobody(pop: PopulationRecords, rules: SelectionRules) -> np.ndarray:
    kept = pop.present.copy()
    funnel = {"present": int(kept.sum())}
    for path, rule in zip(SELECTION_RULES, (
            np.isin(pop.status, [STATUS_CODES[s] for s in rules.statuses]),
            pop.ogrs >= rules.ogrs_min, pop.needs_count >= rules.min_needs,
            pop.convictions_pre >= rules.min_convictions_pre_period)):
        kept &= rule
        funnel[path] = int(kept.sum())
    out = np.empty(0, dtype=np.int64).view(_NobodySelected)
    out.funnel = funnel
    return out


def empty_selection_error(scenario, rep: ReplicationResult, point: int | None = None
                          ) -> NobodySelected:
    """Selection picked nobody (every IOM measure would be 0 / 0): refused at the file and line
    of the rule that excluded the last offenders, with how many each rule left. ``point``: the
    sweep or break-even point whose replication it was (the caller names its values)."""
    from iomsim.scenario.loader import origin_of

    sel = scenario.selection
    funnel = {step: int(n) for (label, step), n in rep.population.items() if label == FUNNEL}
    said = [f"of {funnel.get('present', 0):,} offenders present at day 0"]
    texts = {"selection.statuses": "had a status in selection.statuses at day 0",
             "selection.ogrs_min": f"had OGRS >= selection.ogrs_min ({sel.ogrs_min:g})",
             "selection.min_needs": f"had at least selection.min_needs ({sel.min_needs}) needs",
             "selection.min_convictions_pre_period": "had at least "
             f"selection.min_convictions_pre_period ({sel.min_convictions_pre_period}) "
             "convictions in the pre-period"}
    path = "selection"
    if funnel.get("present", 0):
        for path in SELECTION_RULES:
            said.append(f"{funnel.get(path, 0):,} {texts[path]}")
            if not funnel.get(path, 0):
                break
    else:
        said.append("none is left to select")
    file, line = origin_of(scenario, path) if scenario.meta is not None else (None, None)
    where = f" (replication {rep.replication})" if rep.replication else ""
    return NobodySelected(f"selection picked nobody{where}, so IOM has no one to act on: "
                          + ", ".join(said) + "; relax that rule or enlarge the cohort",
                          file=file, line=line, path=path, point=point)


def select_cohort(pop: PopulationRecords, rules: SelectionRules | None) -> np.ndarray:
    """Indices (increasing) of the offenders picked for IOM at day 0; without rules, everyone
    still present. Eligible offenders are ranked by ``rules.rank_by``, ties broken by the other
    criterion and then by index."""
    idx = np.arange(len(pop))
    if rules is None:
        return idx[pop.present]
    eligible = eligible_for_selection(pop, rules)
    if not eligible.any():
        return _nobody(pop, rules)
    e = idx[eligible]
    ogrs = pop.ogrs[e]
    convictions = pop.convictions_pre[e]
    if rules.rank_by == "ogrs":
        order = np.lexsort((e, -convictions, -ogrs))
    elif rules.rank_by == "recent_convictions":
        order = np.lexsort((e, -ogrs, -recent_conviction_score(pop, rules)[e]))
    else:
        order = np.lexsort((e, -ogrs, -convictions))
    return np.sort(e[order[:rules.cohort_size]])


def eligible_for_selection(pop: PopulationRecords, rules: SelectionRules | None) -> np.ndarray:
    """Whether each offender passes every rule of selection but the ranking (bool). Each
    offender's answer depends on their own records alone, so it can be worked out for part of
    the population at a time: the selected are always among the eligible."""
    if rules is None:
        return pop.present
    statuses = [STATUS_CODES[s] for s in rules.statuses]
    return (pop.present & (pop.ogrs >= rules.ogrs_min) & (pop.needs_count >= rules.min_needs)
            & (pop.convictions_pre >= rules.min_convictions_pre_period)
            & np.isin(pop.status, statuses))


def recent_conviction_score(pop: PopulationRecords, rules: SelectionRules) -> np.ndarray:
    """Everyone's prolific-offender style score at day 0: the offences convicted before day 0,
    each weighted 0.5 ** (days before day 0 / recency half-life)."""
    c = pop.convictions
    score = np.zeros(len(pop))
    if len(c) == 0:
        return score
    weight = c["offences"] * np.exp2(c["day"] / rules.recency_half_life_days)
    np.add.at(score, c["offender"], weight)
    return score


# OGRS3's Copas rate, ln((1 + sanctions) / (10 + years since the first sanction)), and its
# coefficient in the score's logit (Howard, Francis, Soothill and Humphreys 2009, OGRS 3: the
# revised offender group reconviction scale, Ministry of Justice; as implemented in the German
# validation, Breiling, Dahle, Oberlader and Rettenberger 2022).
COPAS_COEFFICIENT = 1.251124464


def copas_rate(sanctions, career_years):
    return np.log((1.0 + sanctions) / (10.0 + np.maximum(career_years, 0.0)))


def registration_ogrs(pop: PopulationRecords, model: Model) -> np.ndarray:
    """Everyone's OGRS as measured at day 0 (registration): with the selection's
    ``ogrs_at_registration``, OGRS at the start with its Copas term moved by the pre-period's
    conviction appearances and years; otherwise OGRS at the start unchanged."""
    rules = model.selection
    if rules is None or not rules.ogrs_at_registration:
        return pop.ogrs.copy()
    years = model.pre_days / DAYS_PER_YEAR
    career = pop.age - rules.age_at_first_sanction
    before = copas_rate(pop.previous_convictions, career)
    after = copas_rate(pop.previous_convictions + pop.convictions_pre, career + years)
    p = np.clip(pop.ogrs, 1e-9, 1 - 1e-9)
    logit = np.log(p / (1 - p)) + COPAS_COEFFICIENT * (after - before)
    return 1.0 / (1.0 + np.exp(-logit))


def describe_population(pop: PopulationRecords, selected: np.ndarray
                        ) -> dict[tuple[str, str], float]:
    """Needs and risk of the selected cohort beside those present and not selected, at day 0."""
    chosen = np.zeros(len(pop), dtype=bool)
    chosen[selected] = True
    needs_count = pop.needs_count
    out: dict[tuple[str, str], float] = {}
    for label, mask in (("selected", chosen), ("not_selected", ~chosen & pop.present)):
        g = np.flatnonzero(mask)
        n = len(g)
        out[(label, "offenders")] = float(n)
        if n == 0:
            continue
        out[(label, "mean_ogrs")] = sum(pop.ogrs[g].tolist()) / n
        out[(label, "mean_age")] = float(np.mean(pop.age[g]))
        out[(label, "mean_needs")] = int(needs_count[g].sum()) / n
        out[(label, "convictions_per_offender_pre_period")] = \
            int(pop.convicted_offences_pre[g].sum()) / n
        for j, need in enumerate(NEEDS):
            out[(label, f"need_{need}")] = int(((pop.need_mask[g] >> j) & 1).sum()) / n
    for step, count in getattr(selected, "funnel", {}).items():
        out[(FUNNEL, step)] = float(count)
    return out


def _window_rates(rec: ArmRecords, lo: float, hi: float) -> tuple[float, float]:
    n = len(rec)
    if n == 0:
        return math.nan, math.nan
    c = rec.convictions
    inside = (lo <= c["day"]) & (c["day"] < hi)
    return len(np.unique(c["offender"][inside])) / n, int(c["offences"][inside].sum()) / n


def _proven_rate(rec: ArmRecords, lo: float, hi: float) -> float:
    """Share with a proven offence committed in [lo, hi) and disposed of within six months of
    ``hi`` (the Ministry of Justice's measure)."""
    n = len(rec)
    if n == 0:
        return math.nan
    p = rec.proven
    inside = (lo <= p["offence_day"]) & (p["offence_day"] < hi) & (p["disposal_day"] < hi + MOJ_WAIT)
    return len(np.unique(p["offender"][inside])) / n


def _proven_count(rec: ArmRecords, lo: float, hi: float) -> float:
    """Proven offences per offender committed in [lo, hi) and disposed of within six months of
    ``hi`` (the Ministry of Justice's frequency measure)."""
    n = len(rec)
    if n == 0:
        return math.nan
    p = rec.proven
    inside = (lo <= p["offence_day"]) & (p["offence_day"] < hi) & (p["disposal_day"] < hi + MOJ_WAIT)
    return int(inside.sum()) / n


def _per_offender(values: np.ndarray, n: int) -> float:
    return sum(values.tolist()) / n if n else math.nan


def arm_metrics(rec: ArmRecords, model: Model) -> dict[str, float]:
    """The outcome measures of one arm (the ``measure`` column of outcomes.csv). A metric whose
    window runs past the horizon (:func:`window_days` more than ``model.horizon_days``) is NaN:
    not available, rather than counted over part of its window."""
    n = len(rec)
    year = DAYS_PER_YEAR
    out: dict[str, float] = {}
    out["reconviction_rate_12m"], out["convictions_per_offender_12m"] = _window_rates(rec, 0, year)
    out["reconviction_rate_24m"], out["convictions_per_offender_24m"] = \
        _window_rates(rec, 0, TWO_YEARS)
    out["proven_reoffending_rate_12m"] = _proven_rate(rec, 0, year)
    out["proven_reoffending_rate_24m"] = _proven_rate(rec, 0, TWO_YEARS)
    out["proven_reoffences_per_offender_12m"] = _proven_count(rec, 0, year)
    out["proven_reoffences_per_offender_24m"] = _proven_count(rec, 0, TWO_YEARS)
    # Over the whole horizon: committed from day 0 and disposed of before the horizon (no
    # six-month wait: the horizon ends the record). The economics use it for the criminal
    # justice cost the model charges per proven offence.
    p = rec.proven
    out["proven_offences_per_offender_horizon"] = (
        int(((p["offence_day"] >= 0) & (p["disposal_day"] < model.horizon_days)).sum()) / n
        if n else math.nan)
    if model.pre_days >= year - 1e-9:
        out["reconviction_rate_12m_before"], out["convictions_per_offender_12m_before"] = \
            _window_rates(rec, -year, 0)
        out["proven_reoffending_rate_12m_before"] = _proven_rate(rec, -year, 0)
    if model.pre_days >= TWO_YEARS - 1e-9:
        out["reconviction_rate_24m_before"], out["convictions_per_offender_24m_before"] = \
            _window_rates(rec, -TWO_YEARS, 0)
    mean_ogrs = _per_offender(rec.ogrs, n)
    out["mean_ogrs"] = mean_ogrs
    predicted = mean_ogrs
    if rec.ogrs_at_registration is not None and model.selection is not None \
            and model.selection.ogrs_at_registration:
        predicted = _per_offender(rec.ogrs_at_registration, n)
        out["mean_ogrs_at_registration"] = predicted
    out["actual_vs_predicted_reduction"] = (1 - out["proven_reoffending_rate_24m"] / predicted
                                            if n else math.nan)
    total = 0.0
    for k, name in enumerate(model.offence_names):
        count = sum(rec.offences_by_type[:, k].tolist())
        total += count
        out[f"offences_per_offender_{name}"] = count / n if n else math.nan
    out["offences_per_offender"] = total / n if n else math.nan
    out["detected_offences_per_offender"] = _per_offender(rec.detected, n)
    c = rec.convictions
    out["convictions_per_offender_horizon"] = _per_offender(c["offences"][c["day"] >= 0], n)
    out["custody_days_per_offender"] = _per_offender(rec.custody_days, n)
    out["custody_days_per_offender_24m"] = _per_offender(rec.custody_days_24m, n)
    if model.pre_days >= TWO_YEARS - 1e-9:
        out["custody_days_per_offender_24m_before"] = _per_offender(rec.custody_days_24m_before, n)
    out["recalls_per_offender"] = _per_offender(rec.recalls, n)
    out["iom_days_per_offender"] = _per_offender(rec.iom_days, n)
    out["pathway_referrals_per_offender"] = _per_offender(rec.referrals, n)
    out["exited_share"] = _per_offender(rec.exited, n)
    w = rec.waits
    for svc in model.services:
        if svc.capacity_per_1000 is None:
            continue
        days = w["days"][w["service"] == svc.index]
        out[f"waits_per_offender_{svc.name}"] = len(days) / n if n else math.nan
        out[f"mean_wait_days_{svc.name}"] = float(np.mean(days)) if len(days) else 0.0
    if model.iom_places_per_1000 is not None:
        days = w["days"][w["service"] == IOM_PLACE]
        out["iom_places_waits_per_offender"] = len(days) / n if n else math.nan
        out["mean_wait_days_iom_place"] = float(np.mean(days)) if len(days) else 0.0
    out["offenders"] = float(n)
    # A window that runs past the horizon would be counted over part of itself only: such a
    # metric is not available (NaN), never a silently truncated count.
    for name in out:
        if window_days(name) > model.horizon_days + 1e-9:
            out[name] = math.nan
    return out


def survival_curve(rec: ArmRecords, model: Model) -> np.ndarray:
    """Share of the cohort not yet reconvicted at the start of each month from day 0."""
    months = int(round(model.horizon_days / MONTH))
    n = len(rec)
    if n == 0:
        return np.full(months + 1, np.nan)
    c = rec.convictions
    after = c["day"] >= 0
    first = np.full(n, np.inf)
    np.minimum.at(first, c["offender"][after], c["day"][after])
    edges = np.arange(months + 1) * MONTH
    return np.array([(first > e).mean() for e in edges])


def window_days(metric: str) -> float:
    """Days after day 0 that a metric's window needs (0 for measures of the pre-period or of
    the whole horizon): :func:`arm_metrics` gives NaN for a metric whose window runs past the
    horizon, since it could count only part of it."""
    if metric.endswith("_before") and "relative_change" not in metric:
        return 0.0
    if metric == "actual_vs_predicted_reduction" or metric.startswith(
            ("proven_reoffending_rate_24m", "proven_reoffences_per_offender_24m")):
        return TWO_YEARS + MOJ_WAIT
    if metric.startswith(("proven_reoffending_rate_12m", "proven_reoffences_per_offender_12m")):
        return DAYS_PER_YEAR + MOJ_WAIT
    if "_12m" in metric:  # convictions_12m_relative_change_vs_24m_before compares 12 months
        return DAYS_PER_YEAR
    if "_24m" in metric:
        return TWO_YEARS
    return 0.0


__all__ = ["FUNNEL", "MONTH", "SELECTION_RULES", "MOJ_WAIT", "arm_metrics", "describe_population", "need_counts",
           "select_cohort", "survival_curve", "window_days"]
