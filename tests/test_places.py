"""Places (the constant-time resource) behaves exactly as simpy.Resource does."""

import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from iomsim.engine.simpy.places import Places, OrderedSet

# One step: (day it happens, what: 0 ask for a place, 1 leave the queue, 2 give a place up,
# which: picks among the people who could do it)
STEPS = st.lists(st.tuples(st.floats(0, 50), st.integers(0, 2), st.integers(0, 1000)),
                 max_size=60)


def _history(resource_class, capacity: int, steps) -> list:
    """Replay the steps on a fresh resource; return who was granted a place, when, in order."""
    env = simpy.Environment()
    res = resource_class(env, capacity=capacity)
    granted: list = []
    requests: list = []

    def actor(env):
        for day, what, which in sorted(steps):
            yield env.timeout(max(0.0, day - env.now))
            if what == 0:
                number = len(requests)
                req = res.request()
                req.callbacks.append(lambda _e, number=number: granted.append((number, env.now)))
                requests.append(req)
                continue
            waiting = [r for r in requests if not r.triggered and r in res.put_queue]
            holding = [r for r in requests if r in res.users]
            if what == 1 and waiting:
                waiting[which % len(waiting)].cancel()
            elif what == 2 and holding:
                res.release(holding[which % len(holding)])

    env.process(actor(env))
    env.run()
    return granted + [("queue", len(res.put_queue)), ("users", res.count)]


@settings(max_examples=200, deadline=None)
@given(capacity=st.integers(1, 4), steps=STEPS)
def test_grants_the_same_places_at_the_same_times_as_simpy_resource(capacity, steps):
    assert _history(Places, capacity, steps) == _history(simpy.Resource, capacity, steps)


def test_ordered_set_keeps_first_come_first_served_order():
    queue = OrderedSet()
    for x in "abcde":
        queue.append(x)
    queue.remove("b")
    assert [queue[0], queue.pop(0), queue[0], len(queue)] == ["a", "a", "c", 3]
    assert [queue[1], queue[-1], queue.pop(), list(queue)] == ["d", "e", "e", ["c", "d"]]


def _interrupted_while_queued(resource_class) -> tuple:
    """A ``with`` block left by an interrupt while queued: simpy cancels, then releases."""
    env = simpy.Environment()
    res = resource_class(env, capacity=1)
    log = []

    def holder(env):
        with res.request() as req:
            yield req
            yield env.timeout(10)
            log.append(("holder done", env.now))

    def waiter(env):
        try:
            with res.request() as req:
                yield req
                log.append(("waiter served", env.now))
        except simpy.Interrupt:
            log.append(("waiter gave up", env.now))

    def latecomer(env):
        yield env.timeout(2)
        with res.request() as req:
            yield req
            log.append(("latecomer served", env.now))

    env.process(holder(env))
    waiting = env.process(waiter(env))
    env.process(latecomer(env))
    env.run(until=1)
    waiting.interrupt()
    env.run()
    return tuple(log), res.count, len(res.queue)


def test_leaving_the_queue_by_interrupt_inside_with_behaves_as_simpy_resource():
    assert _interrupted_while_queued(Places) == _interrupted_while_queued(simpy.Resource)
    log, _, _ = _interrupted_while_queued(Places)
    assert log == (("waiter gave up", 1), ("holder done", 10), ("latecomer served", 10))


def _release_unheld(resource_class) -> tuple:
    env = simpy.Environment()
    res = resource_class(env, capacity=1)
    first, queued = res.request(), res.request()
    res.release(queued)  # holds no place: ignored
    env.run()
    still_queued = not queued.triggered
    res.release(first)
    env.run()
    res.release(first)  # a second time: ignored
    env.run()
    return still_queued, queued.triggered, res.count, len(res.queue)


def test_releasing_a_request_that_holds_no_place_is_ignored_as_by_simpy_resource():
    assert _release_unheld(Places) == _release_unheld(simpy.Resource) == (True, True, 1, 0)
