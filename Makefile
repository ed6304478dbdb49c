# The two commands a new user needs: `make run` and `make test`. Everything else is a step
# they call. Each step prints what it does and is safe to repeat.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# The interpreter itself, not a version manager's shim: uv compares paths, and a shim would
# make it rebuild .venv on every run.
PYTHON ?= $(shell for p in python3.11 python3; do \
	command -v $$p >/dev/null && exec $$p -c 'import sys; print(sys.executable)'; done)
UV_VERSION := 0.13.8
BOOTSTRAP := .local/bootstrap
UV := $(BOOTSTRAP)/bin/uv
VENV := .venv
MPA := $(VENV)/bin/mpa
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: help venv stack browser run test lint typecheck contracts-check unit integration down bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(UV):
	@echo "==> Installing uv $(UV_VERSION) (the Python package manager) into $(BOOTSTRAP)"
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), f"Python 3.11 is required, found {sys.version.split()[0]}"'
	@$(PYTHON) -m venv $(BOOTSTRAP)
	@$(BOOTSTRAP)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

venv: $(UV) ## Create .venv with every package and tool, exactly as uv.lock pins them
	@echo "==> Syncing $(VENV) with uv.lock"
	@$(UV) sync --frozen --python $(PYTHON)

stack: venv ## Start PostgreSQL and Kafka (installing them if missing), migrate, create topics
	@$(MPA) stack up

browser: venv ## Install Chromium for the console's browser tests when it is missing
	@$(MPA) browser

run: venv ## Start the whole platform (stack, the four services, the console); Ctrl-C stops them
	@$(MPA) run

down: ## Stop the local Kafka and PostgreSQL
	@if [ -x $(MPA) ]; then $(MPA) stack down; else echo "nothing to stop (no .venv)"; fi

lint: venv ## ruff (lint + format check), mypy, import contracts
	@echo "==> ruff check"
	@$(VENV)/bin/ruff check .
	@echo "==> ruff format --check"
	@$(VENV)/bin/ruff format --check .
	@echo "==> mypy"
	@$(VENV)/bin/mypy contracts/src services/*/src cli/src
	@echo "==> import-linter (layers and service boundaries)"
	@$(VENV)/bin/lint-imports --no-cache

contracts-check: venv ## Fail if the committed schemas/AsyncAPI differ from the event models
	@echo "==> Checking generated contracts (schemas, AsyncAPI) are up to date"
	@$(VENV)/bin/python -m mpa_contracts.generate --check

test: stack browser lint contracts-check ## Everything CI runs: stack, lint, contracts, the whole pytest suite (browser tests too)
	@echo "==> pytest (unit, integration on the real Kafka and PostgreSQL, end-to-end)"
	@$(VENV)/bin/pytest

unit: venv ## Only the fast tests that need no servers
	@$(VENV)/bin/pytest contracts services cli/tests -m "not integration and not e2e"

bench: stack ## Benchmarks that print figures (not part of make test): each service, then the whole platform
	@set -e; for script in services/*/bench/bench_*.py; do \
		echo "==> $$script"; $(VENV)/bin/python $$script; done
	@echo "==> bench/e2e.py (the whole platform on a private stack; BENCH_ARGS=--help for options)"
	@$(VENV)/bin/python bench/e2e.py $(BENCH_ARGS)

clean: down ## Stop the stack and delete .local (data, jars, logs) and .venv
	rm -rf .local $(VENV)
