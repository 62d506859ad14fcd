"""Helpers shared by test modules (import as ``tests.support``)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MINIMAL = ROOT / "tests" / "scenarios" / "minimal.yaml"


def load_minimal(overrides: dict | None = None, **kw):
    """The minimal test scenario with dotted-path overrides."""
    import iomsim

    merged = dict(overrides or {})
    merged.update(kw)
    return iomsim.load_scenario(MINIMAL, overrides=merged)
