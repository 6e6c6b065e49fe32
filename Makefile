# Two commands for a fresh machine with Python 3.11: `make demo` and `make test`.
# Each creates .venv/ and installs the package (editable, with test tools) when missing.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.PHONY: install demo test lint test-slow bench docs clean retrain-analytic retrain-realistic test-sets robustness-test-sets calibrate-analytic ship-analytic ship-analytic-check model-checksums

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

# The exact commands that produced trained_models/analytic/ and trained_models/realistic/
# (see their README.md). Training refuses to write into a non-empty folder: retrain into
# another one with e.g. `make retrain-analytic MODELS=my_models`.
DATA ?= data
MODELS ?= trained_models
retrain-analytic: $(INSTALLED)
	$(VENV)/bin/debvader-euclid generate --kind isolated --n-stamps 75000 --seed 1 --out $(DATA)/isolated-train --workers 2
	$(VENV)/bin/debvader-euclid generate --kind blended --n-stamps 75000 --seed 2 --out $(DATA)/blended-train --workers 2
	$(VENV)/bin/debvader-euclid generate --kind blended --n-stamps 150000 --seed 5 --out $(DATA)/blended-train-150k --workers 2
	$(VENV)/bin/debvader-euclid generate --kind blended --n-stamps 300000 --seed 6 --out $(DATA)/blended-train-300k --workers 2
	$(VENV)/bin/debvader-euclid generate --kind blended --n-stamps 300000 --seed 7 --out $(DATA)/blended-train-300k-s7 --workers 2
	$(VENV)/bin/debvader-euclid generate --kind blended --n-stamps 300000 --seed 9 --bright-neighbour-fraction 0.2 --bright-neighbour-mag-range 18 22 --bright-neighbour-min-central-mag 23.5 --out $(DATA)/blended-train-300k-s9-bright-faint --workers 2
	$(VENV)/bin/debvader-euclid generate --kind blended --n-stamps 75000 --seed 12 --psf-model airy --bright-neighbour-fraction 0.2 --bright-neighbour-mag-range 18 22 --bright-neighbour-min-central-mag 23.5 --out $(DATA)/blended-train-75k-s12-airy-0.17 --workers 2
	$(VENV)/bin/debvader-euclid generate --kind blended --n-stamps 45000 --seed 13 --psf-model airy --psf-fwhm 0.20 --bright-neighbour-fraction 0.2 --bright-neighbour-mag-range 18 22 --bright-neighbour-min-central-mag 23.5 --out $(DATA)/blended-train-45k-s13-airy-0.20 --workers 2
	$(VENV)/bin/debvader-euclid generate --kind blended --n-stamps 30000 --seed 14 --psf-model airy --psf-fwhm 0.15 --bright-neighbour-fraction 0.2 --bright-neighbour-mag-range 18 22 --bright-neighbour-min-central-mag 23.5 --out $(DATA)/blended-train-30k-s14-airy-0.15 --workers 2
	$(VENV)/bin/debvader-euclid generate --kind blended --n-stamps 75000 --seed 15 --psf-model kolmogorov-airy --psf-fwhm 0.22 --bright-neighbour-fraction 0.2 --bright-neighbour-mag-range 18 22 --bright-neighbour-min-central-mag 23.5 --out $(DATA)/blended-train-75k-s15-kolmogorov-airy-0.22 --workers 2
	$(VENV)/bin/debvader-euclid combine --input $(DATA)/blended-train-300k-s9-bright-faint:0-149 --input $(DATA)/blended-train-75k-s12-airy-0.17 --input $(DATA)/blended-train-45k-s13-airy-0.20 --input $(DATA)/blended-train-30k-s14-airy-0.15 --input $(DATA)/blended-train-75k-s15-kolmogorov-airy-0.22 --out $(DATA)/blended-train-375k-psf-input
	$(VENV)/bin/debvader-euclid train vae --data $(DATA)/isolated-train --out $(MODELS)/analytic/vae
	$(VENV)/bin/debvader-euclid train deblender --vae $(MODELS)/analytic/vae --data $(DATA)/blended-train-150k --out $(MODELS)/analytic/deblender-pixel --config configs/deblender-wide.json
	$(VENV)/bin/debvader-euclid train deblender --vae $(MODELS)/analytic/vae --init-encoder $(MODELS)/analytic/deblender-pixel --data $(DATA)/blended-train-150k --out $(MODELS)/analytic/deblender-finetune --config configs/deblender-flux-finetune-noise.json
	$(VENV)/bin/debvader-euclid train deblender --vae $(MODELS)/analytic/vae --init-encoder $(MODELS)/analytic/deblender-finetune --data $(DATA)/blended-train-300k --out $(MODELS)/analytic/deblender-step3 --config configs/deblender-flux-finetune-noise-continue.json
	$(VENV)/bin/debvader-euclid train deblender --vae $(MODELS)/analytic/vae --init-encoder $(MODELS)/analytic/deblender-step3 --data $(DATA)/blended-train-300k --out $(MODELS)/analytic/deblender-step4 --config configs/deblender-flux-finetune-noise-continue.json
	$(VENV)/bin/debvader-euclid train deblender --vae $(MODELS)/analytic/vae --init-encoder $(MODELS)/analytic/deblender-step4 --data $(DATA)/blended-train-300k-s7 --out $(MODELS)/analytic/deblender-step5 --config configs/deblender-flux-finetune-noise-continue.json
	$(VENV)/bin/debvader-euclid train deblender --vae $(MODELS)/analytic/vae --init-encoder $(MODELS)/analytic/deblender-step5 --data $(DATA)/blended-train-300k-s9-bright-faint --out $(MODELS)/analytic/deblender-step6 --config configs/deblender-flux-finetune-noise-continue.json
	$(VENV)/bin/debvader-euclid train deblender --vae $(MODELS)/analytic/vae --init-encoder $(MODELS)/analytic/deblender-step6 --data $(DATA)/blended-train-375k-psf-input --out $(MODELS)/analytic/deblender-step7 --config configs/deblender-psf-input-finetune.json
	$(VENV)/bin/debvader-euclid train deblender --vae $(MODELS)/analytic/vae --init-encoder $(MODELS)/analytic/deblender-step7 --data $(DATA)/blended-train-375k-psf-input --out $(MODELS)/analytic/deblender --config configs/deblender-psf-input-finetune-flux-3000.json
	$(MAKE) calibrate-analytic MODELS=$(MODELS) DATA=$(DATA)
	$(MAKE) model-checksums MODELS=$(MODELS)

