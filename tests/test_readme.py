"""Every command and the Python example of README.md work as written, in the README's order.

They run in a temporary folder holding a copy of ``scenarios/`` (the repository's folder as a
new user has it), with this interpreter in place of ``.venv/bin/iomsim``, and in a small form
so that the whole README runs in well under a minute (the README's Tests section says so):

- ``--reps N`` becomes ``--reps 2`` (and ``reps=50`` ``reps=2``); a ``run`` without ``--reps``
  gets ``--reps 2`` (its default is 100);
- ``breakeven`` runs on a cohort of 400 (60 selected), as the shipped small sweeps do;
- ``calibrate`` gets ``--reps 2 --max-evaluations 3``;
- the example Dask address becomes a local port that nobody listens on: that command must
  fail in one line with exit status 2.

``make run`` and ``make test`` (the Quickstart) are not run: they build the virtual environment
and run this very suite. The commands run in order because later ones read what earlier ones
wrote (``iomsim report results/sussex``).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import iomsim
from tests.support import ROOT

README = ROOT / "README.md"
CLI = ".venv/bin/iomsim"
TIMEOUT = 180  # seconds for one command; each takes a few


def readme_blocks(text: str) -> list[tuple[str, str]]:
    """(language, code) of every fenced bash or python block, in order."""
    return [(m.group(1), m.group(2))
            for m in re.finditer(r"^```(bash|python)\n(.*?)^```", text, re.M | re.S)]


def shell_commands(code: str) -> list[str]:
    """The commands of a bash block: continuation lines joined, blank lines dropped."""
    return [line.strip() for line in code.replace("\\\n", " ").splitlines() if line.strip()]


def small(command: str) -> tuple[str, int]:
    """The small form of a README command (see the module docstring), and its exit status."""
    words = shlex.split(command, comments=True)
    assert words[0] == CLI, f"a README command that is not {CLI}: {command}"
    sub = words[1]
    status = 0
    if "--reps" in command:
        command = re.sub(r"--reps \d+", "--reps 2", command)
    elif sub in ("run", "breakeven"):
        command = command.replace(f"{CLI} {sub} ", f"{CLI} {sub} --reps 2 ", 1)
    if sub == "breakeven":
        command = command.replace(f"{CLI} breakeven ", f"{CLI} breakeven --set cohort.size=400 "
                                  "--set selection.cohort_size=60 ", 1)
    if sub == "calibrate":
        command = command.replace(f"{CLI} calibrate ",
                                  f"{CLI} calibrate --reps 2 --max-evaluations 3 ", 1)
    if "--scheduler tcp://" in command:
        # The README's address is an example; here it is a local port nobody listens on (a
        # network may well have something else at the example's address).
        command = re.sub(r"--scheduler tcp://\S+", f"--scheduler tcp://127.0.0.1:{closed_port()}",
                         command)
        status = 2
    python = " ".join(shlex.quote(w) for w in (sys.executable, "-m", "iomsim.cli"))
    return command.replace(CLI, python, 1), status


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_in(folder: Path, argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run ``argv`` in ``folder``; on timeout kill it with every process it started, and fail."""
    proc = subprocess.Popen(argv, cwd=folder, env=env, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError(f"{argv[-1]} did not finish in {TIMEOUT} s\n{out}\n{err[-3000:]}") \
            from None
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def test_every_readme_command_works_in_order(tmp_path):
    blocks = readme_blocks(README.read_text(encoding="utf-8"))
    shutil.copytree(ROOT / "scenarios", tmp_path / "scenarios")
    src = str(Path(iomsim.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]),
           "IOMSIM_DASK_TIMEOUT": "1"}
    ran: list[str] = []
    for language, code in blocks:
        if language == "python":
            small_code, n = re.subn(r"reps=\d+", "reps=2", code)
            assert n == 1, f"expected one reps= in the README's Python example:\n{code}"
            script = tmp_path / "readme_example.py"
            script.write_text(small_code, encoding="utf-8")
            proc = run_in(tmp_path, [sys.executable, str(script)], env)
            assert proc.returncode == 0, f"the README's Python example failed:\n{proc.stderr}"
            float(proc.stdout.strip().splitlines()[-1])  # it prints the benefit per £1
            assert (tmp_path / "results" / "sussex-python" / "manifest.json").is_file()
            ran.append("python example")
            continue
        for command in shell_commands(code):
            if command.startswith("make "):
                continue  # the Quickstart: builds .venv and runs this suite
            line, status = small(command)
            proc = run_in(tmp_path, ["bash", "-c", line], env)
            assert proc.returncode == status, \
                f"README command {command!r} (run as {line!r}) exited {proc.returncode}, " \
                f"expected {status}:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
            if status:
                assert proc.stderr.startswith("error: --scheduler: cannot reach the Dask "
                                              "scheduler at tcp://"), proc.stderr
                assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
            assert "Traceback" not in proc.stderr, proc.stderr
            ran.append(command.split()[1])
    # The README still has what this test is about (a format change must not empty it).
    assert ran.count("run") == 4 and "python example" in ran, ran
    for sub in ("validate", "schema", "report", "sweep", "breakeven", "calibrate"):
        assert sub in ran, f"no {sub} command found in the README: {ran}"
    # What the commands say they write is there.
    for folder in ("sussex", "case-study-61k", "sussex-report", "tornado-small", "psa-small"):
        assert (tmp_path / "results" / folder).is_dir(), folder
    assert (tmp_path / "results" / "sussex" / "report.html").is_file()
    assert (tmp_path / "results" / "sussex-report" / "report.html").is_file()
    assert (tmp_path / "scenario.schema.json").stat().st_size > 1000
    assert iomsim.load_scenario(tmp_path / "fitted.yaml").name
