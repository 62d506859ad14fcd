"""A compiled (numba) implementation of the event loop, giving the same results as the simpy one.

The simpy engine (:mod:`iomsim.engine.offender`) is the reference. This module runs the same
model with every offender's state in a few numpy arrays (one row per offender: ``F`` for
floating-point fields, the clocks' residuals and marks included, ``I`` for integer fields and
the stream counters, ``A`` for what only the arms need) and one 4-ary heap of (time, sequence
number, offender and version) rows for the whole population, so that the per-event work is
compiled code and not Python objects. The model's numbers are packed into two arrays (``MF``,
``MI``) and the kernels work on views without reference counts (see ``run_phase``).

Exactness. Every random number is drawn from the same keyed stream at the same index as the simpy
engine draws it (``mix64``/``uniform_at`` and the per-purpose counters are ported with uint64
arithmetic), and every floating-point formula is evaluated in the same order. With no
capacity-limited service, offenders do not interact, so the event histories are the same and the
results agree to rounding (in practice bit for bit). With capacity-limited services,
a place given up is handed to the head of the first-come first-served queue at once (simpy hands
it over when the release event is processed, a few events later at the same time), so queue
order at exactly equal times may differ: agreement is then statistical (on full Sussex every
replication tried was nevertheless identical).

Each offender's process is a sequence of *steps*. A step starts at ``t0`` (the top of the
``while`` loop in :func:`iomsim.engine.offender.offender_life`): places are asked for or given
up, clock rates brought up to date, and the wake-up time ``t0 + dt`` put on the heap. When it is
popped (or the offender is woken earlier by a place granted), the step ends as the code after the
``yield`` does, and the next step starts at once. The offender's state does not change between
``t0`` and the wake-up (only a place can be granted), so the daily costs of the step are worked
out at the wake-up from the state.

Not ported (a clear error is raised): fixed events from cohort records (``scheduled_events``),
capacity-limited IOM (``iom.places_per_1000``), and ``keep_offenders``.
"""

from __future__ import annotations

import math
from collections import namedtuple
from statistics import NormalDist

try:
    from statistics import _normal_dist_inv_cdf
except ImportError:  # pragma: no cover - a Python without it
    def _normal_dist_inv_cdf(p, mu, sigma):
        return NormalDist(mu, sigma).inv_cdf(p)

import numpy as np
from numba import carray, njit, types
from numba.core import cgutils
from numba.extending import intrinsic
from numba.typed import List

from iomsim.engine import model as _model
from iomsim.engine import rng as _rng
from iomsim.engine.distributions import lognormal_params
from iomsim.engine.model import Model
from iomsim.engine.rng import Purpose, root_key
from iomsim.scenario.schema import AT_LIBERTY, NEEDS, STATUSES

# numba's on-disk cache is keyed by this file's contents only, so a constant read from another
# module would stay frozen in the cached kernels after that module changed (with wrong results,
# or writes outside the state rows, and no error). The kernels' constants are therefore written
# here as literals and checked against their sources at import: a change there fails loudly
# until it is copied here, which also renews the cache.
INF = math.inf
EPS = 1e-9
DAYS_PER_YEAR = 365.25
N_NEEDS = 10
N_CLOCKS = 4 + N_NEEDS
OFFENCE, LICENCE_BREACH, ORDER_BREACH, EXIT, NEED0 = 0, 1, 2, 3, 4
CLOCK_PURPOSE = np.array([2, 17, 18, 20] + [24 + j for j in range(N_NEEDS)], dtype=np.int64)

# Status codes: the order of STATUSES, then exited.
CUSTODY, REMAND, LICENCE, COMMUNITY_ORDER, UNSUPERVISED, EXITED = 0, 1, 2, 3, 4, 5
STATUS_CODE = {s: i for i, s in enumerate(STATUSES)}
# Custody reasons: 0 none, 1 sentence, 2 recall.
R_NONE, R_SENTENCE, R_RECALL = 0, 1, 2
MAGISTRATES, CROWN = 0, 1
CASE_CAP = 2  # case offences kept in the offender's row; more go to an overflow list

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

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_C1 = np.uint64(0xBF58476D1CE4E5B9)
_C2 = np.uint64(0x94D049BB133111EB)


def constants_drift() -> list[str]:
    """The kernels' literal constants that no longer match the modules they come from."""
    clocks = [Purpose.OFFENCE_CLOCK, Purpose.LICENCE_BREACH_CLOCK, Purpose.ORDER_BREACH_CLOCK,
              Purpose.EXIT_CLOCK] + [Purpose.NEED_CLOCK + j for j in range(len(NEEDS))]
    expected = {
        "DAYS_PER_YEAR": (DAYS_PER_YEAR, _model.DAYS_PER_YEAR),
        "N_NEEDS": (N_NEEDS, len(NEEDS)),
        "CLOCK_PURPOSE": (CLOCK_PURPOSE.tolist(), [int(p) for p in clocks]),
        "STATUSES": (tuple(STATUSES), ("custody", "remand", "licence", "community_order",
                                       "unsupervised")),
        "AT_LIBERTY": (set(AT_LIBERTY), {"licence", "community_order", "unsupervised"}),
        "_GOLDEN": (int(_GOLDEN), _rng.GOLDEN),
        "_C1": (int(_C1), _rng._C1),
        "_C2": (int(_C2), _rng._C2),
    }
    for name, value in list(globals().items()):
        if name.startswith("P_") and name[2:] in Purpose.__members__:
            expected[name] = (value, int(Purpose[name[2:]]))
    return [f"{k}: {here!r} here, {there!r} at the source" for k, (here, there) in expected.items()
            if here != there]


_DRIFT = constants_drift()
if _DRIFT:  # pragma: no cover - only after an edit elsewhere that was not copied here
    raise ImportError("iomsim.engine.compiled: constants out of date with their sources (copy "
                      "the new values into compiled.py): " + "; ".join(_DRIFT))

# ------------------------------------------------------------------ state layout

# Floating-point fields (columns of F).
(F_OGRS, F_BASE_RATE, F_STATUS_END, F_LICENCE_END, F_ORDER_END, F_SENTENCE_DAYS, F_LIBERTY_START,
 F_COURT_DAY, F_REMANDED_SINCE, F_REMAND_DAYS, F_OFF_RATE, F_T0, F_DT, F_TNEXT,
 F_TOTHER) = range(15)
# F_TOTHER: when the first of the clocks other than offending fires (I_OTHER: which)
# Each clock's residual (the unit-exponential hazard still to run) at F_RES0 + 2c and its mark
# (when the residual was last brought up to date) beside it at F_MARK0 + 2c, for the clocks
# but the needs'; the offending clock's, used at every step, right after the scalars above.
# The needs' clocks are in NC, a flat array: only for the needs an offender had at the start
# (a need never had never comes, so its clock never runs), from NC[2 * I[o, I_NB]] on.
F_RES0 = 15
F_MARK0 = 16
F_CASE_DAY0 = F_RES0 + 2 * NEED0  # CASE_CAP case offence days
F_QS0 = F_CASE_DAY0 + CASE_CAP  # queued_since of each capacity-limited service (NaN: None)

