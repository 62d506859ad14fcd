"""Sensitivity analysis tables on functions whose answers are known in closed form.

The functions are evaluated at the design points in place of the simulation, and the outputs go
through the same analysis code a sweep uses (designs -> tidy table -> point means -> SALib).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from iomsim.experiments.analysis import (acceptability_curve, morris_table, point_means,
                                         psa_summary, sobol_table, tornado_table)
from iomsim.experiments.designs import Parameter, make_design


def _tidy(design, y_by_rep: np.ndarray, measure: str = "benefit_per_pound") -> pd.DataFrame:
    """A sweep-shaped tidy table: one row per point and replication of one economics measure."""
    rows = []
    for point in range(len(design.points)):
        for r in range(y_by_rep.shape[1]):
            rows.append({"point": point, **design.points.iloc[point].to_dict(), "replication": r,
                         "arm": "economics", "measure": measure, "value": y_by_rep[point, r]})
    return pd.DataFrame(rows)


def ishigami(x: np.ndarray, a: float = 7.0, b: float = 0.1) -> np.ndarray:
    return np.sin(x[:, 0]) + a * np.sin(x[:, 1]) ** 2 + b * x[:, 2] ** 4 * np.sin(x[:, 0])


def ishigami_indices(a: float = 7.0, b: float = 0.1):
    """Closed-form Sobol indices of the Ishigami function (Ishigami & Homma 1990)."""
    pi = math.pi
    v1 = 0.5 * (1 + b * pi ** 4 / 5) ** 2
    v2 = a ** 2 / 8
    v13 = b ** 2 * pi ** 8 * (1 / 18 - 1 / 50)
    v = v1 + v2 + v13
    return [v1 / v, v2 / v, 0.0], [(v1 + v13) / v, v2 / v, v13 / v]


def test_sobol_indices_of_the_ishigami_function():
    params = [Parameter(f"x{i}", low=-math.pi, high=math.pi) for i in (1, 2, 3)]
    design = make_design("saltelli", params, samples=2048, seed=5)
    y = ishigami(design.points[["x1", "x2", "x3"]].to_numpy())
    # Two identical "replications" per point: their mean is the function itself.
    table = _tidy(design, np.column_stack([y, y]))
    out = sobol_table(design, point_means(table, "economics", "benefit_per_pound"), seed=1)
    assert list(out.columns) == ["parameter", "S1", "S1_conf", "ST", "ST_conf"]
    s1, st = ishigami_indices()
    np.testing.assert_allclose(out["S1"], s1, atol=0.04)
    np.testing.assert_allclose(out["ST"], st, atol=0.04)
    assert (out["S1_conf"] > 0).all() and (out["S1_conf"] < 0.1).all()


def test_morris_on_a_linear_function_gives_each_slope_times_its_range():
    params = [Parameter("a", low=0.0, high=1.0), Parameter("b", low=0.0, high=10.0),
              Parameter("c", low=-5.0, high=0.0)]
    design = make_design("morris", params, samples=20, num_levels=4, seed=2)
    x = design.points[["a", "b", "c"]].to_numpy()
    y = 2.0 * x[:, 0] - 0.5 * x[:, 1] + 0.0 * x[:, 2] + 3.0
    out = morris_table(design, y)
    # Elementary effects are per unit of the quantile scale: slope x (high - low).
    np.testing.assert_allclose(out["mu_star"], [2.0, 5.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(out["mu"], [2.0, -5.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(out["sigma"], [0.0, 0.0, 0.0], atol=1e-9)


def test_tornado_table_reads_low_high_and_base_points():
    params = [Parameter("small", low=0.9, high=1.1, base=1.0),
              Parameter("big", low=0.0, high=4.0, base=2.0)]
    design = make_design("oneway", params)
    pts = design.points
    f = (10 * pts["small"] + 3 * pts["big"] ** 2).to_numpy()
    # replications scatter symmetrically around f, so the mean over them is f exactly
    table = _tidy(design, np.column_stack([f - 1, f + 1]))
    out = tornado_table(table, design, "economics", "benefit_per_pound")
    assert list(out.columns) == ["parameter", "low_value", "high_value", "measure_low",
                                 "measure_high", "base"]
    assert out["parameter"].tolist() == ["big", "small"]  # largest swing first
    big = out.iloc[0]
    assert (big.low_value, big.high_value) == (0.0, 4.0)
    assert big.measure_low == pytest.approx(10 + 0)
    assert big.measure_high == pytest.approx(10 + 48)
    assert big.base == pytest.approx(10 + 12)


def test_psa_probability_and_acceptability_curve():
    samples = pd.DataFrame({"benefit_per_pound": [0.5, 0.9, 1.2, 2.0, 3.0],
                            "npv": [-5.0, -1.0, 2.0, 10.0, 20.0],
                            "benefit_per_offender": [100.0, 200.0, 300.0, 400.0, 500.0],
                            "iom_cost_per_offender": [150.0] * 5})
    s = psa_summary(samples).set_index("measure")
    assert s.loc["benefit_per_pound", "probability_above_threshold"] == pytest.approx(0.6)
    assert s.loc["npv", "probability_above_threshold"] == pytest.approx(0.6)
    curve = acceptability_curve(samples, costs=[0, 150, 250, 450, 600])
    assert list(curve.columns) == ["iom_cost_per_offender", "probability_npv_positive"]
    assert curve["probability_npv_positive"].tolist() == [1.0, 0.8, 0.6, 0.2, 0.0]
