# Credit Marketing Lab — every target bootstraps .venv when it is missing or out of date.
#   make reports   run every notebook with params/default.yaml and publish reports/
#   make test      install the dev extra and run the whole test suite
#   make lab       JupyterLab on notebooks/ with the cmlib kernel
#   make screenshots  PNGs of the latest run's reports at 1,280 px (headless Chromium) and their layout check
#   make bench     benchmarks/ against peer libraries; results in benchmarks/results/
# Versions come from requirements.lock (exact pins, all extras); `make lock` refreshes it.

PYTHON   ?= python3
VENV     ?= .venv
BIN      := $(VENV)/bin
UV       := $(BIN)/uv
UV_VERSION := 0.13.9
PARAMS   ?= params/default.yaml
JOBS     ?= 2
PYTEST_ARGS ?=
comma    := ,
# REQUIRE_SPARK=1 also installs the spark extra so Spark parity tests run instead of skipping.
TEST_EXTRAS := dev$(if $(filter 1,$(REQUIRE_SPARK)),$(comma)spark,)

.PHONY: reports test lab bench lock lint clean-venv screenshots

$(UV):
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "uv==$(UV_VERSION)"

# One stamp per set of extras: re-installs when pyproject.toml or the lock changes. Packages are installed
# with their bytecode compiled: where PYTHONDONTWRITEBYTECODE is set (this project's CI machine), Python would
# otherwise compile every module from source in every process — 4 s of each notebook's kernel and executor.
$(VENV)/.stamp-%: pyproject.toml requirements.lock | $(UV)
	$(UV) pip install --quiet --compile-bytecode --python $(BIN)/python -c requirements.lock -e ".[$(subst +,$(comma),$*)]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (cmlib)" >/dev/null
	@touch $@

# cmlib's own bytecode too (it is installed editable, so uv leaves it out); up-to-date files are skipped
reports: $(VENV)/.stamp-base
	@$(BIN)/python -m compileall -q src >/dev/null
	$(BIN)/cmlib run -f $(PARAMS) --jobs $(JOBS)

$(VENV)/.stamp-base: pyproject.toml requirements.lock | $(UV)
	$(UV) pip install --quiet --compile-bytecode --python $(BIN)/python -c requirements.lock -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (cmlib)" >/dev/null
	@touch $@

test: $(VENV)/.stamp-$(subst $(comma),+,$(TEST_EXTRAS))
	@$(BIN)/python -m compileall -q src >/dev/null
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# whole-page PNGs of reports/latest at 1,280 px in reports/latest/screenshots/, and the layout problems found
screenshots: $(VENV)/.stamp-base
	$(BIN)/python -m cmlib.report.browser reports/latest

lab: $(VENV)/.stamp-dev
	$(BIN)/jupyter lab --notebook-dir=notebooks

bench: $(VENV)/.stamp-dev+bench
	$(BIN)/python -m benchmarks

lint: $(VENV)/.stamp-dev
	$(BIN)/ruff check src tests notebooks benchmarks
	$(BIN)/ruff format --check src tests notebooks benchmarks

lock: | $(UV)
	$(UV) pip compile pyproject.toml --all-extras --python-version 3.11 --no-header --no-annotate -o requirements.lock

clean-venv:
	rm -rf $(VENV)
