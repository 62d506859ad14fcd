"""One offender's life course as a simpy process.

The process holds no state of its own: everything lives in :class:`Offender`, so the state at
day 0 can be copied into the IOM and non-IOM arms and each copy continued by a new process.

Between events every rate is constant. Each random event (an offence, a breach, an exit, a need
resolving or relapsing) has a clock holding a unit exponential drawn from its own stream; the
clock fires when the hazard accumulated since its last firing reaches that draw (the "next
reaction" method). A change of rate therefore consumes no random numbers, and the arms stay on
the same draws for as long as their paths allow. Deterministic events (court dates, releases,
the end of a licence, IOM de-selection, the horizon) are scheduled times in the state.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import TYPE_CHECKING

import simpy

from iomsim.engine.distributions import lognormal_params, poisson_quantile
from iomsim.engine.model import (LIBERTY, TWO_YEARS, Model, baseline_hazard,
                                 desistance_rate)
from iomsim.engine.rng import OffenderStreams, Purpose
from iomsim.engine.simpy.propensity import ACTIVE, DESISTED, QUIET, change_phase, persistence_days
from iomsim.scenario.schema import NEEDS, ScheduledEvent

if TYPE_CHECKING:
    from iomsim.engine.simpy.context import ArmContext

INF = math.inf
EPS = 1e-9
N_NEEDS = len(NEEDS)
_STD_NORMAL = NormalDist()

# Clock identifiers; a need's clock is NEED0 + its index.
OFFENCE, LICENCE_BREACH, ORDER_BREACH, EXIT, PHASE, NEED0 = 0, 1, 2, 3, 4, 5
_CLOCK_PURPOSE = [Purpose.OFFENCE_CLOCK, Purpose.LICENCE_BREACH_CLOCK, Purpose.ORDER_BREACH_CLOCK,
                  Purpose.EXIT_CLOCK, Purpose.PHASE_CLOCK] + [Purpose.NEED_CLOCK + j
                                                             for j in range(N_NEEDS)]

N_CLOCKS = len(_CLOCK_PURPOSE)


class Case:
    """Offences awaiting one court appearance."""

    __slots__ = ("court", "court_day", "offences", "remanded_since", "remand_days", "index")

    def __init__(self, court: str, court_day: float, index: int):
        self.court = court
        self.court_day = court_day
        self.offences: list[tuple[int, float]] = []  # (offence number, offence day)
        self.remanded_since: float | None = None  # start of the current spell on remand
        self.remand_days = 0.0  # earlier spells on remand for this case (credited at sentence)
        self.index = index

    def copy(self) -> "Case":
        c = Case(self.court, self.court_day, self.index)
        c.offences = list(self.offences)
        c.remanded_since = self.remanded_since
        c.remand_days = self.remand_days
        return c


class Offender:
    """Everything about one offender that the simulation changes or records."""

    __slots__ = (
        "index", "ogrs", "frailty", "base_rate", "need_mask", "had_mask", "status", "custody_reason",
        "status_end", "licence_end", "order_end", "sentence_days", "liberty_start", "case",
        "offence_count", "case_count", "recall_count", "breach_count", "streams", "residual",
        "uptake_mask", "place", "queued_since", "scheduled", "on_iom", "iom_end", "iom_quiet_end",
        "iom_responder", "iom_multiplier", "iom_role", "persist_until", "last_detection",
        "exited", "exit_cause", "convictions", "proven", "offences_by_type",
        "detected", "custody_days", "recalls", "iom_days", "waits", "referrals",
        "initial_needs", "iom_place", "iom_wait", "clock_key", "clock_rate",
        "clock_mark", "fire_at", "held", "phase", "desist_rate", "custody_days_24m_before",
        "custody_days_24m",
    )

    @property
    def needs(self) -> list[bool]:
        """Whether each need area (in the order of ``NEEDS``) is a need now."""
        mask = self.need_mask
        return [bool(mask >> j & 1) for j in range(N_NEEDS)]

    def copy(self) -> "Offender":
        o = Offender.__new__(Offender)
        for name in Offender.__slots__:
            setattr(o, name, getattr(self, name))
        o.case = self.case.copy() if self.case is not None else None
        o.streams = self.streams.copy()
        o.residual = list(self.residual)
        o.clock_rate = list(self.clock_rate)
        o.clock_mark = list(self.clock_mark)
        o.fire_at = list(self.fire_at)
        o.held = 0
        o.place = [None] * len(self.place)
        o.iom_place = None
        o.queued_since = [None] * len(self.queued_since)
        o.scheduled = list(self.scheduled)
        o.convictions = list(self.convictions)
        o.proven = list(self.proven)
        o.offences_by_type = list(self.offences_by_type)
        o.waits = list(self.waits)
        return o


def new_offender(index: int, model: Model, streams: OffenderStreams, *, ogrs: float,
                 frailty: float, age: float, needs: list[bool], status: str,
                 status_days: float,
                 licence_days_after_release: float, start: float,
                 scheduled: list[ScheduledEvent]) -> Offender:
    o = Offender.__new__(Offender)
    o.index = index
    o.ogrs = ogrs
    o.frailty = frailty
    o.need_mask = o.had_mask = sum(1 << j for j in range(N_NEEDS) if needs[j])
    o.initial_needs = sum(needs)
    hazard = baseline_hazard(ogrs, model.frailty_variance)
    need_factor = model.need_factor[o.need_mask]
    p = model.p_proven_per_offence
    # Offences per day such that, just released with these needs, P(proven in 2y) = OGRS.
    o.base_rate = ((frailty * hazard / (model.release_normaliser * p) / need_factor)
                   * model.offending_rate_multiplier) if p > 0 else 0.0
    # The phase at the start: active with its long-run share (always, without phases).
    o.phase = ACTIVE if streams.at(Purpose.PHASE_CHOICE, 0) < model.phase_active_share else QUIET
    o.desist_rate = desistance_rate(model, age)
    o.status = status
    o.custody_reason = "sentence" if status == "custody" else None
    o.status_end = start + status_days if status in ("custody", "remand") else INF
    o.licence_end = -INF
    o.order_end = -INF
    o.sentence_days = 2 * licence_days_after_release
    if status == "custody":
        o.licence_end = o.status_end + licence_days_after_release
    elif status == "licence":
        o.licence_end = start + status_days
    elif status == "community_order":
        o.order_end = start + status_days
    # At the start, those at liberty are taken to be past the early-release peak.
    o.liberty_start = -INF
    o.case = None
    o.offence_count = o.case_count = o.recall_count = o.breach_count = 0
    o.streams = streams
    o.residual = [streams.next_exponential(p) for p in _CLOCK_PURPOSE]
    without, with_iom = 0, 0
    for svc in model.services:
        key = model.groups[svc.group][0] if svc.group else svc.index
        u = streams.at(Purpose.SERVICE_UPTAKE, key)
        without |= _takes_up(u, svc, model, False) << svc.index
        with_iom |= _takes_up(u, svc, model, True) << svc.index
    o.uptake_mask = (without, with_iom)
    o.place = [None] * len(model.services)
    o.queued_since = [None] * len(model.services)
    o.scheduled = sorted(scheduled, key=lambda e: e.day)
    o.on_iom = False
    o.iom_end = INF
    o.iom_quiet_end = INF
    o.iom_responder = False
    o.iom_multiplier = 1.0
    o.iom_role = -1
    o.persist_until = -INF
    o.last_detection = -INF
    o.exited = False
    o.exit_cause = None
    o.convictions = []  # (day, offences convicted)
    o.proven = []  # (offence day, disposal day)
    o.offences_by_type = [0.0] * len(model.offence_names)
    o.detected = 0
    o.custody_days = 0.0
    o.custody_days_24m_before = 0.0
    o.custody_days_24m = 0.0
    o.recalls = 0
    o.iom_days = 0.0
    o.waits = []  # (service index, days waited)
    o.referrals = 0
    o.iom_place = None
    o.iom_wait = None
    # Clocks start stopped (rate 0); the process sets their rates at its first step.
    o.clock_rate = [0.0] * N_CLOCKS
    o.clock_mark = [start] * N_CLOCKS
    o.fire_at = [INF] * N_CLOCKS
    o.clock_key = None
    o.held = 0  # mask of capacity-limited services with a place held or asked for
    if status == "remand":
        case = Case("magistrates", o.status_end, 0)
        case.offences.append((-1, start - EPS))  # committed before the start: never in a window
        case.remanded_since = start
        o.case = case
        o.case_count = 1
    return o


# --------------------------------------------------------------------------- the process

def offender_life(env: simpy.Environment, off: Offender, ctx: "ArmContext"):
    """Generator process: advance ``off`` from ``env.now`` to the arm's horizon or exit."""
    m = ctx.model
    n_services = len(m.services)
    capacity = ctx.capacity_services
    capacity_mask = ctx.capacity_mask
    horizon = ctx.horizon
    residual = off.residual
    fire_at = off.fire_at
    rates = off.clock_rate
    while True:
        t0 = env.now
        using = _services_in_use(off, m, t0) if n_services else 0
        if capacity:
            if using & capacity_mask != off.held:
                _update_places(env, off, ctx, using)
            if off.held:
                # A service queued for is not yet received: no cost, no effect on needs.
                for i in capacity:
                    if off.queued_since[i] is not None:
                        using &= ~(1 << i)
        _set_clock_rates(off, m, t0, using)
        t_clock = min(fire_at)
        t_next = _next_scheduled(off, m, horizon, t0)
        fired = fire_at.index(t_clock) if t_clock <= t_next else -1
        dt = min(t_clock, t_next) - t0
        if dt < 0:
            dt = 0.0
        if t0 + dt > 0.0:
            offence_rate = rates[OFFENCE]
            undetected = _undetected_rates(off, m, offence_rate) if offence_rate > 0 else None
            daily = _daily_costs(off, m, ctx, using, undetected)
        else:  # before day 0 nothing is costed or counted: skip the work
            undetected, daily = None, ()
        waiting = ([off.place[i] for i in capacity if off.queued_since[i] is not None]
                   if off.held else None)
        in_custody = off.status in ("custody", "remand")
        on_iom = off.on_iom
        try:
            if waiting:
                yield simpy.AnyOf(env, [env.timeout(dt), *waiting])
            else:
                yield env.timeout(dt)
        except simpy.Interrupt:
            pass  # put on IOM by iom_allocation: rates change from now
        t1 = env.now
        elapsed = t1 - t0
        if elapsed > 0:
            ctx.accrue(t0, t1, daily)
            if in_custody:
                _count_custody_windows(off, t0, t1, horizon)
            if t1 > 0.0:
                inside = min(t1, horizon) - max(t0, 0.0)
                if inside > 0:
                    if in_custody:
                        off.custody_days += inside
                    if on_iom:
                        off.iom_days += inside
                    if undetected is not None:
                        counts = off.offences_by_type
                        for k, rate in enumerate(undetected):
                            counts[k] += rate * inside
        if waiting is not None:
            for i in capacity:
                req = off.place[i]
                if off.queued_since[i] is not None and req is not None and req.triggered:
                    # A place granted at the horizon (handed on by someone leaving at the
                    # horizon) ends no wait: the wait was still open then.
                    if off.queued_since[i] < 0:
                        ctx.branches["service_wait_before_day_0"] += 1
                    elif t1 < horizon - EPS:
                        off.waits.append((i, t1 - off.queued_since[i]))
                        ctx.branches["service_wait"] += 1
                    else:
                        ctx.branches["service_wait_open_at_horizon"] += 1
                    off.queued_since[i] = None
        if t1 >= horizon - EPS:
            _release_all(off, ctx)
            return
        # Nothing scheduled falls due before t_next (a wake-up by a clock or a granted place).
        if t1 + EPS >= t_next and _handle_scheduled(env, off, m, ctx, t1):
            _release_all(off, ctx)
            return
        if fired >= 0 and elapsed >= dt - 1e-12 * max(1.0, dt):
            # The clock fired: a fresh residual, counted from now at the same rate.
            draw = off.streams.next_exponential(_CLOCK_PURPOSE[fired])
            residual[fired] = draw
            off.clock_mark[fired] = t1
            fire_at[fired] = t1 + draw / rates[fired]
            if _handle_clock(env, off, m, ctx, t1, fired):
                _release_all(off, ctx)
                return


