"""The report of one run: ``report.html``, ``results.xlsx`` and the charts as PNGs.

Everything is read from a results folder written by ``iomsim run`` (its files and columns are
those of :mod:`iomsim.results_folder`); nothing is recomputed from the model. ``report.html`` is
one self-contained file: the charts are embedded as base64 PNGs, the styles are inline and it
loads nothing from the network. It is rendered with Jinja2 with autoescaping on, so text from a
scenario file (its name, its description, its sources) is always shown as text, never
interpreted as markup or script.

It is one file because the HTML report and the workbook's summary sheet share the private
helpers that turn the tables' numbers into words (formats, labels, intervals); the parts that
need none of them (decomposition and payer rows, plots, labels) live in their own modules.
"""

from __future__ import annotations

import base64
import io
import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import pandas as pd
from matplotlib.figure import Figure

from iomsim.atomic import write_files_atomic
from iomsim.errors import InputError
from iomsim.scenario.paths import PathLookupError, PathSyntaxError, get_value
from iomsim.scenario.lineage import description, title
from iomsim.reporting import plots
from iomsim.economics import switching_sentence
from iomsim.reporting.decomposition import decomposition_rows
from iomsim.reporting.payers import payer_rows
from iomsim.reporting.labels import (ARM_LABELS, VICTIMS, agency_label, chart_footer,
                                     horizon_adjective, horizon_phrase, is_rate, money, percent,
                                     price_phrase, run_terms)
from iomsim.results_folder import (CHARTS, COSTS, COSTS_BY_AGENCY, DECOMPOSITION, ECONOMICS,
                                   MANIFEST, OPTIONAL_TABLES, OUTCOMES, REPORT, SURVIVAL, TABLES,
                                   WORKBOOK, is_money_metric, read_manifest, read_table)

EXCEL_MAX_ROWS = 1_048_575  # one row is the header
_POUNDS = '"£"#,##0.00'
_WHOLE_POUNDS = '"£"#,##0'
_PERCENT = "0.0%"
_POINTS = '+0.0" pts";-0.0" pts";0.0" pts"'  # a change in a rate, written times 100
SUMMARY_SHEET = "summary"
SHEET_FORMATS = {  # number formats of money and share columns, so spreadsheets show £1,234.00
    COSTS.name: dict.fromkeys(COSTS.subset("cost", "discounted_cost"), _POUNDS),
    COSTS_BY_AGENCY.name: {
        **dict.fromkeys(COSTS_BY_AGENCY.subset("cost", "discounted_cost", "lo", "hi", "p025",
                                               "p975"), _POUNDS),
        **dict.fromkeys(COSTS_BY_AGENCY.subset("share"), "0.0%")},
    SURVIVAL.name: dict.fromkeys(SURVIVAL.subset("share_not_reconvicted", "lo", "hi"), "0.0%"),
    DECOMPOSITION.name: {"share_of_observed_change": "0.0%"},
}

VALIDATION_CAVEATS = [
    "This is a simulation. Its numbers are only as good as the scenario's inputs: the "
    "assumptions listed below are not sourced, and their uncertainty is not in the intervals "
    "shown, which cover only the randomness of the simulation (the 95% interval of the mean "
    "over replications).",
    "How far the shipped scenarios reproduce the published Sussex evaluation (about £61,000 "
    "for one complex offender's year; reconviction within 24 months falling from 45% to 19%; "
    "£1.59 back for each £1 spent on IOM over five years) is set out in docs/validation.md. "
    "Read it before quoting these figures.",
    "A before/after fall in reconviction includes regression to the mean (offenders are "
    "selected on recent offending) and ageing, and a change in the time spent in custody; the "
    "counterfactual difference, IOM against the same cohort without IOM, is the effect of IOM "
    "in the model. Where the run has 24 months on each side of day 0, the decomposition chart "
    "and table split the observed change into these parts (the custody part is a first-order "
    "exposure adjustment, and regression to the mean and ageing are not separated).",
    "Costs to victims and society are not agency costs; they are shown apart and counted in the "
    "benefit per £1 only when the scenario says so.",
]


# ---------------------------------------------------------------------------------------------
# Reading the folder


@dataclass
class _Folder:
    path: Path
    tables: dict[str, pd.DataFrame]
    manifest: dict[str, Any]


def _load(results_dir: Path) -> _Folder:
    folder = Path(results_dir)
    if not folder.exists():
        raise InputError("no such results folder", file=folder)
    if not folder.is_dir():
        raise InputError("not a folder; expected a results folder written by `iomsim run`",
                         file=folder)
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        raise InputError(f"not a results folder (no {MANIFEST}); expected a folder written by "
                         "`iomsim run`", file=folder)
    try:
        manifest = read_manifest(folder)
    except json.JSONDecodeError as exc:
        raise InputError(f"the manifest is not valid JSON from column {exc.colno} (cut short, "
                         "or edited?); run the command that wrote this folder again",
                         file=manifest_path, line=exc.lineno) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the manifest: {exc}", file=manifest_path) from None
    if not isinstance(manifest, dict):
        raise InputError("the manifest is not a JSON object", file=manifest_path)
    tables: dict[str, pd.DataFrame] = {}
    for table in TABLES:
        path = folder / table.file
        if not path.is_file():
            raise InputError(f"missing {table.file}; not a complete results folder", file=path)
        try:
            tables[table.name] = read_table(folder, table)
        except Exception as exc:  # pyarrow and the CSV parser raise many kinds
            raise InputError(f"cannot read {table.file}: {exc}", file=path) from None
    for table in OPTIONAL_TABLES:  # written only when they apply
        path = folder / table.file
        if path.is_file():
            try:
                tables[table.name] = read_table(folder, table)
            except Exception as exc:
                raise InputError(f"cannot read {table.file}: {exc}", file=path) from None
    for table in (*TABLES, *OPTIONAL_TABLES):
        if table.name not in tables:
            continue
        missing = table.missing_columns(tables[table.name])
        if missing:
            raise InputError(f"{table.file} has no column(s) {', '.join(missing)}",
                             file=folder / table.file)
    return _Folder(folder, tables, manifest)


