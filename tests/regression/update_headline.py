"""Regenerate tests/regression/headline.csv on purpose.

    python tests/regression/update_headline.py

The table holds the headline five-year figures of the Sussex scenario per agency and arm (cohort
totals, undiscounted and discounted, mean over replications) and the economics, at the reduced,
CI-sized setting below. tests/test_validation.py checks current output against it within each
row's relative tolerance. Regenerate only when a change to the model or the parameters is meant
to move these figures, and say why in the commit message.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "scenarios" / "sussex-2013.yaml"
TABLE = Path(__file__).resolve().parent / "headline.csv"
# The setting the Sussex scenario was calibrated at: half the population, the same selection
# intensity (242 of 1,000 as 483 of 2,000), 8 replications, seed 1.
OVERRIDES = {"cohort.size": 1000, "selection.cohort_size": 242}
REPS = 8
SEED = 1
REL_TOL_COST = 0.01
REL_TOL_ECONOMICS = 0.02
ECONOMICS = ("iom_cost", "benefit", "benefit_per_pound", "npv", "fiscal_net_change",
             "social_net_change")


def run_headline(jobs: int = 1):
    import iomsim

    scenario = iomsim.load_scenario(SCENARIO, overrides=OVERRIDES)
    return iomsim.run(scenario, reps=REPS, seed=SEED, jobs=jobs, progress=False)


def headline(results) -> pd.DataFrame:
    rows = []
    for r in results.costs_by_agency.itertuples():
        for measure in ("cost", "discounted_cost"):
            rows.append({"table": "costs_by_agency", "arm": r.arm, "name": r.agency,
                         "measure": measure, "value": round(float(getattr(r, measure)), 2),
                         "rel_tol": REL_TOL_COST})
    e = results.economics.set_index("metric")["value"]
    for name in ECONOMICS:
        if name in e.index:
            rows.append({"table": "economics", "arm": "", "name": name, "measure": "value",
                         "value": round(float(e[name]), 6), "rel_tol": REL_TOL_ECONOMICS})
    return pd.DataFrame(rows)


def main() -> int:
    table = headline(run_headline(jobs=2))
    table.to_csv(TABLE, index=False)
    print(f"wrote {len(table)} rows to {TABLE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
