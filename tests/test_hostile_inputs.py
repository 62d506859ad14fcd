"""Inputs that are valid YAML but hostile, and the limits that bound what a run costs.

The promises (issue 15): ``extends:`` reads only scenarios the user meant to read, and never
quotes another file; each file of an ``extends:`` tree is read once per load; no input makes
iomsim read without end; a run whose selection picks nobody is refused naming the rule, and one
that picks fewer than asked says so once; metrics whose window is longer than the horizon are
not printed as numbers; text from the user reaches the terminal with its control characters
escaped. The bad-input corpus (tests/bad_inputs/) holds the one-line errors of the limits.
"""

from __future__ import annotations

import re

import os
import shutil
import sys
from pathlib import Path

import pytest

import iomsim
from iomsim.errors import ScenarioError
from iomsim.experiments.spec import load_sweep
from iomsim.scenario import loader
from iomsim.scenario.loader import EXTENDS_PATH_ENV, MAX_EXTENDS_DEPTH
from iomsim.scenario.yamlio import MAX_FILE_BYTES, read_yaml_file

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "bad_inputs"
BASE = CORPUS / "base" / "minimal.yaml"
sys.path.insert(0, str(CORPUS))

from iomsim_cli_harness import run_cli  # noqa: E402

RUN = ["--reps", "2", "--seed", "1", "--jobs", "1", "--no-progress"]
SECRET = "TOKEN-4f7a-do-not-print"


@pytest.fixture
def folder(tmp_path) -> Path:
    """A scenario folder holding the corpus's small valid base scenario."""
    work = tmp_path / "project"
    (work / "base").mkdir(parents=True)
    shutil.copy(BASE, work / "base" / "minimal.yaml")
    return work


def one_error_line(result) -> str:
    assert "Traceback" not in result.err, result.err
    assert result.code == 2, (result.code, result.err)
    assert len(result.err_lines) == 1 and result.err.startswith("error: "), result.err
    return result.err_lines[0]


# --------------------------------------------------------------------------- extends: confined

@pytest.mark.parametrize("content", [f"{SECRET}: 1\n", f"- {SECRET}\n", f"{SECRET}\n",
                                     f"name: [{SECRET}\n"])
def test_extends_outside_the_folder_tree_is_refused_without_reading_it(folder, tmp_path, content):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "secret.yaml").write_text(content)
    (folder / "s.yaml").write_text(f"extends: {outside / 'secret.yaml'}\n")
    line = one_error_line(run_cli(["validate", "s.yaml"], folder))
    assert line.startswith("error: s.yaml:1: extends: ") and "outside" in line
    assert SECRET not in line
    # A relative path that climbs out, and a link inside the tree that points out, alike.
    (folder / "up.yaml").write_text("extends: ../elsewhere/secret.yaml\n")
    (folder / "link.yaml").symlink_to(outside / "secret.yaml")
    (folder / "via-link.yaml").write_text("extends: link.yaml\n")
    for name in ("up.yaml", "via-link.yaml"):
        line = one_error_line(run_cli(["validate", name], folder))
        assert "outside the scenario's folder tree" in line and SECRET not in line


def test_extends_of_a_file_that_is_not_yaml_is_refused_without_reading_it(folder):
    (folder / "notes.txt").write_text(f"{SECRET}: 1\n")
    (folder / "s.yaml").write_text("extends: ./notes.txt\n")
    line = one_error_line(run_cli(["validate", "s.yaml"], folder))
    assert "not a .yaml file" in line and SECRET not in line


