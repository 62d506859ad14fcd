"""Engine benchmark (issue 6): speed, scaling, memory, simpy events, sweep speed-up, CRN.

Every part measures the package's default engine (compiled) unless ``--engine simpy`` is given.

Run from the repository root::

    python benchmarks/run.py                 # full: N = 1,000, 10,000 and 100,000 (long)
    python benchmarks/run.py --sizes 1000,10000   # full, but only the sizes that fit
    python benchmarks/run.py --quick         # a minute or two, smaller N (noted in the output)
    python benchmarks/run.py --smoke         # seconds; checks the script works, figures meaningless

It prints a table and, as its last line, one JSON object with the keys
``offender_months_per_cpu_second``, ``scaling_100k_over_10k``, ``bytes_per_offender``,
``events_per_offender_month``, ``sweep_speedup``, ``crn_se_ratio``, ``psa_1000_draws_seconds``,
``national_offender_months_per_second``, ``peak_bytes_per_simulated_offender`` and
``make_run_seconds`` (plus a few keys that say what was measured).

What is measured, and how (see docs/performance.md):

* N is the number of offenders **selected** onto IOM at day 0 (``selection.cohort_size``); the
  pre-period population (``cohort.size``) is scaled by the same factor as in the scenario
  (3,000 / 483 for Sussex), so the whole model, pre-period included, grows with N.
* Offender-months are ``ReplicationResult.offender_months``: the selected cohort's months in both
  arms (N x 60 x 2 over five years). Pre-period months of the population are *not* counted in
  the headline; the table also shows the figure with them counted.
* CPU seconds are ``time.process_time()`` around one ``simulate_replication`` call (population,
  pre-period, selection, both arms, metrics) in a fresh single process per size.
* Peak memory is ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` in that fresh process at the end,
  minus the same figure just before the replication starts (after imports, scenario load and
  compile), divided by N; per-offender detail is not kept (``keep_offenders=False``).
* Events are ``ReplicationResult.events`` (simpy event ids issued in the pre-period and both arms)
  divided by the counted offender-months.
* The simpy ceiling is bare ``env.timeout`` events per CPU-second: 1,000 processes each looping
  over ``yield env.timeout(delay)``.
* Sweep speed-up is wall time of 20 independent runs on one process divided by the same on all
  cores (``iomsim.sweep`` when it exists, else ``iomsim.runner.iter_replications``), points of
  about 0.1 s (N = 1,500). ``sweep_speedup`` is the median over repeated pairs with the local
  workers kept from the sweep before (they start once per process); ``sweep_speedup_cold``
  includes their start-up.
* ``psa_1000_draws_seconds``: wall time of a PSA of Sussex (the calibration's accepted draws, 10
  replications per draw) on all cores, for 1,000 draws: measured in full mode, extrapolated
  linearly from fewer draws otherwise (``psa_1000_draws_how`` says which).
* ``national_offender_months_per_second``: the national scenario
  (scenarios/national/england-wales.yaml; sizes scaled by ``national_scale`` outside full mode),
  several replications on all cores through ``iomsim.run``: counted offender-months per wall
  second. ``peak_bytes_per_simulated_offender``: one replication of it in a fresh process, peak
  resident memory above the baseline over the offenders simulated.
* ``make_run_seconds``: the Quickstart's ``iomsim run scenarios/sussex-2013.yaml --out ...
  --force`` (what ``make run`` runs after setup) in a fresh process, wall, median of a few.
* ``crn_se_ratio`` is the standard deviation across replications of the incremental discounted
  fiscal cost per offender (IOM arm minus non-IOM arm, agencies only, victims excluded) with
  independent streams (``independent_arms=True``) divided by the same with common random
  numbers, over the same number of replications (so it is the ratio of standard errors).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

from iomsim.defaults import DEFAULT_ENGINE, ENGINES

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SCENARIO = ROOT / "scenarios" / "sussex-2013.yaml"
SWEEP_POINTS = 20
CHILD_CEILING_EVENTS = 300_000  # bare simpy events timed beside each size, to gauge the load

NATIONAL_SCENARIO = ROOT / "scenarios" / "national" / "england-wales.yaml"
POSTERIOR = ROOT / "scenarios" / "sussex-2013.posterior.csv"
PSA_DRAWS = 1_000  # the researcher's PSA: 1,000 parameter draws of Sussex ...
PSA_REPS = 10  # ... with 10 replications each

MODES = {
    # sizes: selected offenders for the throughput runs; reference: the N the headline figures
    # are quoted at; sweep_n / crn_n: selected offenders per run; crn_reps: replications per arm
    # mode; simpy_events: bare timeouts for the ceiling. sweep_n = 1,500: a sweep point (one
    # replication) lasts about 0.1 s on the compiled engine, as the sweep target asks.
    # psa_draws: draws actually run (the 1,000-draw time is extrapolated from fewer, and says
    # so); psa_n: selected offenders (None: the scenario's own, 483 for Sussex).
    # national_scale: the national scenario's sizes times this; national_reps: replications of
    # its all-cores run (times the cores); make_run_reps: None runs the Quickstart's command as
    # it is (100 replications), a number adds --reps.
    "full": dict(sizes=[1_000, 10_000, 100_000], reference=10_000, memory_reference=100_000,
                 sweep_n=1_500, sweep_points=SWEEP_POINTS, sweep_repeats=3, crn_n=483,
                 crn_reps=20, simpy_events=2_000_000, psa_draws=PSA_DRAWS, psa_n=None,
                 national_scale=1.0, national_reps=2, make_run_reps=None, make_run_repeats=3),
    "quick": dict(sizes=[100, 300, 1_000], reference=1_000, memory_reference=1_000,
                  sweep_n=1_500, sweep_points=SWEEP_POINTS, sweep_repeats=3, crn_n=100,
                  crn_reps=10, simpy_events=500_000, psa_draws=20, psa_n=None,
                  national_scale=0.1, national_reps=4, make_run_reps=None, make_run_repeats=2),
    "smoke": dict(sizes=[10, 30], reference=30, memory_reference=30,
                  sweep_n=10, sweep_points=4, sweep_repeats=1, crn_n=10, crn_reps=3,
                  simpy_events=20_000, psa_draws=2, psa_n=10, national_scale=0.001,
                  national_reps=1, make_run_reps=2, make_run_repeats=1),
}


# --------------------------------------------------------------------------- helpers

def load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.2f}/{five:.2f}"


def scaled_overrides(scenario, n: int) -> dict:
    """Overrides that select ``n`` offenders from a population scaled in proportion."""
    base_pop = scenario.cohort.size
    sel = scenario.selection
    if base_pop is None or sel is None:
        raise SystemExit("the benchmark needs a scenario with a generated cohort and selection")
    pop = int(round(n * base_pop / sel.cohort_size))
    return {"cohort.size": max(pop, n), "selection.cohort_size": n}


def load_scaled(path: Path, n: int):
    import iomsim
    base = iomsim.load_scenario(path)
    return iomsim.load_scenario(path, overrides=scaled_overrides(base, n))


def freeze_scenario(path: Path, folder: Path) -> tuple[Path, str]:
    """Write the scenario, resolved (extends, provenance and uprating done), to one file.

    Every part of the benchmark then reads that file, so a scenario edited or re-calibrated
    while the benchmark runs cannot make its parts measure different models.
    """
    import yaml

    import iomsim

    base = iomsim.load_scenario(path)
    if base.cohort.from_csv is not None:
        return path, base.meta.hash  # a cohort CSV is relative to the scenario's folder
    frozen = folder / "scenario.yaml"
    frozen.write_text(yaml.safe_dump(base.meta.resolved, sort_keys=False))
    return frozen, base.meta.hash


def peak_rss() -> int:
    """This process's peak resident memory in bytes: VmHWM on Linux (the high-water mark of its
    own memory since exec), else ``ru_maxrss``. On Linux ``ru_maxrss`` carries over exec the
    parent's peak when it is higher, so a child started by a benchmark that already holds a
    sweep's tables saw no peak of its own."""
    from iomsim.engine.footprint import proc_bytes

    peak = proc_bytes("/proc/self/status", "VmHWM")
    if peak is not None:
        return peak
    unit = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * unit