# ---------------------------------------------------------------------------------------------
# Numbers and words


def _nan(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def _get(d: Any, dotted: str, default: Any = None) -> Any:
    """A value of the resolved scenario by dotted path (``a.b[2].c``), or ``default``."""
    try:
        return get_value(d, dotted)
    except (PathLookupError, PathSyntaxError):
        return default


def _economic(econ: pd.DataFrame, metric: str, column: str = "value") -> float:
    row = econ[econ["metric"] == metric]
    return float(row[column].iloc[0]) if len(row) and column in row else math.nan


def _outcome(outcomes: pd.DataFrame, arm: str, metric: str, column: str = "value") -> float:
    row = outcomes[(outcomes["arm"] == arm) & (outcomes["metric"] == metric)]
    return float(row[column].iloc[0]) if len(row) and column in row else math.nan


def _pounds_per_pound(x: float) -> str:
    return money(x, 2)


def _interval(lo: float, hi: float, fmt: Callable[[float], str]) -> str:
    if _nan(lo) or _nan(hi):
        return ""
    return f"95% interval {fmt(lo)} to {fmt(hi)}"


def _format_metric(metric: str, value: float) -> str:
    """Outcome metrics: rates as percentages, counts per offender to two places."""
    if _nan(value):
        return "–"
    if is_rate(metric):
        return percent(value, 1)
    if "days" in metric:
        return f"{value:,.1f}"
    if metric == "offenders":
        return f"{value:,.0f}"
    return f"{value:,.2f}"


def _signed(value: float, places: int) -> str:
    if round(value, places) == 0:
        return f"{0:.{places}f}"
    return f"{value:+,.{places}f}".replace("-", "−")


def _format_difference(metric: str, value: float) -> str:
    if _nan(value):
        return "–"
    if is_rate(metric):  # relative changes too: a change in a percentage is in points
        return f"{_signed(value * 100, 1)} points"
    if "days" in metric:
        return _signed(value, 1)
    if metric == "offenders":
        return _signed(value, 0)
    return _signed(value, 2)


def _format_economic(metric: str, value: float) -> str:
    if _nan(value):
        return "–"
    if metric.startswith("benefit_per_pound") and "share" not in metric:
        return _pounds_per_pound(value)
    if metric.endswith("_share"):
        return percent(value, 0)
    if metric.startswith("proven_reoffences_averted"):
        return f"{value:,.1f}"
    return money(value)


ECONOMIC_LABELS = {
    "iom_cost": "IOM spend (the IOM programme's own items), discounted",
    "iom_cost_per_offender": "IOM spend per offender, discounted",
    "induced_cost": "Costs IOM raises elsewhere (public items that rise), discounted",
    "cost_taxpayer": "Cost to the taxpayer: IOM spend and the costs it raises, discounted",
    "iom_cost_police_probation": "IOM spend by police and probation, discounted",
    "benefit_per_pound_evaluation": "Benefit per £1, as the evaluation counted it",
    "npv_evaluation": "Net present value, as the evaluation counted it",
    "benefit_evaluation": "… its benefit: proven reoffences averted x cost of crime",
    "proven_reoffences_averted_evaluation": "… proven reoffences averted in two years (number)",
    "cost_per_proven_reoffence_evaluation": "… cost of crime per proven reoffence",
    "benefit_per_pound_taxpayer": "Benefit per £1, to the taxpayer",
    "npv_taxpayer": "Net present value, to the taxpayer",
    "benefit_taxpayer": "… its benefit: public costs averted, discounted",
    "benefit_per_pound_taxpayer_cashable": "Benefit per £1, to the taxpayer, cashable (no prison)",
    "npv_taxpayer_cashable": "Net present value, to the taxpayer, cashable",
    "benefit_per_pound_social": "Benefit per £1, to society",
    "npv_social": "Net present value, to society",
    "benefit_social": "… its benefit: public and victims' costs averted, discounted",
    "benefit": "Benefit to society (as benefit_social), discounted",
    "benefit_criminal_justice": "… of which criminal justice costs averted (net)",
    "benefit_victims": "… of which cost to victims and society averted",
    "benefit_per_pound": "Benefit per £1 spent on IOM (as to society)",
    "npv": "Net present value (as to society)",
    "fiscal_net_change": "Net change in agency costs (IOM minus without IOM)",
    "social_net_change": "Net change in agency costs and cost to victims",
    "benefit_per_pound_exceeds_one_share": "Share of replications with benefit per £1 above £1",
}

OUTCOME_LABELS = {
    "reconviction_rate_12m": "Reconvicted within 12 months",
    "reconviction_rate_24m": "Reconvicted within 24 months",
    "reconviction_rate_12m_before": "Reconvicted in the 12 months before day 0",
    "reconviction_rate_24m_before": "Reconvicted in the 24 months before day 0",
    "convictions_per_offender_12m": "Convictions per offender, 12 months",
    "convictions_per_offender_24m": "Convictions per offender, 24 months",
    "convictions_per_offender_12m_before": "Convictions per offender, 12 months before",
    "convictions_per_offender_24m_before": "Convictions per offender, 24 months before",
    "proven_reoffending_rate_12m": "Proven reoffending within 12 months (MoJ measure)",
    "proven_reoffending_rate_24m": "Proven reoffending within 24 months (MoJ measure)",
    "proven_reoffences_per_offender_12m": "Proven reoffences per offender within 12 months (MoJ)",
    "proven_reoffending_rate_12m_before": "Proven reoffending, 12 months before",
    "proven_reoffending_rate_24m_before": "Proven reoffending, 24 months before",
    "reconviction_rate_24m_relative_change": "Reconviction within 24 months: change on before",
    "convictions_12m_relative_change_vs_24m_before":
        "Convictions in 12 months: change on the 24 months before",
    "mean_ogrs": "Mean OGRS (predicted proven reoffending in 2 years)",
    "mean_ogrs_at_registration": "Mean OGRS measured at registration (day 0)",
    "actual_vs_predicted_reduction": "Actual against predicted reoffending: reduction",
    "offences_per_offender": "Offences per offender (detected or not)",
    "detected_offences_per_offender": "Detected offences per offender",
    "custody_days_per_offender": "Days in custody per offender",
    "custody_days_per_offender_24m": "Days in custody per offender, 24 months",
    "custody_days_per_offender_24m_before": "Days in custody per offender, 24 months before",
    "recalls_per_offender": "Recalls per offender",
    "iom_days_per_offender": "Days on IOM per offender",
    "pathway_referrals_per_offender": "Pathway referrals per offender",
    "exited_share": "Left the cohort (death, moved away)",
}


def _outcome_label(metric: str) -> str:
    if metric in OUTCOME_LABELS:
        return OUTCOME_LABELS[metric]
    m = re.fullmatch(r"offences_per_offender_(.+)", metric)
    if m:
        return f"Offences per offender: {m.group(1).replace('_', ' ')}"
    m = re.fullmatch(r"mean_wait_days_(.+)", metric)
    if m:
        return f"Mean wait for {m.group(1).replace('_', ' ')} (days)"
    m = re.fullmatch(r"waits_per_offender_(.+)", metric)
    if m:
        return f"Waits per offender for {m.group(1).replace('_', ' ')}"
    return metric.replace("_", " ").capitalize()


def _scalar(v: Any) -> Any:
    if isinstance(v, dict) and "value" in v:
        return v["value"]
    return v


def _short_value(v: Any) -> str:
    """A scenario value in a table cell: numbers plainly, mappings and lists compactly."""
    v = _scalar(v)
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:,.6g}" if abs(v) < 1e6 else f"{v:,.0f}"
    if isinstance(v, dict):
        text = ", ".join(f"{k} {_short_value(x)}" for k, x in v.items())
    elif isinstance(v, list):
        text = ", ".join(_short_value(x) for x in v)
    else:
        text = str(v)
    return text if len(text) <= 120 else text[:117] + "…"


