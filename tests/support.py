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


def problem_lines(stderr: str) -> list[str]:
    """The lines of a refusal: one ``error: `` line per problem, the first saying how many more
    there are ("(and N more problems, listed below)") when there are others."""
    import re

    lines = stderr.strip().splitlines()
    assert lines and all(line.startswith("error: ") for line in lines), stderr
    more = re.search(r"\(and (\d+) more problems?, listed below\)", lines[0])
    assert len(lines) == 1 + (int(more.group(1)) if more else 0), stderr
    return lines


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


# Rule branches whose counts the engines do not share, even in distribution, where places are
# limited, though no result depends on them: places granted at the horizon, which start no IOM
# and end no wait that is recorded. The compiled engine hands a place given up to the head of the
# queue at once, simpy when the release event is processed, after what else is due at that
# moment. At the horizon, where everyone gives their places up, the compiled engine therefore
# passes a place on through more of those still waiting (each gives it up in turn at their own
# last wake-up) than simpy, in which they have left the queue by then, and each of them counts a
# place unused or a wait open at the horizon. IOM places: 30 offenders released on day 1, 3
# places and a horizon of one year: simpy counts no place unused, the compiled engine 6 to 9.
# Services: the three of test_same_as_simpy_with_queues_groups_and_windows, seeds 1 to 8, every
# metric identical: the compiled engine counts 0 to 3 waits open at the horizon more than
# simpy's 70 to 77. Comparisons of branch counts where places are limited leave them out.
BRANCHES_ORDERED_BY_HANDOFF = ("iom_place_unused", "service_wait_open_at_horizon")
# When a place is given up at the very moment the head of its queue changes status (everyone
# released from custody on one day, say), the compiled engine hands the place on at once, so
# the head holds it for no time and gives it up (a wait and a release counted), while simpy
# hands it on after the head's own step, so the head just leaves the queue. Every metric, cost
# and record is the same (test_engines_agree.test_releases_at_one_moment_...), but these counts
# differ, always the same way: the random scenarios of test_engines_agree, compared in
# distribution, leave them out; the exact comparisons of test_compiled_engine still count them.
BRANCHES_AT_A_SIMULTANEOUS_HANDOFF = ("service_wait", "service_wait_before_day_0",
                                      "service_queue_left", "service_place_released")


def assert_same_branches(a, b, leave_out=()) -> None:
    """The same count of every rule branch taken (``events_by_kind``: every name of
    ``BRANCHES``, in its order, zeros included), exactly; but those in ``leave_out``."""
    from iomsim.engine.branches import BRANCHES

    assert list(a.events_by_kind) == list(BRANCHES)
    assert list(b.events_by_kind) == list(BRANCHES)
    differing = {name: (count, b.events_by_kind[name]) for name, count in a.events_by_kind.items()
                 if count != b.events_by_kind[name] and name not in leave_out}
    assert not differing, f"branch counts differ (first result, second): {differing}"


def assert_same(a, b, rel: float = 1e-9, places_limited: bool = False,
                leave_out: tuple[str, ...] = ()) -> None:
    """Every metric (same keys, same order), cost cell, survival point and population figure,
    and the count of every rule branch taken; with ``places_limited`` (capacity-limited services
    or IOM places), but those of BRANCHES_ORDERED_BY_HANDOFF; never those of ``leave_out``."""
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
    ordered = BRANCHES_ORDERED_BY_HANDOFF if places_limited else ()
    assert_same_branches(a, b, ordered + leave_out)


# A sweep of Sussex small enough to run in a second (format with scenario, seed and levels).
SMALL_SWEEP = """\
scenario: {scenario}
overrides: {{cohort.size: 60, selection.cohort_size: 8, horizon_years: 1, pre_period_months: 6}}
design: grid
replications: 1
seed: {seed}
parameters:
  iom.effects.offending_multiplier: {{levels: {levels}}}
"""
