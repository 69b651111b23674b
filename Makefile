# Two commands: `make run` serves the demo clinic, `make test` runs every check and the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUNTIME := $(VENV)/.runtime-installed
DEV := $(VENV)/.dev-installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test check bench fuzz clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit("Alliance needs Python 3.11 or newer") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUNTIME): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/pip install --quiet -c constraints.txt -e .
	touch $@

$(DEV): $(RUNTIME)
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

run: $(RUNTIME)
	$(BIN)/alliance serve --demo-if-empty --host $(HOST) --port $(PORT)

test: $(DEV)
	bash scripts/test.sh

bench: $(DEV)
	bash scripts/bench.sh

clean:
	rm -rf $(VENV) build *.egg-info
