# srm_keras developer commands. Everything installs into a local .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONUNBUFFERED := 1

.PHONY: install test test-fast demo lint format clean bench-deployed

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

# The exported ResNet-50s in ONNX Runtime and LiteRT against plain ResNet-50 (BENCHMARKS.md,
# "Deployed models"): a maintainer's check, minutes long, not part of `make test`. The files go to
# GRAPHS; the results to benchmarks/results/$(RUN)_cpu_*/, a new folder each run.
GRAPHS ?= /tmp/srm_keras_graphs
RUN ?= $(shell date -u +%Y-%m-%d)
DEPLOYED := resnet50 se_resnet50 srm_resnet50 ge_resnet50 mssar_resnet50
RESULTS := benchmarks/results/$(RUN)_cpu

bench-deployed: $(STAMP)
	@for run in deployed_graphs onnx_resnet50 tflite_resnet50; do \
	  if [ -e $(RESULTS)_$$run ]; then \
	    echo "$(RESULTS)_$$run exists: pass RUN=<date>_<n> for a new run folder"; exit 2; fi; done
	$(PY) benchmarks/deployed_graphs.py --artifacts $(GRAPHS) \
	  --output $(RESULTS)_deployed_graphs/cpu_deployed_graphs.json
	$(VENV)/bin/srm-keras bench --models $(foreach m,$(DEPLOYED),$(GRAPHS)/$(m).onnx) \
	  --batch-size 1 16 --repeats 10 --min-repeat-seconds 1 \
	  --output $(RESULTS)_onnx_resnet50/cpu_onnx_resnet50.json
	$(VENV)/bin/srm-keras bench --models $(foreach m,$(DEPLOYED),$(GRAPHS)/$(m).tflite) \
	  --batch-size 1 16 --repeats 8 --min-repeat-seconds 1 \
	  --output $(RESULTS)_tflite_resnet50/cpu_tflite_resnet50.json

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check srm_keras tests

format: $(STAMP)
	$(VENV)/bin/ruff format srm_keras tests
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) runs build dist *.egg-info .pytest_cache .ruff_cache
