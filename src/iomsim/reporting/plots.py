"""Charts of a results folder and of sweeps: a frame in, an Axes out.

Every function reads one of the results tables (:mod:`iomsim.results_folder`; the README's
"Results directory" documents them) or a sweep frame, draws on ``ax`` (a new figure when ``ax``
is None) and returns the Axes. None of them recomputes the model and none calls ``plt.show()``.
Money is labelled in pounds with thousands separators; shares and rates are shown as percentages.
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter

from iomsim.reporting.labels import (AGENCY_LABELS, ARM_LABELS, VICTIMS,  # noqa: F401
                                     agency_label, arm_label, money, percent)
from iomsim.results_folder import (COSTS, COSTS_BY_AGENCY, DECOMPOSITION, ECONOMICS, OUTCOMES,
                                   SURVIVAL)

# Fixed colours per agency so a reader can follow an agency from chart to chart. Tableau 10,
# which stays distinguishable for the common colour-vision deficiencies at these sizes.
AGENCY_COLOURS = {
    "police": "#4E79A7",
    "probation": "#F28E2B",
    "prison": "#76B7B2",
    "courts": "#E15759",
    "housing": "#59A14F",
    "nhs": "#EDC948",
    "drug_alcohol_treatment": "#B07AA1",
    "local_authority": "#FF9DA7",
    "vcs": "#9C755F",
    VICTIMS: "#BAB0AC",
}
_EXTRA_COLOURS = ["#1B9E77", "#D95F02", "#7570B3", "#E7298A", "#66A61E", "#E6AB02", "#A6761D"]

ARM_COLOURS = {"non_iom": "#7F7F7F", "iom": "#0072B2"}
PAYS_MORE = "#D55E00"   # Okabe-Ito vermillion
SAVES = "#0072B2"       # Okabe-Ito blue


# ---------------------------------------------------------------------------------------------
# Formatting (money, percent and the labels: iomsim.reporting.labels)


def agency_colour(agency: str) -> str:
    if agency in AGENCY_COLOURS:
        return AGENCY_COLOURS[agency]
    return _EXTRA_COLOURS[sum(map(ord, agency)) % len(_EXTRA_COLOURS)]


def _arm_phrase(arm: str) -> str:
    return {"non_iom": "without IOM", "iom": "with IOM"}.get(arm, arm.replace("_", " "))


_money_axis = FuncFormatter(lambda x, _pos: money(x))


def _axes(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def _require(df: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{what}: the frame has no column(s) {', '.join(missing)}")


def _ordered_agencies(agencies: Iterable[str]) -> list[str]:
    """Core agencies in their usual order, then any others, then victims and society."""
    seen = list(dict.fromkeys(agencies))
    core = [a for a in AGENCY_LABELS if a in seen and a != VICTIMS]
    others = [a for a in seen if a not in AGENCY_LABELS]
    return core + others + ([VICTIMS] if VICTIMS in seen else [])


def add_footer(fig, text: str, *, height_inches: float = 0.3):
    """Write ``text`` (say the price year and horizon, :func:`iomsim.reporting.labels.chart_footer`)
    along the bottom of ``fig``, so that a chart pasted on its own keeps its meaning; a figure with
    constrained layout keeps its axes clear of it. Returns the Text."""
    engine = fig.get_layout_engine()
    share = min(0.2, height_inches / fig.get_figheight())
    if engine is not None and hasattr(engine, "set") and "rect" in engine.get():
        engine.set(rect=(0, share, 1, 1 - share))
    return fig.text(0.995, share * 0.3, text, ha="right", va="bottom", fontsize=8.5,
                    color="#444444")


# ---------------------------------------------------------------------------------------------
# Charts of one run


def plot_agency_shares(costs_by_agency: pd.DataFrame, ax: Axes | None = None, *,
                       arms: Sequence[str] = ("non_iom", "iom"), min_label_share: float = 0.04,
                       title: str | None = None) -> Axes:
    """Stacked bars: each agency's share of the arm's undiscounted agency costs.

    Reads ``costs_by_agency.csv`` (``arm, agency, cost, share``). Victims and society are not an
    agency cost and are left out. Each bar is topped with the arm's total agency cost.
    """
    _require(costs_by_agency, COSTS_BY_AGENCY.subset("arm", "agency", "cost", "share"),
             "plot_agency_shares")
    ax = _axes(ax, (8, 5.5))
    df = costs_by_agency[costs_by_agency["agency"] != VICTIMS]
    arms = [a for a in arms if a in set(df["arm"])]
    agencies = [a for a in _ordered_agencies(df["agency"])
                if (df.loc[df["agency"] == a, "cost"].fillna(0) > 0).any()]
    x = np.arange(len(arms))
    bottom = np.zeros(len(arms))
    for agency in agencies:
        shares = np.array([_value(df, arm, agency, "share") for arm in arms])
        shares = np.nan_to_num(shares)
        ax.bar(x, shares, 0.6, bottom=bottom, color=agency_colour(agency),
               label=agency_label(agency), edgecolor="white", linewidth=0.6)
        for xi, (b, s) in enumerate(zip(bottom, shares)):
            if s >= min_label_share:
                ax.text(x[xi], b + s / 2, percent(s), ha="center", va="center", fontsize=9,
                        color=_text_colour(agency_colour(agency)))
        bottom += shares
    for xi, arm in enumerate(arms):
        total = df.loc[df["arm"] == arm, "cost"].sum()
        ax.text(x[xi], 1.01, f"total {money(total)}", ha="center", va="bottom", fontsize=9)
    ax.set_xticks(x, [arm_label(a) for a in arms])
    ax.set_ylim(0, 1.08)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylabel("Share of agency costs (undiscounted, %)")
    ax.set_title(title or "Who bears the cost: agency shares with and without IOM")
    ax.legend(*_reversed_handles(ax), loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False,
              fontsize=9, title="Agency")
    ax.spines[["top", "right"]].set_visible(False)
    return ax


def plot_offender_breakdown(costs_by_agency: pd.DataFrame, ax: Axes | None = None, *,
                            arm: str = "non_iom", per: float = 1.0, discounted: bool = False,
                            title: str | None = None) -> Axes:
    """Horizontal bars: one offender's cost to each agency, in £ and as a share of the total.

    Reads ``costs_by_agency.csv``; ``per`` divides the cohort totals (the number of offenders
    times the number of years gives an average offender's year; 1 for a one-offender, one-year
    scenario such as the £61,000 case study). Victims and society are left out.
    """
    _require(costs_by_agency, COSTS_BY_AGENCY.subset("arm", "agency", "cost", "discounted_cost"),
             "plot_offender_breakdown")
    if not per or per <= 0:
        raise ValueError("plot_offender_breakdown: per must be a positive number")
    ax = _axes(ax, (8, 5))
    column = "discounted_cost" if discounted else "cost"
    df = costs_by_agency[(costs_by_agency["arm"] == arm) & (costs_by_agency["agency"] != VICTIMS)]
    values = (df.set_index("agency")[column].fillna(0) / per)
    values = values[values > 0].sort_values()
    total = values.sum()
    y = np.arange(len(values))
    ax.barh(y, values.to_numpy(), color=[agency_colour(a) for a in values.index], height=0.65)
    ax.set_yticks(y, [agency_label(a) for a in values.index])
    top = values.max() if len(values) else 1.0
    for yi, v in zip(y, values):
        share = v / total if total else math.nan
        share_text = "<1%" if 0 < share < 0.005 else percent(share)
        ax.text(v + top * 0.01, yi, f"{money(v)} ({share_text})", va="center", fontsize=9)
    ax.set_xlim(0, top * 1.32)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=4, steps=[1, 2, 2.5, 5, 10]))
    ax.xaxis.set_major_formatter(_money_axis)
    ax.set_xlabel("Cost (£" + (", discounted" if discounted else "") + ")")
    ax.set_title(title or f"One offender's cost by agency\n{_arm_phrase(arm)}: "
                 f"total {money(total)}")
    ax.spines[["top", "right"]].set_visible(False)
    return ax


def plot_cumulative_cost(costs: pd.DataFrame, ax: Axes | None = None, *,
                         include_victims: bool = False, title: str | None = None) -> Axes:
    """Cumulative cohort cost by year and arm, undiscounted (solid) and discounted (dashed).

    Reads ``costs.parquet``: sums agencies (and victims and society when ``include_victims``)
    within each replication, then takes the mean over replications.
    """
    _require(costs, COSTS.subset("arm", "replication", "year", "agency", "cost", "discounted_cost"),
             "plot_cumulative_cost")
    ax = _axes(ax, (8, 5))
    df = costs if include_victims else costs[costs["agency"] != VICTIMS]
    per_rep = df.groupby(["arm", "replication", "year"], sort=True)[
        ["cost", "discounted_cost"]].sum()
    mean = per_rep.groupby(["arm", "year"], sort=True).mean()
    years_all = sorted(df["year"].unique())
    for arm in [a for a in ("non_iom", "iom") if a in mean.index.get_level_values("arm")] + \
            [a for a in mean.index.get_level_values("arm").unique() if a not in ("non_iom", "iom")]:
        m = mean.loc[arm].reindex(years_all, fill_value=0.0)
        years = np.concatenate([[0], years_all])  # cumulative to the end of each year, from £0
        colour = ARM_COLOURS.get(arm, "#333333")
        ax.plot(years, np.concatenate([[0.0], m["cost"].cumsum()]), marker="o", color=colour,
                linewidth=2, label=f"{arm_label(arm)}, undiscounted")
        ax.plot(years, np.concatenate([[0.0], m["discounted_cost"].cumsum()]), marker="s",
                color=colour, linewidth=2, linestyle="--", label=f"{arm_label(arm)}, discounted")
    ax.set_xticks([0, *years_all])
    ax.set_xlabel("Years from day 0 (cost to the end of each year)")
    ax.yaxis.set_major_formatter(_money_axis)
    what = "agency costs and cost to victims" if include_victims else "agency costs"
    ax.set_ylabel(f"Cumulative cohort cost (£, {what})")
    ax.set_ylim(bottom=0)
    ax.set_title(title or "Cumulative cost of the cohort, with and without IOM")
    ax.legend(frameon=False, fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    return ax


def plot_who_pays(economics: pd.DataFrame, ax: Axes | None = None, *, ci: bool = True,
                  title: str | None = None) -> Axes:
    """Diverging bars: the net change in discounted cost for each agency and for victims.

    Reads ``economics.csv`` rows ``net_change_<agency>`` and ``net_change_victims`` (IOM arm minus
    non-IOM arm; positive: that payer spends more). Whiskers: the 95% interval of the mean.
    """
    _require(economics, ECONOMICS.subset("metric", "value"), "plot_who_pays")
    ax = _axes(ax, (9, 5.5))
    rows = economics[economics["metric"].str.startswith("net_change_")
                     & ~economics["metric"].str.endswith("_undiscounted")].copy()
    rows["agency"] = rows["metric"].str.removeprefix("net_change_")
    rows = rows.set_index("agency").loc[_ordered_agencies(rows["agency"])]
    rows = rows.iloc[::-1]  # first agency at the top
    values = rows["value"].to_numpy(dtype=float)
    y = np.arange(len(rows))
    colours = [PAYS_MORE if v > 0 else SAVES for v in values]
    lo = rows["lo"].to_numpy(dtype=float) if ci and "lo" in rows else np.full(len(rows), np.nan)
    hi = rows["hi"].to_numpy(dtype=float) if ci and "hi" in rows else np.full(len(rows), np.nan)
    show_ci = bool(np.isfinite(lo).all() and np.isfinite(hi).all() and len(rows))
    reach = np.abs(values)
    if show_ci:
        reach = np.maximum(reach, np.maximum(np.abs(lo), np.abs(hi)))
    # Victims and society usually dwarf any one agency: when a bar is far longer than the rest,
    # cut it at the edge (hatched, its value in the label) so the agencies stay readable.
    limit = float(np.nanmax(reach)) if len(reach) else 1.0
    if len(reach) > 1:
        second = float(np.sort(reach)[-2])
        if second > 0 and limit > 3 * second:
            limit = second
    limit = (limit or 1.0) * 1.45
    cut = np.abs(values) > limit / 1.45 * 1.2
    shown = np.where(cut, np.sign(values) * limit * 0.8, values)
    bars = ax.barh(y, shown, color=colours, height=0.65)
    for bar, c in zip(bars, cut):
        if c:
            bar.set_hatch("//")
            bar.set_edgecolor("white")
    if show_ci:
        ok = ~cut
        ax.errorbar(values[ok], y[ok], xerr=np.vstack([np.clip(values - lo, 0, None),
                                                       np.clip(hi - values, 0, None)])[:, ok],
                    fmt="none", ecolor="#444444", elinewidth=1, capsize=3)
    for yi, v, sv, c, h, l in zip(y, values, shown, cut, hi, lo):
        end = sv if c else (max(v, h) if (v >= 0 and show_ci) else
                            min(v, l) if show_ci else v)
        if c:  # inside the cut bar, so it never runs into the agency names
            ax.text(sv / 2, yi, f"{money(v)} (bar cut short)", ha="center", va="center",
                    fontsize=8.5, color="black",
                    bbox={"facecolor": "white", "edgecolor": "none", "pad": 1.5})
            continue
        right = v >= 0
        ax.text(end + (limit * 0.02 if right else -limit * 0.02), yi, money(v),
                ha="left" if right else "right", va="center", fontsize=8.5)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(y, [agency_label(a) for a in rows.index])
    ax.set_xlim(-limit, limit)
    xerr = show_ci or None
    ax.xaxis.set_major_formatter(_money_axis)
    ax.tick_params(axis="x", labelrotation=20)
    ax.set_xlabel("Net change in discounted cost, IOM minus without IOM (£)"
                  + ("; whiskers: 95% interval" if xerr is not None else ""))
    ax.legend(handles=[Patch(color=SAVES, label="saves (spends less with IOM)"),
                       Patch(color=PAYS_MORE, label="pays more (spends more with IOM)")],
              loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=2, frameon=False, fontsize=9)
    ax.set_title(title or "Who pays and who saves", pad=28)
    ax.spines[["top", "right"]].set_visible(False)
    return ax


def plot_survival(survival: pd.DataFrame, ax: Axes | None = None, *, title: str | None = None
                  ) -> Axes:
    """Time to first reconviction: share of the cohort not yet reconvicted, by month and arm.

    Reads ``survival.csv`` (``arm, month, share_not_reconvicted, lo, hi``); the band is the 95%
    interval of the mean when it is there.
    """
    _require(survival, SURVIVAL.subset("arm", "month", "share_not_reconvicted"), "plot_survival")
    ax = _axes(ax, (7, 5))
    for arm in ("non_iom", "iom"):
        s = survival[survival["arm"] == arm].sort_values("month")
        if not len(s):
            continue
        colour = ARM_COLOURS[arm]
        ax.step(s["month"], s["share_not_reconvicted"], where="post", color=colour, linewidth=2,
                label=arm_label(arm))
        if {"lo", "hi"} <= set(s.columns) and s[["lo", "hi"]].notna().all().all():
            ax.fill_between(s["month"], s["lo"].clip(0, 1), s["hi"].clip(0, 1), step="post",
                            color=colour, alpha=0.15, linewidth=0)
    ax.set_ylim(0, 1.02)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel("Months from day 0")
    ax.set_ylabel("Not yet reconvicted (% of cohort)")
    months = survival["month"]
    if len(months):
        ax.set_xticks(np.arange(0, months.max() + 1, 12 if months.max() > 36 else 6))
    ax.set_title(title or "Time to first reconviction")
    ax.legend(frameon=False)
    ax.grid(alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    return ax


def plot_reconviction_reductions(outcomes: pd.DataFrame, ax: Axes | None = None, *,
                                 window: str = "24m", title: str | None = None) -> Axes:
    """The before/after reduction and the counterfactual reduction, side by side.

    Reads ``outcomes.csv``: ``reconviction_rate_<window>_before`` and ``reconviction_rate_<window>``
    for each arm, and arm ``iom_minus_non_iom`` for the counterfactual difference. The before/after
    comparison is what an evaluation without a comparison group sees (it includes regression to
    the mean); the counterfactual is IOM against the same cohort without IOM.
    """
    _require(outcomes, OUTCOMES.subset("arm", "metric", "value"), "plot_reconviction_reductions")
    ax = _axes(ax, (7, 5))
    after, before = f"reconviction_rate_{window}", f"reconviction_rate_{window}_before"
    get = lambda arm, metric: _metric(outcomes, arm, metric)  # noqa: E731
    b_iom, a_iom, a_non = get("iom", before), get("iom", after), get("non_iom", after)
    diff = get("iom_minus_non_iom", after)
    if math.isnan(diff):
        diff = a_iom - a_non
    bars = [(0.0, b_iom, "#BBBBBB", f"{window[:-1]} months\nbefore day 0"),
            (1.0, a_iom, ARM_COLOURS["iom"], f"{window[:-1]} months after,\nwith IOM"),
            (2.6, a_non, ARM_COLOURS["non_iom"], f"{window[:-1]} months after,\nwithout IOM"),
            (3.6, a_iom, ARM_COLOURS["iom"], f"{window[:-1]} months after,\nwith IOM")]
    for x, v, colour, _label in bars:
        ax.bar(x, 0 if math.isnan(v) else v, 0.8, color=colour)
        ax.text(x, (0 if math.isnan(v) else v) + 0.015, "no data" if math.isnan(v) else percent(v),
                ha="center", va="bottom", fontsize=10)
    ax.set_xticks([b[0] for b in bars], [b[3] for b in bars], fontsize=8.5)
    ax.set_ylim(0, 1.25)
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylabel(f"Reconvicted within {window[:-1]} months (% of cohort)")
    rel = (a_iom / b_iom - 1) if b_iom else math.nan
    ax.text(0.5, 1.13, "Before/after\n" + ("not available" if math.isnan(rel) else
                                             f"{percent(rel)} (relative)"),
            ha="center", va="center", fontsize=10, fontweight="bold")
    rel_cf = (a_iom / a_non - 1) if a_non else math.nan
    ax.text(3.1, 1.13, f"Counterfactual\n{diff * 100:+.1f} points ({percent(rel_cf)})"
            .replace("+-", "−").replace("-", "−"), ha="center", va="center", fontsize=10,
            fontweight="bold")
    ax.axvline(1.8, color="#999999", linewidth=0.8, linestyle=":")
    ax.set_title(title or "Reconviction: before and after, and against no IOM")
    ax.spines[["top", "right"]].set_visible(False)
    return ax


DECOMPOSITION_BARS = (  # (component, label, colour): top to bottom
    ("observed_change", "Observed change\n(after with IOM − before)", "#444444"),
    ("regression_to_mean_and_ageing", "Regression to the mean\nand ageing", "#BBBBBB"),
    ("custody", "Custody\n(time at liberty)", "#E69F00"),
    ("iom_effect", "IOM\n(against the same cohort without IOM)", ARM_COLOURS["iom"]),
)


def plot_decomposition(decomposition: pd.DataFrame, ax: Axes | None = None, *,
                       measure: str = "reconviction_rate_24m", title: str | None = None) -> Axes:
    """What the before/after change is made of: the observed change and its three components
    (regression to the mean and ageing, custody, IOM), as horizontal bars with their 95%
    intervals.

    Reads ``decomposition.csv`` (``measure, component, mean, lower, upper``); a rate's change is
    in percentage points. A component that is not available (NaN) is drawn as no bar, marked
    "not available".
    """
    _require(decomposition, DECOMPOSITION.subset("measure", "component", "mean", "lower",
                                                  "upper"), "plot_decomposition")
    ax = _axes(ax, (8, 4.5))
    d = decomposition[decomposition["measure"] == measure].set_index("component")
    scale = 100.0 if "rate" in measure else 1.0
    unit = " pts" if scale == 100.0 else ""
    ys = np.arange(len(DECOMPOSITION_BARS))[::-1]
    span, labels = [0.0], []
    for y, (component, _label, colour) in zip(ys, DECOMPOSITION_BARS):
        row = d.loc[component] if component in d.index else None
        mean = math.nan if row is None else float(row["mean"]) * scale
        if math.isnan(mean):
            ax.text(0, y, " not available", va="center", ha="left", fontsize=9, color="#555555")
            continue
        lo, hi = (float(row[c]) * scale for c in ("lower", "upper"))
        err = None if math.isnan(lo) or math.isnan(hi) else [[mean - lo], [hi - mean]]
        ax.barh(y, mean, 0.6, color=colour, xerr=err, capsize=4,
                error_kw={"ecolor": "#222222", "linewidth": 1})
        span += [mean, *(v for v in (lo, hi) if not math.isnan(v))]
        text = f"{mean:+.1f}{unit}" if scale == 100.0 else f"{mean:+.2f}"
        edge = (mean if err is None else hi if mean >= 0 else lo)
        labels.append((edge, y, text.replace("-", "−"), mean >= 0))
    width = max(abs(v) for v in span) or 1.0
    for edge, y, text, right in labels:  # beyond the end of the interval
        ax.text(edge + (0.03 if right else -0.03) * width, y, text, va="center",
                ha="left" if right else "right", fontsize=9)
    ax.set_xlim(-1.7 * width, 1.7 * width)  # room for the labels beyond the intervals
    ax.axvline(0, color="#333333", linewidth=0.8)
    ax.axhline(ys[0] - 0.5, color="#999999", linewidth=0.8, linestyle=":")
    ax.set_yticks(ys, [b[1] for b in DECOMPOSITION_BARS], fontsize=9)
    what = ("Reconvicted within 24 months" if measure == "reconviction_rate_24m" else
            "Convictions per offender, 24 months" if measure == "convictions_per_offender_24m"
            else measure.replace("_", " ").capitalize())
    ax.set_xlabel(f"{what}: change on the 24 months before day 0"
                  + (" (percentage points)" if scale == 100.0 else ""))
    ax.set_title(title or "What the before/after change is made of")
    ax.grid(axis="x", alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    return ax


# ---------------------------------------------------------------------------------------------
# Charts of sweeps (frames agreed with iomsim.experiments)


def plot_tornado(df: pd.DataFrame, ax: Axes | None = None, *, measure: str = "Benefit per £1",
                 money_measure: bool = True, title: str | None = None) -> Axes:
    """Tornado diagram from a one-way sweep.

    Columns: ``parameter, low_value, high_value, measure_low, measure_high, base`` (one row per
    parameter; ``base`` is the measure at base values). Widest swing at the top.
    """
    _require(df, ["parameter", "low_value", "high_value", "measure_low", "measure_high", "base"],
             "plot_tornado")
    ax = _axes(ax, (9, 0.6 * len(df) + 2))
    d = df.copy()
    d["swing"] = (d["measure_high"] - d["measure_low"]).abs()
    d = d.sort_values("swing", ascending=True, kind="stable").reset_index(drop=True)
    base = float(d["base"].iloc[0])
    y = np.arange(len(d))
    fmt = (lambda v: money(v, 2)) if money_measure else (lambda v: f"{v:,.3g}")
    ax.barh(y, d["measure_low"] - base, left=base, color="#56B4E9", height=0.6,
            label="parameter at its low value")
    ax.barh(y, d["measure_high"] - base, left=base, color="#E69F00", height=0.6,
            label="parameter at its high value")
    ax.axvline(base, color="black", linewidth=1)
    lo_all = min(d["measure_low"].min(), d["measure_high"].min(), base)
    hi_all = max(d["measure_low"].max(), d["measure_high"].max(), base)
    pad = (hi_all - lo_all) * 0.28 or 1.0
    for yi, row in d.iterrows():
        for v in (row["measure_low"], row["measure_high"]):
            right = v >= base
            ax.text(v + (pad * 0.04 if right else -pad * 0.04), yi, fmt(v),
                    ha="left" if right else "right", va="center", fontsize=8.5)
    labels = [f"{p}\n({_short(lv)} to {_short(hv)})"
              for p, lv, hv in zip(d["parameter"], d["low_value"], d["high_value"])]
    ax.set_yticks(y, labels, fontsize=8.5)
    ax.set_xlim(lo_all - pad, hi_all + pad)
    if money_measure:
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _p: money(x, 2)))
    ax.set_xlabel(f"{measure} (base {fmt(base)})")
    ax.set_title(title or f"One-way sensitivity: {measure}")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=2, frameon=False, fontsize=9)
    ax.set_title(ax.get_title(), pad=24)
    ax.spines[["top", "right"]].set_visible(False)
    return ax


def plot_psa_distribution(df: pd.DataFrame, ax: Axes | None = None, *,
                          column: str = "benefit_per_pound", threshold: float = 1.0,
                          bins: int | str = "auto", title: str | None = None) -> Axes:
    """Histogram of the benefit per £1 over PSA samples, with P(benefit per £1 > threshold).

    Reads a frame with a ``benefit_per_pound`` column, one row per PSA sample.
    """
    _require(df, [column], "plot_psa_distribution")
    ax = _axes(ax, (8, 5))
    x = df[column].to_numpy(dtype=float)
    x = x[np.isfinite(x)]
    p = float((x > threshold).mean()) if x.size else math.nan
    if x.size and not isinstance(bins, (list, np.ndarray)):
        # Put the threshold on a bin edge so no bar straddles it.
        width = np.diff(np.histogram_bin_edges(x, bins=bins)[:2])[0] if np.ptp(x) > 0 else 1.0
        k_lo = math.floor((x.min() - threshold) / width)
        k_hi = math.ceil((x.max() - threshold) / width)
        bins = threshold + width * np.arange(k_lo, max(k_hi, k_lo + 1) + 1)
    _n, edges, patches = ax.hist(x, bins=bins, color="#56B4E9", edgecolor="white")
    for patch, left in zip(patches, edges[:-1]):
        if left >= threshold:
            patch.set_facecolor("#0072B2")
    ax.axvline(threshold, color=PAYS_MORE, linewidth=2, linestyle="--",
               label=f"£{threshold:,.2f} back per £1 (break-even)")
    if x.size:
        ax.axvline(float(np.mean(x)), color="black", linewidth=1.2,
                   label=f"mean {money(float(np.mean(x)), 2)}")
    # The probability goes in the legend, which sits in headroom above the tallest bar.
    ax.plot([], [], " ", label=f"P(benefit per £1 > {money(threshold, 2)}) = {p:.2f} "
            f"({x.size:,} samples)")
    ax.set_ylim(0, max(float(np.max(_n)) if len(_n) else 1.0, 1.0) * 1.3)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: money(v, 2)))
    ax.set_xlabel("Benefit per £1 spent on IOM (£, discounted)")
    ax.set_ylabel("PSA samples (count)")
    ax.set_title(title or "Uncertainty in the benefit per £1 (probabilistic sensitivity analysis)")
    ax.legend(loc="upper right", frameon=True, facecolor="white", edgecolor="#CCCCCC",
              framealpha=1.0, fontsize=9.5)
    ax.spines[["top", "right"]].set_visible(False)
    return ax


def plot_acceptability(df: pd.DataFrame, ax: Axes | None = None, *, title: str | None = None
                       ) -> Axes:
    """Acceptability curve: probability of a positive NPV against IOM cost per offender.

    Reads columns ``iom_cost_per_offender, probability_npv_positive``.
    """
    _require(df, ["iom_cost_per_offender", "probability_npv_positive"], "plot_acceptability")
    ax = _axes(ax, (8, 5))
    d = df.sort_values("iom_cost_per_offender")
    ax.plot(d["iom_cost_per_offender"], d["probability_npv_positive"],
            marker="o" if len(d) <= 30 else None, color="#0072B2", linewidth=2)
    ax.axhline(0.5, color="#999999", linewidth=0.8, linestyle=":")
    ax.set_ylim(0, 1.02)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.xaxis.set_major_formatter(_money_axis)
    ax.set_xlabel("IOM cost per offender (£, discounted)")
    ax.set_ylabel("Probability that NPV > 0 (%)")
    ax.set_title(title or "Acceptability: chance IOM pays for itself, by what it costs")
    ax.grid(alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    return ax


# One colour and dash per benefit measure (Okabe-Ito), the same in every chart.
PERSPECTIVE_STYLES = {
    "evaluation": ("#E69F00", "-"), "taxpayer": ("#0072B2", "-"),
    "taxpayer_cashable": ("#56B4E9", "--"), "social": ("#009E73", "-"),
}
PERSPECTIVE_SHORT = {"evaluation": "as the evaluation counted it", "taxpayer": "to the taxpayer",
                     "taxpayer_cashable": "to the taxpayer, cashable", "social": "to society"}


def plot_acceptability_by_measure(df: pd.DataFrame, ax: Axes | None = None, *,
                                  title: str | None = None) -> Axes:
    """Benefit-cost acceptability curves: for each benefit measure, the probability that the
    benefit per £1 exceeds a threshold, against the threshold; at £1, P(benefit > cost).

    Reads the PSA's ``acceptability_by_measure`` table (columns ``perspective, threshold,
    probability``; one curve per perspective). The value-for-money hurdles (£1, £1.50, £2, £4)
    are marked.
    """
    _require(df, ["perspective", "threshold", "probability"], "plot_acceptability_by_measure")
    ax = _axes(ax, (8, 5))
    for h in (1.0, 1.5, 2.0, 4.0):
        ax.axvline(h, color=PAYS_MORE if h == 1.0 else "#BBBBBB",
                   linewidth=1.5 if h == 1.0 else 0.8, linestyle="--" if h == 1.0 else ":")
    order = [p for p in PERSPECTIVE_STYLES if p in set(df["perspective"])]
    order += [p for p in dict.fromkeys(df["perspective"]) if p not in order]
    for k, perspective in enumerate(order):
        d = df[df["perspective"] == perspective].sort_values("threshold")
        colour, dash = PERSPECTIVE_STYLES.get(perspective,
                                              (_EXTRA_COLOURS[k % len(_EXTRA_COLOURS)], "-"))
        at_one = d.loc[np.isclose(d["threshold"], 1.0), "probability"]
        said = f"; P(> £1) = {float(at_one.iloc[0]):.2f}" if len(at_one) else ""
        ax.plot(d["threshold"], d["probability"], color=colour, linestyle=dash, linewidth=2,
                label=f"{PERSPECTIVE_SHORT.get(perspective, perspective.replace('_', ' '))}"
                      f"{said}")
    ax.set_ylim(0, 1.02)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: money(v, 2)))
    ax.set_xlabel("Benefit per £1 a funder asks for (£; dashed: £1, benefit equals cost; dotted: "
                  "£1.50, £2, £4)", fontsize=9)
    ax.set_ylabel("Probability the benefit per £1 is higher (%)")
    ax.set_title(title or "Acceptability: chance IOM returns at least each amount per £1")
    ax.legend(loc="upper right", frameon=True, facecolor="white", edgecolor="#CCCCCC",
              framealpha=1.0, fontsize=9)
    ax.grid(alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    return ax


def plot_sobol(df: pd.DataFrame, ax: Axes | None = None, *, title: str | None = None) -> Axes:
    """Sobol sensitivity indices: first order (S1) and total (ST) per parameter, with intervals.

    Reads columns ``parameter, S1, S1_conf, ST, ST_conf`` (SALib's names). Largest ST at the top.
    """
    _require(df, ["parameter", "S1", "S1_conf", "ST", "ST_conf"], "plot_sobol")
    ax = _axes(ax, (8, 0.55 * len(df) + 2))
    d = df.sort_values("ST", ascending=True, kind="stable").reset_index(drop=True)
    y = np.arange(len(d))
    h = 0.38
    ax.barh(y - h / 2, d["S1"], h, xerr=d["S1_conf"], color="#56B4E9",
            label="first order (S1)", error_kw={"ecolor": "#444444", "capsize": 2})
    ax.barh(y + h / 2, d["ST"], h, xerr=d["ST_conf"], color="#0072B2",
            label="total (ST)", error_kw={"ecolor": "#444444", "capsize": 2})
    ax.set_yticks(y, d["parameter"], fontsize=9)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel("Sobol index (share of output variance; whiskers: 95% interval)")
    ax.set_xlim(min(0.0, float((d["S1"] - d["S1_conf"]).min()) - 0.02),
                max(1.0, float((d["ST"] + d["ST_conf"]).max()) + 0.02))
    ax.set_title(title or "Which parameters drive the answer (Sobol indices)")
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles[::-1], labels[::-1], loc="lower center", bbox_to_anchor=(0.5, 1.0),
              ncols=2, frameon=False, fontsize=9)
    ax.set_title(ax.get_title(), pad=24)
    ax.spines[["top", "right"]].set_visible(False)
    return ax


# ---------------------------------------------------------------------------------------------
# helpers


def _value(df: pd.DataFrame, arm: str, agency: str, column: str) -> float:
    row = df[(df["arm"] == arm) & (df["agency"] == agency)]
    return float(row[column].iloc[0]) if len(row) else math.nan


def _metric(outcomes: pd.DataFrame, arm: str, metric: str) -> float:
    row = outcomes[(outcomes["arm"] == arm) & (outcomes["metric"] == metric)]
    return float(row["value"].iloc[0]) if len(row) else math.nan


def _text_colour(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5))
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.55 else "white"


def _reversed_handles(ax: Axes):
    handles, labels = ax.get_legend_handles_labels()
    return handles[::-1], labels[::-1]


def _short(v) -> str:
    if isinstance(v, (int, np.integer)):
        return f"{v:,}"
    if isinstance(v, (float, np.floating)):
        if abs(v) >= 1000:
            return f"{v:,.0f}"
        return f"{v:g}"
    return str(v)


__all__ = [
    "AGENCY_COLOURS", "AGENCY_LABELS", "add_footer", "agency_label", "money", "percent",
    "plot_acceptability", "plot_acceptability_by_measure", "plot_agency_shares",
    "plot_cumulative_cost", "plot_decomposition",
    "plot_offender_breakdown",
    "plot_psa_distribution", "plot_reconviction_reductions", "plot_sobol", "plot_survival",
    "plot_tornado", "plot_who_pays",
]
