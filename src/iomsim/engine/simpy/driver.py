"""The simpy engine's replication: the pre-period, selection at day 0, and the arms from day 0.

The population is simulated without IOM from ``-pre_period`` to day 0. The selection rules then
pick the IOM cohort from the offenders still present, and each selected offender's state at day
0 is copied into the arms, each run in its own simpy environment to the horizon. Both copies
carry the same random streams at the same positions (common random numbers). What the offenders
did is turned into records (:mod:`iomsim.engine.records`), from which everything is measured;
the rule branches the phases took are summed into ``events_by_kind``
(:mod:`iomsim.engine.branches`).
"""

from __future__ import annotations

import gc

import numpy as np
import simpy

from iomsim.engine.branches import branch_counter
from iomsim.engine.cohort import Population, population_for
from iomsim.engine.measures import MONTH, arm_metrics, describe_population, registration_ogrs, \
    select_cohort, survival_curve
from iomsim.engine.model import Model
from iomsim.engine.records import (CONVICTION, EXITED_CODE, PROVEN, STATUS_CODES, WAIT,
                                   IOM_PLACE, ArmRecords, PopulationRecords, ReplicationResult,
                                   event_table)
from iomsim.engine.rng import OffenderStreams, offender_key, root_key
from iomsim.engine.simpy.context import ArmContext
from iomsim.engine.simpy.offender import (Offender, iom_allocation, new_offender, offender_life,
                                          start_iom)


def simulate(model: Model, seed: int, replication: int, arms: tuple[str, ...],
             keep_records: bool = False) -> ReplicationResult:
    """One replication of ``arms`` with the simpy engine."""
    # The cyclic collector would walk every live offender again and again (its cost grows with
    # the cohort); the run makes little cyclic garbage, so collect once at the end instead, and
    # only the youngest generation: with collection off, everything the replication allocated
    # is still there, and a full collection would also walk the long-lived heap (numpy, scipy,
    # pandas: about 60 ms, 7% of a replication at the default size).
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _simulate(model, seed, replication, arms, keep_records)
    finally:
        if was_enabled:
            gc.enable()
        gc.collect(0)


def _simulate(model: Model, seed: int, replication: int, arms: tuple[str, ...],
              keep_records: bool) -> ReplicationResult:
    pop = population_for(model, seed, replication)
    root = root_key(seed, replication)
    start = -model.pre_days
    offenders = [
        new_offender(i, model, OffenderStreams(offender_key(root, i)), ogrs=float(pop.ogrs[i]),
                     frailty=float(pop.frailty[i]), age=float(pop.age[i]), needs=[bool(x) for x in pop.needs[i]],
                     status=pop.status[i], status_days=float(pop.status_days[i]),
                     licence_days_after_release=float(pop.licence_days_after_release[i]),
                     start=start, scheduled=pop.scheduled[i])
        for i in range(len(pop))
    ]
    events = 0
    branches = branch_counter()
    if model.pre_days > 0:
        env = simpy.Environment(initial_time=start)
        ctx = ArmContext(model, env, 0.0, len(offenders), iom=False)
        for off in offenders:
            env.process(offender_life(env, off, ctx))
        env.run()
        events += _count(env)
        _add_counts(branches, ctx.branches)
    everyone = population_records(offenders, pop)
    chosen = select_cohort(everyone, model.selection)
    population = describe_population(everyone, chosen)
    registered = registration_ogrs(everyone, model)[chosen]
    selected = [offenders[i] for i in chosen.tolist()]

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
        _add_counts(branches, ctx.branches)
        records = arm_records(cohort, len(model.offence_names))
        records.ogrs_at_registration = registered
        costs[arm] = ctx.costs()
        metrics[arm] = arm_metrics(records, model)
        survival[arm] = survival_curve(records, model)
        if keep_records:
            kept[arm] = records
    months = len(selected) * model.horizon_days / MONTH * len(arms)
    return ReplicationResult(replication=replication, costs=costs, metrics=metrics,
                             survival=survival, population=population, cohort_size=len(selected),
                             offender_months=months, events=events, records=kept,
                             events_by_kind=branches)


def _count(env: simpy.Environment) -> int:
    counter = getattr(env, "_eid", None)
    return next(counter) if counter is not None else 0


def _add_counts(total: dict[str, int], part: dict[str, int]) -> None:
    for name, count in part.items():
        total[name] += count


def population_records(offenders: list[Offender], pop: Population) -> PopulationRecords:
    """Everyone at day 0, from their Offender objects after the pre-period."""
    return PopulationRecords(
        ogrs=np.array([o.ogrs for o in offenders], dtype=float),
        age=np.asarray(pop.age, dtype=float),
        need_mask=np.array([o.need_mask for o in offenders], dtype=np.int64),
        status=np.array([EXITED_CODE if o.exited else STATUS_CODES[o.status]
                         for o in offenders], dtype=np.int8),
        convictions=event_table(CONVICTION, ((i, day, count) for i, o in enumerate(offenders)
                                             for day, count in o.convictions if day < 0)),
        phase=np.array([o.phase for o in offenders], dtype=np.int8),
        previous_convictions=np.asarray(pop.previous_convictions, dtype=float),
    )


def arm_records(cohort: list[Offender], n_types: int) -> ArmRecords:
    """One arm's records from its Offender objects (row k for the k-th, events in order)."""
    n = len(cohort)
    return ArmRecords(
        ogrs=np.array([o.ogrs for o in cohort], dtype=float),
        need_mask=np.array([o.need_mask for o in cohort], dtype=np.int64),
        exited=np.array([o.exited for o in cohort], dtype=bool),
        offences_by_type=np.array([o.offences_by_type for o in cohort],
                                  dtype=float).reshape(n, n_types),
        detected=np.array([o.detected for o in cohort], dtype=np.int64),
        custody_days=np.array([o.custody_days for o in cohort], dtype=float),
        custody_days_24m_before=np.array([o.custody_days_24m_before for o in cohort], dtype=float),
        custody_days_24m=np.array([o.custody_days_24m for o in cohort], dtype=float),
        iom_days=np.array([o.iom_days for o in cohort], dtype=float),
        recalls=np.array([o.recalls for o in cohort], dtype=np.int64),
        referrals=np.array([o.referrals for o in cohort], dtype=np.int64),
        convictions=event_table(CONVICTION, ((k, day, count) for k, o in enumerate(cohort)
                                             for day, count in o.convictions)),
        proven=event_table(PROVEN, ((k, od, dd) for k, o in enumerate(cohort)
                                    for od, dd in o.proven)),
        waits=event_table(WAIT, ((k, s, days) for k, o in enumerate(cohort)
                                 for s, days in _waits(o))),
        phase=np.array([o.phase for o in cohort], dtype=np.int8),
    )


def _waits(o: Offender) -> list[tuple[int, float]]:
    waits = list(o.waits)
    if o.iom_wait is not None:
        waits.append((IOM_PLACE, o.iom_wait))
    return waits
