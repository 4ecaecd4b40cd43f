# The two commands a fresh machine needs: `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
DFD := $(VENV)/bin/dfd
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint typecheck dashboard venv bench hostile-bench examples screenshot

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[ui,test,backbones]'
	touch $(STAMP)

venv: $(STAMP)

## Triage the bundled sample evidence into the case "demo" with the shipped model and print the result table.
demo: $(STAMP)
	$(DFD) triage examples/evidence --case demo --examiner "demo examiner"
	$(DFD) verify demo
	@rm -f out/demo/report.pdf  # make's own file: a report never replaces a file its case did not write
	$(DFD) report demo --out out/demo/report.pdf
	@echo "Report: out/demo/report.pdf   Dashboard: make dashboard"

## The whole test suite, slow and browser tests included (what CI runs).
test: $(STAMP)
	$(PY) -m pytest

## ruff: lint rules and formatting (pyproject.toml [tool.ruff]); `ruff format .` and `ruff check --fix .` fix most.
lint: $(STAMP)
	$(VENV)/bin/ruff check dfd_lib workbench tests bench notebooks
	$(VENV)/bin/ruff format --check dfd_lib workbench tests bench notebooks

## mypy over dfd_lib and workbench (pyproject.toml [tool.mypy], with its list of modules still to fix).
typecheck: $(STAMP)
	$(VENV)/bin/mypy

test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow and not browser"

## Every performance figure in one run (photos and video against the original path, model load, peak RSS on hostile
## input, accuracy against the card), beside bench/figures.json's last saved figures. See bench/README.md.
bench: $(STAMP)
	$(PY) bench/release_bench.py

## Scan a generated hostile-input corpus (10,000 small files, bombs, broken media, odd names) with the shipped
## model; prints files with a status and message, crashes, the slowest file and peak RSS (no timed assertions).
hostile-bench: $(STAMP)
	$(PY) bench/hostile_bench.py

## The Voila dashboard on http://localhost:8866 (cases in $$DFD_CASES_DIR, else ./cases): open the URL it prints,
## which carries the access token ($$DFD_DASHBOARD_TOKEN, else a new random one). Only requests addressed to
## localhost or a loopback address are served (more names: DASHBOARD_HOSTS=name1,name2). The evidence path box
## reads only under $$DFD_EVIDENCE_ROOTS (default: none - uploads only); uploads may total $$DFD_UPLOAD_MAX_MB MiB
## per batch (default 256). See docs/security.md.
DASHBOARD_IP ?= 127.0.0.1
DASHBOARD_PORT ?= 8866
DASHBOARD_HOSTS ?= $(DFD_DASHBOARD_HOSTS)
dashboard: $(STAMP)
	DFD_CASES_DIR="$${DFD_CASES_DIR:-$(CURDIR)/cases}" DFD_DASHBOARD_HOSTS="$(DASHBOARD_HOSTS)" \
	  $(PY) -m workbench.serve --ip $(DASHBOARD_IP) --port $(DASHBOARD_PORT)

## Refresh docs/dashboard.png from the browser test's final screenshot (tests alone never touch docs/).
screenshot: $(STAMP)
	DFD_UPDATE_DOCS=1 $(PY) -m pytest tests/test_dashboard.py

examples: $(STAMP)
	$(PY) examples/make_examples.py
