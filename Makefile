# The two set-up commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
export REXAI_DATA_ROOT ?= $(CURDIR)/data

.PHONY: run test dev check bench screenshot install clean-data

# Reinstall only when the package metadata changes.
$(VENV)/.installed: pyproject.toml setup.cfg
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

run: install
	$(BIN)/rexai run

# The suite on every core (2 here): tests are isolated (own data root, Dagster home, config, ports) and
# handed out two at a time as workers free up, longest first (conftest.py). TEST_WORKERS=0: one process.
TEST_WORKERS ?= auto

test: install
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist load --maxschedchunk 1

dev: install
	$(BIN)/python -c "from rexai_assets.ops.pipeline import ensure_dagster_home; ensure_dagster_home()"
	$(BIN)/dagster dev

check: install
	$(BIN)/rexai check

bench: install
	$(BIN)/python -m rexai_assets.gold.bench --rows 1000000
	$(BIN)/python -m rexai_assets.models.bench
	$(BIN)/python -m rexai_assets.serving.bench
	$(BIN)/python -m rexai_assets.planning.bench --latency

screenshot: install
	$(BIN)/rexai screenshot

clean-data:
	rm -rf data/warehouse data/mlflow data/models data/bundles data/benchmarks data/logs data/quarantine data/inbox data/docs .dagster_home
