# Two entry points for a fresh machine with Python 3.11+: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SCENARIO ?= scenarios/sussex-2013.yaml
OUT ?= results/sussex-2013

.PHONY: setup run test clean

$(BIN)/iomsim: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(BIN)/iomsim

# The fast engine's kernels, compiled and cached once (about a minute), and again only when
# kernels.py changes: a stamp, so that `make run` does not start Python (and import the package,
# about a second) just to find them cached. A run that finds the cache gone compiles it itself.
KERNELS := src/iomsim/engine/numba/kernels.py
$(VENV)/.kernels-compiled: $(BIN)/iomsim $(KERNELS)
	@$(BIN)/python -m iomsim.engine.numba.warmup $(SCENARIO)
	@touch $@

setup: $(VENV)/.kernels-compiled

run: setup
	$(BIN)/iomsim run $(SCENARIO) --out $(OUT) --force

test: setup
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) results
