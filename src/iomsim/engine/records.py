"""What an engine hands back: the records of one replication, the same from every engine.

An engine simulates; it does not measure. It returns, for the population at day 0, one
:class:`PopulationRecords`, and for each arm one :class:`ArmRecords`: per-offender arrays (one
row per selected offender, in index order) and event tables (numpy structured arrays with named
fields, sorted by offender and, within an offender, in the order the events happened). Selection,
the population's description, the metrics and the survival curve are computed from these
records once, in :mod:`iomsim.engine.measures`, whichever engine made them (as ciw computes
every statistic from its records).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from iomsim.scenario.schema import NEEDS, STATUSES

ARMS = ("non_iom", "iom")
# Status codes in the population records: the order of STATUSES, then exited.
STATUS_CODES = {name: code for code, name in enumerate(STATUSES)}
EXITED_CODE = len(STATUSES)

# One row per conviction: the court day and how many offences it proved (extra ones included).
CONVICTION = np.dtype([("offender", np.int64), ("day", np.float64), ("offences", np.int64)])
# One row per proven offence (a caution or an offence convicted): when it was committed and when
# it was disposed of (the caution, or the court day).
PROVEN = np.dtype([("offender", np.int64), ("offence_day", np.float64),
                   ("disposal_day", np.float64)])
# One row per completed wait for a capacity-limited service (its index in Model.services), or,
# with ``service`` = -1, for an IOM place (capacity-limited IOM).
WAIT = np.dtype([("offender", np.int64), ("service", np.int64), ("days", np.float64)])
IOM_PLACE = -1


def event_table(dtype: np.dtype, rows) -> np.ndarray:
    """An event table from an iterable of tuples, in the order given."""
    return np.array(list(rows), dtype=dtype)


def by_offender(table: np.ndarray) -> np.ndarray:
    """The table sorted by offender, keeping each offender's events in their order."""
    if len(table) < 2:
        return table
    return table[np.argsort(table["offender"], kind="stable")]


@dataclass
class PopulationRecords:
    """Everyone simulated, at day 0, in index order: what selection and description read."""

    ogrs: np.ndarray  # float64
    age: np.ndarray  # float64, at the start of the simulation
    need_mask: np.ndarray  # int64: bit j set if need area NEEDS[j] is a need at day 0
    status: np.ndarray  # int8: STATUS_CODES, or EXITED_CODE
    convictions: np.ndarray  # CONVICTION rows before day 0, everyone's
    phase: np.ndarray  # int8: offending phase at day 0 (0 active, 1 quiet, 2 desisted)
    previous_convictions: np.ndarray  # float64, at the start of the simulation

    def __len__(self) -> int:
        return len(self.ogrs)

    @cached_property
    def convictions_pre(self) -> np.ndarray:
        """int64: each offender's convictions (court appearances) before day 0."""
        return np.bincount(self.convictions["offender"], minlength=len(self)).astype(np.int64)

    @cached_property
    def convicted_offences_pre(self) -> np.ndarray:
        """int64: the offences those convictions proved."""
        c = self.convictions
        return np.bincount(c["offender"], weights=c["offences"],
                           minlength=len(self)).astype(np.int64)

    @property
    def present(self) -> np.ndarray:
        return self.status != EXITED_CODE

    @property
    def needs_count(self) -> np.ndarray:
        return need_counts(self.need_mask)


@dataclass
class ArmRecords:
    """One arm of one replication: the selected cohort, row k for its k-th offender."""

    ogrs: np.ndarray  # float64
    need_mask: np.ndarray  # int64, at the end of the arm
    exited: np.ndarray  # bool
    offences_by_type: np.ndarray  # float64 (offenders, offence types); undetected by expectation
    detected: np.ndarray  # int64: detected offences from day 0
    custody_days: np.ndarray  # float64, within [0, horizon)
    custody_days_24m_before: np.ndarray  # float64, within [-730.5, 0): custody or remand
    custody_days_24m: np.ndarray  # float64, within [0, min(730.5, horizon))
    iom_days: np.ndarray  # float64, within [0, horizon)
    recalls: np.ndarray  # int64, from day 0
    referrals: np.ndarray  # int64: pathway referrals
    convictions: np.ndarray  # CONVICTION rows, the pre-period's included
    proven: np.ndarray  # PROVEN rows (those committed in the 12 months before day 0 and later)
    waits: np.ndarray  # WAIT rows, completed waits from day 0
    phase: np.ndarray | None = None  # int8: offending phase at the end (0 active, 1 quiet, 2 desisted)
    ogrs_at_registration: np.ndarray | None = None  # float64: OGRS measured at day 0

    def __len__(self) -> int:
        return len(self.ogrs)

    def needs(self, offender: int) -> list[bool]:
        """Whether each need area (in the order of NEEDS) is a need of one offender at the end."""
        mask = int(self.need_mask[offender])
        return [bool(mask >> j & 1) for j in range(len(NEEDS))]

    def convictions_of(self, offender: int) -> np.ndarray:
        return self.convictions[self.convictions["offender"] == offender]


def need_counts(masks: np.ndarray) -> np.ndarray:
    m = np.asarray(masks, dtype=np.int64)
    out = np.zeros(len(m), dtype=np.int64)
    for j in range(len(NEEDS)):
        out += (m >> j) & 1
    return out


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
    events: int = 0  # simpy: event ids issued; numba: wake-ups processed (not comparable)
    records: dict[str, ArmRecords] = field(default_factory=dict)  # with keep_offenders only
    # Rule branches taken (names in iomsim.engine.branches.BRANCHES), pre-period and arms
    # together, counted by both engines (equal where offenders do not compete for places).
    events_by_kind: dict[str, int] = field(default_factory=dict)
