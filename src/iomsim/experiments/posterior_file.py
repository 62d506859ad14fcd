"""The accepted draws of a calibration's posterior file, read for a PSA.

``iomsim calibrate`` with a targets file of ``method: abc`` writes ``<name>.posterior.csv``:
one row per parameter set drawn from the priors, one column per fitted parameter (a dotted
scenario path), ``sim:<target>`` columns (the simulated targets) and ``selected``,
``distance``, ``accepted`` and ``chosen``. A sweep's ``posterior:`` names such a file; each PSA
sample then takes one accepted row whole (see :func:`iomsim.experiments.designs.posterior_order`),
so that the PSA carries the calibration's uncertainty, correlations between the fitted
parameters included.

Reading is strict: a file that is not such a table (not UTF-8 text, a row with another number of
fields than the header, an ``accepted`` that is not True or False, an accepted row's parameter
that is not a finite number) or that has no accepted row is refused with a one-line message
(:class:`PosteriorFileError`) that :mod:`iomsim.experiments.spec` reports at the sweep file's
``posterior:`` line. Whether the parameter columns are scenario paths is checked there, against
the sweep's scenario.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

# The columns of a posterior file that are not parameters (besides the ``sim:`` ones).
NOT_PARAMETERS = ("selected", "distance", "accepted", "chosen")
SIM_PREFIX = "sim:"
# A targets file draws at most 100,000 parameter sets; a row of 50 columns is about 600 bytes.
MAX_POSTERIOR_BYTES = 100_000_000
MAX_POSTERIOR_ROWS = 100_000
_TRUE = ("true", "1")
_FALSE = ("false", "0")


class PosteriorFileError(ValueError):
    """A posterior file that cannot be used; the message names the file (and line)."""


@dataclass
class PosteriorDraws:
    """The accepted rows of a posterior file.

    ``values``: one row per accepted draw, one column per parameter (in the file's order), index
    the draw's number in the file (its data row, from 0: the ABC draw). ``digest``: SHA-256 of
    the file's content (part of a sweep's hash). ``draws``: every row of the file.
    """

    path: Path
    digest: str
    values: pd.DataFrame
    draws: int

    @property
    def columns(self) -> list[str]:
        return list(self.values.columns)


def parameter_columns(header: list[str]) -> list[str]:
    """The parameter columns of a posterior file's header."""
    return [c for c in header if c not in NOT_PARAMETERS and not c.startswith(SIM_PREFIX)]


def read_posterior(path: str | Path, shown: str | None = None) -> PosteriorDraws:
    """Read and check a posterior file (``shown``: its name in messages)."""
    path = Path(path)
    name = shown if shown is not None else str(path)
    raw = _read_bytes(path, name)
    digest = hashlib.sha256(raw).hexdigest()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PosteriorFileError(f"{name} is not UTF-8 text (byte {exc.start:,}); expected the "
                                 "posterior CSV that iomsim calibrate writes") from None
    if "\x00" in text:
        raise PosteriorFileError(f"{name} holds a NUL character; expected a CSV text file")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if not header:
            raise PosteriorFileError(f"{name} is empty; expected a header line and one row per "
                                     "draw")
        header = [h.strip() for h in header]
        _check_header(header, name)
        params = parameter_columns(header)
        where = {c: i for i, c in enumerate(header)}
        i_acc = where["accepted"]
        index: list[int] = []
        rows: list[list[float]] = []
        draws = 0
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue  # a blank line
            line = reader.line_num
            if len(row) != len(header):
                raise PosteriorFileError(f"{name} line {line}: {len(row)} fields, the header "
                                         f"has {len(header)}")
            draws += 1
            if draws > MAX_POSTERIOR_ROWS:
                raise PosteriorFileError(f"{name}: more than {MAX_POSTERIOR_ROWS:,} draws (the "
                                         "most a targets file may ask for)")
            flag = row[i_acc].strip().lower()
            if flag in _FALSE:
                continue
            if flag not in _TRUE:
                raise PosteriorFileError(f"{name} line {line}: accepted is "
                                         f"{_short(row[i_acc])}, expected True or False")
            rows.append([_number(row[where[c]], name, line, c) for c in params])
            index.append(draws - 1)
    except csv.Error as exc:
        raise PosteriorFileError(f"{name} line {reader.line_num}: not a readable CSV "
                                 f"({exc})") from None
    if not rows:
        raise PosteriorFileError(f"{name} has no accepted row (of {draws:,} draws); a PSA "
                                 "samples the accepted draws of a calibration")
    values = pd.DataFrame(rows, columns=params, index=pd.Index(index, name="draw"))
    return PosteriorDraws(path=path, digest=digest, values=values, draws=draws)


def _check_header(header: list[str], name: str) -> None:
    if "accepted" not in header:
        raise PosteriorFileError(f"{name} has no accepted column; expected the posterior CSV "
                                 "that iomsim calibrate writes (method: abc)")
    seen: set[str] = set()
    for h in header:
        if not h:
            raise PosteriorFileError(f"{name} line 1: an empty column name")
        if h in seen:
            raise PosteriorFileError(f"{name} line 1: column {_short(h)} appears twice")
        seen.add(h)
    if not parameter_columns(header):
        raise PosteriorFileError(f"{name} has no parameter column (only sim: and "
                                 f"{', '.join(NOT_PARAMETERS)} columns)")


def _number(text: str, name: str, line: int, column: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise PosteriorFileError(f"{name} line {line}: {column} is {_short(text)} in an accepted "
                                 "row, expected a finite number")
    return value


def _short(text: str, limit: int = 60) -> str:
    shown = repr(text)
    return shown if len(shown) <= limit else shown[:limit] + "..."


def _read_bytes(path: Path, name: str) -> bytes:
    """The file's content: only a regular file, never beyond the size limit (plus one byte)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                raise PosteriorFileError(f"{name} is not a regular file; expected a CSV file")
            raw = fh.read(MAX_POSTERIOR_BYTES + 1)
    except FileNotFoundError:
        raise PosteriorFileError(f"{name}: file not found") from None
    except IsADirectoryError:
        raise PosteriorFileError(f"{name} is a folder; expected a CSV file") from None
    except OSError as exc:
        raise PosteriorFileError(f"{name} cannot be read ({exc.strerror or exc})") from None
    except ValueError as exc:  # a NUL in the name
        raise PosteriorFileError(f"{name} is not a usable file name ({exc})") from None
    if len(raw) > MAX_POSTERIOR_BYTES:
        raise PosteriorFileError(f"{name} is larger than a posterior file may be: more than "
                                 f"{MAX_POSTERIOR_BYTES:,} bytes (reading stopped there)")
    return raw
