"""Compile and cache the numba engine's kernels before anyone waits for them.

numba compiles the kernels at their first call (about a minute) and caches the machine code
beside ``kernels.py``; ``make setup`` runs this module once so that no user's first run meets a
silent minute, and :func:`kernels_cached` lets the command line say what is happening when the
cache is missing (a new clone, or an edit of kernels.py).

    python -m iomsim.engine.numba.warmup [SCENARIO]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

KERNELS = Path(__file__).with_name("kernels.py")


def kernels_cached() -> bool:
    """Whether numba's cache holds the event loop's kernel for the current kernels.py (the
    index file is written beside the module, in ``__pycache__``, and is stale if older). Its
    name carries the kernel's line number, so an edit that moves it leaves the old index
    behind: the newest one is the current kernel's."""
    folder = KERNELS.parent / "__pycache__"
    index = list(folder.glob("kernels.run_phase-*.nbi"))
    return bool(index) and max(p.stat().st_mtime for p in index) >= KERNELS.stat().st_mtime


def warm_up(scenario) -> float:
    """Run one short replication of ``scenario`` (a Scenario, or a scenario file) on the numba
    engine, which compiles and caches the kernels; seconds taken."""
    from iomsim.engine.replication import simulate_replication
    from iomsim.scenario import Scenario, apply_overrides, load_scenario

    started = time.perf_counter()
    if isinstance(scenario, Scenario):
        scenario = apply_overrides(scenario, {"horizon_years": 1})
    else:
        scenario = load_scenario(scenario, overrides={"horizon_years": 1})
    simulate_replication(scenario, 1, 0, engine="compiled")
    return time.perf_counter() - started


def ensure_compiled(scenario, announce: bool = True) -> None:
    """Compile the kernels here, once, before worker processes would each compile them,
    saying so on stderr (a minute with no output looks like a hang)."""
    if kernels_cached():
        return
    if announce:
        print("iomsim: compiling the fast engine's kernels (once; about a minute)...",
              file=sys.stderr, flush=True)
    warm_up(scenario)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    path = args[0] if args else "scenarios/sussex-2013.yaml"
    if kernels_cached():
        print("iomsim: the fast engine's kernels are already compiled")
        return 0
    print("iomsim: compiling the fast engine's kernels (once; about a minute)...", flush=True)
    seconds = warm_up(path)
    print(f"iomsim: compiled and cached in {seconds:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
