"""Keyed random streams: pure functions of (seed, replication, offender, purpose, index)."""

import numpy as np
from scipy import stats

from iomsim.engine.cohort import cohort_uniforms
from iomsim.engine.rng import OffenderStreams, Purpose, offender_key, root_key, uniform_at


def test_a_draw_depends_on_its_index_not_on_the_order_asked():
    s1 = OffenderStreams(offender_key(root_key(7, 0), 3))
    s2 = OffenderStreams(offender_key(root_key(7, 0), 3))
    forward = [s1.at(Purpose.DETECTION, i) for i in range(20)]
    backward = [s2.at(Purpose.DETECTION, i) for i in reversed(range(20))][::-1]
    assert forward == backward


def test_streams_differ_by_seed_replication_offender_and_purpose():
    base = OffenderStreams(offender_key(root_key(7, 0), 3)).at(Purpose.DETECTION, 0)
    assert OffenderStreams(offender_key(root_key(8, 0), 3)).at(Purpose.DETECTION, 0) != base
    assert OffenderStreams(offender_key(root_key(7, 1), 3)).at(Purpose.DETECTION, 0) != base
    assert OffenderStreams(offender_key(root_key(7, 0), 4)).at(Purpose.DETECTION, 0) != base
    assert OffenderStreams(offender_key(root_key(7, 0), 3)).at(Purpose.REMAND, 0) != base


def test_uniforms_are_uniform_and_uncorrelated():
    key = OffenderStreams(offender_key(root_key(1, 0), 0)).stream_key(Purpose.OFFENCE_CLOCK)
    u = np.array([uniform_at(key, i) for i in range(20000)])
    assert 0 < u.min() and u.max() < 1
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 4 / np.sqrt(len(u))


def test_vectorised_cohort_draws_match_the_scalar_streams():
    u = cohort_uniforms(11, 2, 5, 4)
    for i in range(5):
        s = OffenderStreams(offender_key(root_key(11, 2), i))
        assert [s.at(Purpose.COHORT, j) for j in range(4)] == list(u[i])


def test_counter_streams_continue_where_a_copy_left_off():
    s = OffenderStreams(offender_key(root_key(3, 0), 0))
    first = [s.next(Purpose.EXIT_CAUSE) for _ in range(3)]
    c = s.copy()
    assert c.next(Purpose.EXIT_CAUSE) == s.next(Purpose.EXIT_CAUSE)
    assert first == [s.at(Purpose.EXIT_CAUSE, i) for i in range(3)]
