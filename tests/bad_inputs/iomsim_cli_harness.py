"""Run the ``iomsim`` command line as a separate process and collect its exit status and output.

Two ways, with the same observable result (a process that runs ``iomsim.cli.main`` on the given
arguments, its exit status, stdout and stderr):

- ``cold``: ``python -m iomsim.cli ARGS`` as a fresh subprocess, exactly as a user runs it. Each
  one pays the package's import time (about 1.5 s), so a corpus of a hundred runs takes minutes.
- ``fork`` (the default where ``os.fork`` exists): the test process, which has already imported
  iomsim, forks; the child points its stdout and stderr at files, changes folder and runs ``main``
  as ``python -m iomsim.cli`` would (an exception that escapes is printed as a traceback and exits
  with status 1). The parent waits for it. A few milliseconds per run.

Set ``IOMSIM_TEST_CLI=cold`` to run every case the cold way.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

MODE = os.environ.get("IOMSIM_TEST_CLI", "fork" if hasattr(os, "fork") else "cold")


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return self.err.splitlines()


def run_cli(argv: Sequence[str], cwd: str | Path, *, mode: str | None = None,
            timeout: float = 300) -> CliResult:
    mode = mode or MODE
    if mode == "cold":
        return _run_cold(argv, cwd, timeout)
    return _run_forked(argv, cwd, timeout)


def _run_cold(argv: Sequence[str], cwd: str | Path, timeout: float) -> CliResult:
    env = dict(os.environ, PYTHONHASHSEED="0", COLUMNS="100")
    proc = subprocess.run([sys.executable, "-m", "iomsim.cli", *argv], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, env=env)
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


_WARM = False


def _run_cold_many(calls, parallel: int, timeout: float) -> list[CliResult]:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=parallel) as pool:  # threads only wait on processes
        return list(pool.map(lambda call: _run_cold(call[0], call[1], timeout), calls))


def _warm() -> None:
    """Import, once in the parent, what the commands import lazily, so that forked children do
    not each pay for it."""
    global _WARM
    if _WARM:
        return
    import importlib

    from iomsim.cli import build_parser

    build_parser()
    for name in ("iomsim.scenario.cohort_csv", "iomsim.experiments.spec",
                 "iomsim.experiments.sweep", "iomsim.runner"):
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    _WARM = True


def _run_forked(argv: Sequence[str], cwd: str | Path, timeout: float) -> CliResult:
    return run_many([(argv, cwd)], timeout=timeout, mode="fork")[0]


def run_many(calls: Sequence[tuple[Sequence[str], str | Path]], *, parallel: int | None = None,
             timeout: float = 300, mode: str | None = None) -> list[CliResult]:
    """Run several command lines, ``parallel`` at a time (forked children, so only from the main
    thread), and return their results in order. Cold mode runs them one by one."""
    parallel = parallel or max(2, 2 * (os.cpu_count() or 1))
    if (mode or MODE) == "cold":
        return _run_cold_many(calls, parallel, timeout)
    _warm()
    results: list[CliResult | None] = [None] * len(calls)
    with tempfile.TemporaryDirectory(prefix="iomsim-cli-") as tmp:
        running: dict[int, tuple[int, str, str]] = {}
        pending = list(enumerate(calls))
        while pending or running:
            while pending and len(running) < parallel:
                index, (argv, cwd) = pending.pop(0)
                out_path = os.path.join(tmp, f"{index}.out")
                err_path = os.path.join(tmp, f"{index}.err")
                pid = _fork_main(list(argv), cwd, out_path, err_path)
                running[pid] = (index, out_path, err_path)
            pid, status = _wait_any(running, timeout)
            index, out_path, err_path = running.pop(pid)
            with open(out_path, encoding="utf-8", errors="replace") as fh:
                out = fh.read()
            with open(err_path, encoding="utf-8", errors="replace") as fh:
                err = fh.read()
            results[index] = CliResult(os.waitstatus_to_exitcode(status), out, err)
    return results  # type: ignore[return-value]


def _fork_main(argv: list[str], cwd: str | Path, out_path: str, err_path: str) -> int:
    from iomsim.cli import main

    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return pid
    # child: never returns into the test process
    code = 1
    try:
        out_fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        err_fd = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(out_fd, 1)
        os.dup2(err_fd, 2)
        sys.stdout = open(1, "w", closefd=False, encoding="utf-8")
        sys.stderr = open(2, "w", closefd=False, encoding="utf-8")
        sys.stdin = open(os.devnull)
        os.chdir(cwd)
        sys.argv = ["iomsim", *argv]
        try:
            code = main(argv)
        except SystemExit as exc:  # as the interpreter treats sys.exit()
            if exc.code is None:
                code = 0
            elif isinstance(exc.code, int):
                code = exc.code
            else:
                print(exc.code, file=sys.stderr)
                code = 1
        except BaseException:  # as the interpreter treats an uncaught exception
            traceback.print_exc()
            code = 1
        code = code if isinstance(code, int) else 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _wait_any(running: dict, timeout: float):
    import signal
    import time

    deadline = time.monotonic() + timeout
    while True:
        for pid in list(running):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return done, status
        if time.monotonic() > deadline:
            for pid in running:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            raise TimeoutError(f"iomsim did not finish within {timeout} s")
        time.sleep(0.002)