def _scenario_in_words(manifest: dict[str, Any], costs: pd.DataFrame) -> list[str]:
    sc = manifest.get("resolved_scenario") or {}
    g = lambda path, default=None: _scalar(_get(sc, path, default))  # noqa: E731
    sizes = manifest.get("cohort_size") or []
    n_selected = round(sum(sizes) / len(sizes)) if sizes else g("selection.cohort_size")
    horizon = g("horizon_years") or (int(costs["year"].max()) if len(costs) else None)
    out = []
    cohort = sc.get("cohort") or {}
    if isinstance(cohort, dict) and cohort.get("from_csv"):
        source = f"the offenders in {cohort.get('from_csv')}"
    elif g("cohort.size"):
        source = f"a simulated population of {g('cohort.size'):,} offenders"
    else:
        source = "the scenario's population"
    pre = g("pre_period_months")
    words = [("The IOM cohort is one offender" if n_selected == 1 else
              f"The IOM cohort is {n_selected:,} offenders") if n_selected else "The IOM cohort",
             f" selected at day 0 ({g('start_date')})" if g("start_date") else " selected at day 0",
             f" from {source}"]
    if pre:
        words.append(f", after {pre} months simulated without IOM")
    rules = []
    if g("selection.ogrs_min") is not None:
        rules.append(f"OGRS at least {percent(float(g('selection.ogrs_min')))}")
    k = g("selection.min_convictions_pre_period")
    if k:
        rules.append(f"at least {k} conviction{'s' if k != 1 else ''} in "
                     + ("that period" if pre else "the period before day 0"))
    rank = g("selection.rank_by")
    if rank:
        rank = {"convictions_pre_period": "convictions before day 0"}.get(
            str(rank), str(rank).replace("_", " "))
        rules.append(f"the most {rank} first" if "convictions" in rank else f"ranked by {rank}")
    if rules:
        words.append(" (" + "; ".join(rules) + ")")
    words.append(".")
    if isinstance(cohort, dict) and cohort.get("offenders"):
        listed = len(cohort["offenders"])
        start = f" from day 0 ({g('start_date')})" if g("start_date") else " from day 0"
        fixed = any(isinstance(o, dict) and o.get("scheduled_events")
                    for o in cohort["offenders"])
        words = ["The cohort is " + ("the one offender" if listed == 1 else f"the {listed:,} "
                 "offenders") + " described in the scenario" + (
                     ", whose known events (such as a release or a recall) are fixed there; "
                     "everything else is simulated" if fixed else ", simulated") + start + "."]
    out.append("".join(words))
    follow = "The cohort is then simulated"
    if horizon:
        follow += f" for {horizon} year{'s' if horizon != 1 else ''}"
    follow += (" in two arms, with IOM and without, on common random numbers (the same chance "
               "events wherever the two paths allow), so the difference between the arms is the "
               "effect of IOM in the model.")
    out.append(follow)
    effect = g("iom.effects.offending_multiplier")
    if effect is not None:
        text = (f"While on IOM, offending is multiplied by {float(effect):g}")
        if g("iom.effects.responder_share") is not None:
            text += (f" for the {percent(float(g('iom.effects.responder_share')))} of offenders "
                     "who respond")
        if g("iom.max_duration_days"):
            text += f"; IOM lasts at most {g('iom.max_duration_days'):,} days"
        out.append(text + ".")
    money_words = []
    if g("price_year"):
        money_words.append(f"Money is in pounds at {g('price_year')} prices")
    if g("discount_rate") is not None:
        money_words.append(f"future costs are discounted at {percent(float(g('discount_rate')), 1)}"
                           " a year (year 1 undiscounted)")
    if money_words:
        out.append("; ".join(money_words) + ".")
    run = f"{manifest.get('reps', '?')} replications with seed {manifest.get('seed', '?')}"
    overrides = manifest.get("overrides") or {}
    if overrides:
        run += "; values changed from the scenario file: " + ", ".join(
            f"{k} = {_short_value(v)}" for k, v in overrides.items())
    out.append(f"Simulated in {run}.")
    return out


