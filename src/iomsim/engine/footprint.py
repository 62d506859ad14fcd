"""How much memory one replication needs, estimated from the scenario before anything runs.

A cohort of a million (the default limit) on the simpy engine grew past 5.7 GB in a minute on one
worker, and a local pool multiplies that by its workers: a machine that swaps is slower than one
that refuses. The figures are the peak resident memory of one replication of Sussex above the
process's baseline, divided by the offenders simulated (pre-period population), and the baseline
itself (imports, the compiled kernels), measured on this project's 2-core machine with::

    python - <<'PY'   # for engine in compiled, simpy; n simulated offenders
    import resource, iomsim
    from iomsim.engine import simulate_replication
    s = iomsim.load_scenario("scenarios/sussex-2013.yaml",
                             overrides={"cohort.size": n, "selection.cohort_size": n * 483 // 2000})
    ...  # one small warm-up replication, then ru_maxrss before and after one replication
    PY

compiled: 654 B per simulated offender at 20,000 and 696 B at 200,000 (baseline 194 MB) before
the pre-period ran in blocks; after it, 465 B at 414,079 and 420 B at 325,000 (the national
example; docs/performance.md, run L); simpy: 7,345 B at 20,000 (baseline 83 MB). The estimate
rounds the larger of these up by about a third.
"""

from __future__ import annotations

import os
from pathlib import Path

from iomsim.scenario.schema import Scenario

BYTES_PER_SIMULATED_OFFENDER = {"compiled": 650, "simpy": 10_000}
BASELINE_BYTES = {"compiled": 260_000_000, "simpy": 120_000_000}


def simulated_offenders(scenario: Scenario) -> int:
    """How many offenders a replication simulates (the pre-period population)."""
    cohort = scenario.cohort
    if cohort.offenders is not None:
        return len(cohort.offenders)
    if cohort.from_csv is not None:
        from iomsim.scenario.cohort_csv import read_cohort_records

        return len(read_cohort_records(scenario))  # read (bounded) and cached by the loader
    return int(cohort.size or 0)


def bytes_per_worker(scenario: Scenario, engine: str) -> int:
    """Peak memory of one worker running replications of ``scenario`` on ``engine``."""
    return (BASELINE_BYTES[engine]
            + BYTES_PER_SIMULATED_OFFENDER[engine] * simulated_offenders(scenario))


def proc_bytes(path: str, field: str) -> int | None:
    """A ``field: N kB`` line of a Linux /proc file (``/proc/meminfo``, ``/proc/self/status``)
    in bytes, or None where there is no such file or line."""
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def available_bytes() -> int | None:
    """Memory the machine can give without swapping (MemAvailable), or None if unknown."""
    available = proc_bytes("/proc/meminfo", "MemAvailable")
    if available is not None:
        return available
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