def _count_custody_windows(off: Offender, t0: float, t1: float, horizon: float) -> None:
    """Days in custody in the 24 months before day 0 and in the 24 months from it."""
    before = min(t1, 0.0) - max(t0, -TWO_YEARS)
    if before > 0:
        off.custody_days_24m_before += before
    after = min(t1, horizon, TWO_YEARS) - max(t0, 0.0)
    if after > 0:
        off.custody_days_24m += after


def _set_rate(off: Offender, clock: int, rate: float, now: float) -> None:
    """Change one clock's rate from ``now``: its residual loses the hazard run up so far."""
    old = off.clock_rate[clock]
    if rate == old:
        return
    if old > 0.0:
        off.residual[clock] -= old * (now - off.clock_mark[clock])
    off.clock_mark[clock] = now
    off.clock_rate[clock] = rate
    off.fire_at[clock] = now + off.residual[clock] / rate if rate > 0.0 else INF


def _iom_effect_active(off: Offender, now: float) -> bool:
    return off.iom_responder and (off.on_iom or now < off.persist_until)


def offending_rate(off: Offender, m: Model, now: float) -> float:
    """All offences (detected or not) per day at liberty, now."""
    factor = m.need_factor[off.need_mask] * m.phase_multiplier[off.phase]
    # Compare with the absolute end the scheduler wakes at: now - start can round below w.
    if now < off.liberty_start + m.release_window:
        factor *= m.release_multiplier
    if _iom_effect_active(off, now):
        factor *= off.iom_multiplier
    return off.base_rate * factor