def _window(f: _Folder) -> str:
    """24 months when the horizon covers them (as in the Sussex evaluation), else 12."""
    years = int(f.tables["costs"]["year"].max()) if len(f.tables["costs"]) else 0
    available = not _nan(_outcome(f.tables["outcomes"], "iom", "reconviction_rate_24m"))
    return "24m" if years >= 2 and available else "12m"


def _headlines(f: _Folder) -> list[dict[str, str]]:
    econ, outc = f.tables["economics"], f.tables["outcomes"]
    items = []

    def add(label: str, value: str, note: str = "") -> None:
        items.append({"label": label, "value": value, "note": note})

    victims = _get(f.manifest.get("resolved_scenario") or {},
                   "economics.include_victims_in_benefit", True)  # the schema's default

    def measure(key: str) -> tuple[str, str]:
        m = f"benefit_per_pound_{key}"
        if not (econ["metric"] == m).any():  # a results folder written before the three measures
            m = "benefit_per_pound"
        npv = _economic(econ, f"npv_{key}") if m != "benefit_per_pound" else _economic(econ, "npv")
        note = _interval(_economic(econ, m, "lo"), _economic(econ, m, "hi"), _pounds_per_pound)
        return _pounds_per_pound(_economic(econ, m)), "; ".join(
            x for x in (note, f"NPV {money(npv)}" if not _nan(npv) else "") if x)

    # The three benefit measures side by side, first (docs/model.md, 7.12).
    value, note = measure("evaluation")
    add("Benefit per £1 spent on IOM, as the evaluation counted it", value,
        "; ".join(x for x in (note, "proven reoffences averted against predicted, valued at "
                              "the cost of crime, over police and probation's IOM spend") if x))
    value, note = measure("taxpayer")
    cash, cash_note = measure("taxpayer_cashable")
    add("Benefit per £1 spent on IOM, to the taxpayer", value,
        "; ".join(x for x in (note, "public costs averted over IOM's cost and the costs it "
                              f"raises elsewhere; cashable (what is released as cash): {cash}")
                  if x))
    value, note = measure("social")
    add("Benefit per £1 spent on IOM, to society", value,
        "; ".join(x for x in (note, "the taxpayer's benefit and the cost to victims averted "
                              "(benefit_per_pound)" if _scalar(victims) else
                              "victims not counted: as to the taxpayer") if x))
    switching = f.tables.get("switching_value")
    if switching is not None and len(switching):
        rows = {r["measure"]: r for _, r in switching.iterrows()}
        first = rows.get("npv_taxpayer", next(iter(rows.values())))
        value = "n/a" if _nan(first["effect"]) else f"{first['effect']:.1%} cut"
        add("Switching value: the smallest cut in offending that pays back", value,
            "; ".join(switching_sentence(m, r["effect"], r["effect_lo"], r["effect_hi"],
                                         r.get("confidence", 0.95))
                      for m, r in rows.items()) + f" ({int(first['reps'])} replications, "
            "iomsim breakeven --switching-value)")
    cost = _economic(econ, "iom_cost")
    per = _economic(econ, "iom_cost_per_offender")
    add("IOM spend (discounted)", money(cost),
        f"{money(per)} per offender" if not _nan(per) else "")
    add("Net present value, to society", money(_economic(econ, "npv")),
        _interval(_economic(econ, "npv", "lo"), _economic(econ, "npv", "hi"), money))
    w = _window(f)
    before = _outcome(outc, "iom", f"reconviction_rate_{w}_before")
    after = _outcome(outc, "iom", f"reconviction_rate_{w}")
    without = _outcome(outc, "non_iom", f"reconviction_rate_{w}")
    if _nan(before):
        add(f"Reconvicted within {w[:-1]} months, with IOM", percent(after),
            f"without IOM: {percent(without)}")
    else:
        add(f"Reconvicted within {w[:-1]} months: before → after (with IOM)",
            f"{percent(before)} → {percent(after)}", f"without IOM after: {percent(without)}")
    add("Net change in agency costs", money(_economic(econ, "fiscal_net_change")),
        "IOM minus without IOM, discounted; negative is a saving")
    return items


def _agency_table(cba: pd.DataFrame) -> list[dict[str, Any]]:
    rows = []
    agencies = plots._ordered_agencies(cba["agency"])
    for agency in agencies:
        get = lambda arm, col: plots._value(cba, arm, agency, col)  # noqa: E731
        base, iom = get("non_iom", "cost"), get("iom", "cost")
        dbase, diom = get("non_iom", "discounted_cost"), get("iom", "discounted_cost")
        if all(_nan(v) or v == 0 for v in (base, iom)):
            continue
        rows.append({
            "agency": agency_label(agency), "victims": agency == VICTIMS, "total": False,
            "non_iom": money(base), "iom": money(iom),
            "change": money(iom - base), "change_discounted": money(diom - dbase),
            "share_non_iom": "" if agency == VICTIMS else percent(get("non_iom", "share"), 1),
            "share_iom": "" if agency == VICTIMS else percent(get("iom", "share"), 1),
        })
    non_victims = cba[cba["agency"] != VICTIMS]
    totals = non_victims.groupby("arm")[["cost", "discounted_cost"]].sum()
    if {"non_iom", "iom"} <= set(totals.index):
        rows.insert(len([r for r in rows if not r["victims"]]), {
            "agency": "All agencies", "victims": False, "total": True,
            "non_iom": money(totals.loc["non_iom", "cost"]),
            "iom": money(totals.loc["iom", "cost"]),
            "change": money(totals.loc["iom", "cost"] - totals.loc["non_iom", "cost"]),
            "change_discounted": money(totals.loc["iom", "discounted_cost"]
                                       - totals.loc["non_iom", "discounted_cost"]),
            "share_non_iom": "100%", "share_iom": "100%"})
    return rows


