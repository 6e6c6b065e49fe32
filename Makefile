# Two commands for a fresh machine with Python 3.11: `make demo` and `make test`.
# Each creates .venv/ and installs the package (editable, with test tools) when missing.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.PHONY: install demo test lint test-slow bench docs clean

$(INSTALLED): setup.cfg setup.py pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(INSTALLED)

install: $(INSTALLED)

demo: $(INSTALLED)
	$(VENV)/bin/debvader-euclid demo --out demo_output

lint: $(INSTALLED)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: lint
	$(PY) -m pytest -q --durations=10

test-slow: $(INSTALLED)
	$(PY) -m pytest -q -m slow --durations=10

bench: $(INSTALLED)
	$(PY) benchmarks/generation_speed.py

clean:
	rm -rf build dist *.egg-info .pytest_cache .ruff_cache demo_output benchmark_output
