"""A commissioner's path, as the README's "Writing your own scenario" gives it, end to end through
the command line, from an empty folder (no copy of the repository's scenarios/): list the shipped
scenarios, copy one, write the file the README shows (another cohort size, a caseload, housing
costs 20% higher), validate, try a --set, run a small cohort, read the summary. Also: shipped
scenarios by name from anywhere, the copy command's refusals, and errors that name the user's
file with the extends: chain and list every problem."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import iomsim
from tests.support import ROOT
from tests.test_readme import readme_blocks, run_in, shell_commands, small

README = ROOT / "README.md"


def _env() -> dict[str, str]:
    src = str(Path(iomsim.__file__).resolve().parents[1])
    return {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}


def _cli(folder: Path, *args: str) -> subprocess.CompletedProcess:
    return run_in(folder, [sys.executable, "-m", "iomsim.cli", *args], _env())


def _walkthrough() -> list[tuple[str, str]]:
    text = README.read_text(encoding="utf-8")
    section = text.split("### Writing your own scenario", 1)[1].split("\n## ", 1)[0]
    return readme_blocks(section)


def test_the_readme_walkthrough_works_from_an_empty_folder(tmp_path):
    blocks = _walkthrough()
    assert [lang for lang, _ in blocks] == ["bash", "yaml", "bash"], blocks
    said: list[str] = []
    for language, code in blocks:
        if language == "yaml":
            name = code.splitlines()[0][2:].strip()
            assert (tmp_path / name).parent.is_dir(), "the copy made the folder the file goes in"
            (tmp_path / name).write_text(code, encoding="utf-8")
            continue
        for command in shell_commands(code):
            line, status = small(command)
            proc = run_in(tmp_path, ["bash", "-c", line], _env())
            assert proc.returncode == status == 0, f"{command}:\n{proc.stdout}\n{proc.stderr}"
            assert "Traceback" not in proc.stderr
            said.append(proc.stdout)
    listing, copied, valid, valid_set, summary = said
    assert re.search(r"^sussex-2013\s+Sussex IOM 2013", listing, re.M)
    assert "sussex-2013.yaml, sussex-2013-uncalibrated.yaml" in copied
    assert "my-area/my-area.yaml: valid (My area IOM cohort" in valid
    assert "valid" in valid_set
    # The summary reads as the README says: the scenario's own name, cost by agency with
    # housing among them, the outcomes, the IOM spend and benefit per £1, where results went.
    assert summary.startswith("My area IOM cohort: 2 replications")
    for words in ("Housing", "All agencies", "Outcomes", "Benefit per £1",
                  "Results written to results/my-area/"):
        assert words in summary, (words, summary)
    manifest = json.loads((tmp_path / "results" / "my-area" / "manifest.json").read_text())
    scenario = manifest["validated_scenario"]
    assert scenario["cohort"]["size"] == 1200 and scenario["selection"]["cohort_size"] == 150
    assert scenario["iom"]["offender_managers"]["probation"]["caseload"] == 25
    assert scenario["scale"]["agency_costs"] == {"housing": 1.2}
    assert manifest["provenance"]["scale.agency_costs.housing"]["assumption"]
    assert sum(manifest["cohort_size"]) / len(manifest["cohort_size"]) <= 150


def test_the_housing_scale_in_the_walkthrough_prices_housing_a_fifth_higher(tmp_path):
    assert _cli(tmp_path, "scenarios", "copy", "sussex-2013", "my-area").returncode == 0
    yaml = dict(_walkthrough())["yaml"]
    (tmp_path / "my-area" / "my-area.yaml").write_text(yaml, encoding="utf-8")
    path = tmp_path / "my-area" / "my-area.yaml"
    small = {"cohort.size": 600, "selection.cohort_size": 60, "horizon_years": 1}
    scaled = iomsim.run(iomsim.load_scenario(path, overrides=small), reps=1, seed=3)
    plain = iomsim.run(iomsim.load_scenario(
        path, overrides={**small, "scale.agency_costs.housing": 1.0}), reps=1, seed=3)
    a = plain.costs.groupby(["arm", "agency"])["cost"].sum()
    b = scaled.costs.groupby(["arm", "agency"])["cost"].sum()
    assert b[("iom", "housing")] == pytest.approx(1.2 * a[("iom", "housing")], rel=1e-12)
    assert b[("iom", "police")] == a[("iom", "police")]


def test_shipped_scenarios_by_name_from_any_folder(tmp_path):
    proc = _cli(tmp_path, "validate", "sussex-2013")
    assert proc.returncode == 0 and proc.stdout.startswith("sussex-2013: valid (Sussex IOM 2013")
    (tmp_path / "mine.yaml").write_text("extends: [case-study-61k]\nname: mine\n")
    assert _cli(tmp_path, "validate", "mine.yaml").returncode == 0
    proc = _cli(tmp_path, "validate", "sussex-2031")
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("error: sussex-2031: file not found, and no shipped scenario "
                                   "has this name; did you mean 'sussex-2013'?")


def test_copy_refuses_a_taken_name_and_an_unknown_scenario(tmp_path):
    assert _cli(tmp_path, "scenarios", "copy", "case-study-61k", "x").returncode == 0
    before = (tmp_path / "x" / "case-study-61k.yaml").read_bytes()
    assert sorted(p.name for p in (tmp_path / "x").iterdir()) == [
        "case-study-61k-uncalibrated.yaml", "case-study-61k.yaml"]
    proc = _cli(tmp_path, "scenarios", "copy", "case-study-61k", "x")
    assert proc.returncode == 2 and "already holds case-study-61k.yaml" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert (tmp_path / "x" / "case-study-61k.yaml").read_bytes() == before
    assert _cli(tmp_path, "scenarios", "copy", "case-study-61k", "x", "--force").returncode == 0
    proc = _cli(tmp_path, "scenarios", "copy", "sussex-2031", "y")
    assert proc.returncode == 2 and "did you mean 'sussex-2013'" in proc.stderr
    assert not (tmp_path / "y").exists()


def test_an_error_at_an_inherited_value_names_the_users_file_and_the_chain(tmp_path):
    (tmp_path / "my.yaml").write_text("extends: [sussex-2013]\nname: mine\ncohort:\n  size: 100\n")
    proc = _cli(tmp_path, "validate", "my.yaml")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    shipped = (ROOT / "scenarios" / "sussex-2013-uncalibrated.yaml").read_text().splitlines()
    line = next(i for i, text in enumerate(shipped, 1) if text.startswith("  cohort_size:"))
    assert proc.stderr.strip().splitlines() == [
        "error: my.yaml: selection.cohort_size: 483 is larger than cohort.size (100); expected "
        f"at most the cohort size (the value is in sussex-2013-uncalibrated.yaml:{line}, in "
        "my.yaml (extends sussex-2013.yaml > sussex-2013-uncalibrated.yaml))"]


def test_every_problem_is_listed_one_line_each(tmp_path):
    (tmp_path / "my.yaml").write_text(
        "extends: [sussex-2013]\nname: mine\niom:\n  offender_managers:\n    nps:\n"
        "      share: 0.1\n")
    proc = _cli(tmp_path, "validate", "my.yaml")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith("error: my.yaml:5: ") for line in lines)
    assert "iom.offender_managers.nps.annual_cost: missing required key" in lines[0]
    assert "(and 1 more problem, listed below)" in lines[0]
    assert "iom.offender_managers.nps.caseload: missing required key" in lines[1]


def test_an_offender_manager_is_set_by_role(tmp_path):
    proc = _cli(tmp_path, "validate", "sussex-2013", "--set",
                "iom.offender_managers.probation.caseload=25")
    assert proc.returncode == 0, proc.stderr
    s = iomsim.load_scenario("sussex-2013",
                             overrides={"iom.offender_managers.probation.caseload": 25})
    assert s.iom.offender_managers["probation"].caseload == 25
    assert s.iom.offender_managers["probation"].agency == "probation"
    assert list(s.iom.offender_managers) == ["probation", "police", "vcs"]
