"""Every case of the bad-input corpus (tests/bad_inputs/) is refused by the command line the
same way: exit status 2, one line on stderr, ``error: FILE[:LINE][: PATH]: MESSAGE`` with the
location and message the corpus's expected.yaml gives, no traceback, and nothing written.

Scenario cases go through ``iomsim validate``, ``iomsim run`` and ``iomsim sweep`` (a sweep file
around the case); ``--set`` cases through validate and run; sweep cases through sweep. Each call
is a separate process (see bad_inputs/iomsim_cli_harness.py); a few also run as a cold
``python -m iomsim.cli`` subprocess to pin the real entry point.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path

import pytest
import yaml

CORPUS = Path(__file__).parent / "bad_inputs"
sys.path.insert(0, str(CORPUS))

from iomsim_cli_harness import run_cli, run_many  # noqa: E402

EXPECTED: dict = yaml.safe_load((CORPUS / "expected.yaml").read_text())
NOT_CASES = {"expected.yaml", "README.md", "iomsim_cli_harness.py"}
RUN_ARGS = ["--reps", "2", "--seed", "1", "--jobs", "1", "--no-progress"]
SWEEP_ARGS = ["--jobs", "1", "--no-progress"]
MIN_CASES = 40


def _corpus_files() -> list[str]:
    return sorted(p.name for p in CORPUS.iterdir()
                  if p.is_file() and p.name not in NOT_CASES and not p.name.startswith("."))


def _generate(kind: str, path: Path) -> None:
    if kind == "huge":  # a valid-looking scenario just over the 2 MB limit
        with path.open("w") as fh:
            fh.write("extends: base/minimal.yaml\ndescription: >\n")
            line = "  " + "a commissioner's very long note " * 3 + "\n"
            while fh.tell() < 2_100_000:
                fh.write(line)
    elif kind == "text_bomb":  # one long text, small enough to read, repeated by aliases
        text = "x" * 1_000_000
        path.write_text(f"extends: base/minimal.yaml\nnote: &long {text}\n"
                        f"description: [{', '.join(['*long'] * 12)}]\n")
    else:
        raise ValueError(kind)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """A copy of the corpus to run in (so nothing can be written into the repository), with the
    generated cases added."""
    work = tmp_path_factory.mktemp("corpus") / "bad_inputs"
    shutil.copytree(CORPUS, work, ignore=shutil.ignore_patterns("__pycache__"))
    for name, case in EXPECTED.items():
        if case.get("generate"):
            _generate(case["generate"], work / name)
    return work


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    out = {}
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in files + dirs:
            p = Path(root) / name
            st = p.stat()
            out[str(p.relative_to(folder))] = (st.st_size, st.st_mtime_ns)
    return out


def _commands(name: str) -> list[str]:
    if name.endswith(".args"):
        return ["validate", "run"]
    if name.startswith("sweep-"):
        return ["sweep"]
    return ["validate", "run", "sweep"]


def _argv(name: str, command: str, corpus: Path, out: Path) -> list[str]:
    if name.endswith(".args"):
        extra = shlex.split((corpus / name).read_text())
        target = "base/minimal.yaml"
    else:
        extra, target = [], name
    if command == "validate":
        return ["validate", target, *extra]
    if command == "run":
        return ["run", target, *extra, "--out", str(out), *RUN_ARGS]
    if name.startswith("sweep-"):
        return ["sweep", name, "--out", str(out), *SWEEP_ARGS]
    # A scenario case under `iomsim sweep`: a sweep file whose base scenario is the case.
    sweep = corpus / f".sweep-of-{name}"
    sweep.write_text(f"scenario: {name}\ndesign: oneway\nreplications: 1\nseed: 1\n"
                     "parameters:\n  iom.effects.offending_multiplier: {low: 0.2, high: 0.6}\n")
    return ["sweep", sweep.name, "--out", str(out), *SWEEP_ARGS]


def _location_prefixes(where: str, corpus: Path) -> list[str]:
    """``where`` as the error may show it: the file as typed (relative to the working folder) or,
    when a sweep names the scenario, as an absolute path."""
    if where.startswith("--set"):
        return [where]
    file, sep, rest = where.partition(":")
    return [where, f"{corpus / file}{sep}{rest}"]


def check_refusal(result, case: dict, corpus: Path, label: str) -> None:
    assert "Traceback" not in result.err, f"{label}: traceback\n{result.err}"
    assert result.code == 2, f"{label}: exit {result.code}, expected 2\n{result.err}"
    lines = result.err_lines
    also = case.get("also", [])  # the other problems, one line each after the first
    assert len(lines) == 1 + len(also), \
        f"{label}: expected {1 + len(also)} line(s) on stderr, got {len(lines)}:\n{result.err}"
    for text, other in zip(also, lines[1:]):
        assert other.startswith("error: ") and text in other, f"{label}: {other!r} lacks {text!r}"
    line = lines[0]
    assert line.startswith("error: "), f"{label}: {line}"
    body = line[len("error: "):]
    prefixes = [p + ": " for p in _location_prefixes(case["where"], corpus)]
    assert any(body.startswith(p) for p in prefixes), \
        f"{label}: location\n  got:      {body}\n  expected: {prefixes[0]}..."
    for text in case["message"]:
        assert text in body, f"{label}: message lacks {text!r}\n  got: {body}"


def test_corpus_has_enough_cases_and_every_file_is_described():
    files = set(_corpus_files())
    described = {n for n, c in EXPECTED.items() if not c.get("generate")}
    assert files == described, (f"files without an entry: {sorted(files - described)}; "
                                f"entries without a file: {sorted(described - files)}")
    assert len(EXPECTED) >= MIN_CASES
    for name, case in EXPECTED.items():
        assert case.get("kind") and case.get("where") and case.get("message"), name
        assert all(isinstance(m, str) for m in case["message"]), name  # a ": " makes a mapping


def test_the_base_scenario_is_valid(corpus):
    result = run_cli(["validate", "base/minimal.yaml"], corpus)
    assert result.code == 0, result.err
    assert "valid" in result.out


CASES = [(name, command) for name in sorted(EXPECTED) for command in _commands(name)]


@pytest.fixture(scope="module")
def refusals(corpus, tmp_path_factory):
    """Every (case, command) run once, several at a time; each with its own --out folder."""
    outs = tmp_path_factory.mktemp("outs")
    before = _snapshot(corpus)
    calls, where = [], {}
    for i, (name, command) in enumerate(CASES):
        out = outs / f"{i:03d}" / "out"
        out.parent.mkdir()
        calls.append((_argv(name, command, corpus, out), corpus))
        where[(name, command)] = (len(calls) - 1, out)
    results = run_many(calls)
    after = _snapshot(corpus)
    return {key: (results[i], out) for key, (i, out) in where.items()}, before, after


@pytest.mark.parametrize("name,command", CASES, ids=[f"{c}-{n}" for n, c in CASES])
def test_bad_input_is_refused_with_one_clear_line(name, command, corpus, refusals):
    runs, _, _ = refusals
    result, out = runs[(name, command)]
    check_refusal(result, EXPECTED[name], corpus, f"{command} {name}")
    assert not out.exists(), f"{command} {name} wrote {out}"
    assert list(out.parent.iterdir()) == [], f"{command} {name} left {list(out.parent.iterdir())}"


def test_nothing_was_written_beside_the_inputs(refusals):
    _, before, after = refusals
    made = {k for k in set(after) - set(before) if not k.startswith(".sweep-of-")}
    assert not made, f"files created in the corpus folder: {sorted(made)}"
    changed = {k for k in before if k in after and after[k] != before[k]}
    assert not changed, f"files changed in the corpus folder: {sorted(changed)}"


# A few cases (each command, each kind of input), also as a real cold subprocess
# (python -m iomsim.cli); IOMSIM_TEST_CLI=cold runs the whole corpus that way.
COLD = ["yaml-tab-indent.yaml", "value-probability-percent.yaml", "csv-bad-row.yaml",
        "set-unknown-path.args", "sweep-unknown-parameter.yaml"]


@pytest.fixture(scope="module")
def cold_refusals(corpus, tmp_path_factory):
    outs = tmp_path_factory.mktemp("cold")
    calls, outs_by_name = [], {}
    for i, name in enumerate(COLD):
        out = outs / f"{i}" / "out"
        out.parent.mkdir()
        calls.append((_argv(name, _commands(name)[0], corpus, out), corpus))
        outs_by_name[name] = out
    results = run_many(calls, mode="cold")
    return {name: (result, outs_by_name[name]) for name, result in zip(COLD, results)}


@pytest.mark.parametrize("name", COLD)
def test_cold_subprocess_gives_the_same_refusal(name, corpus, cold_refusals):
    result, out = cold_refusals[name]
    check_refusal(result, EXPECTED[name], corpus, f"cold {_commands(name)[0]} {name}")
    assert not out.exists()


def test_argument_errors_are_one_line_with_status_2(corpus, tmp_path):
    for argv in (["run", "base/minimal.yaml", "--reps", "0"],
                 ["run", "base/minimal.yaml", "--jobs", "many"],
                 ["validate"], ["frobnicate"], ["run", "base/minimal.yaml", "--bogus"]):
        result = run_cli(argv, corpus)
        assert result.code == 2, (argv, result.err)
        assert len(result.err_lines) == 1 and result.err.startswith("error: "), (argv, result.err)
        assert "--help" in result.err


def test_out_naming_a_file_is_refused_before_anything_is_written(corpus, tmp_path):
    target = tmp_path / "a-file"
    target.write_text("not a folder\n")
    result = run_cli(["run", "base/minimal.yaml", "--out", str(target), *RUN_ARGS], corpus)
    assert result.code == 2 and "Traceback" not in result.err, result.err
    assert len(result.err_lines) == 1 and str(target) in result.err
    assert target.read_text() == "not a folder\n"
