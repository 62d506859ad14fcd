"""How simpy's own cost per event grows with the number of live processes.

The engine keeps every offender of a run alive as a simpy process at once (they compete for
capacity-limited places, so they must share one event queue). This script times bare simpy:
``n`` processes each looping ``yield env.timeout(uniform(0, 30))``, the same number of events at
each ``n``, and prints CPU microseconds per event. It separates simpy's scaling (a deeper heap,
more memory between events) from the engine's own::

    python benchmarks/simpy_heap.py                      # 4,000 / 40,000 / 400,000 processes
    python benchmarks/simpy_heap.py --sizes 1000,10000 --events 500000
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import time

import simpy


def _loop(env: simpy.Environment, rnd: random.Random):
    while True:
        yield env.timeout(rnd.random() * 30.0)


def cpu_per_event(processes: int, events: int, seed: int = 1) -> tuple[float, int]:
    """CPU seconds per event for about ``events`` events among ``processes`` live processes,
    and the number of events counted."""
    env = simpy.Environment()
    rnd = random.Random(seed)
    for _ in range(processes):
        env.process(_loop(env, rnd))
    env.run(until=1.0)  # every process started and waiting
    before = next(env._eid)  # simpy's event-id counter (taking one id is harmless)
    mean_gap = 15.0  # each process fires every 15 days on average
    until = 1.0 + events * mean_gap / processes
    start = time.process_time()
    env.run(until=until)
    elapsed = time.process_time() - start
    counted = next(env._eid) - before - 1
    return elapsed / counted, counted


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="4000,40000,400000", help="live processes, comma-separated")
    p.add_argument("--events", type=int, default=3_000_000, help="events timed at each size")
    args = p.parse_args()
    gc.disable()  # as in the engine during a replication
    out = {}
    for n in (int(x) for x in args.sizes.split(",")):
        seconds, _ = cpu_per_event(n, args.events)
        us = seconds * 1e6
        out[n] = round(us, 3)
        print(f"{n:>9,} processes: {us:.2f} CPU µs per event")
    print(json.dumps({"cpu_us_per_event_by_processes": out}))


if __name__ == "__main__":
    main()
