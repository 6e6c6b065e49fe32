# Two commands for a fresh machine with Python 3.11: `make demo` and `make test`.
# Each creates .venv/ and installs the package (editable, with test tools) when missing.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.PHONY: install demo test lint test-slow bench docs clean retrain-analytic model-checksums

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
	$(PY) benchmarks/train_throughput.py
	$(PY) benchmarks/deblend_speed.py

# The exact commands that produced trained_models/analytic/ (see its README.md).
DATA ?= data
retrain-analytic: $(INSTALLED)
	$(VENV)/bin/debvader-euclid generate --kind isolated --n-stamps 75000 --seed 1 --out $(DATA)/isolated-train --workers 2
	$(VENV)/bin/debvader-euclid generate --kind blended --n-stamps 75000 --seed 2 --out $(DATA)/blended-train --workers 2
	$(VENV)/bin/debvader-euclid train vae --data $(DATA)/isolated-train --out trained_models/analytic/vae
	$(VENV)/bin/debvader-euclid train deblender --vae trained_models/analytic/vae --data $(DATA)/blended-train --out trained_models/analytic/deblender
	$(MAKE) model-checksums

# SHA256SUMS of every shipped file of each model (checked by tests/test_shipped_models.py).
model-checksums:
	for model in trained_models/*/; do \
	  (cd $$model && find . -type f \( -name '*.h5' -o -name '*.json' -o -name '*.csv' \) \
	     -not -path './*/checkpoints/*' -not -path './*/logs/*' | LC_ALL=C sort \
	     | xargs sha256sum > SHA256SUMS.tmp && mv SHA256SUMS.tmp SHA256SUMS); \
	done

# Documentation: docs/_build/html/index.html. Installs the `docs` extra into .venv when
# missing; warnings are errors. Executed pages are cached until the package sources change.
DOCS_INSTALLED := $(VENV)/.docs-installed

$(DOCS_INSTALLED): $(INSTALLED) setup.cfg
	$(PY) -m pip install --quiet -e '.[docs]'
	@touch $(DOCS_INSTALLED)

docs: $(DOCS_INSTALLED)
	$(VENV)/bin/sphinx-build -W --keep-going -b html docs docs/_build/html

clean:
	rm -rf build dist *.egg-info .pytest_cache .ruff_cache demo_output benchmark_output docs/_build
