"""Shared fixtures."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import MINIMAL

DASK = shutil.which("dask", path=str(Path(sys.executable).parent)) or shutil.which("dask")


@pytest.fixture
def minimal_path():
    return MINIMAL


@pytest.fixture
def iomsim_cli():
    """Command prefix that runs the iomsim CLI with this interpreter."""
    return [sys.executable, "-m", "iomsim.cli"]


def _start(cmd: list[str], log: Path) -> subprocess.Popen:
    fh = open(log, "w")
    return subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _wait_for(log: Path, pattern: str, proc: subprocess.Popen, timeout: float = 60) -> re.Match:
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = re.search(pattern, log.read_text())
        if m:
            return m
        if proc.poll() is not None:
            raise RuntimeError(f"process exited early:\n{log.read_text()}")
        time.sleep(0.2)
    raise TimeoutError(f"{pattern!r} not seen in {log}:\n{log.read_text()}")


@pytest.fixture
def dask_cluster(tmp_path):
    """The address of a real Dask scheduler with one single-threaded worker, both started with
    the ``dask`` command line as subprocesses bound to 127.0.0.1, and stopped at the end."""
    if DASK is None:
        pytest.skip("the dask command line is not installed")
    slog, wlog = tmp_path / "scheduler.log", tmp_path / "worker.log"
    scheduler = _start([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0",
                        "--dashboard-address", "127.0.0.1:0"], slog)
    worker = None
    try:
        address = _wait_for(slog, r"Scheduler at:\s+(tcp://127\.0\.0\.1:\d+)", scheduler).group(1)
        worker = _start([DASK, "worker", address, "--host", "127.0.0.1",
                         "--dashboard-address", "127.0.0.1:0", "--nworkers", "1",
                         "--nthreads", "1"], wlog)
        _wait_for(slog, r"Register worker", scheduler)
        yield address
    finally:
        if worker is not None:
            _stop(worker)
        _stop(scheduler)


class DaskProcesses:
    """A real Dask scheduler on 127.0.0.1 whose single-threaded workers a test can start and
    SIGKILL (worker and nanny: their whole process group), to lose a cluster's workers."""

    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self.log = tmp_path / "scheduler.log"
        self.scheduler = _start([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0",
                                 "--dashboard-address", "127.0.0.1:0"], self.log)
        self.address = _wait_for(self.log, r"Scheduler at:\s+(tcp://127\.0\.0\.1:\d+)",
                                 self.scheduler).group(1)
        self.workers: list[subprocess.Popen] = []

    def add_worker(self) -> None:
        before = self.log.read_text().count("Register worker")
        worker = _start([DASK, "worker", self.address, "--host", "127.0.0.1",
                         "--dashboard-address", "127.0.0.1:0", "--nworkers", "1",
                         "--nthreads", "1"], self.tmp_path / f"worker-{len(self.workers)}.log")
        self.workers.append(worker)
        deadline = time.time() + 60
        while self.log.read_text().count("Register worker") <= before:
            assert time.time() < deadline, "the worker never registered"
            time.sleep(0.2)

    def kill_workers(self) -> None:
        for worker in self.workers:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()

    def stop(self) -> None:
        for worker in self.workers:
            _stop(worker)
        _stop(self.scheduler)


@pytest.fixture
def dask_processes(tmp_path):
    if DASK is None:
        pytest.skip("the dask command line is not installed")
    processes = DaskProcesses(tmp_path)
    try:
        yield processes
    finally:
        processes.stop()
