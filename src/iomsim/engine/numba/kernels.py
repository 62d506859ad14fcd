"""The numba engine's kernels: the event loop, compiled, giving the same results as the simpy one.

Why one file of about 1,650 lines. numba's on-disk cache of a compiled function is invalidated
only when the file that defines it changes, not when a function it calls from another file
does: kernels split over several modules would go on running stale machine code after an edit
of a callee, with wrong results and no error. Every njit function that another one calls is
therefore kept here, with the layout constants they share as literals; the Python side (packing
the model, driving a replication, turning the output into records) is in
:mod:`iomsim.engine.numba.driver`.

The simpy engine (:mod:`iomsim.engine.simpy.offender`) is the reference. This module runs the
same model with every offender's state in a few numpy arrays (one row per offender: ``F`` for
floating-point fields, the clocks' residuals and marks included, ``I`` for integer fields and
the stream counters, ``S`` for the service masks, ``A`` for what only the arms need), the
scheduled events of cohort records in ``SE`` (each offender's rows in the order they fall due),
the offences of open cases beyond the two an ``I`` row holds in a pool of per-offender chains
(``CO``), and one 4-ary heap of (time, sequence number, offender and version) rows for the whole
population, so that the per-event work is compiled code and not Python objects, and no event
scans other offenders' data. The model's numbers are packed into two arrays (``MF``, ``MI``)
and the kernels work on views without reference counts (see ``run_phase``).

Exactness. Every random number is drawn from the same keyed stream at the same index as the simpy
engine draws it (``mix64``/``uniform_at`` and the per-purpose counters are ported with uint64
arithmetic), and every floating-point formula is evaluated in the same order. With no
capacity-limited service and no capacity-limited IOM, offenders do not interact, so the event
histories are the same and the results agree to rounding (in practice bit for bit). With
capacity-limited services or IOM places, a place given up is handed to the head of the
first-come first-served queue at once (simpy hands it over when the release event is processed,
a few events later at the same time), so queue order at exactly equal times may differ:
agreement is then statistical (on full Sussex, and on small Sussex with IOM places for 30% of
the cohort, every replication tried was nevertheless identical).

Rule branches. Both engines count the branches of the rules they take
(:mod:`iomsim.engine.branches`): here in ``BC``, an int64 array with the slot ``B_<NAME>`` for
each name of ``BRANCHES`` (checked at import), incremented where the simpy engine counts the
same name. A count is an increment and no draw, so it changes no path; without capacity limits
the counts are the same as simpy's. With them, a place given up at the horizon is handed on at
once (see above) to offenders still waiting, each of whom gives it up in turn at their own last
wake-up: every one counts ``iom_place_unused`` or ``service_wait_open_at_horizon``, where simpy
hands the place on after more of those wake-ups, when those offenders have left the queue (no
result depends on either count). IOM started at day 0 for everyone (IOM not capacity-limited)
is counted by the driver, which starts it.

Each offender's process is a sequence of *steps*. A step starts at ``t0`` (the top of the
``while`` loop in :func:`iomsim.engine.simpy.offender.offender_life`): places are asked for or
given up, clock rates brought up to date, and the wake-up time ``t0 + dt`` put on the heap. When
it is popped (or the offender is woken earlier by a service's place granted), the step ends as
the code after the ``yield`` does, and the next step starts at once. The offender's state does
not change between ``t0`` and the wake-up (only a place can be granted), so the daily costs of
the step are worked out at the wake-up from the state. An offender manager's place granted
(capacity-limited IOM) is a heap entry of its own (``IOM_START``), in the order simpy's
allocation process resumes: it ends the step early, as that process's interrupt does, and IOM
starts once the step's costs (which ran without it) are accrued.

Limits (refused up front by ``driver.unsupported``): at most ``MAX_SERVICES`` services, each a
bit of an int64 mask; at most ``driver.MAX_OFFENDERS`` offenders, an offender's index and
version being packed into one float64 of the heap.
"""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np
from numba import carray, njit, types
from numba.core import cgutils
from numba.extending import intrinsic
from numba.typed import List
from llvmlite import ir

from iomsim.engine import model as _model
from iomsim.engine import records as _records
from iomsim.engine import rng as _rng
from iomsim.engine.branches import BRANCHES
from iomsim.engine.rng import Purpose
from iomsim.scenario.schema import AT_LIBERTY, NEEDS, STATUSES

# numba's on-disk cache is keyed by this file's contents only, so a constant read from another
# module would stay frozen in the cached kernels after that module changed (with wrong results,
# or writes outside the state rows, and no error). The kernels' constants are therefore written
# here as literals and checked against their sources at import: a change there fails loudly
# until it is copied here, which also renews the cache.
INF = math.inf
LN2 = math.log(2.0)
EPS = 1e-9
DAYS_PER_YEAR = 365.25
TWO_YEARS = 2 * DAYS_PER_YEAR
N_NEEDS = 10
N_CLOCKS = 5 + N_NEEDS
OFFENCE, LICENCE_BREACH, ORDER_BREACH, EXIT, PHASE, NEED0 = 0, 1, 2, 3, 4, 5
CLOCK_PURPOSE = np.array([2, 17, 18, 20, 40] + [24 + j for j in range(N_NEEDS)], dtype=np.int64)
# Offending phases (simpy offender.ACTIVE, QUIET, DESISTED); the phase is bits 14-15 of I_KEY.
ACTIVE, QUIET, DESISTED = 0, 1, 2
KEY_PHASE_SHIFT = 4 + N_NEEDS

# Status codes: the order of STATUSES, then exited.
CUSTODY, REMAND, LICENCE, COMMUNITY_ORDER, UNSUPERVISED, EXITED = 0, 1, 2, 3, 4, 5
STATUS_CODE = {s: i for i, s in enumerate(STATUSES)}
# Custody reasons: 0 none, 1 sentence, 2 recall.
R_NONE, R_SENTENCE, R_RECALL = 0, 1, 2
MAGISTRATES, CROWN = 0, 1
CASE_CAP = 2  # case offences kept in the offender's row; more go to the case pool
IOM_PLACE = -1  # the service of a wait for an offender manager's place (records.IOM_PLACE)

# Purposes (iomsim.engine.rng.Purpose) as plain ints for the kernels.
P_OFFENCE_TYPE = 3
P_ARREST_OUTCOME = 5
P_COURT_CHOICE = 6
P_COURT_DELAY = 7
P_REMAND = 8
P_CONVICTION = 9
P_EXTRA_OFFENCES = 10
P_SENTENCE = 11
P_SENTENCE_LENGTH = 12
P_ORDER_LENGTH = 13
P_RECALL_ON_CHARGE = 14
P_RECALL_TYPE = 15
P_RECALL_LENGTH = 16
P_BREACH_OUTCOME = 19
P_EXIT_CAUSE = 21
P_SERVICE_UPTAKE = 22
P_IOM_RESPONSE = 23
P_PHASE_CHOICE = 41

# Rule branches (iomsim.engine.branches.BRANCHES, in its order): each one's slot in BC, the
# int64 counts that run_phase adds to where the simpy engine counts the same name.
(B_OFFENCE, B_IOM_QUIET_CLOCK_RESET, B_ARREST_NO_ACTION, B_CAUTION, B_CHARGE_NEW_CASE,
 B_CHARGE_EXISTING_CASE, B_RECALL_ON_CHARGE, B_REMAND,
 B_COURT_MAGISTRATES, B_COURT_CROWN, B_COURT_ENDS_REMAND, B_COURT_ACQUITTED, B_COURT_CONVICTED,
 B_EXTRA_OFFENCES, B_SENTENCE_CUSTODY, B_SENTENCE_ORDER, B_SENTENCE_NONE, B_SERVED_BY_REMAND,
 B_CUSTODY_EXTENDED,
 B_LICENCE_BREACH_RECALL, B_FIXED_TERM_RECALL_SHORT, B_FIXED_TERM_RECALL_LONG,
 B_STANDARD_RECALL, B_SCHEDULED_RECALL, B_RECALL_WHILE_IN_CUSTODY, B_REMAND_ENDED_BEFORE_COURT,
 B_ORDER_BREACH, B_ORDER_BREACH_CUSTODY,
 B_EXIT_DIED, B_EXIT_DIED_IN_CUSTODY, B_EXIT_MOVED_AWAY, B_RELEASE_TO_LICENCE,
 B_RELEASE_TO_ORDER, B_RELEASE_UNSUPERVISED, B_LICENCE_ENDED, B_ORDER_ENDED,
 B_NEED_RESOLVED, B_NEED_RELAPSED, B_REFERRAL_ON_RELAPSE,
 B_PHASE_TO_QUIET, B_PHASE_TO_ACTIVE, B_DESISTED,
 B_SCHEDULED_RELEASE, B_SCHEDULED_RELEASE_AT_LIBERTY, B_SCHEDULED_EXIT,
 B_IOM_STARTED, B_IOM_RESPONDER, B_REFERRAL_AT_START, B_IOM_DESELECTED, B_IOM_MAX_DURATION,
 B_IOM_PLACE_QUEUED, B_IOM_PLACE_GRANTED, B_IOM_PLACE_UNUSED,
 B_SERVICE_PLACE_GRANTED, B_SERVICE_QUEUED, B_SERVICE_WAIT, B_SERVICE_WAIT_BEFORE_DAY_0,
 B_SERVICE_WAIT_OPEN_AT_HORIZON, B_SERVICE_QUEUE_LEFT, B_SERVICE_PLACE_RELEASED) = range(60)
N_BRANCHES = 60

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_C1 = np.uint64(0xBF58476D1CE4E5B9)
_C2 = np.uint64(0x94D049BB133111EB)


def constants_drift() -> list[str]:
    """The kernels' literal constants that no longer match the modules they come from."""
    clocks = [Purpose.OFFENCE_CLOCK, Purpose.LICENCE_BREACH_CLOCK, Purpose.ORDER_BREACH_CLOCK,
              Purpose.EXIT_CLOCK, Purpose.PHASE_CLOCK] + [Purpose.NEED_CLOCK + j
                                                          for j in range(len(NEEDS))]
    from iomsim.engine.simpy import offender as _offender
    from iomsim.engine.simpy import propensity as _propensity
    expected = {
        "PHASES": ((ACTIVE, QUIET, DESISTED, PHASE),
                   (_propensity.ACTIVE, _propensity.QUIET, _propensity.DESISTED, _offender.PHASE)),
        "DAYS_PER_YEAR": (DAYS_PER_YEAR, _model.DAYS_PER_YEAR),
        "N_NEEDS": (N_NEEDS, len(NEEDS)),
        "CLOCK_PURPOSE": (CLOCK_PURPOSE.tolist(), [int(p) for p in clocks]),
        "STATUSES": (tuple(STATUSES), ("custody", "remand", "licence", "community_order",
                                       "unsupervised")),
        "AT_LIBERTY": (set(AT_LIBERTY), {"licence", "community_order", "unsupervised"}),
        "_GOLDEN": (int(_GOLDEN), _rng.GOLDEN),
        "_C1": (int(_C1), _rng.MIX_C1),
        "_C2": (int(_C2), _rng.MIX_C2),
        "IOM_PLACE": (IOM_PLACE, _records.IOM_PLACE),
    }
    for name, value in list(globals().items()):
        if name.startswith("P_") and name[2:] in Purpose.__members__:
            expected[name] = (value, int(Purpose[name[2:]]))
    # A branch renamed, added, dropped or moved in BRANCHES shows here by name (None: absent).
    slots = {name[2:].lower(): value for name, value in globals().items()
             if name.startswith("B_")}
    source = {name: index for index, name in enumerate(BRANCHES)}
    for name in sorted(set(slots) | set(source)):
        expected["B_" + name.upper()] = (slots.get(name), source.get(name))
    expected["N_BRANCHES"] = (N_BRANCHES, len(BRANCHES))
    return [f"{k}: {here!r} here, {there!r} at the source" for k, (here, there) in expected.items()
            if here != there]


