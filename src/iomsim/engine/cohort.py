"""The population at the start of the simulation: drawn from a profile, read from a CSV of
anonymised records, or listed in the scenario.

Every offender's attributes come from their own keyed stream (purpose ``COHORT``), so offender i
is the same person whatever the size of the population around them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import special

from iomsim.engine.distributions import ppf
from iomsim.engine.rng import GOLDEN, Purpose, root_key
from iomsim.scenario.cohort_csv import (  # noqa: F401  (CSV_* re-exported)
    CSV_OPTIONAL, CSV_REQUIRED, check_row, cohort_csv_path, read_cohort_records)
from iomsim.errors import InputError
from iomsim.engine.model import DAYS_PER_YEAR
from iomsim.scenario.schema import (MAX_OFFENCES_PER_YEAR, NEEDS, STATUSES, Scenario,
                                    ScheduledEvent)

_C1 = np.uint64(0xBF58476D1CE4E5B9)
_C2 = np.uint64(0x94D049BB133111EB)


def _mix64_np(z: np.ndarray) -> np.ndarray:
    z = z.astype(np.uint64, copy=True)
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * _C1
        z = (z ^ (z >> np.uint64(27))) * _C2
    return z ^ (z >> np.uint64(31))


def cohort_streams(seed: int, replication: int, n: int) -> np.ndarray:
    """Each offender's COHORT stream key (uint64), as OffenderStreams derives it."""
    root = np.uint64(root_key(seed, replication))
    idx = np.arange(1, n + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        off = _mix64_np(root ^ _mix64_np(idx * np.uint64(GOLDEN)))
        return _mix64_np(off ^ _mix64_np(np.array([int(Purpose.COHORT)], np.uint64) * _C2))


def cohort_column(streams: np.ndarray, j: int) -> np.ndarray:
    """Draw j (from 0) of each of the ``streams``: column j of :func:`cohort_uniforms`."""
    with np.errstate(over="ignore"):
        z = streams + np.uint64(j + 1) * np.uint64(GOLDEN)
    z = _mix64_np(z)
    return ((z >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0 ** -53


def cohort_uniforms(seed: int, replication: int, n: int, columns: int) -> np.ndarray:
    """Uniforms U[i, j]: draw j of offender i's COHORT stream (same as OffenderStreams.at)."""
    streams = cohort_streams(seed, replication, n)
    out = np.empty((n, columns))
    for j in range(columns):
        out[:, j] = cohort_column(streams, j)
    return out


class MadeWhenRead(Sequence):
    """A per-offender column of ``n`` values, each made by ``make(i)`` when read, instead of a
    Python object per offender kept for the whole replication."""

    def __init__(self, n: int, make):
        self._range = range(n)
        self._make = make

    def __len__(self) -> int:
        return len(self._range)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self._make(k) for k in self._range[i]]
        return self._make(self._range[i])  # IndexError beyond the end


class OffenderIds(MadeWhenRead):
    """The ids "0", "1", ... of a population drawn from a profile."""

    def __init__(self, n: int):
        super().__init__(n, str)


class NoScheduledEvents(MadeWhenRead):
    """Every offender's scheduled events when nobody has any: an empty list each."""

    def __init__(self, n: int):
        super().__init__(n, lambda _: [])


class Statuses(Sequence):
    """Each offender's status at the start as a name, held as codes (the order of STATUSES)."""

    def __init__(self, codes: np.ndarray):
        self.codes = codes

    def __len__(self) -> int:
        return len(self.codes)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [STATUSES[c] for c in self.codes[i].tolist()]
        return STATUSES[int(self.codes[i])]


def status_codes(statuses) -> np.ndarray:
    """int8 codes (the order of STATUSES) of a population's statuses."""
    if isinstance(statuses, Statuses):
        return statuses.codes.astype(np.int8, copy=False)
    code = {s: k for k, s in enumerate(STATUSES)}
    return np.array([code[s] for s in statuses], dtype=np.int8)


@dataclass
class Population:
    """Attributes of every offender at the start, one array element per offender."""

    ids: Sequence[str]  # a list, or OffenderIds
    male: np.ndarray
    age: np.ndarray
    ogrs: np.ndarray
    previous_convictions: np.ndarray
    frailty: np.ndarray
    needs: np.ndarray  # bool, shape (n, len(NEEDS))
    status: Sequence[str]  # a list, or Statuses
    status_days: np.ndarray
    licence_days_after_release: np.ndarray
    scheduled: Sequence[list[ScheduledEvent]] = field(default_factory=list)  # or NoScheduledEvents

    def __len__(self) -> int:
        return len(self.ids)


def population_for(model, seed: int, replication: int) -> Population:
    """The population both engines simulate: :func:`build_population`, refused
    (:func:`check_offending_rates`) if anyone in it would offend without bound."""
    pop = build_population(model.scenario, seed, replication)
    check_offending_rates(model, pop, replication)
    return pop


def peak_offending_rates(model, pop: Population) -> np.ndarray:
    """Everyone's offences a year at the peak of their offending, as both engines compute it:
    the base rate (frailty x the two-year hazard that OGRS implies / (the release normaliser x
    the share of offences proven) x offending.rate_multiplier; the needs at the start cancel)
    in the active phase (offending.phases) and just after release (release_multiplier). IOM
    and needs that relapse later are not counted (validation bounds their multipliers)."""
    p = model.p_proven_per_offence
    if p <= 0 or len(pop) == 0:
        return np.zeros(len(pop))
    ogrs = np.asarray(pop.ogrs, dtype=float)
    v = model.frailty_variance
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        hazard = -np.log1p(-ogrs) if v <= 0 else ((1.0 - ogrs) ** (-v) - 1.0) / v
        per_day = (np.asarray(pop.frailty, dtype=float) * hazard / (model.release_normaliser * p)
                   * model.offending_rate_multiplier * max(model.phase_multiplier_active, 1.0)
                   * max(model.release_multiplier, 1.0))
    return np.nan_to_num(per_day, nan=np.inf) * DAYS_PER_YEAR


def check_offending_rates(model, pop: Population, replication: int = 0) -> None:
    """Refuse, before simulating, a population in which someone would commit more than
    ``MAX_OFFENCES_PER_YEAR`` offences a year (each is simulated, so the run would not end):
    validation sees only what the scenario alone fixes, not frailty drawn near the top of a
    wide gamma, OGRS drawn near 1 from an unbounded distribution or read from a CSV, or all of
    these times the active phase's ratio. One line naming the offender and the keys involved."""
    rates = peak_offending_rates(model, pop)
    if not len(rates) or not rates.max() > MAX_OFFENCES_PER_YEAR:
        return
    i = int(np.argmax(rates))
    s = model.scenario
    off = s.offending
    cohort = s.cohort
    keys: list[str] = []
    if cohort.profile is not None:
        path = "cohort.profile.frailty_variance" if model.frailty_variance > 0 \
            else "cohort.profile.ogrs"
        keys += [f"cohort.profile.frailty_variance ({model.frailty_variance:g})",
                 "cohort.profile.ogrs"]
    elif cohort.from_csv is not None:
        path = "cohort.from_csv"
        keys.append(f"the ogrs and frailty of row id {pop.ids[i]!r} of {cohort.from_csv}")
    else:
        path = "cohort.offenders"
        keys.append(f"cohort.offenders (id {pop.ids[i]!r})")
    if off.phases is not None and off.phases.active_rate_ratio > 1:
        keys.append(f"offending.phases.active_rate_ratio ({off.phases.active_rate_ratio:g})")
        if cohort.profile is not None and model.frailty_variance <= 0:
            path = "offending.phases.active_rate_ratio"
    if off.rate_multiplier > 1:
        keys.append(f"offending.rate_multiplier ({off.rate_multiplier:g})")
    if off.release_multiplier > 1:
        keys.append(f"offending.release_multiplier ({off.release_multiplier:g})")
    keys.append(f"the share of offences proven ({model.p_proven_per_offence:.3g}: "
                "offending.offence_types detection and justice probabilities)")
    file, line = None, None
    if s.meta is not None:
        from iomsim.scenario.loader import origin_of

        file, line = origin_of(s, path)
    where = f" in replication {replication}" if replication else ""
    raise InputError(
        f"offender {pop.ids[i]!r} (OGRS {float(pop.ogrs[i]):.6g}, frailty "
        f"{float(pop.frailty[i]):.3g}) would commit {float(rates[i]):,.4g} offences a year at "
        f"the peak of their offending{where}; expected at most {MAX_OFFENCES_PER_YEAR:,.0f}, "
        "about 27 a day, beyond any recorded offending (each offence is simulated, so the run "
        f"would not end); lower one of: {', '.join(keys)}", file=file, line=line, path=path)


def build_population(scenario: Scenario, seed: int, replication: int) -> Population:
    cohort = scenario.cohort
    if cohort.profile is not None:
        return _from_profile(scenario, seed, replication)
    if cohort.offenders is not None:
        return _from_records(scenario, [r.model_dump() for r in cohort.offenders], None)
    return read_cohort_csv(scenario)


def _from_profile(scenario: Scenario, seed: int, replication: int) -> Population:
    prof = scenario.cohort.profile
    n = int(scenario.cohort.size)
    # The uniforms one column at a time (each is a few bytes an offender, all at once 144).
    streams = cohort_streams(seed, replication, n)
    male = cohort_column(streams, 0) < prof.male_share
    age = ppf(prof.age, cohort_column(streams, 1))
    # OGRS may share the latent factor that drives needs. A need is active when its latent
    # value is low, so OGRS loads on minus the factor: more needs, higher predicted risk.
    loading = prof.ogrs_need_loading
    u_factor = cohort_column(streams, 5)
    u_ogrs = cohort_column(streams, 2)
    if loading != 0:
        u_ogrs = special.ndtr(-loading * special.ndtri(u_factor)
                              + math.sqrt(1 - loading ** 2) * special.ndtri(u_ogrs))
    ogrs = np.clip(ppf(prof.ogrs, u_ogrs), 1e-6, 1 - 1e-6)
    del u_ogrs
    prev = np.maximum(ppf(prof.previous_convictions, cohort_column(streams, 3)), 0)
    v = prof.frailty_variance
    frailty = special.gammaincinv(1 / v, cohort_column(streams, 4)) * v if v > 0 else np.ones(n)
    # Needs: one latent factor gives an equicorrelated Gaussian copula.
    rho = prof.need_correlation
    factor = special.ndtri(u_factor)
    del u_factor
    needs = np.zeros((n, len(NEEDS)), dtype=bool)
    for j, name in enumerate(NEEDS):
        prevalence = prof.needs.get(name, 0.0)
        if prevalence <= 0:
            continue
        z = math.sqrt(rho) * factor + math.sqrt(1 - rho) * special.ndtri(
            cohort_column(streams, 8 + j))
        needs[:, j] = z < special.ndtri(prevalence)
    del factor
    order = [s for s in STATUSES if prof.status.get(s, 0) > 0]
    cum = np.cumsum([prof.status[s] for s in order])
    pick = np.minimum(np.searchsorted(cum, cohort_column(streams, 6) * cum[-1], side="right"),
                      len(order) - 1)
    status = np.array([STATUSES.index(s) for s in order], dtype=np.int8)[pick]
    status_days = np.zeros(n)
    dists = {"custody": prof.custody_days_remaining, "remand": prof.remand_days_remaining,
             "licence": prof.licence_days_remaining,
             "community_order": prof.community_order_days_remaining}
    u_days = cohort_column(streams, 7)
    for s, d in dists.items():
        mask = pick == order.index(s) if s in order else np.zeros(n, dtype=bool)
        if mask.any():
            status_days[mask] = np.maximum(ppf(d, u_days[mask]), 0.0)
    del u_days, pick
    f = scenario.justice.release_fraction
    ratio = (1 - f) / f if f > 0 else 0.0
    licence_after = np.maximum(status_days * ratio,
                               scenario.justice.minimum_supervision_after_release_days)
    return Population(ids=OffenderIds(n), male=male, age=age, ogrs=ogrs,
                      previous_convictions=prev, frailty=frailty, needs=needs,
                      status=Statuses(status), status_days=status_days,
                      licence_days_after_release=licence_after, scheduled=NoScheduledEvents(n))


def _from_records(scenario: Scenario, records: list[dict], file: str | None) -> Population:
    n = len(records)
    needs = np.zeros((n, len(NEEDS)), dtype=bool)
    for i, r in enumerate(records):
        for name in r.get("needs", []):
            needs[i, NEEDS.index(name)] = True
    min_sup = scenario.justice.minimum_supervision_after_release_days
    return Population(
        ids=[str(r["id"]) for r in records],
        male=np.array([r.get("sex", "male") == "male" for r in records]),
        age=np.array([float(r["age"]) for r in records]),
        ogrs=np.clip(np.array([float(r["ogrs"]) for r in records]), 1e-6, 1 - 1e-6),
        previous_convictions=np.array([float(r.get("previous_convictions", 0)) for r in records]),
        frailty=np.array([float(r.get("frailty", 1.0)) for r in records]),
        needs=needs,
        status=[r.get("status", "unsupervised") for r in records],
        status_days=np.array([float(r.get("status_days_remaining", 0.0)) for r in records]),
        licence_days_after_release=np.array(
            [float(r.get("licence_days_after_release") or max(min_sup, 365.0)) for r in records]),
        scheduled=[[ScheduledEvent.model_validate(e) for e in r.get("scheduled_events", [])]
                   for r in records],
    )


def read_cohort_csv(scenario: Scenario) -> Population:
    """Read ``cohort.from_csv``, checking every row; errors name the file, line and column.

    The reading and checking live in :mod:`iomsim.scenario.cohort_csv`, which the loader also
    calls, so that ``iomsim validate`` refuses what ``iomsim run`` would.
    """
    path = cohort_csv_path(scenario)
    return _from_records(scenario, read_cohort_records(scenario), str(path))


def _check_row(row: dict, path: Path, lineno: int, need_cols: list[str] | None = None) -> dict:
    return check_row(row, path, lineno)
