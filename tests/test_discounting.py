"""Discounting: year 1 undiscounted, year k by (1 + r)^-(k - 1)."""

import numpy as np
import pytest

from iomsim.results import discount_factors
from tests.support import load_minimal


def test_factors_match_the_green_book_closed_form():
    f = discount_factors(0.035, 5)
    assert f[0] == 1.0
    for k in range(1, 6):
        assert f[k - 1] == pytest.approx(1.035 ** -(k - 1), rel=1e-15)


def test_cost_table_discounts_each_year_by_its_factor():
    import iomsim

    s = load_minimal({"horizon_years": 3, "discount_rate": 0.05})
    r = iomsim.run(s, reps=1, seed=2, jobs=1)
    c = r.costs
    expected = c["cost"] * (1.05 ** -(c["year"] - 1))
    assert np.allclose(c["discounted_cost"], expected, rtol=1e-12, atol=0)
