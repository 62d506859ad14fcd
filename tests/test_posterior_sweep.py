"""A PSA over a calibration's posterior file (``posterior:`` in a sweep file): each sample takes
one accepted row whole, a file with no accepted row or a garbled one is refused in one line
(exit status 2), and the file's content is part of the sweep's hash."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from iomsim.experiments import run_sweep
from iomsim.experiments.designs import posterior_order
from iomsim.experiments.spec import load_sweep
from tests.support import MINIMAL, ROOT

OM = "iom.effects.offending_multiplier"
OGRS = "cohort.profile.ogrs.mean"
PRISON = "justice.prison_cost_per_day"

# As iomsim calibrate writes it (method: abc): parameters, simulated targets, then the flags.
POSTERIOR = f"""\
{OM},{OGRS},sim:reconviction_rate_24m [iom],selected,distance,accepted,chosen
0.55,0.52,0.31,8,0.9,True,False
0.95,0.70,0.48,8,7.5,False,False
0.70,0.58,0.35,8,0.4,True,True
0.30,0.40,0.20,3,inf,False,False
0.62,0.61,0.33,8,1.1,True,False
"""
ACCEPTED = {(0.55, 0.52), (0.70, 0.58), (0.62, 0.61)}

SWEEP = """\
scenario: minimal.yaml
overrides: {{cohort.size: 40, selection.cohort_size: 8, horizon_years: 1}}
design: psa
samples: {samples}
replications: 1
seed: 3
posterior: {posterior}
parameters:
  {prison}: {{distribution: gamma, mean: 92.5, sd: 10, price_year: "2013-14"}}
