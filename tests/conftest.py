"""Shared fixtures."""

from __future__ import annotations

import sys

import pytest

from tests.support import MINIMAL


@pytest.fixture
def minimal_path():
    return MINIMAL


@pytest.fixture
def iomsim_cli():
    """Command prefix that runs the iomsim CLI with this interpreter."""
    return [sys.executable, "-m", "iomsim.cli"]