def test_a_folder_is_allowed_on_purpose_by_environment_or_argument(folder, tmp_path,
                                                                   monkeypatch):
    shared = tmp_path / "shared"
    shared.mkdir()
    shutil.copy(BASE, shared / "base.yaml")
    (folder / "s.yaml").write_text(f"extends: {shared / 'base.yaml'}\nname: allowed\n")
    with pytest.raises(ScenarioError, match=EXTENDS_PATH_ENV):
        iomsim.load_scenario(folder / "s.yaml")
    assert iomsim.load_scenario(folder / "s.yaml", extends_path=[shared]).name == "allowed"
    monkeypatch.setenv(EXTENDS_PATH_ENV, os.pathsep.join(["/nonexistent", str(shared)]))
    assert iomsim.load_scenario(folder / "s.yaml").name == "allowed"
    result = run_cli(["validate", "s.yaml"], folder)  # the command line reads it too
    assert result.code == 0 and "valid (allowed" in result.out, result.err


def test_the_shipped_scenarios_may_be_extended_from_anywhere(folder):
    (folder / "s.yaml").write_text(f"extends: {ROOT / 'scenarios' / 'sussex-2013.yaml'}\n"
                                   "name: mine\n")
    assert iomsim.load_scenario(folder / "s.yaml").name == "mine"


SWEEP_OF = """\
scenario: {scenario}
design: grid
replications: 1
seed: 1
parameters:
  iom.effects.offending_multiplier: {{levels: [0.5]}}
"""


def test_a_sweep_names_its_scenario_as_a_scenario_names_extends(folder, tmp_path, monkeypatch):
    """Promise: a sweep file's scenario: is confined as extends: is (a .yaml file under the
    sweep file's folder, directly in the folder above it as in scenarios/sweeps/, a shipped
    scenario or a folder of IOMSIM_EXTENDS_PATH); anything else is refused in one line without
    being read or quoted, before anything runs."""
    sweeps = folder / "sweeps"
    sweeps.mkdir()
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "secret.yaml").write_text(f"{SECRET}: 1\n")
    (folder / "notes.txt").write_text(f"{SECRET}: 1\n")
    (sweeps / "link.yaml").symlink_to(outside / "secret.yaml")
    shutil.copy(BASE, folder / "minimal.yaml")
    for name in (outside / "secret.yaml", "../../elsewhere/secret.yaml", "link.yaml",
                 "/etc/passwd", "../notes.txt"):
        (sweeps / "s.yaml").write_text(SWEEP_OF.format(scenario=name))
        line = one_error_line(run_cli(["sweep", "sweeps/s.yaml", "--out", "out"], folder))
        assert line.startswith("error: sweeps/s.yaml:1: scenario: "), line
        assert "outside the sweep file's folder" in line or "not a .yaml file" in line, line
        assert SECRET not in line and "root:" not in line
        assert not (folder / "out").exists()
    # Beside the sweep's folder (the shipped layout), under it, and shipped: read.
    for name in ("../minimal.yaml", "../base/../minimal.yaml",
                 ROOT / "scenarios" / "sussex-2013.yaml"):
        (sweeps / "s.yaml").write_text(SWEEP_OF.format(scenario=name))
        assert load_sweep(sweeps / "s.yaml").n_points == 1
    # A sibling folder's file, or one elsewhere, only when allowed on purpose.
    (sweeps / "s.yaml").write_text(SWEEP_OF.format(scenario="../base/minimal.yaml"))
    with pytest.raises(iomsim.InputError, match=EXTENDS_PATH_ENV):
        load_sweep(sweeps / "s.yaml")
    monkeypatch.setenv(EXTENDS_PATH_ENV, str(folder / "base"))
    assert load_sweep(sweeps / "s.yaml").n_points == 1


# --------------------------------------------------------------------------- extends: diamond

def test_an_extends_diamond_reads_each_file_once(folder, monkeypatch):
    """Each file names the one below twice: 2**depth paths to the base, depth + 1 files."""
    depth = MAX_EXTENDS_DEPTH - 2
    shutil.copy(BASE, folder / "d0.yaml")
    for i in range(1, depth + 1):
        (folder / f"d{i}.yaml").write_text(f"extends: [d{i - 1}.yaml, d{i - 1}.yaml]\n")
    reads: list[str] = []

    def counting(path):
        reads.append(str(path))
        return read_yaml_file(path)

    monkeypatch.setattr(loader, "read_yaml_file", counting)
    scenario = iomsim.load_scenario(folder / f"d{depth}.yaml")
    assert scenario.name == "Minimal test scenario"
    assert len(reads) == depth + 1, f"{len(reads)} reads for {depth + 1} files"


