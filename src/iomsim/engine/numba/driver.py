"""The numba engine's Python side: the model packed into arrays, the replication driven.

The kernels (:mod:`iomsim.engine.numba.kernels`) run the event loop; this module builds their
inputs from the compiled :class:`~iomsim.engine.model.Model` (never from the raw scenario:
every scalar slot of ``P`` and ``Q`` is named after the model field it holds, in ``P_FIELDS``
and ``Q_FIELDS``), runs the pre-period and the arms, and turns the kernels' output into the
records that :mod:`iomsim.engine.measures` measures, as for the simpy engine, and their counts
of the rule branches taken (one array for the phases together) into ``events_by_kind``.

Memory and the cache. Offenders meet only in the queues of capacity-limited places, so each
phase runs in parts (see ``simulate``): those who may wait for such a place together, in index
order, everyone else in blocks of ``BLOCK`` whose state stays in the cache. In the pre-period,
after each part only the rows of those eligible for selection are kept, and after selection only
the selected's, with a case pool of their own. An arm puts the selected's rows in the order of
its parts (a copy of the state at day 0 for the first arm, that state itself for the last) and
back before its records are read. Results are those of one run of everyone, but for the order
in which an arm's costs are added up (tests/test_run_in_parts.py).

It runs every feature of the schema. ``unsupported`` names what remains refused: the limits of
the kernels' packing (more than ``MAX_SERVICES`` services, more than ``MAX_OFFENDERS``
offenders), checked before a run so that the error can name the scenario's key.
"""

from __future__ import annotations

import math
from dataclasses import fields
from statistics import NormalDist

import numpy as np

from iomsim.engine.branches import BRANCHES
from iomsim.engine.cohort import NoScheduledEvents, population_for, status_codes
from iomsim.engine.distributions import lognormal_params
from iomsim.engine.measures import MONTH, arm_metrics, describe_population, \
    eligible_for_selection, registration_ogrs, select_cohort, survival_curve
from iomsim.engine.model import Model
from iomsim.engine.numba.kernels import (  # the kernels and their layout constants
    A_CUSTODY_DAYS, A_IOM_DAYS, A_IOM_END, A_IOM_MULT, A_IOM_QUIET_END, A_OBT0,
    A_PERSIST_UNTIL, B_IOM_RESPONDER, B_IOM_STARTED, B_REFERRAL_AT_START,
    B_SERVICE_PLACE_GRANTED, B_SERVICE_QUEUED, CLOCK_PURPOSE,
    CModel, DAYS_PER_YEAR, FLOAT_TABLES, F_CUSTODY_24M, F_CUSTODY_BEFORE, F_OGRS, F_QS0, INF,
    P_ACTIVE_SHARE, P_DESIST_30, P_DESIST_SLOPE, P_LEAVE_ACTIVE, P_LEAVE_QUIET, P_PHASE_ACTIVE,
    P_PHASE_QUIET, P_RATE_MULT,
    INT_TABLES, I_DETECTED, I_DONE, I_EXITED, I_NEED, I_ON_IOM, I_QN0, I_RECALLS, I_REFERRALS,
    I_NB, I_PHASE, I_SE_END, I_SE_NEXT, I_RESPONDER, I_ROLE, I_STATUS, MAX_SERVICES, MI_HEAD, N_BRANCHES, N_NEEDS, N_P, N_Q, N_S,
    P_ARREST_COST, P_BREACH_CUSTODY_P, P_CAUTION_P, P_CHARGE_P, P_CONV_P, P_DEATH_SHARE,
    P_DESELECT_DAYS, P_EXIT_CUST, P_EXIT_LIB, P_EXTRA_MEAN, P_FIXED_LONG, P_FIXED_SHARE,
    P_FIXED_SHORT, P_HORIZON_UNUSED, P_LBR, P_LICENCE_PER_DAY, P_MEAN_DET, P_MEAN_DET_IOM,
    P_MAX_DURATION, P_MIN_SUP, P_OBR, P_ON_CHARGE_P, P_ORDER_PER_DAY, P_PATHWAY, P_PERSIST_HALF_LIFE,
    P_PRISON_PER_DAY, P_PSR_COST, P_RECALL_MULT, P_RECALL_POLICE, P_RECALL_PROB,
    P_REFERRAL_COST, P_RELEASE_FRACTION, P_RELEASE_MULT, P_RELEASE_WINDOW, P_REMAND_P,
    P_SHORT_SENTENCE, Q_BOOSTING, Q_CAP_MASK, Q_COSTED, Q_ITEM_ARREST, Q_ITEM_INVEST,
    Q_ITEM_LEGAL_AID, Q_ITEM_LICENCE, Q_ITEM_ORDER, Q_ITEM_PROSECUTION, Q_ITEM_PSR,
    Q_ITEM_RECALL_POLICE, Q_ITEM_RECALL_PROB, Q_ITEM_REFERRAL, Q_KNOTS, Q_NS, REC_CONVICTION,
    REC_PROVEN, REC_WAIT, SE_EXIT, SE_RECALL, SE_RELEASE, STATUS_CODE, S_GRANTED, S_HELD,
    S_UPTAKE0, S_UPTAKE1,
    case_pool, case_pool_compact, case_pool_copy, compact_needs, compact_rows, init_offenders, iom_uniforms,
    offender_keys, permute_rows, rec_arrays, run_phase, uptake_without_iom)
