"""Cohort generation: marginal distributions, correlated needs, OGRS linked to needs."""

import math

import numpy as np

from iomsim.engine.cohort import build_population
from tests.support import load_minimal

NEEDS = {"drugs": 0.4, "accommodation": 0.5, "alcohol": 0.3}


def _population(**profile):
    s = load_minimal({"cohort.size": 20000, "cohort.profile.needs": NEEDS,
                      **{f"cohort.profile.{k}": v for k, v in profile.items()}})
    return build_population(s, seed=9, replication=0)


def test_need_prevalences_hold_with_and_without_correlation():
    for rho in (0.0, 0.5):
        pop = _population(need_correlation=rho)
        for j, p in ((5, 0.4), (0, 0.5), (6, 0.3)):
            share = pop.needs[:, j].mean()
            assert abs(share - p) < 4 * math.sqrt(p * (1 - p) / 20000)


def test_correlated_needs_cluster():
    pop = _population(need_correlation=0.5)
    corr = np.corrcoef(pop.needs[:, 5], pop.needs[:, 0])[0, 1]
    assert corr > 0.15
    independent = _population(need_correlation=0.0)
    assert abs(np.corrcoef(independent.needs[:, 5], independent.needs[:, 0])[0, 1]) < 0.03


def test_ogrs_loading_links_risk_to_needs_without_moving_its_distribution():
    base = _population(need_correlation=0.4)
    linked = _population(need_correlation=0.4, ogrs_need_loading=0.7)
    n_needs = linked.needs.sum(axis=1)
    assert np.corrcoef(linked.ogrs, n_needs)[0, 1] > 0.15
    assert abs(np.corrcoef(base.ogrs, base.needs.sum(axis=1))[0, 1]) < 0.03
    se = base.ogrs.std() / math.sqrt(20000)
    assert abs(linked.ogrs.mean() - 0.6) < 4 * se and abs(base.ogrs.mean() - 0.6) < 4 * se
