"""Sweep files: every mistake is refused up front with the sweep file, line and YAML path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from iomsim import load_scenario
from iomsim.errors import InputError, SweepError
from iomsim.experiments.spec import DEFAULT_MEASURES, load_sweep

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "sussex-2013.yaml"

GOOD = """\
scenario: {scenario}
overrides:
  cohort.size: 60
  selection.cohort_size: 10
design: oneway
replications: 1
parameters:
  iom.effects.offending_multiplier: {{low: 0.2, high: 0.6}}
  iom.effects.responder_share: {{low: 0.5, high: 0.9}}
"""


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sweep.yaml"
    path.write_text(text.format(scenario=SCENARIO))
    return path


def _error(tmp_path: Path, text: str) -> InputError:
    path = _file(tmp_path, text)
    with pytest.raises(InputError) as e:
        load_sweep(path)
    return e.value


def test_good_sweep_reads_base_values_from_the_overridden_scenario(tmp_path):
    spec = load_sweep(_file(tmp_path, GOOD))
    assert spec.n_points == 5
    assert spec.scenario.cohort.size == 60
    # the base point holds the scenario's own values (read here through the scenario object)
    effects = load_scenario(SCENARIO).iom.effects
    assert spec.point_values(0) == {"iom.effects.offending_multiplier": effects.offending_multiplier,
                                    "iom.effects.responder_share": effects.responder_share}
    assert spec.point_values(1)["iom.effects.offending_multiplier"] == 0.2
    assert spec.point_values(1)["iom.effects.responder_share"] == effects.responder_share
    assert [f"{a}.{m}" for a, m in spec.measures][:len(DEFAULT_MEASURES)] == list(DEFAULT_MEASURES)


def test_a_parameter_that_does_not_exist_names_file_line_and_path(tmp_path):
    err = _error(tmp_path, GOOD.replace("iom.effects.responder_share", "iom.effects.responder_shar"))
    assert isinstance(err, SweepError)
    assert err.file.endswith("sweep.yaml") and err.line == 9
    assert err.path == "parameters.iom.effects.responder_shar"
    assert "no parameter at this path" in err.message and "responder_share" in err.message


def test_a_value_the_scenario_refuses_names_the_parameter_and_point(tmp_path):
    err = _error(tmp_path, GOOD.replace("{{low: 0.5, high: 0.9}}", "{{low: 0.5, high: 1.5}}"))
    assert err.line == 9 and err.path == "parameters.iom.effects.responder_share"
    assert "design point 4" in err.message and "1.5" in err.message


def test_bad_override_names_the_overrides_line(tmp_path):
    err = _error(tmp_path, GOOD.replace("  cohort.size: 60", "  cohort.sise: 60"))
    assert err.line == 3 and err.path == "overrides.cohort.sise"


@pytest.mark.parametrize("old,new,line,path,words", [
    ("design: oneway", "design: onewya", 5, "design", "did you mean 'oneway'"),
    ("replications: 1", "replications: 0", 6, "replications", "whole number from 1 to 10000"),
    ("replications: 1", "replication: 1", 6, "replication", "did you mean 'replications'"),
    ("{{low: 0.2, high: 0.6}}", "{{distribution: weibul, mean: 1}}", 8,
     "parameters.iom.effects.offending_multiplier.distribution", "unknown distribution"),
    ("{{low: 0.2, high: 0.6}}", "{{distribution: beta, mean: 0.4, sd: 0.9}}", 8,
     "parameters.iom.effects.offending_multiplier.sd", "too large"),
    ("{{low: 0.2, high: 0.6}}", "{{low: 0.2, hihg: 0.6}}", 8,
     "parameters.iom.effects.offending_multiplier.hihg", "did you mean 'high'"),
    ("design: oneway", "design: psa\nsamples: 4", 9,
     "parameters.iom.effects.offending_multiplier", "needs a distribution"),
    ("design: oneway", "design: sobol\nsamples: 6", 6, "samples", "power of 2"),
    ("design: oneway", "design: psa\nsamples: 4\nacceptability: {{max_cost_per_offender: 9, "
     "steps: 1}}", 7, "acceptability.steps", "whole number from 2"),
    # low/high on a normal must say whether they clip (as in a scenario) or truncate
    ("{{low: 0.2, high: 0.6}}", "{{distribution: normal, mean: 0.4, sd: 0.1, low: 0.2}}", 8,
     "parameters.iom.effects.offending_multiplier.low", "bounds: truncate"),
    ("{{low: 0.2, high: 0.6}}", "{{mean: 0.4, low: 0.2, high: 0.6}}", 8,
     "parameters.iom.effects.offending_multiplier.mean", "add distribution"),
    ("{{low: 0.2, high: 0.6}}", "{{low: yes, high: 0.6}}", 8,
     "parameters.iom.effects.offending_multiplier.low", "got true; expected a number"),
    ("replications: 1", "replications: 1\nwibble: 2", 7, "wibble", "unknown key 'wibble'"),
    ("replications: 1", "replications: 1\nmeasures: [economics.npv, iomx.npv]", 7, "measures[1]",
     "unknown arm 'iomx'"),
    ("iom.effects.responder_share", "iom.case_conferences.attendees[x].hours", 9,
     "parameters.iom.case_conferences.attendees[x].hours", "malformed path part 'attendees[x]'"),
    ("  cohort.size: 60", "  iom.case_conferences.attendees.hours: 60", 3,
     "overrides.iom.case_conferences.attendees.hours",
     "did you mean 'iom.case_conferences.attendees[0].hours'"),
])
def test_each_mistake_is_located(tmp_path, old, new, line, path, words):
    err = _error(tmp_path, GOOD.replace(old, new))
    assert (err.line, err.path) == (line, path)
    assert words in err.message


def test_cli_prints_one_line_and_exits_2(tmp_path):
    path = _file(tmp_path, GOOD.replace("iom.effects.responder_share", "iom.effects.nope"))
    proc = subprocess.run([sys.executable, "-m", "iomsim.cli", "sweep", str(path), "--out",
                           str(tmp_path / "out"), "--no-progress"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith(
        f"error: {path}:9: parameters.iom.effects.nope: no parameter at this path")
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


def test_unknown_measure_is_reported_against_the_measures_line(tmp_path):
    import iomsim

    text = GOOD.replace("replications: 1", "replications: 1\nmeasures: [economics.npv, "
                        "iom.reconviction_rate_99m]").replace(
        "cohort.size: 60", "cohort.size: 40").replace("selection.cohort_size: 10",
                                                      "selection.cohort_size: 5")
    path = _file(tmp_path, text)
    with pytest.raises(SweepError) as e:
        iomsim.sweep(path, jobs=1, progress=False)
    assert e.value.line == 7 and e.value.path == "measures[1]"
    assert "iom.reconviction_rate_99m" in e.value.message


@pytest.mark.parametrize("name,points", [("tornado-small", 15), ("psa-small", 24),
                                         ("morris-small", 24)])
def test_shipped_sweep_files_load(name, points):
    spec = load_sweep(ROOT / "scenarios" / "sweeps" / f"{name}.yaml")
    assert spec.n_points == points


def test_a_truncated_normal_in_a_sweep_stays_above_its_low(tmp_path):
    text = GOOD.replace("design: oneway", "design: psa\nsamples: 64").replace(
        "{{low: 0.2, high: 0.6}}", "{{distribution: normal, mean: 0.3, sd: 0.2, low: 0.05, "
        "bounds: truncate}}").replace("{{low: 0.5, high: 0.9}}",
                                      "{{distribution: fixed, value: 0.7}}")
    values = load_sweep(_file(tmp_path, text)).design.points[
        "iom.effects.offending_multiplier"]
    assert (values > 0.05).all()
