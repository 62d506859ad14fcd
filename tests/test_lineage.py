"""A scenario that extends another without a name or description of its own is reported as
"<file>, based on <parent name>", never under the parent's title and description."""

from __future__ import annotations

import html
import re
import subprocess
import sys

import iomsim
from iomsim.scenario.lineage import based_on, title
from tests.support import ROOT

PARENT = (ROOT / "scenarios" / "sussex-2013-uncalibrated.yaml").as_posix()
PARENT_NAME = "Sussex IOM 2013 reconviction cohort"
SMALL = "cohort: {size: 300}\nselection: {cohort_size: 40}\nhorizon_years: 1\n"


def child(tmp_path, extra: str = "", name: str = "my-variant.yaml"):
    path = tmp_path / name
    path.write_text(f"extends: [{PARENT}]\n{SMALL}{extra}", encoding="utf-8")
    return path


def test_inherited_name_and_description_are_reported_as_based_on(tmp_path):
    path = child(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "iomsim.cli", "run", str(path), "--reps", "2",
                           "--jobs", "1", "--out", str(tmp_path / "out"), "--report"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"my-variant, based on {PARENT_NAME}: 2 replications")
    page = html.unescape((tmp_path / "out" / "report.html").read_text(encoding="utf-8"))
    assert re.search(rf"<h1>my-variant, based on {PARENT_NAME}</h1>", page)
    assert "Based on Sussex IOM 2013 reconviction cohort (sussex-2013-uncalibrated.yaml)" in page
    # The parent's own description is not repeated as if it described this scenario.
    parent = iomsim.load_scenario(PARENT)
    assert " ".join(parent.description.split()) not in page


def test_own_name_is_kept_and_an_inherited_description_names_the_parent(tmp_path):
    s = iomsim.load_scenario(child(tmp_path, "name: Brighton variant\n"))
    lineage = based_on(s)
    assert lineage == {"name": PARENT_NAME, "file": PARENT, "name_inherited": False,
                       "description_inherited": True}
    assert title(s.name, s.meta.file, lineage) == "Brighton variant"


def test_own_name_and_description_are_not_based_on_anything(tmp_path):
    s = iomsim.load_scenario(child(tmp_path, "name: Brighton\ndescription: Our own words.\n"))
    assert based_on(s) is None
    assert based_on(iomsim.load_scenario(PARENT)) is None
    # A name given as an override is the user's own too.
    s = iomsim.load_scenario(child(tmp_path), overrides={"name": "Set here",
                                                         "description": "Also here"})
    assert based_on(s) is None
