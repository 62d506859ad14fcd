"""One replication: the pre-period, IOM selection at day 0, and the two arms from day 0.

The population is simulated without IOM from ``-pre_period`` to day 0. The selection rules then
pick the IOM cohort from the offenders still present, and each selected offender's state at day
0 is copied into two arms, ``non_iom`` and ``iom``, each run in its own simpy environment to the
horizon. Both copies carry the same random streams at the same positions (common random numbers).
"""

from __future__ import annotations

import gc
import math
from dataclasses import dataclass, field

import numpy as np
import simpy

from iomsim.engine.cohort import Population, build_population
from iomsim.engine.model import DAYS_PER_YEAR, TWO_YEARS, Model, compile_model
from iomsim.engine.offender import (Offender, iom_allocation, new_offender, offender_life,
                                    start_iom)
from iomsim.engine.places import Places
from iomsim.engine.rng import OffenderStreams, offender_key, root_key
from iomsim.scenario.schema import NEEDS, Scenario

ARMS = ("non_iom", "iom")
ENGINES = ("simpy", "compiled")  # "simpy" is the reference; see docs/model.md, section 9
MONTH = DAYS_PER_YEAR / 12
MOJ_WAIT = DAYS_PER_YEAR / 2  # six months for a conviction to be recorded


class ArmContext:
    """Shared state of one arm's run: its environment, cost ledger and capacity resources."""

    def __init__(self, model: Model, env: simpy.Environment, horizon: float, n_offenders: int,
                 iom: bool):
        self.model = model
        self.env = env
        self.horizon = horizon
        self.iom = iom
        n_years = max(1, int(math.ceil(horizon / DAYS_PER_YEAR)))
        self._rows = [[0.0] * len(model.items) for _ in range(n_years)]
        places = model.scenario.iom.places_per_1000
        self.iom_places = (Places(env, capacity=max(1, int(math.floor(
            places * n_offenders / 1000 + 0.5)))) if iom and places is not None else None)
        self.resources: list[Places | None] = []
        self.capacity_services = [svc.index for svc in model.services
                                  if svc.capacity_per_1000 is not None]
        self.capacity_mask = sum(1 << i for i in self.capacity_services)
        for svc in model.services:
            if svc.capacity_per_1000 is None:
                self.resources.append(None)
            else:
                places = max(1, int(math.floor(svc.capacity_per_1000 * n_offenders / 1000 + 0.5)))
                self.resources.append(Places(env, capacity=places))

    def add(self, day: float, item: int, amount: float) -> None:
        """A cost incurred at one moment."""
        if amount and 0.0 <= day < self.horizon:
            self._rows[int(day // DAYS_PER_YEAR)][item] += amount

    def accrue(self, t0: float, t1: float, daily: list[tuple[int, float]]) -> None:
        """Costs that run by the day over [t0, t1), split at the boundaries of years."""
        if not daily:
            return
        a = max(t0, 0.0)
        b = min(t1, self.horizon)
        rows = self._rows
        while a < b:
            year = int(a // DAYS_PER_YEAR)
            end = min(b, (year + 1) * DAYS_PER_YEAR)
            span = end - a
            row = rows[year]
            for item, per_day in daily:
                row[item] += per_day * span
            a = end

    def costs(self) -> np.ndarray:
        return np.array(self._rows, dtype=float)


@dataclass
class ReplicationResult:
    """Everything one replication produced, before it is put into tables."""

    replication: int
    costs: dict[str, np.ndarray]  # arm -> (year, item)
    metrics: dict[str, dict[str, float]]  # arm -> metric -> value
    survival: dict[str, np.ndarray]  # arm -> share not reconvicted at each month 0..M
    population: dict[tuple[str, str], float]
    cohort_size: int
    offender_months: float
    events: int = 0  # simpy: event ids issued; compiled: wake-ups processed (not comparable)
    offenders: dict[str, list[Offender]] = field(default_factory=dict)


def simulate_replication(scenario: Scenario | Model, seed: int, replication: int,
                         keep_offenders: bool = False, independent_arms: bool = False,
                         engine: str = "simpy") -> ReplicationResult:
    """Simulate one replication: pre-period, selection, then both arms from day 0.

    With ``independent_arms`` (for measuring what common random numbers buy) the IOM arm gets
    its own population, pre-period and event streams, as if from another seed.

    ``engine`` is ``"simpy"`` (the reference) or ``"compiled"`` (:mod:`iomsim.engine.compiled`,
    numba: the same model and random numbers, much faster; it does not keep offenders).
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}: expected 'simpy' or 'compiled'")
    if engine == "compiled" and keep_offenders:
        raise ValueError("keep_offenders=True needs engine='simpy': the compiled engine keeps "
                         "no Offender objects")
    model = scenario if isinstance(scenario, Model) else compile_model(scenario)
    if engine == "compiled":  # simulate_compiled refuses what it does not implement
        return _replicate(model, seed, replication, False, independent_arms, compiled=True)
    # The cyclic collector would walk every live offender again and again (its cost grows with
    # the cohort); the run makes little cyclic garbage, so collect once at the end instead, and
    # only the youngest generation: with collection off, everything the replication allocated
    # is still there, and a full collection would also walk the long-lived heap (numpy, scipy,
    # pandas: about 60 ms, 7% of a replication at the default size).
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _replicate(model, seed, replication, keep_offenders, independent_arms)
    finally:
        if was_enabled:
            gc.enable()
        gc.collect(0)


def _replicate(model: Model, seed: int, replication: int, keep_offenders: bool,
               independent_arms: bool, compiled: bool = False) -> ReplicationResult:
    if compiled:
        from iomsim.engine.compiled import simulate_compiled

        def simulate(model, seed, replication, arms, keep_offenders):
            return simulate_compiled(model, seed, replication, arms)
    else:
        simulate = _simulate
    if not independent_arms:
        return simulate(model, seed, replication, ARMS, keep_offenders)
    base = simulate(model, seed, replication, ("non_iom",), keep_offenders)
    other_seed = int(np.random.SeedSequence([int(seed), int(replication), 0x1A2B]).generate_state(1)[0])
    other = simulate(model, other_seed, replication, ("iom",), keep_offenders)
    for part in ("costs", "metrics", "survival", "offenders"):
        getattr(base, part).update(getattr(other, part))
    base.offender_months += other.offender_months
    base.events += other.events
    return base


def _simulate(model: Model, seed: int, replication: int, arms: tuple[str, ...],
              keep_offenders: bool) -> ReplicationResult:
    s = model.scenario
    pop = build_population(s, seed, replication)
    root = root_key(seed, replication)
    start = -model.pre_days
    offenders = [
        new_offender(i, model, OffenderStreams(offender_key(root, i)), ogrs=float(pop.ogrs[i]),
                     frailty=float(pop.frailty[i]), needs=[bool(x) for x in pop.needs[i]],
                     status=pop.status[i], status_days=float(pop.status_days[i]),
                     licence_days_after_release=float(pop.licence_days_after_release[i]),
                     start=start, scheduled=pop.scheduled[i])
        for i in range(len(pop))
    ]
    events = 0
    if model.pre_days > 0:
        env = simpy.Environment(initial_time=start)
        ctx = ArmContext(model, env, 0.0, len(offenders), iom=False)
        for off in offenders:
            env.process(offender_life(env, off, ctx))
        env.run()
        events += _count(env)
    for off in offenders:
        off.convictions_pre = sum(1 for day, _ in off.convictions if day < 0)
    selected = select_cohort(offenders, pop, model)
    for off in selected:
        off.selected = True
    population = describe_population(offenders, pop)

    costs, metrics, survival, kept = {}, {}, {}, {}
    for arm in arms:
        env = simpy.Environment(initial_time=0.0)
        ctx = ArmContext(model, env, model.horizon_days, len(selected), iom=(arm == "iom"))
        cohort = [off.copy() for off in selected]
        for off in cohort:
            if ctx.iom and ctx.iom_places is None:
                start_iom(off, model, ctx, 0.0)
            life = env.process(offender_life(env, off, ctx))
            if ctx.iom and ctx.iom_places is not None:
                env.process(iom_allocation(env, off, ctx, life))
        env.run()
        events += _count(env)
        costs[arm] = ctx.costs()
        metrics[arm] = arm_metrics(cohort, model)
        survival[arm] = survival_curve(cohort, model)
        if keep_offenders:
            kept[arm] = cohort
    months = len(selected) * model.horizon_days / MONTH * len(arms)
    return ReplicationResult(replication=replication, costs=costs, metrics=metrics,
                             survival=survival, population=population, cohort_size=len(selected),
                             offender_months=months, events=events, offenders=kept)


def _count(env: simpy.Environment) -> int:
    counter = getattr(env, "_eid", None)
    return next(counter) if counter is not None else 0


def select_cohort(offenders: list[Offender], pop: Population, model: Model) -> list[Offender]:
    """Apply the IOM selection rules at day 0; without rules, everyone present is selected."""
    present = [o for o in offenders if not o.exited]
    rules = model.scenario.selection
    if rules is None:
        return present
    eligible = [o for o in present
                if o.ogrs >= rules.ogrs_min and sum(o.needs) >= rules.min_needs
                and o.convictions_pre >= rules.min_convictions_pre_period
                and o.status in rules.statuses]
    if rules.rank_by == "ogrs":
        eligible.sort(key=lambda o: (-o.ogrs, -o.convictions_pre, o.index))
    else:
        eligible.sort(key=lambda o: (-o.convictions_pre, -o.ogrs, o.index))
    return sorted(eligible[:rules.cohort_size], key=lambda o: o.index)


def describe_population(offenders: list[Offender], pop: Population) -> dict[tuple[str, str], float]:
    """Needs and risk of the selected cohort beside those not selected, at day 0."""
    out: dict[tuple[str, str], float] = {}
    for label, group in (("selected", [o for o in offenders if o.selected]),
                         ("not_selected", [o for o in offenders if not o.selected and not o.exited])):
        n = len(group)
        out[(label, "offenders")] = float(n)
        if n == 0:
            continue
        out[(label, "mean_ogrs")] = sum(o.ogrs for o in group) / n
        out[(label, "mean_age")] = float(np.mean([pop.age[o.index] for o in group]))
        out[(label, "mean_needs")] = sum(sum(o.needs) for o in group) / n
        out[(label, "convictions_per_offender_pre_period")] = sum(
            sum(k for d, k in o.convictions if d < 0) for o in group) / n
        for j, need in enumerate(NEEDS):
            out[(label, f"need_{need}")] = sum(1 for o in group if o.needs[j]) / n
    return out


def _window_rates(cohort: list[Offender], lo: float, hi: float) -> tuple[float, float]:
    n = len(cohort)
    if n == 0:
        return math.nan, math.nan
    reconvicted = sum(1 for o in cohort if any(lo <= d < hi for d, _ in o.convictions))
    count = sum(k for o in cohort for d, k in o.convictions if lo <= d < hi)
    return reconvicted / n, count / n


def _proven_rate(cohort: list[Offender], lo: float, hi: float) -> float:
    n = len(cohort)
    if n == 0:
        return math.nan
    wait = hi + MOJ_WAIT
    return sum(1 for o in cohort if any(lo <= od < hi and dd < wait for od, dd in o.proven)) / n


def arm_metrics(cohort: list[Offender], model: Model) -> dict[str, float]:
    n = len(cohort)
    year = DAYS_PER_YEAR
    out: dict[str, float] = {}
    out["reconviction_rate_12m"], out["convictions_per_offender_12m"] = _window_rates(cohort, 0, year)
    out["reconviction_rate_24m"], out["convictions_per_offender_24m"] = _window_rates(cohort, 0, TWO_YEARS)
    out["proven_reoffending_rate_12m"] = _proven_rate(cohort, 0, year)
    out["proven_reoffending_rate_24m"] = _proven_rate(cohort, 0, TWO_YEARS)
    if model.pre_days >= year - 1e-9:
        out["reconviction_rate_12m_before"], out["convictions_per_offender_12m_before"] = \
            _window_rates(cohort, -year, 0)
        out["proven_reoffending_rate_12m_before"] = _proven_rate(cohort, -year, 0)
    if model.pre_days >= TWO_YEARS - 1e-9:
        out["reconviction_rate_24m_before"], out["convictions_per_offender_24m_before"] = \
            _window_rates(cohort, -TWO_YEARS, 0)
    mean_ogrs = sum(o.ogrs for o in cohort) / n if n else math.nan
    out["mean_ogrs"] = mean_ogrs
    out["actual_vs_predicted_reduction"] = 1 - out["proven_reoffending_rate_24m"] / mean_ogrs \
        if n else math.nan
    total_offences = 0
    for k, name in enumerate(model.offence_names):
        c = sum(o.offences_by_type[k] for o in cohort)
        total_offences += c
        out[f"offences_per_offender_{name}"] = c / n if n else math.nan
    out["offences_per_offender"] = total_offences / n if n else math.nan
    out["detected_offences_per_offender"] = sum(o.detected for o in cohort) / n if n else math.nan
    out["convictions_per_offender_horizon"] = sum(
        k for o in cohort for d, k in o.convictions if d >= 0) / n if n else math.nan
    out["custody_days_per_offender"] = sum(o.custody_days for o in cohort) / n if n else math.nan
    out["recalls_per_offender"] = sum(o.recalls for o in cohort) / n if n else math.nan
    out["iom_days_per_offender"] = sum(o.iom_days for o in cohort) / n if n else math.nan
    out["pathway_referrals_per_offender"] = sum(o.referrals for o in cohort) / n if n else math.nan
    out["exited_share"] = sum(1 for o in cohort if o.exited) / n if n else math.nan
    for svc in model.services:
        if svc.capacity_per_1000 is None:
            continue
        waits = [days for o in cohort for i, days in o.waits if i == svc.index]
        out[f"waits_per_offender_{svc.name}"] = len(waits) / n if n else math.nan
        out[f"mean_wait_days_{svc.name}"] = float(np.mean(waits)) if waits else 0.0
    if model.scenario.iom.places_per_1000 is not None:
        waits = [o.iom_wait for o in cohort if o.iom_wait is not None]
        out["iom_places_waits_per_offender"] = len(waits) / n if n else math.nan
        out["mean_wait_days_iom_place"] = float(np.mean(waits)) if waits else 0.0
    out["offenders"] = float(n)
    return out


def survival_curve(cohort: list[Offender], model: Model) -> np.ndarray:
    """Share of the cohort not yet reconvicted at the start of each month from day 0."""
    months = int(round(model.horizon_days / MONTH))
    first = np.full(len(cohort), np.inf)
    for i, o in enumerate(cohort):
        days = [d for d, _ in o.convictions if d >= 0]
        if days:
            first[i] = min(days)
    edges = np.arange(months + 1) * MONTH
    if len(cohort) == 0:
        return np.full(months + 1, np.nan)
    return np.array([(first > e).mean() for e in edges])
