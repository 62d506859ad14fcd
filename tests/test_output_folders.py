"""Output folders and the user's own files: ``--force`` replaces only what iomsim wrote; one
writer at a time per folder; what a writer killed mid-swap leaves is undone by the next command;
a symlinked ``--out`` is written through; ``calibrate``/``breakeven --out`` never overwrite an
input. Every refusal is one line and exit status 2, with the user's files untouched."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import iomsim
from iomsim import folders
from iomsim.errors import FolderBusy, NotOurs
from iomsim.results import RESULT_FILES, read_results
from tests.support import SMALL_SWEEP

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "bad_inputs"
SCENARIO = CORPUS / "base" / "minimal.yaml"
sys.path.insert(0, str(CORPUS))

from iomsim_cli_harness import run_cli  # noqa: E402

TINY = ["--reps", "2", "--seed", "3", "--jobs", "1", "--no-progress"]


def _files(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(proc.stdout)


@pytest.fixture(scope="module")
def results():
    return iomsim.run(iomsim.load_scenario(SCENARIO), reps=2, seed=5, jobs=1, progress=False)


@pytest.fixture
def thesis(tmp_path) -> Path:
    folder = tmp_path / "thesis"
    folder.mkdir()
    (folder / "thesis.docx").write_bytes(b"three years of work")
    shutil.copy(SCENARIO, folder / "scenario.yaml")
    return folder


# ------------------------------------------------------------------ 1. whose folder it is

def test_force_refuses_a_folder_iomsim_did_not_write_and_touches_nothing(tmp_path, thesis):
    before = _files(thesis)
    result = run_cli(["run", str(SCENARIO), "--out", str(thesis), "--force", *TINY], tmp_path)
    assert result.code == 2
    assert result.err_lines == [
        f"error: {thesis} is not a folder iomsim wrote (it holds scenario.yaml, thesis.docx); "
        "--force replaces only iomsim's folders: choose another --out"]
    assert _files(thesis) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["thesis"]


def test_force_refuses_a_results_folder_that_also_holds_a_file_of_the_user(tmp_path, results):
    out = results.write(tmp_path / "out")
    (out / "notes.txt").write_text("mine")
    before = _files(out)
    result = run_cli(["run", str(SCENARIO), "--out", str(out), "--force", *TINY], tmp_path)
    assert result.code == 2
    assert result.err_lines == [
        f"error: {out} holds files iomsim did not write (notes.txt); --force replaces only what "
        "iomsim wrote: move them away or choose another --out"]
    assert _files(out) == before


def test_force_replaces_a_marked_folder_an_unmarked_older_one_and_an_empty_one(tmp_path, results):
    out = results.write(tmp_path / "out")
    marker = folders.read_marker(out)
    assert marker is not None and marker["iomsim"] == "results"
    results.write(out, force=True)
    assert folders.read_marker(out)["run"] != marker["run"]  # another run holds it now
    (out / folders.MARKER).unlink()  # as a folder written before the marker existed
    results.write(out, force=True)
    assert sorted(os.listdir(out)) == sorted(RESULT_FILES)
    empty = tmp_path / "empty"
    empty.mkdir()
    results.write(empty, force=True)
    assert sorted(os.listdir(empty)) == sorted(RESULT_FILES)


def test_api_write_with_force_refuses_what_is_not_ours(thesis, results):
    before = _files(thesis)
    with pytest.raises(NotOurs, match="thesis.docx"):
        results.write(thesis, force=True)
    assert _files(thesis) == before



def _small_sweep(tmp_path: Path, seed: int = 1, levels: str = "[0.5]") -> Path:
    path = tmp_path / f"small-{seed}.yaml"
    path.write_text(SMALL_SWEEP.format(scenario=ROOT / "scenarios" / "sussex-2013.yaml",
                                       seed=seed, levels=levels))
    return path


def test_a_forced_sweep_refuses_a_folder_iomsim_did_not_write(tmp_path, thesis):
    sweep_file = _small_sweep(tmp_path)
    before = _files(thesis)
    with pytest.raises(NotOurs, match="thesis.docx"):
        iomsim.sweep(sweep_file, jobs=1, out=thesis, force=True, progress=False)
    result = run_cli(["sweep", str(sweep_file), "--out", str(thesis), "--force", "--jobs", "1",
                      "--no-progress"], tmp_path)
    assert result.code == 2 and len(result.err_lines) == 2, result.err  # the plan, the error
    assert result.err_lines[-1].startswith(f"error: {thesis} is not a folder iomsim wrote")
    assert _files(thesis) == before


# ------------------------------------------------------------------ 2. one writer at a time

RUNNER = """
import sys
from iomsim.cli import main
if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
"""


def _wait_for_lock(out: Path, proc: subprocess.Popen) -> dict:
    lock = folders.lock_path(out)
    deadline = time.time() + 120
    while True:
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline, "the first writer never took the lock"
        try:
            holder = json.loads(lock.read_text())
        except (OSError, ValueError):
            holder = {}
        if holder.get("pid") == proc.pid:
            return holder
        time.sleep(0.02)


def test_a_second_run_into_the_same_out_is_refused_while_the_first_runs(tmp_path):
    out = tmp_path / "out"
    script = tmp_path / "run_cli.py"
    script.write_text(RUNNER)
    first = subprocess.Popen(
        [sys.executable, str(script), "run", str(SCENARIO), "--reps", "400", "--seed", "1",
         "--jobs", "1", "--no-progress", "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        holder = _wait_for_lock(out, first)
        second = run_cli(["run", str(SCENARIO), "--out", str(out), *TINY], tmp_path)
        assert second.code == 2
        assert second.err_lines == [
            f"error: {out} is being written by another iomsim process (pid {first.pid} on "
            f"{socket.gethostname()}, since {holder['started']}); wait for it to finish or "
            "choose another --out"]
        assert "Results written" not in second.out
        assert not out.exists()
        os.kill(first.pid, signal.SIGTERM)
        first.communicate(timeout=120)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait()
    assert first.returncode == 143
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run_cli.py"]  # the lock went too


def test_a_forced_sweep_is_refused_while_another_sweep_runs_in_the_folder(tmp_path):
    # The first sweep is slow enough (the reference engine, a larger cohort) to be still running.
    first_file = tmp_path / "first.yaml"
    first_file.write_text(SMALL_SWEEP.format(
        scenario=ROOT / "scenarios" / "sussex-2013.yaml", seed=1,
        levels="[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]").replace(
            "cohort.size: 60", "cohort.size: 3000") + "engine: simpy\n")
    other_file = _small_sweep(tmp_path, seed=2)
    out = tmp_path / "out"
    first = subprocess.Popen(
        [sys.executable, "-m", "iomsim.cli", "sweep", str(first_file), "--out", str(out),
         "--jobs", "1", "--no-progress"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        _wait_for_lock(out, first)
        second = run_cli(["sweep", str(other_file), "--out", str(out), "--force", "--jobs", "1",
                          "--no-progress"], tmp_path)
        assert first.poll() is None, "the first sweep ended before the second was refused"
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    assert second.code == 2
    assert second.err_lines[-1].startswith(f"error: {out} is being written by another iomsim "
                                           f"process (pid {first.pid} on")
    # The folder is the first sweep's alone: its hash, and only its points.
    first_spec = iomsim.experiments.spec.load_sweep(first_file)
    assert json.loads((out / "sweep.json").read_text())["hash"] == first_spec.hash
    import pandas as pd
    for point in (out / "points").glob("point-*.parquet"):
        frame = pd.read_parquet(point)
        assert set(frame["iom.effects.offending_multiplier"]) <= {0.1, 0.2, 0.3, 0.4, 0.5, 0.6,
                                                                  0.7, 0.8}


def test_a_lock_left_by_a_dead_holder_does_not_block_and_is_removed(tmp_path, results):
    out = tmp_path / "out"
    lock = folders.lock_path(out)
    lock.write_text(json.dumps({"pid": _dead_pid(), "host": socket.gethostname(),
                                "kind": "results", "started": "earlier"}))
    results.write(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


@pytest.mark.parametrize("flock", [True, False], ids=["flock", "pid-only"])
def test_a_live_holder_blocks_and_a_dead_one_does_not(tmp_path, monkeypatch, flock):
    if not flock:  # as where fcntl does not exist: the pid in the file decides
        monkeypatch.setattr(folders, "fcntl", None)
    out = tmp_path / "out"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from iomsim.folders import hold\n"
         f"with hold({str(out)!r}, 'test'):\n    print('HELD', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "HELD"
        with pytest.raises(FolderBusy, match=f"pid {holder.pid} on"):
            with folders.hold(out, "results"):
                pass
        kept = folders.lock_path(out).read_bytes()
        holder.kill()  # SIGKILL: the holder cannot clean up
        holder.wait()
        folders.lock_path(out).write_bytes(kept)  # as it left it
        with folders.hold(out, "results"):
            assert json.loads(folders.lock_path(out).read_text())["pid"] == os.getpid()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    assert not folders.lock_path(out).exists()


# ------------------------------------------------------------------ 3. killed mid-swap

def _write_and_kill(results, out: Path, when: str) -> None:
    """Fork; the child replaces ``out`` (force) and SIGKILLs itself ``when`` it is between the
    two renames of the swap (``between``) or removing the replaced folder (``removing``)."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        try:
            import pathlib

            rename = pathlib.Path.rename
            rmtree = shutil.rmtree

            def patched_rename(self, target):
                if when == "between" and ".tmp-" in self.name:
                    os.kill(os.getpid(), signal.SIGKILL)
                return rename(self, target)

            def patched_rmtree(path, *a, **k):
                if when == "removing" and ".del-" in Path(path).name:
                    (Path(path) / "costs.parquet").unlink(missing_ok=True)  # part way through
                    (Path(path) / "outcomes.csv").unlink(missing_ok=True)
                    os.kill(os.getpid(), signal.SIGKILL)
                return rmtree(path, *a, **k)

            pathlib.Path.rename = patched_rename
            shutil.rmtree = patched_rmtree
            results.write(out, force=True)
        finally:
            os._exit(3)  # not killed: the test fails
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL


def test_a_force_swap_killed_between_its_renames_is_undone_by_the_next_command(tmp_path, results):
    out = tmp_path / "results" / "run"
    results.write(out)
    before = _files(out)
    _write_and_kill(results, out, "between")
    assert not out.exists()  # the state a real kill at that moment leaves
    left = sorted(p.name for p in out.parent.iterdir())
    assert [n.split("-")[0] for n in left] == [".run.lock", ".run.old", ".run.tmp"], left
    # The next command puts the previous results back whole before anything else ...
    again = run_cli(["run", str(SCENARIO), "--out", str(out), *TINY], tmp_path)
    assert again.code == 2
    assert again.err_lines == [f"error: {out} already holds results; use --force to replace them"]
    assert _files(out) == {k: v for k, v in before.items()}
    assert sorted(p.name for p in out.parent.iterdir()) == ["run"]
    # ... and with --force replaces them, leaving nothing beside.
    forced = run_cli(["run", str(SCENARIO), "--out", str(out), "--force", *TINY], tmp_path)
    assert forced.code == 0, forced.err
    assert sorted(p.name for p in out.parent.iterdir()) == ["run"]


def test_a_force_swap_killed_while_removing_the_old_folder_is_cleaned(tmp_path, results):
    out = tmp_path / "results" / "run"
    results.write(out)
    _write_and_kill(results, out, "removing")
    assert sorted(os.listdir(out)) == sorted(RESULT_FILES)  # the new results are in place
    assert any(".run.del-" in p.name for p in out.parent.iterdir())
    read_results(out)
    again = run_cli(["run", str(SCENARIO), "--out", str(out), "--force", *TINY], tmp_path)
    assert again.code == 0, again.err
    assert sorted(p.name for p in out.parent.iterdir()) == ["run"]


# ------------------------------------------------------------------ 4. symlinked --out

def test_a_symlinked_out_is_written_through_and_stays_a_link(tmp_path):
    real = tmp_path / "store" / "real"
    real.parent.mkdir()
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    for extra in ([], ["--force"]):
        result = run_cli(["run", str(SCENARIO), "--out", str(link), *TINY, *extra], tmp_path)
        assert result.code == 0, result.err
        assert link.is_symlink() and os.readlink(link) == str(real)
        assert sorted(os.listdir(real)) == sorted(RESULT_FILES)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "store"]
    assert sorted(p.name for p in real.parent.iterdir()) == ["real"]
    again = run_cli(["run", str(SCENARIO), "--out", str(link), *TINY], tmp_path)
    assert again.code == 2 and "already holds results" in again.err


# ------------------------------------------------------------------ 5. --out naming an input

@pytest.fixture
def calibration_inputs(tmp_path) -> dict[str, Path]:
    for name in ("sussex-2013.yaml", "sussex-2013-uncalibrated.yaml", "targets/sussex-2013.yaml"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / "scenarios" / name, tmp_path / name)
    return {"scenario": tmp_path / "sussex-2013.yaml",
            "parent": tmp_path / "sussex-2013-uncalibrated.yaml",
            "targets": tmp_path / "targets" / "sussex-2013.yaml"}


@pytest.mark.parametrize("which", ["scenario", "parent", "targets"])
def test_calibrate_refuses_an_out_that_is_one_of_its_inputs(tmp_path, calibration_inputs, which):
    before = _files(tmp_path)
    out = calibration_inputs[which]
    shown = Path(os.path.relpath(out, tmp_path / "targets")) if which != "targets" else out
    result = run_cli(["calibrate", str(calibration_inputs["scenario"]), "--targets",
                      str(calibration_inputs["targets"]), "--out", str(shown)],
                     tmp_path / "targets")
    assert result.code == 2, result.err
    assert len(result.err_lines) == 1 and result.err_lines[0].startswith(f"error: {shown}: --out "
                                                                         "names an input")
    assert _files(tmp_path) == before


def test_breakeven_refuses_an_out_that_is_its_scenario(tmp_path, calibration_inputs):
    before = _files(tmp_path)
    out = calibration_inputs["scenario"]
    result = run_cli(["breakeven", str(out), "--out", str(out), "--reps", "2"], tmp_path)
    assert result.code == 2
    assert result.err_lines == [f"error: {out}: --out names an input of this command ({out}); "
                                "writing it would replace the input: choose another file"]
    assert _files(tmp_path) == before
