"""How an offender's propensity to offend changes over time: the offending phase (active,
quiet, desisted) and how long IOM's effect outlasts IOM. Each draws from its own streams
(PHASE_CLOCK and PHASE_CHOICE; IOM_RESPONSE number 3), so that no other draw moves."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from iomsim.engine.model import Model
from iomsim.engine.rng import OffenderStreams, Purpose

if TYPE_CHECKING:
    from iomsim.engine.simpy.context import ArmContext

# Offending phases: the index of Model.phase_multiplier.
ACTIVE, QUIET, DESISTED = 0, 1, 2
LN2 = math.log(2.0)


def change_phase(off, m: Model, ctx: "ArmContext") -> None:
    """The phase clock of ``off`` (an :class:`~iomsim.engine.simpy.offender.Offender`) fired: desist (with the desistance hazard's share of its rate), or move
    between the active and the quiet phase. The choice is uniform number k of PHASE_CHOICE
    for the clock's k-th firing (number 0 chose the phase at the start)."""
    s = off.streams
    u = s.at(Purpose.PHASE_CHOICE, s.counters[Purpose.PHASE_CLOCK] - 1)
    leave = m.phase_leave_rate[off.phase]
    if u * (leave + off.desist_rate) < off.desist_rate:
        ctx.branches["desisted"] += 1
        off.phase = DESISTED
    elif off.phase == ACTIVE:
        ctx.branches["phase_to_quiet"] += 1
        off.phase = QUIET
    else:
        ctx.branches["phase_to_active"] += 1
        off.phase = ACTIVE


def persistence_days(m: Model, streams: OffenderStreams) -> float:
    """How long a responder keeps IOM's effect after de-selection: exponential with the
    half-life given (uniform number 3 of IOM_RESPONSE; 0 to 2 are drawn at the start)."""
    if m.iom_persist_half_life_days <= 0.0:
        return 0.0
    return -math.log(streams.at(Purpose.IOM_RESPONSE, 3)) * m.iom_persist_half_life_days / LN2
