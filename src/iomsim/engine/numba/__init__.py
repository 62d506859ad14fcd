"""The numba engine: the same model and random numbers as the simpy engine, many times faster.

Its kernels are compiled on first use and cached on disk (``make setup`` does it once).
"""

from iomsim.engine.numba.driver import simulate

__all__ = ["simulate"]
