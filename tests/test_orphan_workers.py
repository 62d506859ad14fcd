"""A run killed with SIGKILL cannot shut its worker pool down: its workers notice that their
parent is gone and end, instead of waiting on their pipe for ever."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import ROOT

pytestmark = pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc (Linux)")


def _children(pid: int) -> set[int]:
    out = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.add(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_workers_end_when_the_run_is_killed(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "iomsim.cli", "run", str(ROOT / "scenarios" / "sussex-2013.yaml"),
         "--reps", "400", "--jobs", "2", "--out", str(tmp_path / "out"), "--no-progress"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path)
    workers: set[int] = set()
    deadline = time.time() + 120
    while time.time() < deadline and not workers:
        time.sleep(0.5)
        workers = {c for c in _children(proc.pid)
                   if b"spawn" in Path(f"/proc/{c}/cmdline").read_bytes()}
    assert workers, "the run started no worker"
    time.sleep(2)  # let the workers take tasks
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 15
    while time.time() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.5)
    left = [w for w in workers if _alive(w)]
    for w in left:
        os.kill(w, signal.SIGKILL)
    assert not left, f"workers {left} outlived their killed parent"
