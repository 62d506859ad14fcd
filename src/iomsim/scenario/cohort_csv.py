"""Read and check a cohort CSV of anonymised offender records (``cohort.from_csv``).

The loader calls this when a scenario is validated, so ``iomsim validate`` refuses a bad cohort
file just as ``iomsim run`` would; the engine calls it again to build the population. Every
error is a one-line :class:`~iomsim.errors.CohortError` naming the file, the line and the column.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import os
import stat
from pathlib import Path
from typing import Any

from iomsim.errors import CohortError
from iomsim.scenario.schema import FRAILTY_REASON, MAX_FRAILTY, NEEDS, STATUSES

CSV_REQUIRED = ("id", "age", "ogrs")
CSV_OPTIONAL = ("sex", "previous_convictions", "frailty", "status", "status_days_remaining",
                "licence_days_after_release")
NEED_COLUMNS = tuple(f"need_{n}" for n in NEEDS)
MAX_FIELD_CHARS = 10_000
# A cohort CSV is read whole before it is parsed, never more than this many bytes (plus one):
# a row a hundred times longer than a full row of every column, for each offender the scenario
# allows, and room for the header. /dev/zero is refused as not a regular file; a huge (or
# sparse) file is refused from its size, before a byte of it is read.
CSV_BYTES_PER_OFFENDER = 1_000
CSV_BYTES_ALLOWANCE = 1_000_000


def max_csv_bytes(max_offenders: int) -> int:
    """The largest cohort CSV read for a scenario whose ``limits.max_offenders`` is given."""
    return CSV_BYTES_ALLOWANCE + CSV_BYTES_PER_OFFENDER * max_offenders


def cohort_csv_path(scenario: Any) -> Path:
    """The cohort file a scenario names, resolved; refused if outside the scenario's folder tree
    unless ``cohort.allow_outside_folder`` is true."""
    meta = scenario.meta
    rel = scenario.cohort.from_csv
    folder = Path(meta.folder) if meta is not None else Path.cwd()
    where = "cohort.from_csv"
    scen_file, line = _origin(scenario, where)
    if not rel or not rel.strip():
        raise CohortError("empty file name; expected the path of a CSV file relative to the "
                          "scenario's folder", file=scen_file, line=line, path=where)
    try:
        path = (folder / rel).resolve()
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise CohortError(f"{_short(rel)} is not a usable file name ({reason})", file=scen_file,
                          line=line, path=where) from None
    if not scenario.cohort.allow_outside_folder and not path.is_relative_to(folder.resolve()):
        raise CohortError(f"{_short(rel)} is outside the scenario's folder; set "
                          "cohort.allow_outside_folder: true to read it on purpose",
                          file=scen_file, line=line, path=where)
    try:
        is_file, is_dir = path.is_file(), path.is_dir()
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise CohortError(f"{_short(rel)} is not a usable file name ({reason})", file=scen_file,
                          line=line, path=where) from None
    if not is_file:
        # A FIFO or device would block or never end: only a regular file is read.
        what = "is a folder" if is_dir else "is not a regular file" if path.exists() \
            else "not found"
        raise CohortError(f"cohort file {_short(rel)} {what}; expected a CSV file (relative to "
                          f"{folder})", file=scen_file, line=line, path=where)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise CohortError(f"cannot read the cohort file ({exc.strerror})", file=scen_file,
                          line=line, path=where) from None
    _check_size(size, scenario, rel, scen_file, line)
    return path


def _check_size(size: int, scenario: Any, rel: str, scen_file, line) -> None:
    limit = scenario.limits.max_offenders
    most = max_csv_bytes(limit)
    if size > most:
        raise CohortError(f"cohort file {_short(rel)} is {size:,} bytes, more than the {most:,} "
                          f"read for limits.max_offenders ({limit:,}) offenders "
                          f"({CSV_BYTES_PER_OFFENDER:,} bytes an offender); expected one short "
                          "row per offender (raise limits.max_offenders for a larger cohort)",
                          file=scen_file, line=line, path="cohort.from_csv")


def read_cohort_bytes(scenario: Any) -> tuple[Path, bytes]:
    """The cohort file's path and content, read once and never beyond its size limit (a file
    that grew past it, or was swapped for a FIFO or device, after the check is refused too)."""
    path = cohort_csv_path(scenario)
    rel = scenario.cohort.from_csv
    scen_file, line = _origin(scenario, "cohort.from_csv")
    most = max_csv_bytes(scenario.limits.max_offenders)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                raise CohortError(f"cohort file {_short(rel)} is not a regular file; expected a "
                                  "CSV file", file=scen_file, line=line, path="cohort.from_csv")
            raw = fh.read(most + 1)
    except OSError as exc:
        raise CohortError(f"cannot read the cohort file ({exc.strerror})", file=scen_file,
                          line=line, path="cohort.from_csv") from None
    _check_size(len(raw), scenario, rel, scen_file, line)
    return path, raw


def _short(text: str, limit: int = 80) -> str:
    shown = repr(text)
    return shown if len(shown) <= limit else shown[:limit] + "..."


def _origin(scenario: Any, where: str) -> tuple[str | None, int | None]:
    meta = scenario.meta
    if meta is None:
        return None, None
    return meta.origins.get(where, (meta.file, None))


def _display(path: Path) -> Path:
    """The path as errors show it: relative to the working folder when it is inside it."""
    try:
        return path.relative_to(Path.cwd().resolve())
    except (ValueError, OSError):
        return path


_CACHE: dict[tuple, list[dict[str, Any]]] = {}
_CACHE_SIZE = 2


def read_cohort_records(scenario: Any) -> list[dict[str, Any]]:
    """Every record of ``cohort.from_csv``, checked row by row (read-only: the list is cached
    by the file's content, since the loader, each sweep point and each replication ask for
    it)."""
    path, raw = read_cohort_bytes(scenario)
    limit = scenario.limits.max_offenders
    key = (str(path), hashlib.sha256(raw).hexdigest(), limit)
    if key in _CACHE:
        return _CACHE[key]
    records = _read_records(path, raw, limit)
    while len(_CACHE) >= _CACHE_SIZE:
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[key] = records
    return records


def _read_records(path: Path, raw: bytes, limit: int) -> list[dict[str, Any]]:
    shown = _display(path)
    if b"\x00" in raw[:65536]:
        raise CohortError("binary data (a NUL byte); expected a UTF-8 CSV text file", file=shown)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CohortError("not UTF-8 text; expected a UTF-8 CSV file", file=shown,
                          line=raw.count(b"\n", 0, exc.start) + 1) from None
    del raw
    records: list[dict[str, Any]] = []
    first_line: dict[str, int] = {}
    reader = None
    try:
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        header = [h.strip() for h in next(reader, [])]
        _check_header(header, shown)
        for row in reader:
            lineno = reader.line_num
            if not row or all(not cell.strip() for cell in row):
                continue  # blank line
            if len(row) != len(header):
                raise CohortError(f"{len(row)} field{'s' * (len(row) != 1)}, but the "
                                  f"header has {len(header)} ({', '.join(header)})",
                                  file=shown, line=lineno)
            if any("\x00" in cell or len(cell) > MAX_FIELD_CHARS for cell in row):
                raise CohortError("a field holds binary data or more than "
                                  f"{MAX_FIELD_CHARS:,} characters", file=shown, line=lineno)
            record = check_row(dict(zip(header, row)), shown, lineno)
            if record["id"] in first_line:
                raise CohortError(f"column id: duplicate id {record['id']!r} (first on line "
                                  f"{first_line[record['id']]}); ids must be unique",
                                  file=shown, line=lineno)
            first_line[record["id"]] = lineno
            records.append(record)
            if len(records) > limit:
                raise CohortError(f"more than {limit:,} offenders (limits.max_offenders); "
                                  "raise limits.max_offenders to read a larger cohort",
                                  file=shown, line=lineno)
    except csv.Error as exc:
        raise CohortError(f"malformed CSV: {exc}", file=shown,
                          line=getattr(reader, "line_num", None) or None) from None
    if not records:
        raise CohortError("the cohort file has no rows; the cohort is empty (expected a header "
                          "line and at least one record)", file=shown, line=2)
    return records


def _check_header(header: list[str], path: Path) -> None:
    if not header:
        raise CohortError("the cohort file is empty; expected a header line with at least "
                          f"{', '.join(CSV_REQUIRED)}", file=path, line=1)
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise CohortError(f"column {name!r} appears twice in the header", file=path, line=1)
        seen.add(name)
    missing = [c for c in CSV_REQUIRED if c not in header]
    if missing:
        raise CohortError(f"missing column(s) {', '.join(missing)}; expected at least "
                          f"{', '.join(CSV_REQUIRED)}", file=path, line=1)
    known = CSV_REQUIRED + CSV_OPTIONAL + NEED_COLUMNS
    unknown = [c for c in header if c not in known]
    if unknown:
        raise CohortError(f"unknown column(s) {', '.join(repr(c) for c in unknown)}; expected "
                          f"columns from {', '.join(CSV_REQUIRED + CSV_OPTIONAL)} and "
                          "need_<area>", file=path, line=1)


def check_row(row: dict[str, str], path: Path, lineno: int) -> dict[str, Any]:
    """One CSV record as a dict of typed values; CohortError naming the column if not."""
    def number(col: str, lo: float | None = None, hi: float | None = None, default=None,
               why: str = ""):
        text = (row.get(col) or "").strip()
        if text == "":
            if default is not None:
                return default
            raise CohortError(f"column {col}: empty; expected a number", file=path, line=lineno)
        try:
            value = float(text)
        except ValueError:
            raise CohortError(f"column {col}: {text[:40]!r} is not a number", file=path,
                              line=lineno) from None
        if not math.isfinite(value):
            raise CohortError(f"column {col}: {text!r} is not a finite number", file=path,
                              line=lineno)
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            hint = "; looks like a percent" if col == "ogrs" and 1 < value <= 100 else ""
            upper = f"{hi:,g}" if hi is not None else "no limit"
            reason = f": {why}" if why and hi is not None and value > hi else ""
            raise CohortError(f"column {col}: {value:g} is outside [{lo:g}, {upper}]"
                              f"{hint}{reason}", file=path, line=lineno)
        return value

    rid = (row.get("id") or "").strip()
    if not rid:
        raise CohortError("column id: empty; every record needs an id", file=path, line=lineno)
    sex = (row.get("sex") or "male").strip() or "male"
    if sex not in ("male", "female"):
        raise CohortError(f"column sex: {sex[:40]!r}; expected male or female", file=path,
                          line=lineno)
    status = (row.get("status") or "unsupervised").strip() or "unsupervised"
    if status not in STATUSES:
        raise CohortError(f"column status: {status[:40]!r}; expected one of "
                          f"{', '.join(STATUSES)}", file=path, line=lineno)
    needs = []
    for col in NEED_COLUMNS:
        text = (row.get(col) or "0").strip() or "0"
        if text not in ("0", "1"):
            raise CohortError(f"column {col}: {text[:40]!r}; expected 0 or 1", file=path,
                              line=lineno)
        if text == "1":
            needs.append(col[len("need_"):])
    return {
        "id": rid, "sex": sex, "age": number("age", 10, 110), "ogrs": number("ogrs", 0, 1),
        "previous_convictions": number("previous_convictions", 0, None, 0.0),
        "frailty": number("frailty", 1e-9, MAX_FRAILTY, 1.0, FRAILTY_REASON), "status": status,
        "status_days_remaining": number("status_days_remaining", 0, None, 0.0),
        "licence_days_after_release": number("licence_days_after_release", 0, None, 0.0) or None,
        "needs": needs,
    }