from iomsim.engine.records import (CONVICTION, EXITED_CODE, IOM_PLACE, PROVEN, WAIT,
                                   ArmRecords, PopulationRecords, ReplicationResult, by_offender)
from iomsim.engine.rng import root_key

_STD_NORMAL = NormalDist()

# Which Model field each scalar slot of the kernels' parameters holds.
P_FIELDS = {
    P_RELEASE_MULT: "release_multiplier", P_RELEASE_WINDOW: "release_window",
    P_MEAN_DET: "mean_detection", P_MEAN_DET_IOM: "mean_detection_iom",
    P_LBR: "licence_breach_rate", P_OBR: "order_breach_rate",
    P_RECALL_MULT: "recall_multiplier", P_PATHWAY: "pathway_multiplier",
    P_EXIT_LIB: "exit_rate_liberty", P_EXIT_CUST: "exit_rate_custody",
    P_DEATH_SHARE: "death_share", P_DESELECT_DAYS: "iom_deselect_days",
    P_PERSIST_HALF_LIFE: "iom_persist_half_life_days", P_ARREST_COST: "arrest_cost",
    P_CHARGE_P: "charge_probability", P_CAUTION_P: "caution_probability",
    P_ON_CHARGE_P: "recall_on_charge_probability", P_REMAND_P: "remand_probability",
    P_CONV_P: "conviction_probability", P_EXTRA_MEAN: "extra_offences_per_conviction",
    P_PSR_COST: "pre_sentence_report_cost", P_RELEASE_FRACTION: "release_fraction",
    P_MIN_SUP: "minimum_supervision_days", P_RECALL_POLICE: "recall_police_cost",
    P_RECALL_PROB: "recall_probation_cost", P_FIXED_SHARE: "fixed_term_recall_share",
    P_FIXED_SHORT: "fixed_term_days_short_sentence",
    P_FIXED_LONG: "fixed_term_days_long_sentence", P_SHORT_SENTENCE: "short_sentence_days",
    P_BREACH_CUSTODY_P: "breach_custody_probability", P_REFERRAL_COST: "referral_cost",
    P_PRISON_PER_DAY: "prison_per_day", P_LICENCE_PER_DAY: "licence_per_day",
    P_ORDER_PER_DAY: "order_per_day", P_MAX_DURATION: "iom_max_duration_days",
    P_RATE_MULT: "offending_rate_multiplier", P_PHASE_ACTIVE: "phase_multiplier_active",
    P_PHASE_QUIET: "phase_multiplier_quiet", P_LEAVE_ACTIVE: "phase_leave_active",
    P_LEAVE_QUIET: "phase_leave_quiet", P_ACTIVE_SHARE: "phase_active_share",
    P_DESIST_30: "desistance_rate_at_30", P_DESIST_SLOPE: "desistance_age_slope",
}
Q_FIELDS = {
    Q_ITEM_ARREST: "item_arrest", Q_ITEM_INVEST: "item_investigation",
    Q_ITEM_RECALL_POLICE: "item_recall_police", Q_ITEM_RECALL_PROB: "item_recall_probation",
    Q_ITEM_PSR: "item_psr", Q_ITEM_PROSECUTION: "item_prosecution",
    Q_ITEM_LEGAL_AID: "item_legal_aid", Q_ITEM_LICENCE: "item_licence",
    Q_ITEM_ORDER: "item_order", Q_ITEM_REFERRAL: "item_referral",
    Q_COSTED: "costed_services", Q_BOOSTING: "boosting_services",
}


def layout_problems() -> list[str]:
    """Slots of P and Q not filled from the model, or filled from a field the model lacks."""
    model_fields = {f.name for f in fields(Model)}
    problems = [f"{name}: no such Model field" for name in [*P_FIELDS.values(), *Q_FIELDS.values()]
                if name not in model_fields]
    unused = {P_HORIZON_UNUSED}
    problems += [f"P slot {i} is filled from no Model field" for i in range(N_P)
                 if i not in P_FIELDS and i not in unused]
    computed = {Q_CAP_MASK, Q_KNOTS, Q_NS}  # made from the services and tables in _compile
    problems += [f"Q slot {i} is filled from no Model field" for i in range(N_Q)
                 if i not in Q_FIELDS and i not in computed]
    return problems


_LAYOUT = layout_problems()
if _LAYOUT:  # pragma: no cover - only after a kernel slot or model field was renamed
    raise ImportError("iomsim.engine.numba: kernel parameters out of step with the model: "
                      + "; ".join(_LAYOUT))


def _records(raw):
    """(convictions, proven offences, waits) as arrays from a phase's records."""
    code, a, b = raw
    kind = code & 3
    off = code >> 2
    k = kind == REC_CONVICTION
    conv = (off[k], a[k], b[k].astype(np.int64))
    k = kind == REC_PROVEN
    proven = (off[k], a[k], b[k])
    k = kind == REC_WAIT
    waits = (off[k], b[k].astype(np.int64), a[k])
    # simpy lists an offender's wait for an IOM place after their waits for services.
    order = np.lexsort((waits[1] == IOM_PLACE, waits[0]))
    waits = tuple(x[order] for x in waits)
    return conv, proven, waits


