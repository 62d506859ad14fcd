"""What the commands share: the parser class, the one-line error and the argument types."""

from __future__ import annotations

import argparse
import errno
import os
import sys
from pathlib import Path
from typing import Any, Callable, Iterable

from iomsim.errors import EnvironmentFault, InputError, one_line

# The exit statuses (the README's table lists them all).
EXIT_INPUT = 2        # bad input, or an --out that may not be written (taken, not ours)
EXIT_ENVIRONMENT = 3  # the machine cannot: a refused write (full disk, ...) or too little memory
EXIT_BROKEN_PIPE = 141  # our output's reader went away (`| head`): 128 + SIGPIPE, as a shell reports it


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, status 2, as for every other input error
        raise SystemExit(fail(f"{self.prog}: {message} (see {self.prog} --help)"))


def fail(message: str, status: int = EXIT_INPUT) -> int:
    """Print ``error: <message>`` as one line on stderr; return ``status`` (bad input's)."""
    print(f"error: {one_line(message)}", file=sys.stderr)
    return status


def whole_number(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number no smaller than ``minimum``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected a whole number >= {minimum}, got {value}")
        return value
    parse.__name__ = f"whole number >= {minimum}"
    return parse


positive_int = whole_number(1)


def replications(text: str) -> int:
    """An argparse type: a number of replications, from 1 to ``MAX_REPS``."""
    from iomsim.defaults import MAX_REPS, REPS_REASON

    value = positive_int(text)
    if value > MAX_REPS:
        raise argparse.ArgumentTypeError(f"expected at most {MAX_REPS:,} replications, got "
                                         f"{value:,}: {REPS_REASON}")
    return value
non_negative_int = whole_number(0)


def fraction(text: str) -> float:
    """An argparse type: a number strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a fraction between 0 and 1, got {value}")
    return value


def refuse_input_as_output(out: Path, scenario: Any, others: Iterable[Path] = ()) -> None:
    """Refuse an ``--out`` file that is one of the command's inputs (the scenario, a file of its
    extends: chain, its cohort CSV, ``others``) or a folder, before any work is done: writing it
    would lose the input."""
    from iomsim.inputs import same_file, scenario_files

    for path in (*scenario_files(scenario), *others):
        if same_file(out, path):
            raise InputError(f"--out names an input of this command ({path}); writing it would "
                             "replace the input: choose another file", file=out)
    if out.is_dir():
        raise InputError("is a folder; --out expects a file name", file=out)
    from iomsim.atomic import refuse_special_file

    refuse_special_file(out)  # a device or FIFO: before the work, not after it


def check_writable(out: Path, what: str = "results folder") -> None:
    """Refuse an --out that cannot be written before spending time on a simulation: a file
    where a folder is expected is bad input (exit 2); a folder the machine will not let us
    write in (its permissions, a read-only file system) is the environment's
    (:class:`EnvironmentFault`, exit 3), with what to do."""
    from iomsim.folders import real_target

    if out.exists() and not out.is_dir():
        raise InputError(f"is a file, expected a {what}", file=out)
    probe = real_target(out).parent
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise InputError(f"cannot create the {what} here ({probe} is a file, not a folder)",
                         file=out)
    # The folder itself, when it is there and will be written in (a sweep resumed), and the
    # folder it is made or replaced in.
    for folder in ((out, probe) if out.is_dir() else (probe,)):
        if os.access(folder, os.W_OK | os.X_OK):
            continue
        if _read_only(folder):
            raise EnvironmentFault(f"{folder} is on a read-only file system", out, errno.EROFS)
        raise EnvironmentFault(f"{folder} is not a folder you may write in (permission denied)",
                               out, errno.EACCES)


def _read_only(folder: Path) -> bool:
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):
        return False
