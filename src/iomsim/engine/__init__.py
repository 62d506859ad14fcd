"""The simulation engine: the model, two engines that run it, their records and the measures.

Layers: scenario -> :mod:`~iomsim.engine.model` (every number the rules read) -> an engine
(:mod:`~iomsim.engine.simpy`, the reference; :mod:`~iomsim.engine.numba`, the fast one) ->
:mod:`~iomsim.engine.records` -> :mod:`~iomsim.engine.measures`. See docs/architecture.md.
"""

from iomsim.engine.model import Model, compile_model
from iomsim.engine.records import ARMS, ArmRecords, PopulationRecords, ReplicationResult
from iomsim.engine.replication import DEFAULT_ENGINE, ENGINES, simulate_replication

__all__ = ["ARMS", "ArmRecords", "DEFAULT_ENGINE", "ENGINES", "Model", "PopulationRecords",
           "ReplicationResult", "compile_model", "simulate_replication"]