_DRIFT = constants_drift()
if _DRIFT:  # pragma: no cover - only after an edit elsewhere that was not copied here
    raise ImportError("iomsim.engine.numba.kernels: constants out of date with their sources "
                      "(copy the new values into kernels.py): " + "; ".join(_DRIFT))

# ------------------------------------------------------------------ state layout

# Floating-point fields (columns of F).
(F_OGRS, F_BASE_RATE, F_STATUS_END, F_LICENCE_END, F_ORDER_END, F_SENTENCE_DAYS, F_LIBERTY_START,
 F_COURT_DAY, F_REMANDED_SINCE, F_REMAND_DAYS, F_OFF_RATE, F_T0, F_DT, F_TNEXT,
 F_TOTHER, F_DESIST, F_CUSTODY_BEFORE, F_CUSTODY_24M) = range(18)
# F_TOTHER: when the first of the clocks other than offending fires (I_OTHER: which).
# F_DESIST: the desistance hazard per day; F_CUSTODY_BEFORE, F_CUSTODY_24M: days in custody in
# the 24 months before day 0 and from it.
# Each clock's residual (the unit-exponential hazard still to run) at F_RES0 + 2c and its mark
# (when the residual was last brought up to date) beside it at F_MARK0 + 2c, for the clocks
# but the needs'; the offending clock's, used at every step, right after the scalars above.
# The needs' clocks are in NC, a flat array: only for the needs an offender had at the start
# (a need never had never comes, so its clock never runs), from NC[2 * I[o, I_NB]] on.
F_RES0 = 18
F_MARK0 = 19
F_CASE_DAY0 = F_RES0 + 2 * NEED0  # CASE_CAP case offence days
F_QS0 = F_CASE_DAY0 + CASE_CAP  # queued_since of each capacity-limited service (NaN: None)

# Integer fields (columns of I, int32). I_KEY: the discrete state the clocks other than
# offending depend on (status | on IOM << 3 | needs << 4; with S_KEY_RECV). I_SE_NEXT, I_SE_END:
# the offender's scheduled events still to come, rows of SE. I_CO_HEAD, I_CO_TAIL: the open
# case's offences beyond CASE_CAP, a chain in the case pool (-1: none). I_IOM_PLACE: no place
# of an offender manager's (0), queued for one (1) or holding one (2), capacity-limited IOM;
# I_IOM_NEXT, I_IOM_PREV: links in its queue.
(I_NEED, I_HAD, I_STATUS, I_REASON, I_COURT, I_CASE_INDEX, I_CASE_LEN, I_OFFENCE_COUNT,
 I_CASE_COUNT, I_RECALL_COUNT, I_BREACH_COUNT, I_ON_IOM, I_RESPONDER, I_ROLE, I_EXITED,
 I_EXIT_CAUSE, I_KEY, I_FIRED, I_VERSION, I_DETECTED, I_RECALLS, I_REFERRALS, I_DONE, I_OTHER,
 I_NB, I_SE_NEXT, I_SE_END, I_CO_HEAD, I_CO_TAIL, I_IOM_PLACE, I_IOM_NEXT,
 I_IOM_PREV, I_PHASE) = range(33)
I_CNT0 = 33  # N_CLOCKS clock counters, then the EXIT_CAUSE counter
I_CASE_N0 = I_CNT0 + N_CLOCKS + 1  # CASE_CAP case offence numbers
I_QN0 = I_CASE_N0 + CASE_CAP  # (next, previous) in the queue of each capacity-limited service

# Service masks (columns of S, int64: bit i is service i, so at most MAX_SERVICES services; a
# mask of several words would cost every service test at every step for scenarios nobody has
# written): uptake without and with IOM, the services received in the current step, those whose
# place is held or asked for, those granted, and the boosting services received that I_KEY's
# rates were worked out for.
S_UPTAKE0, S_UPTAKE1, S_RECV, S_HELD, S_GRANTED, S_KEY_RECV = range(6)
N_S = 6
MAX_SERVICES = 63

# Scheduled events (rows of SE, float64): day, kind, days in custody of a recall (NaN: drawn).
SE_RELEASE, SE_RECALL, SE_EXIT = 0, 1, 2

# Fields of the arms only (columns of A; the pre-period's A has no rows, and nothing reads it
# there: nobody is on IOM), then the offences of each type (undetected ones by their expected
# number, as the simpy engine counts them).
(A_CUSTODY_DAYS, A_IOM_DAYS, A_IOM_END, A_IOM_QUIET_END, A_IOM_MULT, A_PERSIST_UNTIL) = range(6)
A_OBT0 = 6

# Scalar model parameters (P, float64).
(P_HORIZON_UNUSED, P_RELEASE_MULT, P_RELEASE_WINDOW, P_MEAN_DET, P_MEAN_DET_IOM, P_LBR, P_OBR,
 P_RECALL_MULT, P_PATHWAY, P_EXIT_LIB, P_EXIT_CUST, P_DEATH_SHARE, P_DESELECT_DAYS,
 P_PERSIST_HALF_LIFE, P_ARREST_COST, P_CHARGE_P, P_CAUTION_P, P_ON_CHARGE_P, P_REMAND_P, P_CONV_P,
 P_EXTRA_MEAN, P_PSR_COST, P_RELEASE_FRACTION, P_MIN_SUP, P_RECALL_POLICE, P_RECALL_PROB,
 P_FIXED_SHARE, P_FIXED_SHORT, P_FIXED_LONG, P_SHORT_SENTENCE, P_BREACH_CUSTODY_P,
 P_REFERRAL_COST, P_PRISON_PER_DAY, P_LICENCE_PER_DAY, P_ORDER_PER_DAY, P_MAX_DURATION,
 P_RATE_MULT, P_PHASE_ACTIVE, P_PHASE_QUIET, P_LEAVE_ACTIVE, P_LEAVE_QUIET, P_ACTIVE_SHARE,
 P_DESIST_30, P_DESIST_SLOPE) = range(44)
N_P = 44
# Integer model parameters (Q, int64).
(Q_ITEM_ARREST, Q_ITEM_INVEST, Q_ITEM_RECALL_POLICE, Q_ITEM_RECALL_PROB, Q_ITEM_PSR,
 Q_ITEM_PROSECUTION, Q_ITEM_LEGAL_AID, Q_ITEM_LICENCE, Q_ITEM_ORDER, Q_ITEM_REFERRAL,
 Q_COSTED, Q_BOOSTING, Q_CAP_MASK, Q_KNOTS, Q_NS) = range(15)
N_Q = 15
# Quantile tables (rows of TQ).
T_CUSTODY_MAG, T_CUSTODY_CROWN, T_DELAY_MAG, T_DELAY_CROWN, T_ORDER, T_RECALL = range(6)

FLOAT_TABLES = ["need_factor", "win_days", "windows_after", "res_rate", "relapse_rate",
                "boost_mult", "shares", "det", "det_iom", "crown", "victim_cost", "invest_cost",
                "svc_per_day", "om_cum", "om_per_day", "iomd_per_day", "tq_u", "tq_q",
                "court_cost", "prosecution_cost", "legal_aid_cost", "custody_p", "order_p"]
INT_TABLES = ["svc_for_needs", "svc_for_status", "win_mask", "boost_has", "item_victims",
              "svc_item", "cap_svc", "om_item", "iomd_item", "tq_const", "item_prison",
              "item_court", "clock_purpose"]
# MI[NO_x] is where table x starts (in MF or MI), MI[NL_x] its length.
NO_need_factor, NL_need_factor = N_Q + 0, N_Q + 1
NO_win_days, NL_win_days = N_Q + 2, N_Q + 3
NO_windows_after, NL_windows_after = N_Q + 4, N_Q + 5
NO_res_rate, NL_res_rate = N_Q + 6, N_Q + 7
NO_relapse_rate, NL_relapse_rate = N_Q + 8, N_Q + 9
NO_boost_mult, NL_boost_mult = N_Q + 10, N_Q + 11
NO_shares, NL_shares = N_Q + 12, N_Q + 13
NO_det, NL_det = N_Q + 14, N_Q + 15
NO_det_iom, NL_det_iom = N_Q + 16, N_Q + 17
NO_crown, NL_crown = N_Q + 18, N_Q + 19
NO_victim_cost, NL_victim_cost = N_Q + 20, N_Q + 21
NO_invest_cost, NL_invest_cost = N_Q + 22, N_Q + 23
NO_svc_per_day, NL_svc_per_day = N_Q + 24, N_Q + 25
NO_om_cum, NL_om_cum = N_Q + 26, N_Q + 27
NO_om_per_day, NL_om_per_day = N_Q + 28, N_Q + 29
NO_iomd_per_day, NL_iomd_per_day = N_Q + 30, N_Q + 31
NO_tq_u, NL_tq_u = N_Q + 32, N_Q + 33
NO_tq_q, NL_tq_q = N_Q + 34, N_Q + 35
NO_court_cost, NL_court_cost = N_Q + 36, N_Q + 37
NO_prosecution_cost, NL_prosecution_cost = N_Q + 38, N_Q + 39
NO_legal_aid_cost, NL_legal_aid_cost = N_Q + 40, N_Q + 41
NO_custody_p, NL_custody_p = N_Q + 42, N_Q + 43
NO_order_p, NL_order_p = N_Q + 44, N_Q + 45
NO_svc_for_needs, NL_svc_for_needs = N_Q + 46, N_Q + 47
NO_svc_for_status, NL_svc_for_status = N_Q + 48, N_Q + 49
NO_win_mask, NL_win_mask = N_Q + 50, N_Q + 51
NO_boost_has, NL_boost_has = N_Q + 52, N_Q + 53
NO_item_victims, NL_item_victims = N_Q + 54, N_Q + 55
NO_svc_item, NL_svc_item = N_Q + 56, N_Q + 57
NO_cap_svc, NL_cap_svc = N_Q + 58, N_Q + 59
NO_om_item, NL_om_item = N_Q + 60, N_Q + 61
NO_iomd_item, NL_iomd_item = N_Q + 62, N_Q + 63
NO_tq_const, NL_tq_const = N_Q + 64, N_Q + 65
NO_item_prison, NL_item_prison = N_Q + 66, N_Q + 67
NO_item_court, NL_item_court = N_Q + 68, N_Q + 69
NO_clock_purpose, NL_clock_purpose = N_Q + 70, N_Q + 71
MI_HEAD = N_Q + 2 * (len(FLOAT_TABLES) + len(INT_TABLES))

CModel = namedtuple("CModel", [
    "P", "Q", "need_factor", "svc_for_needs", "svc_for_status", "win_days", "win_mask",
    "windows_after", "res_rate", "relapse_rate", "boost_has", "boost_mult", "shares", "det",
    "det_iom", "crown", "victim_cost", "invest_cost", "item_victims", "svc_item", "svc_per_day",
    "cap_svc", "om_cum", "om_item", "om_per_day", "iomd_item", "iomd_per_day", "tq_u", "tq_q",
    "tq_const", "item_prison", "item_court", "court_cost", "prosecution_cost", "legal_aid_cost",
    "custody_p", "order_p", "clock_purpose"])

