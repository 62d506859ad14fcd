"""decomposition.csv: what the before/after change in the 24-month reconviction measures is
made of (iomsim.decomposition), in the results folder, the Python API, the report and the
terminal summary."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

import iomsim
from iomsim import decomposition as decomp
from iomsim import results_folder as rf
from tests.support import ROOT, load_minimal

SUSSEX = ROOT / "scenarios" / "sussex-2013.yaml"
SMALL = {"cohort.size": 400, "selection.cohort_size": 60, "horizon_years": 2}
# IOM that does nothing: no effect on offending, detection, recall or needs.
NEUTRAL = {"iom.effects.offending_multiplier": 1.0, "iom.effects.offending_multiplier_cv": 0.0,
           "iom.enforcement.detection_multiplier": 1.0, "iom.enforcement.recall_multiplier": 1.0,
           "iom.pathway_referrals.need_resolution_multiplier": 1.0}


def _run(overrides=None, reps=4):
    scenario = iomsim.load_scenario(SUSSEX, overrides={**SMALL, **(overrides or {})})
    return iomsim.run(scenario, reps=reps, seed=5, jobs=1, progress=False,
                      keep_replications=True)


@pytest.fixture(scope="module")
def results():
    return _run()




def test_the_custody_term_is_zero_when_custody_days_are_equal_before_and_after():
    assert decomp.custody_term(0.45, 120.0, 120.0) == 0.0
    assert decomp.custody_term(1.3, 0.0, 0.0) == 0.0
    # Less time at liberty after day 0 lowers what the before figure would show, pro rata.
    w = decomp.WINDOW_DAYS
    assert decomp.custody_term(0.5, 100.0, 200.0) == pytest.approx(
        0.5 * ((w - 200.0) / (w - 100.0) - 1))
    assert math.isnan(decomp.custody_term(0.5, w, 0.0))  # no time at liberty before


def test_the_custody_term_of_a_share_is_a_constant_hazard_over_the_time_at_liberty():
    """Half reconvicted over L: with twice L, a constant hazard reconvicts 1 - 0.5 ** 2 = 75%;
    with a quarter of it, 1 - 0.5 ** 0.25. The share never passes 1, however long the time."""
    w = decomp.WINDOW_DAYS
    half = w / 2
    assert decomp.custody_term(0.5, half, 0.0, share=True) == pytest.approx(0.75 - 0.5)
    assert decomp.custody_term(0.5, 0.0, w - w / 4, share=True) == pytest.approx(
        1 - 0.5 ** 0.25 - 0.5)
    assert decomp.custody_term(0.5, 120.0, 120.0, share=True) == 0.0
    assert 0.9 + decomp.custody_term(0.9, w - 1.0, 0.0, share=True) <= 1.0


def test_the_components_of_the_pure_function_sum_to_the_observed_change():
    rows = decomp.decompose(before=0.45, after_non_iom=0.38, after_iom=0.19,
                            custody_days_before=150.0, custody_days_after=90.0)
    assert list(rows) == list(decomp.ROWS)
    assert rows["observed_change"] == pytest.approx(0.19 - 0.45)
    assert rows["iom_effect"] == pytest.approx(0.19 - 0.38)
    assert sum(rows[c] for c in decomp.COMPONENTS) == pytest.approx(rows["observed_change"],
                                                                    abs=1e-15)


def test_components_sum_to_the_observed_change_in_every_replication(results):
    for rep in results.replications:
        assert decomp.CUSTODY_BEFORE in rep.metrics["iom"], "the engines give custody days"
        for measure, rows in decomp.decompose_replication(rep.metrics).items():
            assert all(not math.isnan(rows[c]) for c in decomp.ROWS), (measure, rows)
            assert rows["before"] == rep.metrics["iom"][f"{measure}_before"]
            assert rows["after_iom"] == rep.metrics["iom"][measure]
            assert rows["after_non_iom"] == rep.metrics["non_iom"][measure]
            total = sum(rows[c] for c in decomp.COMPONENTS)
            assert total == pytest.approx(rows["observed_change"], rel=1e-12, abs=1e-12)
    # And the means of the table.
    d = results.decomposition.set_index(["measure", "component"])["mean"]
    for measure in decomp.MEASURES:
        assert sum(d[(measure, c)] for c in decomp.COMPONENTS) == pytest.approx(
            d[(measure, "observed_change")], abs=1e-12)


def test_decomposition_csv_is_written_with_the_documented_columns(results, tmp_path):
    out = results.write(tmp_path / "out")
    assert (out / rf.DECOMPOSITION.file).is_file()
    written = pd.read_csv(out / rf.DECOMPOSITION.file)
    assert tuple(written.columns) == rf.DECOMPOSITION.columns
    assert list(written["measure"]) == [m for m in decomp.MEASURES for _ in decomp.ROWS]
    assert list(written["component"]) == list(decomp.ROWS) * len(decomp.MEASURES)
    assert (written["replications"] <= 4).all()
    levels = written["component"].isin(decomp.LEVELS)
    assert written.loc[levels, "share_of_observed_change"].isna().all()
    observed = written[written["component"] == "observed_change"]
    assert (observed["share_of_observed_change"] == 1.0).all()
    # The intervals are those of the other tables (the mean's 95% t-interval).
    from iomsim.results import summarise

    rep_values = [r.metrics["iom"]["reconviction_rate_24m_before"] for r in results.replications]
    s = summarise(rep_values)
    row = written[(written["measure"] == "reconviction_rate_24m")
                  & (written["component"] == "before")].iloc[0]
    assert (row["mean"], row["lower"], row["upper"]) == pytest.approx(
        (s["value"], s["lo"], s["hi"]), abs=1e-6)
    back = iomsim.read_results(out)
    pd.testing.assert_frame_equal(back.decomposition, written)


def test_the_iom_effect_interval_covers_zero_when_iom_does_nothing():
    d = _run(NEUTRAL, reps=5).decomposition
    row = d[(d["measure"] == "reconviction_rate_24m") & (d["component"] == "iom_effect")].iloc[0]
    assert row["lower"] <= 0.0 <= row["upper"]
    assert row["mean"] == pytest.approx(0.0, abs=0.05)


def test_no_decomposition_without_24_months_on_each_side_of_day_0(tmp_path):
    results = iomsim.run(load_minimal({"cohort.size": 30}), reps=1, seed=1, jobs=1,
                         progress=False)  # no pre-period
    assert results.decomposition is None
    assert "decomposition_not_written" in results.manifest
    out = results.write(tmp_path / "out")
    assert not (out / rf.DECOMPOSITION.file).exists()
    assert iomsim.read_results(out).decomposition is None
    assert decomp.applies(24, 2) and not decomp.applies(23, 5) and not decomp.applies(24, 1.9)


def test_the_summary_and_the_report_show_the_components(results, tmp_path):
    from iomsim.cli.run import summary_text
    from iomsim.reporting.report import write_report

    text = summary_text(results, Path("out"))
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if "reconvicted in 24 months after" in line)
    assert "change on before, with IOM" in lines[at + 1]
    for words, line in zip(("regression to the mean and ageing", "custody", "IOM"),
                           lines[at + 2:at + 5]):
        assert line.strip().startswith(words) and "pts" in line and " to " in line, line
    out = results.write(tmp_path / "out")
    html = write_report(out).read_text(encoding="utf-8")
    assert "What the before/after change in reconviction is made of" in html
    assert "… of which regression to the mean and ageing" in html
    assert (out / rf.CHARTS["decomposition"]).is_file()
    from openpyxl import load_workbook

    assert "decomposition" in load_workbook(out / rf.WORKBOOK, read_only=True).sheetnames


def test_plot_decomposition_takes_the_frame_and_returns_the_axes(results):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from iomsim.reporting.plots import plot_decomposition

    ax = Figure().subplots()
    assert plot_decomposition(results.decomposition, ax=ax) is ax
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[0].startswith("Observed change") and labels[-1].startswith("IOM")
    # A component that is not available is said to be, not drawn as a zero.
    missing = results.decomposition.assign(mean=float("nan"), lower=float("nan"),
                                           upper=float("nan"))
    ax = plot_decomposition(missing, measure="convictions_per_offender_24m")
    assert sum(t.get_text().strip() == "not available" for t in ax.texts) == 4


def test_a_cohort_all_reconvicted_before_says_why_custody_is_not_split_out():
    """With everyone reconvicted in the 24 months before day 0 (the national example selects
    only offenders with a conviction then) no constant hazard is implied, so the custody term
    of the share, and regression to the mean beside it, are undefined: the summary and the
    report say why instead of showing a bare dash. The counts per offender still split."""
    from types import SimpleNamespace

    from iomsim.cli.run import decomposition_lines
    from iomsim.reporting.decomposition import decomposition_rows
    from iomsim.results import decomposition_table

    w = decomp.WINDOW_DAYS
    assert math.isnan(decomp.custody_term(1.0, 100.0, 200.0, share=True))
    assert decomp.why_undefined("reconviction_rate_24m", 1.0) == (
        "n/a: everyone was reconvicted before day 0")
    assert decomp.why_undefined("convictions_per_offender_24m", 2.0) == (
        "n/a: no time at liberty before day 0")
    metrics = {arm: {"reconviction_rate_24m_before": 1.0, "reconviction_rate_24m": after,
                     "convictions_per_offender_24m_before": 3.8,
                     "convictions_per_offender_24m": 1.1,
                     decomp.CUSTODY_BEFORE: 100.0, decomp.CUSTODY_AFTER: w / 4}
               for arm, after in (("non_iom", 0.39), ("iom", 0.38))}
    reps = [SimpleNamespace(metrics=metrics)] * 3
    table = decomposition_table(reps)
    lines = decomposition_lines(SimpleNamespace(decomposition=table))
    by_words = {words: line for line in lines
                for words in ("regression to the mean", "custody", "IOM") if words in line}
    assert by_words["custody"].strip().endswith("n/a: everyone was reconvicted before day 0")
    assert "n/a: everyone was reconvicted" in by_words["regression to the mean"]
    assert "pts" in by_words["IOM"]
    rows = {r["label"]: r for r in decomposition_rows(table)}
    custody = rows["… of which custody (time at liberty)"]
    assert custody["rate"] == "n/a: everyone was reconvicted before day 0"
    assert custody["convictions"].startswith("−")  # less time at liberty after: fewer