def test_a_cycle_inside_a_diamond_is_still_found(folder):
    shutil.copy(BASE, folder / "d0.yaml")
    (folder / "a.yaml").write_text("extends: [d0.yaml, b.yaml]\n")
    (folder / "b.yaml").write_text("extends: [d0.yaml, a.yaml]\n")
    with pytest.raises(ScenarioError, match=r"circular extends: \(a.yaml -> b.yaml -> a.yaml\)"):
        iomsim.load_scenario(folder / "a.yaml")


def test_a_chain_of_extends_deeper_than_the_limit_is_refused(folder):
    shutil.copy(BASE, folder / "c0.yaml")
    for i in range(1, MAX_EXTENDS_DEPTH + 2):
        (folder / f"c{i}.yaml").write_text(f"extends: c{i - 1}.yaml\n")
    top = f"c{MAX_EXTENDS_DEPTH + 1}.yaml"
    with pytest.raises(ScenarioError, match=f"from {top} is more than {MAX_EXTENDS_DEPTH} "
                                            "files deep") as info:
        iomsim.load_scenario(folder / top)
    assert "extends: extends:" not in str(info.value)  # (the path says extends once)


# --------------------------------------------------------------------------- bounded reading

@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_refused_without_waiting_for_a_writer(folder):
    os.mkfifo(folder / "pipe.yaml")
    line = one_error_line(run_cli(["validate", "pipe.yaml"], folder, timeout=30))
    assert line == "error: pipe.yaml: is a FIFO (named pipe), expected a regular YAML file"
    (folder / "s.yaml").write_text("extends: pipe.yaml\n")
    line = one_error_line(run_cli(["validate", "s.yaml"], folder, timeout=30))
    assert "not a regular file" in line
    os.mkfifo(folder / "pipe.csv")
    (folder / "c.yaml").write_text("extends: base/minimal.yaml\nselection: {cohort_size: 1}\n"
                                   "cohort: {size: null, profile: null, from_csv: pipe.csv}\n")
    line = one_error_line(run_cli(["validate", "c.yaml"], folder, timeout=30))
    assert line.startswith("error: c.yaml:3: cohort.from_csv: cohort file 'pipe.csv' is not a "
                           "regular file")


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero here")
def test_a_device_that_never_ends_is_refused(folder):
    line = one_error_line(run_cli(["validate", "/dev/zero"], folder, timeout=30))
    assert line == "error: /dev/zero: is a device, expected a regular YAML file"


def test_an_oversized_file_is_read_no_further_than_the_limit(tmp_path):
    big = tmp_path / "big.yaml"
    with big.open("wb") as fh:  # sparse: a gigabyte that costs no disk
        fh.truncate(1_000_000_000)
    with pytest.raises(ScenarioError, match=f"more than the {MAX_FILE_BYTES:,} allowed"):
        read_yaml_file(big)


CSV_SCENARIO = ("extends: base/minimal.yaml\nselection: {cohort_size: 1}\n"
                "cohort: {size: null, profile: null, from_csv: big.csv}\n"
                "limits: {max_offenders: 1000}\n")


