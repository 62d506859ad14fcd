"""Typed errors that carry where the problem is and what was expected.

Every error a user can cause with an input file is an :class:`InputError` (or a subclass). Its
``str()`` is one line: ``FILE:LINE: PATH: MESSAGE``. The command line prints that line and exits
with status 2; it never shows a traceback for these.
"""

from __future__ import annotations

from pathlib import Path


def one_line(text: object) -> str:
    """``text`` on one line: runs of whitespace become one space, other control characters are
    escaped, so a key or file name holding a newline cannot split an error message."""
    return _escape(" ".join(str(text).split()))


def _escape(text: object) -> str:
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))


class IomsimError(Exception):
    """Base class of every error iomsim raises on purpose."""


class InputError(IomsimError):
    """A problem with something the user gave: a scenario, a CSV, a sweep file, an option.

    ``file`` and ``line`` locate it (line is 1-based, ``None`` when unknown), ``path`` is the
    dotted YAML path (``offending.release_multiplier``; list items as ``[3]``), and ``message``
    says what was found and what was expected.
    """

    def __init__(self, message: str, *, file: str | Path | None = None, line: int | None = None,
                 path: str | None = None, more: "tuple[InputError, ...] | list[InputError]" = ()):
        self.message = one_line(message)  # always one line
        self.file = str(file) if file is not None else None
        self.line = line
        self.path = path
        # The other problems found with the first (each located as this one is); the command
        # line prints one line for each, after this one's.
        self.more = tuple(more)
        super().__init__(self.__str__())

    def __reduce__(self):
        # Keep file, line, path and the other problems when the error crosses a process
        # boundary (pool, Dask).
        return (_rebuild, (type(self), self.message, self.file, self.line, self.path, self.more))

    def lines(self) -> list[str]:
        """This problem and every other one found with it, one line each."""
        return [str(self), *(str(m) for m in self.more)]

    def __str__(self) -> str:
        where = _escape(self.file) if self.file else "<input>"
        if self.line is not None:
            where += f":{self.line}"
        if self.path:
            return f"{where}: {_escape(self.path)}: {self.message}"
        return f"{where}: {self.message}"


def _rebuild(cls, message, file, line, path, more=()):
    return cls(message, file=file, line=line, path=path, more=more)


class ScenarioError(InputError):
    """A scenario file that cannot be read, resolved or validated."""


class CohortError(InputError):
    """A cohort CSV with a bad row, a missing column or a path that may not be read."""


class OverrideError(InputError):
    """A ``--set path=value`` (or sweep parameter) naming no parameter or giving a bad value."""


class SweepError(InputError):
    """A sweep file that cannot be read or does not fit its scenario."""


class NobodySelected(InputError):
    """Selection picked nobody, so every IOM measure would be 0 / 0. ``point`` is the sweep (or
    break-even) point whose values made it so, when there is one."""

    def __init__(self, message: str, *, file: str | Path | None = None, line: int | None = None,
                 path: str | None = None, point: int | None = None):
        self.point = point
        super().__init__(message, file=file, line=line, path=path)

    def __reduce__(self):
        return (_rebuild_nobody, (self.message, self.file, self.line, self.path, self.point))


def _rebuild_nobody(message, file, line, path, point):
    return NobodySelected(message, file=file, line=line, path=path, point=point)


class ResultsExistError(IomsimError):
    """The output folder already holds results and ``--force`` (``force=True``) was not given."""


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, a cluster's time limit), handled as Ctrl-C is: whatever was being
    written is removed, and the command exits with status 143."""


class FolderBusy(IomsimError):
    """Another iomsim process holds the output folder's lock (it is writing there now)."""


class NotOurs(IomsimError):
    """An output folder holds something iomsim did not write, so ``--force`` may not replace it."""


class EnvironmentFault(IomsimError):
    """The machine refused a write: a full disk, a quota, a read-only file system, an I/O error.

    Not a problem with the input: the command line exits with status 3 (see the README's exit
    statuses). ``path`` is the file or folder the user asked for, not a hidden temporary.
    """

    def __init__(self, reason: str, path: str | Path, errno: int | None = None):
        self.reason = one_line(reason)
        self.path = str(path)
        self.errno = errno
        super().__init__(self.__str__())

    def __reduce__(self):
        return (type(self), (self.reason, self.path, self.errno))

    def __str__(self) -> str:
        return f"{self.reason} while writing {_escape(self.path)}"

    @property
    def remedy(self) -> str:
        return self.remedy_for("choose another --out")

    def remedy_for(self, elsewhere: str) -> str:
        """What to do, ``elsewhere`` saying how to write somewhere else with the command that
        failed (``choose another --out``, or for a command without one, another folder)."""
        import errno as codes

        if self.errno in (codes.ENOSPC, codes.EDQUOT, codes.EFBIG):
            return "free space and run again"
        if self.errno == codes.EROFS:
            return f"the file system is read-only; {elsewhere}"
        if self.errno in (codes.EACCES, codes.EPERM):
            return f"{elsewhere} or make the folder writable (its permissions)"
        return "check the disk and run again"


class MemoryShortfall(IomsimError):
    """One worker would need more memory than the machine has available: the command line exits
    with status 3 (the machine cannot do it), before anything runs."""


class WorkersDied(IomsimError):
    """The workers could not finish: local worker processes kept dying (killed, out of memory)
    and the pool gave up, or a Dask cluster lost its workers or its scheduler. The command line
    exits with status 3 (the machine or the cluster cannot do it); a sweep keeps its finished
    points, and running the same command again resumes it."""
