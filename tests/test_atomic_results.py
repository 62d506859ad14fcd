"""Nothing half-written: a run that is interrupted (Ctrl-C / SIGINT, or SIGKILL) while it
simulates or while it writes never leaves a folder that looks finished (a folder named --out
without every results file and manifest.json); what it may leave is a hidden ``.<out>.tmp-<pid>-*``
folder, which the next write removes. ``run --out`` refuses to overwrite results without
``--force`` (exit 2, files untouched) and replaces them with it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import iomsim
from iomsim.errors import ResultsExistError
from iomsim.results import RESULT_FILES, read_results

CORPUS = Path(__file__).parent / "bad_inputs"
SCENARIO = CORPUS / "base" / "minimal.yaml"
sys.path.insert(0, str(CORPUS))

from iomsim_cli_harness import run_cli  # noqa: E402

TINY = ["--reps", "2", "--seed", "3", "--jobs", "1", "--no-progress"]


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONUNBUFFERED="1")


def _leftovers(folder: Path, out: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name != out.name)


def _assert_not_finished(out: Path) -> None:
    """``out`` is absent: no folder that a reader could mistake for finished results."""
    assert not out.exists(), f"{out} exists after an interrupted run: {sorted(os.listdir(out))}"


def _assert_only_hidden_temporaries(folder: Path, out: Path) -> None:
    for p in _leftovers(folder, out):
        assert (p.name.startswith(f".{out.name}.tmp-") or p.name.startswith(f".{out.name}.old-")
                or p.name == f".{out.name}.lock"), p  # the lock of a killed run: not held
        assert p.name.startswith("."), p


# ------------------------------------------------------------------ interrupted while simulating

RUNNER = textwrap.dedent("""
    import signal
    import sys
    from iomsim.cli import build_parser, main
    if __name__ == "__main__":  # spawned pool workers import this file: they must not run it
        # As in a terminal's foreground job: a test run started in the background (`make test &`)
        # has SIGINT ignored, which every child would inherit, and Ctrl-C would do nothing.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        build_parser()                       # everything imported before we say we are ready
        import iomsim.runner, iomsim.scenario.cohort_csv  # noqa: F401
        print("READY", flush=True)
        sys.exit(main(sys.argv[1:]))
""")


def _start_run(tmp_path: Path, out: Path, jobs: int) -> subprocess.Popen:
    script = tmp_path / "run_cli.py"
    script.write_text(RUNNER)
    # Enough replications that the run is still simulating when the signal arrives.
    proc = subprocess.Popen(
        [sys.executable, str(script), "run", str(SCENARIO), "--reps", "400", "--seed", "1",
         "--jobs", str(jobs), "--no-progress", "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
        start_new_session=True)  # its own process group, as a terminal's foreground job
    line = proc.stdout.readline()
    assert line.strip() == "READY", (line, proc.stderr.read() if proc.poll() is not None else "")
    time.sleep(1.5)  # loading the scenario and simulating
    assert proc.poll() is None, "the run finished before it could be interrupted"
    return proc


def _ctrl_c(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole group


def _terminate(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGTERM)  # what `kill PID` or a cluster's time limit does


@pytest.mark.parametrize("jobs", [1, 2])
@pytest.mark.parametrize("interrupt, status", [(_ctrl_c, 130), (_terminate, 143)],
                         ids=["ctrl_c", "sigterm"])
def test_interrupted_while_simulating_leaves_no_results_folder(tmp_path, jobs, interrupt, status):
    out = tmp_path / "results" / "run"
    proc = _start_run(tmp_path, out, jobs)
    interrupt(proc)
    try:
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == status, err
    assert "interrupted; no results were written" in err
    _assert_not_finished(out)
    if out.parent.exists():
        assert _leftovers(out.parent, out) == []


@pytest.mark.parametrize("jobs", [1, 2])
def test_sigkill_while_simulating_leaves_no_results_folder(tmp_path, jobs):
    out = tmp_path / "results" / "run"
    proc = _start_run(tmp_path, out, jobs)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    _assert_not_finished(out)
    if out.parent.exists():
        _assert_only_hidden_temporaries(out.parent, out)
    # The killed run's lock file does not stop the next run, which leaves nothing beside --out.
    again = run_cli(["run", str(SCENARIO), "--out", str(out), *TINY], tmp_path)
    assert again.code == 0, again.err
    assert _leftovers(out.parent, out) == []


# ------------------------------------------------------------------ interrupted while writing

@pytest.fixture(scope="module")
def results():
    return iomsim.run(iomsim.load_scenario(SCENARIO), reps=2, seed=5, jobs=1, progress=False)


def _die(how: str) -> None:
    if how == "KILL":
        os.kill(os.getpid(), signal.SIGKILL)
    raise KeyboardInterrupt


def _patch_write_points(point: str, how: str) -> None:
    """In a forked child: make the results writer die at ``point`` (after writing that file, or
    at the moment the finished temporary folder would be moved into place)."""
    import pathlib

    from iomsim import results_folder

    write_csv = results_folder.write_csv

    def _csv(df, path, *args, **kwargs):
        write_csv(df, path, *args, **kwargs)
        if path.name == point:
            _die(how)

    results_folder.write_csv = _csv
    write_text = pathlib.Path.write_text

    def patched_write_text(self, *a, **k):
        n = write_text(self, *a, **k)
        if point == self.name == "manifest.json":
            _die(how)
        return n

    pathlib.Path.write_text = patched_write_text
    rename = pathlib.Path.rename

    def patched_rename(self, target):
        if point == "rename" and ".tmp-" in self.name:
            _die(how)
        return rename(self, target)

    pathlib.Path.rename = patched_rename


def _write_and_die(results, out: Path, point: str, how: str, force: bool = False):
    """Fork; the child writes ``results`` to ``out`` and is killed (SIGKILL) or interrupted
    (KeyboardInterrupt, as Ctrl-C raises it) part way. Returns (pid, wait status)."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 2)
            _patch_write_points(point, how)
            results.write(out, force=force)
            code = 3  # wrote everything: the test fails
        except KeyboardInterrupt:
            code = 130
        except BaseException:
            code = 4
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return pid, status


