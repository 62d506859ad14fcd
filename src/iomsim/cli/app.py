"""The ``iomsim`` parser and ``main``: it parses, runs the command, and maps every input error to
a one-line message and exit status 2 (never a traceback)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from typing import Callable, Sequence

from iomsim.cli import breakeven, calibrate, report, run, scenarios, sweep
from iomsim.atomic import environment_fault
from iomsim.cli.common import EXIT_BROKEN_PIPE, EXIT_ENVIRONMENT, EXIT_INPUT, Parser, fail
from iomsim.errors import (EnvironmentFault, InputError, IomsimError, MemoryShortfall,
                           ResultsExistError, Terminated, WorkersDied)

# In the order `iomsim --help` lists them.
COMMAND_GROUPS = (run, sweep, breakeven, calibrate, report, scenarios)


def build_parser() -> argparse.ArgumentParser:
    from iomsim import __version__

    parser = Parser(prog="iomsim", description="Microsimulation of offender costs with and "
                                                "without Integrated Offender Management.")
    parser.add_argument("--version", action="version", version=f"iomsim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for group in COMMAND_GROUPS:
        group.register(sub)
    return parser


def _terminate(signum, frame):
    raise Terminated()


def main(argv: Sequence[str] | None = None) -> int:
    on_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if on_main_thread else None
    try:
        return _main(argv)
    finally:
        if on_main_thread:
            signal.signal(signal.SIGTERM, previous)


def _main(argv: Sequence[str] | None) -> int:
    args = None
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        func: Callable[[argparse.Namespace], int] = args.func
        return func(args)
    except SystemExit as exc:
        return int(exc.code) if isinstance(exc.code, int) else EXIT_INPUT
    except InputError as exc:
        *first, last = exc.lines()  # every problem found, one line each
        for line in first:
            fail(line)
        return fail(last)
    except ResultsExistError as exc:
        return fail(str(exc))
    except KeyboardInterrupt as exc:
        print("interrupted; no results were written", file=sys.stderr)
        return 143 if isinstance(exc, Terminated) else 130
    except (MemoryShortfall, WorkersDied) as exc:  # the machine or the cluster cannot do it
        return fail(str(exc), EXIT_ENVIRONMENT)
    except EnvironmentFault as exc:
        return fail(f"{exc}; nothing was written; {exc.remedy_for(_elsewhere(args))}",
                    EXIT_ENVIRONMENT)
    except IomsimError as exc:
        return fail(str(exc))
    except BrokenPipeError:
        # The reader of our output went away (`iomsim run ... | head`): whatever was to be
        # written is written; stop printing, and keep Python from failing again at exit when it
        # flushes stdout into the closed pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except RecursionError:  # input nested so deeply that a library gave up; never a traceback
        return fail("input nested too deeply to read")
    except OSError as exc:  # a file or folder given on the command line cannot be used
        fault = environment_fault(exc, exc.filename or "a file")
        if fault is not None:  # a write that did not go through iomsim.atomic
            return fail(f"{fault}; {fault.remedy_for(_elsewhere(args))}", EXIT_ENVIRONMENT)
        if exc.filename is None:
            raise
        where = exc.filename if exc.filename2 is None else f"{exc.filename} -> {exc.filename2}"
        return fail(f"{where}: {exc.strerror or exc}")


def _elsewhere(args: argparse.Namespace | None) -> str:
    """How to write somewhere else with the command that was run: what its parser says
    (``elsewhere``: report writes into the folder it reads), else its --out."""
    return getattr(args, "elsewhere", None) or "choose another --out"