# Integer fields (columns of I, int32).
(I_NEED, I_HAD, I_STATUS, I_REASON, I_COURT, I_CASE_INDEX, I_CASE_LEN, I_OFFENCE_COUNT,
 I_CASE_COUNT, I_RECALL_COUNT, I_BREACH_COUNT, I_UPTAKE0, I_UPTAKE1, I_ON_IOM, I_RESPONDER,
 I_ROLE, I_EXITED, I_EXIT_CAUSE, I_KEY, I_FIRED, I_RECV, I_HELD, I_GRANTED, I_VERSION,
 I_DETECTED, I_RECALLS, I_REFERRALS, I_DONE, I_OTHER, I_NB) = range(30)
I_CNT0 = 30  # N_CLOCKS clock counters, then the EXIT_CAUSE counter
I_CASE_N0 = I_CNT0 + N_CLOCKS + 1  # CASE_CAP case offence numbers
I_QN0 = I_CASE_N0 + CASE_CAP  # (next, previous) in the queue of each capacity-limited service

# Fields of the arms only (columns of A; the pre-period's A has no rows, and nothing reads it
# there: nobody is on IOM), then the offences of each type (undetected ones by their expected
# number, as the simpy engine counts them).
(A_CUSTODY_DAYS, A_IOM_DAYS, A_IOM_END, A_IOM_QUIET_END, A_IOM_MULT, A_PERSIST_UNTIL) = range(6)
A_OBT0 = 6

# Scalar model parameters (P, float64).
(P_HORIZON_UNUSED, P_RELEASE_MULT, P_RELEASE_WINDOW, P_MEAN_DET, P_MEAN_DET_IOM, P_LBR, P_OBR,
 P_RECALL_MULT, P_PATHWAY, P_EXIT_LIB, P_EXIT_CUST, P_DEATH_SHARE, P_DESELECT_DAYS,
 P_PERSIST_DAYS, P_ARREST_COST, P_CHARGE_P, P_CAUTION_P, P_ON_CHARGE_P, P_REMAND_P, P_CONV_P,
 P_EXTRA_MEAN, P_PSR_COST, P_RELEASE_FRACTION, P_MIN_SUP, P_RECALL_POLICE, P_RECALL_PROB,
 P_FIXED_SHARE, P_FIXED_SHORT, P_FIXED_LONG, P_SHORT_SENTENCE, P_BREACH_CUSTODY_P,
 P_REFERRAL_COST, P_PRISON_PER_DAY, P_LICENCE_PER_DAY, P_ORDER_PER_DAY) = range(35)
N_P = 35
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
REC_T = types.Tuple((types.int64, types.float64, types.float64))
REC_CONVICTION, REC_PROVEN, REC_WAIT = 0, 1, 2
# Proven offences committed before this are in no metric's window (the earliest is the 12 months
# before day 0): they are not recorded.
PROVEN_FROM = -DAYS_PER_YEAR
CASE_T = types.Tuple((types.int64, types.int64, types.float64))  # (offender, offence n, day)

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

# The heap HP: one row (time, sequence number, offender << 32 | version) per entry, all as
# float64 (the integers are below 2**53), so that an entry is one cache line at most.

@njit(cache=True, inline="always")
def before(HP, a, b):
    return HP[a, 0] < HP[b, 0] or (HP[a, 0] == HP[b, 0] and HP[a, 1] < HP[b, 1])


@njit(cache=True, inline="always")
def heap_push(HP, RS, t, o, v):
    n = RS[0]
    if n == HP.shape[0]:
        return False
    seq = RS[1]
    RS[1] = seq + 1
    fs = np.float64(seq)
    ov = np.float64((np.int64(o) << 32) | np.int64(v))
    i = n
    while i > 0:
        parent = (i - 1) >> 2
        pt = HP[parent, 0]
        if pt < t or (pt == t and HP[parent, 1] < fs):
            break
        HP[i, 0] = pt
        HP[i, 1] = HP[parent, 1]
        HP[i, 2] = HP[parent, 2]
        i = parent
    HP[i, 0] = t
    HP[i, 1] = fs
    HP[i, 2] = ov
    RS[0] = n + 1
    return True


@njit(cache=True, inline="always")
def sift_down(HP, n, i, t, s, ov):
    while True:
        first = 4 * i + 1  # a 4-ary heap: half the depth of a binary one, fewer cache misses
        if first >= n:
            break
        c = first
        for d in range(first + 1, min(first + 4, n)):
            if before(HP, d, c):
                c = d
        if t < HP[c, 0] or (t == HP[c, 0] and s < HP[c, 1]):
            break
        HP[i, 0] = HP[c, 0]
        HP[i, 1] = HP[c, 1]
        HP[i, 2] = HP[c, 2]
        i = c
    HP[i, 0] = t
    HP[i, 1] = s
    HP[i, 2] = ov


@njit(cache=True, inline="always")
def heap_pop(HP, RS):
    """Remove and return the least (time, seq) entry: (time, offender, version)."""
    n = RS[0] - 1
    t0 = HP[0, 0]
    ov = np.int64(HP[0, 2])
    RS[0] = n
    if n > 0:
        sift_down(HP, n, 0, HP[n, 0], HP[n, 1], HP[n, 2])
    return t0, ov >> 32, ov & 0xFFFFFFFF


