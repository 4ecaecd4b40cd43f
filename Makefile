# The two commands a fresh machine needs: `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
DFD := $(VENV)/bin/dfd
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast dashboard venv bench examples clean-demo

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[ui,test]'
	touch $(STAMP)

venv: $(STAMP)

## Triage the bundled sample evidence with the shipped model and print the result table.
demo: $(STAMP)
	$(DFD) scan examples/evidence --gradcam out/demo/gradcam --json out/demo/scan.json --csv out/demo/scan.csv
	@echo "Grad-CAM overlays: out/demo/gradcam   records: out/demo/scan.json"

## The whole test suite, slow and browser tests included (what CI runs).
test: $(STAMP)
	$(PY) -m pytest

test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow and not browser"

bench: $(STAMP)
	$(PY) bench/scan_bench.py

examples: $(STAMP)
	$(PY) examples/make_examples.py
