"""Every chart renders to PNG from the documented tables, with its title, units and agencies."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402

import iomsim  # noqa: E402
from iomsim.reporting import plots  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# Written out here rather than read from the module, so a renamed agency shows up as a failure.
AGENCY_NAMES = {"police": "Police", "probation": "Probation", "prison": "Prison",
                "courts": "Courts", "housing": "Housing", "nhs": "NHS",
                "drug_alcohol_treatment": "Drug and alcohol treatment",
                "local_authority": "Local authority", "vcs": "Voluntary sector",
                "victims": "Victims and society"}


@pytest.fixture(scope="session")
def run_tables(tmp_path_factory):
    """A tiny real run, written and read back as a results folder."""
    scenario = iomsim.load_scenario(ROOT / "scenarios" / "sussex-2013.yaml",
                                    overrides={"cohort.size": 300, "selection.cohort_size": 40,
                                               "horizon_years": 2})
    results = iomsim.run(scenario, reps=2, seed=1, jobs=1)
    folder = results.write(tmp_path_factory.mktemp("plots") / "run")
    return iomsim.read_results(folder)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _png(ax: Axes, tmp_path: Path, name: str) -> bytes:
    path = tmp_path / f"{name}.png"
    ax.figure.savefig(path, dpi=60)
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 2000
    return data


def _texts(ax: Axes) -> list[str]:
    """All the text a reader sees on an axes: ticks, labels, annotations and the legend."""
    out = [t.get_text() for t in ax.texts]
    out += [t.get_text() for t in ax.get_xticklabels() + ax.get_yticklabels()]
    legend = ax.get_legend()
    if legend is not None:
        out += [t.get_text() for t in legend.get_texts()]
    return out


# --- charts of a run -------------------------------------------------------------------------


def test_agency_shares_stacks_every_agency_except_victims(run_tables, tmp_path):
    cba = run_tables.costs_by_agency
    ax = plots.plot_agency_shares(cba)
    assert isinstance(ax, Axes)
    _png(ax, tmp_path, "shares")
    assert "share" in ax.get_title().lower()
    assert "%" in ax.get_ylabel()
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    paying = set(cba.loc[(cba["cost"] > 0) & (cba["agency"] != "victims"), "agency"])
    for agency in paying:
        assert AGENCY_NAMES[agency] in legend
    assert "Victims and society" not in legend
    # each arm's stack is its shares, which sum to one over the agencies
    tops = {}
    for patch in ax.patches:
        x = round(patch.get_x() + patch.get_width() / 2, 6)
        tops[x] = max(tops.get(x, 0), patch.get_y() + patch.get_height())
    assert sorted(tops.values()) == pytest.approx([1.0, 1.0], abs=1e-5)  # CSV: 6 places
    assert [t.get_text() for t in ax.get_xticklabels()] == ["Without IOM", "With IOM"]


def test_agency_shares_totals_have_thousands_separators(tmp_path):
    cba = pd.DataFrame({"arm": ["non_iom", "non_iom", "iom", "iom", "non_iom", "iom"],
                        "agency": ["police", "housing", "police", "housing", "victims", "victims"],
                        "cost": [1_000_000.0, 3_000_000.0, 2_000_000.0, 2_000_000.0, 9e6, 8e6],
                        "share": [0.25, 0.75, 0.5, 0.5, np.nan, np.nan]})
    ax = plots.plot_agency_shares(cba)
    _png(ax, tmp_path, "shares_small")
    texts = _texts(ax)
    assert "total £4,000,000" in texts  # both arms total £4m of agency costs, victims excluded
    assert "75%" in texts and "25%" in texts and texts.count("50%") == 2


def test_offender_breakdown_shows_pounds_and_percent(tmp_path):
    # The published Sussex case study: about £61,000, housing 55%, prison 17%.
    cba = pd.DataFrame({"arm": "non_iom",
                        "agency": ["housing", "prison", "nhs", "police", "probation", "victims"],
                        "cost": [33_550.0, 10_370.0, 6_100.0, 4_880.0, 6_100.0, 50_000.0]})
    cba["discounted_cost"] = cba["cost"]
    ax = plots.plot_offender_breakdown(cba, arm="non_iom", per=1)
    _png(ax, tmp_path, "breakdown")
    texts = _texts(ax)
    assert "£33,550 (55%)" in texts
    assert "£10,370 (17%)" in texts
    assert "£61,000" in ax.get_title()  # victims are not an agency cost
    assert "Victims and society" not in texts
    assert "£" in ax.get_xlabel()
    for name in ("Housing", "Prison", "NHS", "Police", "Probation"):
        assert name in texts


def test_offender_breakdown_divides_by_offender_years(run_tables, tmp_path):
    cba = run_tables.costs_by_agency
    ax = plots.plot_offender_breakdown(cba, arm="iom", per=40 * 2)
    _png(ax, tmp_path, "breakdown_run")
    widths = {t.get_text(): p.get_width() for t, p in zip(ax.get_yticklabels(), ax.patches)}
    police = float(cba[(cba["arm"] == "iom") & (cba["agency"] == "police")]["cost"].iloc[0])
    assert widths["Police"] == pytest.approx(police / 80)
    with pytest.raises(ValueError):
        plots.plot_offender_breakdown(cba, per=0)


def test_cumulative_cost_by_year_and_arm(run_tables, tmp_path):
    costs = run_tables.costs
    ax = plots.plot_cumulative_cost(costs)
    _png(ax, tmp_path, "cumulative")
    assert "£" in ax.get_ylabel() and "year" in ax.get_xlabel().lower()
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == ["Without IOM, undiscounted", "Without IOM, discounted",
                      "With IOM, undiscounted", "With IOM, discounted"]
    # The last point of each line is the mean over replications of the horizon total.
    agency = costs[costs["agency"] != "victims"]
    for line in ax.get_lines():
        arm = "non_iom" if line.get_label().startswith("Without") else "iom"
        col = "cost" if line.get_label().endswith("undiscounted") else "discounted_cost"
        expected = agency[agency["arm"] == arm].groupby("replication")[col].sum().mean()
        assert line.get_ydata()[-1] == pytest.approx(expected)
        assert line.get_ydata()[0] == 0
    tick = ax.yaxis.get_major_formatter()(1_234_567, 0)
    assert tick == "£1,234,567"


def test_who_pays_labels_payers_and_savers(run_tables, tmp_path):
    econ = run_tables.economics
    ax = plots.plot_who_pays(econ)
    _png(ax, tmp_path, "who_pays")
    texts = _texts(ax)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("pays more" in t for t in legend) and any("saves" in t for t in legend)
    net = econ[econ["metric"].str.startswith("net_change_")
               & ~econ["metric"].str.endswith("_undiscounted")]
    for metric in net["metric"]:
        assert AGENCY_NAMES[metric.removeprefix("net_change_")] in texts
    assert "Victims and society" in texts
    assert "£" in ax.get_xlabel()


def test_who_pays_colours_by_sign_and_cuts_an_outsized_bar(tmp_path):
    econ = pd.DataFrame({"metric": ["net_change_police", "net_change_prison",
                                    "net_change_victims", "net_change_police_undiscounted"],
                         "value": [30_000.0, -50_000.0, -2_000_000.0, 1.0]})
    ax = plots.plot_who_pays(econ)
    _png(ax, tmp_path, "who_pays_small")
    names = [t.get_text() for t in ax.get_yticklabels()]
    assert names == ["Victims and society", "Prison", "Police"]  # police at the top
    colours = {n: p.get_facecolor()[:3] for n, p in zip(names, ax.patches)}
    assert colours["Police"] != colours["Prison"]
    assert colours["Prison"] == colours["Victims and society"]
    texts = _texts(ax)
    assert "£30,000" in texts and "−£50,000" in texts
    assert any(t.startswith("−£2,000,000") and "cut" in t for t in texts)
    assert ax.get_xlim()[1] < 2_000_000  # the agencies stay readable


def test_survival_and_reductions(run_tables, tmp_path):
    ax = plots.plot_survival(run_tables.survival)
    _png(ax, tmp_path, "survival")
    assert "reconviction" in ax.get_title().lower()
    assert "month" in ax.get_xlabel().lower() and "%" in ax.get_ylabel()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Without IOM", "With IOM"]

    ax = plots.plot_reconviction_reductions(run_tables.outcomes)
    _png(ax, tmp_path, "reductions")
    texts = " ".join(_texts(ax))
    assert "Before/after" in texts and "Counterfactual" in texts
    assert "%" in ax.get_ylabel()


def test_reductions_report_before_after_and_counterfactual(tmp_path):
    # Sussex: 45% before, 19% after with IOM; suppose 30% after without IOM.
    outcomes = pd.DataFrame({
        "arm": ["iom", "iom", "non_iom", "non_iom", "iom_minus_non_iom"],
        "metric": ["reconviction_rate_24m_before", "reconviction_rate_24m",
                   "reconviction_rate_24m_before", "reconviction_rate_24m",
                   "reconviction_rate_24m"],
        "value": [0.45, 0.19, 0.45, 0.30, -0.11]})
    ax = plots.plot_reconviction_reductions(outcomes)
    _png(ax, tmp_path, "reductions_known")
    texts = _texts(ax)
    heights = [round(p.get_height(), 6) for p in ax.patches]
    assert heights == [0.45, 0.19, 0.30, 0.19]
    # (0.19 / 0.45 - 1) = -57.8%; counterfactual -11 points, 0.19 / 0.30 - 1 = -36.7%
    assert any("−58%" in t for t in texts)
    assert any("−11.0 points" in t and "−37%" in t for t in texts)


# --- charts of sweeps (frames agreed with iomsim.experiments) --------------------------------


def test_tornado_orders_by_swing(tmp_path):
    df = pd.DataFrame({"parameter": ["discount_rate", "iom.effects.offending_multiplier",
                                     "offending.release_multiplier"],
                       "low_value": [0.0, 0.2, 1.0], "high_value": [0.06, 0.6, 2.0],
                       "measure_low": [1.70, 2.10, 1.50], "measure_high": [1.45, 0.90, 1.65],
                       "base": 1.59})
    ax = plots.plot_tornado(df)
    _png(ax, tmp_path, "tornado")
    labels = [t.get_text().split("\n")[0] for t in ax.get_yticklabels()]
    # widest swing (offending multiplier, 1.20) at the top, i.e. the last tick
    assert labels == ["offending.release_multiplier", "discount_rate",
                      "iom.effects.offending_multiplier"]
    assert "£1.59" in ax.get_xlabel()
    assert any(line.get_xdata()[0] == 1.59 for line in ax.get_lines())
    texts = _texts(ax)
    assert "£0.90" in texts and "£2.10" in texts
    assert "One-way" in ax.get_title()


def test_psa_distribution_shows_probability_above_one(tmp_path):
    values = np.array([0.5, 0.8, 1.2, 1.5, 2.0, 2.5, 3.0, np.nan])
    ax = plots.plot_psa_distribution(pd.DataFrame({"benefit_per_pound": values}))
    _png(ax, tmp_path, "psa")
    texts = " ".join(_texts(ax))
    assert "P(benefit per £1 > £1.00) = 0.71" in texts  # 5 of the 7 finite samples
    assert "(7 samples)" in texts
    assert "£" in ax.get_xlabel() and "count" in ax.get_ylabel()
    # no bar straddles the break-even line
    for patch in ax.patches:
        assert not (patch.get_x() < 1.0 < patch.get_x() + patch.get_width() - 1e-9)


def test_acceptability_curve(tmp_path):
    df = pd.DataFrame({"iom_cost_per_offender": [6000.0, 2000.0, 4000.0],
                       "probability_npv_positive": [0.2, 0.9, 0.6]})
    ax = plots.plot_acceptability(df)
    _png(ax, tmp_path, "acceptability")
    line = ax.get_lines()[0]
    assert list(line.get_xdata()) == [2000.0, 4000.0, 6000.0]
    assert list(line.get_ydata()) == [0.9, 0.6, 0.2]
    assert "£" in ax.get_xlabel() and "NPV" in ax.get_ylabel()
    assert ax.xaxis.get_major_formatter()(12000, 0) == "£12,000"


def test_sobol_indices(tmp_path):
    df = pd.DataFrame({"parameter": ["x1", "x2", "x3"], "S1": [0.31, 0.44, 0.0],
                       "S1_conf": [0.02, 0.03, 0.01], "ST": [0.56, 0.44, 0.24],
                       "ST_conf": [0.03, 0.03, 0.02]})
    ax = plots.plot_sobol(df)
    _png(ax, tmp_path, "sobol")
    assert [t.get_text() for t in ax.get_yticklabels()] == ["x3", "x2", "x1"]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["total (ST)", "first order (S1)"]
    assert "Sobol" in ax.get_title()


@pytest.mark.parametrize("func, frame", [
    (plots.plot_tornado, pd.DataFrame({"parameter": ["a"], "base": [1.0]})),
    (plots.plot_sobol, pd.DataFrame({"parameter": ["a"], "S1": [0.1]})),
    (plots.plot_acceptability, pd.DataFrame({"iom_cost_per_offender": [1.0]})),
    (plots.plot_psa_distribution, pd.DataFrame({"npv": [1.0]})),
])
def test_a_frame_without_the_agreed_columns_is_refused(func, frame):
    with pytest.raises(ValueError, match="no column"):
        func(frame)


def test_draws_on_the_axes_it_is_given():
    fig, (a, b) = plt.subplots(1, 2)
    df = pd.DataFrame({"iom_cost_per_offender": [1.0, 2.0], "probability_npv_positive": [1, 0]})
    assert plots.plot_acceptability(df, ax=b) is b
    assert not a.has_data() and b.has_data()


def test_money_format():
    assert plots.money(61000) == "£61,000"
    assert plots.money(-1234.4) == "−£1,234"
    assert plots.money(1.594, 2) == "£1.59"
    assert plots.money(-0.2) == "£0"
    assert plots.money(float("nan")) == "–"


def test_a_footer_states_the_price_year_and_horizon_and_keeps_clear_of_the_axes(run_tables,
                                                                               tmp_path):
    from iomsim.reporting.labels import chart_footer

    footer = chart_footer(run_tables.manifest)
    assert footer == "£ at 2011-12 prices; discounted at 3.5% a year where stated; 2-year horizon"
    fig = plt.figure(figsize=(8, 5), layout="constrained")
    ax = plots.plot_cumulative_cost(run_tables.costs, ax=fig.subplots())
    text = plots.add_footer(fig, footer)
    assert text.get_text() in [t.get_text() for t in fig.texts]
    fig.savefig(tmp_path / "c.png")
    renderer = fig.canvas.get_renderer()
    axes_box = ax.get_tightbbox(renderer)
    assert text.get_window_extent(renderer).y1 <= axes_box.y0 + 1  # below the axes' labels
    plt.close(fig)


def test_agency_labels_are_one_definition():
    from iomsim.reporting import labels

    assert plots.agency_label is labels.agency_label
    assert plots.AGENCY_LABELS is labels.AGENCY_LABELS
    for agency, name in AGENCY_NAMES.items():
        assert labels.agency_label(agency) == name
