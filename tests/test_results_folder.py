"""The results folder's contract (iomsim.results_folder) is what a run writes, what the README
documents and what the readers accept."""

from __future__ import annotations

import re

import pandas as pd
import pytest

import iomsim
from iomsim import results_folder as rf
from iomsim.results import read_results
from tests.support import ROOT, load_minimal


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    results = iomsim.run(load_minimal(), reps=2, seed=3, jobs=1, progress=False)
    return results.write(tmp_path_factory.mktemp("contract") / "out")


def test_a_run_writes_exactly_the_files_and_columns_of_the_contract(folder):
    assert sorted(p.name for p in folder.iterdir()) == sorted(rf.RESULT_FILES)
    for table in rf.TABLES:
        frame = rf.read_table(folder, table)
        assert tuple(frame.columns) == table.columns, table.file
        assert set(table.required) <= set(table.columns)


def test_read_results_gives_each_table_under_its_name(folder):
    results = read_results(folder)
    for table in rf.TABLES:
        pd.testing.assert_frame_equal(getattr(results, table.name), rf.read_table(folder, table))
    assert results.manifest == rf.read_manifest(folder)


def test_the_readme_documents_the_same_files_and_columns():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Results directory", 1)[1].split("\n## ", 1)[0]
    documented = {m.group(1): tuple(c.strip() for c in m.group(2).split(","))
                  for m in re.finditer(r"^\| `([^`]+)` \| `([^`]+)` \|", section, re.M)}
    assert documented == {t.file: t.columns for t in rf.TABLES}
    assert f"`{rf.MANIFEST}`" in section
    assert f"`{rf.REPORT}`" in section and f"`{rf.WORKBOOK}`" in section


def test_a_reader_can_only_name_documented_columns():
    assert rf.COSTS.subset("arm", "cost") == ["arm", "cost"]
    with pytest.raises(ValueError, match="costs.parquet has no documented column"):
        rf.COSTS.subset("arm", "costs")