# The ledger and records of one phase.
# (offender * 4 + kind, a, b): a conviction (day, offences), a proven offence (offence day,
# disposal day), a completed wait (days, service; IOM_PLACE for an offender manager's place).
REC_T = types.Tuple((types.int64, types.float64, types.float64))
REC_CONVICTION, REC_PROVEN, REC_WAIT = 0, 1, 2
# Proven offences committed before this are in no metric's window (the earliest is the 12 months
# before day 0): they are not recorded.
PROVEN_FROM = -DAYS_PER_YEAR
# The case pool: the offences of open cases beyond the CASE_CAP kept in the offender's row, one
# chain per offender (I_CO_HEAD to I_CO_TAIL), entries (next entry or -1, offence number, day).
# Entry 0 heads the chain of free entries, reused before the pool grows: a court reads and frees
# the offender's own chain, so its cost is that case's offences, whatever the population.
CASE_T = types.Tuple((types.int64, types.int64, types.float64))

# ------------------------------------------------------------------ random streams

_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_TWO_TO_MINUS_53 = 2.0 ** -53


@njit(cache=True, inline="always")
def mix64(z):
    z = (z ^ (z >> _S30)) * _C1
    z = (z ^ (z >> _S27)) * _C2
    return z ^ (z >> _S31)


@njit(cache=True, inline="always")
def stream_key(key, purpose):
    return mix64(key ^ mix64(np.uint64(purpose) * _C2))


@njit(cache=True, inline="always")
def at(key, purpose, index):
    """Uniform number ``index`` of stream ``purpose`` of the offender with key ``key``."""
    k = stream_key(key, purpose)
    z = mix64(k + np.uint64(index + 1) * _GOLDEN)
    return (np.float64(z >> _S11) + 0.5) * _TWO_TO_MINUS_53


@njit(cache=True)
def offender_keys(root, n):
    out = np.empty(n, dtype=np.uint64)
    for i in range(n):
        out[i] = mix64(root ^ mix64(np.uint64(i + 1) * _GOLDEN))
    return out


@njit(cache=True, inline="always")
def next_uniform(I, keys, o, purpose, counter):
    i = I[o, counter]
    I[o, counter] = i + 1
    return at(keys[o], purpose, i)


# ------------------------------------------------------------------ distributions

@njit(cache=True, inline="always")
def quantile(MF, MI, t, u):
    k = MI[Q_KNOTS]
    q0 = MI[NO_tq_q] + t * k
    if MI[MI[NO_tq_const] + t]:
        return MF[q0]
    u_lo = MI[NO_tq_u]
    last = k - 1
    if u <= MF[u_lo]:
        return MF[q0]
    if u >= MF[u_lo + last]:
        return MF[q0 + last]
    i = np.searchsorted(MF[u_lo:u_lo + k], u, side="right")
    u0 = MF[u_lo + i - 1]
    u1 = MF[u_lo + i]
    return MF[q0 + i - 1] + (MF[q0 + i] - MF[q0 + i - 1]) * (u - u0) / (u1 - u0)


# iomsim.engine.distributions.poisson_quantile, copied rather than compiled from there: numba
# caches the kernels that call it by this file's text alone, so a change there would not reach
# them (tests/test_compiled_engine.py checks that the two agree).
@njit(cache=True)
def poisson_quantile(mean, u):
    if mean <= 0:
        return 0
    p = math.exp(-mean)
    cdf = p
    k = 0
    while cdf < u and k < 10_000:
        k += 1
        p *= mean / k
        cdf += p
    return k


# ------------------------------------------------------------------ ledger

