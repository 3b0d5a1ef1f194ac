# Two commands set up a fresh machine: `make demo` and `make test`. Both create .venv on first
# use and reinstall (which also compiles the C kernel) only when pyproject.toml, setup.py or
# the kernel's C sources (src/newtonglm/_gram*) changed (the stamp file tracks that).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench fuzz clean

$(STAMP): pyproject.toml setup.py $(wildcard src/newtonglm/_gram*.c src/newtonglm/_gram*.h)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test,plot]"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m newtonglm demo

lint: $(STAMP)
	$(PY) -m ruff check src tests benchmarks docs
	$(PY) -m ruff format --check src tests benchmarks docs
	$(PY) -m mypy

test: $(STAMP) lint
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) -m pip install --quiet -e ".[bench]"
	$(PY) benchmarks/run.py

fuzz: $(STAMP)
	$(PY) benchmarks/fuzz.py --cases 10000

clean:
	rm -rf $(VENV) build dist src/*.egg-info src/newtonglm/*.so .pytest_cache .mypy_cache .ruff_cache