# ------------------------------------------------------------------ Python glue

def _compile(model: Model) -> CModel:
    """The model's tables as arrays for the kernels (made once per model)."""
    cached = getattr(model, "_compiled_tables", None)
    if cached is not None:
        return cached
    ns = len(model.services)
    P = np.zeros(N_P)
    for slot, name in P_FIELDS.items():
        P[slot] = getattr(model, name)
    Q = np.zeros(N_Q, dtype=np.int64)
    for slot, name in Q_FIELDS.items():
        Q[slot] = getattr(model, name)
    cap_svc = np.array([svc.index for svc in model.services if svc.capacity_per_1000 is not None],
                       dtype=np.int64)
    Q[Q_CAP_MASK] = sum(1 << int(i) for i in cap_svc)
    Q[Q_KNOTS] = len(model.order_table.grid)
    Q[Q_NS] = max(ns, 1)
    svc_for_status = np.zeros(6, dtype=np.int64)
    for name, mask in model.services_for_status.items():
        svc_for_status[STATUS_CODE[name]] = mask
    # boost_has[j, q]: the q-th service that speeds need j's resolution (-1: no more)
    boost_has = np.full((N_NEEDS, max(ns, 1)), -1, dtype=np.int64)
    boost_mult = np.ones((N_NEEDS, max(ns, 1)))
    for jn, boosts in enumerate(model.resolution_boosts):
        for q, (i, mult) in enumerate(boosts):
            boost_has[jn, q] = i
            boost_mult[jn, q] = mult
    tables = [model.custody_tables["magistrates"], model.custody_tables["crown"],
              model.delay_tables["magistrates"], model.delay_tables["crown"],
              model.order_table, model.standard_recall_table]
    tq_u = np.asarray(tables[0].grid, dtype=float)
    for t in tables:
        if not np.array_equal(np.asarray(t.grid), tq_u):
            raise ValueError("compiled engine: quantile tables on different grids")
    tq_q = np.array([t.quantiles for t in tables], dtype=float)
    tq_const = np.array([t.constant is not None for t in tables], dtype=np.bool_)
    courts = (model.courts["magistrates"], model.courts["crown"])
    cm = CModel(
        P=P, Q=Q,
        need_factor=np.asarray(model.need_factor, dtype=float),
        svc_for_needs=np.asarray(model.services_for_needs, dtype=np.int64),
        svc_for_status=svc_for_status,
        win_days=np.array([w for w, _ in model.service_windows], dtype=float),
        win_mask=np.array([m for _, m in model.service_windows], dtype=np.int64),
        windows_after=np.asarray(model.windows_after_release, dtype=float),
        res_rate=np.asarray(model.resolution_rate, dtype=float),
        relapse_rate=np.asarray(model.relapse_rate, dtype=float),
        boost_has=boost_has, boost_mult=boost_mult,
        shares=np.asarray(model.offence_shares, dtype=float),
        det=np.asarray(model.offence_detection, dtype=float),
        det_iom=np.asarray(model.detection_iom, dtype=float),
        crown=np.asarray(model.offence_crown, dtype=float),
        victim_cost=np.asarray(model.offence_victim_cost, dtype=float),
        invest_cost=np.asarray(model.offence_investigation_cost, dtype=float),
        item_victims=np.asarray(model.item_victims, dtype=np.int64),
        svc_item=np.array([svc.item for svc in model.services], dtype=np.int64),
        svc_per_day=np.array([svc.per_day for svc in model.services], dtype=float),
        cap_svc=cap_svc,
        om_cum=np.array([c for c, _, _ in model.om_roles], dtype=float),
        om_item=np.array([i for _, i, _ in model.om_roles], dtype=np.int64),
        om_per_day=np.array([d for _, _, d in model.om_roles], dtype=float),
        iomd_item=np.array([i for i, _ in model.iom_daily], dtype=np.int64),
        iomd_per_day=np.array([d for _, d in model.iom_daily], dtype=float),
        tq_u=tq_u, tq_q=tq_q, tq_const=tq_const,
        item_prison=np.array([model.item_prison["sentence"], model.item_prison["sentence"],
                              model.item_prison["recall"], model.item_prison["remand"]],
                             dtype=np.int64),
        item_court=np.array([model.item_court["magistrates"], model.item_court["crown"]],
                            dtype=np.int64),
        court_cost=np.array([c.court_cost for c in courts], dtype=float),
        prosecution_cost=np.array([c.prosecution_cost for c in courts], dtype=float),
        legal_aid_cost=np.array([c.legal_aid_cost for c in courts], dtype=float),
        custody_p=np.array([c.custody_probability for c in courts], dtype=float),
        order_p=np.array([c.community_order_probability for c in courts], dtype=float),
        clock_purpose=CLOCK_PURPOSE,
    )
    MF, MI = _pack(cm)
    model._compiled_tables = (cm, MF, MI)
    return model._compiled_tables