def _detection(off: Offender, m: Model) -> tuple[list[float], float]:
    """Detection probability of each offence type, and of an offence of unknown type."""
    if off.on_iom:
        return m.detection_iom, m.mean_detection_iom
    return m.offence_detection, m.mean_detection


def _set_clock_rates(off: Offender, m: Model, now: float, received: int) -> None:
    """Bring every clock's rate up to date with the state now.

    ``received`` is the mask of services in use and not queued for. Only clocks whose rate
    changed are touched, so an event costs the same however many clocks run.
    """
    status = off.status
    if status == "exited":
        return
    rate = 0.0
    if status in LIBERTY:
        # Only detected offences are events; undetected ones accrue by duration (their count
        # and cost follow from the same rate), which is what keeps the event count low.
        rate = offending_rate(off, m, now) * _detection(off, m)[1]
    if rate != off.clock_rate[OFFENCE]:
        _set_rate(off, OFFENCE, rate, now)
    # The other clocks depend on the discrete state alone: recompute them when it changes.
    key = (status, off.on_iom, off.need_mask, received & m.boosting_services, off.phase)
    if key != off.clock_key:
        new = _state_clock_rates(m, status, off.on_iom, off.need_mask, off.had_mask,
                                 received & m.boosting_services, off.phase, off.desist_rate)
        old = off.clock_rate
        for c in range(1, N_CLOCKS):
            if new[c] != old[c]:
                _set_rate(off, c, new[c], now)
        off.clock_key = key


