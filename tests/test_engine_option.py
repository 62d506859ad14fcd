"""Choosing the engine: ``iomsim run --engine``, ``iomsim.run(engine=)`` and a sweep's ``engine:``.

Without capacity-limited services the compiled engine reproduces the simpy engine's event
histories (tests/test_compiled_engine.py), so the tables a user sees must agree too; the engine
is recorded in the manifest and in the sweep's hash, so results from the two are never mixed.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import iomsim
from iomsim.cli import main
from iomsim.experiments.spec import load_sweep
from tests.support import MINIMAL, ROOT, load_minimal

pytest.importorskip("numba")


def test_run_tables_agree_between_engines():
    scenario = load_minimal()
    a = iomsim.run(scenario, reps=3, seed=5, engine="simpy")
    b = iomsim.run(scenario, reps=3, seed=5, engine="compiled")
    assert a.manifest["engine"] == "simpy" and b.manifest["engine"] == "compiled"
    for name in ("outcomes", "costs_by_agency", "economics", "survival"):
        ta, tb = getattr(a, name), getattr(b, name)
        assert list(ta.columns) == list(tb.columns)
        numeric = ta.select_dtypes("number").columns
        np.testing.assert_allclose(tb[numeric].to_numpy(float), ta[numeric].to_numpy(float),
                                   rtol=1e-9, atol=1e-9, err_msg=name)
        other = [c for c in ta.columns if c not in numeric]
        assert ta[other].equals(tb[other]), name


def test_unknown_engine_is_refused():
    with pytest.raises(ValueError, match="unknown engine 'numpy'"):
        iomsim.run(load_minimal(), reps=1, engine="numpy")


def test_cli_run_records_the_engine(tmp_path, capsys):
    out = tmp_path / "res"
    for engine in ("simpy", "compiled"):
        code = main(["run", str(MINIMAL), "--reps", "2", "--jobs", "1", "--engine", engine,
                     "--out", str(out), "--no-progress", "--force"])
        assert code == 0
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["engine"] == engine


def _sweep_spec(tmp_path, engine_line: str):
    path = tmp_path / "sweep.yaml"
    path.write_text(f"""scenario: {MINIMAL}
design: grid
replications: 2
seed: 3
{engine_line}
parameters:
  iom.effects.offending_multiplier: {{levels: [0.5, 1.0]}}
""")
    return path


def test_sweep_engine_key_chooses_the_engine_and_changes_the_hash(tmp_path, monkeypatch):
    monkeypatch.setenv("IOMSIM_EXTENDS_PATH", str(MINIMAL.parent))  # the sweep names tests/'s
    default_spec = load_sweep(_sweep_spec(tmp_path, ""))
    simpy_spec = load_sweep(_sweep_spec(tmp_path, "engine: simpy"))
    assert (default_spec.engine, simpy_spec.engine) == ("compiled", "simpy")
    assert default_spec.hash != simpy_spec.hash
    # writing the default engine out is the same sweep
    assert load_sweep(_sweep_spec(tmp_path, "engine: compiled")).hash == default_spec.hash
    a = iomsim.sweep(simpy_spec, jobs=1, progress=False)
    b = iomsim.sweep(default_spec, jobs=1, progress=False)
    assert len(a) == len(b) > 0
    np.testing.assert_allclose(b["value"].to_numpy(float), a["value"].to_numpy(float),
                               rtol=1e-9, atol=1e-9)


def test_the_fast_engine_is_the_default_everywhere():
    import inspect

    from iomsim.calibration import calibrate
    from iomsim.cli import build_parser
    from iomsim.engine import simulate_replication
    from iomsim.experiments.breakeven import breakeven, breakeven_cost

    for function in (iomsim.run, simulate_replication, calibrate, breakeven, breakeven_cost):
        assert inspect.signature(function).parameters["engine"].default == "compiled", function
    parser = build_parser()
    for command in (["run", "s.yaml"], ["breakeven", "s.yaml"],
                    ["calibrate", "s.yaml", "--targets", "t.yaml"]):
        assert parser.parse_args(command).engine == "compiled", command
        assert parser.parse_args([*command, "--engine", "simpy"]).engine == "simpy", command


def test_sweep_unknown_engine_names_file_line_and_key(tmp_path):
    path = _sweep_spec(tmp_path, "engine: fast")
    with pytest.raises(iomsim.InputError) as info:
        load_sweep(path)
    text = str(info.value)
    assert "sweep.yaml:5" in text and "engine" in text and "'fast'" in text


def _too_many_services(tmp_path):
    """The minimal scenario with 64 services: one more than the compiled engine's masks hold."""
    path = tmp_path / "many-services.yaml"
    services = "".join(f"  s{i}: {{agency: nhs, cost_per_day: 1.0}}\n" for i in range(64))
    path.write_text(MINIMAL.read_text() + "services:\n" + services)
    return path


def test_cli_refuses_what_the_compiled_engine_lacks_before_running(tmp_path, capsys):
    """One line naming the scenario file, line and key, exit status 2, nothing written, and
    no worker started (it used to be a traceback from inside the pool)."""
    out = tmp_path / "res"
    code = main(["run", str(_too_many_services(tmp_path)), "--engine", "compiled",
                 "--reps", "2", "--jobs", "2", "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1
    assert "many-services.yaml:" in err and "more than 63 services" in err
    assert not out.exists()


def test_sweep_refuses_a_scenario_the_compiled_engine_lacks(tmp_path):
    path = tmp_path / "sweep.yaml"
    path.write_text(f"""scenario: {_too_many_services(tmp_path)}
design: grid
replications: 1
engine: compiled
parameters:
  iom.effects.offending_multiplier: {{levels: [0.5, 1.0]}}
""")
    with pytest.raises(iomsim.InputError) as info:
        load_sweep(path)
    assert "sweep.yaml:4" in str(info.value) and "more than 63 services" in str(info.value)


@pytest.mark.parametrize("path", sorted((ROOT / "scenarios").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_scenario_gives_the_same_tables_on_both_engines(path):
    """Each scenario directly in scenarios/, its capacities and cohort records included."""
    scenario = iomsim.load_scenario(path)
    a = iomsim.run(scenario, reps=2, seed=7, jobs=1, progress=False, engine="simpy")
    b = iomsim.run(scenario, reps=2, seed=7, jobs=1, progress=False, engine="compiled")
    for name in ("outcomes", "costs_by_agency", "economics", "survival", "population"):
        ta, tb = getattr(a, name), getattr(b, name)
        assert list(ta.columns) == list(tb.columns), name
        numeric = ta.select_dtypes("number").columns
        np.testing.assert_allclose(tb[numeric].to_numpy(float), ta[numeric].to_numpy(float),
                                   rtol=1e-9, atol=0.0, err_msg=name)
        other = [c for c in ta.columns if c not in numeric]
        assert ta[other].equals(tb[other]), name
