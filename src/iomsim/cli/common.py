"""What the commands share: the parser class, the one-line error and the argument types."""

from __future__ import annotations

import argparse
import sys
from typing import Callable

from iomsim.errors import one_line

EXIT_INPUT = 2


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, status 2, as for every other input error
        raise SystemExit(fail(f"{self.prog}: {message} (see {self.prog} --help)"))


def fail(message: str) -> int:
    """Print ``error: <message>`` as one line on stderr; return the exit status of bad input."""
    print(f"error: {one_line(message)}", file=sys.stderr)
    return EXIT_INPUT


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
