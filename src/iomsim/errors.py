"""Typed errors that carry where the problem is and what was expected.

Every error a user can cause with an input file is an :class:`InputError` (or a subclass). Its
``str()`` is one line: ``FILE:LINE: PATH: MESSAGE``. The command line prints that line and exits
with status 2; it never shows a traceback for these.
"""

from __future__ import annotations

from pathlib import Path


class IomsimError(Exception):
    """Base class of every error iomsim raises on purpose."""


class InputError(IomsimError):
    """A problem with something the user gave: a scenario, a CSV, a sweep file, an option.

    ``file`` and ``line`` locate it (line is 1-based, ``None`` when unknown), ``path`` is the
    dotted YAML path (``offending.release_multiplier``; list items as ``[3]``), and ``message``
    says what was found and what was expected.
    """

    def __init__(self, message: str, *, file: str | Path | None = None, line: int | None = None,
                 path: str | None = None):
        self.message = " ".join(str(message).split())  # always one line
        self.file = str(file) if file is not None else None
        self.line = line
        self.path = path
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = self.file or "<input>"
        if self.line is not None:
            where += f":{self.line}"
        if self.path:
            return f"{where}: {self.path}: {self.message}"
        return f"{where}: {self.message}"


class ScenarioError(InputError):
    """A scenario file that cannot be read, resolved or validated."""


class CohortError(InputError):
    """A cohort CSV with a bad row, a missing column or a path that may not be read."""


class OverrideError(InputError):
    """A ``--set path=value`` (or sweep parameter) naming no parameter or giving a bad value."""


class SweepError(InputError):
    """A sweep file that cannot be read or does not fit its scenario."""


class ResultsExistError(IomsimError):
    """The output folder already holds results and ``--force`` was not given."""