def machine() -> dict:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu or platform.processor(), "cores": os.cpu_count(),
            "python": platform.python_version(), "platform": platform.platform()}


def engine_state() -> str:
    """The commit and a hash of the engine's source (every module under iomsim/engine, the
    compiled engine's too) of the iomsim actually imported, which need not be this checkout's
    (PYTHONPATH may point elsewhere); uncommitted changes are flagged."""
    import hashlib

    import iomsim.engine

    engine = Path(iomsim.engine.__file__).resolve().parent
    digest = hashlib.sha256()
    for f in sorted(engine.rglob("*.py")):
        digest.update(str(f.relative_to(engine)).encode())
        digest.update(f.read_bytes())
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=engine, text=True,
                              capture_output=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "."],
                               cwd=engine, text=True, capture_output=True).stdout.strip()
    except OSError:
        head, dirty = "?", ""
    return f"commit {head or '?'}{' + uncommitted engine changes' if dirty else ''}; " \
           f"engine source sha256 {digest.hexdigest()[:12]}"


# --------------------------------------------------------------------------- child: one size

def child_throughput(scenario_path: Path, n: int, seed: int, engine_name: str = DEFAULT_ENGINE) -> dict:
    """Runs in a fresh interpreter: one replication at ``n`` selected offenders.

    With the compiled engine, a small replication is run first (outside the measurement) so
    that numba's compilation, or the loading of its cache, is not counted; its CPU time is
    reported as ``warmup``.
    """
    import gc

    import simpy

    from iomsim.engine import compile_model, simulate_replication

    engine = engine_state()
    scenario = load_scaled(scenario_path, n)
    model = compile_model(scenario)
    # Time each simpy run (pre-period, then the arms) without touching the engine.
    phases: list[float] = []
    original_run = simpy.Environment.run

    def timed_run(self, *args, **kwargs):
        t = time.process_time()
        try:
            return original_run(self, *args, **kwargs)
        finally:
            phases.append(time.process_time() - t)

    warmup = 0.0
    if engine_name == "compiled":
        warmup = time.process_time()
        simulate_replication(compile_model(load_scaled(scenario_path, 10)), seed, 0,
                             engine="compiled")
        warmup = time.process_time() - warmup
    ceiling_before = simpy_ceiling(CHILD_CEILING_EVENTS, 100)["events_per_cpu_second"]
    simpy.Environment.run = timed_run
    gc.collect()
    rss_before = peak_rss()
    wall = time.perf_counter()
    cpu = time.process_time()
    result = simulate_replication(model, seed, 0, engine=engine_name)
    cpu = time.process_time() - cpu
    wall = time.perf_counter() - wall
    rss_after = peak_rss()
    simpy.Environment.run = original_run
    ceiling_after = simpy_ceiling(CHILD_CEILING_EVENTS, 100)["events_per_cpu_second"]
    pre_months = scenario.cohort.size * scenario.pre_period_months
    return {
        "n": n, "population": scenario.cohort.size, "selected": result.cohort_size,
        "offender_months": result.offender_months, "pre_period_months": pre_months,
        "events": result.events, "cpu": cpu, "wall": wall, "phases": phases,
        "rss_before": rss_before, "rss_peak": rss_after,
        "ceiling": 2.0 / (1.0 / ceiling_before + 1.0 / ceiling_after), "engine": engine,
        "engine_name": engine_name, "warmup": warmup,
    }


