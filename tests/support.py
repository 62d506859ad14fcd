"""Helpers shared by test modules (import as ``tests.support``)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MINIMAL = ROOT / "tests" / "scenarios" / "minimal.yaml"


def load_minimal(overrides: dict | None = None, **kw):
    """The minimal test scenario with dotted-path overrides."""
    import iomsim

    merged = dict(overrides or {})
    merged.update(kw)
    return iomsim.load_scenario(MINIMAL, overrides=merged)


def assert_same_records(a, b, rel: float = 1e-9, proven_from: float | None = None) -> None:
    """The kept per-offender records of two results (``keep_offenders=True``) agree: counts
    exactly, amounts of time and money to ``rel``, event tables row for row.

    ``proven_from``: compare only proven offences committed from that day on in ``a`` (the
    numba engine keeps those from a year before day 0 only; ``b`` must be that engine's).
    """
    import numpy as np

    assert set(a.records) == set(b.records)
    for arm in a.records:
        ra, rb = a.records[arm], b.records[arm]
        assert len(ra) == len(rb), arm
        for name in ("ogrs", "need_mask", "exited", "detected", "recalls", "referrals"):
            np.testing.assert_array_equal(getattr(rb, name), getattr(ra, name),
                                          err_msg=f"{arm} {name}")
        for name in ("offences_by_type", "custody_days", "iom_days"):
            np.testing.assert_allclose(getattr(rb, name), getattr(ra, name), rtol=rel, atol=0.0,
                                       err_msg=f"{arm} {name}")
        proven = ra.proven
        if proven_from is not None:
            proven = proven[proven["offence_day"] >= proven_from]
        for what, ta, tb in (("convictions", ra.convictions, rb.convictions),
                             ("proven", proven, rb.proven), ("waits", ra.waits, rb.waits)):
            assert ta.dtype == tb.dtype, (arm, what)
            assert len(ta) == len(tb), (arm, what, len(ta), len(tb))
            for field in ta.dtype.names:
                np.testing.assert_allclose(tb[field], ta[field], rtol=rel, atol=0.0,
                                           err_msg=f"{arm} {what}.{field}")