def _state_clock_rates(m: Model, status: str, on_iom: bool, need_mask: int, had_mask: int,
                       received: int, phase: int, desist_rate: float) -> list[float]:
    """Rate per day of each clock but offending (its slot is 0), from the discrete state (and
    the offender's own desistance hazard)."""
    rates = [0.0] * N_CLOCKS
    rates[EXIT] = m.exit_rate_liberty if status in LIBERTY else m.exit_rate_custody
    if phase != DESISTED:
        rates[PHASE] = m.phase_leave_rate[phase] + desist_rate
    if status == "licence":
        rates[LICENCE_BREACH] = m.licence_breach_rate * (m.recall_multiplier if on_iom else 1.0)
    elif status == "community_order":
        rates[ORDER_BREACH] = m.order_breach_rate
    pathway = m.pathway_multiplier if on_iom else 1.0
    for j in range(N_NEEDS):
        if need_mask >> j & 1:
            r = m.resolution_rate[j] * pathway
            for i, mult in m.resolution_boosts[j]:
                if received >> i & 1:
                    r *= mult
        elif had_mask >> j & 1:
            r = m.relapse_rate[j]
        else:
            continue
        rates[NEED0 + j] = r
    return rates


def _undetected_rates(off: Offender, m: Model, detected_rate: float) -> list[float]:
    """Undetected offences of each type per day, given the detected-offence rate."""
    detection, mean = _detection(off, m)
    total = detected_rate / mean if mean > 0 else 0.0
    return [total * share * (1.0 - d) for share, d in zip(m.offence_shares, detection)]


def _services_in_use(off: Offender, m: Model, now: float) -> int:
    """Mask of the services the offender is using (or queueing for) now."""
    using = (off.uptake_mask[1 if off.on_iom else 0] & m.services_for_needs[off.need_mask]
             & m.services_for_status.get(off.status, 0))
    if using:
        since = off.liberty_start
        for window, services in m.service_windows:
            if using & services and not now < since + window:
                using &= ~services
    return using


def _takes_up(u: float, svc, m: Model, on_iom: bool) -> bool:
    """Whether an offender with uniform ``u`` for this service (or its group) uses it."""
    if svc.group is None:
        return u < (svc.iom_uptake if on_iom else svc.uptake)
    acc = 0.0
    for i in m.groups[svc.group]:
        other = m.services[i]
        acc += other.iom_uptake if on_iom else other.uptake
        if u < acc:
            return i == svc.index
    return False


