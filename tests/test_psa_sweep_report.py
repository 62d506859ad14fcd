"""``iomsim sweep`` of a PSA whose scenario carries uncertainty: the terminal gives P(benefit >
cost) on each benefit measure and where the uncertainty came from; the sweep folder holds
acceptability_by_measure.csv and report.html (rewritten by ``iomsim report SWEEP_FOLDER``)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from iomsim.economics import PERSPECTIVES
from tests.support import ROOT

# The shipped Sussex scenario: its library values carry uncertainty: (iom-sussex.yaml).
SWEEP = """\
scenario: sussex-2013
overrides: {cohort.size: 200, selection.cohort_size: 48, horizon_years: 5}
design: psa
samples: 4
replications: 1
seed: 3
parameters:
  scale.agency_costs.prison: {distribution: gamma, mean: 1.0, sd: 0.1, assumption: test}
"""
LEAF = "iom.offender_managers.probation.annual_cost"


def _iomsim(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run([sys.executable, "-m", "iomsim.cli", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=600, env=env)


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    folder = tmp_path_factory.mktemp("psa")
    (folder / "psa.yaml").write_text(SWEEP)
    proc = _iomsim("sweep", "psa.yaml", "--out", "out", "--jobs", "1", "--no-progress",
                   cwd=folder)
    assert proc.returncode == 0, proc.stderr
    return folder, proc


def test_the_terminal_gives_p_benefit_above_cost_by_measure(swept):
    _, proc = swept
    out = proc.stdout
    assert re.search(r"PSA: 4 samples x 1 replications; uncertainty from \d+ scenario values "
                     r"with an uncertainty:, 1 sweep parameter", out), out
    assert "P(benefit > cost), by measure" in out
    for words in ("as the evaluation counted it", "to the taxpayer ", "to the taxpayer, "
                  "cashable", "to society"):
        line = next(x for x in out.splitlines() if x.strip().startswith(words.strip())
                    and "P(> 1) = " in x)
        assert "±" in line
    assert "report.html" in out


def test_the_folder_holds_the_curves_and_the_report(swept):
    folder, _ = swept
    out = folder / "out"
    curve = pd.read_csv(out / "acceptability_by_measure.csv")
    assert list(dict.fromkeys(curve["perspective"])) == list(PERSPECTIVES)
    manifest = json.loads((out / "sweep.json").read_text())
    where = manifest["scenario_uncertainty"][LEAF]
    assert re.fullmatch(r"iom-sussex\.yaml:\d+", where)
    page = (out / "report.html").read_text()
    assert "P(benefit &gt; cost)" in page and LEAF in page and where in page
    assert "<code>scale.agency_costs.prison</code>" in page
    assert page.count("data:image/png;base64,") == 2
    (out / "report.html").unlink()
    proc = _iomsim("report", "out", cwd=folder)
    assert proc.returncode == 0, proc.stderr
    assert (out / "report.html").read_text() == page