@njit(cache=True)
def heap_compact(HP, RS, I):
    """Drop entries made stale by a later wake-up of the same offender, and re-heapify."""
    n = RS[0]
    k = 0
    for i in range(n):
        ov = np.int64(HP[i, 2])
        if (ov & 0xFFFFFFFF) == I[ov >> 32, I_VERSION]:
            HP[k, 0] = HP[i, 0]
            HP[k, 1] = HP[i, 1]
            HP[k, 2] = HP[i, 2]
            k += 1
    RS[0] = k
    for start in range((k - 2) // 4, -1, -1):
        sift_down(HP, k, start, HP[start, 0], HP[start, 1], HP[start, 2])


@njit(cache=True, inline="always")
def schedule(HP, RS, I, o, t):
    if not heap_push(HP, RS, t, o, I[o, I_VERSION]):
        heap_compact(HP, RS, I)
        if not heap_push(HP, RS, t, o, I[o, I_VERSION]):
            raise RuntimeError("event heap full")


# ------------------------------------------------------------------ clocks and rates

@njit(cache=True, inline="always")
def at_liberty(status):
    return status == LICENCE or status == COMMUNITY_ORDER or status == UNSUPERVISED


@njit(cache=True, inline="always")
def offending_rate(MF, MI, F, I, A, o, now):
    factor = MF[MI[NO_need_factor] + I[o, I_NEED]]
    if now < F[o, F_LIBERTY_START] + MF[P_RELEASE_WINDOW]:
        factor *= MF[P_RELEASE_MULT]
    if I[o, I_RESPONDER] != 0 and (I[o, I_ON_IOM] != 0 or now < A[o, A_PERSIST_UNTIL]):
        factor *= A[o, A_IOM_MULT]
    return F[o, F_BASE_RATE] * factor


@njit(cache=True, inline="always")
def key_rate(MF, MI, key, had, c):
    """Rate of clock ``c`` (not offending) in the discrete state packed in ``key``."""
    if key < 0:
        return 0.0
    status = key & 7
    on_iom = (key >> 3) & 1
    need = (key >> 4) & ((1 << N_NEEDS) - 1)
    received = key >> (4 + N_NEEDS)
    P = MF
    if c == EXIT:
        return P[P_EXIT_LIB] if at_liberty(status) else P[P_EXIT_CUST]
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
def set_clock_rates(MF, MI, F, NC, I, A, o, now, received):
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
    key = status | (on_iom << 3) | (I[o, I_NEED] << 4) | ((received & MI[Q_BOOSTING]) << (4 + N_NEEDS))
    old_key = I[o, I_KEY]
    if key != old_key:
        had = I[o, I_HAD]
        t_clock = np.inf
        fired = -1
        for c in range(1, N_CLOCKS):
            # A need never had is never a need (needs only come back): its rate is always 0.
            if c >= NEED0 and not (had >> (c - NEED0)) & 1:
                continue
            new = key_rate(MF, MI, key, had, c)
            set_rate(F, NC, I, o, c, key_rate(MF, MI, old_key, had, c), new, now)
            if new > 0.0:
                t = get_mark(F, NC, I, o, c) + get_res(F, NC, I, o, c) / new
                if t < t_clock:
                    t_clock = t
                    fired = c
        I[o, I_KEY] = key
        F[o, F_TOTHER] = t_clock
        I[o, I_OTHER] = fired


@njit(cache=True, inline="always")
def update_other(MF, MI, F, NC, I, o):
    """The first of the clocks but offending to fire (they change only with the state key)."""
    t_clock = np.inf
    fired = -1
    key = I[o, I_KEY]
    had = I[o, I_HAD]
    for c in range(1, N_CLOCKS):
        if c >= NEED0 and not (had >> (c - NEED0)) & 1:
            continue
        rate = key_rate(MF, MI, key, had, c)
        if rate > 0.0:
            t = get_mark(F, NC, I, o, c) + get_res(F, NC, I, o, c) / rate
            if t < t_clock:
                t_clock = t
                fired = c
    F[o, F_TOTHER] = t_clock
    I[o, I_OTHER] = fired


# ------------------------------------------------------------------ services and places

@njit(cache=True, inline="always")
def services_in_use(MF, MI, F, I, o, now):
    status = I[o, I_STATUS]
    using = ((I[o, I_UPTAKE1] if I[o, I_ON_IOM] else I[o, I_UPTAKE0])
             & MI[MI[NO_svc_for_needs] + I[o, I_NEED]] & MI[MI[NO_svc_for_status] + status])
    if using:
        since = F[o, F_LIBERTY_START]
        for w in range(MI[NL_win_days]):
            services = MI[MI[NO_win_mask] + w]
            if using & services and not now < since + MF[MI[NO_win_days] + w]:
                using &= ~services
    return using


# RS (int64): [heap size, next sequence number, then per capacity service k: places, users,
# head of queue, tail of queue]; the queue is a doubly linked list in I (I_QN0 + 2k, + 1).
RS_HEAD = 2


@njit(cache=True, inline="always")
def rs(MI, field, k):
    return RS_HEAD + field * MI[NL_cap_svc] + k


@njit(cache=True)
def grant_waiting(MI, RS, HP, I, k, now):
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
        I[h, I_GRANTED] |= bit
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
def update_places(MF, MI, F, I, RS, HP, recs, o, now, using):
    for k in range(MI[NL_cap_svc]):
        i = MI[MI[NO_cap_svc] + k]
        bit = 1 << i
        want = (using >> i & 1) != 0 and I[o, I_STATUS] != EXITED
        has = (I[o, I_HELD] & bit) != 0
        if want and not has:
            I[o, I_HELD] |= bit
            users = rs(MI, 1, k)
            tail = rs(MI, 3, k)
            if RS[users] < RS[rs(MI, 0, k)] and RS[rs(MI, 2, k)] < 0:
                RS[users] += 1
                I[o, I_GRANTED] |= bit
            else:
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
            if I[o, I_GRANTED] & bit:
                I[o, I_GRANTED] &= ~bit
                RS[rs(MI, 1, k)] -= 1
                grant_waiting(MI, RS, HP, I, k, now)
            else:
                leave_queue(MI, RS, I, o, k)
                qs = F[o, F_QS0 + k]
                if not np.isnan(qs) and qs >= 0:
                    recs.append(((np.int64(o) * 64 + i) * 4 + REC_WAIT, now - qs, 0.0))
            F[o, F_QS0 + k] = np.nan
            I[o, I_HELD] &= ~bit


@njit(cache=True)
def release_all(MF, MI, F, I, RS, HP, o, now):
    for k in range(MI[NL_cap_svc]):
        bit = 1 << MI[MI[NO_cap_svc] + k]
        if I[o, I_HELD] & bit:
            if I[o, I_GRANTED] & bit:
                RS[rs(MI, 1, k)] -= 1
                grant_waiting(MI, RS, HP, I, k, now)
            else:
                leave_queue(MI, RS, I, o, k)
        F[o, F_QS0 + k] = np.nan
    I[o, I_HELD] = 0
    I[o, I_GRANTED] = 0


# ------------------------------------------------------------------ scheduled times

@njit(cache=True, inline="always")
def next_scheduled(MF, MI, F, I, A, o, horizon, now):
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
def end_remand(F, I, o, now):
    if I[o, I_STATUS] == REMAND and I[o, I_COURT] >= 0 and not np.isnan(F[o, F_REMANDED_SINCE]):
        F[o, F_REMAND_DAYS] += now - F[o, F_REMANDED_SINCE]
        F[o, F_REMANDED_SINCE] = np.nan


@njit(cache=True)
def imprison(MF, MI, F, I, o, now, length, credit):
    P = MF
    served = P[P_RELEASE_FRACTION] * length - credit
    licence = max(length * (1 - P[P_RELEASE_FRACTION]), P[P_MIN_SUP])
    F[o, F_SENTENCE_DAYS] = length
    if served <= 0:
        F[o, F_LICENCE_END] = max(F[o, F_LICENCE_END], now + licence)
        if at_liberty(I[o, I_STATUS]):
            I[o, I_STATUS] = liberty_status(F, I, o, now)
        return
    if I[o, I_STATUS] == CUSTODY:
        F[o, F_STATUS_END] = max(F[o, F_STATUS_END], now + served)
    else:
        I[o, I_STATUS] = CUSTODY
        F[o, F_STATUS_END] = now + served
    I[o, I_REASON] = R_SENTENCE
    F[o, F_LICENCE_END] = max(F[o, F_LICENCE_END], F[o, F_STATUS_END] + licence)
    F[o, F_ORDER_END] = min(F[o, F_ORDER_END], now)


@njit(cache=True)
def recall(MF, MI, F, I, keys, costs, horizon, o, now):
    P = MF
    k = I[o, I_RECALL_COUNT]
    I[o, I_RECALL_COUNT] = k + 1
    if now >= 0:
        I[o, I_RECALLS] += 1
    add_cost(costs, horizon, now, MI[Q_ITEM_RECALL_POLICE], P[P_RECALL_POLICE])
    add_cost(costs, horizon, now, MI[Q_ITEM_RECALL_PROB], P[P_RECALL_PROB])
    key = keys[o]
    if at(key, P_RECALL_TYPE, k) < P[P_FIXED_SHARE]:
        days = P[P_FIXED_SHORT] if F[o, F_SENTENCE_DAYS] < P[P_SHORT_SENTENCE] else P[P_FIXED_LONG]
    else:
        days = quantile(MF, MI, T_RECALL, at(key, P_RECALL_LENGTH, k))
        days = max(min(days, F[o, F_LICENCE_END] - now), 1.0)
    if I[o, I_STATUS] == CUSTODY:
        F[o, F_STATUS_END] = max(F[o, F_STATUS_END], now + days)
        return
    end_remand(F, I, o, now)
    I[o, I_STATUS] = CUSTODY
    I[o, I_REASON] = R_RECALL
    F[o, F_STATUS_END] = now + days
    if F[o, F_LICENCE_END] < F[o, F_STATUS_END]:
        F[o, F_LICENCE_END] = F[o, F_STATUS_END]


@njit(cache=True)
def order_breach(MF, MI, F, I, keys, costs, horizon, o, now):
    b = I[o, I_BREACH_COUNT]
    I[o, I_BREACH_COUNT] = b + 1
    add_cost(costs, horizon, now, MI[MI[NO_item_court] + MAGISTRATES], MF[MI[NO_court_cost] + MAGISTRATES])
    if at(keys[o], P_BREACH_OUTCOME, b) < MF[P_BREACH_CUSTODY_P]:
        length = quantile(MF, MI, T_CUSTODY_MAG, at(keys[o], P_BREACH_OUTCOME, 10 ** 6 + b))
        F[o, F_ORDER_END] = now
        imprison(MF, MI, F, I, o, now, length, 0.0)


@njit(cache=True, inline="always")
def offence(MF, MI, F, I, A, keys, costs, horizon, recs, case_over, o, now):
    P = MF
    n = I[o, I_OFFENCE_COUNT]
    I[o, I_OFFENCE_COUNT] = n + 1
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
        A[o, A_IOM_QUIET_END] = now + P[P_DESELECT_DAYS]
    add_cost(costs, horizon, now, MI[Q_ITEM_ARREST], P[P_ARREST_COST])
    add_cost(costs, horizon, now, MI[Q_ITEM_INVEST], MF[MI[NO_invest_cost] + kind])
    u = at(key, P_ARREST_OUTCOME, n)
    if u >= P[P_CHARGE_P]:
        if u < P[P_CHARGE_P] + P[P_CAUTION_P]:
            if now >= PROVEN_FROM:
                recs.append((np.int64(o) * 4 + REC_PROVEN, now, now))
        return
    if I[o, I_COURT] < 0:
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
    m = I[o, I_CASE_LEN]
    if m < CASE_CAP:
        I[o, I_CASE_N0 + m] = n
        F[o, F_CASE_DAY0 + m] = now
    else:
        case_over.append((np.int64(o), np.int64(n), now))
    I[o, I_CASE_LEN] = m + 1
    status = I[o, I_STATUS]
    if status == LICENCE:
        p_recall = P[P_ON_CHARGE_P]
        if on_iom:
            p_recall = min(1.0, p_recall * P[P_RECALL_MULT])
        if at(key, P_RECALL_ON_CHARGE, n) < p_recall:
            recall(MF, MI, F, I, keys, costs, horizon, o, now)
            return
    if at_liberty(status) and at(key, P_REMAND, n) < P[P_REMAND_P]:
        I[o, I_STATUS] = REMAND
        F[o, F_STATUS_END] = F[o, F_COURT_DAY]
        F[o, F_REMANDED_SINCE] = now


@njit(cache=True)
def court(MF, MI, F, I, keys, costs, horizon, recs, case_over, o, now):
    P = MF
    c = I[o, I_COURT]
    I[o, I_COURT] = -1
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
        for e in range(len(case_over)):
            if case_over[e][0] == o:
                numbers[q] = case_over[e][1]
                days[q] = case_over[e][2]
                q += 1
        for e in range(len(case_over) - 1, -1, -1):
            if case_over[e][0] == o:
                case_over.pop(e)
        if q != m:
            raise RuntimeError("case offences lost")
    n_convicted = 0
    for q in range(m):
        n = numbers[q]
        if at(key, P_CONVICTION, n if n >= 0 else 10 ** 9 + index) < P[P_CONV_P]:
            numbers[n_convicted] = q  # reuse: positions of the convicted offences
            n_convicted += 1
    remand_days = F[o, F_REMAND_DAYS] + (
        (now - F[o, F_REMANDED_SINCE]) if not np.isnan(F[o, F_REMANDED_SINCE]) else 0.0)
    if I[o, I_STATUS] == REMAND:
        I[o, I_STATUS] = liberty_status(F, I, o, now)
        F[o, F_LIBERTY_START] = now
        F[o, F_STATUS_END] = np.inf
    if n_convicted == 0:
        return
    extra = poisson_quantile(P[P_EXTRA_MEAN], at(key, P_EXTRA_OFFENCES, index))
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
        length = quantile(MF, MI, T_CUSTODY_CROWN if c == CROWN else T_CUSTODY_MAG,
                          at(key, P_SENTENCE_LENGTH, index))
        imprison(MF, MI, F, I, o, now, length, remand_days)
    elif u < MF[MI[NO_custody_p] + c] + MF[MI[NO_order_p] + c]:
        d = quantile(MF, MI, T_ORDER, at(key, P_ORDER_LENGTH, index))
        F[o, F_ORDER_END] = max(F[o, F_ORDER_END], now + d)
        if at_liberty(I[o, I_STATUS]):
            I[o, I_STATUS] = liberty_status(F, I, o, now)


@njit(cache=True, inline="always")
def handle_scheduled(MF, MI, F, I, A, keys, costs, horizon, recs, case_over, o, now):
    if I[o, I_COURT] >= 0 and F[o, F_COURT_DAY] <= now + EPS:
        court(MF, MI, F, I, keys, costs, horizon, recs, case_over, o, now)
    status = I[o, I_STATUS]
    if (status == CUSTODY or status == REMAND) and F[o, F_STATUS_END] <= now + EPS:
        I[o, I_STATUS] = liberty_status(F, I, o, now)
        I[o, I_REASON] = R_NONE
        F[o, F_LIBERTY_START] = now
    elif status == LICENCE and F[o, F_LICENCE_END] <= now + EPS:
        I[o, I_STATUS] = liberty_status(F, I, o, now)
    elif status == COMMUNITY_ORDER and F[o, F_ORDER_END] <= now + EPS:
        I[o, I_STATUS] = liberty_status(F, I, o, now)
    if I[o, I_ON_IOM] and min(A[o, A_IOM_END], A[o, A_IOM_QUIET_END]) <= now + EPS:
        I[o, I_ON_IOM] = 0
        A[o, A_PERSIST_UNTIL] = now + MF[P_PERSIST_DAYS]
    return False


@njit(cache=True, inline="always")
def handle_clock(MF, MI, F, I, A, keys, costs, horizon, recs, case_over, o, now, clock):
    if clock == OFFENCE:
        offence(MF, MI, F, I, A, keys, costs, horizon, recs, case_over, o, now)
    elif clock == LICENCE_BREACH:
        if I[o, I_STATUS] == LICENCE:
            recall(MF, MI, F, I, keys, costs, horizon, o, now)
    elif clock == ORDER_BREACH:
        if I[o, I_STATUS] == COMMUNITY_ORDER:
            order_breach(MF, MI, F, I, keys, costs, horizon, o, now)
    elif clock == EXIT:
        u = next_uniform(I, keys, o, P_EXIT_CAUSE, I_CNT0 + N_CLOCKS)
        status = I[o, I_STATUS]
        in_custody = status == CUSTODY or status == REMAND
        I[o, I_STATUS] = EXITED
        I[o, I_EXITED] = 1
        I[o, I_EXIT_CAUSE] = 1 if (in_custody or u < MF[P_DEATH_SHARE]) else 2
        return True
    else:
        bit = 1 << (clock - NEED0)
        if I[o, I_NEED] & bit:
            I[o, I_NEED] &= ~bit
        else:
            I[o, I_NEED] |= bit
            if I[o, I_ON_IOM]:
                refer(MF, MI, I, costs, horizon, o, now, 1)
    return False


# ------------------------------------------------------------------ one step of the process

@njit(cache=True, inline="always")
def begin_step(MF, MI, F, NC, I, A, RS, HP, recs, horizon, o, t0):
    """The top of the process loop at ``t0``: places, rates, and the next wake-up."""
    using = services_in_use(MF, MI, F, I, o, t0) if MI[NL_svc_item] else 0
    if MI[NL_cap_svc]:
        if using & MI[Q_CAP_MASK] != I[o, I_HELD]:
            update_places(MF, MI, F, I, RS, HP, recs, o, t0, using)
        if I[o, I_HELD]:
            for k in range(MI[NL_cap_svc]):
                if not np.isnan(F[o, F_QS0 + k]):
                    using &= ~(1 << MI[MI[NO_cap_svc] + k])
    set_clock_rates(MF, MI, F, NC, I, A, o, t0, using)
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
    t_next = next_scheduled(MF, MI, F, I, A, o, horizon, t0)
    if not t_clock <= t_next:
        fired = -1
    dt = min(t_clock, t_next) - t0
    if dt < 0:
        dt = 0.0
    F[o, F_T0] = t0
    F[o, F_DT] = dt
    F[o, F_TNEXT] = t_next
    I[o, I_FIRED] = fired
    I[o, I_RECV] = using
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


@njit(cache=True, inline="always")
def end_step(MF, MI, F, NC, I, A, keys, RS, HP, costs, horizon, recs, case_over, o, t1):
    """The code after the ``yield``: accrue, then scheduled events and a fired clock."""
    t0 = F[o, F_T0]
    dt = F[o, F_DT]
    elapsed = t1 - t0
    if elapsed > 0:
        accrue(MF, MI, F, I, A, costs, horizon, o, t0, t1, I[o, I_RECV])
    if I[o, I_HELD]:
        for k in range(MI[NL_cap_svc]):
            qs = F[o, F_QS0 + k]
            if not np.isnan(qs) and I[o, I_GRANTED] & (1 << MI[MI[NO_cap_svc] + k]):
                # A place granted at the horizon ends no wait: the wait was still open then.
                if qs >= 0 and t1 < horizon - EPS:
                    recs.append(((np.int64(o) * 64 + MI[MI[NO_cap_svc] + k]) * 4 + REC_WAIT,
                                 t1 - qs, 0.0))
                F[o, F_QS0 + k] = np.nan
    if t1 >= horizon - EPS:
        release_all(MF, MI, F, I, RS, HP, o, t1)
        I[o, I_DONE] = 1
        return
    if t1 + EPS >= F[o, F_TNEXT] and handle_scheduled(MF, MI, F, I, A, keys, costs, horizon, recs,
                                                      case_over, o, t1):
        release_all(MF, MI, F, I, RS, HP, o, t1)
        I[o, I_DONE] = 1
        return
    fired = I[o, I_FIRED]
    if fired >= 0 and elapsed >= dt - 1e-12 * max(1.0, dt):
        cnt = I_CNT0 + fired
        draw = -math.log(next_uniform(I, keys, o, MI[MI[NO_clock_purpose] + fired], cnt))
        set_clock(F, NC, I, o, fired, draw, t1)
        if fired != OFFENCE:
            update_other(MF, MI, F, NC, I, o)
        if handle_clock(MF, MI, F, I, A, keys, costs, horizon, recs, case_over, o, t1, fired):
            release_all(MF, MI, F, I, RS, HP, o, t1)
            I[o, I_DONE] = 1
            return
    begin_step(MF, MI, F, NC, I, A, RS, HP, recs, horizon, o, t1)


@intrinsic
def _void_ptr(typingctx, address):
    """The integer ``address`` as a void pointer (for numba.carray)."""
    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], cgutils.voidptr_t)
    return types.voidptr(address), codegen


