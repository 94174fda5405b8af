# Every target sets itself up: the first run creates .venv and installs the pinned dependencies
# (constraints.txt); later runs reuse it until pyproject.toml or constraints.txt change.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ARCHIVE ?= archive
SINCE ?=
UNTIL ?=
OUTLETS ?=
ARGS ?=

.PHONY: setup demo crawl test lint bench lock clean-venv pywb-venv wacz-venv

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	$(BIN)/python -m pip check
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/newsarchive demo --archive $(ARCHIVE) $(ARGS)

crawl: $(STAMP)
	$(BIN)/newsarchive crawl $(OUTLETS) --archive $(ARCHIVE) $(if $(SINCE),--since $(SINCE)) $(if $(UNTIL),--until $(UNTIL)) $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

# pywb in a venv of its own (it pins redis 2.10, ships brotlipy and gevent-patches sockets: see
# STACK-NOTES); tests run it only as a subprocess (tests/test_replay_pywb.py).
PYWB_VERSION := 2.10.0
PYWB_VENV := .venv-pywb
PYWB_STAMP := $(PYWB_VENV)/.installed-$(PYWB_VERSION)

pywb-venv: $(PYWB_STAMP)

$(PYWB_STAMP):
	test -x $(PYWB_VENV)/bin/python || $(PYTHON) -m venv $(PYWB_VENV)
	$(PYWB_VENV)/bin/pip install --quiet "pywb==$(PYWB_VERSION)"
	$(PYWB_VENV)/bin/wb-manager --help >/dev/null
	$(PYWB_VENV)/bin/wayback --help >/dev/null
	touch $(PYWB_STAMP)

# py-wacz (`wacz validate`) in a venv of its own too: it brings frictionless, pydantic, jsonschema and
# chardet (with which requests prefers chardet to charset-normalizer), none of which the crawler needs;
# tests run it only as a subprocess (tests/test_wacz.py). Its dependencies are pinned in constraints-wacz.txt.
WACZ_VERSION := 0.6.0
WACZ_VENV := .venv-wacz
WACZ_STAMP := $(WACZ_VENV)/.installed-$(WACZ_VERSION)

wacz-venv: $(WACZ_STAMP)

$(WACZ_STAMP): constraints-wacz.txt
	test -x $(WACZ_VENV)/bin/python || $(PYTHON) -m venv $(WACZ_VENV)
	$(WACZ_VENV)/bin/pip install --quiet -c constraints-wacz.txt "wacz==$(WACZ_VERSION)"
	$(WACZ_VENV)/bin/wacz --help >/dev/null
	touch $(WACZ_STAMP)

test: lint pywb-venv wacz-venv
	$(BIN)/python -m pytest -q

# Every benchmark, then bench/RESULTS.md, bench/results.json and bench/performance.png. QUICK=1: < 3 min.
bench: $(STAMP)
	$(BIN)/python -m bench $(if $(filter-out 0,$(QUICK)),--quick)

# Re-resolve the pinned versions (maintainers only; needs the package registry).
lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install --quiet --upgrade "pip>=24"
	.venv-lock/bin/python -m pip install --quiet -e '.[dev]'
	.venv-lock/bin/python -m pip freeze --exclude-editable | grep -v '^-e ' > constraints.txt
	rm -rf .venv-lock

clean-venv:
	rm -rf $(VENV)
