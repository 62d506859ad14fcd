"""The shared state of one arm's simpy run: its clock, its cost ledger, its capacities and the
count of rule branches taken."""

from __future__ import annotations

import math

import numpy as np
import simpy

from iomsim.engine.branches import branch_counter
from iomsim.engine.model import DAYS_PER_YEAR, Model
from iomsim.engine.simpy.places import Places


class ArmContext:
    """Shared state of one arm's run: its environment, cost ledger and capacity resources."""

    def __init__(self, model: Model, env: simpy.Environment, horizon: float, n_offenders: int,
                 iom: bool):
        self.model = model
        self.env = env
        self.horizon = horizon
        self.iom = iom
        # Rule branches taken (iomsim.engine.branches): a dict increment per event, no draws.
        self.branches = branch_counter()
        n_years = max(1, int(math.ceil(horizon / DAYS_PER_YEAR)))
        self._rows = [[0.0] * len(model.items) for _ in range(n_years)]
        places = model.iom_places_per_1000
        self.iom_places = (Places(env, capacity=max(1, int(math.floor(
            places * n_offenders / 1000 + 0.5)))) if iom and places is not None else None)
        self.resources: list[Places | None] = []
        self.capacity_services = [svc.index for svc in model.services
                                  if svc.capacity_per_1000 is not None]
        self.capacity_mask = sum(1 << i for i in self.capacity_services)
        for svc in model.services:
            if svc.capacity_per_1000 is None:
                self.resources.append(None)
            else:
                places = max(1, int(math.floor(svc.capacity_per_1000 * n_offenders / 1000 + 0.5)))
                self.resources.append(Places(env, capacity=places))

    def add(self, day: float, item: int, amount: float) -> None:
        """A cost incurred at one moment."""
        if amount and 0.0 <= day < self.horizon:
            self._rows[int(day // DAYS_PER_YEAR)][item] += amount

    def accrue(self, t0: float, t1: float, daily: list[tuple[int, float]]) -> None:
        """Costs that run by the day over [t0, t1), split at the boundaries of years."""
        if not daily:
            return
        a = max(t0, 0.0)
        b = min(t1, self.horizon)
        rows = self._rows
        while a < b:
            year = int(a // DAYS_PER_YEAR)
            end = min(b, (year + 1) * DAYS_PER_YEAR)
            span = end - a
            row = rows[year]
            for item, per_day in daily:
                row[item] += per_day * span
            a = end

    def costs(self) -> np.ndarray:
        return np.array(self._rows, dtype=float)