@njit(cache=True)
def run_phase(MF, MI, F, NC, I, A, keys, RS, HP, costs, horizon, start, case_over):
    """Run every offender from ``start`` to ``horizon`` (or exit).

    Returns the records, (offender * 4 + kind, a, b): convictions (day, offences), proven
    offences (offence day, disposal day), waits for a place ((offender * 64 + service) * 4 + kind,
    days); and the number of events. ``case_over`` holds the case offences that did not fit in
    the offenders' rows (carried in from an earlier phase, and added to here).
    """
    # Views without a reference count: numba counts references to every array handed to every
    # function, which cost more than the model's own arithmetic. The arrays themselves are kept
    # alive by the caller for the whole call.
    MF = carray(_void_ptr(MF.ctypes.data), MF.shape, np.float64)
    MI = carray(_void_ptr(MI.ctypes.data), MI.shape, np.int64)
    F = carray(_void_ptr(F.ctypes.data), F.shape, np.float64)
    NC = carray(_void_ptr(NC.ctypes.data), NC.shape, np.float64)
    I = carray(_void_ptr(I.ctypes.data), I.shape, np.int32)
    A = carray(_void_ptr(A.ctypes.data), A.shape, np.float64)
    keys = carray(_void_ptr(keys.ctypes.data), keys.shape, np.uint64)
    RS = carray(_void_ptr(RS.ctypes.data), RS.shape, np.int64)
    HP = carray(_void_ptr(HP.ctypes.data), HP.shape, np.float64)
    costs = carray(_void_ptr(costs.ctypes.data), costs.shape, np.float64)
    recs = List.empty_list(REC_T)
    n = F.shape[0]
    for o in range(n):
        if I[o, I_DONE] == 0:
            begin_step(MF, MI, F, NC, I, A, RS, HP, recs, horizon, o, start)
    events = 0
    while RS[0] > 0:
        t, o, v = heap_pop(HP, RS)
        if v != I[o, I_VERSION]:
            continue
        events += 1
        end_step(MF, MI, F, NC, I, A, keys, RS, HP, costs, horizon, recs, case_over, o, t)
    return recs, events