"""


def _folder(tmp_path: Path, posterior: str | bytes = POSTERIOR, samples: int = 5,
            name: str = "draws.posterior.csv") -> Path:
    shutil.copy(MINIMAL, tmp_path / "minimal.yaml")
    (tmp_path / name).write_bytes(posterior if isinstance(posterior, bytes)
                                  else posterior.encode("utf-8"))
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(SWEEP.format(samples=samples, posterior=name, prison=PRISON),
                     encoding="utf-8")
    return sweep


def _cli(sweep: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "iomsim.cli", "sweep", str(sweep), "--out",
                           str(out), "--jobs", "1", "--no-progress"], capture_output=True,
                          text=True, cwd=ROOT, timeout=300)


def test_every_sample_takes_an_accepted_row_whole(tmp_path):
    sweep = _folder(tmp_path)
    result = run_sweep(sweep, jobs=1, out=tmp_path / "out", progress=False)
    points = pd.read_csv(tmp_path / "out" / "points.csv")
    assert len(points) == 5
    pairs = set(zip(points[OM].round(6), points[OGRS].round(6)))
    assert pairs <= ACCEPTED  # the rows of accepted False are never taken, nor values mixed
    assert pairs == ACCEPTED  # 5 samples of 3 rows: every row before any row twice
    assert sorted(points["posterior_draw"].value_counts()) == [1, 2, 2]
    assert set(points["posterior_draw"]) == {0, 2, 4}  # the rows' numbers in the file
    # The sweep's own parameter is drawn as in any PSA, uprated from 2013-14 to 2011-12 prices.
    assert points[PRISON].nunique() == 5 and 60 < points[PRISON].mean() < 120
    # The simulation ran at those values: the tidy table carries them, point by point.
    table = result.table
    ran = table.groupby("point")[[OM, OGRS]].first().round(6)
    assert set(map(tuple, ran.to_numpy())) == ACCEPTED
    assert "psa_summary" in result.tables and len(result.tables["psa_samples"]) == 5


def test_the_accepted_rows_are_shuffled_with_the_seed_and_taken_in_turn():
    order = posterior_order(3, 7, seed=1)
    assert sorted(order[:3]) == [0, 1, 2] and sorted(order[3:6]) == [0, 1, 2]
    assert np.array_equal(order, posterior_order(3, 7, seed=1))
    assert len(set(posterior_order(60, 24, seed=2))) == 24  # fewer samples: no repeats
    assert any(not np.array_equal(posterior_order(10, 10, seed=s), posterior_order(10, 10, 1))
               for s in range(2, 6))


def test_the_posterior_may_be_all_a_psa_samples(tmp_path):
    sweep = _folder(tmp_path, samples=3)
    text = sweep.read_text().split("parameters:")[0]
    sweep.write_text(text, encoding="utf-8")
    spec = load_sweep(sweep)
    assert spec.parameters == [OM, OGRS]
    assert set(map(tuple, spec.design.points.round(6).to_numpy())) == ACCEPTED


def _refused(tmp_path: Path, posterior: str | bytes) -> str:
    sweep = _folder(tmp_path, posterior)
    proc = _cli(sweep, tmp_path / "out")
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: {sweep}:7: posterior: "), lines
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()
    return lines[0]


def test_a_posterior_with_no_accepted_row_is_refused(tmp_path):
    line = _refused(tmp_path, POSTERIOR.replace(",True,", ",False,"))
    assert "no accepted row (of 5 draws)" in line


@pytest.mark.parametrize("garbled,said", [
    (POSTERIOR.replace("0.70,0.58,0.35", '0.70,"0.58,0.35'), "not a readable CSV"),
    (POSTERIOR.replace("0.62,0.61,0.33,", "0.62,0.61,"), "line 6: 6 fields, the header has 7"),
    (POSTERIOR.replace("0.70,0.58", "0.70,abc"), f"line 4: {OGRS} is 'abc' in an accepted row"),
    (POSTERIOR.replace(",True,False\n0.95", ",yes,False\n0.95"), "accepted is 'yes'"),
    (POSTERIOR.replace(OGRS, "cohort.profile.ogrs.mena"), f"did you mean {OGRS!r}"),
    (POSTERIOR.replace(",accepted,", ",acepted,"), "no accepted column"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe garbage", "not UTF-8 text"),
    (POSTERIOR.replace("0.52,0.31", "0.52\x00,0.31"), "NUL"),
    ("", "is empty"),
])
def test_a_garbled_posterior_is_refused_in_one_line(tmp_path, garbled, said):
    assert said in _refused(tmp_path, garbled)


def test_a_posterior_outside_the_sweep_files_folders_is_refused_unread(tmp_path):
    inner = tmp_path / "a" / "b"
    inner.mkdir(parents=True)
    (tmp_path / "far.posterior.csv").write_text(POSTERIOR, encoding="utf-8")
    sweep = _folder(inner)
    sweep.write_text(sweep.read_text().replace("draws.posterior.csv", "../../far.posterior.csv"))
    proc = _cli(sweep, tmp_path / "out")
    assert proc.returncode == 2 and "is outside the sweep file's folder" in proc.stderr


def test_a_parameter_the_posterior_gives_is_not_drawn_again(tmp_path):
    sweep = _folder(tmp_path)
    sweep.write_text(sweep.read_text() + f"  {OM}: {{distribution: uniform, low: 0.5, high: 1}}\n")
    proc = _cli(sweep, tmp_path / "out")
    assert proc.returncode == 2
    assert f"sweep.yaml:10: parameters.{OM}: the posterior already gives" in proc.stderr


def test_changing_the_posterior_changes_the_sweep_hash(tmp_path):
    sweep = _folder(tmp_path)
    first = load_sweep(sweep).hash
    assert load_sweep(sweep).hash == first
    # One accepted value changed by a rounding the eye would miss.
    (tmp_path / "draws.posterior.csv").write_text(POSTERIOR.replace("0.62,0.61", "0.62,0.6100001"))
    assert load_sweep(sweep).hash != first
    # A rejected row's change alters no point, but it is another calibration: another sweep.
    (tmp_path / "draws.posterior.csv").write_text(POSTERIOR.replace("0.95,0.70", "0.96,0.70"))
    assert load_sweep(sweep).hash != first
    # The same content under another name and folder is the same sweep.
    other = tmp_path / "moved"
    other.mkdir()
    moved = _folder(other, name="renamed.posterior.csv")
    assert load_sweep(moved).hash == first


def test_a_sweep_folder_is_not_resumed_with_another_posterior(tmp_path):
    sweep = _folder(tmp_path, samples=2)
    out = tmp_path / "out"
    assert _cli(sweep, out).returncode == 0
    (tmp_path / "draws.posterior.csv").write_text(POSTERIOR.replace("0.55,0.52", "0.56,0.52"))
    proc = _cli(sweep, out)
    assert proc.returncode == 2 and "different sweep" in proc.stderr
