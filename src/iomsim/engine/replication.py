"""One replication, by either engine: dispatch, and the independent-arms variant.

Both engines implement the same model (:mod:`iomsim.engine.model`) with the same random numbers
and hand back the same records (:mod:`iomsim.engine.records`), measured by the same code
(:mod:`iomsim.engine.measures`). ``"compiled"`` (numba) is the fast one and the default;
``"simpy"`` is the readable reference that every result can be checked against.
"""

from __future__ import annotations

import numpy as np

from iomsim.defaults import DEFAULT_ENGINE, ENGINES
from iomsim.engine.model import Model, compile_model
from iomsim.engine.records import ARMS, ReplicationResult
from iomsim.scenario.schema import Scenario



def simulate_replication(scenario: Scenario | Model, seed: int, replication: int,
                         keep_offenders: bool = False, independent_arms: bool = False,
                         engine: str = DEFAULT_ENGINE) -> ReplicationResult:
    """Simulate one replication: pre-period, selection, then both arms from day 0.

    ``keep_offenders`` keeps each arm's per-offender records (``result.records[arm]``, an
    :class:`~iomsim.engine.records.ArmRecords`). With ``independent_arms`` (for measuring what
    common random numbers buy) the IOM arm gets its own population, pre-period and event
    streams, as if from another seed.
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}: expected one of {', '.join(ENGINES)}")
    model = scenario if isinstance(scenario, Model) else compile_model(scenario)
    simulate = engine_simulator(engine)
    if not independent_arms:
        return simulate(model, seed, replication, ARMS, keep_offenders)
    base = simulate(model, seed, replication, ("non_iom",), keep_offenders)
    other_seed = int(np.random.SeedSequence([int(seed), int(replication), 0x1A2B]
                                            ).generate_state(1)[0])
    other = simulate(model, other_seed, replication, ("iom",), keep_offenders)
    for part in ("costs", "metrics", "survival", "records"):
        getattr(base, part).update(getattr(other, part))
    for kind, count in other.events_by_kind.items():  # counts of both simulations, added
        base.events_by_kind[kind] = base.events_by_kind.get(kind, 0) + count
    base.offender_months += other.offender_months
    base.events += other.events
    return base


def engine_simulator(engine: str):
    """The ``simulate(model, seed, replication, arms, keep_records)`` function of an engine
    (imported on first use: numba takes a second to import)."""
    if engine == "compiled":
        from iomsim.engine.numba import simulate
    else:
        from iomsim.engine.simpy import simulate
    return simulate
