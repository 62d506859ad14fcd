"""How benefit_per_pound_evaluation moves with its choices (docs/model.md, 7.12): spend over the
first 12 months or the horizon; proven reoffences or reoffenders averted; the cost per proven
reoffence at the full published cost (criminal justice part included) or the victims' and
society's part only; the model's two-year rates or the evaluation's published ones (19% actual,
78% below predicted, so 86.4% predicted) with the model's reoffences per reoffender, spend and
unit costs: how far the unmet Sussex targets move the measure. Mean over replications.

    PYTHONPATH=src python docs/evaluation_variants.py scenarios/sussex-2013.yaml --reps 20
"""

import argparse
import math

import numpy as np

import iomsim
from iomsim.economics import (PUBLIC_PROGRAMME_PAYERS, cost_of_crime_per_proven_offence,
                              evaluation_measure, item_totals)
from iomsim.engine.model import compile_model


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("scenario")
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args()
    s = iomsim.load_scenario(a.scenario)
    res = iomsim.run(s, reps=a.reps, seed=a.seed, jobs=a.jobs, progress=False,
                     keep_replications=True)
    items = compile_model(s).items.items
    agency = np.array([it.agency for it in items])
    prog = np.array([it.iom_programme for it in items])
    pp = prog & np.isin(agency, list(PUBLIC_PROGRAMME_PAYERS))
    out: dict[tuple[str, str, str, str], list[float]] = {}
    published_actual = 0.19
    published_predicted = published_actual / (1 - 0.78)
    for r in res.replications:
        c = {arm: r.costs[arm] for arm in ("non_iom", "iom")}
        spend = {"horizon": float((item_totals(s, c["iom"])[1] - item_totals(s, c["non_iom"])[1])[pp].sum()),
                 "12 months": float((c["iom"][0] - c["non_iom"][0])[pp].sum())}
        n = r.metrics["iom"]["offenders"]
        # evaluation_measure values at the full cost; the victims-only variant rescales it.
        full = cost_of_crime_per_proven_offence(s, full=True)
        part = cost_of_crime_per_proven_offence(s) / full if full > 0 else math.nan
        scale = {"full (victims, society, criminal justice)": 1.0, "victims and society only": part}
        iom = r.metrics["iom"]
        per_reoffender = iom["proven_reoffences_per_offender_24m"] / iom["proven_reoffending_rate_24m"]
        published = {**r.metrics, "iom": {
            **iom, "mean_ogrs_at_registration": published_predicted,
            "proven_reoffending_rate_24m": published_actual,
            "proven_reoffences_per_offender_24m": per_reoffender * published_actual}}
        for rates, metrics in (("model", r.metrics), ("published", published)):
            for sp, sv in spend.items():
                for count in ("reoffences", "reoffenders"):
                    ev = evaluation_measure(s, metrics, n, sv, count=count)
                    for value, k in scale.items():
                        out.setdefault((rates, sp, count, value), []).append(
                            ev["benefit_per_pound"] * k)
    print("| two-year rates | spend | averted | cost per proven reoffence | benefit per £1 |")
    print("|---|---|---|---|---|")
    for (rates, sp, count, value), v in out.items():
        v = [x for x in v if not math.isnan(x)]
        print(f"| {rates} | {sp} | {count} | {value} | {np.mean(v):.2f} |")


if __name__ == "__main__":
    main()