# ------------------------------------------------------------------ initial state

@njit(cache=True)
def init_offenders(MF, MI, F, NC, I, keys, ogrs, frailty, needs, status, status_days,
                   licence_after, start, fv, normaliser_p, svc_key, svc_group_start,
                   svc_group_end, group_members, svc_uptake, svc_iom_uptake, n_services):
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
        F[o, F_BASE_RATE] = (frailty[o] * hazard / normaliser_p / MF[MI[NO_need_factor] + mask]
                             if normaliser_p > 0 else 0.0)
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
        key = keys[o]
        for c in range(N_CLOCKS):
            I[o, I_CNT0 + c] = 1
            draw = -math.log(at(key, MI[MI[NO_clock_purpose] + c], 0))
            if c < NEED0 or (mask >> (c - NEED0)) & 1:
                set_clock(F, NC, I, o, c, draw, start)
        without = 0
        with_iom = 0
        for i in range(n_services):
            u = at(key, P_SERVICE_UPTAKE, svc_key[i])
            if svc_group_start[i] < 0:
                a = u < svc_uptake[i]
                b = u < svc_iom_uptake[i]
            else:
                a = False
                acc = 0.0
                for g in range(svc_group_start[i], svc_group_end[i]):
                    m = group_members[g]
                    acc += svc_uptake[m]
                    if u < acc:
                        a = m == i
                        break
                b = False
                acc = 0.0
                for g in range(svc_group_start[i], svc_group_end[i]):
                    m = group_members[g]
                    acc += svc_iom_uptake[m]
                    if u < acc:
                        b = m == i
                        break
            if a:
                without |= 1 << i
            if b:
                with_iom |= 1 << i
        I[o, I_UPTAKE0] = without
        I[o, I_UPTAKE1] = with_iom
        I[o, I_ROLE] = -1
        I[o, I_KEY] = -1
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
def compact_rows(X, rows):
    """X[k] = X[rows[k]] for increasing rows (rows[k] >= k: no row is read after it is written)."""
    for k in range(rows.shape[0]):
        r = rows[k]
        if r != k:
            for c in range(X.shape[1]):
                X[k, c] = X[r, c]


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
    """A list of 3-tuples (the records, or the overflow case offences) as three arrays: int64,
    float64, float64 (a case offence's number, below 2**53, is exact as a float64)."""
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
    waits = (off[k] >> 6, off[k] & 63, a[k])
    return conv, proven, waits