def _economics_table(econ: pd.DataFrame) -> list[dict[str, str]]:
    rows = []
    order = list(ECONOMIC_LABELS)
    net = [m for m in econ["metric"] if m.startswith("net_change_") and
           not m.endswith("_undiscounted")]
    for metric in order + net:
        row = econ[econ["metric"] == metric]
        if not len(row):
            continue
        r = row.iloc[0]
        if metric.startswith("net_change_"):
            agency = metric.removeprefix("net_change_")
            label = f"Net change: {agency_label(agency)}"
        else:
            label = ECONOMIC_LABELS[metric]
        fmt = lambda v, m=metric: _format_economic(m, v)  # noqa: E731
        rows.append({"label": label, "value": fmt(r["value"]),
                     "interval": "" if _nan(r.get("lo")) else f"{fmt(r['lo'])} to {fmt(r['hi'])}"})
    return rows


def _outcomes_table(outc: pd.DataFrame, not_available: dict[str, str] | None = None
                    ) -> list[dict[str, str]]:
    """The outcomes, formatted; a metric of ``not_available`` (the manifest's
    ``metrics_not_available``: its window runs past the horizon) says so instead of numbers."""
    rows = []
    for metric in dict.fromkeys(outc["metric"]):
        if metric in (not_available or {}):
            rows.append({"label": _outcome_label(metric), "non_iom": "n/a", "iom": "n/a",
                         "difference": "n/a",
                         "interval": f"not available: {not_available[metric]}"})
            continue
        non, iom = _outcome(outc, "non_iom", metric), _outcome(outc, "iom", metric)
        diff = _outcome(outc, "iom_minus_non_iom", metric)
        lo, hi = (_outcome(outc, "iom_minus_non_iom", metric, c) for c in ("lo", "hi"))
        rows.append({"label": _outcome_label(metric),
                     "non_iom": _format_metric(metric, non), "iom": _format_metric(metric, iom),
                     "difference": _format_difference(metric, diff),
                     "interval": "" if _nan(lo) else
                     f"{_format_difference(metric, lo)} to {_format_difference(metric, hi)}"})
    return rows


def _population_table(pop: pd.DataFrame) -> list[dict[str, str]]:
    rows = []
    for measure in dict.fromkeys(pop["measure"]):
        vals = {}
        for population in ("selected", "not_selected"):
            row = pop[(pop["population"] == population) & (pop["measure"] == measure)]
            v = float(row["value"].iloc[0]) if len(row) else math.nan
            if measure.startswith("need_") or "ogrs" in measure or measure.endswith("_share"):
                vals[population] = percent(v, 1)
            elif measure == "offenders":
                vals[population] = "–" if _nan(v) else f"{v:,.0f}"
            else:
                vals[population] = "–" if _nan(v) else f"{v:,.2f}"
        label = measure.removeprefix("need_").replace("_", " ")
        label = ("Need: " + label) if measure.startswith("need_") else label.capitalize()
        label = label.replace("ogrs", "OGRS").replace(" pre period", ", pre-period")
        rows.append({"label": label, **vals})
    return rows


def _assumptions(manifest: dict[str, Any]) -> tuple[list[dict[str, str]], dict[str, int]]:
    provenance = manifest.get("provenance") or {}
    resolved = manifest.get("resolved_scenario") or {}
    rows, counts = [], {"source": 0, "assumption": 0, "calibrated": 0}
    for path in sorted(provenance):
        meta = provenance[path]
        if not isinstance(meta, dict):
            continue
        kinds = [k for k in ("source", "calibrated", "assumption") if meta.get(k)]
        kind = kinds[0] if kinds else "note"
        if kind in counts:
            counts[kind] += 1
        text = "; ".join(str(meta[k]) for k in kinds) or str(meta.get("note", ""))
        if meta.get("note") and kind != "note":
            text += f" ({meta['note']})"
        rows.append({"path": path, "path_parts": path.split("."), "value": _short_value(_get(resolved, path)), "kind": kind,
                     "text": text, "price_year": str(meta.get("price_year", "") or ""),
                     "unit": str(meta.get("unit", "") or "")})
    return rows, counts


# ---------------------------------------------------------------------------------------------
# Charts


@dataclass
class _Chart:
    filename: str
    title: str
    caption: str
    png: bytes = b""
    rows: list[dict[str, str]] = field(default_factory=list)  # a short table under the chart

    @property
    def base64(self) -> str:
        return base64.b64encode(self.png).decode("ascii")


def _render(fig: Figure, footer: str = "") -> bytes:
    """The PNG of a chart, with ``footer`` (the price year and horizon) along its bottom and in
    its metadata, so that a chart pasted on its own keeps its meaning."""
    if footer:
        plots.add_footer(fig, footer)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110,
                metadata={"Software": None, **({"Description": footer} if footer else {})})
    return buf.getvalue()


