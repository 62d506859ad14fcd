"""Defaults shared by the command line and the Python API (kept light to import)."""

DEFAULT_SEED = 20131001
DEFAULT_REPS = 100

# The engines, the default first: "compiled" (numba, fast) and "simpy" (the readable reference
# that every result can be checked against). Both run the same model with the same draws.
ENGINES = ("compiled", "simpy")
DEFAULT_ENGINE = "compiled"
ENGINE_HELP = ("compiled (numba, the default: fast) or simpy (the readable reference, the same "
               "model and random numbers, many times slower)")
