# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export DAGSTER_HOME := $(CURDIR)/.dagster_home

.PHONY: run test test-quick constraints fuzz bench bench-quick template sample preview dev clean install-services

# Installed at the versions of constraints.txt: the recorded bytes (Biểu hashes, templates, sample)
# depend on them.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

## constraints: record the newest versions pyproject.toml allows in constraints.txt (then re-record
## the hashes, templates and sample if their bytes change: see tests/test_bieu_layouts.py)
constraints:
	rm -rf .venv-constraints && $(PYTHON) -m venv .venv-constraints
	.venv-constraints/bin/python -m pip install --quiet -e '.[test]'
	{ sed -n '/^#/p' constraints.txt; .venv-constraints/bin/python -m pip freeze --exclude-editable; } > constraints.new
	mv constraints.new constraints.txt && rm -rf .venv-constraints

## run: the main job through Dagster on the shipped 2023 sample; then the phase summary 2021–2025
## (data/out/2021-2025/) after the shipped synthetic 2021, 2022, 2024 and 2025 are taken in (closed years); then 2025
## (data/out/2025/, province level, its 2024 column restated onto the new communes): after the phase took in 2024
run: $(STAMP)
	$(PY) -m assets run --inbox data/sample --period 2023 --clock 2023-08-10T17:00:00
	$(PY) -m pipeline phase --period 2021-2025 --history data/sample
	$(PY) -m pipeline report --period 2025 --history

## test: the whole test suite on two workers (2034 tests: 345–407 s of tests in three clean-clone .ci/run
## on two cores); prints its 15 slowest tests
test: $(STAMP)
	$(PY) -m pytest -q

## test-quick: the suite without the tests marked slow, for the inner loop (last measured: 1646 tests in
## 413 s on two cores loaded by other work, 246 s of CPU; under 3 minutes is not measured)
test-quick: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

## fuzz: the mutation fuzzer over valid submissions, 3.000 cases (failing inputs kept in data/out/fuzz/)
fuzz: $(STAMP)
	$(PY) -m pipeline.tools.fuzz --cases 3000

## bench: the benchmark suite, national case included (about 10 min the first time); data/out/bench/bench.json
bench: $(STAMP)
	$(PY) -m pipeline.tools.bench

## bench-quick: only the readers and `check` of one file beside its import floor; data/out/bench/bench-quick.json
bench-quick: $(STAMP)
	$(PY) -m pipeline.tools.bench --quick

## template: regenerate the committed blank templates from the catalogue
template: $(STAMP)
	$(PY) -m pipeline template --out templates_xlsx

## sample: regenerate the committed sample submissions: 2023 (the report's figures) and the synthetic 2021, 2022, 2024, and 2025 (the new communes)
sample: $(STAMP)
	$(PY) -m pipeline sample --out data/sample/2023
	for year in 2021 2022 2024; do $(PY) -m pipeline sample --year $$year --out data/sample/$$year || exit 1; done
	$(PY) -m pipeline sample-merged --period 2025 --out data/sample/2025

clean:
	rm -rf data/out data/archive data/warehouse.duckdb data/.inbox-index .dagster_home

## preview: every Biểu of the last run, a feedback workbook and the download page as PDF and PNG (data/xem-truoc/2023/, outside the served out/), to look at
preview: $(STAMP)
	$(PY) -m pipeline preview --period 2023

## dev: the Dagster UI and daemon (http://127.0.0.1:3000) and the download page (http://127.0.0.1:8080)
dev: $(STAMP)
	$(PY) -m assets dev

## install-services: the systemd units, the Caddy front and their settings files under ROOT (default /, as root); see README, "Vận hành"
ROOT ?= /
install-services: $(STAMP)
	deploy/install.sh $(ROOT) $(CURDIR)
