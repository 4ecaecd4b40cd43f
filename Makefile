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

## Triage the bundled sample evidence into the case "demo" with the shipped model and print the result table.
demo: $(STAMP)
	$(DFD) triage examples/evidence --case demo --examiner "demo examiner"
	$(DFD) verify demo

## The whole test suite, slow and browser tests included (what CI runs).
test: $(STAMP)
	$(PY) -m pytest

test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow and not browser"

bench: $(STAMP)
	$(PY) bench/scan_bench.py

examples: $(STAMP)
	$(PY) examples/make_examples.py
