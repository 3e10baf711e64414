# Entry points. Every target creates what it needs on first use (virtualenvs from pyproject.toml).
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Glue 5.x runs Python 3.11, so the main environment does too when the machine has it.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
GLUE5_VENV := .venv-glue5
PY := $(VENV)/bin/python
PIP_FLAGS := --quiet --disable-pip-version-check

.PHONY: help venv glue5-venv lint format test test-fast clean

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install $(PIP_FLAGS) --upgrade pip
	$(PY) -m pip install $(PIP_FLAGS) ".[dev]"
	@touch $@

$(GLUE5_VENV)/.installed: pyproject.toml
	@test -x $(GLUE5_VENV)/bin/python || $(PYTHON) -m venv $(GLUE5_VENV)
	$(GLUE5_VENV)/bin/python -m pip install $(PIP_FLAGS) ".[glue5-runtime]"
	@touch $@

venv: $(VENV)/.installed ## create .venv from pyproject.toml

glue5-venv: $(GLUE5_VENV)/.installed ## create .venv-glue5 with the Glue 5.0 runtime's boto3/pyarrow

lint: venv ## ruff lint + format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv ## apply ruff fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test: lint glue5-venv ## lint, the whole suite, then the Glue job tests again under the Glue 5.0 runtime pins
	$(VENV)/bin/pytest
	SOR_JOB_PYTHON=$(abspath $(GLUE5_VENV))/bin/python $(VENV)/bin/pytest -m glue_job -q

test-fast: venv ## the suite without lint or the Glue 5.0 re-run
	$(VENV)/bin/pytest -x -q

clean: ## remove virtualenvs and build output
	rm -rf $(VENV) $(GLUE5_VENV) .aws-sam .pytest_cache .ruff_cache
