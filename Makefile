# Two commands on a fresh machine:  make run  (install + start the platform)  |  make test
# While working: make test-fast (no service processes, no PostgreSQL; see tests/conftest.py)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install run test test-fast lint typecheck clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	@# Bytecode for our own packages once: with PYTHONDONTWRITEBYTECODE set (as on CI machines)
	@# every service process the tests start would compile them again (~0.4 s a start).
	$(BIN)/python -m compileall -q -j 0 contracts system_apis process_apis experience_apis gateway plantbridge connectors > /dev/null
	touch $@

install: $(BIN)/.installed

run: install
	$(BIN)/plantbridge up --demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports  # the layer, independence and no-cycle contracts of .importlinter
	$(BIN)/plantbridge contracts check
	$(BIN)/plantbridge contracts lint
	$(BIN)/plantbridge contracts diff

typecheck: install
	$(BIN)/mypy contracts system_apis process_apis experience_apis gateway plantbridge connectors

# The fast lane: services in process (Litestar's test client over real SQLite files and a real
# Redis) and unit tests. Tests that start processes (e2e) or use PostgreSQL are left to `make test`.
test-fast: install
	$(BIN)/pytest -m "not e2e and not postgres" --durations=10

# Everything, as CI runs it. Contract runs are bound by each service's own CPU: two at a time use
# both cores. The rest runs one test at a time, as its timing-sensitive end-to-end tests expect.
test: install
	./scripts/ensure-postgres
	$(MAKE) --no-print-directory lint typecheck
	$(BIN)/pytest -n 2 tests/contract --durations=10
	$(BIN)/pytest --ignore=tests/contract --durations=25

clean:
	rm -rf $(VENV) data test-artifacts .pytest_cache .mypy_cache .ruff_cache
