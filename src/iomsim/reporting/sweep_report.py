"""The report of a sweep folder: ``report.html`` beside its tables (never by re-running).

For a probabilistic sensitivity analysis it says where the uncertainty comes from (the
calibration's accepted draws, the scenario values with an ``uncertainty:``, the sweep file's
parameters), gives P(benefit > cost) on each benefit measure with the chance of clearing the
value-for-money hurdles, and draws the acceptability curves of the benefit measures and of the
IOM cost per offender. Other designs get their tables (tornado, Sobol, Morris) as they are.
``iomsim sweep`` writes it when the sweep finishes; :func:`write_sweep_report` writes it again.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

import pandas as pd

from iomsim.atomic import write_text_atomic
from iomsim.economics import PERSPECTIVE_LABELS

SWEEP_MANIFEST = "sweep.json"
REPORT = "report.html"

_STYLE = """
body { font-family: "Segoe UI", Helvetica, Arial, sans-serif; color: #1b1b1b; margin: 0;
       line-height: 1.45; }
main { max-width: 1000px; margin: 0 auto; padding: 1.5rem 2rem 4rem; }
h1 { font-size: 1.6rem; border-bottom: 4px solid #0072B2; padding-bottom: 0.3rem; }
h2 { font-size: 1.25rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; width: 100%; font-size: 0.88rem; margin: 0.6rem 0 1rem; }
th, td { padding: 0.3rem 0.55rem; border-bottom: 1px solid #e3e3e3; vertical-align: top; }
th { text-align: left; background: #f5f5f5; }
td.num, th.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
td.path { font-family: Consolas, "DejaVu Sans Mono", monospace; font-size: 0.8rem; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption, .note { font-size: 0.88rem; color: #444; }
.caveats { background: #fff8e6; border-left: 4px solid #E69F00; padding: 0.6rem 1rem; }
"""


def write_sweep_report(folder: str | Path) -> Path:
    """Write ``report.html`` into a finished sweep folder and return its path."""
    folder = Path(folder)
    manifest = json.loads((folder / SWEEP_MANIFEST).read_text(encoding="utf-8"))
    tables = {p.stem: pd.read_csv(p) for p in sorted(folder.glob("*.csv"))
              if p.stat().st_size}  # an empty file is a table with nothing to show
    body = [f"<h1>{_e(manifest.get('scenario_name') or 'Sweep')}: "
            f"{_e(manifest.get('design', ''))} sweep</h1>",
            f"<p class='note'>{_e(manifest.get('sweep_file', ''))}: "
            f"{manifest.get('points', '?')} points x {manifest.get('replications', '?')} "
            f"replications, seed {manifest.get('seed', '?')}, engine "
            f"{_e(manifest.get('engine', ''))}.</p>"]
    if "psa_samples" in tables:
        body += _psa_sections(manifest, tables)
    for name, title in (("tornado", "One-way sensitivity (tornado)"), ("sobol", "Sobol indices"),
                        ("morris", "Morris elementary effects")):
        if name in tables:
            body += [f"<h2>{title}</h2>", _table(tables[name])]
    page = ("<!DOCTYPE html><html lang='en-GB'><head><meta charset='utf-8'>"
            "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
            "img-src data:; style-src 'unsafe-inline'\">"
            f"<title>{_e(manifest.get('scenario_name') or 'Sweep')}: iomsim sweep report</title>"
            f"<style>{_STYLE}</style></head><body><main>{''.join(body)}</main></body></html>\n")
    out = folder / REPORT
    write_text_atomic(out, page)
    return out


def _psa_sections(manifest: dict[str, Any], tables: dict[str, pd.DataFrame]) -> list[str]:
    samples = tables["psa_samples"]
    out = ["<h2>How sure: P(benefit &gt; cost) on each benefit measure</h2>"]
    # Written by the sweep (iomsim.experiments.analysis.benefit_cost_probabilities); the hurdles
    # above £1 are its p_above_<h> columns.
    probs = tables.get("psa_by_measure", pd.DataFrame())
    hurdles = [float(c.removeprefix("p_above_")) for c in probs.columns
               if c.startswith("p_above_")]
    if not probs.empty:
        head = ("<tr><th>Benefit measure</th><th class='num'>Benefit per £1: mean</th>"
                "<th class='num'>2.5% to 97.5%</th><th class='num'>P(benefit &gt; cost)</th>"
                + "".join(f"<th class='num'>P(&gt; £{h:.2f})</th>" for h in hurdles)
                + "</tr>")
        rows = []
        for r in probs.to_dict("records"):
            rows.append(
                f"<tr><td>{_e(PERSPECTIVE_LABELS.get(r['perspective'], r['perspective']))}</td>"
                f"<td class='num'>£{r['mean']:.2f}</td>"
                f"<td class='num'>£{r['p025']:.2f} to £{r['p975']:.2f}</td>"
                f"<td class='num'>{r['probability']:.2f} (s.e. {r['probability_se']:.2f})</td>"
                + "".join(f"<td class='num'>{r[f'p_above_{h:g}']:.2f}</td>"
                          for h in hurdles) + "</tr>")
        out.append(f"<table>{head}{''.join(rows)}</table>")
    out.append(f"<p class='note'>Over {len(samples):,} PSA samples, each the mean of its "
               f"{manifest.get('replications', '?')} replications. P(benefit &gt; cost) is the "
               "share of samples whose benefit per £1 exceeds £1 (equivalently, whose NPV on that "
               "measure is positive); s.e. is its binomial standard error over the samples. "
               "£1.50, £2 and £4 are the bounds of the Department for Transport's medium, high "
               "and very high value-for-money categories. Monte Carlo noise within a sample "
               "adds to the spread between samples: with few replications the probabilities "
               "lean toward one half."
               + (" This PSA used common random numbers: every sample shares one realisation "
                  "of the Monte Carlo error, which shifts the whole distribution rather than "
                  "averaging out; common_random_numbers: false gives each sample its own."
                  if manifest.get("common_random_numbers") else "") + "</p>")
    out += ["<h2>Where the uncertainty comes from</h2>", _sources(manifest)]
    figures = []
    if "acceptability_by_measure" in tables and not tables["acceptability_by_measure"].empty:
        from iomsim.reporting.plots import plot_acceptability_by_measure

        figures.append((plot_acceptability_by_measure, tables["acceptability_by_measure"],
                        "The chance that the benefit per £1 exceeds each amount a funder might "
                        "ask for, on each benefit measure (acceptability_by_measure.csv)."))
    if "acceptability" in tables and not tables["acceptability"].empty:
        from iomsim.reporting.plots import plot_acceptability

        figures.append((plot_acceptability, tables["acceptability"],
                        "The chance that the benefit per offender (to society) exceeds what IOM "
                        "costs per offender, at each cost (acceptability.csv)."))
    if figures:
        out.append("<h2>Acceptability curves</h2>")
        for plot, frame, caption in figures:
            out.append(_figure(plot, frame, caption))
    return out


def _sources(manifest: dict[str, Any]) -> str:
    items = []
    posterior = manifest.get("posterior")
    if posterior:
        items.append(f"<li>the calibration's accepted draws: {posterior.get('accepted', '?')} of "
                     f"{posterior.get('draws', '?')} rows of {_e(posterior.get('file', ''))}, "
                     "each sample taking one row whole</li>")
    leaves = manifest.get("scenario_uncertainty") or {}
    if leaves:
        rows = "".join(f"<tr><td class='path'>{_e(p)}</td><td>{_e(w)}</td></tr>"
                       for p, w in leaves.items())
        items.append(f"<li>{len(leaves)} scenario values drawn from their own "
                     f"<code>uncertainty:</code><table><tr><th>value</th><th>its uncertainty "
                     f"is written at</th></tr>{rows}</table></li>")
    drawn_elsewhere = set(leaves) | set((posterior or {}).get("columns", ()))
    others = [p for p in manifest.get("parameters", []) if p not in drawn_elsewhere]
    if others:
        items.append("<li>the sweep file's parameters: " + ", ".join(
            f"<code>{_e(p)}</code>" for p in others) + "</li>")
    return f"<ul>{''.join(items)}</ul>" if items else "<p>Nothing is drawn.</p>"


def _figure(plot, frame: pd.DataFrame, caption: str) -> str:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    ax = plot(frame)
    buf = io.BytesIO()
    ax.figure.savefig(buf, format="png", dpi=110, metadata={"Software": None})
    plt.close(ax.figure)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return (f"<figure><img alt='{_e(caption)}' src='data:image/png;base64,{data}'>"
            f"<figcaption>{_e(caption)}</figcaption></figure>")


def _table(frame: pd.DataFrame) -> str:
    head = "".join(f"<th>{_e(c)}</th>" for c in frame.columns)
    rows = []
    for r in frame.itertuples(index=False):
        cells = []
        for v in r:
            if isinstance(v, float):
                cells.append(f"<td class='num'>{v:.4g}</td>")
            else:
                cells.append(f"<td>{_e(v)}</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)