def run_child(scenario_path: Path, n: int, seed: int, engine_name: str = DEFAULT_ENGINE) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child-throughput", str(n),
           "--seed", str(seed), "--scenario", str(scenario_path), "--engine", engine_name]
    return _child(cmd, f"child run at N={n}")


def _child(cmd: list[str], what: str) -> dict:
    """Run a child benchmark process; its last stdout line is its JSON, with the load added."""
    load_before = load()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"{what} failed (exit {proc.returncode})")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["load"] = f"{load_before} -> {load()}"
    return out


# --------------------------------------------------------------------------- simpy ceiling

def simpy_ceiling(total_events: int, processes: int = 1_000) -> dict:
    import simpy

    env = simpy.Environment()
    per = max(1, total_events // processes)

    def ticker(env, delay):
        for _ in range(per):
            yield env.timeout(delay)

    for i in range(processes):
        env.process(ticker(env, 1.0 + i / processes))
    cpu = time.process_time()
    env.run()
    cpu = time.process_time() - cpu
    events = next(env._eid) if hasattr(env, "_eid") else per * processes
    return {"events": events, "cpu": cpu, "events_per_cpu_second": events / cpu}


# --------------------------------------------------------------------------- sweep speed-up

def _sweep_once(scenario, points: int, seed: int, jobs: int, engine: str = DEFAULT_ENGINE
                ) -> tuple[float, str]:
    """Wall seconds for one sweep of ``points`` points, and what was run."""
    import iomsim

    sweep = getattr(iomsim, "sweep", None)
    if sweep is not None:
        spec = {"scenario": scenario, "design": "grid", "replications": 1, "seed": seed,
                "engine": engine, "parameters": {"iom.effects.offending_multiplier":
                               {"low": 0.2, "high": 1.0, "steps": points}}}
        t = time.perf_counter()
        try:
            sweep(spec, jobs=jobs, progress=False)
            return time.perf_counter() - t, (f"iomsim.sweep: grid of {points} values of "
                                             "iom.effects.offending_multiplier, 1 replication each, "
                                             f"engine {engine}")
        except Exception as exc:  # an API still being built: fall back, and say so
            fallback = f"iomsim.sweep failed ({type(exc).__name__}: {exc}); "
    else:
        fallback = "iomsim.sweep not available; "
    from iomsim.runner import iter_replications

    t = time.perf_counter()
    for _ in iter_replications(scenario, range(points), seed, jobs, engine):
        pass
    return time.perf_counter() - t, (fallback + f"iomsim.runner.iter_replications: {points} "
                                     "independent replications")


BUSY = ("import time; t = time.perf_counter(); x = 0\nfor i in range(8_000_000): x += i\n"
        "print(time.perf_counter() - t)")


def parallel_gauge(jobs: int) -> float:
    """How many cores' worth of work ``jobs`` bare busy loops get at once on this machine now:
    ``jobs`` x (one loop's time alone) / (the slowest's time beside the others). ``jobs`` on an
    idle machine; less when other users' work holds the cores. No sweep can beat it."""
    def timed(n: int) -> list[float]:
        procs = [subprocess.Popen([sys.executable, "-c", BUSY], stdout=subprocess.PIPE, text=True)
                 for _ in range(n)]
        return [float(pr.communicate()[0]) for pr in procs]

    one = timed(1)[0]
    return jobs * one / max(timed(jobs))


def sweep_speedup(scenario_path: Path, n: int, points: int, seed: int, jobs: int,
                  engine: str = DEFAULT_ENGINE, repeats: int = 1) -> dict:
    """Wall time of a sweep on one process over the same on ``jobs`` cores.

    First on all cores with the local workers not yet started (``cold``: their start-up, about
    a second each, is in the time), then ``repeats`` pairs of (one process, all cores) with the
    workers kept from the sweep before, as they are for every sweep after the first in a
    process (a notebook, a PSA run in batches, calibration). The headline is the median of the
    kept-worker pairs' ratios; the cold ratio is reported beside it."""
    from iomsim.execution import close_workers

    scenario = load_scaled(scenario_path, n)
    load_before = load()
    _sweep_once(scenario, 2, seed, 1, engine)  # this process's imports and kernels, not timed
    close_workers()
    one_first, how = _sweep_once(scenario, points, seed, 1, engine)
    cold, _ = _sweep_once(scenario, points, seed, jobs, engine)
    ones, warms = [one_first], []
    for i in range(repeats):
        warms.append(_sweep_once(scenario, points, seed, jobs, engine)[0])
        if i + 1 < repeats:
            ones.append(_sweep_once(scenario, points, seed, 1, engine)[0])
    ratios = sorted(o / w for o, w in zip(ones, warms))
    one = sorted(ones)[len(ones) // 2]
    gauge = parallel_gauge(jobs)
    return {"n": n, "points": points, "jobs": jobs, "wall_one": one, "wall_cold": cold,
            "parallel_gauge": gauge,
            "walls_one": ones, "walls_warm": warms,
            "speedup": ratios[len(ratios) // 2], "speedup_cold": one_first / cold,
            "point_seconds": one / points, "how": how, "load": f"{load_before} -> {load()}"}


# --------------------------------------------------------------------------- PSA of Sussex

def cpu_with_workers() -> float:
    """CPU seconds of this process and of the kept local pool's workers so far (Linux: their
    /proc stat; elsewhere this process only). Other users' load stretches wall time, not this."""
    total = time.process_time()
    try:
        from iomsim import execution

        pool = execution._POOL
        pids = list(getattr(pool, "_processes", {}) or {}) if pool is not None else []
        tick = os.sysconf("SC_CLK_TCK")
        for pid in pids:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    except (OSError, ValueError, IndexError, AttributeError):
        pass
    return total


def psa_time(scenario_path: Path, draws: int, reps: int, seed: int, jobs: int,
             engine: str = DEFAULT_ENGINE, n: int | None = None) -> dict:
    """Wall seconds of a PSA of ``draws`` parameter draws x ``reps`` replications on ``jobs``
    cores, through ``iomsim.sweep`` (in memory), and the same extrapolated to 1,000 draws.

    The draws are the shipped calibration's accepted draws (scenarios/sussex-2013.posterior.csv,
    as scenarios/sweeps/psa-small.yaml takes them) with a lognormal scale on IOM's costs. The
    extrapolation is linear in the draws, set-up and tables included (so it errs long)."""
    import iomsim

    scenario = load_scaled(scenario_path, n) if n else iomsim.load_scenario(scenario_path)
    spec = {"scenario": scenario, "design": "psa", "samples": draws, "sampling": "lhs",
            "replications": reps, "seed": seed, "engine": engine,
            "parameters": {"iom_cost_scale": {"distribution": "lognormal", "mean": 1.0, "sd": 0.25,
                                              "assumption": "benchmark"}}}
    how = "calibration's accepted draws and IOM cost scale"
    if POSTERIOR.exists() and n is None:
        spec["posterior"] = str(POSTERIOR)
    else:
        how = "IOM cost scale only (no posterior for this scenario size)"
    load_before = load()
    cpu = cpu_with_workers()
    t = time.perf_counter()
    try:
        iomsim.sweep(spec, jobs=jobs, progress=False)
    except Exception as exc:  # e.g. a posterior that no longer fits the scenario: say so
        if "posterior" not in spec:
            raise
        spec.pop("posterior")
        how = f"IOM cost scale only (the posterior was refused: {type(exc).__name__})"
        t = time.perf_counter()
        iomsim.sweep(spec, jobs=jobs, progress=False)
    wall = time.perf_counter() - t
    cpu = cpu_with_workers() - cpu
    return {"draws": draws, "reps": reps, "jobs": jobs, "wall": wall, "cpu": cpu,
            "cpu_1000": cpu * PSA_DRAWS / draws,
            "seconds_1000": wall * PSA_DRAWS / draws, "measured": draws >= PSA_DRAWS,
            "n": scenario.selection.cohort_size if scenario.selection else None,
            "how": how, "load": f"{load_before} -> {load()}"}


# --------------------------------------------------------------------------- national scale

def national_overrides(scale: float) -> dict:
    import iomsim

    base = iomsim.load_scenario(NATIONAL_SCENARIO)
    if scale == 1.0:
        return {}
    return {"cohort.size": max(20, int(round(base.cohort.size * scale))),
            "selection.cohort_size": max(5, int(round(base.selection.cohort_size * scale)))}


def child_national(scale: float, seed: int, jobs: int, reps: int,
                   engine_name: str = DEFAULT_ENGINE) -> dict:
    """Runs in a fresh interpreter: one replication of the national scenario in this process
    (CPU time, peak memory above the baseline), then ``reps`` replications on ``jobs`` cores
    through ``iomsim.run`` (wall time)."""
    import gc

    import iomsim
    from iomsim.engine import compile_model, simulate_replication

    overrides = national_overrides(scale)
    # The baseline: imports, and the kernels loaded by a tiny replication; the peak above it is
    # the national scenario's model and one replication (compile_model's tables are built
    # from the population's size too, and freed memory is reused, so both are inside).
    simulate_replication(compile_model(load_scaled(DEFAULT_SCENARIO, 10)), seed, 0,
                         engine=engine_name)
    gc.collect()
    rss_before = peak_rss()
    scenario = iomsim.load_scenario(NATIONAL_SCENARIO, overrides=overrides)
    model = compile_model(scenario)
    cpu = time.process_time()
    result = simulate_replication(model, seed, 0, engine=engine_name)
    cpu = time.process_time() - cpu
    rss_after = peak_rss()
    del result
    gc.collect()
    wall = time.perf_counter()
    results = iomsim.run(scenario, reps=reps, seed=seed, jobs=jobs, progress=False,
                         engine=engine_name)
    wall = time.perf_counter() - wall
    months = float(sum(results.manifest["cohort_size"])) * 12 * scenario.horizon_years * 2
    return {"population": scenario.cohort.size, "selected": scenario.selection.cohort_size,
            "cpu_one": cpu, "months_one": months / reps, "rss_before": rss_before,
            "rss_peak": rss_after, "reps": reps, "jobs": results.manifest.get("jobs"),
            "wall": wall, "offender_months": months}


def national(scale: float, seed: int, jobs: int, reps: int, engine_name: str) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child-national", str(scale),
           "--seed", str(seed), "--jobs", str(jobs), "--national-reps", str(reps),
           "--engine", engine_name]
    return _child(cmd, "national run")


# --------------------------------------------------------------------------- make run

def make_run(reps: int | None, repeats: int) -> dict:
    """Wall seconds of the Quickstart's run (what ``make run`` runs after setup:
    ``iomsim run scenarios/sussex-2013.yaml --out ... --force``), each in a fresh process on the
    default engine with its kernels already compiled (setup excluded)."""
    import tempfile

    walls = []
    with tempfile.TemporaryDirectory(prefix="iomsim-make-run-") as tmp:
        cmd = [sys.executable, "-m", "iomsim.cli", "run", str(DEFAULT_SCENARIO), "--out",
               str(Path(tmp) / "sussex-2013"), "--force", "--no-progress"]
        if reps is not None:
            cmd += ["--reps", str(reps)]
        load_before = load()
        for _ in range(repeats):
            t = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
            walls.append(time.perf_counter() - t)
            if proc.returncode != 0:
                sys.stderr.write(proc.stderr)
                raise SystemExit(f"the Quickstart's run failed (exit {proc.returncode})")
    return {"walls": walls, "seconds": sorted(walls)[len(walls) // 2], "reps": reps or 100,
            "load": f"{load_before} -> {load()}"}


# --------------------------------------------------------------------------- CRN

def incremental_costs(scenario_path: Path, n: int, reps: int, seed: int,
                      independent: bool, engine: str = DEFAULT_ENGINE) -> list[float]:
    import numpy as np

    from iomsim.engine import compile_model, simulate_replication
    from iomsim.results import discount_factors
    from iomsim.scenario.schema import VICTIMS

    scenario = load_scaled(scenario_path, n)
    model = compile_model(scenario)
    fiscal = np.array([it.agency != VICTIMS for it in model.items.items])
    out = []
    for rep in range(reps):
        r = simulate_replication(model, seed, rep, independent_arms=independent, engine=engine)
        per_arm = {}
        for arm in ("non_iom", "iom"):
            c = r.costs[arm]
            disc = discount_factors(scenario.discount_rate, c.shape[0])
            total = float((c[:, fiscal] * disc[:, None]).sum())
            per_arm[arm] = total / r.metrics[arm]["offenders"]
        out.append(per_arm["iom"] - per_arm["non_iom"])
    return out


def crn_ratio(scenario_path: Path, n: int, reps: int, seed: int, engine: str = DEFAULT_ENGINE) -> dict:
    import numpy as np
    from scipy import stats

    load_before = load()
    cpu = time.process_time()
    crn = incremental_costs(scenario_path, n, reps, seed, independent=False, engine=engine)
    ind = incremental_costs(scenario_path, n, reps, seed, independent=True, engine=engine)
    cpu = time.process_time() - cpu
    se_crn = float(np.std(crn, ddof=1) / math.sqrt(reps))
    se_ind = float(np.std(ind, ddof=1) / math.sqrt(reps))
    ratio = se_ind / se_crn if se_crn > 0 else math.inf
    # 95% interval of the ratio of standard deviations: the variance ratio is F(reps-1, reps-1).
    lo = ratio / math.sqrt(stats.f.ppf(0.975, reps - 1, reps - 1))
    hi = ratio / math.sqrt(stats.f.ppf(0.025, reps - 1, reps - 1))
    return {"n": n, "reps": reps, "mean_crn": float(np.mean(crn)), "se_crn": se_crn,
            "mean_ind": float(np.mean(ind)), "se_ind": se_ind, "ratio": ratio,
            "ratio_lo": lo, "ratio_hi": hi, "cpu": cpu, "load": f"{load_before} -> {load()}"}


# --------------------------------------------------------------------------- profile

def profile(scenario_path: Path, n: int, seed: int, top: int = 30) -> None:
    """cProfile of one replication, timed by CPU (not wall) so other users' load matters less."""
    import cProfile
    import pstats

    from iomsim.engine import compile_model, simulate_replication

    scenario = load_scaled(scenario_path, n)
    model = compile_model(scenario)
    prof = cProfile.Profile(time.process_time)
    prof.enable()
    result = simulate_replication(model, seed, 0)
    prof.disable()
    stats = pstats.Stats(prof)
    total = stats.total_tt
    print(f"cProfile (CPU clock) of one replication at N={n:,} (population "
          f"{scenario.cohort.size:,}): {total:.2f} CPU s under the profiler, "
          f"{result.events:,} simpy events, engine {engine_state()}; load {load()}")
    by_file: dict[str, float] = {}
    for (file, _, _), (_, _, tt, _, _) in stats.stats.items():
        key = ("iomsim/" + file.split("/iomsim/", 1)[1]) if "/iomsim/" in file else \
            ("simpy/" + file.split("/simpy/", 1)[1]) if "/simpy/" in file else \
            "builtins and C" if file == "~" else "other Python"
        by_file[key] = by_file.get(key, 0.0) + tt
    print("\nown time by file:")
    for key, tt in sorted(by_file.items(), key=lambda kv: -kv[1])[:12]:
        print(f"  {tt:8.2f} s {tt / total:6.1%}  {key}")
    print()
    stats.sort_stats("tottime").print_stats(top)


# --------------------------------------------------------------------------- main

def _fmt(x: float, digits: int = 0) -> str:
    return f"{x:,.{digits}f}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="a minute or two, smaller N")
    mode.add_argument("--smoke", action="store_true", help="seconds; for tests")
    p.add_argument("--sizes", help="comma-separated selected-cohort sizes for the throughput runs")
    p.add_argument("--reference", type=int, help="N at which the headline speed is quoted")
    p.add_argument("--crn-reps", type=int, help="replications per arm mode for crn_se_ratio")
    p.add_argument("--crn-n", type=int, help="selected offenders in the CRN runs")
    p.add_argument("--sweep-n", type=int, help="selected offenders per sweep point")
    p.add_argument("--jobs", type=int, default=None, help="processes for the sweep (default: all)")
    p.add_argument("--skip", default="",
                   help="comma-separated parts to skip: sweep,crn,simpy,psa,national,make_run")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--engine", choices=ENGINES, default=DEFAULT_ENGINE,
                   help="engine for every part: throughput, sweep and CRN (default: the "
                        "package's default engine, compiled)")
    p.add_argument("--scenario", type=Path, default=DEFAULT_SCENARIO)
    p.add_argument("--profile", type=int, metavar="N",
                   help="instead of the benchmark: cProfile (CPU-time clock) of one replication "
                        "at N selected offenders; prints where the time goes")
    p.add_argument("--child-throughput", type=int, help=argparse.SUPPRESS)
    p.add_argument("--child-national", type=float, help=argparse.SUPPRESS)
    p.add_argument("--national-reps", type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.profile is not None:
        profile(args.scenario, args.profile, args.seed)
        return 0

    if args.child_national is not None:
        print(json.dumps(child_national(args.child_national, args.seed, args.jobs or 1,
                                        args.national_reps or 1, args.engine)))
        return 0

    if args.child_throughput is not None:
        print(json.dumps(child_throughput(args.scenario, args.child_throughput, args.seed,
                                          args.engine)))
        return 0

    name = "smoke" if args.smoke else "quick" if args.quick else "full"
    cfg = dict(MODES[name])
    if args.sizes:
        cfg["sizes"] = [int(s) for s in args.sizes.split(",") if s.strip()]
    for key in ("reference", "crn_reps", "crn_n", "sweep_n"):
        if getattr(args, key) is not None:
            cfg[key] = getattr(args, key)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    jobs = args.jobs or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                         else os.cpu_count() or 1)
    sizes = sorted(set(cfg["sizes"]))

    info = machine()
    engine = engine_state()  # the engine as it was when the run started (it may change during)
    import tempfile

    workdir = tempfile.TemporaryDirectory(prefix="iomsim-bench-")
    shown = args.scenario.relative_to(ROOT) if args.scenario.is_relative_to(ROOT) else args.scenario
    args.scenario, scenario_hash = freeze_scenario(args.scenario, Path(workdir.name))
    print(f"iomsim benchmark, mode {name}; {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}")
    print(f"machine: {info['cpu']}, {info['cores']} cores, Python {info['python']}, "
          f"{info['platform']}; load (1/5 min) {load()}")
    print(f"engine: {engine}; throughput runs with engine={args.engine!r}")
    print(f"scenario: {shown} (resolved scenario sha256 {scenario_hash[:12]}), seed {args.seed}")
    if name != "full":
        print(f"NOTE: {name} mode uses smaller N than issue 6 asks for (1,000 / 10,000 / 100,000); "
              "its figures are indicative only.")
    print()

    # Throughput, scaling and memory: one fresh process per size.
    runs = {}
    print(f"{'N sel':>8} {'popn':>8} {'off-months':>11} {'CPU s':>8} {'off-mo/CPU s':>13} "
          f"{'+pre /CPU s':>12} {'events':>10} {'ev/off-mo':>9} {'ev/CPU s':>9} "
          f"{'peak MB':>8} {'B/offender':>10} {'B/popn':>7} {'ceiling':>9}  phases CPU s (env.run)  load")
    for n in sizes:
        r = run_child(args.scenario, n, args.seed, args.engine)
        runs[n] = r
        if r.get("warmup"):
            print(f"  (compiled engine: warm-up replication at N=10 before the measurement took "
                  f"{r['warmup']:.2f} CPU s: numba compilation or cache loading, not counted)")
        extra = r["rss_peak"] - r["rss_before"]
        phases = ", ".join(f"{x:.1f}" for x in r["phases"])
        print(f"{n:>8,} {r['population']:>8,} {r['offender_months']:>11,.0f} {r['cpu']:>8.2f} "
              f"{r['offender_months'] / r['cpu']:>13,.0f} "
              f"{(r['offender_months'] + r['pre_period_months']) / r['cpu']:>12,.0f} "
              f"{r['events']:>10,} {r['events'] / r['offender_months']:>9.2f} "
              f"{r['events'] / r['cpu']:>9,.0f} {extra / 2**20:>8.1f} {extra / n:>10,.0f} "
              f"{extra / r['population']:>7,.0f} {r['ceiling']:>9,.0f}  [{phases}]  {r['load']}", flush=True)
        if r["engine"].rsplit(" ", 1)[-1] != engine.rsplit(" ", 1)[-1]:  # the source hash
            print(f"  NOTE: the engine changed on disk before this size ran: {r['engine']}")
        if r["selected"] != n:
            print(f"  WARNING: only {r['selected']} offenders were eligible for selection at N={n}")
    ref = cfg["reference"] if cfg["reference"] in runs else max(runs)
    mem_ref = cfg["memory_reference"] if cfg["memory_reference"] in runs else max(runs)
    pairs = [(a, b) for a in runs for b in runs if b == 10 * a]
    if (10_000, 100_000) in pairs:
        pair = (10_000, 100_000)
    elif pairs:
        pair = max(pairs)
    elif len(runs) > 1:
        pair = (sorted(runs)[-2], sorted(runs)[-1])
    else:
        pair = None
    scaling = runs[pair[1]]["cpu"] / runs[pair[0]]["cpu"] if pair else math.nan
    # The same ratio with each CPU time expressed in units of a bare simpy event timed beside it,
    # which takes out most of the slowdown that other users' load causes.
    scaling_norm = (runs[pair[1]]["cpu"] * runs[pair[1]]["ceiling"]) / \
        (runs[pair[0]]["cpu"] * runs[pair[0]]["ceiling"]) if pair else math.nan
    r = runs[ref]
    speed = r["offender_months"] / r["cpu"]
    events_per_month = r["events"] / r["offender_months"]
    bytes_per = (runs[mem_ref]["rss_peak"] - runs[mem_ref]["rss_before"]) / mem_ref
    print()
    print(f"speed at N={ref:,}: {_fmt(speed)} offender-months per CPU-second "
          f"(target >= 1,000,000 at N=10,000)")
    if pair:
        print(f"scaling: CPU time at N={pair[1]:,} / N={pair[0]:,} = {scaling:.2f} "
              f"(size ratio {pair[1] / pair[0]:g}; target <= 11 for 100,000 / 10,000); "
              f"{scaling_norm:.2f} with each time in units of a bare simpy event timed beside it")
    print(f"peak memory above baseline at N={mem_ref:,}: {_fmt(bytes_per)} bytes per selected "
          f"offender (target <= 2,048 at N=100,000)")

    ceiling = None
    if "simpy" not in skip:
        ceiling = simpy_ceiling(cfg["simpy_events"])
        print(f"simpy ceiling: {_fmt(ceiling['events_per_cpu_second'])} bare timeout events per "
              f"CPU-second ({ceiling['events']:,} events); the engine at N={ref:,} runs "
              f"{_fmt(r['events'] / r['cpu'])} events per CPU-second "
              f"({r['events'] / r['cpu'] / ceiling['events_per_cpu_second']:.1%} of the ceiling) "
              f"and {events_per_month:.2f} events per offender-month")

    sweep = None
    if "sweep" not in skip:
        sweep = sweep_speedup(args.scenario, cfg["sweep_n"], cfg["sweep_points"], args.seed, jobs,
                              args.engine, cfg["sweep_repeats"])
        print(f"sweep: {sweep['points']} points at N={sweep['n']:,} ({sweep['point_seconds']:.3f} s "
              f"a point on one process): {sweep['wall_one']:.2f} s wall on 1 process "
              f"({', '.join(f'{w:.2f}' for w in sweep['walls_one'])}), "
              f"{', '.join(f'{w:.2f}' for w in sweep['walls_warm'])} s on {jobs} with the workers "
              f"kept from the sweep before: speed-up {sweep['speedup']:.2f} (median; target >= 1.8 "
              f"on 2 cores); {sweep['wall_cold']:.2f} s on {jobs} with the workers' start-up "
              f"included: {sweep['speedup_cold']:.2f}; {sweep['how']}; load {sweep['load']}; "
              f"{jobs} bare busy loops got {sweep['parallel_gauge']:.2f} cores' worth of work at "
              f"once just after (the most any sweep could reach then)")

    psa = None
    if "psa" not in skip:
        psa = psa_time(args.scenario, cfg["psa_draws"], PSA_REPS, args.seed, jobs, args.engine,
                       cfg["psa_n"])
        said = "measured" if psa["measured"] else \
            f"extrapolated linearly from {psa['draws']:,} draws"
        of = shown if cfg["psa_n"] is None else f"{shown} at N={psa['n']:,}"
        print(f"PSA: {psa['draws']:,} draws x {psa['reps']} replications of {of} on {jobs} cores "
              f"({psa['how']}): {psa['wall']:.1f} s wall; 1,000 draws: {psa['seconds_1000']:,.0f} s "
              f"({said}; target <= 600 s); {psa['cpu']:.1f} CPU s in this process and its "
              f"workers, {psa['cpu_1000'] / jobs:,.0f} s for 1,000 draws on {jobs} idle cores; "
              f"load {psa['load']}")

    nat = None
    if "national" not in skip:
        nat = national(cfg["national_scale"], args.seed, jobs, cfg["national_reps"] * jobs,
                       args.engine)
        extra = nat["rss_peak"] - nat["rss_before"]
        nat["bytes_per_simulated"] = extra / nat["population"]
        nat["months_per_second"] = nat["offender_months"] / nat["wall"]
        size = "full size" if cfg["national_scale"] == 1.0 else \
            f"its sizes x {cfg['national_scale']:g}"
        print(f"national ({NATIONAL_SCENARIO.relative_to(ROOT)}, {size}: {nat['population']:,} "
              f"simulated, {nat['selected']:,} selected): one replication "
              f"{nat['cpu_one']:.2f} CPU s ({nat['months_one'] / nat['cpu_one']:,.0f} "
              f"offender-months per CPU s), peak {extra / 2**20:,.0f} MB above baseline = "
              f"{nat['bytes_per_simulated']:,.0f} B per simulated offender "
              f"({extra / nat['selected']:,.0f} per selected); {nat['reps']} replications on "
              f"{nat['jobs']} cores: {nat['wall']:.1f} s wall, {nat['months_per_second']:,.0f} "
              f"offender-months per second; load {nat['load']}")

    mrun = None
    if "make_run" not in skip:
        mrun = make_run(cfg["make_run_reps"], cfg["make_run_repeats"])
        print(f"make run (iomsim run scenarios/sussex-2013.yaml, {mrun['reps']} replications, "
              f"fresh process, kernels compiled): {mrun['seconds']:.1f} s wall (median of "
              f"{', '.join(f'{w:.1f}' for w in mrun['walls'])}; target <= 15 s); "
              f"load {mrun['load']}")

    crn = None
    if "crn" not in skip:
        crn = crn_ratio(args.scenario, cfg["crn_n"], cfg["crn_reps"], args.seed, args.engine)
        print(f"CRN: incremental discounted fiscal cost per offender (IOM - non-IOM) at "
              f"N={crn['n']:,}, {crn['reps']} reps: CRN {_fmt(crn['mean_crn'])} "
              f"(SE {_fmt(crn['se_crn'])}), independent {_fmt(crn['mean_ind'])} "
              f"(SE {_fmt(crn['se_ind'])}); SE ratio {crn['ratio']:.2f} "
              f"(95% CI {crn['ratio_lo']:.2f} to {crn['ratio_hi']:.2f}; target >= 3); "
              f"{crn['cpu']:.0f} CPU s; load {crn['load']}")

    summary = {
        "offender_months_per_cpu_second": round(speed, 1),
        "scaling_100k_over_10k": round(scaling, 3) if pair else None,
        "bytes_per_offender": round(bytes_per, 1),
        "events_per_offender_month": round(events_per_month, 3),
        "sweep_speedup": round(sweep["speedup"], 3) if sweep else None,
        "sweep_speedup_cold": round(sweep["speedup_cold"], 3) if sweep else None,
        "sweep_point_seconds": round(sweep["point_seconds"], 4) if sweep else None,
        "sweep_parallel_gauge": round(sweep["parallel_gauge"], 3) if sweep else None,
        "psa_1000_draws_seconds": round(psa["seconds_1000"], 1) if psa else None,
        "psa_1000_draws_cpu_seconds": round(psa["cpu_1000"], 1) if psa else None,
        "psa_1000_draws_how": ((f"measured, {psa['draws']} draws" if psa["measured"] else
                                f"extrapolated from {psa['draws']} draws") +
                               f" x {psa['reps']} replications, {jobs} cores") if psa else None,
        "national_offender_months_per_second": round(nat["months_per_second"], 1) if nat else None,
        "peak_bytes_per_simulated_offender": round(nat["bytes_per_simulated"], 1) if nat else None,
        "national_scale": cfg["national_scale"] if nat else None,
        "make_run_seconds": round(mrun["seconds"], 2) if mrun else None,
        "make_run_reps": mrun["reps"] if mrun else None,
        "crn_se_ratio": round(crn["ratio"], 3) if crn else None,
        "mode": name,
        "reference_n": ref,
        "memory_n": mem_ref,
        "scaling_sizes": list(pair) if pair else None,
        "scaling_load_normalised": round(scaling_norm, 3) if pair else None,
        "simpy_ceiling_events_per_cpu_second": round(ceiling["events_per_cpu_second"], 1)
        if ceiling else None,
        "engine": engine,
        "engine_name": args.engine,
        "scenario_sha256": scenario_hash[:12],
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