def _charts(f: _Folder) -> list[_Chart]:
    t, m = f.tables, f.manifest
    sizes = m.get("cohort_size") or []
    n = (sum(sizes) / len(sizes)) if sizes else 1.0
    years = int(t["costs"]["year"].max()) if len(t["costs"]) else 1
    per = max(n, 1.0) * max(years, 1)
    one = round(n) == 1 and years == 1
    footer = chart_footer(m)
    charts = []

    fig = Figure(figsize=(9, 5.8), layout="constrained")
    plots.plot_agency_shares(t["costs_by_agency"], ax=fig.subplots())
    charts.append(_Chart(CHARTS["agency_cost_shares"], "Agency cost shares, with and without IOM",
                          "Each agency's share of the cohort's undiscounted agency costs over the "
                          "horizon (victims and society are not an agency and are left out); the "
                          "total is above each bar.",
                          png=_render(fig, footer)))

    fig = Figure(figsize=(13, 5.2), layout="constrained")
    axes = fig.subplots(1, 2, sharex=True)
    who = "One offender's year" if one else "An average offender's year"
    for ax, arm in zip(axes, ("non_iom", "iom")):
        plots.plot_offender_breakdown(t["costs_by_agency"], ax=ax, arm=arm, per=per)
        ax.set_title(f"{plots.arm_label(arm)}: {ax.get_title().rsplit(': ', 1)[-1]}")
        ax.set_xlabel("Cost per offender per year (£)")
    fig.suptitle(f"{who}: cost by agency (undiscounted)")
    charts.append(_Chart(CHARTS["offender_year_by_agency"], f"{who}, cost by agency",
                          "Cost to each agency, undiscounted" + (
                              "." if one else f": the cohort's totals divided by {n:,.0f} offenders "
                              f"and {years} year{'s' if years != 1 else ''}, so comparable with the "
                              "£61,000 case study of one complex offender's year."),
                          png=_render(fig, footer)))

    fig = Figure(figsize=(9, 5.5), layout="constrained")
    plots.plot_cumulative_cost(t["costs"], ax=fig.subplots())
    charts.append(_Chart(CHARTS["cumulative_cost"], "Cumulative cost by year",
                          "Agency costs for the whole cohort, mean over replications, undiscounted "
                          "(solid) and discounted (dashed)." + (
                              " With a one-year horizon nothing is discounted (year 1 never is), so "
                              "each arm's two lines coincide." if years == 1 else ""),
                          png=_render(fig, footer)))

    fig = Figure(figsize=(10, 6), layout="constrained")
    plots.plot_who_pays(t["economics"], ax=fig.subplots())
    charts.append(_Chart(CHARTS["who_pays_who_saves"], "Who pays and who saves",
                          "Net change in discounted cost for each agency and for victims and society, "
                          "IOM minus without IOM: to the right a payer spends more with IOM, to the "
                          "left it saves.",
                          png=_render(fig, footer)))

    fig = Figure(figsize=(13, 5.2), layout="constrained")
    a1, a2 = fig.subplots(1, 2)
    plots.plot_survival(t["survival"], ax=a1)
    plots.plot_reconviction_reductions(t["outcomes"], ax=a2, window=_window(f))
    charts.append(_Chart(CHARTS["reconviction"], "Reconviction",
                          "Left: share of the cohort not yet reconvicted, by month from day 0 (band: "
                          "95% interval of the mean). Right: the before/after fall an evaluation "
                          "without a comparison group would see, beside the counterfactual "
                          "difference against the same cohort without IOM.",
                          png=_render(fig, footer)))

    if t.get(DECOMPOSITION.name) is not None:
        fig = Figure(figsize=(10, 4.8), layout="constrained")
        plots.plot_decomposition(t[DECOMPOSITION.name], ax=fig.subplots())
        charts.append(_Chart(
            CHARTS["decomposition"], "What the before/after change in reconviction is made of",
            "The change from the 24 months before day 0 to the 24 months after it, with IOM (top), "
            "and its three parts, which sum to it: regression to the mean and ageing (the change "
            "the same cohort shows without IOM, less the custody part; the two are not separated), "
            "custody (the change the before figure would show if only the time at liberty "
            "changed: a first-order exposure adjustment) and IOM (against the same cohort without "
            "IOM). Bars: mean over replications, with the 95% interval of the mean. Only the IOM "
            "part is the effect of IOM.",
            png=_render(fig, footer), rows=decomposition_rows(t[DECOMPOSITION.name])))
    return charts


# ---------------------------------------------------------------------------------------------
# Workbook


