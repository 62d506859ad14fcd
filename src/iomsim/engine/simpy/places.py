"""A first-come, first-served simpy resource whose every operation takes constant time.

``simpy.Resource`` keeps its users and its queue in lists, so giving up a place
(``users.remove``), leaving the queue (``put_queue.remove``) and admitting the head of the queue
(``put_queue.pop(0)``) each cost time in proportion to the number of places or of people waiting.
Places here are a fixed share of the population (so many per 1,000), so those lists grow with
the population and a run's time grew with its square. This resource keeps both in insertion-ordered
hash tables instead: the same first-come, first-served order, the same events, in constant time.
"""

from __future__ import annotations

from collections import OrderedDict
from itertools import islice

import simpy


class OrderedSet:
    """The subset of ``list`` that simpy uses for a resource's users and queue, in O(1)."""

    __slots__ = ("_items",)

    def __init__(self) -> None:
        self._items: OrderedDict = OrderedDict()

    def append(self, item) -> None:
        self._items[item] = None

    def remove(self, item) -> None:
        # ValueError, as list.remove raises: simpy ignores it when a request that holds no
        # place is released (a ``with`` block left while still queued).
        try:
            del self._items[item]
        except KeyError:
            raise ValueError(f"{item!r} is not held") from None

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self):
        return iter(self._items)

    def __contains__(self, item) -> bool:
        return item in self._items

    def __getitem__(self, index: int):
        # simpy only ever looks at the head of the queue: Resource._do_put stops the scan at
        # the first request it cannot admit.
        if index == 0 and self._items:
            return next(iter(self._items))
        if index < 0:
            index += len(self._items)
        if not 0 <= index < len(self._items):
            raise IndexError(index)
        return next(islice(self._items, index, None))

    def pop(self, index: int = -1):
        if index == 0:
            return self._items.popitem(last=False)[0]
        if index in (-1, len(self._items) - 1):
            return self._items.popitem(last=True)[0]
        item = self[index]
        del self._items[item]
        return item


class Places(simpy.Resource):
    """``simpy.Resource`` with the same behaviour and constant-time requests and releases."""

    PutQueue = OrderedSet
    GetQueue = OrderedSet

    def __init__(self, env: simpy.Environment, capacity: int = 1):
        super().__init__(env, capacity)
        self.users = OrderedSet()
