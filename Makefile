# perseus: `make demo` sets everything up and runs the headline experiment; `make test` runs every check.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
CHROMIUM_STAMP := $(VENV)/.chromium-stamp
# pip's machine config lists local indexes that may be absent; their warnings are noise.
PIP_QUIET := 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }

.PHONY: demo test install lint unit clean chromium reference mutants

install: $(STAMP)

# torch==2.13.0 (the CPU wheel on local disk) and pytorchcv resolve in one pip command via the extras.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip $(PIP_QUIET)
	$(BIN)/python -m pip install -q -e '.[zoo,dev,ray]' $(PIP_QUIET)
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/perseus models export resnet50 mobilenet_v2
	$(BIN)/perseus demo

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy src
	$(BIN)/lint-imports

# docs/reference.md: every file format, generated from the pydantic models (a unit test fails when stale).
reference: $(STAMP)
	$(BIN)/python -m perseus.report.reference docs/reference.md

chromium: $(CHROMIUM_STAMP)

# The HTML report test opens the report in headless Chromium: Debian's package, installed only when absent.
$(CHROMIUM_STAMP):
	command -v chromium >/dev/null || { \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -qq && \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	mkdir -p $(VENV) && touch $@

# Unit tests in two processes (CPU-bound and independent), but those watching the whole host's CPU alone;
# integration tests one at a time, since they time the real server.
test: lint $(CHROMIUM_STAMP)
	$(BIN)/pytest -q -n 2 -m "not serial" tests/unit
	$(BIN)/pytest -q -m "serial or integration" tests/unit tests/integration

# Mutation check of the modules [tool.mutmut] in pyproject.toml names (not part of `make test`: ~40 min on
# 2 cores). mutmut 3 pulls in libcst and textual, too heavy for the dev extra, so it is installed on demand.
MUTMUT := mutmut==3.8.1
mutants: $(STAMP)
	test -x $(BIN)/mutmut || $(BIN)/python -m pip install -q '$(MUTMUT)' $(PIP_QUIET)
	$(BIN)/python benchmarks/mutants.py $(MUTANTS_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache mutants
