"""The engine benchmark runs, and ends with one JSON line holding the figures issue 6 asks for.

Not a timing test: ``--smoke`` uses tiny cohorts whose figures mean nothing. The sweep part is
skipped here (it starts a process pool, which costs more than the rest together).
"""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KEYS = {"offender_months_per_cpu_second", "scaling_100k_over_10k", "bytes_per_offender",
        "events_per_offender_month", "sweep_speedup", "crn_se_ratio"}
# The speed-at-scale keys: the Sussex PSA's 1,000 draws (and whether measured or extrapolated),
# the national scenario's throughput and peak memory, the Quickstart's run.
SCALE_KEYS = {"psa_1000_draws_seconds", "national_offender_months_per_second",
              "peak_bytes_per_simulated_offender", "make_run_seconds"}


def _smoke(*extra: str) -> dict:
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run.py"), "--smoke",
                           "--skip", "sweep", *extra], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    last = proc.stdout.strip().splitlines()[-1]
    summary = json.loads(last)
    assert KEYS | SCALE_KEYS <= set(summary)
    assert summary["mode"] == "smoke"
    assert summary["sweep_speedup"] is None
    for key in SCALE_KEYS - {"peak_bytes_per_simulated_offender"}:
        assert isinstance(summary[key], (int, float)) and summary[key] > 0, key
    # A smoke-sized national cohort may not move the peak resident size: zero is a measurement.
    assert summary["peak_bytes_per_simulated_offender"] >= 0
    assert summary["psa_1000_draws_how"].startswith(("measured", "extrapolated from"))
    return summary


def test_benchmark_smoke_ends_with_json_summary():
    summary = _smoke("--engine", "simpy")
    assert summary["engine_name"] == "simpy"
    for key in KEYS - {"sweep_speedup"}:
        assert isinstance(summary[key], (int, float)) and summary[key] > 0, key


def test_benchmark_measures_the_default_engine_unless_told():
    summary = _smoke()
    assert summary["engine_name"] == "compiled"
    for key in KEYS - {"sweep_speedup", "bytes_per_offender"}:
        assert isinstance(summary[key], (int, float)) and summary[key] > 0, key
    # The compiled engine's arrays for a smoke cohort of 30 fit in memory the process already
    # holds, so the peak resident size may not move: zero is a measurement here, not a failure.
    assert summary["bytes_per_offender"] >= 0


def test_simpy_heap_benchmark_counts_the_events_it_times():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import simpy_heap
    finally:
        sys.path.pop(0)
    # Each of 50 processes fires every 15 days on average, so 900 days hold 3,000 events
    # (Poisson, SD about 55).
    per_event, events = simpy_heap.cpu_per_event(50, 3_000)
    assert abs(events - 3_000) < 4 * 55
    assert 0 < per_event < 0.01
