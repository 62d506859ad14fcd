"""Defaults shared by the command line and the Python API (kept light to import)."""

DEFAULT_SEED = 20131001
DEFAULT_REPS = 100
