"""Helpers shared by test modules (import as ``tests.support``)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MINIMAL = ROOT / "tests" / "scenarios" / "minimal.yaml"


def load_minimal(overrides: dict | None = None, **kw):
    """The minimal test scenario with dotted-path overrides."""
    import iomsim

    merged = dict(overrides or {})
    merged.update(kw)
    return iomsim.load_scenario(MINIMAL, overrides=merged)


def pool_workers(pid: int) -> list[int]:
    """The spawned multiprocessing workers among the children of process ``pid`` (Linux)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    out = []
    for c in children:
        try:
            if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes():
                out.append(int(c))
        except OSError:
            continue
    return out


def relative_difference(a: float, b: float) -> float:
    if a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b)):
        return 0.0
    return abs(a - b) / max(abs(a), abs(b))


def assert_same(a, b, rel: float = 1e-9) -> None:
    """Every metric (same keys, same order), cost cell, survival point and population figure."""
    assert a.cohort_size == b.cohort_size
    assert a.offender_months == b.offender_months
    assert list(a.metrics) == list(b.metrics)
    for arm in a.metrics:
        assert list(a.metrics[arm]) == list(b.metrics[arm])
        for key, x in a.metrics[arm].items():
            assert relative_difference(x, b.metrics[arm][key]) <= rel, \
                (arm, key, x, b.metrics[arm][key])
        ca, cb = a.costs[arm], b.costs[arm]
        assert ca.shape == cb.shape
        np.testing.assert_allclose(cb, ca, rtol=rel, atol=0.0, err_msg=arm)
        np.testing.assert_allclose(b.survival[arm], a.survival[arm], rtol=rel, atol=0.0)
    assert list(a.population) == list(b.population)
    for key, x in a.population.items():
        assert relative_difference(x, b.population[key]) <= rel, (key, x, b.population[key])