def _pack(cm: CModel) -> tuple[np.ndarray, np.ndarray]:
    """All the model's numbers in two arrays, so that a kernel call passes two references."""
    floats = [np.asarray(cm.P, dtype=float)]
    ints = [np.asarray(cm.Q, dtype=np.int64), np.zeros(MI_HEAD - N_Q, dtype=np.int64)]
    head = ints[1]
    f_at = N_P
    i_at = MI_HEAD
    for k, name in enumerate(FLOAT_TABLES + INT_TABLES):
        a = np.ravel(getattr(cm, name))
        if name in FLOAT_TABLES:
            head[2 * k] = f_at
            floats.append(a.astype(float))
            f_at += a.size
        else:
            head[2 * k] = i_at
            ints.append(a.astype(np.int64))
            i_at += a.size
        head[2 * k + 1] = a.size
    return np.concatenate(floats), np.concatenate(ints)


# The heap packs an offender's index and version into one float64 (exact below 2**53).
MAX_OFFENDERS = 2 ** 21 - 1


def unsupported(scenario) -> tuple[str, str] | None:
    """(YAML path, feature) of the first thing in ``scenario`` the compiled engine cannot run,
    or None. Checked before a run starts, so the error names the scenario's key. What remains
    are limits of its packing: services in one int64 mask, offenders in the heap's float64."""
    if len(scenario.services) > MAX_SERVICES:
        return "services", (f"more than {MAX_SERVICES} services (the scenario has "
                            f"{len(scenario.services)}; each service is one bit of a 64-bit mask)")
    size = scenario.cohort.size if scenario.cohort.profile is not None else None
    if size is not None and size > MAX_OFFENDERS:
        return "cohort.size", f"a population of more than {MAX_OFFENDERS:,} offenders"
    return None


def check_supported(model: Model, n_offenders: int | None = None) -> None:
    """Raise ValueError naming the first limit of the compiled engine the run exceeds."""
    problem = unsupported(model.scenario)
    if problem is None and n_offenders is not None and n_offenders > MAX_OFFENDERS:
        problem = ("cohort", f"a population of more than {MAX_OFFENDERS:,} offenders")
    if problem is not None:
        raise ValueError(f"the compiled engine does not implement {problem[1]}; "
                         "use engine='simpy'")


def _resources(cm: CModel, model: Model, n_offenders: int, iom_places: int = -1) -> np.ndarray:
    """RS: heap size and sequence counter; offender managers' places (-1: not limited), users,
    queue head and tail; then each capacity-limited service's places, users, head and tail."""
    ncap = cm.cap_svc.shape[0]
    cap = [max(1, int(math.floor(model.services[i].capacity_per_1000 * n_offenders / 1000 + 0.5)))
           for i in cm.cap_svc]
    return np.array([0, 0, iom_places, 0, -1, -1] + cap + [0] * ncap + [-1] * ncap + [-1] * ncap,
                    dtype=np.int64)


def _iom_places(model: Model, n_offenders: int) -> int:
    """Offender managers' places in the IOM arm (as simpy's ArmContext), -1 if not limited."""
    places = model.iom_places_per_1000
    if places is None:
        return -1
    return max(1, int(math.floor(places * n_offenders / 1000 + 0.5)))


_SE_KIND = {"release": SE_RELEASE, "recall": SE_RECALL, "exit": SE_EXIT}