@njit(cache=True)
def case_list(offs, ns, days):
    out = List.empty_list(CASE_T)
    for i in range(offs.shape[0]):
        out.append((np.int64(offs[i]), np.int64(ns[i]), np.float64(days[i])))
    return out


# ------------------------------------------------------------------ Python glue

def _compile(model: Model) -> CModel:
    """The model's tables as arrays for the kernels (made once per model)."""
    cached = getattr(model, "_compiled_tables", None)
    if cached is not None:
        return cached
    s = model.scenario
    j = s.justice
    iom = s.iom
    ns = len(model.services)
    P = np.zeros(N_P)
    P[P_RELEASE_MULT] = model.release_multiplier
    P[P_RELEASE_WINDOW] = model.release_window
    P[P_MEAN_DET] = model.mean_detection
    P[P_MEAN_DET_IOM] = model.mean_detection_iom
    P[P_LBR] = model.licence_breach_rate
    P[P_OBR] = model.order_breach_rate
    P[P_RECALL_MULT] = model.recall_multiplier
    P[P_PATHWAY] = model.pathway_multiplier
    P[P_EXIT_LIB] = model.exit_rate_liberty
    P[P_EXIT_CUST] = model.exit_rate_custody
    P[P_DEATH_SHARE] = model.death_share
    P[P_DESELECT_DAYS] = iom.deselect_after_offence_free_days or 0.0
    P[P_PERSIST_DAYS] = iom.effects.persist_days_after_deselection
    P[P_ARREST_COST] = j.arrest_cost
    P[P_CHARGE_P] = j.charge_probability
    P[P_CAUTION_P] = j.caution_probability
    P[P_ON_CHARGE_P] = j.recall.on_charge_probability
    P[P_REMAND_P] = j.remand_probability
    P[P_CONV_P] = j.conviction_probability
    P[P_EXTRA_MEAN] = j.extra_offences_per_conviction
    P[P_PSR_COST] = j.pre_sentence_report_cost
    P[P_RELEASE_FRACTION] = j.release_fraction
    P[P_MIN_SUP] = j.minimum_supervision_after_release_days
    P[P_RECALL_POLICE] = j.recall.police_cost
    P[P_RECALL_PROB] = j.recall.probation_cost
    P[P_FIXED_SHARE] = j.recall.fixed_term_share
    P[P_FIXED_SHORT] = j.recall.fixed_term_days_short_sentence
    P[P_FIXED_LONG] = j.recall.fixed_term_days_long_sentence
    P[P_SHORT_SENTENCE] = j.recall.short_sentence_days
    P[P_BREACH_CUSTODY_P] = j.breach_custody_probability
    P[P_REFERRAL_COST] = model.referral_cost
    P[P_PRISON_PER_DAY] = model.prison_per_day
    P[P_LICENCE_PER_DAY] = model.licence_per_day
    P[P_ORDER_PER_DAY] = model.order_per_day
    Q = np.zeros(N_Q, dtype=np.int64)
    Q[Q_ITEM_ARREST] = model.item_arrest
    Q[Q_ITEM_INVEST] = model.item_investigation
    Q[Q_ITEM_RECALL_POLICE] = model.item_recall_police
    Q[Q_ITEM_RECALL_PROB] = model.item_recall_probation
    Q[Q_ITEM_PSR] = model.item_psr
    Q[Q_ITEM_PROSECUTION] = model.item_prosecution
    Q[Q_ITEM_LEGAL_AID] = model.item_legal_aid
    Q[Q_ITEM_LICENCE] = model.item_licence
    Q[Q_ITEM_ORDER] = model.item_order
    Q[Q_ITEM_REFERRAL] = model.item_referral
    Q[Q_COSTED] = model.costed_services
    Q[Q_BOOSTING] = model.boosting_services
    cap_svc = np.array([svc.index for svc in model.services if svc.capacity_per_1000 is not None],
                       dtype=np.int64)
    Q[Q_CAP_MASK] = sum(1 << int(i) for i in cap_svc)
    Q[Q_KNOTS] = len(model.order_table._u)
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
    tq_u = np.asarray(tables[0]._u, dtype=float)
    for t in tables:
        if not np.array_equal(np.asarray(t._u), tq_u):
            raise ValueError("compiled engine: quantile tables on different grids")
    tq_q = np.array([t._q for t in tables], dtype=float)
    tq_const = np.array([t._constant is not None for t in tables], dtype=np.bool_)
    courts = (j.magistrates, j.crown)
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
        court_cost=np.array([c.costs.court for c in courts], dtype=float),
        prosecution_cost=np.array([c.costs.prosecution for c in courts], dtype=float),
        legal_aid_cost=np.array([c.costs.legal_aid for c in courts], dtype=float),
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
    """(YAML path, feature) of the first thing in ``scenario`` the compiled engine does not
    implement, or None. Checked before a run starts, so the error names the scenario's key."""
    if scenario.iom.places_per_1000 is not None:
        return "iom.places_per_1000", "capacity-limited IOM (iom.places_per_1000)"
    for i, record in enumerate(scenario.cohort.offenders or []):
        if record.scheduled_events:
            return (f"cohort.offenders[{i}].scheduled_events",
                    "fixed events from cohort records (scheduled_events)")
    if len(scenario.services) > 31 - 4 - N_NEEDS:
        return "services", (f"more than {31 - 4 - N_NEEDS} services (the scenario has "
                            f"{len(scenario.services)})")
    size = scenario.cohort.size if scenario.cohort.profile is not None else None
    if size is not None and size > MAX_OFFENDERS:
        return "cohort.size", f"a population of more than {MAX_OFFENDERS:,} offenders"
    return None


