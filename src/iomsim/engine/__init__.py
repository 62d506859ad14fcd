"""The simulation engine: keyed random streams, the cohort, the offender process, the ledger."""

from iomsim.engine.model import Model, compile_model
from iomsim.engine.simulation import ARMS, ReplicationResult, simulate_replication

__all__ = ["ARMS", "Model", "ReplicationResult", "compile_model", "simulate_replication"]