# The flux-error models of trained_models/analytic/deblender/flux_errors.json, one per set of
# deblending options, fitted on the validation shards 67-74 of the seed-2 blends.
calibrate-analytic: $(INSTALLED)
	$(VENV)/bin/debvader-euclid calibrate-errors --model $(MODELS)/analytic --data $(DATA)/blended-train --shards 67-74
	$(VENV)/bin/debvader-euclid calibrate-errors --model $(MODELS)/analytic --data $(DATA)/blended-train --shards 67-74 --neighbours check
	$(VENV)/bin/debvader-euclid calibrate-errors --model $(MODELS)/analytic --data $(DATA)/blended-train --shards 67-74 --neighbours check --refine
	$(VENV)/bin/debvader-euclid calibrate-errors --model $(MODELS)/analytic --data $(DATA)/blended-train --shards 67-74 --neighbours check --refine --symmetrize

retrain-realistic: $(INSTALLED)
	$(VENV)/bin/debvader-euclid generate --kind isolated --morphology realistic --n-stamps 75000 --seed 11 --out $(DATA)/realistic-isolated-train --workers 2
	$(VENV)/bin/debvader-euclid generate --kind blended --morphology realistic --n-stamps 75000 --seed 12 --out $(DATA)/realistic-blended-train --workers 2
	$(VENV)/bin/debvader-euclid train vae --data $(DATA)/realistic-isolated-train --out $(MODELS)/realistic/vae --config configs/realistic-vae.json
	$(VENV)/bin/debvader-euclid train deblender --vae $(MODELS)/realistic/vae --data $(DATA)/realistic-blended-train --out $(MODELS)/realistic/deblender --config configs/realistic-deblender.json
	$(VENV)/bin/debvader-euclid calibrate-errors --model $(MODELS)/realistic --data $(DATA)/realistic-blended-train --shards 67-74
	$(VENV)/bin/debvader-euclid calibrate-errors --model $(MODELS)/realistic --data $(DATA)/realistic-blended-train --shards 67-74 --neighbours check
	$(VENV)/bin/debvader-euclid calibrate-errors --model $(MODELS)/realistic --data $(DATA)/realistic-blended-train --shards 67-74 --neighbours check --refine
	$(MAKE) model-checksums MODELS=$(MODELS)

# Held-out test sets (seeds never used in training) and the evaluation reports of
# reports/: Table 1 rows, per-magnitude tables, figures and the model x data cross table.
test-sets: $(INSTALLED)
	$(VENV)/bin/debvader-euclid generate --kind isolated --n-stamps 5000 --seed 1001 --out $(DATA)/isolated-test --workers 2
	$(VENV)/bin/debvader-euclid generate --kind blended --n-stamps 5000 --seed 1002 --out $(DATA)/blended-test --workers 2
	$(VENV)/bin/debvader-euclid generate --kind blended --n-stamps 5000 --seed 1003 --mag-range 18 21 --out $(DATA)/blended-test-bright --workers 2
	$(VENV)/bin/debvader-euclid generate --kind isolated --morphology realistic --n-stamps 5000 --seed 1011 --out $(DATA)/realistic-isolated-test --workers 2
	$(VENV)/bin/debvader-euclid generate --kind blended --morphology realistic --n-stamps 5000 --seed 1012 --out $(DATA)/realistic-blended-test --workers 2