WRITE_POINTS = ["costs_by_agency.csv", "outcomes.csv", "population.csv", "manifest.json",
                "rename"]


@pytest.mark.parametrize("point", WRITE_POINTS)
def test_sigkill_while_writing_leaves_only_a_hidden_temporary_that_the_next_write_removes(
        tmp_path, point, results):
    out = tmp_path / "results" / "run"
    pid, status = _write_and_die(results, out, point, "KILL")
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    _assert_not_finished(out)
    leftovers = _leftovers(out.parent, out)
    assert [p.name for p in leftovers if p.name == ".run.lock"] == [".run.lock"]  # not held
    leftovers = [p for p in leftovers if p.name != ".run.lock"]
    assert len(leftovers) == 1, leftovers
    tmp = leftovers[0]
    assert tmp.name.startswith(".run.tmp-") and tmp.is_dir()  # hidden and named temporary
    # The dead writer's folder holds its pid, so the next write can tell it is abandoned.
    assert _pid_of(tmp) == str(pid)
    # The next write puts its results in place and clears the abandoned folder.
    results.write(out)
    assert sorted(os.listdir(out)) == sorted(RESULT_FILES)
    assert _leftovers(out.parent, out) == []


def _pid_of(tmp: Path) -> str:
    return tmp.name.split(".tmp-", 1)[1].split("-", 1)[0]


@pytest.mark.parametrize("point", ["outcomes.csv", "manifest.json", "rename"])
def test_ctrl_c_while_writing_removes_the_temporary_folder(tmp_path, point, results):
    out = tmp_path / "results" / "run"
    _, status = _write_and_die(results, out, point, "INT")
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 130
    _assert_not_finished(out)
    # Nothing at all: not even the parent folder that the write made for it.
    assert not out.parent.exists() or _leftovers(out.parent, out) == []


def test_sigkill_while_replacing_keeps_the_old_results_whole_and_hidden(tmp_path, results):
    out = tmp_path / "results" / "run"
    results.write(out)
    before = {n: (out / n).read_bytes() for n in RESULT_FILES}
    _, status = _write_and_die(results, out, "rename", "KILL", force=True)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    if out.exists():  # killed before the old folder was moved: it is untouched
        assert {n: (out / n).read_bytes() for n in RESULT_FILES} == before
    else:  # killed between the two renames: nothing visible looks finished; old is whole
        olds = [p for p in _leftovers(out.parent, out) if ".old-" in p.name]
        assert len(olds) == 1
        assert {n: (olds[0] / n).read_bytes() for n in RESULT_FILES} == before
    _assert_only_hidden_temporaries(out.parent, out)


# ------------------------------------------------------------------ --force

def _files(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}


def test_run_refuses_to_overwrite_without_force_and_replaces_with_force(tmp_path):
    out = tmp_path / "out"
    first = run_cli(["run", str(SCENARIO), "--out", str(out), *TINY], tmp_path)
    assert first.code == 0, first.err
    assert sorted(os.listdir(out)) == sorted(RESULT_FILES)
    before = _files(out)

    again = run_cli(["run", str(SCENARIO), "--out", str(out), *TINY, "--set",
                     "justice.prison_cost_per_day=150"], tmp_path)
    assert again.code == 2
    assert again.err_lines == [f"error: {out} already holds results; use --force to replace them"]
    assert "Traceback" not in again.err
    assert _files(out) == before  # not a byte or a timestamp changed
    assert [p.name for p in tmp_path.iterdir()] == ["out"]

    forced = run_cli(["run", str(SCENARIO), "--out", str(out), *TINY, "--set",
                      "justice.prison_cost_per_day=150", "--force"], tmp_path)
    assert forced.code == 0, forced.err
    assert sorted(os.listdir(out)) == sorted(RESULT_FILES)
    assert read_results(out).manifest["overrides"] == {"justice.prison_cost_per_day": 150}
    assert _files(out)["economics.csv"][0] != before["economics.csv"][0]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # nothing left beside it


def test_an_existing_but_empty_folder_is_used_without_force(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    result = run_cli(["run", str(SCENARIO), "--out", str(out), *TINY], tmp_path)
    assert result.code == 0, result.err
    assert sorted(os.listdir(out)) == sorted(RESULT_FILES)


def test_api_write_refuses_to_overwrite_without_force(tmp_path, results):
    out = results.write(tmp_path / "out")
    before = _files(out)
    with pytest.raises(ResultsExistError):
        results.write(out)
    assert _files(out) == before
    results.write(out, force=True)
    assert sorted(os.listdir(out)) == sorted(RESULT_FILES)
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_results_folders_are_readable_by_others_like_any_folder(tmp_path, results):
    umask = os.umask(0o022)
    try:
        out = results.write(tmp_path / "out")
    finally:
        os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o755


def test_a_folder_without_its_manifest_is_not_read_as_results(tmp_path, results):
    out = results.write(tmp_path / "out")
    (out / "manifest.json").unlink()
    with pytest.raises(FileNotFoundError, match="no manifest.json"):
        read_results(out)