def _cell(ws, value, bold=False, number_format=None):
    """A write-only cell: text always as text (never a formula), numbers with ``number_format``."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    if isinstance(value, float) and math.isnan(value):
        value = None
    elif hasattr(value, "item") and not isinstance(value, str):  # numpy scalars
        value = value.item()
    c = WriteOnlyCell(ws, value=value)
    if isinstance(value, str):
        c.data_type = "s"  # never a formula, whatever the text starts with
    elif number_format and isinstance(value, (int, float)) and not isinstance(value, bool):
        c.number_format = number_format
    if bold:
        c.font = Font(bold=True)
    return c


def _row_format(table_name: str, row: tuple, columns: list[str]) -> dict[str, str]:
    """Number formats that depend on the row: money rows of economics, rates of outcomes."""
    if table_name == ECONOMICS.name:
        metric = row[columns.index("metric")]
        # Money, and benefit per £1 (pounds back per pound), to the penny; shares as percentages.
        fmt = _POUNDS if is_money_metric(metric) or not metric.endswith("_share") else _PERCENT
        return dict.fromkeys(ECONOMICS.subset("value", "lo", "hi", "p025", "p975"), fmt)
    if table_name == OUTCOMES.name:
        metric, arm = row[columns.index("metric")], row[columns.index("arm")]
        if is_rate(metric) and arm in ARM_LABELS:  # a difference of rates is not a percentage
            return dict.fromkeys(OUTCOMES.subset("value", "lo", "hi", "p025", "p975"), _PERCENT)
    return {}


def _summary_sheet(wb, f: _Folder) -> None:
    """The sheet the workbook opens on: what was run, and the answer, formatted."""
    from iomsim.engine.measures import window_days
    from iomsim.engine.model import DAYS_PER_YEAR

    ws = wb.create_sheet(SUMMARY_SHEET)
    m, t = f.manifest, f.tables
    terms = run_terms(m)
    horizon = terms["horizon_years"]
    if horizon is None:
        horizon = float(t["costs"]["year"].max()) if len(t["costs"]) else math.nan
    for i, width in enumerate((44, 18, 18, 18), start=1):
        ws.column_dimensions[chr(ord("A") + i - 1)].width = width
    name = title(m.get("scenario_name") or f.path.name, m.get("scenario_file"),
                 m.get("scenario_based_on"))
    sizes = m.get("cohort_size") or []
    ws.append([_cell(ws, name, bold=True)])
    for key, value, fmt in (
            ("scenario file", m.get("scenario_file") or "", None),
            ("price year", terms["price_year"] or "", None),
            ("money", price_phrase(terms["price_year"], terms["discount_rate"])
             + " (year 1 undiscounted)", None),
            ("horizon (years)", horizon, None),
            ("replications", m.get("reps"), "0"),
            ("seed", m.get("seed"), "0"),
            ("cohort (offenders, mean over replications)",
             (sum(sizes) / len(sizes)) if sizes else None, "#,##0")):
        ws.append([_cell(ws, key, bold=True), _cell(ws, value, number_format=fmt)])
    ws.append([])

    def header(*cells):
        ws.append([_cell(ws, c, bold=True) for c in cells])

    header(f"{horizon_adjective(horizon)} cost by agency (discounted)", ARM_LABELS["non_iom"],
           ARM_LABELS["iom"], "change")
    cba = t["costs_by_agency"]
    totals, victims = [0.0, 0.0], None
    for agency in plots._ordered_agencies(cba["agency"]):
        base = plots._value(cba, "non_iom", agency, "discounted_cost")
        iom = plots._value(cba, "iom", agency, "discounted_cost")
        base, iom = (0.0 if _nan(v) else v for v in (base, iom))
        if base == 0 and iom == 0:
            continue
        if agency == VICTIMS:
            victims = (base, iom)
            continue
        totals = [totals[0] + base, totals[1] + iom]
        ws.append([_cell(ws, agency_label(agency)),
                   *(_cell(ws, v, number_format=_WHOLE_POUNDS)
                     for v in (base, iom, round(iom - base, 2)))])
    ws.append([_cell(ws, "All agencies", bold=True),
               *(_cell(ws, v, bold=True, number_format=_WHOLE_POUNDS)
                 for v in (*totals, round(totals[1] - totals[0], 2)))])
    if victims is not None:
        ws.append([_cell(ws, agency_label(VICTIMS)),
                   *(_cell(ws, v, number_format=_WHOLE_POUNDS)
                     for v in (*victims, round(victims[1] - victims[0], 2)))])
    ws.append([])

    header("Economics (discounted)", "value", "95% interval from", "to")
    econ = t["economics"]
    for metric, label, fmt in (
            ("iom_cost", "IOM spend", _WHOLE_POUNDS),
            ("iom_cost_police_probation", "IOM spend by police and probation", _WHOLE_POUNDS),
            ("cost_taxpayer", "IOM spend and the costs it raises elsewhere", _WHOLE_POUNDS),
            ("benefit_per_pound_evaluation", "Benefit per £1, as the evaluation counted it",
             _POUNDS),
            ("npv_evaluation", "Net present value, as the evaluation counted it", _WHOLE_POUNDS),
            ("benefit_per_pound_taxpayer", "Benefit per £1, to the taxpayer", _POUNDS),
            ("npv_taxpayer", "Net present value, to the taxpayer", _WHOLE_POUNDS),
            ("benefit_per_pound_taxpayer_cashable",
             "Benefit per £1, to the taxpayer, cashable (no prison places)", _POUNDS),
            ("npv_taxpayer_cashable", "Net present value, to the taxpayer, cashable",
             _WHOLE_POUNDS),
            ("benefit_per_pound_social", "Benefit per £1, to society", _POUNDS),
            ("npv_social", "Net present value, to society", _WHOLE_POUNDS),
            ("benefit", "Benefit to society: costs averted", _WHOLE_POUNDS),
            ("benefit_per_pound", "Benefit per £1 spent on IOM (as to society)", _POUNDS),
            ("npv", "Net present value (as to society)", _WHOLE_POUNDS),
            ("fiscal_net_change", "Net change in agency costs", _WHOLE_POUNDS)):
        if not (econ["metric"] == metric).any():
            continue
        ws.append([_cell(ws, label), *(_cell(ws, _economic(econ, metric, c), number_format=fmt)
                                       for c in ("value", "lo", "hi"))])
    ws.append([])

    header("Outcomes", ARM_LABELS["non_iom"], ARM_LABELS["iom"], "change")
    outc = t["outcomes"]
    for metric in ("reconviction_rate_12m", "reconviction_rate_24m_before",
                   "reconviction_rate_24m", "convictions_per_offender_12m",
                   "actual_vs_predicted_reduction"):
        if not (outc["metric"] == metric).any():
            continue
        label = _outcome_label(metric)
        if not _nan(horizon) and window_days(metric) > horizon * DAYS_PER_YEAR + 1e-9:
            ws.append([_cell(ws, label), *(_cell(ws, "n/a") for _ in range(2)),
                       _cell(ws, f"window longer than the {horizon_phrase(horizon)}")])
            continue
        base, iom = _outcome(outc, "non_iom", metric), _outcome(outc, "iom", metric)
        diff = _outcome(outc, "iom_minus_non_iom", metric)
        if _nan(diff):
            diff = iom - base
        rate = is_rate(metric)
        ws.append([_cell(ws, label),
                   *(_cell(ws, v, number_format=_PERCENT if rate else "0.000")
                     for v in (base, iom)),
                   _cell(ws, diff * 100 if rate else diff,
                         number_format=_POINTS if rate else '+0.000;-0.000;0.000')])
    ws.append([])
    ws.append([_cell(ws, "The sheets that follow are the tables of the results folder (columns "
                         "as in the iomsim README, Results directory); 'about' says what was "
                         "run.")])


def _write_workbook(f: _Folder, path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    cell = _cell
    _summary_sheet(wb, f)

    for table in (*TABLES, *(t for t in OPTIONAL_TABLES if t.name in f.tables)):
        name = table.name
        df = f.tables[name]
        note = None
        if len(df) > EXCEL_MAX_ROWS and table is COSTS:
            summed = COSTS.subset("replication", "cost", "discounted_cost")
            keys = [c for c in df.columns if c not in summed]
            df = df.groupby(keys, sort=False)[["cost", "discounted_cost"]].mean().reset_index()
            note = "mean over replications (the full table is too long for a worksheet)"
        ws = wb.create_sheet(name)
        formats = [SHEET_FORMATS.get(name, {}).get(c) for c in df.columns]
        columns = [str(c) for c in df.columns]
        by_row = name in (ECONOMICS.name, OUTCOMES.name)
        for i, c in enumerate(df.columns):
            ws.column_dimensions[get_column_letter(i + 1)].width = max(12, len(str(c)) + 4)
        ws.append([cell(ws, str(c), bold=True) for c in df.columns])
        for row in df.itertuples(index=False, name=None):
            row_formats = formats
            if by_row:
                extra = _row_format(name, row, columns)
                row_formats = [extra.get(c, fmt) for c, fmt in zip(columns, formats)]
            ws.append([cell(ws, v, number_format=fmt) for v, fmt in zip(row, row_formats)])
        if note:
            ws.append([cell(ws, note)])

    ws = wb.create_sheet("about")
    m = f.manifest
    name = title(m.get("scenario_name") or "", m.get("scenario_file"), m.get("scenario_based_on"))
    terms = run_terms(m)
    for key, value in (("scenario", name), ("scenario file", m.get("scenario_file")),
                       ("scenario hash", m.get("scenario_hash")),
                       ("price year", terms["price_year"]),
                       ("money", price_phrase(terms["price_year"], terms["discount_rate"])
                        + " (year 1 undiscounted)"),
                       ("horizon (years)", terms["horizon_years"]),
                       ("seed", m.get("seed")),
                       ("replications", m.get("reps")),
                       ("overrides", json.dumps(m.get("overrides") or {}, sort_keys=True)),
                       ("iomsim", (m.get("versions") or {}).get("iomsim")),
                       ("finished", m.get("finished")),
                       ("tables", "after the summary, one sheet per file of the results folder; "
                                  "columns as in the iomsim README, Results directory")):
        ws.append([cell(ws, key, bold=True), cell(ws, value if not isinstance(value, (dict, list))
                                                  else json.dumps(value))])
    rows, _ = _assumptions(m)
    ws = wb.create_sheet("assumptions")
    ws.append([cell(ws, h, bold=True) for h in ("path", "value", "kind", "source or assumption",
                                                 "price year")])
    for r in rows:
        ws.append([cell(ws, r[k]) for k in ("path", "value", "kind", "text", "price_year")])
    wb.save(path)


# ---------------------------------------------------------------------------------------------


def _environment():
    from jinja2 import Environment, PackageLoader, StrictUndefined

    return Environment(loader=PackageLoader("iomsim.reporting", "templates"), autoescape=True,
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def write_report(results_dir: Path | str) -> Path:
    """Write ``report.html``, ``results.xlsx`` and a PNG per chart into a results folder.

    Returns the path of ``report.html``. A folder that is not a complete results folder raises
    :class:`iomsim.errors.InputError` naming the file.
    """
    f = _load(Path(results_dir))
    charts = _charts(f)
    m = f.manifest
    assumptions, counts = _assumptions(m)
    context = {
        "title": title(m.get("scenario_name") or f.path.name, m.get("scenario_file"),
                       m.get("scenario_based_on")),
        "description_own": not (m.get("scenario_based_on") or {}).get("description_inherited"),
        "scenario_file": m.get("scenario_file") or "",
        "scenario_hash": (m.get("scenario_hash") or "")[:12],
        "finished": m.get("finished") or "",
        "generated": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "version": (m.get("versions") or {}).get("iomsim", ""),
        "description": description(" ".join(str(_scalar(_get(
            m.get("resolved_scenario") or {}, "description")) or "").split()),
            m.get("scenario_based_on")),
        "words": _scenario_in_words(m, f.tables["costs"]),
        "headlines": _headlines(f),
        "agency_rows": _agency_table(f.tables["costs_by_agency"]),
        "economics_rows": _economics_table(f.tables["economics"]),
        "payer_rows": payer_rows(f.tables.get("savings_by_payer")),
        "outcome_rows": _outcomes_table(f.tables["outcomes"],
                                        m.get("metrics_not_available") or {}),
        "population_rows": _population_table(f.tables["population"]),
        "charts": charts,
        "assumptions": assumptions,
        "counts": counts,
        "caveats": VALIDATION_CAVEATS,
        "workbook": WORKBOOK,
    }
    html = _environment().get_template("report.html").render(**context)
    out = f.path / REPORT
    # All or none of them: a full disk part way leaves no chart without its report.
    write_files_atomic([
        *((f.path / c.filename, lambda p, png=c.png: p.write_bytes(png)) for c in charts),
        (f.path / WORKBOOK, lambda p: _write_workbook(f, p)),
        (out, lambda p: p.write_text(html, encoding="utf-8"))])
    return out


__all__ = ["write_report"]
