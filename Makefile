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

setup: $(BIN)/iomsim
	@$(BIN)/python -m iomsim.engine.numba.warmup $(SCENARIO)

run: setup
	$(BIN)/iomsim run $(SCENARIO) --out $(OUT) --force

test: setup
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) results