def test_a_huge_cohort_csv_is_refused_from_its_size_before_it_is_read(folder):
    """Promise: a cohort CSV is read no further than its bound (1,000 bytes an offender of
    limits.max_offenders, and 1,000,000 more): a sparse file of 20 GB is refused at once, in one
    line naming the scenario's key, by validate, run and sweep alike, and nothing is written."""
    with (folder / "big.csv").open("wb") as fh:  # sparse: 20 GB that cost no disk
        fh.write(b"id,age,ogrs\n1,30,0.5\n")
        fh.truncate(20_000_000_000)
    (folder / "c.yaml").write_text(CSV_SCENARIO)
    (folder / "sweep.yaml").write_text(SWEEP_OF.format(scenario="c.yaml"))
    for argv in (["validate", "c.yaml"], ["run", "c.yaml", "--out", "out", *RUN],
                 ["sweep", "sweep.yaml", "--out", "out", "--no-progress"]):
        line = one_error_line(run_cli(argv, folder, timeout=30))
        assert line.startswith("error: c.yaml:3: cohort.from_csv: cohort file 'big.csv' is "
                               "20,000,000,000 bytes, more than the 2,000,000 read for "
                               "limits.max_offenders (1,000) offenders"), line
        assert not (folder / "out").exists()


def test_a_cohort_csv_that_grows_past_its_bound_after_the_check_is_refused(folder, monkeypatch):
    from iomsim.errors import CohortError
    from iomsim.scenario import cohort_csv

    (folder / "big.csv").write_text("id,age,ogrs\n1,30,0.5\n")
    (folder / "c.yaml").write_text(CSV_SCENARIO)
    scenario = iomsim.load_scenario(folder / "c.yaml")
    with (folder / "big.csv").open("ab") as fh:  # it grows (sparse) once checked
        fh.truncate(5_000_000)
    real = cohort_csv._check_size
    calls = []

    def once_blind(size, *args):  # the stat check misses it, as it would in a race
        calls.append(size)
        if len(calls) > 1:
            real(size, *args)

    monkeypatch.setattr(cohort_csv, "_check_size", once_blind)
    with pytest.raises(CohortError, match="2,000,001 bytes, more than the 2,000,000"):
        cohort_csv.read_cohort_bytes(scenario)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_an_out_that_is_a_fifo_or_device_is_refused_not_replaced(folder):
    """Promise: a file is written whole and renamed into place, so --out naming a FIFO or a
    device would replace the FIFO or device itself (as root, `breakeven --out /dev/full` left
    a regular file where the device was). Refused in one line before any work, and kept."""
    from iomsim.atomic import write_files_atomic, write_text_atomic

    os.mkfifo(folder / "pipe")
    (folder / "s.yaml").write_text("extends: base/minimal.yaml\n")
    for argv in (["breakeven", "s.yaml", "--reps", "1", "--jobs", "1", "--no-progress"],
                 ["calibrate", "s.yaml", "--targets", str(ROOT / "scenarios" / "targets" /
                                                         "sussex-2013.yaml"), "--no-progress"]):
        line = one_error_line(run_cli([*argv, "--out", "pipe"], folder, timeout=60))
        assert line.startswith("error: pipe: is a FIFO (named pipe); ") and \
            "choose the name of a regular file" in line, line
    with pytest.raises(iomsim.InputError, match="is a FIFO"):
        write_text_atomic(folder / "pipe", "x")
    (folder / "link").symlink_to(folder / "pipe")  # through a link alike
    with pytest.raises(iomsim.InputError, match="is a FIFO"):
        write_files_atomic([(folder / "a.txt", lambda p: p.write_text("a")),
                            (folder / "link", lambda p: p.write_text("b"))])
    assert (folder / "pipe").is_fifo() and (folder / "link").is_symlink()
    assert sorted(p.name for p in folder.iterdir()) == ["base", "link", "pipe", "s.yaml"]


# --------------------------------------------------------------------------- limits

def test_the_shipped_sweeps_stay_within_the_limits():
    from iomsim.experiments.spec import load_sweep

    for path in sorted((ROOT / "scenarios" / "sweeps").glob("*.yaml")):
        spec = load_sweep(path)
        assert spec.n_points > 0, path


RUNAWAY = """\
extends: base/minimal.yaml
selection: {cohort_size: 1}
cohort:
  size: null
  profile: null
  offenders:
    - {id: A, age: 30, ogrs: 0.5}
    - {id: B, age: 30, ogrs: 0.999999, frailty: 100}
offending:
  phases: {active_share: 0.1, active_rate_ratio: 100, mean_active_days: 100}
"""


