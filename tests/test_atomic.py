"""iomsim.atomic: a file or folder is replaced whole or not at all, and temporaries do not pile
up. (tests/test_atomic_results.py kills real writers of a results folder part way.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from iomsim.atomic import (AtomicFolder, remove_stale_temporaries, temporary_name, write_atomic,
                           write_csv_atomic, write_json_atomic, write_text_atomic)


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(proc.stdout)


def test_a_file_is_replaced_and_nothing_is_left_beside_it(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    umask = os.umask(0o022)
    try:
        write_text_atomic(target, "new")
    finally:
        os.umask(umask)
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]
    assert target.stat().st_mode & 0o777 == 0o644  # as any new file, not private


@pytest.mark.parametrize("error", [OSError, KeyboardInterrupt])
def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, error):
    target = tmp_path / "a.txt"
    target.write_text("old")

    def write(p: Path):
        p.write_text("half")
        raise error("stop")

    with pytest.raises(error):
        write_atomic(target, write)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_csv_and_json_are_written_as_the_plain_writers_would(tmp_path):
    df = pd.DataFrame({"a": [1, 2], "x": [0.1234567890123, 2.5]})
    write_csv_atomic(df, tmp_path / "t.csv", float_format="%.10g")
    df.to_csv(tmp_path / "plain.csv", index=False, float_format="%.10g", lineterminator="\n")
    assert (tmp_path / "t.csv").read_bytes() == (tmp_path / "plain.csv").read_bytes()
    write_json_atomic({"b": 1, "a": [1, 2]}, tmp_path / "t.json", sort_keys=True)
    assert (tmp_path / "t.json").read_text() == '{\n  "a": [\n    1,\n    2\n  ],\n  "b": 1\n}\n'


def test_only_the_temporaries_of_writers_that_are_gone_are_removed(tmp_path):
    dead = _dead_pid()
    stale_file = tmp_path / f".point-1.parquet.tmp-{dead}"           # the older, pid-only form
    stale_dir = tmp_path / f".run.tmp-{dead}-0a1b2c3d"
    live = tmp_path / temporary_name("point-2.parquet")              # this process: alive
    other = tmp_path / ".hidden-notes.txt"
    stale_file.write_text("x")
    stale_dir.mkdir()
    (stale_dir / "costs.parquet").write_text("x")
    live.write_text("x")
    other.write_text("x")
    remove_stale_temporaries(tmp_path, "point-1.parquet")
    assert not stale_file.exists() and stale_dir.exists()            # only that target's
    remove_stale_temporaries(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, other.name])


def test_a_folder_appears_whole_or_the_old_one_stays(tmp_path):
    out = tmp_path / "sub" / "out"
    with AtomicFolder(out) as tmp:
        assert tmp.parent == out.parent and tmp.name.startswith(".out.tmp-")
        (tmp / "a.csv").write_text("1")
    assert sorted(os.listdir(out)) == ["a.csv"]
    with pytest.raises(KeyboardInterrupt):
        with AtomicFolder(out) as tmp:
            (tmp / "b.csv").write_text("2")
            raise KeyboardInterrupt
    assert sorted(os.listdir(out)) == ["a.csv"]
    with AtomicFolder(out) as tmp:
        (tmp / "c.csv").write_text("3")
    assert sorted(os.listdir(out)) == ["c.csv"]
    assert [p.name for p in out.parent.iterdir()] == ["out"]
