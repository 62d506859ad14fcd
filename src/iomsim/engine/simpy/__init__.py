"""The simpy engine: the readable reference, one generator process per offender.

Every result of the fast engine can be checked against this one (``engine="simpy"``).
"""

from iomsim.engine.simpy.driver import simulate

__all__ = ["simulate"]
