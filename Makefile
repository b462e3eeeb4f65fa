# Two commands do all the set-up on a fresh machine: `make demo` and `make test` (each creates .venv if needed).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.dexbench-installed

.PHONY: demo test test-slow lint bench install clean-demo help browser

help:
	@echo "make demo   - set up .venv, run the whole pipeline on SynthHeads (dvc repro), print the report path"
	@echo "make test   - set up .venv, run the test suite (slow tests: make test-slow)"
	@echo "make lint   - ruff"
	@echo "make bench  - performance benchmarks (JSON on stdout)"

$(STAMP): pyproject.toml requirements-nodeps.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -e ".[dev,ray]"
	$(BIN)/python -m pip install --quiet --no-deps -r requirements-nodeps.txt
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/dvc repro
	@echo
	@echo "Report: $(abspath reports/index.html)"

# headless Chromium for the report's browser tests (~11 s via apt here); tests skip, saying why, if this fails
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null; } || \
	  echo "note: could not install chromium + chromium-driver (needs root and apt); browser tests will be skipped"

test: $(STAMP) browser
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest -q

test-slow: $(STAMP) browser
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest -q --runslow

lint: $(STAMP)
	$(BIN)/ruff check dexbench tests bench
	$(BIN)/ruff format --check dexbench tests bench

bench: $(STAMP)
	@for b in bench/*.py; do echo "# $$b"; $(BIN)/python $$b; done

clean-demo:
	rm -rf datasets/synthheads/raw datasets/synthheads/shards protocol submissions metrics/synthheads \
	  metrics/calibration reference_model/runs reports/*.html reports/exports reports/leaderboard.json dvc.lock