# The blended test sets of reports/robustness/ (README.md there): seed 1002 (1012 realistic)
# with one instrument setting changed. A complete folder is left as it is.
ROBUST := $(VENV)/bin/debvader-euclid generate --kind blended --n-stamps 5000 --workers 2
robustness-test-sets: $(INSTALLED)
	$(ROBUST) --seed 1002 --psf-model airy --out $(DATA)/robustness/blended-test-airy
	$(ROBUST) --seed 1002 --psf-model kolmogorov-airy --psf-fwhm 0.17 --out $(DATA)/robustness/blended-test-kolmogorov-airy-0.17
	$(ROBUST) --seed 1002 --psf-model kolmogorov-airy --psf-fwhm 0.22 --out $(DATA)/robustness/blended-test-kolmogorov-airy-0.22
	$(ROBUST) --seed 1002 --psf-fwhm 0.15 --out $(DATA)/robustness/blended-test-fwhm-0.15
	$(ROBUST) --seed 1002 --psf-fwhm 0.20 --out $(DATA)/robustness/blended-test-fwhm-0.20
	$(ROBUST) --seed 1002 --noise-definition aperture --out $(DATA)/robustness/blended-test-aperture-noise
	$(ROBUST) --seed 1002 --mag-limit 26.5 --out $(DATA)/robustness/blended-test-mag-limit-26.5
	$(ROBUST) --seed 1012 --morphology realistic --noise-definition aperture --out $(DATA)/robustness/realistic-blended-test-aperture-noise
	$(ROBUST) --seed 1012 --morphology realistic --mag-limit 26.5 --out $(DATA)/robustness/realistic-blended-test-mag-limit-26.5

# Ship a deblender run as trained_models/analytic/deblender: `make ship-analytic RUN=runs/X`,
# RUN a folder written by `train deblender` on the shipped VAE (its decoder.h5 must equal the
# shipped one). Copies the run's files, recalibrates the flux errors on the validation blends
# (shards 67-74 of data/blended-train), rewrites the checksums and the demo, re-runs every
# report the replaced weights made (reports/refresh_reports.py: before/after table), the two
# comparison tables and the CPU speed benchmark (BENCH_JSON). Test sets are made when missing.
# Then read the table, update the docs and commit.
SHIPPED := trained_models/analytic/deblender
BENCH_JSON ?= reports/benchmarks/deblend_speed_cpu_$(notdir $(patsubst %/,%,$(RUN))).json
# The checks of ship-analytic, run before it touches anything (tests/test_make_ship.py).
ship-analytic-check:
	@test -n "$(RUN)" || { echo "make ship-analytic: name the run to ship: make ship-analytic RUN=runs/<folder written by train deblender>" >&2; exit 2; }
	@for f in config.json decoder.h5 encoder.h5 history.csv provenance.json; do \
	  test -f "$(RUN)/$$f" || { echo "make ship-analytic: $(RUN)/$$f is missing; RUN must be a folder written by 'debvader-euclid train deblender'" >&2; exit 2; }; \
	done
	@cmp -s "$(RUN)/decoder.h5" $(SHIPPED)/decoder.h5 || { echo "make ship-analytic: $(RUN)/decoder.h5 differs from $(SHIPPED)/decoder.h5: the run was not trained on the shipped VAE (train deblender --vae trained_models/analytic/vae)" >&2; exit 2; }
	@test ! -e "$(BENCH_JSON)" || { echo "make ship-analytic: $(BENCH_JSON) exists; name another file with BENCH_JSON=..." >&2; exit 2; }

ship-analytic: $(INSTALLED) ship-analytic-check
	$(MAKE) test-sets robustness-test-sets DATA=data
	$(VENV)/bin/debvader-euclid generate --kind blended --n-stamps 75000 --seed 2 --out data/blended-train --workers 2
	for f in config.json decoder.h5 encoder.h5 history.csv provenance.json; do \
	  cp "$(RUN)/$$f" $(SHIPPED)/$$f.tmp && mv $(SHIPPED)/$$f.tmp $(SHIPPED)/$$f; \
	done
	rm -f $(SHIPPED)/flux_errors.json
	$(MAKE) calibrate-analytic MODELS=trained_models DATA=data
	$(MAKE) model-checksums MODELS=trained_models
	$(MAKE) demo
	$(PY) reports/refresh_reports.py --model analytic
	$(VENV)/bin/debvader-euclid compare reports/analytic/* reports/realistic/* reports/cross/*/* --out reports/cross_table.md --overwrite
	$(VENV)/bin/debvader-euclid compare reports/robustness/*/* --out reports/robustness/table.md --overwrite
	$(PY) benchmarks/deblend_speed.py --data data/blended-test --json $(BENCH_JSON)

# SHA256SUMS of every shipped file of each model (checked by tests/test_shipped_models.py).
model-checksums:
	for model in $(MODELS)/*/; do \
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
