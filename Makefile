# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export DAGSTER_HOME := $(CURDIR)/.dagster_home

.PHONY: run test fuzz bench bench-quick template sample preview dev clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

## run: the main job through Dagster on the shipped 2023 sample
run: $(STAMP)
	$(PY) -m assets run --inbox data/sample --period 2023 --clock 2023-08-10T17:00:00

## test: the whole test suite
test: $(STAMP)
	$(PY) -m pytest -q

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

## sample: regenerate the committed 2023 sample submissions
sample: $(STAMP)
	$(PY) -m pipeline sample --out data/sample/2023

clean:
	rm -rf data/out data/archive data/warehouse.duckdb data/.inbox-index .dagster_home

## preview: every Biểu of the last run, a feedback workbook and the download page as PDF and PNG (data/out/2023/xem-truoc/), to look at
preview: $(STAMP)
	$(PY) -m pipeline preview --period 2023

## dev: the Dagster UI and daemon (http://127.0.0.1:3000) and the download page (http://127.0.0.1:8080)
dev: $(STAMP)
	$(PY) -m assets dev
