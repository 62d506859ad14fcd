"""Same numbers everywhere: the same scenario, seed and replications give byte-identical
costs_by_agency.csv, outcomes.csv and economics.csv (and survival.csv and population.csv) from
``iomsim run --jobs 1``, ``iomsim run --jobs 2``, the Python API, and ``iomsim run --scheduler
local`` (a local Dask cluster); and manifest.json holds what is needed to reproduce a run
exactly: running its resolved scenario with its seed and replications gives the same files
again.

The scenario is the shipped scenarios/sussex-2013.yaml made tiny with overrides, read at test
time (the test compares runs with each other, not with stored numbers).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

import iomsim
from iomsim.results import RESULT_FILES, read_results

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(__file__).parent / "bad_inputs"
sys.path.insert(0, str(CORPUS))

from iomsim_cli_harness import run_cli  # noqa: E402

SCENARIO = ROOT / "scenarios" / "sussex-2013.yaml"
OVERRIDES = {"cohort.size": 200, "selection.cohort_size": 30, "horizon_years": 1}
SET_ARGS = [a for k, v in OVERRIDES.items() for a in ("--set", f"{k}={v}")]
SEED, REPS = 7, 4
COMPARED = ["costs_by_agency.csv", "outcomes.csv", "economics.csv", "survival.csv",
            "population.csv"]


def _bytes(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in COMPARED}


def _assert_identical(reference: Path, other: Path, label: str) -> None:
    a, b = _bytes(reference), _bytes(other)
    for name in COMPARED:
        assert a[name] == b[name], f"{name} differs between the reference run and {label}"
    # costs.parquet: the same table (its bytes carry writer metadata)
    pd.testing.assert_frame_equal(pd.read_parquet(reference / "costs.parquet"),
                                  pd.read_parquet(other / "costs.parquet"), check_exact=True)


def _cli_run(out: Path, jobs: int, cwd: Path, *extra: str) -> None:
    result = run_cli(["run", str(SCENARIO), *SET_ARGS, "--reps", str(REPS), "--seed", str(SEED),
                      "--jobs", str(jobs), "--no-progress", "--out", str(out), *extra], cwd,
                     mode="cold")
    assert result.code == 0, result.err
    assert sorted(p.name for p in out.iterdir()) == sorted(RESULT_FILES)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """``iomsim run --jobs 1``: the run every other way is compared with."""
    out = tmp_path_factory.mktemp("ref") / "jobs1"
    _cli_run(out, 1, out.parent)
    return out


def test_cli_jobs_2_matches_jobs_1(reference, tmp_path):
    out = tmp_path / "jobs2"
    _cli_run(out, 2, tmp_path)
    _assert_identical(reference, out, "iomsim run --jobs 2")


def test_python_api_matches_the_cli(reference, tmp_path):
    scenario = iomsim.load_scenario(SCENARIO, overrides=OVERRIDES)
    results = iomsim.run(scenario, reps=REPS, seed=SEED, jobs=1, progress=False)
    out = results.write(tmp_path / "api")
    _assert_identical(reference, out, "iomsim.run(...).write(...)")
    # and the tables in memory are those in the files: money written to the penny, everything
    # else to 6 decimal places
    back = read_results(out)
    pd.testing.assert_frame_equal(results.outcomes, back.outcomes,
                                  check_exact=False, rtol=0, atol=5.000001e-7)
    cba, cba_back = results.costs_by_agency, back.costs_by_agency
    pd.testing.assert_series_equal(cba["share"], cba_back["share"],
                                   check_exact=False, rtol=0, atol=5.000001e-7)
    pd.testing.assert_frame_equal(cba, cba_back, check_exact=False, rtol=0, atol=0.0050001)
    econ, econ_back = results.economics, back.economics
    ratios = econ["metric"].str.startswith("benefit_per_pound")
    pd.testing.assert_frame_equal(econ[ratios], econ_back[ratios],
                                  check_exact=False, rtol=0, atol=5.000001e-7)
    pd.testing.assert_frame_equal(econ, econ_back, check_exact=False, rtol=0, atol=0.0050001)


def test_cli_on_a_local_dask_cluster_matches_the_cli(reference, tmp_path):
    """The replications run on the worker processes of a local Dask cluster (two of them)."""
    pytest.importorskip("distributed")
    out = tmp_path / "dask"
    _cli_run(out, 2, tmp_path, "--scheduler", "local")
    _assert_identical(reference, out, "iomsim run --scheduler local --jobs 2")
    assert json.loads((out / "manifest.json").read_text())["scheduler"] == "local"


# ------------------------------------------------------------------ the manifest

def test_manifest_records_what_reproduces_the_run(reference):
    m = json.loads((reference / "manifest.json").read_text())
    assert m["seed"] == SEED and m["reps"] == REPS and m["replications"] == list(range(REPS))
    assert m["overrides"] == OVERRIDES
    assert m["scenario_file"] == str(SCENARIO)
    scenario = iomsim.load_scenario(SCENARIO, overrides=OVERRIDES)
    assert m["scenario_hash"] == scenario.meta.hash
    assert m["resolved_scenario"] == json.loads(json.dumps(scenario.meta.resolved))
    assert m["validated_scenario"] == scenario.model_dump(mode="json")
    for package in ("iomsim", "numpy", "scipy", "pandas", "simpy", "pydantic", "pyyaml",
                    "pyarrow", "python"):
        assert m["versions"].get(package) not in (None, "not installed"), package
    assert m["platform"] and m["python_executable"]
    assert m["cohort_file"] is None  # a generated cohort; a CSV cohort records path and sha256


def test_rerunning_the_manifests_resolved_scenario_gives_the_same_files(reference, tmp_path):
    """Everything needed is in the manifest: write its resolved scenario to a new file (no
    extends, no overrides) and run it with its seed and replications."""
    m = json.loads((reference / "manifest.json").read_text())
    again = tmp_path / "from-manifest.yaml"
    again.write_text(yaml.safe_dump(m["resolved_scenario"], sort_keys=False, allow_unicode=True))
    scenario = iomsim.load_scenario(again)
    assert scenario.meta.hash == m["scenario_hash"]
    results = iomsim.run(scenario, reps=m["reps"], seed=m["seed"], jobs=1, progress=False)
    out = results.write(tmp_path / "rerun")
    _assert_identical(reference, out, "a run of the manifest's resolved scenario")


def test_the_same_hash_means_the_same_numbers(tmp_path):
    """The engine gives offence types their draws in the order the scenario lists them, so a
    reordered scenario may give other numbers; then it must not have the same hash."""
    base = CORPUS / "base" / "minimal.yaml"
    text = base.read_text()
    theft = text[text.index("    theft:"):text.index("    violence:")]
    violence = text[text.index("    violence:"):text.index("justice:")]
    reordered = text.replace(theft + violence, violence + theft)
    assert reordered != text
    shutil.copytree(CORPUS / "base", tmp_path / "base")
    (tmp_path / "base" / "reordered.yaml").write_text(reordered)
    a = iomsim.load_scenario(base)
    b = iomsim.load_scenario(tmp_path / "base" / "reordered.yaml")
    assert a.model_dump() == b.model_dump()  # the same values
    ra = iomsim.run(a, reps=2, seed=3, jobs=1, progress=False)
    rb = iomsim.run(b, reps=2, seed=3, jobs=1, progress=False)
    same_numbers = all(getattr(ra, t).equals(getattr(rb, t))
                       for t in ("costs_by_agency", "outcomes", "economics"))
    assert same_numbers or a.meta.hash != b.meta.hash


def test_a_csv_cohort_is_recorded_with_its_content_hash(tmp_path):
    import hashlib

    shutil.copytree(CORPUS / "base", tmp_path / "base")
    shutil.copytree(CORPUS / "csv", tmp_path / "csv")
    scenario_file = tmp_path / "from-csv.yaml"
    scenario_file.write_text("extends: base/minimal.yaml\nselection: {cohort_size: 2}\n"
                             "cohort: {size: null, profile: null, from_csv: csv/good.csv}\n")
    results = iomsim.run(iomsim.load_scenario(scenario_file), reps=1, seed=1, jobs=1,
                         progress=False)
    record = results.manifest["cohort_file"]
    assert record["sha256"] == hashlib.sha256((tmp_path / "csv" / "good.csv").read_bytes()
                                              ).hexdigest()
    assert Path(record["path"]) == (tmp_path / "csv" / "good.csv").resolve()
