# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-slow lint bench fixtures clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) on PATH"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

DEMO_MODEL := src/perfsage/data/models/demo_kws_int8.tflite

# The main job on the bundled model: predictions (with intervals, the OOD check and the per-layer
# breakdown) for every shipped target, the real tools' measurements beside them, and the HTML report.
demo: $(STAMP)
	$(BIN)/perfsage predict $(DEMO_MODEL) --target all --per-layer --top 5 --label
	$(BIN)/perfsage report $(DEMO_MODEL) --target ethos-u55-128 --label -o build/demo_report.html

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks scripts

bench: $(STAMP)
	$(BIN)/python benchmarks/parse_speed.py
	$(BIN)/python benchmarks/synthesis.py
	$(BIN)/python benchmarks/labelling.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache
