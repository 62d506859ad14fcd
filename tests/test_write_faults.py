"""A write the machine refuses (a full disk above all) ends with one line, exit status 3, and
nothing half-written: no results folder, no stray report file, previous results untouched, and a
sweep's finished points kept for the resume.

The fault is injected where every file iomsim writes passes, the flush of
``iomsim.atomic.fsync_file`` (or, for a library that reports it only in words, pandas' writer),
and the command is run in-process through ``iomsim.cli.main``. A real tiny file system needs root
to mount; ``IOMSIM_TEST_SMALL_FS=/mount/point`` runs the last test on one.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

import iomsim
from iomsim import atomic
from iomsim.cli import main
from iomsim.results import RESULT_FILES

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "tests" / "bad_inputs" / "base" / "minimal.yaml"
TINY = ["--reps", "2", "--seed", "3", "--jobs", "1", "--no-progress"]


def _fail_flush_of(monkeypatch, fragment: str, code: int = errno.ENOSPC) -> None:
    flush = atomic.fsync_file

    def fsync_file(path):
        if fragment in Path(path).name:
            raise OSError(code, os.strerror(code))
        return flush(path)

    monkeypatch.setattr(atomic, "fsync_file", fsync_file)


def _cli(capsys, *argv: str) -> tuple[int, list[str], str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.err.splitlines(), captured.out


def _everything(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_full_disk_during_run_is_one_line_exit_3_and_nothing_is_written(tmp_path, monkeypatch,
                                                                           capsys):
    out = tmp_path / "results" / "run"
    _fail_flush_of(monkeypatch, "economics.csv")
    code, err, stdout = _cli(capsys, "run", str(SCENARIO), "--out", str(out), *TINY)
    assert code == 3
    assert err == [f"error: no space left on device while writing {out}; nothing was written; "
                   "free space and run again"]
    assert "Results written" not in stdout
    assert list(tmp_path.iterdir()) == []  # not even the parent folder made for it


def test_a_full_disk_while_replacing_results_leaves_the_previous_ones(tmp_path, monkeypatch,
                                                                      capsys):
    out = tmp_path / "run"
    assert _cli(capsys, "run", str(SCENARIO), "--out", str(out), *TINY)[0] == 0
    before = _everything(tmp_path)
    _fail_flush_of(monkeypatch, "costs.parquet")
    code, err, _ = _cli(capsys, "run", str(SCENARIO), "--out", str(out), "--force", *TINY,
                        "--seed", "4")
    assert code == 3 and len(err) == 1 and "no space left on device" in err[0]
    assert _everything(tmp_path) == before


def test_a_full_disk_while_writing_the_report_leaves_no_stray_file(tmp_path, monkeypatch,
                                                                   capsys):
    out = tmp_path / "run"
    _fail_flush_of(monkeypatch, "who_pays_who_saves.png")
    code, err, _ = _cli(capsys, "run", str(SCENARIO), "--out", str(out), "--report", *TINY)
    assert code == 3
    assert err == [f"error: no space left on device while writing {out}; nothing was written; "
                   "free space and run again"]
    assert list(tmp_path.iterdir()) == []  # no PNG, no report, no tables


def test_a_full_disk_during_iomsim_report_leaves_the_folder_as_it_was(tmp_path, monkeypatch,
                                                                      capsys):
    out = tmp_path / "run"
    assert _cli(capsys, "run", str(SCENARIO), "--out", str(out), *TINY)[0] == 0
    before = _everything(tmp_path)
    _fail_flush_of(monkeypatch, "results.xlsx")  # after the charts, before the report
    code, err, _ = _cli(capsys, "report", str(out))
    assert code == 3
    assert err == [f"error: no space left on device while writing {out / 'results.xlsx'}; "
                   "nothing was written; free space and run again"]
    assert _everything(tmp_path) == before  # no chart without its report


def test_a_fault_a_library_reports_only_in_words_is_recognised(tmp_path, monkeypatch, capsys):
    def to_parquet(self, *a, **k):  # as pyarrow words it: an OSError with no errno set
        raise OSError("Error writing bytes to file. Detail: [errno 28] No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", to_parquet)
    out = tmp_path / "run"
    code, err, _ = _cli(capsys, "run", str(SCENARIO), "--out", str(out), *TINY)
    assert code == 3
    assert err == [f"error: no space left on device while writing {out}; nothing was written; "
                   "free space and run again"]
    assert list(tmp_path.iterdir()) == []


def test_a_read_only_file_system_says_so(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    _fail_flush_of(monkeypatch, "manifest.json", errno.EROFS)
    code, err, _ = _cli(capsys, "run", str(SCENARIO), "--out", str(out), *TINY)
    assert code == 3
    assert err == [f"error: read-only file system while writing {out}; nothing was written; the "
                   "file system is read-only; choose another --out"]


def test_report_on_a_read_only_results_folder_says_to_copy_it(tmp_path, monkeypatch, capsys):
    """report writes into the folder it reads and has no --out: the remedy says so."""
    out = tmp_path / "run"
    assert _cli(capsys, "run", str(SCENARIO), "--out", str(out), *TINY)[0] == 0
    _fail_flush_of(monkeypatch, "results.xlsx", errno.EROFS)
    code, err, _ = _cli(capsys, "report", str(out))
    assert code == 3
    assert err == [f"error: read-only file system while writing {out / 'results.xlsx'}; "
                   "nothing was written; the file system is read-only; copy the results folder "
                   "somewhere writable and run the command on the copy"]
    assert "--out" not in err[0]


def test_a_full_disk_while_breakeven_writes_its_out_leaves_the_old_file(tmp_path, monkeypatch,
                                                                      capsys):
    out = tmp_path / "be.csv"
    out.write_text("an earlier result\n")
    sets = [a for k, v in {"cohort.size": 60, "selection.cohort_size": 10, "horizon_years": 1,
                           "pre_period_months": 6}.items() for a in ("--set", f"{k}={v}")]
    _fail_flush_of(monkeypatch, "be.csv")
    code, err, _ = _cli(capsys, "breakeven", str(ROOT / "scenarios" / "sussex-2013.yaml"), *sets,
                        "--reps", "2", "--jobs", "1", "--switching-value", "--out", str(out))
    assert code == 3
    assert err[-1] == (f"error: no space left on device while writing {out}; nothing was "
                       "written; free space and run again")
    assert out.read_text() == "an earlier result\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["be.csv"]


SWEEP = """\
scenario: {scenario}
overrides: {{cohort.size: 60, selection.cohort_size: 10, horizon_years: 1, pre_period_months: 6}}
design: grid
replications: 1
seed: 5
parameters:
  iom.effects.offending_multiplier: {{levels: [0.2, 0.4, 0.6, 0.8]}}