@pytest.mark.parametrize("engine", ["simpy", "compiled"])
def test_a_population_that_would_offend_without_bound_is_refused_before_simulating(folder,
                                                                                   engine):
    """Promise: no valid input hangs. Each of frailty 100, OGRS near 1 and an active phase
    passes validation (the riskiest offender at frailty 1 is well within 10,000 offences a
    year), but together they ask for about 30,000 a year: both engines refuse the population
    identically, in one line naming the offender and the keys, before simulating anything."""
    (folder / "r.yaml").write_text(RUNAWAY)
    assert run_cli(["validate", "r.yaml"], folder).code == 0
    line = one_error_line(run_cli(["run", "r.yaml", "--engine", engine, "--out", "out", *RUN],
                                  folder, timeout=120))
    assert line.startswith("error: r.yaml:6: cohort.offenders: offender 'B' (OGRS 0.999999, "
                           "frailty 100) would commit "), line
    assert "offences a year at the peak of their offending; expected at most 10,000" in line
    assert "offending.phases.active_rate_ratio (100)" in line
    assert not (folder / "out").exists()


def test_both_engines_share_one_guard_for_runaway_offending(folder):
    from iomsim.engine.model import compile_model
    from iomsim.engine.replication import simulate_replication

    (folder / "r.yaml").write_text(RUNAWAY)
    model = compile_model(iomsim.load_scenario(folder / "r.yaml"))
    said = []
    for engine in ("simpy", "compiled"):
        with pytest.raises(iomsim.InputError) as info:
            simulate_replication(model, 1, 0, engine=engine)
        said.append(str(info.value))
    assert said[0] == said[1]
    # A wide frailty drawn near the top, with OGRS near 1 from an unbounded distribution.
    (folder / "f.yaml").write_text(
        "extends: base/minimal.yaml\ncohort:\n  size: 2000\n  profile:\n"
        "    frailty_variance: 4\n    ogrs: {distribution: beta, mean: 0.93, sd: 0.05}\n")
    model = compile_model(iomsim.load_scenario(folder / "f.yaml"))
    with pytest.raises(iomsim.InputError, match=r"f.yaml:5: cohort.profile.frailty_variance: "
                       r"offender '\d+' .* cohort.profile.frailty_variance \(4\)"):
        simulate_replication(model, 1, 0, engine="compiled")


def test_an_offender_record_with_a_huge_frailty_is_refused():
    with pytest.raises(ScenarioError, match="a hundred times as often"):
        iomsim.load_scenario(BASE, overrides={
            "cohort.size": None, "cohort.profile": None,
            "cohort.offenders": [{"id": "A", "age": 30, "ogrs": 0.5, "frailty": 1e12}]})


def test_sd_zero_stays_a_constant_and_a_tiny_sd_is_refused_in_validate_and_run(folder):
    (folder / "zero.yaml").write_text("extends: base/minimal.yaml\ncohort:\n  profile:\n"
                                      "    ogrs: {distribution: gamma, mean: 0.6, sd: 0}\n")
    assert iomsim.load_scenario(folder / "zero.yaml").cohort.profile.ogrs.sd == 0
    (folder / "tiny.yaml").write_text("extends: base/minimal.yaml\ncohort:\n  profile:\n"
                                      "    ogrs: {distribution: gamma, mean: 0.6, sd: 1.0e-200}\n")
    for command in (["validate", "tiny.yaml"], ["run", "tiny.yaml", "--out", "out", *RUN]):
        line = one_error_line(run_cli(command, folder))
        assert line.startswith("error: tiny.yaml:4: cohort.profile.ogrs.sd: ")
        assert "for a constant, give sd: 0" in line
    assert not (folder / "out").exists()


# --------------------------------------------------------------------------- selection

