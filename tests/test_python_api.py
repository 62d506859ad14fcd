"""The Python API speaks Python: its errors name arguments, not command-line options."""

from __future__ import annotations

import pytest

import iomsim
from iomsim.errors import ResultsExistError
from tests.support import load_minimal


def test_write_over_existing_results_needs_force_true(tmp_path):
    results = iomsim.run(load_minimal(), reps=2, seed=1, progress=False)
    out = results.write(tmp_path / "out")
    with pytest.raises(ResultsExistError) as caught:
        results.write(out)
    message = str(caught.value)
    assert "pass force=True" in message and "--force" not in message
    assert results.write(out, force=True) == out
    assert (out / "manifest.json").is_file()