def _update_places(env: simpy.Environment, off: Offender, ctx: "ArmContext", using) -> None:
    """Ask for a place when a capacity-limited service becomes due, give it up when not."""
    now = env.now
    for i in ctx.capacity_services:
        res = ctx.resources[i]
        want = using >> i & 1 and off.status != "exited"
        req = off.place[i]
        if want and req is None:
            req = res.request()
            off.place[i] = req
            off.held |= 1 << i
            if req.triggered:
                ctx.branches["service_place_granted"] += 1
            else:
                ctx.branches["service_queued"] += 1
                off.queued_since[i] = now if now >= 0 else -1.0
        elif not want and req is not None:
            if req.triggered:
                ctx.branches["service_place_released"] += 1
                res.release(req)
            else:
                ctx.branches["service_queue_left"] += 1
                req.cancel()
                if off.queued_since[i] is not None and off.queued_since[i] >= 0:
                    off.waits.append((i, now - off.queued_since[i]))
            off.place[i] = None
            off.queued_since[i] = None
            off.held &= ~(1 << i)


def _release_iom_place(off: Offender, ctx: "ArmContext") -> None:
    req = off.iom_place
    if req is not None:
        if req.triggered:
            ctx.iom_places.release(req)
        else:
            req.cancel()
        off.iom_place = None


def iom_allocation(env: simpy.Environment, off: Offender, ctx: "ArmContext", life):
    """Wait for an offender manager's caseload place, then start IOM (capacity-limited IOM)."""
    req = ctx.iom_places.request()
    off.iom_place = req
    asked = env.now
    if not req.triggered:
        ctx.branches["iom_place_queued"] += 1
    yield req
    if off.exited or off.iom_place is not req or env.now >= ctx.horizon - EPS:
        ctx.branches["iom_place_unused"] += 1
        _release_iom_place(off, ctx)
        return
    ctx.branches["iom_place_granted"] += 1
    off.iom_wait = env.now - asked
    start_iom(off, ctx.model, ctx, env.now)
    if life.is_alive:
        life.interrupt()


def _release_all(off: Offender, ctx: "ArmContext") -> None:
    _release_iom_place(off, ctx)
    for i in ctx.capacity_services:
        req = off.place[i]
        if req is None:
            continue
        if req.triggered:
            ctx.resources[i].release(req)
        else:
            req.cancel()
        off.place[i] = None
        off.queued_since[i] = None
    off.held = 0


def _daily_costs(off: Offender, m: Model, ctx: "ArmContext", received: int, undetected
                 ) -> list[tuple[int, float]]:
    """(item, cost per day) of everything that runs by the day now, in a fixed order."""
    status = off.status
    if status == "exited":
        return []
    key = (status, off.custody_reason, received & m.costed_services,
           off.iom_role if off.on_iom else None)
    fixed = m.cost_cache.get(key)
    if fixed is None:
        fixed = m.cost_cache[key] = _state_daily_costs(m, *key)
    if undetected is None:
        return fixed
    out = list(fixed)
    for k, rate in enumerate(undetected):
        cost = m.offence_victim_cost[k]
        if cost > 0 and rate > 0:
            out.append((m.item_victims[k], rate * cost))
    return out


def _state_daily_costs(m: Model, status: str, custody_reason: str | None, received: int,
                       iom_role: int | None) -> list[tuple[int, float]]:
    """The daily costs that depend on the discrete state alone (all but victims')."""
    out: list[tuple[int, float]] = []
    if status == "custody":
        out.append((m.item_prison[custody_reason or "sentence"], m.prison_per_day))
    elif status == "remand":
        out.append((m.item_prison["remand"], m.prison_per_day))
    elif status == "licence":
        out.append((m.item_licence, m.licence_per_day))
    elif status == "community_order":
        out.append((m.item_order, m.order_per_day))
    for svc in m.services:
        if received >> svc.index & 1 and svc.per_day > 0:
            out.append((svc.item, svc.per_day))
    if iom_role is not None:
        if iom_role >= 0:
            _, item, per_day = m.om_roles[iom_role]
            out.append((item, per_day))
        out.extend(m.iom_daily)
    return out


def _next_scheduled(off: Offender, m: Model, horizon: float, now: float) -> float:
    t = horizon
    status = off.status
    if status in ("custody", "remand"):
        if off.status_end < t:
            t = off.status_end
    elif status == "licence":
        if off.licence_end < t:
            t = off.licence_end
    elif status == "community_order":
        if off.order_end < t:
            t = off.order_end
    if off.case is not None and off.case.court_day < t:
        t = off.case.court_day
    if off.on_iom:
        t = min(t, off.iom_end, off.iom_quiet_end)
    if off.persist_until > now:
        t = min(t, off.persist_until)
    if off.scheduled and off.scheduled[0].day < t:
        t = max(off.scheduled[0].day, now)
    since = off.liberty_start
    for window in m.windows_after_release:
        if now < since + window < t:
            t = since + window
    return max(t, now)


