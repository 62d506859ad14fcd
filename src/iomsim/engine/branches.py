"""The names of the model's rule branches, counted by both engines as they take them.

Both engines count, per replication, how often each branch of the rules was taken
(``ReplicationResult.events_by_kind``: every name below, in this order, zeros included;
pre-period and arms together), at the same decision points: without capacity-limited services
or IOM places, where the engines agree exactly, so do their counts. The names are defined here
once, so that a test can ask that a set of scenarios reaches every one of them: a branch that
no test reaches is a branch whose two implementations are never compared.

With capacity-limited services or IOM places the engines may serve offenders asking at the same
moment in another order (see ``engine/numba/kernels.py``), and two counts differ
systematically, though no result depends on them: at the horizon the compiled engine hands a
place given up on at once, through offenders still waiting who give it up in turn at their own
last wake-up, and so counts more ``iom_place_unused`` and ``service_wait_open_at_horizon`` than
simpy, in which those offenders have left the queue before the place is handed on.

Each name is one outcome of one decision in the rules (see ``engine/simpy/offender.py``; the
numba engine counts in ``engine/numba/kernels.py``, a slot ``B_<NAME>`` for each name):

offences
    ``offence`` every detected offence; ``iom_quiet_clock_reset`` one on IOM restarts the
    offence-free period before de-selection; then one of ``arrest_no_action``, ``caution``,
    ``charge_new_case`` (opens a case and draws its court) or ``charge_existing_case`` (joins
    the open case); after a charge, ``recall_on_charge`` (on licence) or ``remand``.
courts
    ``court_magistrates`` or ``court_crown`` for every appearance; ``court_ends_remand`` if the
    offender was on remand; ``court_acquitted`` or ``court_convicted``; ``extra_offences`` when
    further offences are taken into consideration; then ``sentence_custody``,
    ``sentence_order`` or ``sentence_none``. A custodial sentence already served on remand is
    ``served_by_remand``; one passed on someone already in custody extends it,
    ``custody_extended``.
recalls
    ``licence_breach_recall`` (the breach clock fired on licence), ``fixed_term_recall_short``
    or ``fixed_term_recall_long`` (by the sentence's length), ``standard_recall``,
    ``scheduled_recall`` (a recall fixed in the cohort records with its length given; one whose
    length is left to be drawn counts as the kind of recall drawn, above);
    ``recall_while_in_custody`` extends a stay; ``remand_ended_before_court`` closes a spell on
    remand ended by a recall or a fixed release.
community orders
    ``order_breach`` (dealt with without custody) or ``order_breach_custody``.
leaving and status changes
    ``exit_died``, ``exit_died_in_custody`` (only death runs in custody), ``exit_moved_away``;
    ``release_to_licence``, ``release_to_order``, ``release_unsupervised`` at the end of
    custody or remand; ``licence_ended``, ``order_ended``.
needs
    ``need_resolved``, ``need_relapsed`` and, on IOM, ``referral_on_relapse``.
offending phases
    ``phase_to_quiet``, ``phase_to_active`` (a change of the offending phase) and ``desisted``
    (the phase clock ends offending for good).
events fixed in the cohort records
    ``scheduled_release`` (from custody or remand), ``scheduled_release_at_liberty`` (nothing
    to release from), ``scheduled_exit`` (and ``scheduled_recall`` above).
IOM
    ``iom_started``, ``iom_responder`` (the effect applies to this offender),
    ``referral_at_start`` (needs active when IOM starts), ``iom_deselected`` (offence-free for
    the set period), ``iom_max_duration`` (the longest stay reached); with capacity-limited
    IOM, ``iom_place_queued`` (no place free when asked), ``iom_place_granted`` and
    ``iom_place_unused`` (a place that came after the offender left, or at the horizon).
capacity-limited services
    ``service_place_granted`` (a place free when asked), ``service_queued``, ``service_wait``
    (a completed wait, recorded), ``service_wait_before_day_0`` (completed in the pre-period,
    not recorded), ``service_wait_open_at_horizon`` (a place handed on at the horizon: the
    wait was still open), ``service_queue_left`` (no longer eligible while waiting),
    ``service_place_released``.
"""

from __future__ import annotations

BRANCHES: tuple[str, ...] = (
    # offences
    "offence", "iom_quiet_clock_reset", "arrest_no_action", "caution", "charge_new_case",
    "charge_existing_case", "recall_on_charge", "remand",
    # courts
    "court_magistrates", "court_crown", "court_ends_remand", "court_acquitted", "court_convicted",
    "extra_offences", "sentence_custody", "sentence_order", "sentence_none", "served_by_remand",
    "custody_extended",
    # recalls
    "licence_breach_recall", "fixed_term_recall_short", "fixed_term_recall_long",
    "standard_recall", "scheduled_recall", "recall_while_in_custody",
    "remand_ended_before_court",
    # community orders
    "order_breach", "order_breach_custody",
    # leaving and status changes
    "exit_died", "exit_died_in_custody", "exit_moved_away", "release_to_licence",
    "release_to_order", "release_unsupervised", "licence_ended", "order_ended",
    # needs
    "need_resolved", "need_relapsed", "referral_on_relapse",
    # offending phases
    "phase_to_quiet", "phase_to_active", "desisted",
    # events fixed in the cohort records
    "scheduled_release", "scheduled_release_at_liberty", "scheduled_exit",
    # IOM
    "iom_started", "iom_responder", "referral_at_start", "iom_deselected", "iom_max_duration",
    "iom_place_queued", "iom_place_granted", "iom_place_unused",
    # capacity-limited services
    "service_place_granted", "service_queued", "service_wait", "service_wait_before_day_0",
    "service_wait_open_at_horizon", "service_queue_left", "service_place_released",
)


def branch_counter() -> dict[str, int]:
    """A zero count for every branch; incrementing a name not in :data:`BRANCHES` raises
    KeyError, so an engine cannot count a branch under a misspelt name."""
    return dict.fromkeys(BRANCHES, 0)


__all__ = ["BRANCHES", "branch_counter"]
