"""Every command and Python example of README.md (and of scenarios/sweeps/README.md) works as
written, in the README's order.

They run in a temporary folder holding a copy of ``scenarios/`` (the repository's folder as a
new user has it), with this interpreter in place of ``.venv/bin/iomsim`` (or ``iomsim``, which
scenarios/sweeps/README.md writes for an activated environment), and in a small form
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
SWEEPS_README = ROOT / "scenarios" / "sweeps" / "README.md"
CLI = ".venv/bin/iomsim"
CLIS = (CLI, "iomsim")  # scenarios/sweeps/README.md assumes an activated virtual environment
TIMEOUT = 180  # seconds for one command; each takes a few


def readme_blocks(text: str) -> list[tuple[str, str]]:
    """(language, code) of every fenced bash or python block, and of every yaml block whose
    first line is a comment naming the file the README asks the reader to write, in order."""
    return [(m.group(1), m.group(2))
            for m in re.finditer(r"^```(bash|python|yaml)\n(.*?)^```", text, re.M | re.S)
            if m.group(1) != "yaml" or re.match(r"# \S+\.yaml\n", m.group(2))]


def shell_commands(code: str) -> list[str]:
    """The commands of a bash block: continuation lines joined, blank lines dropped."""
    return [line.strip() for line in code.replace("\\\n", " ").splitlines() if line.strip()]


def small(command: str) -> tuple[str, int]:
    """The small form of a README command (see the module docstring), and its exit status."""
    words = shlex.split(command, comments=True)
    assert words[0] in CLIS, f"a README command that is not {CLI}: {command}"
    cli, sub = words[0], words[1]
    command = f"{CLI}{command[len(cli):]}"
    status = 0
    if "--reps" in command:
        command = re.sub(r"--reps \d+", "--reps 2", command)
    elif sub in ("run", "breakeven"):
        command = command.replace(f"{CLI} {sub} ", f"{CLI} {sub} --reps 2 ", 1)
    if sub == "breakeven" and "--results" not in command:  # --results: the run's own scenario
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


def run_readme(readme: Path, folder: Path) -> list[str]:
    """Run every command and Python block of ``readme`` in order in ``folder`` (which holds a
    copy of ``scenarios/``); return what ran (subcommands, "python")."""
    src = str(Path(iomsim.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]),
           "IOMSIM_DASK_TIMEOUT": "1"}
    ran: list[str] = []
    for i, (language, code) in enumerate(readme_blocks(readme.read_text(encoding="utf-8"))):
        if language == "yaml":  # a file the README asks the reader to write, as written
            name = code.splitlines()[0][2:].strip()
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(code, encoding="utf-8")
            ran.append("yaml")
            continue
        if language == "python":
            script = folder / f"readme_example_{i}.py"
            script.write_text(re.sub(r"reps=\d+", "reps=2", code), encoding="utf-8")
            proc = run_in(folder, [sys.executable, str(script)], env)
            assert proc.returncode == 0, f"a Python example of {readme.name} failed:\n{code}\n" \
                                         f"{proc.stderr[-3000:]}"
            assert "Traceback" not in proc.stderr, proc.stderr
            ran.append("python")
            continue
        for command in shell_commands(code):
            if command.startswith("make "):
                continue  # the Quickstart: builds .venv and runs this suite
            line, status = small(command)
            proc = run_in(folder, ["bash", "-c", line], env)
            assert proc.returncode == status, \
                f"{readme.name} command {command!r} (run as {line!r}) exited " \
                f"{proc.returncode}, expected {status}:\n{proc.stdout[-2000:]}\n" \
                f"{proc.stderr[-3000:]}"
            if status:  # one line of error (a sweep announces its design first)
                said = proc.stderr.strip().splitlines()
                assert said[-1].startswith("error: --scheduler: cannot reach the Dask "
                                           "scheduler at tcp://"), proc.stderr
                assert [s for s in said if s.startswith("error")] == said[-1:], proc.stderr
            assert "Traceback" not in proc.stderr, proc.stderr
            ran.append(command.split()[1])
    return ran


def copy_of_scenarios(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "scenarios", tmp_path / "scenarios")
    return tmp_path


def test_every_readme_command_works_in_order(tmp_path):
    folder = copy_of_scenarios(tmp_path)
    python = (README.read_text(encoding="utf-8").split("```python", 1)[1]).split("```", 1)[0]
    assert len(re.findall(r"reps=\d+", python)) == 1, "the small form needs reps= in the example"
    ran = run_readme(README, folder)
    # The README still has what this test is about (a format change must not empty it).
    assert ran.count("run") == 6 and "python" in ran and "yaml" in ran, ran
    for sub in ("validate", "schema", "report", "sweep", "breakeven", "calibrate", "scenarios"):
        assert sub in ran, f"no {sub} command found in the README: {ran}"
    # What the commands and the example say they write is there.
    for name in ("sussex", "case-study-61k", "sussex-report", "tornado-small", "psa-small",
                 "sussex-python", "my-area"):
        assert (folder / "results" / name / "manifest.json").is_file() or \
            (folder / "results" / name).is_dir(), name
    assert (folder / "results" / "sussex-python" / "manifest.json").is_file()
    assert (folder / "results" / "sussex" / "report.html").is_file()
    assert (folder / "results" / "sussex-report" / "report.html").is_file()
    assert (folder / "scenario.schema.json").stat().st_size > 1000
    assert iomsim.load_scenario(folder / "fitted.yaml").name


def test_every_sweeps_readme_command_works_in_order(tmp_path):
    folder = copy_of_scenarios(tmp_path)
    ran = run_readme(SWEEPS_README, folder)
    assert ran.count("sweep") == 3 and "breakeven" in ran and "python" in ran, ran
    assert (folder / "results" / "tornado-small" / "tornado.csv").is_file()