def _end_remand(off: Offender, ctx: "ArmContext", now: float) -> None:
    """Close a spell on remand that ends before the court day (bail by a fixed release, or a
    recall to prison): only the days actually on remand count towards the sentence."""
    case = off.case
    if off.status == "remand" and case is not None and case.remanded_since is not None:
        ctx.branches["remand_ended_before_court"] += 1
        case.remand_days += now - case.remanded_since
        case.remanded_since = None


# The branch counted when custody or remand ends, by the status at liberty that follows.
_RELEASED_TO = {"licence": "release_to_licence", "community_order": "release_to_order",
                "unsupervised": "release_unsupervised"}


def _liberty_status(off: Offender, now: float) -> str:
    if off.licence_end > now + EPS:
        return "licence"
    if off.order_end > now + EPS:
        return "community_order"
    return "unsupervised"


def _handle_scheduled(env, off: Offender, m: Model, ctx: "ArmContext", now: float) -> bool:
    """Carry out every scheduled event due by ``now``; True if the offender has left."""
    while off.scheduled and off.scheduled[0].day <= now + EPS:
        event = off.scheduled.pop(0)
        if event.event == "release":
            if off.status in ("custody", "remand"):
                ctx.branches["scheduled_release"] += 1
                _end_remand(off, ctx, now)
                off.status_end = now
            else:
                ctx.branches["scheduled_release_at_liberty"] += 1
        elif event.event == "recall":
            _recall(off, m, ctx, now, days=event.days)
        elif event.event == "exit":
            ctx.branches["scheduled_exit"] += 1
            _exit(off, ctx, now, "moved_away")
            return True
    if off.case is not None and off.case.court_day <= now + EPS:
        _court(off, m, ctx, now)
    if off.status in ("custody", "remand") and off.status_end <= now + EPS:
        off.status = _liberty_status(off, now)
        ctx.branches[_RELEASED_TO[off.status]] += 1
        off.custody_reason = None
        off.liberty_start = now
    elif off.status == "licence" and off.licence_end <= now + EPS:
        ctx.branches["licence_ended"] += 1
        off.status = _liberty_status(off, now)
    elif off.status == "community_order" and off.order_end <= now + EPS:
        ctx.branches["order_ended"] += 1
        off.status = _liberty_status(off, now)
    if off.on_iom and min(off.iom_end, off.iom_quiet_end) <= now + EPS:
        ctx.branches["iom_deselected" if off.iom_quiet_end <= off.iom_end
                     else "iom_max_duration"] += 1
        off.on_iom = False
        off.persist_until = now + persistence_days(m, off.streams)
        _release_iom_place(off, ctx)
    return False


def _handle_clock(env, off: Offender, m: Model, ctx: "ArmContext", now: float, clock: int) -> bool:
    if clock == OFFENCE:
        _offence(off, m, ctx, now)
    elif clock == LICENCE_BREACH:
        if off.status == "licence":
            ctx.branches["licence_breach_recall"] += 1
            _recall(off, m, ctx, now)
    elif clock == ORDER_BREACH:
        if off.status == "community_order":
            _order_breach(off, m, ctx, now)
    elif clock == PHASE:
        change_phase(off, m, ctx)
    elif clock == EXIT:
        u = off.streams.next(Purpose.EXIT_CAUSE)
        in_custody = off.status in ("custody", "remand")  # only death runs in custody
        ctx.branches["exit_died_in_custody" if in_custody else
                     "exit_died" if u < m.death_share else "exit_moved_away"] += 1
        _exit(off, ctx, now, "died" if in_custody or u < m.death_share else "moved_away")
        return True
    else:
        bit = 1 << (clock - NEED0)
        if off.need_mask & bit:
            ctx.branches["need_resolved"] += 1
            off.need_mask &= ~bit
        else:
            ctx.branches["need_relapsed"] += 1
            off.need_mask |= bit
            if off.on_iom:
                ctx.branches["referral_on_relapse"] += 1
                _refer(off, m, ctx, now, 1)
    return False


def _exit(off: Offender, ctx: "ArmContext", now: float, cause: str) -> None:
    off.status = "exited"
    off.exited = True
    off.exit_cause = cause


def _refer(off: Offender, m: Model, ctx: "ArmContext", now: float, count: int) -> None:
    off.referrals += count
    if m.referral_cost > 0:
        ctx.add(now, m.item_referral, m.referral_cost * count)


