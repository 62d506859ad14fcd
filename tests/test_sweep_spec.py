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


@pytest.mark.parametrize("levels,words", [
    # YAML 1.1 reads an exponent without a point as text: refused with how to write it
    ("[0.5, 1e-3]", "expected a number, got the text '1e-3' (YAML reads a number with an "
     "exponent but no point as text; write 1.0e-3)"),
    ('[0.5, "abc"]', "expected a number, got the text 'abc'"),
    ('[0.5, "0.7"]', "expected a number, got the text '0.7' (write it without quotes)"),
])
@pytest.mark.parametrize("parameter", ["iom.effects.offending_multiplier", "iom_cost_scale"])
def test_a_level_of_a_numeric_parameter_that_is_text_is_refused_at_its_line(
        tmp_path, parameter, levels, words):
    text = GOOD.replace("design: oneway", "design: grid").replace(
        "iom.effects.offending_multiplier: {{low: 0.2, high: 0.6}}",
        f"{parameter}: {{{{levels: {levels}}}}}").replace(
        "  iom.effects.responder_share: {{low: 0.5, high: 0.9}}\n", "")
    err = _error(tmp_path, text)
    assert (err.line, err.path) == (8, f"parameters.{parameter}.levels[1]")
    assert words in err.message


def test_a_text_base_of_a_numeric_parameter_is_refused(tmp_path):
    err = _error(tmp_path, GOOD.replace("{{low: 0.2, high: 0.6}}",
                                        "{{low: 0.2, high: 0.6, base: 4e-1}}"))
    assert err.path == "parameters.iom.effects.offending_multiplier.base"
    assert "write 4.0e-1" in err.message


@pytest.mark.parametrize("levels,got", [("[1.0e-300]", "1e-300"), ("[0]", "0"),
                                        ("[-2.0]", "-2"), ("[2000]", "2000")])
def test_iom_cost_scale_is_bounded(tmp_path, levels, got):
    text = GOOD.replace("design: oneway", "design: grid").replace(
        "iom.effects.offending_multiplier: {{low: 0.2, high: 0.6}}",
        f"iom_cost_scale: {{{{levels: {levels}}}}}").replace(
        "  iom.effects.responder_share: {{low: 0.5, high: 0.9}}\n", "")
    err = _error(tmp_path, text)
    assert (err.line, err.path) == (8, "parameters.iom_cost_scale")
    assert f"expected a multiplier from 0.001 to 1000, got {got}" in err.message
    assert not err.more  # one problem, one line (the costs it would scale are not listed)


def test_every_problem_of_a_design_point_is_listed_with_its_own_line(tmp_path):
    text = GOOD.replace("design: oneway", "design: grid").replace(
        "{{low: 0.2, high: 0.6}}", "{{levels: [-1]}}").replace(
        "iom.effects.responder_share: {{low: 0.5, high: 0.9}}", "discount_rate: {{levels: [-1]}}")
    err = _error(tmp_path, text)
    assert "(and 1 more problem, listed below)" in err.message
    assert len(err.lines()) == 2
    assert {(err.line, err.path), (err.more[0].line, err.more[0].path)} == {
        (8, "parameters.iom.effects.offending_multiplier"), (9, "parameters.discount_rate")}


def test_every_problem_of_the_overrides_is_listed(tmp_path):
    err = _error(tmp_path, GOOD.replace("  cohort.size: 60", "  cohort.size: 60\n"
                                        "  discount_rate: -1\n  justice.prison_cost_per_day: -1"))
    assert "(and 1 more problem, listed below)" in err.message
    assert [(e.line, e.path) for e in (err, *err.more)] == [
        (4, "overrides.discount_rate"), (5, "overrides.justice.prison_cost_per_day")]


def test_a_primary_measure_past_the_horizon_is_refused_before_simulating(tmp_path):
    text = GOOD.replace("  cohort.size: 60", "  cohort.size: 60\n  horizon_years: 1").replace(
        "replications: 1", "replications: 1\nprimary_measure: iom.reconviction_rate_24m")
    err = _error(tmp_path, text)
    assert (err.line, err.path) == (8, "primary_measure")
    assert "iom.reconviction_rate_24m needs 24 months" in err.message
    assert "1-year horizon" in err.message and "iom.reconviction_rate_12m" in err.message
    # the 12-month rate is available on a one-year horizon
    load_sweep(_file(tmp_path, text.replace("_24m", "_12m")))


def test_a_swept_horizon_too_short_for_the_primary_measure_names_the_point(tmp_path):
    text = GOOD.replace("replications: 1",
                        "replications: 1\nprimary_measure: iom.reconviction_rate_24m").replace(
        "iom.effects.responder_share: {{low: 0.5, high: 0.9}}",
        "horizon_years: {{low: 1, high: 5}}")
    err = _error(tmp_path, text)
    assert err.path == "primary_measure" and "design point 3's 1-year horizon" in err.message
