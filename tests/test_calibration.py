"""Calibration: reading targets files, refusing sourced unit costs, fitting, the command line."""

from __future__ import annotations

import subprocess
import sys

import pytest

import iomsim
from iomsim.calibration import (
    Fit, Parameter, Target, TargetsFile, calibrate, check_calibratable, fitted_yaml, measure,
    read_targets,
)
from iomsim.errors import InputError
from tests.support import ROOT, problem_lines

CASE_PRIOR = ROOT / "scenarios" / "case-study-61k-uncalibrated.yaml"


def write(tmp_path, text, name="targets.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return p


GOOD = """
reps: 3
seed: 2
max_evaluations: 5
parameters:
  services.self_harm.contacts_per_year: {low: 0, high: 20}
targets:
  - {agency_share: nhs, arm: iom, value: 0.10, tolerance: 0.03}
  - {total_agency_cost: iom, value: 61000, tolerance: 3050}
  - {metric: reconviction_rate_12m, value: 0.3, tolerance: 0.1, fit: false}
"""


def test_read_targets(tmp_path):
    t = read_targets(write(tmp_path, GOOD))
    assert t.reps == 3 and t.seed == 2 and t.max_evaluations == 5
    assert t.parameters[0].path == "services.self_harm.contacts_per_year"
    assert [x.kind for x in t.targets] == ["agency_share", "total_agency_cost", "metric"]
    assert t.targets[2].fit is False and t.targets[2].arm == "iom"
    assert t.step_scale == "range"


@pytest.mark.parametrize("text, words", [
    ("parameters: {}\ntargets: []\n", "parameters"),
    ("parameters:\n  nope.path: {low: 0, high: 1}\ntargets:\n  - {metric: x, value: 1, tolerance: 1}\n",
     "no scenario parameter"),
    ("parameters:\n  discount_rate: {low: 1, high: 0}\ntargets:\n  - {metric: x, value: 1, tolerance: 1}\n",
     "must be below"),
    ("parameters:\n  discount_rate: {low: 0, high: 0.1}\ntargets:\n  - {metric: x, value: 1}\n",
     "tolerance"),
    ("parameters:\n  discount_rate: {low: 0, high: 0.1}\ntargets:\n  - {colour: x, value: 1, tolerance: 1}\n",
     "expected one of metric"),
    ("parameters:\n  discount_rate: {low: 0, high: 0.1}\ntargets:\n  - {metric: x, value: 1, tolerance: 1}\nreps: 0\n",
     "whole number"),
    ("wibble: 1\n", "unknown key"),
    ("parameters:\n  discount_rate: {low: 0, high: 0.1}\ntargets:\n  - {metric: x, value: 1, tolerance: 1}\nstep_scale: big\n",
     "expected range"),
])
def test_bad_targets_files_say_what_is_wrong(tmp_path, text, words):
    with pytest.raises(InputError) as exc:
        read_targets(write(tmp_path, text))
    assert words in str(exc.value)
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize("old,new,line,path,words", [
    ("tolerance: 0.03}", "tolerence: 0.03}", 8, "targets[0].tolerence",
     "did you mean 'tolerance'"),
    ("{agency_share: nhs,", "{agency_share: nhs, metric: x,", 8, "targets[0]",
     "got metric and agency_share"),
    ("contacts_per_year: {low: 0", "contacts_per_yaer: {low: 0", 6,
     "parameters.services.self_harm.contacts_per_yaer",
     "did you mean 'services.self_harm.contacts_per_year'"),
    ("{low: 0, high: 20}", "{low: 0, high: 20, start: 30}", 6,
     "parameters.services.self_harm.contacts_per_year.start", "outside [0, 20]"),
    ("reps: 3", "reps: yes", 2, "reps", "got true; expected a number"),
    ("fit: false}", "fit: maybe}", 10, "targets[2].fit", "valid boolean"),
])
def test_targets_file_errors_name_the_line_and_path(tmp_path, old, new, line, path, words):
    assert old in GOOD
    with pytest.raises(InputError) as exc:
        read_targets(write(tmp_path, GOOD.replace(old, new)))
    assert (exc.value.line, exc.value.path) == (line, path)
    assert words in exc.value.message


def test_current_value_reads_the_validated_scenario():
    from iomsim.calibration import current_value

    s = iomsim.load_scenario(CASE_PRIOR)
    assert current_value(s, "services.self_harm.contacts_per_year") == \
        s.services["self_harm"].contacts_per_year
    # a value the file leaves to its default is the default
    assert current_value(s, "iom.enforcement.recall_multiplier") == \
        s.iom.enforcement.recall_multiplier
    assert current_value(s, "iom.offender_managers.police.share") == \
        s.iom.offender_managers["police"].share
    assert current_value(s, "services.nope.uptake") is None
    assert current_value(s, "name") is None


def test_refuses_a_sourced_unit_cost():
    s = iomsim.load_scenario(CASE_PRIOR)
    with pytest.raises(InputError, match="sourced unit cost"):
        check_calibratable(s, [Parameter("justice.prison_cost_per_day", 50, 150)])
    with pytest.raises(InputError, match="sourced unit cost"):
        check_calibratable(s, [Parameter("offending.offence_types.violence_with_injury.cost_of_crime", 1, 2)])
    # an assumed cost and a behavioural rate are fine
    check_calibratable(s, [Parameter("services.complex_needs_supported_housing.cost_per_day", 1, 2),
                           Parameter("services.self_harm.contacts_per_year", 0, 9)])


def test_calibrate_moves_towards_the_target_with_common_random_numbers():
    s = iomsim.load_scenario(CASE_PRIOR)
    t = TargetsFile(file="t.yaml", reps=10, seed=3, max_evaluations=6,
                    parameters=[Parameter("services.complex_needs_supported_housing.cost_per_day",
                                          20.0, 250.0, start=30.0)],
                    targets=[Target("total_agency_cost", "", "iom", 61000.0, 3050.0)])
    fit = calibrate(s, t)
    (target, value), = fit.rows
    path = "services.complex_needs_supported_housing.cost_per_day"
    start = measure(iomsim.run(iomsim.apply_overrides(s, {path: 30.0}), reps=10, seed=3), target)
    assert abs(value - 61000) < abs(start - 61000) / 2
    # the same point gives the same value again: evaluations share their random numbers
    again = iomsim.run(iomsim.apply_overrides(s, fit.parameters), reps=10, seed=3)
    assert measure(again, target) == pytest.approx(value, rel=1e-12)


def test_fitted_file_extends_the_scenario_and_loads(tmp_path):
    s = iomsim.load_scenario(CASE_PRIOR)
    t = TargetsFile(file="t.yaml", parameters=[], targets=[Target("metric", "x", "iom", 1, 1)])
    fit = Fit(parameters={"services.complex_needs_supported_housing.cost_per_day": 99.5,
                          "services.self_harm.contacts_per_year": 3.25},
              rows=[(t.targets[0], 1.0)], objective=0.0, evaluations=1)
    out = tmp_path / "sub" / "fitted.yaml"
    out.parent.mkdir()
    out.write_text(fitted_yaml(CASE_PRIOR, out, s, fit, t, "iomsim calibrate X --targets t.yaml"))
    fitted = iomsim.load_scenario(out)
    assert fitted.services["complex_needs_supported_housing"].cost_per_day == 99.5
    assert fitted.services["self_harm"].contacts_per_year == 3.25
    assert "calibrated" in fitted.meta.provenance["services.self_harm.contacts_per_year"]
    assert "price_year" in out.read_text()
    # its own name and description: reported as the scenario calibrated, not "based on" it
    assert fitted.name == f"{s.name} (calibrated)"
    assert fitted.description.startswith(" ".join(s.description.split()))
    assert "fitted to t.yaml" in fitted.description
    from iomsim.scenario.lineage import based_on

    lineage = based_on(fitted) or {}
    assert not lineage.get("name_inherited") and not lineage.get("description_inherited")


def test_cli_bad_targets_is_one_line_and_exit_2(tmp_path):
    bad = write(tmp_path, "parameters: {}\n")
    proc = subprocess.run([sys.executable, "-m", "iomsim.cli", "calibrate", str(CASE_PRIOR),
                           "--targets", str(bad)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "parameters" in problem_lines(proc.stderr)[0]  # one line per problem


def test_cli_registers_calibrate():
    import argparse

    from iomsim.cli.calibrate import register

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    register(sub)
    args = parser.parse_args(["calibrate", "s.yaml", "--targets", "t.yaml", "--reps", "3"])
    assert args.reps == 3 and args.out is None