@njit(cache=True, inline="always")
def add_cost(costs, horizon, day, item, amount):
    if amount != 0.0 and 0.0 <= day < horizon:
        costs[int(day // DAYS_PER_YEAR), item] += amount


# ------------------------------------------------------------------ heap of (time, seq)

# The heap HP: three rows of float64 (the integers are below 2**53), an entry a column: its
# time (HP[0]), sequence number (HP[1]) and offender << 32 | version (HP[2]). The times are
# contiguous, so the four children a step down compares are 32 bytes of one row; the other
# rows are read only to break a tie or move an entry. An entry whose version is IOM_START is
# not a wake-up of the offender's step but an offender manager's place granted
# (capacity-limited IOM): it interrupts the step, as iom_allocation interrupts the simpy
# process, and no version makes it stale (it is checked against I_IOM_PLACE when popped).
IOM_START = 0xFFFFFFFF


@njit(cache=True, inline="always")
def heap_push(HP, RS, t, o, v):
    n = RS[0]
    if n == HP.shape[1]:
        return False
    seq = RS[1]
    RS[1] = seq + 1
    fs = np.float64(seq)
    ov = np.float64((np.int64(o) << 32) | np.int64(v))
    T = HP[0]
    i = n
    while i > 0:
        parent = (i - 1) >> 2
        pt = T[parent]
        if pt < t or (pt == t and HP[1, parent] < fs):
            break
        T[i] = pt
        HP[1, i] = HP[1, parent]
        HP[2, i] = HP[2, parent]
        i = parent
    T[i] = t
    HP[1, i] = fs
    HP[2, i] = ov
    RS[0] = n + 1
    return True


@njit(cache=True, inline="always")
def sift_down(HP, n, i, t, s, ov):
    T = HP[0]
    base = T.ctypes.data
    while True:
        first = 4 * i + 1  # a 4-ary heap: half the depth of a binary one, fewer cache misses
        if first >= n:
            break
        # The grandchildren's times (16, contiguous) asked for now: the step below needs
        # one group of four of them, and waiting for it only then makes every level of a
        # large heap a trip to memory after the last.
        g = 4 * first + 1
        if g < n:
            _prefetch(base + 8 * g)
            _prefetch(base + 8 * g + 64)
            _prefetch(base + 8 * g + 120)
        c = first
        ct = T[first]
        for d in range(first + 1, min(first + 4, n)):
            dt = T[d]
            if dt < ct or (dt == ct and HP[1, d] < HP[1, c]):
                c = d
                ct = dt
        if t < ct or (t == ct and s < HP[1, c]):
            break
        T[i] = ct
        HP[1, i] = HP[1, c]
        HP[2, i] = HP[2, c]
        i = c
    T[i] = t
    HP[1, i] = s
    HP[2, i] = ov


@njit(cache=True, inline="always")
def heap_pop(HP, RS):
    """Remove and return the least (time, seq) entry: (time, offender, version)."""
    n = RS[0] - 1
    t0 = HP[0, 0]
    ov = np.int64(HP[2, 0])
    RS[0] = n
    if n > 0:
        sift_down(HP, n, 0, HP[0, n], HP[1, n], HP[2, n])
    return t0, ov >> 32, ov & 0xFFFFFFFF


@njit(cache=True)
def heap_compact(HP, RS, I):
    """Drop entries made stale by a later wake-up of the same offender, and re-heapify."""
    n = RS[0]
    k = 0
    for i in range(n):
        ov = np.int64(HP[2, i])
        v = ov & 0xFFFFFFFF
        if v == I[ov >> 32, I_VERSION] or v == IOM_START:
            HP[0, k] = HP[0, i]
            HP[1, k] = HP[1, i]
            HP[2, k] = HP[2, i]
            k += 1
    RS[0] = k
    for start in range((k - 2) // 4, -1, -1):
        sift_down(HP, k, start, HP[0, start], HP[1, start], HP[2, start])


@njit(cache=True, inline="always")
def schedule(HP, RS, I, o, t):
    if not heap_push(HP, RS, t, o, I[o, I_VERSION]):
        heap_compact(HP, RS, I)
        if not heap_push(HP, RS, t, o, I[o, I_VERSION]):
            raise RuntimeError("event heap full")


@njit(cache=True)
def schedule_iom_start(HP, RS, I, o, t):
    if not heap_push(HP, RS, t, o, IOM_START):
        heap_compact(HP, RS, I)
        if not heap_push(HP, RS, t, o, IOM_START):
            raise RuntimeError("event heap full")


# ------------------------------------------------------------------ clocks and rates

@njit(cache=True, inline="always")
def at_liberty(status):
    return status == LICENCE or status == COMMUNITY_ORDER or status == UNSUPERVISED


@njit(cache=True, inline="always")
def offending_rate(MF, MI, F, I, A, o, now):
    factor = MF[MI[NO_need_factor] + I[o, I_NEED]]
    phase = I[o, I_PHASE]
    factor *= MF[P_PHASE_ACTIVE] if phase == ACTIVE else (MF[P_PHASE_QUIET] if phase == QUIET
                                                          else 0.0)
    if now < F[o, F_LIBERTY_START] + MF[P_RELEASE_WINDOW]:
        factor *= MF[P_RELEASE_MULT]
    if I[o, I_RESPONDER] != 0 and (I[o, I_ON_IOM] != 0 or now < A[o, A_PERSIST_UNTIL]):
        factor *= A[o, A_IOM_MULT]
    return F[o, F_BASE_RATE] * factor


@njit(cache=True, inline="always")
def key_rate(MF, MI, key, received, had, c, desist):
    """Rate of clock ``c`` (not offending) in the discrete state packed in ``key``, with the
    boosting services ``received`` (and the offender's desistance hazard ``desist``)."""
    if key < 0:
        return 0.0
    status = key & 7
    on_iom = (key >> 3) & 1
    need = (key >> 4) & ((1 << N_NEEDS) - 1)
    P = MF
    if c == EXIT:
        return P[P_EXIT_LIB] if at_liberty(status) else P[P_EXIT_CUST]
    if c == PHASE:
        phase = key >> KEY_PHASE_SHIFT
        if phase == ACTIVE:
            return P[P_LEAVE_ACTIVE] + desist
        if phase == QUIET:
            return P[P_LEAVE_QUIET] + desist
        return 0.0
    if c == LICENCE_BREACH:
        if status == LICENCE:
            return P[P_LBR] * (P[P_RECALL_MULT] if on_iom else 1.0)
        return 0.0
    if c == ORDER_BREACH:
        return P[P_OBR] if status == COMMUNITY_ORDER else 0.0
    j = c - NEED0
    if need >> j & 1:
        r = MF[MI[NO_res_rate] + j] * (P[P_PATHWAY] if on_iom else 1.0)
        ns = MI[Q_NS]
        base = j * ns
        for q in range(ns):  # the services that speed this need's resolution, in index order
            i = MI[MI[NO_boost_has] + base + q]
            if i < 0:
                break
            if received >> i & 1:
                r *= MF[MI[NO_boost_mult] + base + q]
        return r
    if had >> j & 1:
        return MF[MI[NO_relapse_rate] + j]
    return 0.0


@njit(cache=True, inline="always")
def need_slot(I, o, c):
    """Where need clock ``c``'s residual is in NC (its mark is next to it)."""
    x = I[o, I_HAD] & ((1 << (c - NEED0)) - 1)
    k = 0
    while x:
        x &= x - 1
        k += 1
    return 2 * (I[o, I_NB] + k)


@njit(cache=True, inline="always")
def get_res(F, NC, I, o, c):
    return F[o, F_RES0 + 2 * c] if c < NEED0 else NC[need_slot(I, o, c)]


@njit(cache=True, inline="always")
def get_mark(F, NC, I, o, c):
    return F[o, F_MARK0 + 2 * c] if c < NEED0 else NC[need_slot(I, o, c) + 1]


@njit(cache=True, inline="always")
def set_clock(F, NC, I, o, c, res, mark):
    if c < NEED0:
        F[o, F_RES0 + 2 * c] = res
        F[o, F_MARK0 + 2 * c] = mark
    else:
        k = need_slot(I, o, c)
        NC[k] = res
        NC[k + 1] = mark


@njit(cache=True, inline="always")
def set_rate(F, NC, I, o, c, old, rate, now):
    if rate == old:
        return
    res = get_res(F, NC, I, o, c)
    if old > 0.0:
        res -= old * (now - get_mark(F, NC, I, o, c))
    set_clock(F, NC, I, o, c, res, now)


@njit(cache=True, inline="always")
def set_clock_rates(MF, MI, F, NC, I, S, A, o, now, received):
    status = I[o, I_STATUS]
    if status == EXITED:
        return
    on_iom = I[o, I_ON_IOM]
    rate = 0.0
    if at_liberty(status):
        rate = offending_rate(MF, MI, F, I, A, o, now) * (MF[P_MEAN_DET_IOM] if on_iom else MF[P_MEAN_DET])
    old = F[o, F_OFF_RATE]
    if rate != old:
        set_rate(F, NC, I, o, OFFENCE, old, rate, now)
        F[o, F_OFF_RATE] = rate
    key = status | (on_iom << 3) | (I[o, I_NEED] << 4) | (I[o, I_PHASE] << KEY_PHASE_SHIFT)
    recv = received & MI[Q_BOOSTING]
    old_key = I[o, I_KEY]
    old_recv = S[o, S_KEY_RECV]
    if key != old_key or recv != old_recv:
        had = I[o, I_HAD]
        t_clock = np.inf
        fired = -1
        for c in range(1, N_CLOCKS):
            # A need never had is never a need (needs only come back): its rate is always 0.
            if c >= NEED0 and not (had >> (c - NEED0)) & 1:
                continue
            new = key_rate(MF, MI, key, recv, had, c, F[o, F_DESIST])
            set_rate(F, NC, I, o, c, key_rate(MF, MI, old_key, old_recv, had, c, F[o, F_DESIST]),
                     new, now)
            if new > 0.0:
                t = get_mark(F, NC, I, o, c) + get_res(F, NC, I, o, c) / new
                if t < t_clock:
                    t_clock = t
                    fired = c
        I[o, I_KEY] = key
        S[o, S_KEY_RECV] = recv
        F[o, F_TOTHER] = t_clock
        I[o, I_OTHER] = fired


@njit(cache=True, inline="always")
def update_other(MF, MI, F, NC, I, S, o):
    """The first of the clocks but offending to fire (they change only with the state key)."""
    t_clock = np.inf
    fired = -1
    key = I[o, I_KEY]
    recv = S[o, S_KEY_RECV]
    had = I[o, I_HAD]
    for c in range(1, N_CLOCKS):
        if c >= NEED0 and not (had >> (c - NEED0)) & 1:
            continue
        rate = key_rate(MF, MI, key, recv, had, c, F[o, F_DESIST])
        if rate > 0.0:
            t = get_mark(F, NC, I, o, c) + get_res(F, NC, I, o, c) / rate
            if t < t_clock:
                t_clock = t
                fired = c
    F[o, F_TOTHER] = t_clock
    I[o, I_OTHER] = fired


# ------------------------------------------------------------------ services and places

@njit(cache=True, inline="always")
def services_in_use(MF, MI, F, I, S, o, now):
    status = I[o, I_STATUS]
    using = ((S[o, S_UPTAKE1] if I[o, I_ON_IOM] else S[o, S_UPTAKE0])
             & MI[MI[NO_svc_for_needs] + I[o, I_NEED]] & MI[MI[NO_svc_for_status] + status])
    if using:
        since = F[o, F_LIBERTY_START]
        for w in range(MI[NL_win_days]):
            services = MI[MI[NO_win_mask] + w]
            if using & services and not now < since + MF[MI[NO_win_days] + w]:
                using &= ~services
    return using


# RS (int64): [heap size, next sequence number, offender managers' places (-1: IOM is not
# capacity-limited in this phase), users, head of queue, tail of queue, then per capacity
# service k: places, users, head of queue, tail of queue]; a queue is a doubly linked list in I
# (I_IOM_NEXT and I_IOM_PREV; I_QN0 + 2k, + 1).
RS_IOM_PLACES, RS_IOM_USERS, RS_IOM_HEAD, RS_IOM_TAIL = 2, 3, 4, 5
RS_HEAD = 6


@njit(cache=True, inline="always")
def rs(MI, field, k):
    return RS_HEAD + field * MI[NL_cap_svc] + k


@njit(cache=True)
def grant_waiting(MI, RS, HP, I, S, k, now):
    """Hand free places of capacity service ``k`` to the head of its queue, waking them now."""
    bit = 1 << MI[MI[NO_cap_svc] + k]
    cap, users, head, tail = rs(MI, 0, k), rs(MI, 1, k), rs(MI, 2, k), rs(MI, 3, k)
    while RS[users] < RS[cap] and RS[head] >= 0:
        h = RS[head]
        nxt = I[h, I_QN0 + 2 * k]
        RS[head] = nxt
        if nxt >= 0:
            I[nxt, I_QN0 + 2 * k + 1] = -1
        else:
            RS[tail] = -1
        I[h, I_QN0 + 2 * k] = -1
        I[h, I_QN0 + 2 * k + 1] = -1
        RS[users] += 1
        S[h, S_GRANTED] |= bit
        I[h, I_VERSION] += 1  # its pending wake-up is stale: it wakes now
        schedule(HP, RS, I, h, now)


@njit(cache=True)
def leave_queue(MI, RS, I, o, k):
    p = I[o, I_QN0 + 2 * k + 1]
    nx = I[o, I_QN0 + 2 * k]
    if p >= 0:
        I[p, I_QN0 + 2 * k] = nx
    else:
        RS[rs(MI, 2, k)] = nx
    if nx >= 0:
        I[nx, I_QN0 + 2 * k + 1] = p
    else:
        RS[rs(MI, 3, k)] = p
    I[o, I_QN0 + 2 * k] = -1
    I[o, I_QN0 + 2 * k + 1] = -1


@njit(cache=True)
def update_places(MF, MI, F, I, S, RS, HP, recs, BC, o, now, using):
    for k in range(MI[NL_cap_svc]):
        i = MI[MI[NO_cap_svc] + k]
        bit = 1 << i
        want = (using >> i & 1) != 0 and I[o, I_STATUS] != EXITED
        has = (S[o, S_HELD] & bit) != 0
        if want and not has:
            S[o, S_HELD] |= bit
            users = rs(MI, 1, k)
            tail = rs(MI, 3, k)
            if RS[users] < RS[rs(MI, 0, k)] and RS[rs(MI, 2, k)] < 0:
                BC[B_SERVICE_PLACE_GRANTED] += 1
                RS[users] += 1
                S[o, S_GRANTED] |= bit
            else:
                BC[B_SERVICE_QUEUED] += 1
                if RS[tail] >= 0:
                    I[RS[tail], I_QN0 + 2 * k] = o
                    I[o, I_QN0 + 2 * k + 1] = RS[tail]
                else:
                    RS[rs(MI, 2, k)] = o
                    I[o, I_QN0 + 2 * k + 1] = -1
                I[o, I_QN0 + 2 * k] = -1
                RS[tail] = o
                F[o, F_QS0 + k] = now if now >= 0 else -1.0
        elif not want and has:
            if S[o, S_GRANTED] & bit:
                BC[B_SERVICE_PLACE_RELEASED] += 1
                S[o, S_GRANTED] &= ~bit
                RS[rs(MI, 1, k)] -= 1
                grant_waiting(MI, RS, HP, I, S, k, now)
            else:
                BC[B_SERVICE_QUEUE_LEFT] += 1
                leave_queue(MI, RS, I, o, k)
                qs = F[o, F_QS0 + k]
                if not np.isnan(qs) and qs >= 0:
                    recs.append((np.int64(o) * 4 + REC_WAIT, now - qs, np.float64(i)))
            F[o, F_QS0 + k] = np.nan
            S[o, S_HELD] &= ~bit


@njit(cache=True)
def ask_iom_place(RS, HP, I, BC, o, now):
    """iom_allocation's request: a place at once if one is free and nobody waits, else the
    tail of the queue; a place granted starts IOM when its heap entry is popped."""
    if RS[RS_IOM_USERS] < RS[RS_IOM_PLACES] and RS[RS_IOM_HEAD] < 0:
        RS[RS_IOM_USERS] += 1
        I[o, I_IOM_PLACE] = 2
        schedule_iom_start(HP, RS, I, o, now)
        return
    BC[B_IOM_PLACE_QUEUED] += 1
    I[o, I_IOM_PLACE] = 1
    tail = RS[RS_IOM_TAIL]
    I[o, I_IOM_NEXT] = -1
    I[o, I_IOM_PREV] = tail
    if tail >= 0:
        I[tail, I_IOM_NEXT] = o
    else:
        RS[RS_IOM_HEAD] = o
    RS[RS_IOM_TAIL] = o


@njit(cache=True)
def release_iom_place(RS, HP, I, o, now):
    """Give up an offender manager's place (or leave its queue); the head of the queue gets a
    free place at once (as for services: see the module's docstring)."""
    held = I[o, I_IOM_PLACE]
    if held == 2:
        RS[RS_IOM_USERS] -= 1
        while RS[RS_IOM_USERS] < RS[RS_IOM_PLACES] and RS[RS_IOM_HEAD] >= 0:
            h = RS[RS_IOM_HEAD]
            nxt = I[h, I_IOM_NEXT]
            RS[RS_IOM_HEAD] = nxt
            if nxt >= 0:
                I[nxt, I_IOM_PREV] = -1
            else:
                RS[RS_IOM_TAIL] = -1
            I[h, I_IOM_NEXT] = -1
            I[h, I_IOM_PREV] = -1
            RS[RS_IOM_USERS] += 1
            I[h, I_IOM_PLACE] = 2
            schedule_iom_start(HP, RS, I, h, now)
    elif held == 1:
        p = I[o, I_IOM_PREV]
        nx = I[o, I_IOM_NEXT]
        if p >= 0:
            I[p, I_IOM_NEXT] = nx
        else:
            RS[RS_IOM_HEAD] = nx
        if nx >= 0:
            I[nx, I_IOM_PREV] = p
        else:
            RS[RS_IOM_TAIL] = p
        I[o, I_IOM_NEXT] = -1
        I[o, I_IOM_PREV] = -1
    I[o, I_IOM_PLACE] = 0


@njit(cache=True)
def release_all(MF, MI, F, I, S, RS, HP, o, now):
    if I[o, I_IOM_PLACE]:
        release_iom_place(RS, HP, I, o, now)
    for k in range(MI[NL_cap_svc]):
        bit = 1 << MI[MI[NO_cap_svc] + k]
        if S[o, S_HELD] & bit:
            if S[o, S_GRANTED] & bit:
                RS[rs(MI, 1, k)] -= 1
                grant_waiting(MI, RS, HP, I, S, k, now)
            else:
                leave_queue(MI, RS, I, o, k)
        F[o, F_QS0 + k] = np.nan
    S[o, S_HELD] = 0
    S[o, S_GRANTED] = 0


# ------------------------------------------------------------------ scheduled times

@njit(cache=True, inline="always")
def next_scheduled(MF, MI, F, I, A, SE, o, horizon, now):
    t = horizon
    status = I[o, I_STATUS]
    if status == CUSTODY or status == REMAND:
        if F[o, F_STATUS_END] < t:
            t = F[o, F_STATUS_END]
    elif status == LICENCE:
        if F[o, F_LICENCE_END] < t:
            t = F[o, F_LICENCE_END]
    elif status == COMMUNITY_ORDER:
        if F[o, F_ORDER_END] < t:
            t = F[o, F_ORDER_END]
    if I[o, I_COURT] >= 0 and F[o, F_COURT_DAY] < t:
        t = F[o, F_COURT_DAY]
    if I[o, I_ON_IOM]:
        t = min(t, A[o, A_IOM_END], A[o, A_IOM_QUIET_END])
    if A.shape[0] > 0 and A[o, A_PERSIST_UNTIL] > now:
        t = min(t, A[o, A_PERSIST_UNTIL])
    e = I[o, I_SE_NEXT]
    if e < I[o, I_SE_END] and SE[e, 0] < t:
        t = max(SE[e, 0], now)
    since = F[o, F_LIBERTY_START]
    for q in range(MI[NL_windows_after]):
        w = MF[MI[NO_windows_after] + q]
        if now < since + w < t:
            t = since + w
    return max(t, now)


@njit(cache=True, inline="always")
def liberty_status(F, I, o, now):
    if F[o, F_LICENCE_END] > now + EPS:
        return LICENCE
    if F[o, F_ORDER_END] > now + EPS:
        return COMMUNITY_ORDER
    return UNSUPERVISED


# ------------------------------------------------------------------ criminal justice

@njit(cache=True, inline="always")
def refer(MF, MI, I, costs, horizon, o, now, count):
    I[o, I_REFERRALS] += count
    if MF[P_REFERRAL_COST] > 0:
        add_cost(costs, horizon, now, MI[Q_ITEM_REFERRAL], MF[P_REFERRAL_COST] * count)


@njit(cache=True, inline="always")
def end_remand(F, I, BC, o, now):
    if I[o, I_STATUS] == REMAND and I[o, I_COURT] >= 0 and not np.isnan(F[o, F_REMANDED_SINCE]):
        BC[B_REMAND_ENDED_BEFORE_COURT] += 1
        F[o, F_REMAND_DAYS] += now - F[o, F_REMANDED_SINCE]
        F[o, F_REMANDED_SINCE] = np.nan


@njit(cache=True)
def imprison(MF, MI, F, I, BC, o, now, length, credit):
    P = MF
    served = P[P_RELEASE_FRACTION] * length - credit
    licence = max(length * (1 - P[P_RELEASE_FRACTION]), P[P_MIN_SUP])
    F[o, F_SENTENCE_DAYS] = length
    if served <= 0:
        BC[B_SERVED_BY_REMAND] += 1
        F[o, F_LICENCE_END] = max(F[o, F_LICENCE_END], now + licence)
        if at_liberty(I[o, I_STATUS]):
            I[o, I_STATUS] = liberty_status(F, I, o, now)
        return
    if I[o, I_STATUS] == CUSTODY:
        BC[B_CUSTODY_EXTENDED] += 1
        F[o, F_STATUS_END] = max(F[o, F_STATUS_END], now + served)
    else:
        I[o, I_STATUS] = CUSTODY
        F[o, F_STATUS_END] = now + served
    I[o, I_REASON] = R_SENTENCE
    F[o, F_LICENCE_END] = max(F[o, F_LICENCE_END], F[o, F_STATUS_END] + licence)
    F[o, F_ORDER_END] = min(F[o, F_ORDER_END], now)


@njit(cache=True)
def recall(MF, MI, F, I, keys, costs, horizon, BC, o, now, fixed):
    """A recall to custody; for ``fixed`` days (a scheduled recall), or drawn if NaN."""
    P = MF
    k = I[o, I_RECALL_COUNT]
    I[o, I_RECALL_COUNT] = k + 1
    if now >= 0:
        I[o, I_RECALLS] += 1
    add_cost(costs, horizon, now, MI[Q_ITEM_RECALL_POLICE], P[P_RECALL_POLICE])
    add_cost(costs, horizon, now, MI[Q_ITEM_RECALL_PROB], P[P_RECALL_PROB])
    key = keys[o]
    if not np.isnan(fixed):
        BC[B_SCHEDULED_RECALL] += 1
        days = fixed
    elif at(key, P_RECALL_TYPE, k) < P[P_FIXED_SHARE]:
        if F[o, F_SENTENCE_DAYS] < P[P_SHORT_SENTENCE]:
            BC[B_FIXED_TERM_RECALL_SHORT] += 1
            days = P[P_FIXED_SHORT]
        else:
            BC[B_FIXED_TERM_RECALL_LONG] += 1
            days = P[P_FIXED_LONG]
    else:
        BC[B_STANDARD_RECALL] += 1
        days = quantile(MF, MI, T_RECALL, at(key, P_RECALL_LENGTH, k))
        days = max(min(days, F[o, F_LICENCE_END] - now), 1.0)
    if I[o, I_STATUS] == CUSTODY:
        BC[B_RECALL_WHILE_IN_CUSTODY] += 1
        F[o, F_STATUS_END] = max(F[o, F_STATUS_END], now + days)
        return
    end_remand(F, I, BC, o, now)
    I[o, I_STATUS] = CUSTODY
    I[o, I_REASON] = R_RECALL
    F[o, F_STATUS_END] = now + days
    if F[o, F_LICENCE_END] < F[o, F_STATUS_END]:
        F[o, F_LICENCE_END] = F[o, F_STATUS_END]


@njit(cache=True)
def order_breach(MF, MI, F, I, keys, costs, horizon, BC, o, now):
    b = I[o, I_BREACH_COUNT]
    I[o, I_BREACH_COUNT] = b + 1
    add_cost(costs, horizon, now, MI[MI[NO_item_court] + MAGISTRATES], MF[MI[NO_court_cost] + MAGISTRATES])
    if at(keys[o], P_BREACH_OUTCOME, b) < MF[P_BREACH_CUSTODY_P]:
        BC[B_ORDER_BREACH_CUSTODY] += 1
        length = quantile(MF, MI, T_CUSTODY_MAG, at(keys[o], P_BREACH_OUTCOME, 10 ** 6 + b))
        F[o, F_ORDER_END] = now
        imprison(MF, MI, F, I, BC, o, now, length, 0.0)
    else:
        BC[B_ORDER_BREACH] += 1


@njit(cache=True)
def case_append(CO, I, o, n, day):
    """Offence ``n`` (on ``day``) added to the end of the offender's chain in the case pool."""
    e = CO[0][0]
    if e >= 0:
        CO[0] = (CO[e][0], np.int64(0), 0.0)
        CO[e] = (np.int64(-1), np.int64(n), day)
    else:
        e = len(CO)
        CO.append((np.int64(-1), np.int64(n), day))
    tail = I[o, I_CO_TAIL]
    if tail >= 0:
        entry = CO[tail]
        CO[tail] = (np.int64(e), entry[1], entry[2])
    else:
        I[o, I_CO_HEAD] = e
    I[o, I_CO_TAIL] = e


@njit(cache=True, inline="always")
def offence(MF, MI, F, I, A, keys, costs, horizon, recs, CO, BC, o, now):
    P = MF
    n = I[o, I_OFFENCE_COUNT]
    I[o, I_OFFENCE_COUNT] = n + 1
    BC[B_OFFENCE] += 1
    key = keys[o]
    on_iom = I[o, I_ON_IOM] != 0
    detection = MI[NO_det_iom] if on_iom else MI[NO_det]
    mean = P[P_MEAN_DET_IOM] if on_iom else P[P_MEAN_DET]
    u = at(key, P_OFFENCE_TYPE, n) * mean
    kind = 0
    acc = 0.0
    last = MI[NL_det] - 1
    while kind < last:
        acc += MF[MI[NO_shares] + kind] * MF[detection + kind]
        if u < acc:
            break
        kind += 1
    if now >= 0:
        if o < A.shape[0]:
            A[o, A_OBT0 + kind] += 1
        I[o, I_DETECTED] += 1
        add_cost(costs, horizon, now, MI[MI[NO_item_victims] + kind], MF[MI[NO_victim_cost] + kind])
    if on_iom and P[P_DESELECT_DAYS] != 0.0:
        BC[B_IOM_QUIET_CLOCK_RESET] += 1
        A[o, A_IOM_QUIET_END] = now + P[P_DESELECT_DAYS]
    add_cost(costs, horizon, now, MI[Q_ITEM_ARREST], P[P_ARREST_COST])
    add_cost(costs, horizon, now, MI[Q_ITEM_INVEST], MF[MI[NO_invest_cost] + kind])
    u = at(key, P_ARREST_OUTCOME, n)
    if u >= P[P_CHARGE_P]:
        if u < P[P_CHARGE_P] + P[P_CAUTION_P]:
            BC[B_CAUTION] += 1
            if now >= PROVEN_FROM:
                recs.append((np.int64(o) * 4 + REC_PROVEN, now, now))
        else:
            BC[B_ARREST_NO_ACTION] += 1
        return
    if I[o, I_COURT] < 0:
        BC[B_CHARGE_NEW_CASE] += 1
        court = CROWN if at(key, P_COURT_CHOICE, n) < MF[MI[NO_crown] + kind] else MAGISTRATES
        cc = I[o, I_CASE_COUNT]
        delay = quantile(MF, MI, T_DELAY_CROWN if court == CROWN else T_DELAY_MAG,
                         at(key, P_COURT_DELAY, cc))
        I[o, I_COURT] = court
        F[o, F_COURT_DAY] = now + delay
        I[o, I_CASE_INDEX] = cc
        I[o, I_CASE_LEN] = 0
        F[o, F_REMANDED_SINCE] = np.nan
        F[o, F_REMAND_DAYS] = 0.0
        I[o, I_CASE_COUNT] = cc + 1
    else:
        BC[B_CHARGE_EXISTING_CASE] += 1
    m = I[o, I_CASE_LEN]
    if m < CASE_CAP:
        I[o, I_CASE_N0 + m] = n
        F[o, F_CASE_DAY0 + m] = now
    else:
        case_append(CO, I, o, n, now)
    I[o, I_CASE_LEN] = m + 1
    status = I[o, I_STATUS]
    if status == LICENCE:
        p_recall = P[P_ON_CHARGE_P]
        if on_iom:
            p_recall = min(1.0, p_recall * P[P_RECALL_MULT])
        if at(key, P_RECALL_ON_CHARGE, n) < p_recall:
            BC[B_RECALL_ON_CHARGE] += 1
            recall(MF, MI, F, I, keys, costs, horizon, BC, o, now, np.nan)
            return
    if at_liberty(status) and at(key, P_REMAND, n) < P[P_REMAND_P]:
        BC[B_REMAND] += 1
        I[o, I_STATUS] = REMAND
        F[o, F_STATUS_END] = F[o, F_COURT_DAY]
        F[o, F_REMANDED_SINCE] = now


@njit(cache=True)
def court(MF, MI, F, I, keys, costs, horizon, recs, CO, BC, o, now):
    P = MF
    c = I[o, I_COURT]
    I[o, I_COURT] = -1
    BC[B_COURT_CROWN if c == CROWN else B_COURT_MAGISTRATES] += 1
    add_cost(costs, horizon, now, MI[MI[NO_item_court] + c], MF[MI[NO_court_cost] + c])
    add_cost(costs, horizon, now, MI[Q_ITEM_PROSECUTION], MF[MI[NO_prosecution_cost] + c])
    add_cost(costs, horizon, now, MI[Q_ITEM_LEGAL_AID], MF[MI[NO_legal_aid_cost] + c])
    key = keys[o]
    index = I[o, I_CASE_INDEX]
    m = I[o, I_CASE_LEN]
    numbers = np.empty(m, dtype=np.int64)
    days = np.empty(m, dtype=np.float64)
    for q in range(min(m, CASE_CAP)):
        numbers[q] = I[o, I_CASE_N0 + q]
        days[q] = F[o, F_CASE_DAY0 + q]
    if m > CASE_CAP:
        q = CASE_CAP
        e = I[o, I_CO_HEAD]
        while e >= 0:
            entry = CO[e]
            numbers[q] = entry[1]
            days[q] = entry[2]
            q += 1
            e = entry[0]
        if q != m:
            raise RuntimeError("case offences lost")
        # The chain joins the free entries.
        tail = I[o, I_CO_TAIL]
        entry = CO[tail]
        CO[tail] = (CO[0][0], entry[1], entry[2])
        CO[0] = (np.int64(I[o, I_CO_HEAD]), np.int64(0), 0.0)
        I[o, I_CO_HEAD] = -1
        I[o, I_CO_TAIL] = -1
    n_convicted = 0
    for q in range(m):
        n = numbers[q]
        if at(key, P_CONVICTION, n if n >= 0 else 10 ** 9 + index) < P[P_CONV_P]:
            numbers[n_convicted] = q  # reuse: positions of the convicted offences
            n_convicted += 1
    remand_days = F[o, F_REMAND_DAYS] + (
        (now - F[o, F_REMANDED_SINCE]) if not np.isnan(F[o, F_REMANDED_SINCE]) else 0.0)
    if I[o, I_STATUS] == REMAND:
        BC[B_COURT_ENDS_REMAND] += 1
        I[o, I_STATUS] = liberty_status(F, I, o, now)
        F[o, F_LIBERTY_START] = now
        F[o, F_STATUS_END] = np.inf
    if n_convicted == 0:
        BC[B_COURT_ACQUITTED] += 1
        return
    BC[B_COURT_CONVICTED] += 1
    extra = poisson_quantile(P[P_EXTRA_MEAN], at(key, P_EXTRA_OFFENCES, index))
    if extra:
        BC[B_EXTRA_OFFENCES] += 1
    first_day = days[0]
    for q in range(1, m):
        if days[q] < first_day:
            first_day = days[q]
    for q in range(n_convicted):
        if days[numbers[q]] >= PROVEN_FROM:
            recs.append((np.int64(o) * 4 + REC_PROVEN, days[numbers[q]], now))
    if first_day >= PROVEN_FROM:
        for _ in range(extra):
            recs.append((np.int64(o) * 4 + REC_PROVEN, first_day, now))
    recs.append((np.int64(o) * 4 + REC_CONVICTION, now, np.float64(n_convicted + extra)))
    add_cost(costs, horizon, now, MI[Q_ITEM_PSR], P[P_PSR_COST])
    u = at(key, P_SENTENCE, index)
    if u < MF[MI[NO_custody_p] + c]:
        BC[B_SENTENCE_CUSTODY] += 1
        length = quantile(MF, MI, T_CUSTODY_CROWN if c == CROWN else T_CUSTODY_MAG,
                          at(key, P_SENTENCE_LENGTH, index))
        imprison(MF, MI, F, I, BC, o, now, length, remand_days)
    elif u < MF[MI[NO_custody_p] + c] + MF[MI[NO_order_p] + c]:
        BC[B_SENTENCE_ORDER] += 1
        d = quantile(MF, MI, T_ORDER, at(key, P_ORDER_LENGTH, index))
        F[o, F_ORDER_END] = max(F[o, F_ORDER_END], now + d)
        if at_liberty(I[o, I_STATUS]):
            I[o, I_STATUS] = liberty_status(F, I, o, now)
    else:
        BC[B_SENTENCE_NONE] += 1


@njit(cache=True, inline="always")
def handle_scheduled(MF, MI, F, I, A, SE, keys, RS, HP, costs, horizon, recs, CO, BC, o,
                     now):
    """Everything scheduled that is due by ``now``; True if the offender has left."""
    e = I[o, I_SE_NEXT]
    while e < I[o, I_SE_END] and SE[e, 0] <= now + EPS:
        I[o, I_SE_NEXT] = e + 1
        kind = SE[e, 1]
        if kind == SE_RELEASE:
            status = I[o, I_STATUS]
            if status == CUSTODY or status == REMAND:
                BC[B_SCHEDULED_RELEASE] += 1
                end_remand(F, I, BC, o, now)
                F[o, F_STATUS_END] = now
            else:
                BC[B_SCHEDULED_RELEASE_AT_LIBERTY] += 1
        elif kind == SE_RECALL:
            recall(MF, MI, F, I, keys, costs, horizon, BC, o, now, SE[e, 2])
        else:
            BC[B_SCHEDULED_EXIT] += 1
            I[o, I_STATUS] = EXITED
            I[o, I_EXITED] = 1
            I[o, I_EXIT_CAUSE] = 2  # moved away
            return True
        e += 1
    if I[o, I_COURT] >= 0 and F[o, F_COURT_DAY] <= now + EPS:
        court(MF, MI, F, I, keys, costs, horizon, recs, CO, BC, o, now)
    status = I[o, I_STATUS]
    if (status == CUSTODY or status == REMAND) and F[o, F_STATUS_END] <= now + EPS:
        new = liberty_status(F, I, o, now)
        BC[B_RELEASE_TO_LICENCE if new == LICENCE else
           B_RELEASE_TO_ORDER if new == COMMUNITY_ORDER else B_RELEASE_UNSUPERVISED] += 1
        I[o, I_STATUS] = new
        I[o, I_REASON] = R_NONE
        F[o, F_LIBERTY_START] = now
    elif status == LICENCE and F[o, F_LICENCE_END] <= now + EPS:
        BC[B_LICENCE_ENDED] += 1
        I[o, I_STATUS] = liberty_status(F, I, o, now)
    elif status == COMMUNITY_ORDER and F[o, F_ORDER_END] <= now + EPS:
        BC[B_ORDER_ENDED] += 1
        I[o, I_STATUS] = liberty_status(F, I, o, now)
    if I[o, I_ON_IOM] and min(A[o, A_IOM_END], A[o, A_IOM_QUIET_END]) <= now + EPS:
        BC[B_IOM_DESELECTED if A[o, A_IOM_QUIET_END] <= A[o, A_IOM_END] else
           B_IOM_MAX_DURATION] += 1
        I[o, I_ON_IOM] = 0
        A[o, A_PERSIST_UNTIL] = now + persistence_days(MF, keys, o)
        if I[o, I_IOM_PLACE]:
            release_iom_place(RS, HP, I, o, now)
    return False


@njit(cache=True, inline="always")
def persistence_days(MF, keys, o):
    """simpy offender.persistence_days: exponential with the half-life given."""
    if MF[P_PERSIST_HALF_LIFE] <= 0.0:
        return 0.0
    return -math.log(at(keys[o], P_IOM_RESPONSE, 3)) * MF[P_PERSIST_HALF_LIFE] / LN2


@njit(cache=True, inline="always")
def change_phase(MF, F, I, keys, BC, o):
    """simpy offender._change_phase: desist, or move between active and quiet."""
    u = at(keys[o], P_PHASE_CHOICE, I[o, I_CNT0 + PHASE] - 1)
    phase = I[o, I_PHASE]
    leave = MF[P_LEAVE_ACTIVE] if phase == ACTIVE else MF[P_LEAVE_QUIET]
    desist = F[o, F_DESIST]
    if u * (leave + desist) < desist:
        BC[B_DESISTED] += 1
        I[o, I_PHASE] = DESISTED
    elif phase == ACTIVE:
        BC[B_PHASE_TO_QUIET] += 1
        I[o, I_PHASE] = QUIET
    else:
        BC[B_PHASE_TO_ACTIVE] += 1
        I[o, I_PHASE] = ACTIVE


@njit(cache=True, inline="always")
def handle_clock(MF, MI, F, I, A, keys, costs, horizon, recs, CO, BC, o, now, clock):
    if clock == OFFENCE:
        offence(MF, MI, F, I, A, keys, costs, horizon, recs, CO, BC, o, now)
    elif clock == LICENCE_BREACH:
        if I[o, I_STATUS] == LICENCE:
            BC[B_LICENCE_BREACH_RECALL] += 1
            recall(MF, MI, F, I, keys, costs, horizon, BC, o, now, np.nan)
    elif clock == ORDER_BREACH:
        if I[o, I_STATUS] == COMMUNITY_ORDER:
            order_breach(MF, MI, F, I, keys, costs, horizon, BC, o, now)
    elif clock == PHASE:
        change_phase(MF, F, I, keys, BC, o)
    elif clock == EXIT:
        u = next_uniform(I, keys, o, P_EXIT_CAUSE, I_CNT0 + N_CLOCKS)
        status = I[o, I_STATUS]
        in_custody = status == CUSTODY or status == REMAND  # only death runs in custody
        BC[B_EXIT_DIED_IN_CUSTODY if in_custody else
           B_EXIT_DIED if u < MF[P_DEATH_SHARE] else B_EXIT_MOVED_AWAY] += 1
        I[o, I_STATUS] = EXITED
        I[o, I_EXITED] = 1
        I[o, I_EXIT_CAUSE] = 1 if (in_custody or u < MF[P_DEATH_SHARE]) else 2
        return True
    else:
        bit = 1 << (clock - NEED0)
        if I[o, I_NEED] & bit:
            BC[B_NEED_RESOLVED] += 1
            I[o, I_NEED] &= ~bit
        else:
            BC[B_NEED_RELAPSED] += 1
            I[o, I_NEED] |= bit
            if I[o, I_ON_IOM]:
                BC[B_REFERRAL_ON_RELAPSE] += 1
                refer(MF, MI, I, costs, horizon, o, now, 1)
    return False


# ------------------------------------------------------------------ one step of the process

@njit(cache=True, inline="always")
def begin_step(MF, MI, F, NC, I, S, A, SE, RS, HP, recs, horizon, BC, o, t0):
    """The top of the process loop at ``t0``: places, rates, and the next wake-up."""
    using = services_in_use(MF, MI, F, I, S, o, t0) if MI[NL_svc_item] else 0
    if MI[NL_cap_svc]:
        if using & MI[Q_CAP_MASK] != S[o, S_HELD]:
            update_places(MF, MI, F, I, S, RS, HP, recs, BC, o, t0, using)
        if S[o, S_HELD]:
            for k in range(MI[NL_cap_svc]):
                if not np.isnan(F[o, F_QS0 + k]):
                    using &= ~(1 << MI[MI[NO_cap_svc] + k])
    set_clock_rates(MF, MI, F, NC, I, S, A, o, t0, using)
    # The first clock to fire, the first in clock order on a tie (as fire_at.index(min)).
    t_clock = np.inf
    fired = -1
    rate = F[o, F_OFF_RATE]
    if rate > 0.0:
        t_clock = F[o, F_MARK0 + 2 * OFFENCE] + F[o, F_RES0 + 2 * OFFENCE] / rate
        fired = OFFENCE
    if F[o, F_TOTHER] < t_clock:
        t_clock = F[o, F_TOTHER]
        fired = I[o, I_OTHER]
    if fired < 0:
        fired = 0  # all clocks stopped: simpy's fire_at.index(inf) is clock 0 (never fires)
    t_next = next_scheduled(MF, MI, F, I, A, SE, o, horizon, t0)
    if not t_clock <= t_next:
        fired = -1
    dt = min(t_clock, t_next) - t0
    if dt < 0:
        dt = 0.0
    F[o, F_T0] = t0
    F[o, F_DT] = dt
    F[o, F_TNEXT] = t_next
    I[o, I_FIRED] = fired
    S[o, S_RECV] = using
    schedule(HP, RS, I, o, t0 + dt)


@njit(cache=True, inline="always")
def accrue(MF, MI, F, I, A, costs, horizon, o, t0, t1, received):
    """Daily costs over [t0, t1) split at years; custody and IOM days; undetected offences."""
    P = MF
    status = I[o, I_STATUS]
    on_iom = I[o, I_ON_IOM] != 0
    rate = F[o, F_OFF_RATE]
    total = 0.0
    if rate > 0:
        mean = P[P_MEAN_DET_IOM] if on_iom else P[P_MEAN_DET]
        total = rate / mean if mean > 0 else 0.0
    detection = MI[NO_det_iom] if on_iom else MI[NO_det]
    a = max(t0, 0.0)
    b = min(t1, horizon)
    while a < b:
        year = int(a // DAYS_PER_YEAR)
        end = min(b, (year + 1) * DAYS_PER_YEAR)
        span = end - a
        if status == CUSTODY:
            r = I[o, I_REASON]
            costs[year, MI[MI[NO_item_prison] + (R_RECALL if r == R_RECALL else R_SENTENCE)]] += P[P_PRISON_PER_DAY] * span
        elif status == REMAND:
            costs[year, MI[MI[NO_item_prison] + 3]] += P[P_PRISON_PER_DAY] * span
        elif status == LICENCE:
            costs[year, MI[Q_ITEM_LICENCE]] += P[P_LICENCE_PER_DAY] * span
        elif status == COMMUNITY_ORDER:
            costs[year, MI[Q_ITEM_ORDER]] += P[P_ORDER_PER_DAY] * span
        costed = received & MI[Q_COSTED]
        if costed:
            for i in range(MI[NL_svc_item]):
                if costed >> i & 1 and MF[MI[NO_svc_per_day] + i] > 0:
                    costs[year, MI[MI[NO_svc_item] + i]] += MF[MI[NO_svc_per_day] + i] * span
        if on_iom:
            role = I[o, I_ROLE]
            if role >= 0:
                costs[year, MI[MI[NO_om_item] + role]] += MF[MI[NO_om_per_day] + role] * span
            for d in range(MI[NL_iomd_item]):
                costs[year, MI[MI[NO_iomd_item] + d]] += MF[MI[NO_iomd_per_day] + d] * span
        if rate > 0:
            for k in range(MI[NL_det]):
                rk = total * MF[MI[NO_shares] + k] * (1.0 - MF[detection + k])
                if MF[MI[NO_victim_cost] + k] > 0 and rk > 0:
                    costs[year, MI[MI[NO_item_victims] + k]] += rk * MF[MI[NO_victim_cost] + k] * span
        a = end
    if status == CUSTODY or status == REMAND:
        before = min(t1, 0.0) - max(t0, -TWO_YEARS)
        if before > 0:
            F[o, F_CUSTODY_BEFORE] += before
        after = min(t1, horizon, TWO_YEARS) - max(t0, 0.0)
        if after > 0:
            F[o, F_CUSTODY_24M] += after
    if t1 > 0.0 and o < A.shape[0]:
        inside = min(t1, horizon) - max(t0, 0.0)
        if inside > 0:
            if status == CUSTODY or status == REMAND:
                A[o, A_CUSTODY_DAYS] += inside
            if on_iom:
                A[o, A_IOM_DAYS] += inside
            if rate > 0:
                for k in range(MI[NL_det]):
                    A[o, A_OBT0 + k] += total * MF[MI[NO_shares] + k] * (1.0 - MF[detection + k]) * inside


@njit(cache=True)
def start_iom(MF, MI, I, A, costs, horizon, recs, BC, o, now):
    """start_iom when an offender manager's place is granted (capacity-limited IOM). Whether
    the offender responds, by how much, and the manager's role were set at day 0 (they are
    read only while on IOM or after it)."""
    BC[B_IOM_STARTED] += 1
    if I[o, I_RESPONDER]:
        BC[B_IOM_RESPONDER] += 1
    I[o, I_ON_IOM] = 1
    A[o, A_IOM_END] = now + MF[P_MAX_DURATION] if MF[P_MAX_DURATION] != 0.0 else np.inf
    A[o, A_IOM_QUIET_END] = now + MF[P_DESELECT_DAYS] if MF[P_DESELECT_DAYS] != 0.0 else np.inf
    recs.append((np.int64(o) * 4 + REC_WAIT, now - 0.0, np.float64(IOM_PLACE)))  # asked at 0
    x = I[o, I_NEED]
    active = 0
    while x:
        x &= x - 1
        active += 1
    if active:
        BC[B_REFERRAL_AT_START] += 1
        refer(MF, MI, I, costs, horizon, o, now, active)


@njit(cache=True, inline="always")
def end_step(MF, MI, F, NC, I, S, A, SE, keys, RS, HP, costs, horizon, recs, CO, BC, o, t1,
             iom_start):
    """The code after the ``yield``: accrue, then scheduled events and a fired clock. With
    ``iom_start`` the step was interrupted by an offender manager's place granted at ``t1``:
    IOM starts after the step's costs are accrued (they ran without it)."""
    t0 = F[o, F_T0]
    dt = F[o, F_DT]
    elapsed = t1 - t0
    if elapsed > 0:
        accrue(MF, MI, F, I, A, costs, horizon, o, t0, t1, S[o, S_RECV])
    if iom_start:
        start_iom(MF, MI, I, A, costs, horizon, recs, BC, o, t1)
    if S[o, S_HELD]:
        for k in range(MI[NL_cap_svc]):
            qs = F[o, F_QS0 + k]
            i = MI[MI[NO_cap_svc] + k]
            if not np.isnan(qs) and S[o, S_GRANTED] & (1 << i):
                # A place granted at the horizon ends no wait: the wait was still open then.
                if qs < 0:
                    BC[B_SERVICE_WAIT_BEFORE_DAY_0] += 1
                elif t1 < horizon - EPS:
                    BC[B_SERVICE_WAIT] += 1
                    recs.append((np.int64(o) * 4 + REC_WAIT, t1 - qs, np.float64(i)))
                else:
                    BC[B_SERVICE_WAIT_OPEN_AT_HORIZON] += 1
                F[o, F_QS0 + k] = np.nan
    if t1 >= horizon - EPS:
        release_all(MF, MI, F, I, S, RS, HP, o, t1)
        I[o, I_DONE] = 1
        return
    if t1 + EPS >= F[o, F_TNEXT] and handle_scheduled(MF, MI, F, I, A, SE, keys, RS, HP, costs,
                                                      horizon, recs, CO, BC, o, t1):
        release_all(MF, MI, F, I, S, RS, HP, o, t1)
        I[o, I_DONE] = 1
        return
    fired = I[o, I_FIRED]
    if fired >= 0 and elapsed >= dt - 1e-12 * max(1.0, dt):
        cnt = I_CNT0 + fired
        draw = -math.log(next_uniform(I, keys, o, MI[MI[NO_clock_purpose] + fired], cnt))
        set_clock(F, NC, I, o, fired, draw, t1)
        if fired != OFFENCE:
            update_other(MF, MI, F, NC, I, S, o)
        if handle_clock(MF, MI, F, I, A, keys, costs, horizon, recs, CO, BC, o, t1, fired):
            release_all(MF, MI, F, I, S, RS, HP, o, t1)
            I[o, I_DONE] = 1
            return
    begin_step(MF, MI, F, NC, I, S, A, SE, RS, HP, recs, horizon, BC, o, t1)


@intrinsic
def _void_ptr(typingctx, address):
    """The integer ``address`` as a void pointer (for numba.carray)."""
    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], cgutils.voidptr_t)
    return types.voidptr(address), codegen


@intrinsic
def _prefetch(typingctx, address):
    """A hint that the byte at integer ``address`` will be read soon (llvm.prefetch): it
    changes no result, only when the memory arrives."""
    def codegen(context, builder, signature, args):
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [cgutils.voidptr_t, i32, i32, i32])
        # llvmlite names it for its pointer types (p0i8 or p0); LLVM remangles as it needs.
        fn = builder.module.declare_intrinsic("llvm.prefetch", [cgutils.voidptr_t], fnty)
        builder.call(fn, [builder.inttoptr(args[0], cgutils.voidptr_t), ir.Constant(i32, 0),
                          ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()
    return types.void(address), codegen


@njit(cache=True, inline="always")
def prefetch_row(X, o):
    """Ask for row ``o`` of the 2-D C-contiguous array X, every cache line of it."""
    size = X.shape[1] * X.itemsize
    if size > 0:
        first = X.ctypes.data + o * size
        for k in range(0, size, 64):
            _prefetch(first + k)
        _prefetch(first + size - 1)


@njit(cache=True)
def run_phase(MF, MI, F, NC, I, S, A, SE, keys, RS, HP, costs, horizon, start, CO, BC):
    """Run every offender from ``start`` to ``horizon`` (or exit).

    Returns the records (see REC_T) and the number of events. ``CO`` is the case pool (carried
    in from an earlier phase, and added to here); ``SE`` the scheduled events; ``BC`` the
    counts of the rule branches taken (slots B_*), added to. With RS's
    offender managers' places set (capacity-limited IOM), each offender asks for one at
    ``start``, in index order, after their first step has begun (as simpy starts the life
    process, then the allocation process, of each offender in turn).
    """
    # Views without a reference count: numba counts references to every array handed to every
    # function, which cost more than the model's own arithmetic. The arrays themselves are kept
    # alive by the caller for the whole call.
    MF = carray(_void_ptr(MF.ctypes.data), MF.shape, np.float64)
    MI = carray(_void_ptr(MI.ctypes.data), MI.shape, np.int64)
    F = carray(_void_ptr(F.ctypes.data), F.shape, np.float64)
    NC = carray(_void_ptr(NC.ctypes.data), NC.shape, np.float64)
    I = carray(_void_ptr(I.ctypes.data), I.shape, np.int32)
    S = carray(_void_ptr(S.ctypes.data), S.shape, np.int64)
    A = carray(_void_ptr(A.ctypes.data), A.shape, np.float64)
    SE = carray(_void_ptr(SE.ctypes.data), SE.shape, np.float64)
    keys = carray(_void_ptr(keys.ctypes.data), keys.shape, np.uint64)
    RS = carray(_void_ptr(RS.ctypes.data), RS.shape, np.int64)
    HP = carray(_void_ptr(HP.ctypes.data), HP.shape, np.float64)
    costs = carray(_void_ptr(costs.ctypes.data), costs.shape, np.float64)
    BC = carray(_void_ptr(BC.ctypes.data), BC.shape, np.int64)
    recs = List.empty_list(REC_T)
    n = F.shape[0]
    iom_places = RS[RS_IOM_PLACES] >= 0
    for o in range(n):
        if I[o, I_DONE] == 0:
            begin_step(MF, MI, F, NC, I, S, A, SE, RS, HP, recs, horizon, BC, o, start)
            if iom_places:
                ask_iom_place(RS, HP, I, BC, o, start)
    events = 0
    while RS[0] > 0:
        t, o, v = heap_pop(HP, RS)
        if RS[0] > 0:
            # The next to wake is most likely the heap's new top: its rows are asked for now,
            # to arrive while this step runs (a large population's state is not in the cache).
            nxt = np.int64(HP[2, 0]) >> 32
            prefetch_row(F, nxt)
            prefetch_row(I, nxt)
            prefetch_row(S, nxt)
            if A.shape[0] > 0:
                prefetch_row(A, nxt)
            _prefetch(keys.ctypes.data + nxt * 8)
        iom_start = v == IOM_START
        if iom_start:
            # iom_allocation resumed: the place is used only by someone still there, before
            # the horizon (and given back otherwise). A place handed on by someone leaving at
            # the horizon is granted at a time that can round a hair below it: that is the
            # horizon too, as for the services' waits.
            if I[o, I_IOM_PLACE] != 2 or I[o, I_DONE] != 0 or I[o, I_ON_IOM] != 0:
                BC[B_IOM_PLACE_UNUSED] += 1
                continue
            if t >= horizon - EPS:
                BC[B_IOM_PLACE_UNUSED] += 1
                release_iom_place(RS, HP, I, o, t)
                continue
            BC[B_IOM_PLACE_GRANTED] += 1
            I[o, I_VERSION] += 1  # the step's own wake-up is replaced by the interruption
        elif v != I[o, I_VERSION]:
            continue
        events += 1
        if I[o, I_HAD] != 0:  # its needs' clocks, found from its row (now in the cache)
            _prefetch(NC.ctypes.data + 16 * I[o, I_NB])
        end_step(MF, MI, F, NC, I, S, A, SE, keys, RS, HP, costs, horizon, recs, CO, BC, o, t,
                 iom_start)
        if RS[0] > 0:
            # The next to wake's row has arrived by now: what it points to is asked for too.
            nxt = np.int64(HP[2, 0]) >> 32
            if I[nxt, I_HAD] != 0:
                _prefetch(NC.ctypes.data + 16 * I[nxt, I_NB])
            e = I[nxt, I_SE_NEXT]
            if e < I[nxt, I_SE_END]:
                _prefetch(SE.ctypes.data + 24 * e)
    return recs, events


# ------------------------------------------------------------------ initial state

@njit(cache=True, inline="always")
def takes_up(u, i, group_start, group_end, group_members, uptake):
    """Whether an offender with uniform ``u`` for service i (or its group) uses it, at these
    uptakes (as simpy's _takes_up): alone, u < its uptake; in an exclusive group, the member
    whose share of the cumulative uptakes u falls in."""
    if group_start < 0:
        return u < uptake[i]
    acc = 0.0
    for g in range(group_start, group_end):
        m = group_members[g]
        acc += uptake[m]
        if u < acc:
            return m == i
    return False


@njit(cache=True)
def init_offenders(MF, MI, F, NC, I, S, keys, ogrs, frailty, age, needs, status, status_days,
                   licence_after, start, fv, normaliser_p, svc_key, svc_group_start,
                   svc_group_end, group_members, svc_uptake, svc_iom_uptake, n_services,
                   se_offsets):
    """The state at ``start``; offender o's scheduled events are SE[se_offsets[o]:
    se_offsets[o + 1]], in the order they fall due."""
    n = F.shape[0]
    nb = 0  # the needs' clocks of offenders 0..o-1 in NC
    for o in range(n):
        mask = 0
        I[o, I_NB] = nb
        for j in range(N_NEEDS):
            if needs[o, j]:
                mask |= 1 << j
                nb += 1
        I[o, I_NEED] = mask
        I[o, I_HAD] = mask
        g = ogrs[o]
        F[o, F_OGRS] = g
        if fv <= 0:
            hazard = -math.log1p(-g)
        else:
            hazard = ((1.0 - g) ** (-fv) - 1.0) / fv
        F[o, F_BASE_RATE] = ((frailty[o] * hazard / normaliser_p / MF[MI[NO_need_factor] + mask])
                             * MF[P_RATE_MULT] if normaliser_p > 0 else 0.0)
        key = keys[o]
        I[o, I_PHASE] = ACTIVE if at(key, P_PHASE_CHOICE, 0) < MF[P_ACTIVE_SHARE] else QUIET
        # model.desistance_rate
        F[o, F_DESIST] = (MF[P_DESIST_30] * math.exp(MF[P_DESIST_SLOPE] * (age[o] - 30.0))
                          if MF[P_DESIST_30] > 0.0 else 0.0)
        st = status[o]
        I[o, I_STATUS] = st
        I[o, I_REASON] = R_SENTENCE if st == CUSTODY else R_NONE
        F[o, F_STATUS_END] = start + status_days[o] if (st == CUSTODY or st == REMAND) else np.inf
        F[o, F_LICENCE_END] = -np.inf
        F[o, F_ORDER_END] = -np.inf
        F[o, F_SENTENCE_DAYS] = 2 * licence_after[o]
        if st == CUSTODY:
            F[o, F_LICENCE_END] = F[o, F_STATUS_END] + licence_after[o]
        elif st == LICENCE:
            F[o, F_LICENCE_END] = start + status_days[o]
        elif st == COMMUNITY_ORDER:
            F[o, F_ORDER_END] = start + status_days[o]
        F[o, F_LIBERTY_START] = -np.inf
        I[o, I_COURT] = -1
        F[o, F_REMANDED_SINCE] = np.nan
        for c in range(N_CLOCKS):
            I[o, I_CNT0 + c] = 1
            draw = -math.log(at(key, MI[MI[NO_clock_purpose] + c], 0))
            if c < NEED0 or (mask >> (c - NEED0)) & 1:
                set_clock(F, NC, I, o, c, draw, start)
        without = 0
        with_iom = 0
        for i in range(n_services):
            u = at(key, P_SERVICE_UPTAKE, svc_key[i])
            a = takes_up(u, i, svc_group_start[i], svc_group_end[i], group_members, svc_uptake)
            b = takes_up(u, i, svc_group_start[i], svc_group_end[i], group_members,
                         svc_iom_uptake)
            if a:
                without |= 1 << i
            if b:
                with_iom |= 1 << i
        S[o, S_UPTAKE0] = without
        S[o, S_UPTAKE1] = with_iom
        I[o, I_ROLE] = -1
        I[o, I_KEY] = -1
        I[o, I_SE_NEXT] = se_offsets[o]
        I[o, I_SE_END] = se_offsets[o + 1]
        I[o, I_CO_HEAD] = -1
        I[o, I_CO_TAIL] = -1
        I[o, I_IOM_NEXT] = -1
        I[o, I_IOM_PREV] = -1
        F[o, F_TOTHER] = np.inf
        I[o, I_OTHER] = -1
        for k in range(MI[NL_cap_svc]):
            F[o, F_QS0 + k] = np.nan
        if st == REMAND:
            I[o, I_COURT] = MAGISTRATES
            F[o, F_COURT_DAY] = F[o, F_STATUS_END]
            I[o, I_CASE_INDEX] = 0
            I[o, I_CASE_LEN] = 1
            I[o, I_CASE_N0] = -1
            F[o, F_CASE_DAY0] = start - EPS
            F[o, F_REMANDED_SINCE] = start
            I[o, I_CASE_COUNT] = 1


@njit(cache=True)
def uptake_without_iom(keys, svc_key, svc_group_start, svc_group_end, group_members,
                       svc_uptake, n_services):
    """Each offender's services taken up without IOM (init_offenders' S_UPTAKE0), alone."""
    out = np.zeros(keys.shape[0], dtype=np.int64)
    for o in range(keys.shape[0]):
        mask = 0
        for i in range(n_services):
            u = at(keys[o], P_SERVICE_UPTAKE, svc_key[i])
            if takes_up(u, i, svc_group_start[i], svc_group_end[i], group_members, svc_uptake):
                mask |= 1 << i
        out[o] = mask
    return out


@njit(cache=True)
def compact_rows(X, rows):
    """X[k] = X[rows[k]] for increasing rows (rows[k] >= k: no row is read after it is written)."""
    for k in range(rows.shape[0]):
        r = rows[k]
        if r != k:
            for c in range(X.shape[1]):
                X[k, c] = X[r, c]


@njit(cache=True)
def permute_rows(X, order):
    """X[k] = X[order[k]] for every k, in place (a permutation: each cycle with one row kept
    aside), so that a large state is put in another order without a copy of it."""
    n = X.shape[0]
    done = np.zeros(n, dtype=np.bool_)
    row = np.empty(X.shape[1], dtype=X.dtype)
    for start in range(n):
        if done[start] or order[start] == start:
            done[start] = True
            continue
        row[:] = X[start]
        k = start
        while True:
            done[k] = True
            src = order[k]
            if src == start:
                X[k] = row
                break
            X[k] = X[src]
            k = src


@njit(cache=True)
def compact_needs(NC, I):
    """The needs' clocks of the (already compacted) rows of I moved to the front of NC, in
    order, and I's bases updated; returns the length of NC in use."""
    nb = 0
    for k in range(I.shape[0]):
        old = I[k, I_NB]
        x = I[k, I_HAD]
        count = 0
        while x:
            x &= x - 1
            count += 1
        if old != nb:
            for q in range(2 * count):
                NC[2 * nb + q] = NC[2 * old + q]
        I[k, I_NB] = nb
        nb += count
    return 2 * nb


@njit(cache=True)
def iom_uniforms(keys, rows):
    out = np.empty((rows.shape[0], 3))
    for r in range(rows.shape[0]):
        for k in range(3):
            out[r, k] = at(keys[rows[r]], P_IOM_RESPONSE, k)
    return out


@njit(cache=True)
def rec_arrays(lst):
    """The records (a list of REC_T) as three arrays: int64, float64, float64."""
    n = len(lst)
    a = np.empty(n, dtype=np.int64)
    b = np.empty(n, dtype=np.float64)
    c = np.empty(n, dtype=np.float64)
    for i in range(n):
        x = lst[i]
        a[i] = x[0]
        b[i] = x[1]
        c[i] = x[2]
    return a, b, c


@njit(cache=True)
def case_pool():
    """An empty case pool (entry 0 heads the free entries)."""
    out = List.empty_list(CASE_T)
    out.append((np.int64(-1), np.int64(0), 0.0))
    return out


@njit(cache=True)
def case_pool_compact(pool, I):
    """A new case pool with only the chains of the rows of ``I`` (their heads and tails in
    ``I`` renumbered), row by row: the open cases' offences of the offenders not selected, and
    the free entries, are left behind."""
    out = List.empty_list(CASE_T)
    out.append((np.int64(-1), np.int64(0), 0.0))
    for o in range(I.shape[0]):
        e = I[o, I_CO_HEAD]
        if e < 0:
            continue
        I[o, I_CO_HEAD] = len(out)
        while e >= 0:
            entry = pool[e]
            e = entry[0]
            out.append((np.int64(len(out) + 1 if e >= 0 else -1), entry[1], entry[2]))
        I[o, I_CO_TAIL] = len(out) - 1
    return out


@njit(cache=True)
def case_pool_copy(pool):
    out = List.empty_list(CASE_T)
    for i in range(len(pool)):
        out.append(pool[i])
    return out