"""


def test_a_full_disk_during_a_sweep_keeps_the_finished_points_for_the_resume(tmp_path,
                                                                             monkeypatch, capsys):
    sweep_file = tmp_path / "grid.yaml"
    sweep_file.write_text(SWEEP.format(scenario=ROOT / "scenarios" / "sussex-2013.yaml"))
    out = tmp_path / "out"
    argv = ["sweep", str(sweep_file), "--out", str(out), "--jobs", "1", "--no-progress"]
    _fail_flush_of(monkeypatch, "point-000002.parquet")
    code, err, _ = _cli(capsys, *argv)
    saved = sorted(p.name for p in (out / "points").iterdir())
    assert code == 3
    assert err[-1] == (f"error: no space left on device while writing {out}/points/"
                       f"point-000002.parquet; {len(saved)} of 4 points are saved in {out}/; "
                       "free space and run the same command again")
    assert "point-000002.parquet" not in saved and all(p.startswith("point-") for p in saved)
    assert not (out / "results.parquet").exists()
    monkeypatch.undo()  # space again
    code, err, stdout = _cli(capsys, *argv)
    assert code == 0, err
    assert f"computed {4 - len(saved)} of 4 points" in stdout
    pd.testing.assert_frame_equal(pd.read_parquet(out / "results.parquet"),
                                  iomsim.sweep(sweep_file, jobs=1, progress=False),
                                  check_exact=True)


def _out_args(kind: str, tmp_path: Path, out: Path) -> list[str]:
    if kind == "run":
        return ["run", str(SCENARIO), "--out", str(out), *TINY]
    sweep_file = tmp_path / "grid.yaml"
    sweep_file.write_text(SWEEP.format(scenario=ROOT / "scenarios" / "sussex-2013.yaml"))
    return ["sweep", str(sweep_file), "--out", str(out), "--jobs", "1", "--no-progress"]


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root writes in a mode-555 folder anyway (CAP_DAC_OVERRIDE); the "
                    "next test stands in for it")
@pytest.mark.parametrize("kind", ["run", "sweep"])
def test_a_folder_without_write_permission_is_exit_3_with_what_to_do(tmp_path, capsys, kind):
    parent = tmp_path / "ro"
    parent.mkdir()
    out = parent / "res"
    argv = _out_args(kind, tmp_path, out)
    parent.chmod(0o555)
    try:
        code, err, _ = _cli(capsys, *argv)
    finally:
        parent.chmod(0o755)
    assert code == 3
    assert err[-1] == (f"error: {parent} is not a folder you may write in (permission denied) "
                       f"while writing {out}; nothing was written; choose another --out or make "
                       "the folder writable (its permissions)")
    assert list(parent.iterdir()) == []


@pytest.mark.parametrize("kind", ["run", "sweep"])
@pytest.mark.parametrize("read_only", [False, True])
def test_a_folder_the_machine_will_not_write_in_is_exit_3_before_simulating(
        tmp_path, monkeypatch, capsys, kind, read_only):
    """As root (where mode 555 stops nothing) the refusal is simulated: ``os.access`` says no,
    and ``statvfs`` says whether the file system is mounted read-only."""
    from iomsim.cli import common

    parent = tmp_path / "ro"
    parent.mkdir()
    out = parent / "res"
    argv = _out_args(kind, tmp_path, out)
    access = os.access
    monkeypatch.setattr(common.os, "access", lambda p, mode, **k: Path(p) != parent and
                        access(p, mode, **k))
    if read_only:
        monkeypatch.setattr(common, "_read_only", lambda folder: Path(folder) == parent)
    code, err, _ = _cli(capsys, *argv)
    assert code == 3 and len(err) == 1 and "Traceback" not in err[0]
    if read_only:
        assert err[0] == (f"error: {parent} is on a read-only file system while writing {out}; "
                          "nothing was written; the file system is read-only; choose another "
                          "--out")
    else:
        assert "permission denied" in err[0] and "make the folder writable" in err[0]
    assert list(parent.iterdir()) == []


def test_a_file_where_the_parent_folder_should_be_is_still_bad_input(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    out = tmp_path / "afile" / "res"
    code, err, _ = _cli(capsys, *_out_args("run", tmp_path, out))
    assert code == 2
    assert err == [f"error: {out}: cannot create the results folder here ({tmp_path / 'afile'} "
                   "is a file, not a folder)"]


@pytest.mark.skipif(not os.environ.get("IOMSIM_TEST_SMALL_FS"),
                    reason="set IOMSIM_TEST_SMALL_FS to a small mounted file system to run")
def test_a_real_full_file_system(tmp_path, capsys):
    root = Path(os.environ["IOMSIM_TEST_SMALL_FS"]) / f"iomsim-test-{os.getpid()}"
    root.mkdir()
    try:
        filler = root / "filler"
        with open(filler, "wb") as fh:  # leave less room than a results folder needs
            try:
                while shutil.disk_usage(root).free > 16_384:
                    fh.write(b"\0" * 4096)
                    fh.flush()
            except OSError:
                pass
        out = root / "run"
        code, err, _ = _cli(capsys, "run", str(SCENARIO), "--out", str(out), *TINY)
        assert code == 3 and len(err) == 1 and "while writing" in err[0], err
        assert sorted(p.name for p in root.iterdir()) == ["filler"]
        filler.unlink()
        code, err, _ = _cli(capsys, "run", str(SCENARIO), "--out", str(out), *TINY)
        assert code == 0, err
        assert sorted(os.listdir(out)) == sorted(RESULT_FILES)
    finally:
        shutil.rmtree(root, ignore_errors=True)
