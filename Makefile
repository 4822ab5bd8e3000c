# Executable workflow documentation. `make help` lists the targets.
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: help venv test test-fast lint format typecheck bench demo clean

help:  ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

venv:  ## create the virtualenv and install the package with dev tools
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q -e '.[dev]'

test:  ## the full suite, PostgreSQL included (what CI runs)
	bash scripts/test.sh

test-fast: venv  ## the suite on SQLite only
	SYNDICATOR_TEST_PG_URL= $(PY) -m pytest -q -m 'not postgres and not browser'

lint: venv  ## ruff lint + format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv  ## apply ruff formatting and safe fixes
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

typecheck: venv  ## mypy on the packages
	$(VENV)/bin/mypy

bench: venv  ## run the benchmarks (prints figures; not tests)
	$(PY) bench/poll.py
	$(PY) bench/ingest.py

demo:  ## the end-to-end demo on local stand-ins
	bash scripts/demo.sh

clean:  ## remove caches and local databases
	rm -rf .pytest_cache .mypy_cache .ruff_cache var build *.egg-info
