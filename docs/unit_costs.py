"""The reconciliation table of docs/unit-costs.md: for each offence type, the model's victim and
criminal justice cost per offence against the Home Office unit cost at the same prices.

    PYTHONPATH=src python docs/unit_costs.py scenarios/sussex-2013.yaml --reps 20

Columns (all per offence COMMITTED, in the scenario's price year):
- Home Office: the published full cost per offence (cost_of_crime + cost_of_crime_response), and
  its criminal justice (response) part;
- model, victims: cost_of_crime, the part a run charges to victims;
- model, criminal justice: the police, courts, probation and prison cost the model's own unit
  costs give an offence of the type, worked out from the scenario's probabilities and unit costs
  (not from a run): detection x (arrest + investigation) + detection x charge x (court,
  prosecution and legal aid at the type's venue) + conviction x (pre-sentence report + custody
  at the venue's custody rate and mean sentence x release fraction x cost per day + licence after
  custody + community order). Each charged offence is counted as a case of its own, and remand,
  recall and offences taken into consideration are left out (see docs/unit-costs.md).
With --reps N the script also runs the scenario (seed --seed) and prints the criminal justice cost
per offence committed in the non-IOM arm from the run, all types together, beside the same
figure from the unit costs, weighted by the offence mix.
"""

from __future__ import annotations

import argparse

import numpy as np

import iomsim
from iomsim.engine.distributions import QuantileTable

DAYS = 365.25
# Why the model's figure differs from the Home Office's, by type (docs/unit-costs.md).
WHY = {
    "shoplifting": "the model is above: the published figure is the 2000 estimate (Brand and "
                   "Price, £100 at 1999-00 prices), far below a magistrates' case and the "
                   "sentences the model gives the 7% of shop thefts it detects",
    "other_theft": "the model's criminal justice part is below the assumed 25%: detection is "
                   "low (0.04), police investigation of theft is folded into the arrest, and the "
                   "court unit costs are direct costs without overheads",
    "vehicle_crime": "as other theft; Heeks et al. put police alone at £2,030 per theft of a "
                     "vehicle (V2), which the model does not charge",
    "burglary": "as other theft; the Crown Court share (0.3) makes a detected burglary costly, "
                "but detection is low (0.06)",
    "violence_with_injury": "the model's part is about 40% of the assumed published part: the "
                            "police cost is the less-serious-violence row without overheads, "
                            "and most cases are summary",
    "violence_without_injury": "common assault is summary: the model's part is about a third "
                               "of the assumed published part",
    "criminal_damage": "low detection (0.04), summary, no overheads",
    "robbery": "closest to the published figure: indictable only (Crown Court 0.9) and long "
               "sentences",
    "drugs": "not costed by the Home Office; the model still costs the criminal justice "
             "response to detected drug offences",
    "breach": "not costed by the Home Office; most breaches are detected (0.8), so nearly every "
              "one is a summary case",
    "motoring": "not costed by the Home Office; detection 0.3, summary",
}


def _mean(d) -> float:
    return float(np.mean(QuantileTable(d).quantiles))


def justice_cost_per_offence(s, name: str) -> dict[str, float]:
    """The model's own criminal justice cost per offence committed of type ``name``."""
    j, t = s.justice, s.offending.offence_types[name]
    d = t.detection_probability
    police = d * (j.arrest_cost + t.police_investigation_cost)
    charged = d * j.charge_probability
    convicted = charged * j.conviction_probability
    courts = prison = probation = 0.0
    order_years = _mean(j.community_order_days) / DAYS
    for venue, p in (("crown", t.crown_court_probability),
                     ("magistrates", 1.0 - t.crown_court_probability)):
        v = getattr(j, venue)
        courts += charged * p * (v.costs.court + v.costs.prosecution + v.costs.legal_aid)
        length = _mean(v.custody_days)
        served = length * j.release_fraction
        licence = max(length * (1 - j.release_fraction), j.minimum_supervision_after_release_days)
        prison += convicted * p * v.custody_probability * served * j.prison_cost_per_day
        probation += convicted * p * (
            v.custody_probability * licence / DAYS * j.licence_cost_per_year
            + v.community_order_probability * order_years * j.community_order_cost_per_year)
    probation += convicted * j.pre_sentence_report_cost
    return {"police": police, "courts": courts, "probation": probation, "prison": prison,
            "total": police + courts + probation + prison}