def test_a_selection_that_picks_nobody_is_refused_at_run_time_naming_the_rule(folder):
    # A beta reaches any OGRS below 1, so only the run can tell that nobody reached 0.99.
    (folder / "s.yaml").write_text("extends: base/minimal.yaml\n"
                                   "selection: {cohort_size: 30, ogrs_min: 0.99}\n")
    assert run_cli(["validate", "s.yaml"], folder).code == 0
    line = one_error_line(run_cli(["run", "s.yaml", "--out", "out", *RUN], folder))
    assert line.startswith("error: s.yaml:2: selection.ogrs_min: selection picked nobody")
    assert "of 200 offenders present at day 0" in line
    assert "0 had OGRS >= selection.ogrs_min (0.99)" in line
    assert not (folder / "out").exists()
    assert {p.name for p in folder.iterdir()} == {"base", "s.yaml"}


SWEEP_OF_SELECTION = """\
scenario: base/minimal.yaml
design: grid
replications: 2
seed: 1
parameters:
  selection.ogrs_min: {levels: [0.3, 0.99]}
overrides: {selection.cohort_size: 30}
"""


def test_a_sweep_point_whose_selection_picks_nobody_stops_the_sweep_naming_its_values(folder):
    """Promise: a sweep point whose selection picks nobody is refused as run refuses it (one
    line, status 2, the sweep file's line, the point's values, the rule), never a table of NaN;
    the points that finished stay whole in the folder, and nothing says the sweep is complete."""
    (folder / "sweep.yaml").write_text(SWEEP_OF_SELECTION)
    argv = ["sweep", "sweep.yaml", "--out", "out", "--jobs", "1", "--no-progress"]
    for _ in range(2):  # the same again: it resumes, and stops at the same point
        result = run_cli(argv, folder)
        assert "Traceback" not in result.err and result.code == 2, result.err
        assert result.err_lines[0].startswith("sweep.yaml: grid design")  # the announcement
        assert len(result.err_lines) == 2, result.err
        line = result.err_lines[1]
        assert line.startswith("error: sweep.yaml:6: parameters.selection.ogrs_min: design "
                               "point 1 (selection.ogrs_min=0.99): selection picked nobody")
        assert "0 had OGRS >= selection.ogrs_min (0.99)" in line
        assert "its 1 finished point kept in out/" in line
        assert sorted(p.name for p in (folder / "out" / "points").iterdir()) == \
            ["point-000000.parquet"]
        assert not (folder / "out" / "results.parquet").exists()
    with pytest.raises(iomsim.InputError, match=r"design point 1 \(selection.ogrs_min=0.99\)"):
        iomsim.sweep(folder / "sweep.yaml", jobs=1, progress=False)


def test_a_selection_no_listed_offender_can_reach_is_refused_by_validate(folder):
    (folder / "s.yaml").write_text(
        "extends: base/minimal.yaml\nselection: {cohort_size: 1, ogrs_min: 0.8}\n"
        "cohort:\n  size: null\n  profile: null\n"
        "  offenders: [{id: A, age: 30, ogrs: 0.5}, {id: B, age: 40, ogrs: 0.7}]\n")
    line = one_error_line(run_cli(["validate", "s.yaml"], folder))
    assert line.startswith("error: s.yaml:2: selection.ogrs_min: 0.8 is above the highest "
                           "OGRS anyone in the cohort can have (0.7)")


def test_a_selection_short_of_cohort_size_warns_once(folder):
    (folder / "s.yaml").write_text("extends: base/minimal.yaml\n"
                                   "selection: {cohort_size: 30, ogrs_min: 0.8}\n")
    result = run_cli(["run", "s.yaml", "--out", "out", *RUN], folder)
    assert result.code == 0, result.err
    warnings = [w for w in result.err_lines if w.startswith("warning: ")]
    assert len(warnings) == 1, result.err
    assert "fewer offenders than selection.cohort_size (30) in 2 of 2 replications" \
        in warnings[0]
    assert "present at day 0 met the selection rules" in warnings[0]


# --------------------------------------------------------------------------- terminal output

