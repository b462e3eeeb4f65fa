# Two commands do all the set-up on a fresh machine: `make demo` and `make test` (each creates .venv if needed).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.dexbench-installed

.PHONY: demo test test-slow lint bench install clean-demo help

help:
	@echo "make demo   - set up .venv, run the whole pipeline on SynthHeads (dvc repro), print the report path"
	@echo "make test   - set up .venv, run the test suite (slow tests: make test-slow)"
	@echo "make lint   - ruff"
	@echo "make bench  - performance benchmarks (JSON on stdout)"

$(STAMP): pyproject.toml requirements-nodeps.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/python -m pip install --quiet --no-deps -r requirements-nodeps.txt
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/dvc repro
	@echo
	@echo "Report: $(abspath reports/index.html)"

test: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest -q

test-slow: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest -q --runslow

lint: $(STAMP)
	$(BIN)/ruff check dexbench tests bench
	$(BIN)/ruff format --check dexbench tests bench

bench: $(STAMP)
	@for b in bench/*.py; do echo "# $$b"; $(BIN)/python $$b; done

clean-demo:
	rm -rf datasets/synthheads/raw datasets/synthheads/shards protocol submissions metrics/synthheads reports/index.html dvc.lock