def start_iom(off: Offender, m: Model, ctx: "ArmContext", now: float) -> None:
    """Put a selected offender on IOM at ``now`` (the IOM arm, day 0)."""
    ctx.branches["iom_started"] += 1
    off.on_iom = True
    off.iom_end = now + m.iom_max_duration_days if m.iom_max_duration_days else INF
    off.iom_quiet_end = now + m.iom_deselect_days if m.iom_deselect_days else INF
    s = off.streams
    off.iom_responder = s.at(Purpose.IOM_RESPONSE, 0) < m.iom_responder_share
    if off.iom_responder:
        ctx.branches["iom_responder"] += 1
    mult = m.iom_offending_multiplier
    if m.iom_offending_multiplier_sd > 0 and mult > 0:
        mu, sigma = lognormal_params(mult, m.iom_offending_multiplier_sd)
        mult = math.exp(mu + sigma * _STD_NORMAL.inv_cdf(s.at(Purpose.IOM_RESPONSE, 1)))
    off.iom_multiplier = mult
    u = s.at(Purpose.IOM_RESPONSE, 2)
    off.iom_role = next((i for i, (cum, _, _) in enumerate(m.om_roles) if u < cum),
                        len(m.om_roles) - 1) if m.om_roles else -1
    active = off.need_mask.bit_count()
    if active:
        ctx.branches["referral_at_start"] += 1
        _refer(off, m, ctx, now, active)


# --------------------------------------------------------------------------- criminal justice

def _offence(off: Offender, m: Model, ctx: "ArmContext", now: float) -> None:
    """A detected offence: its type, then arrest, charge or caution, remand, recall."""
    n = off.offence_count
    off.offence_count += 1
    ctx.branches["offence"] += 1
    s = off.streams
    detection, mean = _detection(off, m)
    # Type of a detected offence: shares weighted by each type's detection probability.
    u = s.at(Purpose.OFFENCE_TYPE, n) * mean
    kind, acc = 0, 0.0
    last = len(detection) - 1
    while kind < last:
        acc += m.offence_shares[kind] * detection[kind]
        if u < acc:
            break
        kind += 1
    recording = now >= 0
    if recording:
        off.offences_by_type[kind] += 1
        off.detected += 1
        ctx.add(now, m.item_victims[kind], m.offence_victim_cost[kind])
    off.last_detection = now
    if off.on_iom and m.iom_deselect_days:
        ctx.branches["iom_quiet_clock_reset"] += 1
        off.iom_quiet_end = now + m.iom_deselect_days
    ctx.add(now, m.item_arrest, m.arrest_cost)
    ctx.add(now, m.item_investigation, m.offence_investigation_cost[kind])
    u = s.at(Purpose.ARREST_OUTCOME, n)
    if u >= m.charge_probability:
        if u < m.charge_probability + m.caution_probability:
            ctx.branches["caution"] += 1
            off.proven.append((now, now))
        else:
            ctx.branches["arrest_no_action"] += 1
        return
    case = off.case
    if case is None:
        ctx.branches["charge_new_case"] += 1
        court = "crown" if s.at(Purpose.COURT_CHOICE, n) < m.offence_crown[kind] else "magistrates"
        delay = m.delay_tables[court](s.at(Purpose.COURT_DELAY, off.case_count))
        case = Case(court, now + delay, off.case_count)
        off.case_count += 1
        off.case = case
    else:
        ctx.branches["charge_existing_case"] += 1
    case.offences.append((n, now))
    if off.status == "licence":
        p_recall = m.recall_on_charge_probability
        if off.on_iom:
            p_recall = min(1.0, p_recall * m.recall_multiplier)
        if s.at(Purpose.RECALL_ON_CHARGE, n) < p_recall:
            ctx.branches["recall_on_charge"] += 1
            _recall(off, m, ctx, now)
            return
    if off.status in LIBERTY and s.at(Purpose.REMAND, n) < m.remand_probability:
        ctx.branches["remand"] += 1
        off.status = "remand"
        off.status_end = case.court_day
        case.remanded_since = now