def test_metrics_whose_window_outruns_the_horizon_are_not_printed_as_numbers(folder):
    (folder / "s.yaml").write_text("extends: base/minimal.yaml\nhorizon_years: 0.5\n")
    result = run_cli(["run", "s.yaml", "--out", "out", *RUN], folder)
    assert result.code == 0, result.err
    for label in ("reconvicted in 24 months after", "convictions per offender, 12 months",
                  "actual vs predicted reduction"):
        assert label not in result.out  # no row at all, rather than a partial number
    note = next(r for r in result.out.splitlines() if "not available" in r)
    assert note.strip().startswith("(3 measures not available") and "0.5-year horizon" in note


def test_control_characters_from_the_scenario_never_reach_the_terminal(folder):
    (folder / "s.yaml").write_text('extends: base/minimal.yaml\n'
                                   'name: "\\e]0;owned\\a\\e[2J\\e[31mRed\\u009b6n"\n')
    for command in (["validate", "s.yaml"], ["run", "s.yaml", "--out", "out", *RUN]):
        result = run_cli(command, folder)
        assert result.code == 0, result.err
        for text in (result.out, result.err):
            assert not any(c in text for c in "\x1b\x07\x9b"), repr(text)
        assert "\\x1b[31mRed" in result.out


def test_replications_beyond_the_limit_are_refused_before_anything_runs(folder):
    """Promise: a run's cost follows from what it declares, within bounds: --reps
    100000000000 asked for 800 GB (a MemoryError traceback, or the kernel's OOM killer) before
    simulating anything. Refused in one line by run, breakeven, a sweep file and the Python API."""
    from iomsim.defaults import MAX_REPS

    (folder / "s.yaml").write_text("extends: base/minimal.yaml\n")
    for argv in (["run", "s.yaml", "--out", "out"], ["breakeven", "s.yaml"]):
        line = one_error_line(run_cli([*argv, "--reps", "100000000000", "--no-progress"],
                                      folder))
        assert f"--reps: expected at most {MAX_REPS:,} replications, got 100,000,000,000" in line
    (folder / "sweep.yaml").write_text(SWEEP_OF.format(scenario="s.yaml").replace(
        "replications: 1", f"replications: {MAX_REPS + 1}"))
    line = one_error_line(run_cli(["sweep", "sweep.yaml", "--out", "out"], folder))
    assert line.startswith("error: sweep.yaml:3: replications: expected a whole number from 1 "
                           f"to {MAX_REPS}")
    with pytest.raises(ValueError, match=f"at most {MAX_REPS:,}"):
        iomsim.run(iomsim.load_scenario(folder / "s.yaml"), reps=10 ** 11)
    assert sorted(p.name for p in folder.iterdir()) == ["base", "s.yaml", "sweep.yaml"]


def test_abc_draws_beyond_the_limit_are_refused(tmp_path):
    """An ABC fit draws all its parameter sets at once before running the first: draws:
    1000000000 is refused in the targets file, as a sweep design of more than 100,000 points."""
    from iomsim.calibration import read_targets

    text = (ROOT / "scenarios" / "targets" / "sussex-2013.yaml").read_text()
    assert "\ndraws: " in text  # the shipped targets are an ABC fit: change its draws
    text = re.sub(r"\ndraws: \d+\n", "\ndraws: 1000000000\n", text)
    (tmp_path / "t.yaml").write_text(text)
    with pytest.raises(iomsim.InputError, match="draws: expected a whole number from 1 to 100000"):
        read_targets(tmp_path / "t.yaml")


def test_the_root_folder_as_out_is_one_line(folder):
    """`--out /` was a ValueError traceback (the lock beside the folder has no name there)."""
    (folder / "s.yaml").write_text("extends: base/minimal.yaml\n")
    for argv in (["run", "s.yaml", "--out", "/", *RUN], ["report", "/"]):
        line = one_error_line(run_cli(argv, folder))
        assert line.startswith("error: /: is the root of the file system;"), line
