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

# The API fuzz test of `make test` with more generated requests per operation (200 there);
# `make fuzz ALLIANCE_FUZZ_CASES=5000`, and DATABASE_URL=postgresql://… for PostgreSQL.
ALLIANCE_FUZZ_CASES ?= 1000
fuzz: $(DEV)
	ALLIANCE_FUZZ_CASES=$(ALLIANCE_FUZZ_CASES) \
	bash -c '. scripts/env.sh && exec $(BIN)/pytest -q tests/test_api_fuzz.py'

clean:
	rm -rf $(VENV) build *.egg-info
