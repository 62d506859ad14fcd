"""The population at the start of the simulation: drawn from a profile, read from a CSV of
anonymised records, or listed in the scenario.

Every offender's attributes come from their own keyed stream (purpose ``COHORT``), so offender i
is the same person whatever the size of the population around them.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import stats

from iomsim.engine.distributions import ppf
from iomsim.engine.rng import GOLDEN, Purpose, root_key
from iomsim.errors import CohortError
from iomsim.scenario.schema import NEEDS, STATUSES, Scenario, ScheduledEvent

_C1 = np.uint64(0xBF58476D1CE4E5B9)
_C2 = np.uint64(0x94D049BB133111EB)


def _mix64_np(z: np.ndarray) -> np.ndarray:
    z = z.astype(np.uint64, copy=True)
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * _C1
        z = (z ^ (z >> np.uint64(27))) * _C2
    return z ^ (z >> np.uint64(31))


def cohort_uniforms(seed: int, replication: int, n: int, columns: int) -> np.ndarray:
    """Uniforms U[i, j]: draw j of offender i's COHORT stream (same as OffenderStreams.at)."""
    root = np.uint64(root_key(seed, replication))
    idx = np.arange(1, n + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        off = _mix64_np(root ^ _mix64_np(idx * np.uint64(GOLDEN)))
        stream = _mix64_np(off ^ _mix64_np(np.array([int(Purpose.COHORT)], np.uint64) * _C2))
        j = np.arange(1, columns + 1, dtype=np.uint64)
        z = stream[:, None] + j[None, :] * np.uint64(GOLDEN)
    z = _mix64_np(z)
    return ((z >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0 ** -53


@dataclass
class Population:
    """Attributes of every offender at the start, one array element per offender."""

    ids: list[str]
    male: np.ndarray
    age: np.ndarray
    ogrs: np.ndarray
    previous_convictions: np.ndarray
    frailty: np.ndarray
    needs: np.ndarray  # bool, shape (n, len(NEEDS))
    status: list[str]
    status_days: np.ndarray
    licence_days_after_release: np.ndarray
    scheduled: list[list[ScheduledEvent]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)


def build_population(scenario: Scenario, seed: int, replication: int) -> Population:
    cohort = scenario.cohort
    if cohort.profile is not None:
        return _from_profile(scenario, seed, replication)
    if cohort.offenders is not None:
        return _from_records(scenario, [r.model_dump() for r in cohort.offenders], None)
    return read_cohort_csv(scenario)


_COLS = 8 + len(NEEDS)


def _from_profile(scenario: Scenario, seed: int, replication: int) -> Population:
    prof = scenario.cohort.profile
    n = int(scenario.cohort.size)
    u = cohort_uniforms(seed, replication, n, _COLS)
    male = u[:, 0] < prof.male_share
    age = ppf(prof.age, u[:, 1])
    ogrs = np.clip(ppf(prof.ogrs, u[:, 2]), 1e-6, 1 - 1e-6)
    prev = np.maximum(ppf(prof.previous_convictions, u[:, 3]), 0)
    v = prof.frailty_variance
    frailty = stats.gamma(a=1 / v, scale=v).ppf(u[:, 4]) if v > 0 else np.ones(n)
    # Needs: one latent factor gives an equicorrelated Gaussian copula.
    rho = prof.need_correlation
    factor = stats.norm.ppf(u[:, 5])
    needs = np.zeros((n, len(NEEDS)), dtype=bool)
    for j, name in enumerate(NEEDS):
        prevalence = prof.needs.get(name, 0.0)
        if prevalence <= 0:
            continue
        z = math.sqrt(rho) * factor + math.sqrt(1 - rho) * stats.norm.ppf(u[:, 8 + j])
        needs[:, j] = z < stats.norm.ppf(prevalence)
    order = [s for s in STATUSES if prof.status.get(s, 0) > 0]
    cum = np.cumsum([prof.status[s] for s in order])
    pick = np.minimum(np.searchsorted(cum, u[:, 6] * cum[-1], side="right"), len(order) - 1)
    status = [order[k] for k in pick]
    status_days = np.zeros(n)
    dists = {"custody": prof.custody_days_remaining, "remand": prof.remand_days_remaining,
             "licence": prof.licence_days_remaining,
             "community_order": prof.community_order_days_remaining}
    for s, d in dists.items():
        mask = np.array([st == s for st in status])
        if mask.any():
            status_days[mask] = np.maximum(ppf(d, u[mask, 7]), 0.0)
    f = scenario.justice.release_fraction
    ratio = (1 - f) / f if f > 0 else 0.0
    licence_after = np.maximum(status_days * ratio,
                               scenario.justice.minimum_supervision_after_release_days)
    return Population(ids=[str(i) for i in range(n)], male=male, age=age, ogrs=ogrs,
                      previous_convictions=prev, frailty=frailty, needs=needs, status=status,
                      status_days=status_days, licence_days_after_release=licence_after,
                      scheduled=[[] for _ in range(n)])


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


CSV_REQUIRED = ("id", "age", "ogrs")
CSV_OPTIONAL = ("sex", "previous_convictions", "frailty", "status", "status_days_remaining",
                "licence_days_after_release")


def read_cohort_csv(scenario: Scenario) -> Population:
    """Read ``cohort.from_csv``, checking every row; errors name the file, line and column."""
    meta = scenario.meta
    rel = scenario.cohort.from_csv
    folder = Path(meta.folder) if meta is not None else Path.cwd()
    path = (folder / rel).resolve()
    where = "cohort.from_csv"
    scen_file = meta.file if meta is not None else None
    line = meta.origins.get(where, (scen_file, None))[1] if meta is not None else None
    if not scenario.cohort.allow_outside_folder and not path.is_relative_to(folder):
        raise CohortError(f"{rel!r} is outside the scenario's folder; set "
                          "cohort.allow_outside_folder: true to read it on purpose",
                          file=scen_file, line=line, path=where)
    if not path.is_file():
        raise CohortError(f"cohort file {rel!r} not found", file=scen_file, line=line, path=where)
    need_cols = [f"need_{n}" for n in NEEDS]
    records: list[dict] = []
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            header = reader.fieldnames or []
            missing = [c for c in CSV_REQUIRED if c not in header]
            if missing:
                raise CohortError(f"missing column(s) {', '.join(missing)}; expected at least "
                                  f"{', '.join(CSV_REQUIRED)}", file=path, line=1)
            unknown = [c for c in header if c not in CSV_REQUIRED + CSV_OPTIONAL + tuple(need_cols)]
            if unknown:
                raise CohortError(f"unknown column(s) {', '.join(unknown)}", file=path, line=1)
            for row in reader:
                lineno = reader.line_num
                records.append(_check_row(row, path, lineno, need_cols))
    except UnicodeDecodeError:
        raise CohortError("not UTF-8 text; expected a CSV file", file=path) from None
    except csv.Error as exc:
        raise CohortError(f"malformed CSV: {exc}", file=path) from None
    if not records:
        raise CohortError("the cohort file has no rows; the cohort is empty", file=path, line=2)
    limit = scenario.limits.max_offenders
    if len(records) > limit:
        raise CohortError(f"{len(records):,} offenders is more than limits.max_offenders "
                          f"({limit:,})", file=path)
    return _from_records(scenario, records, str(path))


def _check_row(row: dict, path: Path, lineno: int, need_cols: list[str]) -> dict:
    def number(col: str, lo: float | None = None, hi: float | None = None, default=None):
        text = (row.get(col) or "").strip()
        if text == "":
            if default is not None:
                return default
            raise CohortError(f"column {col}: empty; expected a number", file=path, line=lineno)
        try:
            value = float(text)
        except ValueError:
            raise CohortError(f"column {col}: {text!r} is not a number", file=path,
                              line=lineno) from None
        if not math.isfinite(value):
            raise CohortError(f"column {col}: {text!r} is not a finite number", file=path,
                              line=lineno)
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            hint = " (looks like a percent)" if col == "ogrs" and 1 < value <= 100 else ""
            raise CohortError(f"column {col}: {value:g} is outside [{lo}, {hi}]{hint}",
                              file=path, line=lineno)
        return value

    rid = (row.get("id") or "").strip()
    if not rid:
        raise CohortError("column id: empty; every record needs an id", file=path, line=lineno)
    sex = (row.get("sex") or "male").strip() or "male"
    if sex not in ("male", "female"):
        raise CohortError(f"column sex: {sex!r}; expected male or female", file=path, line=lineno)
    status = (row.get("status") or "unsupervised").strip() or "unsupervised"
    if status not in STATUSES:
        raise CohortError(f"column status: {status!r}; expected one of {', '.join(STATUSES)}",
                          file=path, line=lineno)
    needs = []
    for col in need_cols:
        text = (row.get(col) or "0").strip() or "0"
        if text not in ("0", "1"):
            raise CohortError(f"column {col}: {text!r}; expected 0 or 1", file=path, line=lineno)
        if text == "1":
            needs.append(col[len("need_"):])
    return {
        "id": rid, "sex": sex, "age": number("age", 10, 110), "ogrs": number("ogrs", 0, 1),
        "previous_convictions": number("previous_convictions", 0, None, 0.0),
        "frailty": number("frailty", 1e-9, None, 1.0), "status": status,
        "status_days_remaining": number("status_days_remaining", 0, None, 0.0),
        "licence_days_after_release": number("licence_days_after_release", 0, None, 0.0) or None,
        "needs": needs,
    }
