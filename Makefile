# Two commands on a fresh machine: `make test` and `make demo`.
# Each creates .venv when missing and installs the project into it once;
# a second call installs nothing (the stamp is newer than pyproject.toml).
# The tests and the demo label with OpenSim, so they get the lab and dask extras too.
PYTHON ?= python3.11
VENV := .venv
STAMP := $(VENV)/.gait2hip-installed
PY := $(VENV)/bin/python

.PHONY: test demo install bench clean

install: $(STAMP)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)

$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[lab,dask,test]"
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q --durations=20 tests

demo: $(STAMP)
	$(VENV)/bin/gait2hip run workflows/demo.yaml

bench: $(STAMP)
	$(PY) benchmarks/bench_pipeline_stages.py

clean:
	rm -rf runs build *.egg-info
