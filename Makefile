# The two commands a fresh machine needs: `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
DFD := $(VENV)/bin/dfd
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast dashboard venv bench examples clean-demo screenshot

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
	$(DFD) report demo --out out/demo/report.pdf
	@echo "Report: out/demo/report.pdf   Dashboard: make dashboard"

## The whole test suite, slow and browser tests included (what CI runs).
test: $(STAMP)
	$(PY) -m pytest

test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow and not browser"

bench: $(STAMP)
	$(PY) bench/scan_bench.py

## The Voila dashboard on http://127.0.0.1:8866 (cases in $$DFD_CASES_DIR, else ./cases). Listening beyond
## localhost (DASHBOARD_IP=0.0.0.0) turns on a token: open the URL with the token that Voila prints.
DASHBOARD_IP ?= 127.0.0.1
DASHBOARD_PORT ?= 8866
dashboard: $(STAMP)
	DFD_CASES_DIR="$${DFD_CASES_DIR:-$(CURDIR)/cases}" $(VENV)/bin/voila notebooks/dashboard.ipynb --no-browser \
	  --Voila.ip=$(DASHBOARD_IP) --port=$(DASHBOARD_PORT) \
	  $(if $(filter 127.0.0.1 localhost ::1,$(DASHBOARD_IP)),,--token)

## Refresh docs/dashboard.png from the browser test's final screenshot (tests alone never touch docs/).
screenshot: $(STAMP)
	DFD_UPDATE_DOCS=1 $(PY) -m pytest tests/test_dashboard.py

examples: $(STAMP)
	$(PY) examples/make_examples.py
