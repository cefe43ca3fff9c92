# srm_keras developer commands. Everything installs into a local .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONUNBUFFERED := 1

.PHONY: install test test-fast demo lint format clean

install: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	# TF Serving's request protos, for the SavedModel warm-up file; the package requires the
	# full tensorflow wheel, which would sit beside tensorflow-cpu, so its own deps are skipped.
	$(PY) -m pip install --quiet --no-deps "tensorflow-serving-api>=2.18,<3"
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadfile -q

test-fast: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadfile -q -m "not slow"

demo: $(STAMP)
	$(VENV)/bin/srm-keras demo --output runs/demo

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check srm_keras tests

format: $(STAMP)
	$(VENV)/bin/ruff format srm_keras tests
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) runs build dist *.egg-info .pytest_cache .ruff_cache
