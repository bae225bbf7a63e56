# Two commands on a fresh machine: `make run` and `make test`. Everything else is set up by them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run test lint typecheck pytest bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP) $@

## Set up, create/upgrade the SQLite database under ./.ombud, load the demo once, serve on :8000.
run: $(STAMP)
	$(BIN)/ombud db upgrade
	$(BIN)/ombud serve --demo

## Set up the dev tools and run every check: ruff, mypy (strict on src/), import contracts, pytest.
test: $(DEV_STAMP)
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest -q -n auto || [ $$? -eq 5 ]  # one process per core; 5 = no tests collected, not a failure

bench: $(DEV_STAMP)
	$(BIN)/python benchmarks/bench_core.py

clean:
	rm -rf $(VENV) .ombud .pytest_cache .mypy_cache .ruff_cache