def _scheduled(scheduled: list, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Every offender's fixed events as rows (day, kind, days or NaN) in the order they fall
    due (a stable sort by day, as the simpy engine's), and where each offender's rows start."""
    offsets = np.zeros(n + 1, dtype=np.int64)
    if isinstance(scheduled, NoScheduledEvents) or not any(scheduled):
        return np.zeros((0, 3)), offsets
    rows = []
    for o, events in enumerate(scheduled):
        for e in sorted(events, key=lambda e: e.day):
            rows.append((e.day, _SE_KIND[e.event], math.nan if e.days is None else e.days))
        offsets[o + 1] = len(rows)
    return np.array(rows, dtype=float), offsets


def _heap(n: int, spare: int | None = None) -> np.ndarray:
    """The event heap for ``n`` live entries and ``spare`` more (an entry a column: see
    kernels.heap_push). Each offender has one live wake-up at most (plus, with
    capacity-limited IOM, one place granted: the caller counts those in n); the spare room
    holds entries made stale by places granted, and is compacted when full (heap_compact)."""
    return np.empty((3, n + (max(1024, n // 16) if spare is None else spare)))


def _trim_heap() -> None:
    """Give memory freed by the population's Python objects back to the system (glibc only):
    otherwise it stays in the process, under the state made next."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _popcount(masks: np.ndarray) -> np.ndarray:
    m = masks.astype(np.int64)
    out = np.zeros(len(m), dtype=np.int64)
    for j in range(N_NEEDS):
        out += (m >> j) & 1
    return out


def _iom_response(model: Model, A, I, keys) -> None:
    """Whether each offender responds to IOM, by how much, and their offender manager's role:
    start_iom's draws, the same whenever IOM starts (read only while on IOM or after it)."""
    n = A.shape[0]
    u = iom_uniforms(keys, np.arange(n, dtype=np.int64))
    I[:, I_RESPONDER] = u[:, 0] < model.iom_responder_share
    mult = model.iom_offending_multiplier
    if model.iom_offending_multiplier_sd > 0 and mult > 0:
        mu, sigma = lognormal_params(mult, model.iom_offending_multiplier_sd)
        inv = _STD_NORMAL.inv_cdf  # as the simpy engine draws it: the same numbers
        A[:, A_IOM_MULT] = [math.exp(mu + sigma * inv(x)) for x in u[:, 1].tolist()]
    else:
        A[:, A_IOM_MULT] = mult
    if model.om_roles:
        cum = np.asarray([c for c, _, _ in model.om_roles])
        # first role with u < cum, else the last
        role = np.argmax(u[:, 2][:, None] < cum[None, :], axis=1)
        none = ~(u[:, 2][:, None] < cum[None, :]).any(axis=1)
        role[none] = len(model.om_roles) - 1
        I[:, I_ROLE] = role
    else:
        I[:, I_ROLE] = -1


def _start_iom(model: Model, A, I, costs, horizon, BC) -> None:
    """start_iom at day 0 for every offender of the IOM arm (IOM not capacity-limited), its
    branches counted in BC as the kernels count them when a place is granted."""
    I[:, I_ON_IOM] = 1
    A[:, A_IOM_END] = 0.0 + model.iom_max_duration_days if model.iom_max_duration_days else INF
    A[:, A_IOM_QUIET_END] = 0.0 + model.iom_deselect_days if model.iom_deselect_days else INF
    active = _popcount(I[:, I_NEED])
    I[:, I_REFERRALS] += active
    BC[B_IOM_STARTED] += len(I)
    BC[B_IOM_RESPONDER] += int(np.count_nonzero(I[:, I_RESPONDER]))
    BC[B_REFERRAL_AT_START] += int(np.count_nonzero(active))
    if model.referral_cost > 0 and horizon > 0:
        for a in active:
            if a:
                costs[0, model.item_referral] += model.referral_cost * int(a)


def simulate(model: Model, seed: int, replication: int, arms: tuple[str, ...],
             keep_records: bool = False) -> ReplicationResult:
    """One replication of ``arms`` with the numba engine (the same as the simpy engine's)."""
    check_supported(model)  # before the tables are packed: they would not fit
    cm, MF, MI = _compile(model)
    pop = population_for(model, seed, replication)
    check_supported(model, len(pop))
    n = len(pop)
    SE, se_offsets = _scheduled(pop.scheduled, n)
    # Only the arrays are needed: let the population's lists go before the state is made.
    status = status_codes(pop.status)
    ogrs = np.asarray(pop.ogrs, dtype=float)
    frailty = np.asarray(pop.frailty, dtype=float)
    needs = np.asarray(pop.needs, dtype=np.bool_)
    status_days = np.asarray(pop.status_days, dtype=float)
    licence_after = np.asarray(pop.licence_days_after_release, dtype=float)
    age = np.asarray(pop.age, dtype=float)
    previous = np.asarray(pop.previous_convictions, dtype=float)
    del pop
    _trim_heap()
    keys = offender_keys(np.uint64(root_key(seed, replication)), n)
    start = -model.pre_days
    ncap = cm.cap_svc.shape[0]
    nf = F_QS0 + ncap
    ni = I_QN0 + 2 * ncap
    ns = len(model.services)
    svc_key = np.array([model.groups[svc.group][0] if svc.group else svc.index
                        for svc in model.services], dtype=np.int64)
    members, gstart, gend = [], [], []
    for svc in model.services:
        if svc.group:
            gstart.append(len(members))
            members.extend(model.groups[svc.group])
            gend.append(len(members))
        else:
            gstart.append(-1)
            gend.append(-1)
    gstart = np.array(gstart, dtype=np.int64)
    gend = np.array(gend, dtype=np.int64)
    members = np.array(members, dtype=np.int64)
    uptake = np.array([svc.uptake for svc in model.services], dtype=float)
    iom_uptake = np.array([svc.iom_uptake for svc in model.services], dtype=float)
    p = model.p_proven_per_offence
    normaliser_p = model.release_normaliser * p if p > 0 else 0.0
    n_types = len(model.offence_names)
    events = 0
    branches = np.zeros(N_BRANCHES, dtype=np.int64)  # every phase adds to it
    pool = case_pool()
    # Everyone at day 0, for selection and the population's description.
    day0_ogrs = np.empty(n)
    day0_need = np.empty(n, dtype=np.int64)
    day0_status = np.empty(n, dtype=np.int8)
    day0_phase = np.empty(n, dtype=np.int8)
    conv_parts, proven_parts, kept = [], [], []
    cap_mask = int(MI[Q_CAP_MASK])
    reachable = _services_reachable(cm)

    def state_at_start(idx):
        """The state at the start of the offenders ``idx`` (increasing), a row each."""
        k = len(idx)
        F = np.zeros((k, nf))
        NC = np.zeros(2 * int(needs[idx].sum()))
        I = np.zeros((k, ni), dtype=np.int32)
        I[:, I_QN0:] = -1
        S = np.zeros((k, N_S), dtype=np.int64)
        kp = keys[idx]
        interruptible(init_offenders, MF, MI, F, NC, I, S, kp, ogrs[idx], frailty[idx],
                      age[idx], needs[idx], status[idx], status_days[idx], licence_after[idx],
                      start, model.frailty_variance, normaliser_p, svc_key, gstart, gend,
                      members, uptake, iom_uptake, ns, np.zeros(k + 1, dtype=np.int64))
        I[:, I_SE_NEXT] = se_offsets[idx]
        I[:, I_SE_END] = se_offsets[idx + 1]
        return F, I, S, NC, kp

    def pre_period(idx, F, I, S, NC, kp):
        """The pre-period of the offenders ``idx`` (their state's rows in order), their state
        at day 0 recorded, and the rows of those who can still be selected kept."""
        nonlocal events
        k = len(idx)
        if model.pre_days > 0 and k:
            costs = np.zeros((1, len(model.items)))
            recs, ev = interruptible(run_phase, MF, MI, F, NC, I, S,
                                     np.zeros((0, A_OBT0 + n_types)), SE, kp,
                                     _resources(cm, model, n), _heap(k), costs, 0.0, start,
                                     pool, branches)
            events += ev
            raw = rec_arrays(recs)
            del recs
            conv, proven, _ = _records(raw)
            del raw
        else:
            conv = (np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int64))
            proven = (np.zeros(0, np.int64), np.zeros(0), np.zeros(0))
        day0_ogrs[idx] = F[:, F_OGRS]
        day0_need[idx] = I[:, I_NEED]
        day0_status[idx] = np.where(I[:, I_EXITED] != 0, EXITED_CODE, I[:, I_STATUS])
        day0_phase[idx] = I[:, I_PHASE]
        before = conv[1] < 0
        part = PopulationRecords(
            ogrs=day0_ogrs[idx], age=age[idx], need_mask=day0_need[idx],
            status=day0_status[idx],
            convictions=_table(CONVICTION, tuple(x[before] for x in conv)),
            phase=day0_phase[idx], previous_convictions=previous[idx])
        rows = np.flatnonzero(eligible_for_selection(part, model.selection))
        kept.append((idx[rows], *_keep_rows(F, I, S, NC, rows)))
        conv_parts.append((idx[conv[0]], conv[1], conv[2]))
        proven_parts.append((idx[proven[0]], proven[1], proven[2]))

    # In the pre-period offenders meet only in the queues of capacity-limited services (IOM
    # places are the arms' only), and only those who may use one of them ever join a queue:
    # who took it up (drawn once, at the start) and had at the start needs it serves (a need
    # never had never comes). Those run together, in index order, as they would among
    # everyone (a queue's order is theirs alone); the others block by block, each block's
    # state small enough to stay in the cache. Each offender's history is the same as in one
    # run of everyone. Only the rows of those who can still be selected at day 0 are kept.
    need_masks = needs @ (1 << np.arange(N_NEEDS, dtype=np.int64))
    if EVERYONE_TOGETHER:  # everyone in one run (tests compare the blocks with it)
        meets = np.ones(n, dtype=bool)
        cap_mask = 0  # (nothing to check below)
    elif model.pre_days > 0 and cap_mask:
        meets = (reachable[need_masks] & cap_mask & uptake_without_iom(
            keys, svc_key, gstart, gend, members, uptake, ns)) != 0
    else:
        meets = np.zeros(n, dtype=bool)
    pieces = _parts(meets)  # those who meet first, while little is kept
    del meets
    pieces.reverse()
    while pieces:
        idx, together = pieces.pop()
        F, I, S, NC, kp = state_at_start(idx)
        if cap_mask and model.pre_days > 0 and not np.all(
                ((S[:, S_UPTAKE0] & reachable[need_masks[idx]] & cap_mask) != 0) == together):
            raise RuntimeError("compiled engine: the offenders who may wait for a place "
                               "differ from those found before the pre-period")
        pre_period(idx, F, I, S, NC, kp)
        del F, I, S, NC, kp
    ogrs = frailty = needs = status = status_days = licence_after = None  # (closures)
    _trim_heap()
    pre_conv = _joined(conv_parts, (np.int64, float, np.int64))
    pre_proven = _joined(proven_parts, (np.int64, float, float))
    conv_parts = proven_parts = None
    before = pre_conv[1] < 0
    everyone = PopulationRecords(
        ogrs=day0_ogrs, age=age, need_mask=day0_need, status=day0_status,
        convictions=_table(CONVICTION, tuple(x[before] for x in pre_conv)),
        phase=day0_phase, previous_convictions=previous)
    sel = select_cohort(everyone, model.selection)
    reach_s = reachable[need_masks[sel]] & cap_mask  # capacity-limited places each may ask for
    need_masks = None
    population = describe_population(everyone, sel)
    registered = registration_ogrs(everyone, model)[sel]
    del everyone
    age = previous = se_offsets = None  # (read by the pre-period's closures)
    day0_ogrs = day0_need = day0_status = day0_phase = None  # (read by pre_period)

    m = len(sel)
    pos = np.full(n, -1, dtype=np.int64)
    pos[sel] = np.arange(m)
    # Records from the pre-period of the selected, in the arms' numbering.
    keep = pos[pre_conv[0]] >= 0
    base_conv = (pos[pre_conv[0][keep]], pre_conv[1][keep], pre_conv[2][keep])
    keep = pos[pre_proven[0]] >= 0
    base_proven = (pos[pre_proven[0][keep]], pre_proven[1][keep], pre_proven[2][keep])
    del pre_conv, pre_proven, keep
    # The selected rows of each part, moved to their places in the arms' state (each part
    # given back once copied; a row's needs' clocks need not be in row order in NC). Their
    # scheduled events stay where they are in SE, and their open cases' offences move to a
    # case pool of their own.
    Fs = np.empty((m, nf))
    Is = np.empty((m, ni), dtype=np.int32)
    Ss = np.empty((m, N_S), dtype=np.int64)
    nc_parts = []
    nc_at, placed = 0, 0
    kept.reverse()
    while kept:
        idx, F, I, S, NC = kept.pop()
        rows = np.flatnonzero(pos[idx] >= 0)
        F, I, S, NC = _keep_rows(F, I, S, NC, rows)
        to = pos[idx[rows]]
        I[:, I_NB] += nc_at // 2
        Fs[to] = F
        Is[to] = I
        Ss[to] = S
        nc_parts.append(NC)
        nc_at += len(NC)
        placed += len(rows)
        del F, I, S, NC
    if placed != m:
        raise RuntimeError("compiled engine: an offender selected was not eligible")
    del pos
    NCs = np.concatenate(nc_parts) if nc_parts else np.zeros(0)
    del nc_parts
    pool = case_pool_compact(pool, Is)
    keys_s = keys[sel]
    keys = None
    _trim_heap()
    Is[:, I_QN0:] = -1
    Ss[:, S_HELD] = 0
    Ss[:, S_GRANTED] = 0
    Is[:, I_DONE] = 0
    Fs[:, F_QS0:F_QS0 + ncap] = np.nan

    horizon = model.horizon_days
    n_years = max(1, int(math.ceil(horizon / DAYS_PER_YEAR)))
    costs_out, metrics, survival, kept = {}, {}, {}, {}
    for k, arm in enumerate(arms):
        places = _iom_places(model, m) if arm == "iom" else -1
        # In an arm, as in the pre-period, offenders meet only in the queues of
        # capacity-limited places: with offender managers' places (everyone asks for one)
        # they all run together; otherwise those who may use a capacity-limited service
        # (with or without IOM in the IOM arm) run together, in index order, and the rest in
        # blocks. The state is put in that order (the first arm's copy is made in it, the last
        # arm's state permuted where it is), so that each part is a slice of it, and the
        # columns the records need are read back in the offenders' order.
        if EVERYONE_TOGETHER or places >= 0:
            meets = np.ones(m, dtype=bool)
        else:
            may_use = Ss[:, S_UPTAKE0] | (Ss[:, S_UPTAKE1] if arm == "iom" else 0)
            meets = (may_use & reach_s) != 0
        parts = _parts(meets)
        order = np.concatenate([idx for idx, _ in parts]) if parts else np.zeros(0, np.int64)
        permuted = not np.array_equal(order, np.arange(m))
        if k < len(arms) - 1:
            Fa, Ia, Sa = (X[order] if permuted else X.copy() for X in (Fs, Is, Ss))
            NCa, pool_a = NCs.copy(), case_pool_copy(pool)
        else:  # the last arm runs on the state at day 0 itself (put in order where it is)
            Fa, Ia, Sa = Fs, Is, Ss
            if permuted:
                for X in (Fa, Ia, Sa):
                    permute_rows(X, order)
            NCa, pool_a = NCs, pool
            Fs = Is = Ss = NCs = pool = None
        keys_a = keys_s[order] if permuted else keys_s
        costs = np.zeros((n_years, len(model.items)))
        A = np.zeros((m, A_OBT0 + n_types))
        A[:, A_IOM_END] = INF
        A[:, A_IOM_QUIET_END] = INF
        A[:, A_IOM_MULT] = 1.0
        A[:, A_PERSIST_UNTIL] = -INF
        if arm == "iom":
            _iom_response(model, A, Ia, keys_a)
            if places < 0:
                _start_iom(model, A, Ia, costs, horizon, branches)
        conv_parts, proven_parts, wait_parts = [], [], []
        at = 0
        for idx, together in parts:
            a, b = at, at + len(idx)
            at = b
            asked = branches[B_SERVICE_PLACE_GRANTED] + branches[B_SERVICE_QUEUED]
            # With places, a wake-up and a place granted can both be pending for an offender.
            recs, ev = interruptible(run_phase, MF, MI, Fa[a:b], NCa, Ia[a:b], Sa[a:b],
                                     A[a:b], SE, keys_a[a:b], _resources(cm, model, m, places),
                                     _heap(b - a + max(places, 0)), costs, horizon, 0.0,
                                     pool_a, branches)
            events += ev
            if not together and asked != (branches[B_SERVICE_PLACE_GRANTED]
                                          + branches[B_SERVICE_QUEUED]):
                raise RuntimeError("compiled engine: an offender run apart from the others "
                                   "asked for a capacity-limited place")
            raw = rec_arrays(recs)
            del recs
            c, pv, w = _records(raw)
            del raw
            for out, rows in ((conv_parts, c), (proven_parts, pv), (wait_parts, w)):
                out.append((order[a + rows[0]], *rows[1:]))
            del c, pv, w
        del Sa
        # The state's columns the records need (in the offenders' order), and the state given
        # back before the records are turned into tables.
        back = slice(None)
        if permuted:
            back = np.empty(m, dtype=np.int64)
            back[order] = np.arange(m)
        columns = dict(
            ogrs=Fa[back, F_OGRS], need_mask=Ia[back, I_NEED].astype(np.int64),
            exited=Ia[back, I_EXITED] != 0, offences_by_type=A[back, A_OBT0:],
            detected=Ia[back, I_DETECTED].astype(np.int64), custody_days=A[back, A_CUSTODY_DAYS],
            custody_days_24m_before=Fa[back, F_CUSTODY_BEFORE],
            custody_days_24m=Fa[back, F_CUSTODY_24M],
            iom_days=A[back, A_IOM_DAYS], recalls=Ia[back, I_RECALLS].astype(np.int64),
            referrals=Ia[back, I_REFERRALS].astype(np.int64),
            phase=Ia[back, I_PHASE].astype(np.int8))
        if not permuted:  # (views of the state until copied; taken in order, copies already)
            columns = {name: np.array(x) for name, x in columns.items()}
        del Fa, Ia, NCa, pool_a, A
        if k < len(arms) - 1:  # (the first arm, with the day-0 state beside it, is the peak)
            _trim_heap()
        c = _joined(conv_parts, (np.int64, float, np.int64))
        pv = _joined(proven_parts, (np.int64, float, float))
        w = _joined(wait_parts, (np.int64, np.int64, float))
        del conv_parts, proven_parts, wait_parts
        all_conv = tuple(np.concatenate([a, b]) for a, b in zip(base_conv, c))
        all_proven = tuple(np.concatenate([a, b]) for a, b in zip(base_proven, pv))
        costs_out[arm] = costs
        records = ArmRecords(
            **columns, convictions=_table(CONVICTION, all_conv),
            proven=_table(PROVEN, all_proven), waits=_table(WAIT, w),
            ogrs_at_registration=registered)
        del columns, c, pv, w, all_conv, all_proven
        metrics[arm] = arm_metrics(records, model)
        survival[arm] = survival_curve(records, model)
        if keep_records:
            kept[arm] = records
        del records
    months = m * model.horizon_days / MONTH * len(arms)
    return ReplicationResult(replication=replication, costs=costs_out, metrics=metrics,
                             survival=survival, population=population, cohort_size=m,
                             offender_months=months, events=events, records=kept,
                             events_by_kind=dict(zip(BRANCHES, branches.tolist())))


# Offenders per block of the pre-period and the arms (see simulate): a block's state (about
# 500 bytes an offender) and heap fit in the second-level cache. With EVERYONE_TOGETHER every
# phase runs everyone at once instead, as it did before the blocks (for tests: the same results
# but for the order in which costs are added up).
BLOCK = 4096
EVERYONE_TOGETHER = False


def _parts(meets: np.ndarray) -> list[tuple[np.ndarray, bool]]:
    """The offenders who may meet in a queue (``meets``), together and in index order, then
    the others in blocks of ``BLOCK``: (indices, together) for each part."""
    shared = np.flatnonzero(meets)
    alone = np.flatnonzero(~meets)
    parts = [(shared, True)] if len(shared) else []
    return parts + [(alone[k:k + BLOCK], False) for k in range(0, len(alone), BLOCK)]


def _keep_rows(F, I, S, NC, rows):
    """The state's rows ``rows`` (increasing) moved to the top in place, the rest given back
    (no copy), and the needs' clocks of those kept moved to the front of NC."""
    compact_rows(F, rows)
    compact_rows(I, rows)
    compact_rows(S, rows)
    m = len(rows)
    F.resize((m, F.shape[1]), refcheck=False)
    I.resize((m, I.shape[1]), refcheck=False)
    S.resize((m, S.shape[1]), refcheck=False)
    NC.resize(compact_needs(NC, I), refcheck=False)
    return F, I, S, NC


def _joined(parts, dtypes):
    """Blocks' record columns joined, block after block."""
    if not parts:
        return tuple(np.zeros(0, dtype=d) for d in dtypes)
    return tuple(np.concatenate([p[k] for p in parts]).astype(d, copy=False)
                 for k, d in enumerate(dtypes))


def interruptible(kernel, *args):
    """Call a kernel so that Ctrl-C (or SIGTERM turned into an exception) during it reaches the
    caller as itself: a signal handled while numba calls back into Python (to unpickle a
    constant, say) otherwise surfaces as a SystemError "returned a result with an exception
    set", with the interrupt only as its cause, and the command line would print a traceback
    instead of cleaning up."""
    try:
        return kernel(*args)
    except SystemError as exc:
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, BaseException) and not isinstance(cause, Exception):
            raise cause from None
        raise


def _table(dtype: np.dtype, columns) -> np.ndarray:
    """An event table from its columns, sorted by offender (each one's events in order)."""
    out = np.empty(len(columns[0]), dtype=dtype)
    for name, column in zip(dtype.names, columns):
        out[name] = column
    return by_offender(out)


def _services_reachable(cm: CModel) -> np.ndarray:
    """For each mask of needs had at the start, the services an offender might use at some
    time (the needs come and go, but only among those had at the start; any status)."""
    reach = np.asarray(cm.svc_for_needs, dtype=np.int64).copy()
    masks = np.arange(len(reach), dtype=np.int64)
    for j in range(N_NEEDS):  # OR over every subset of each mask
        has = masks[(masks >> j) & 1 == 1]
        reach[has] |= reach[has ^ (1 << j)]
    return reach & int(np.bitwise_or.reduce(np.asarray(cm.svc_for_status, dtype=np.int64)))
