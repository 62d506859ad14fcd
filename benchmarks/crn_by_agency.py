"""Which payers' costs the common random numbers fail to align between the arms.

For each replication, the incremental discounted cost per offender (IOM arm minus non-IOM arm)
by payer, with common random numbers and with independent streams; prints the standard
deviation of each across replications. Run from the repository root::

    python benchmarks/crn_by_agency.py [--reps 12] [--scenario scenarios/sussex-2013.yaml]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import iomsim
from iomsim.engine import compile_model, simulate_replication
from iomsim.results import discount_factors
from iomsim.scenario.schema import VICTIMS

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--reps", type=int, default=12)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--scenario", type=Path, default=ROOT / "scenarios" / "sussex-2013.yaml")
    args = p.parse_args()
    scenario = iomsim.load_scenario(args.scenario)
    model = compile_model(scenario)
    agency = np.array([it.agency for it in model.items.items])
    names = sorted(set(agency))
    rows: dict[str, list[dict[str, float]]] = {"crn": [], "independent": []}
    for rep in range(args.reps):
        for mode in rows:
            r = simulate_replication(model, args.seed, rep, independent_arms=(mode != "crn"))
            per_arm = {}
            for arm in ("non_iom", "iom"):
                c = r.costs[arm]
                disc = (c * discount_factors(scenario.discount_rate, c.shape[0])[:, None]).sum(0)
                per_arm[arm] = disc / r.metrics[arm]["offenders"]
            diff = per_arm["iom"] - per_arm["non_iom"]
            row = {name: float(diff[agency == name].sum()) for name in names}
            row["fiscal"] = sum(v for k, v in row.items() if k != VICTIMS)
            rows[mode].append(row)
    print(f"SD across {args.reps} replications of the incremental discounted cost per offender "
          f"(IOM - non-IOM), N = {scenario.selection.cohort_size if scenario.selection else '?'}")
    print(f"{'payer':26s} {'CRN':>8s} {'independent':>12s}")
    for name in [*names, "fiscal"]:
        sd = [np.std([r[name] for r in rows[m]], ddof=1) for m in rows]
        print(f"{name:26s} {sd[0]:8.0f} {sd[1]:12.0f}")


if __name__ == "__main__":
    main()