def check_supported(model: Model, scheduled=None, n_offenders: int | None = None) -> None:
    """Raise ValueError naming the first feature the compiled engine does not implement."""
    problem = unsupported(model.scenario)
    if problem is None and scheduled is not None and any(scheduled):
        problem = ("cohort", "fixed events from cohort records (scheduled_events)")
    if problem is None and n_offenders is not None and n_offenders > MAX_OFFENDERS:
        problem = ("cohort", f"a population of more than {MAX_OFFENDERS:,} offenders")
    if problem is not None:
        raise ValueError(f"the compiled engine does not implement {problem[1]}; "
                         "use engine='simpy'")


def _resources(cm: CModel, model: Model, n_offenders: int) -> np.ndarray:
    """RS: heap size and sequence counter, then places, users, queue head and tail."""
    ncap = cm.cap_svc.shape[0]
    cap = [max(1, int(math.floor(model.services[i].capacity_per_1000 * n_offenders / 1000 + 0.5)))
           for i in cm.cap_svc]
    return np.array([0, 0] + cap + [0] * ncap + [-1] * ncap + [-1] * ncap, dtype=np.int64)


def _heap(n: int) -> np.ndarray:
    # Each offender has one live entry at most; the slack holds entries made stale by places
    # granted, and is compacted when full (heap_compact).
    return np.empty((n + max(1024, n // 16), 3))


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


def _start_iom(model: Model, A, I, keys, costs, horizon) -> None:
    """start_iom at day 0 for every offender of the IOM arm."""
    iom = model.scenario.iom
    eff = iom.effects
    n = A.shape[0]
    I[:, I_ON_IOM] = 1
    A[:, A_IOM_END] = 0.0 + iom.max_duration_days if iom.max_duration_days else INF
    A[:, A_IOM_QUIET_END] = (0.0 + iom.deselect_after_offence_free_days
                             if iom.deselect_after_offence_free_days else INF)
    u = iom_uniforms(keys, np.arange(n, dtype=np.int64))
    I[:, I_RESPONDER] = u[:, 0] < eff.responder_share
    mult = eff.offending_multiplier
    if eff.offending_multiplier_sd > 0 and mult > 0:
        mu, sigma = lognormal_params(mult, eff.offending_multiplier_sd)
        # NormalDist.inv_cdf without its argument checks (u is inside (0, 1)): the same numbers
        inv = _normal_dist_inv_cdf
        A[:, A_IOM_MULT] = [math.exp(mu + sigma * inv(x, 0.0, 1.0)) for x in u[:, 1].tolist()]
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
    active = _popcount(I[:, I_NEED])
    I[:, I_REFERRALS] += active
    if model.referral_cost > 0 and horizon > 0:
        for a in active:
            if a:
                costs[0, model.item_referral] += model.referral_cost * int(a)


def simulate_compiled(model: Model, seed: int, replication: int, arms: tuple[str, ...]):
    """One replication with the compiled engine: the same as ``simulation._simulate``."""
    from iomsim.engine.cohort import build_population
    from iomsim.engine.simulation import MONTH, ReplicationResult

    s = model.scenario
    cm, MF, MI = _compile(model)
    pop = build_population(s, seed, replication)
    check_supported(model, pop.scheduled, len(pop))
    n = len(pop)
    # Only the arrays are needed: let the population's lists go before the state is made.
    status = np.array([STATUS_CODE[x] for x in pop.status], dtype=np.int8)
    ogrs = np.asarray(pop.ogrs, dtype=float)
    frailty = np.asarray(pop.frailty, dtype=float)
    needs = np.asarray(pop.needs, dtype=np.bool_)
    status_days = np.asarray(pop.status_days, dtype=float)
    licence_after = np.asarray(pop.licence_days_after_release, dtype=float)
    age = np.asarray(pop.age, dtype=float)
    del pop
    _trim_heap()
    keys = offender_keys(np.uint64(root_key(seed, replication)), n)
    start = -model.pre_days
    ncap = cm.cap_svc.shape[0]
    nf = F_QS0 + ncap
    F = np.zeros((n, nf))
    NC = np.zeros(2 * int(needs.sum()))
    I = np.zeros((n, I_QN0 + 2 * ncap), dtype=np.int32)
    I[:, I_QN0:] = -1
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
    fv = s.cohort.profile.frailty_variance if s.cohort.profile else 0.0
    p = model.p_proven_per_offence
    init_offenders(MF, MI, F, NC, I, keys, ogrs, frailty, needs, status, status_days,
                   licence_after, start, fv,
                   model.release_normaliser * p if p > 0 else 0.0, svc_key,
                   np.array(gstart, dtype=np.int64), np.array(gend, dtype=np.int64),
                   np.array(members, dtype=np.int64),
                   np.array([svc.uptake for svc in model.services], dtype=float),
                   np.array([svc.iom_uptake for svc in model.services], dtype=float), ns)
    del ogrs, frailty, needs, status, status_days, licence_after
    n_types = len(model.offence_names)
    events = 0
    case_over = case_list(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    if model.pre_days > 0:
        costs = np.zeros((1, len(model.items)))
        recs, ev = run_phase(MF, MI, F, NC, I, np.zeros((0, A_OBT0 + n_types)), keys,
                             _resources(cm, model, n), _heap(n), costs, 0.0, start, case_over)
        events += ev
        raw = rec_arrays(recs)
        del recs
        pre_conv, pre_proven, _ = _records(raw)
        del raw
    else:
        pre_conv = (np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int64))
        pre_proven = (np.zeros(0, np.int64), np.zeros(0), np.zeros(0))
    before = pre_conv[1] < 0
    conv_pre = np.bincount(pre_conv[0][before], minlength=n)
    conv_pre_k = np.bincount(pre_conv[0][before], weights=pre_conv[2][before], minlength=n)
    needs_count = _popcount(I[:, I_NEED])
    sel = _select(model, F, I, conv_pre, needs_count)
    population = _describe(F, I, sel, age, needs_count, conv_pre_k)

    m = len(sel)
    pos = np.full(n, -1, dtype=np.int64)
    pos[sel] = np.arange(m)
    # Records from the pre-period of the selected, in the arms' numbering.
    keep = pos[pre_conv[0]] >= 0
    base_conv = (pos[pre_conv[0][keep]], pre_conv[1][keep], pre_conv[2][keep])
    keep = pos[pre_proven[0]] >= 0
    base_proven = (pos[pre_proven[0][keep]], pre_proven[1][keep], pre_proven[2][keep])
    over = rec_arrays(case_over)
    keep = pos[over[0]] >= 0
    base_over = (pos[over[0][keep]], over[1][keep].astype(np.int64), over[2][keep])
    # The selected rows moved to the top in place, and the rest given back (no copy).
    compact_rows(F, sel)
    compact_rows(I, sel)
    keys_s = keys[sel]
    F.resize((m, F.shape[1]), refcheck=False)
    I.resize((m, I.shape[1]), refcheck=False)
    NC.resize(compact_needs(NC, I), refcheck=False)
    Fs, Is, NCs = F, I, NC
    del F, I, NC, keys, case_over
    Is[:, I_QN0:] = -1
    Is[:, I_HELD] = 0
    Is[:, I_GRANTED] = 0
    Is[:, I_DONE] = 0
    Fs[:, F_QS0:F_QS0 + ncap] = np.nan

    horizon = model.horizon_days
    n_years = max(1, int(math.ceil(horizon / DAYS_PER_YEAR)))
    costs_out, metrics, survival = {}, {}, {}
    for arm in arms:
        Fa, Ia, NCa = Fs.copy(), Is.copy(), NCs.copy()
        costs = np.zeros((n_years, len(model.items)))
        A = np.zeros((m, A_OBT0 + n_types))
        A[:, A_IOM_END] = INF
        A[:, A_IOM_QUIET_END] = INF
        A[:, A_IOM_MULT] = 1.0
        A[:, A_PERSIST_UNTIL] = -INF
        if arm == "iom":
            _start_iom(model, A, Ia, keys_s, costs, horizon)
        recs, ev = run_phase(MF, MI, Fa, NCa, Ia, A, keys_s, _resources(cm, model, m), _heap(m),
                             costs, horizon, 0.0, case_list(*base_over))
        events += ev
        raw = rec_arrays(recs)
        del recs
        c, pv, w = _records(raw)
        del raw
        all_conv = tuple(np.concatenate([a, b]) for a, b in zip(base_conv, c))
        all_proven = tuple(np.concatenate([a, b]) for a, b in zip(base_proven, pv))
        costs_out[arm] = costs
        metrics[arm] = _arm_metrics(model, Fa, Ia, A, all_conv, all_proven, w)
        survival[arm] = _survival(model, m, all_conv)
    months = m * model.horizon_days / MONTH * len(arms)
    return ReplicationResult(replication=replication, costs=costs_out, metrics=metrics,
                             survival=survival, population=population, cohort_size=m,
                             offender_months=months, events=events, offenders={})


def _select(model: Model, F, I, conv_pre, needs_count) -> np.ndarray:
    """Indices of the selected offenders, in index order (as ``select_cohort``)."""
    present = I[:, I_EXITED] == 0
    rules = model.scenario.selection
    idx = np.arange(F.shape[0])
    if rules is None:
        return idx[present]
    statuses = np.array([STATUS_CODE[st] for st in rules.statuses], dtype=np.int64)
    eligible = (present & (F[:, F_OGRS] >= rules.ogrs_min) & (needs_count >= rules.min_needs)
                & (conv_pre >= rules.min_convictions_pre_period)
                & np.isin(I[:, I_STATUS], statuses))
    e = idx[eligible]
    ogrs = F[e, F_OGRS]
    cp = conv_pre[e]
    if rules.rank_by == "ogrs":
        order = np.lexsort((e, -cp, -ogrs))
    else:
        order = np.lexsort((e, -ogrs, -cp))
    return np.sort(e[order[:rules.cohort_size]])


def _describe(F, I, sel, age, needs_count, conv_pre_k) -> dict:
    out: dict[tuple[str, str], float] = {}
    selected = np.zeros(F.shape[0], dtype=bool)
    selected[sel] = True
    rest = ~selected & (I[:, I_EXITED] == 0)
    for label, mask in (("selected", selected), ("not_selected", rest)):
        g = np.flatnonzero(mask)
        n = len(g)
        out[(label, "offenders")] = float(n)
        if n == 0:
            continue
        out[(label, "mean_ogrs")] = sum(F[g, F_OGRS].tolist()) / n
        out[(label, "mean_age")] = float(np.mean(age[g]))
        out[(label, "mean_needs")] = int(needs_count[g].sum()) / n
        out[(label, "convictions_per_offender_pre_period")] = float(conv_pre_k[g].sum()) / n
        for j, need in enumerate(NEEDS):
            out[(label, f"need_{need}")] = int(((I[g, I_NEED] >> j) & 1).sum()) / n
    return out


def _arm_metrics(model: Model, F, I, A, conv, proven, waits) -> dict[str, float]:
    from iomsim.engine.model import TWO_YEARS
    from iomsim.engine.simulation import MOJ_WAIT

    n = F.shape[0]
    year = DAYS_PER_YEAR
    c_off, c_day, c_k = conv
    p_off, p_od, p_dd = proven

    def window_rates(lo, hi):
        if n == 0:
            return math.nan, math.nan
        inside = (lo <= c_day) & (c_day < hi)
        return len(np.unique(c_off[inside])) / n, int(c_k[inside].sum()) / n

    def proven_rate(lo, hi):
        if n == 0:
            return math.nan
        inside = (lo <= p_od) & (p_od < hi) & (p_dd < hi + MOJ_WAIT)
        return len(np.unique(p_off[inside])) / n

    out: dict[str, float] = {}
    out["reconviction_rate_12m"], out["convictions_per_offender_12m"] = window_rates(0, year)
    out["reconviction_rate_24m"], out["convictions_per_offender_24m"] = window_rates(0, TWO_YEARS)
    out["proven_reoffending_rate_12m"] = proven_rate(0, year)
    out["proven_reoffending_rate_24m"] = proven_rate(0, TWO_YEARS)
    if model.pre_days >= year - 1e-9:
        out["reconviction_rate_12m_before"], out["convictions_per_offender_12m_before"] = \
            window_rates(-year, 0)
        out["proven_reoffending_rate_12m_before"] = proven_rate(-year, 0)
    if model.pre_days >= TWO_YEARS - 1e-9:
        out["reconviction_rate_24m_before"], out["convictions_per_offender_24m_before"] = \
            window_rates(-TWO_YEARS, 0)
    mean_ogrs = sum(F[:, F_OGRS].tolist()) / n if n else math.nan
    out["mean_ogrs"] = mean_ogrs
    out["actual_vs_predicted_reduction"] = 1 - out["proven_reoffending_rate_24m"] / mean_ogrs \
        if n else math.nan
    total = 0.0
    for k, name in enumerate(model.offence_names):
        c = sum(A[:, A_OBT0 + k].tolist())
        total += c
        out[f"offences_per_offender_{name}"] = c / n if n else math.nan
    out["offences_per_offender"] = total / n if n else math.nan

    def per(x):
        return sum(x.tolist()) / n if n else math.nan

    out["detected_offences_per_offender"] = per(I[:, I_DETECTED])
    out["convictions_per_offender_horizon"] = per(c_k[c_day >= 0])
    out["custody_days_per_offender"] = per(A[:, A_CUSTODY_DAYS])
    out["recalls_per_offender"] = per(I[:, I_RECALLS])
    out["iom_days_per_offender"] = per(A[:, A_IOM_DAYS])
    out["pathway_referrals_per_offender"] = per(I[:, I_REFERRALS])
    out["exited_share"] = per(I[:, I_EXITED] != 0)
    w_off, w_svc, w_days = waits
    for svc in model.services:
        if svc.capacity_per_1000 is None:
            continue
        d = w_days[w_svc == svc.index]
        out[f"waits_per_offender_{svc.name}"] = len(d) / n if n else math.nan
        out[f"mean_wait_days_{svc.name}"] = float(np.mean(d)) if len(d) else 0.0
    out["offenders"] = float(n)
    return out


def _survival(model: Model, n: int, conv) -> np.ndarray:
    from iomsim.engine.simulation import MONTH

    months = int(round(model.horizon_days / MONTH))
    if n == 0:
        return np.full(months + 1, np.nan)
    c_off, c_day, _ = conv
    first = np.full(n, np.inf)
    after = c_day >= 0
    np.minimum.at(first, c_off[after], c_day[after])
    edges = np.arange(months + 1) * MONTH
    return np.array([(first > e).mean() for e in edges])
