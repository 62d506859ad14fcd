"""The command line, through a subprocess: validate, run, schema, and bad input."""

import json
import subprocess

import pandas as pd

from tests.support import MINIMAL

SMALL = ["--set", "cohort.size=30", "--set", "horizon_years=1"]


def _cli(iomsim_cli, *args, cwd=None):
    return subprocess.run([*iomsim_cli, *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_validate_accepts_a_good_scenario(iomsim_cli):
    p = _cli(iomsim_cli, "validate", str(MINIMAL))
    assert p.returncode == 0, p.stderr
    assert "valid" in p.stdout


def test_run_writes_the_results_folder_and_a_summary(iomsim_cli, tmp_path):
    out = tmp_path / "res"
    p = _cli(iomsim_cli, "run", str(MINIMAL), "--reps", "2", "--seed", "3", "--jobs", "1",
             "--out", str(out), *SMALL)
    assert p.returncode == 0, p.stderr
    for name in ("costs.parquet", "costs_by_agency.csv", "outcomes.csv", "economics.csv",
                 "survival.csv", "population.csv", "manifest.json"):
        assert (out / name).is_file(), name
    assert str(out) in p.stdout
    assert "benefit per £1" in p.stdout or "IOM spend" in p.stdout
    cba = pd.read_csv(out / "costs_by_agency.csv")
    assert list(cba.columns) == ["arm", "agency", "cost", "discounted_cost", "share", "lo", "hi",
                                 "p025", "p975"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 3 and manifest["reps"] == 2


def test_run_refuses_to_overwrite_without_force(iomsim_cli, tmp_path):
    out = tmp_path / "res"
    args = ["run", str(MINIMAL), "--reps", "1", "--jobs", "1", "--out", str(out), *SMALL]
    assert _cli(iomsim_cli, *args).returncode == 0
    before = (out / "outcomes.csv").read_bytes()
    p = _cli(iomsim_cli, *args, "--seed", "99")
    assert p.returncode == 2
    assert "--force" in p.stderr and "Traceback" not in p.stderr
    assert (out / "outcomes.csv").read_bytes() == before
    assert _cli(iomsim_cli, *args, "--seed", "99", "--force").returncode == 0


def test_schema_prints_json_schema(iomsim_cli):
    p = _cli(iomsim_cli, "schema")
    assert p.returncode == 0
    schema = json.loads(p.stdout)
    assert "cohort" in schema["properties"] and "offending" in schema["properties"]


def test_bad_value_gives_one_line_with_file_line_and_path(iomsim_cli, tmp_path):
    bad = tmp_path / "bad.yaml"
    text = MINIMAL.read_text().replace("conviction_probability: 0.9", "conviction_probability: 90")
    bad.write_text(text)
    p = _cli(iomsim_cli, "validate", str(bad))
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in p.stderr
    line_no = next(i for i, l in enumerate(text.splitlines(), 1) if "conviction_probability: 90" in l)
    assert f"bad.yaml:{line_no}: justice.conviction_probability:" in lines[0]
    assert "looks like a percent" in lines[0]


def test_bad_set_path_names_the_nearest_key(iomsim_cli):
    p = _cli(iomsim_cli, "validate", str(MINIMAL), "--set", "discount_rat=0.1")
    assert p.returncode == 2
    assert "discount_rate" in p.stderr and "--set" in p.stderr


def test_a_summary_piped_into_a_reader_that_stops_early_is_no_traceback(tmp_path):
    """`iomsim run ... | head`: the results are written, the printing stops, no traceback. The
    reader here (`true`) has gone before the simulation ends, so the first print meets a closed
    pipe every time."""
    import subprocess
    import sys

    out = tmp_path / "res"
    command = (f"'{sys.executable}' -m iomsim.cli run '{MINIMAL}' --reps 2 --jobs 1 "
               f"--no-progress --out '{out}' | true; echo \"${{PIPESTATUS[0]}}\"")
    proc = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=300)
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr, proc.stderr
    assert proc.stdout.strip() == "141", proc.stdout
    assert (out / "manifest.json").exists()


# --------------------------------------------------------------------------- the run's summary

def _summary(scenario, reps=1):
    from pathlib import Path

    import iomsim
    from iomsim.cli.run import summary_text

    results = iomsim.run(scenario, reps=reps, seed=2, jobs=1, progress=False)
    return summary_text(results, Path("out"))


def test_the_summary_is_headed_by_the_scenarios_horizon():
    from tests.support import load_minimal

    one = _summary(load_minimal({"cohort.size": 40, "horizon_years": 1}))
    assert "One-year cost (discounted, £)" in one and "Five-year" not in one
    assert "1-year horizon" in one and "1 years" not in one
    five = _summary(load_minimal({"cohort.size": 40, "horizon_years": 5}))
    assert "Five-year cost (discounted, £)" in five and "One-year" not in five
    assert "5-year horizon" in five
    for text in (one, five):  # the price year and the discounting, as the scenario says
        assert "Money: £, 2011-12 prices, discounted at 3.5% a year" in text
    # A 24-month window past a one-year horizon is not shown, not a partial number.
    assert "reconvicted in 24 months" not in one
    assert "not available" in one and "past the 1-year horizon" in one


def test_the_summary_names_agencies_and_shows_rates_as_percentages():
    import re

    import iomsim
    from tests.support import ROOT

    scenario = iomsim.load_scenario(ROOT / "scenarios" / "sussex-2013.yaml", overrides={
        "cohort.size": 300, "selection.cohort_size": 40, "horizon_years": 2})
    text = _summary(scenario, reps=2)
    for label in ("Police", "Drug and alcohol treatment", "Voluntary sector", "All agencies",
                  "Victims and society"):
        assert re.search(rf"^  {label}  ", text, re.M), label
    for raw in ("drug_alcohol_treatment", "local_authority", "vcs", "victims "):
        assert raw not in text
    row = next(r for r in text.splitlines() if "reconvicted in 24 months after" in r)
    # two percentages and their difference in percentage points
    assert re.fullmatch(r"  reconvicted in 24 months after\s+\d+\.\d%\s+\d+\.\d%"
                        r"\s+(0\.0|[+-]\d+\.\d) pts", row), row
    row = next(r for r in text.splitlines() if "convictions per offender, 12 months" in r)
    assert "%" not in row and "pts" not in row  # a count per offender, not a rate
    assert "2-year horizon" in text and "Two-year cost" in text
