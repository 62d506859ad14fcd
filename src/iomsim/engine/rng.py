"""Keyed random streams: every draw is a pure function of (seed, replication, offender, purpose,
index).

The root key comes from numpy's ``SeedSequence([seed, replication])``; keys for offenders and
purposes are mixed in with the SplitMix64 finaliser, and the ``index``-th uniform of a stream is
the finaliser applied to ``key + (index + 1) * golden``: SplitMix64 (Steele, Lea and Flood 2014)
addressed by position. Because a draw depends on its index and not on the order the engine asks
for it, the IOM and non-IOM arms see the same numbers for the same events (common random
numbers), a run is the same on any number of processes, and no global state is touched.
"""

from __future__ import annotations

import math
from enum import IntEnum

import numpy as np

MASK64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
MIX_C1 = 0xBF58476D1CE4E5B9
MIX_C2 = 0x94D049BB133111EB
_TWO_TO_MINUS_53 = 2.0 ** -53


def mix64(z: int) -> int:
    """SplitMix64's finaliser: a bijection on 64-bit integers with full avalanche."""
    z &= MASK64
    z = ((z ^ (z >> 30)) * MIX_C1) & MASK64
    z = ((z ^ (z >> 27)) * MIX_C2) & MASK64
    return z ^ (z >> 31)


class Purpose(IntEnum):
    """What a stream is for. Values are part of the key: never renumber, only append."""

    COHORT = 1
    OFFENCE_CLOCK = 2
    OFFENCE_TYPE = 3
    DETECTION = 4
    ARREST_OUTCOME = 5
    COURT_CHOICE = 6
    COURT_DELAY = 7
    REMAND = 8
    CONVICTION = 9
    EXTRA_OFFENCES = 10
    SENTENCE = 11
    SENTENCE_LENGTH = 12
    ORDER_LENGTH = 13
    RECALL_ON_CHARGE = 14
    RECALL_TYPE = 15
    RECALL_LENGTH = 16
    LICENCE_BREACH_CLOCK = 17
    ORDER_BREACH_CLOCK = 18
    BREACH_OUTCOME = 19
    EXIT_CLOCK = 20
    EXIT_CAUSE = 21
    SERVICE_UPTAKE = 22
    IOM_RESPONSE = 23
    NEED_CLOCK = 24  # NEED_CLOCK + need index: one stream per need area (24 to 39)
    # Appended after the needs' block, so that no earlier stream moves.
    PHASE_CLOCK = 40  # the clock of the offending phase (active, quiet, desisted)
    PHASE_CHOICE = 41  # the phase at the start (index 0), then what each change is (1, 2, ...)


def root_key(seed: int, replication: int) -> int:
    state = np.random.SeedSequence([int(seed), int(replication)]).generate_state(2, np.uint64)
    return mix64((int(state[0]) << 1) ^ int(state[1]))


def offender_key(root: int, offender: int) -> int:
    return mix64(root ^ mix64((offender + 1) * GOLDEN))


def uniform_at(key: int, index: int) -> float:
    """The ``index``-th uniform of the stream ``key``, strictly inside (0, 1)."""
    z = (key + (index + 1) * GOLDEN) & MASK64
    z = ((z ^ (z >> 30)) * MIX_C1) & MASK64
    z = ((z ^ (z >> 27)) * MIX_C2) & MASK64
    z ^= z >> 31
    return ((z >> 11) + 0.5) * _TWO_TO_MINUS_53


_N_PURPOSES = int(Purpose.PHASE_CHOICE) + 1
assert int(Purpose.NEED_CLOCK) + 16 <= int(Purpose.PHASE_CLOCK)  # room for every need clock


class OffenderStreams:
    """An offender's streams, one per purpose, each addressable by index or read in turn."""

    __slots__ = ("key", "_keys", "counters")

    def __init__(self, key: int):
        self.key = key
        self._keys: list[int | None] = [None] * _N_PURPOSES
        self.counters: list[int] = [0] * _N_PURPOSES

    def stream_key(self, purpose: int) -> int:
        k = self._keys[purpose]
        if k is None:
            k = mix64(self.key ^ mix64(purpose * MIX_C2))
            self._keys[purpose] = k
        return k

    def at(self, purpose: int, index: int) -> float:
        """Uniform number ``index`` of ``purpose``: the same whatever else was drawn."""
        k = self._keys[purpose]
        if k is None:
            k = self.stream_key(purpose)
        z = (k + (index + 1) * GOLDEN) & MASK64
        z = ((z ^ (z >> 30)) * MIX_C1) & MASK64
        z = ((z ^ (z >> 27)) * MIX_C2) & MASK64
        z ^= z >> 31
        return ((z >> 11) + 0.5) * _TWO_TO_MINUS_53

    def next(self, purpose: int) -> float:
        """The next uniform of ``purpose`` (its own counter, kept in the offender's state)."""
        i = self.counters[purpose]
        self.counters[purpose] = i + 1
        return self.at(purpose, i)

    def next_exponential(self, purpose: int) -> float:
        """A unit-rate exponential: the hazard an event clock must accumulate before it fires."""
        i = self.counters[purpose]
        self.counters[purpose] = i + 1
        return -math.log(self.at(purpose, i))

    def copy(self) -> "OffenderStreams":
        other = OffenderStreams.__new__(OffenderStreams)
        other.key = self.key
        other._keys = self._keys  # keys are pure functions of the key: safe to share
        other.counters = list(self.counters)
        return other


def cohort_generator(seed: int, replication: int) -> np.random.Generator:
    """The generator for vectorised cohort draws: element i of each draw belongs to offender i."""
    return np.random.Generator(np.random.PCG64(
        np.random.SeedSequence([int(seed), int(replication), int(Purpose.COHORT)])))
