"""Defaults shared by the command line and the Python API (kept light to import)."""

DEFAULT_SEED = 20131001
DEFAULT_REPS = 100
# Replications a run, a sweep point, a break-even value or a calibration evaluation may ask for:
# each is kept in memory until its tables are built, and --reps 100000000000 asked for 800 GB
# before simulating anything.
MAX_REPS = 10_000
REPS_REASON = ("a hundred times the shipped runs' 200; the standard error of a mean falls as "
               "one over the square root of the replications, and each is kept in memory until "
               "the tables are built")

# The engines, the default first: "compiled" (numba, fast) and "simpy" (the readable reference
# that every result can be checked against). Both run the same model with the same draws.
ENGINES = ("compiled", "simpy")
DEFAULT_ENGINE = "compiled"
ENGINE_HELP = ("compiled (numba, the default: fast) or simpy (the readable reference, the same "
               "model and random numbers, many times slower)")