def _court(off: Offender, m: Model, ctx: "ArmContext", now: float) -> None:
    case = off.case
    off.case = None
    court = m.courts[case.court]
    ctx.branches["court_crown" if case.court == "crown" else "court_magistrates"] += 1
    ctx.add(now, m.item_court[case.court], court.court_cost)
    ctx.add(now, m.item_prosecution, court.prosecution_cost)
    ctx.add(now, m.item_legal_aid, court.legal_aid_cost)
    s = off.streams
    convicted = [day for (n, day) in case.offences
                 if s.at(Purpose.CONVICTION, n if n >= 0 else 10**9 + case.index)
                 < m.conviction_probability]
    remand_days = case.remand_days + (
        (now - case.remanded_since) if case.remanded_since is not None else 0.0)
    if off.status == "remand":
        ctx.branches["court_ends_remand"] += 1
        off.status = _liberty_status(off, now)
        off.liberty_start = now
        off.status_end = INF
    if not convicted:
        ctx.branches["court_acquitted"] += 1
        return
    ctx.branches["court_convicted"] += 1
    extra = poisson_quantile(m.extra_offences_per_conviction, s.at(Purpose.EXTRA_OFFENCES, case.index))
    if extra:
        ctx.branches["extra_offences"] += 1
    first_day = min(day for (_, day) in case.offences)
    for day in convicted:
        off.proven.append((day, now))
    for _ in range(extra):
        off.proven.append((first_day, now))
    off.convictions.append((now, len(convicted) + extra))
    ctx.add(now, m.item_psr, m.pre_sentence_report_cost)
    u = s.at(Purpose.SENTENCE, case.index)
    if u < court.custody_probability:
        ctx.branches["sentence_custody"] += 1
        length = m.custody_tables[case.court](s.at(Purpose.SENTENCE_LENGTH, case.index))
        _imprison(off, m, ctx, now, length, credit=remand_days)
    elif u < court.custody_probability + court.community_order_probability:
        ctx.branches["sentence_order"] += 1
        days = m.order_table(s.at(Purpose.ORDER_LENGTH, case.index))
        off.order_end = max(off.order_end, now + days)
        if off.status in LIBERTY:
            off.status = _liberty_status(off, now)
    else:
        ctx.branches["sentence_none"] += 1


def _imprison(off: Offender, m: Model, ctx: "ArmContext", now: float, length: float,
              credit: float = 0.0) -> None:
    served = m.release_fraction * length - credit
    licence = max(length * (1 - m.release_fraction), m.minimum_supervision_days)
    off.sentence_days = length
    if served <= 0:
        ctx.branches["served_by_remand"] += 1
        off.licence_end = max(off.licence_end, now + licence)
        if off.status in LIBERTY:
            off.status = _liberty_status(off, now)
        return
    if off.status == "custody":
        ctx.branches["custody_extended"] += 1
        off.status_end = max(off.status_end, now + served)
    else:
        off.status = "custody"
        off.status_end = now + served
    off.custody_reason = "sentence"
    off.licence_end = max(off.licence_end, off.status_end + licence)
    off.order_end = min(off.order_end, now)


def _recall(off: Offender, m: Model, ctx: "ArmContext", now: float, days: float | None = None) -> None:
    k = off.recall_count
    off.recall_count += 1
    if now >= 0:
        off.recalls += 1
    ctx.add(now, m.item_recall_police, m.recall_police_cost)
    ctx.add(now, m.item_recall_probation, m.recall_probation_cost)
    s = off.streams
    if days is None:
        if s.at(Purpose.RECALL_TYPE, k) < m.fixed_term_recall_share:
            short = off.sentence_days < m.short_sentence_days
            ctx.branches["fixed_term_recall_short" if short else "fixed_term_recall_long"] += 1
            days = m.fixed_term_days_short_sentence if short else m.fixed_term_days_long_sentence
        else:
            ctx.branches["standard_recall"] += 1
            days = m.standard_recall_table(s.at(Purpose.RECALL_LENGTH, k))
            days = max(min(days, off.licence_end - now), 1.0)
    else:
        ctx.branches["scheduled_recall"] += 1
    if off.status == "custody":
        ctx.branches["recall_while_in_custody"] += 1
        off.status_end = max(off.status_end, now + days)
        return
    _end_remand(off, ctx, now)
    off.status = "custody"
    off.custody_reason = "recall"
    off.status_end = now + days
    if off.licence_end < off.status_end:
        off.licence_end = off.status_end


def _order_breach(off: Offender, m: Model, ctx: "ArmContext", now: float) -> None:
    b = off.breach_count
    off.breach_count += 1
    ctx.add(now, m.item_court["magistrates"], m.courts["magistrates"].court_cost)
    if off.streams.at(Purpose.BREACH_OUTCOME, b) < m.breach_custody_probability:
        ctx.branches["order_breach_custody"] += 1
        length = m.custody_tables["magistrates"](off.streams.at(Purpose.BREACH_OUTCOME, 10**6 + b))
        off.order_end = now
        _imprison(off, m, ctx, now, length)
    else:
        ctx.branches["order_breach"] += 1
