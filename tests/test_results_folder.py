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
    assert documented == {t.file: t.columns for t in (*rf.TABLES, *rf.OPTIONAL_TABLES)}
    assert f"`{rf.MANIFEST}`" in section
    assert f"`{rf.REPORT}`" in section and f"`{rf.WORKBOOK}`" in section


def test_a_reader_can_only_name_documented_columns():
    assert rf.COSTS.subset("arm", "cost") == ["arm", "cost"]
    with pytest.raises(ValueError, match="costs.parquet has no documented column"):
        rf.COSTS.subset("arm", "costs")


def _decimals(cell: str) -> int:
    return len(cell.split(".", 1)[1]) if "." in cell else 0


def _csv_cells(path):
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def test_money_is_written_to_the_penny_and_rates_keep_their_precision(folder):
    cba = _csv_cells(folder / rf.COSTS_BY_AGENCY.file)
    assert rf.COSTS_BY_AGENCY.money  # the contract names the money columns
    for col in rf.COSTS_BY_AGENCY.money:
        cells = [c for c in cba[col] if c]
        assert cells and all(_decimals(c) <= 2 for c in cells), (col, cells[:3])
        assert not any(c.startswith("-0.00") and float(c) == 0 for c in cells)
    assert all(_decimals(c) == 6 for c in cba["share"] if c)  # a share is not money
    econ = _csv_cells(folder / rf.ECONOMICS.file).set_index("metric")
    for metric in ("iom_cost", "benefit", "npv", "net_change_police", "iom_cost_per_offender"):
        assert rf.is_money_metric(metric)
        assert all(_decimals(c) <= 2 for c in econ.loc[metric] if c), metric
    for metric in ("benefit_per_pound", "benefit_per_pound_exceeds_one_share"):
        assert not rf.is_money_metric(metric)
        assert all(_decimals(c) == 6 for c in econ.loc[metric] if c), metric
    outcomes = _csv_cells(folder / rf.OUTCOMES.file)
    assert all(_decimals(c) == 6 for c in outcomes["value"] if c)  # rates keep their digits
    costs = rf.read_table(folder, rf.COSTS)
    for col in rf.COSTS.money:
        assert (costs[col] - costs[col].round(2)).abs().max() < 1e-9


def test_money_rounding_never_writes_minus_zero(tmp_path):
    frame = pd.DataFrame({"metric": ["npv", "benefit_per_pound"], "value": [-0.004, -1e-9],
                          "lo": [float("nan"), 1.0], "hi": [1.005, 2.0], "p025": [0.0, 0.0],
                          "p975": [2.499, 3.0]})
    rf.write_csv(frame, tmp_path / "e.csv", rf.ECONOMICS)
    lines = (tmp_path / "e.csv").read_text().splitlines()
    assert lines[1].startswith("npv,0.00,,")
    assert lines[2] == "benefit_per_pound,0.000000,1.000000,2.000000,0.000000,3.000000"