def table(s) -> tuple[list[str], float]:
    rows = ["| offence type | share | Home Office full cost | of which criminal justice | "
            "model: victims | model: criminal justice | model: total | model / Home Office | "
            "why they differ |",
            "|---|---|---|---|---|---|---|---|---|"]
    types = s.offending.offence_types
    total_share = sum(t.share for t in types.values())
    pooled = 0.0
    for name, t in types.items():
        cj = justice_cost_per_offence(s, name)
        full = t.cost_of_crime + t.cost_of_crime_response
        ours = t.cost_of_crime + cj["total"]
        ratio = f"{ours / full:.2f}" if full > 0 else "not costed"
        pooled += t.share / total_share * cj["total"]
        rows.append(f"| {name} | {t.share:.3f} | {full:,.0f} | {t.cost_of_crime_response:,.0f} | "
                    f"{t.cost_of_crime:,.0f} | {cj['total']:,.0f} | {ours:,.0f} | {ratio} | "
                    f"{WHY.get(name, '')} |")
    mix_full = sum(t.share / total_share * (t.cost_of_crime + t.cost_of_crime_response)
                   for t in types.values())
    mix_victims = sum(t.share / total_share * t.cost_of_crime for t in types.values())
    mix_resp = sum(t.share / total_share * t.cost_of_crime_response for t in types.values())
    rows.append(f"| **offence mix** | 1.000 | {mix_full:,.0f} | {mix_resp:,.0f} | "
                f"{mix_victims:,.0f} | {pooled:,.0f} | {mix_victims + pooled:,.0f} | "
                f"{(mix_victims + pooled) / mix_full:.2f} | weighted by the committed mix |")
    return rows, pooled


def by_agency(s) -> list[str]:
    rows = ["| offence type | police | courts | probation | prison |", "|---|---|---|---|---|"]
    for name in s.offending.offence_types:
        c = justice_cost_per_offence(s, name)
        rows.append(f"| {name} | {c['police']:,.0f} | {c['courts']:,.0f} | "
                    f"{c['probation']:,.0f} | {c['prison']:,.0f} |")
    return rows


def run_check(s, reps: int, seed: int, jobs: int, pooled: float) -> list[str]:
    res = iomsim.run(s, reps=reps, seed=seed, jobs=jobs, progress=False)
    c = res.costs
    arm = c[(c["arm"] == "non_iom") & c["agency"].isin(["police", "courts", "probation", "prison"])]
    if "iom_programme" in arm.columns:
        arm = arm[~arm["iom_programme"].astype(bool)]
    spend = float(arm["cost"].sum()) / reps  # the table holds every replication: the mean
    offences = res.metric("offences_per_offender", "non_iom") * res.metric("offenders", "non_iom")
    return [f"Run ({reps} replications, seed {seed}), non-IOM arm over {s.horizon_years:g} years: "
            f"criminal justice spend £{spend:,.0f} a replication (undiscounted; police, courts, probation, "
            f"prison, no IOM programme items) for {offences:,.0f} offences committed = "
            f"£{spend / offences:,.0f} per offence, against £{pooled:,.0f} from the unit costs "
            "for the same mix. The run also carries custody and licences from sentences passed "
            "before day 0, recalls, remand and breach proceedings."]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("scenario", nargs="?", default="scenarios/sussex-2013.yaml")
    ap.add_argument("--reps", type=int, default=0)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args()
    s = iomsim.load_scenario(a.scenario)
    print(f"Prices: {s.price_year} (scenario {a.scenario}).\n")
    rows, pooled = table(s)
    print("\n".join(rows))
    print("\nThe model's criminal justice cost per offence committed, by agency:\n")
    print("\n".join(by_agency(s)))
    if a.reps > 0:
        print()
        print("\n".join(run_check(s, a.reps, a.seed, a.jobs, pooled)))


if __name__ == "__main__":
    main()
