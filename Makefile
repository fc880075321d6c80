# hautflow — the two commands of the README, and the pieces they are made of.
#
#   make run    set everything up, then ingest data/sample against the embedded emulator
#   make test   set everything up, then lint, type-check and run the whole test suite
#
# Only Python 3.11, pip and make are assumed. uv (installed from PyPI into .tools/) builds .venv
# from uv.lock, so every machine runs the versions the suite was tested with.

PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin

# Prefect stays quiet and self-contained wherever the project runs it.
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export UV_PYTHON_DOWNLOADS := never

.PHONY: run test setup check lint typecheck pytest bench bench-memory bench-startup bench-lake clean

run: setup
	$(BIN)/python data/make_sample.py data/sample
	$(BIN)/hautflow ingest data/sample --fail-on failure

test: setup check pytest

setup: $(BIN)/hautflow

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# Bytecode is compiled once here: where PYTHONDONTWRITEBYTECODE is set (as on the machines here),
# Python would otherwise compile Prefect and every module again in each process (11 s instead
# of 5 s to import the ingest flow). A source edited later is still read fresh (mtime check).
$(BIN)/hautflow: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --compile-bytecode --python $(PYTHON)
	$(BIN)/python -m compileall -q -j 0 flows tasks haut hautflow schemas bench tests
	@touch $@

check: lint typecheck

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

# The suite mostly waits on servers, subprocesses and the emulator: two pytest-xdist workers
# overlap that waiting on two cores. Each test file stays on one worker (its module fixtures
# are set up once), in collection order: tests/conftest.py puts the slow files first.
PYTEST_WORKERS ?= 2
pytest: setup
	PREFECT_HOME=$$(mktemp -d) $(BIN)/pytest -q -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder

# Benchmarks: never part of the test run (see BENCHMARKS.md for the figures).
bench: setup
	$(BIN)/python -m bench.ingest_bench --captures 200 --write BENCHMARKS.md

bench-memory: setup
	$(BIN)/python -m bench.ingest_bench --no-throughput --memory 1000 10000 --write BENCHMARKS.md

bench-startup: setup
	$(BIN)/python -m bench.startup --write BENCHMARKS.md

bench-lake: setup
	$(BIN)/python -m bench.lake_bench --write BENCHMARKS.md

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .mypy_cache .ruff_cache
