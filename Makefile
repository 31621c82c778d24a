# pexlab — every set-up step a fresh machine needs lives here, so `make lab` and `make test`
# work on a new clone with nothing but Python 3.10+, Node 20 and npm installed.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
DEMO_VENV := $(CURDIR)/.cache/demo-venv
CHROMIUM ?= /usr/bin/chromium
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# Jupyter state of `make lab` / ui-tests stays inside the repo, not in the user's home.
export JUPYTER_CONFIG_DIR := $(CURDIR)/.cache/jupyter-config
export JUPYTER_DATA_DIR := $(CURDIR)/.cache/jupyter-data
export JUPYTER_RUNTIME_DIR := $(CURDIR)/.cache/jupyter-runtime
export PEXLAB_CACHE_DIR ?= $(CURDIR)/.cache/pexlab
export PATH := $(BIN):$(PATH)

.PHONY: help setup lab test lint typecheck jest pytest ui-test check-auth check-wheel demo bench demo-venv chromium clean

help:
	@echo "make lab    set up everything and start JupyterLab with the demo notebook"
	@echo "make test   set up everything and run every test (lint, jest, pytest, Galata)"
	@echo "make demo   end-to-end run on a local Spark standalone cluster"
	@echo "make bench  packaging and executor benchmarks (writes bench/results/)"

# ---- set-up -----------------------------------------------------------------------------------

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -U pip

# `npm install --no-save` rather than `npm ci`: the lock pins every version, but npm 11's ci
# rejects locks whose optional per-platform binaries (rspack's) were pruned on another platform.
node_modules/.stamp: package.json package-lock.json
	npm install --no-audit --no-fund --no-save
	touch $@

ui-tests/node_modules/.stamp: ui-tests/package.json ui-tests/package-lock.json
	cd ui-tests && npm install --no-audit --no-fund --no-save
	touch $@

# The editable install runs the labextension build through hatch-jupyter-builder.
$(VENV)/.stamp-install: $(BIN)/python pyproject.toml package.json node_modules/.stamp
	@# A re-install must not write its shared data through the `develop` symlink into the source
	@# tree (a stray install.json there would be packed twice into the wheel).
	rm -rf $(VENV)/share/jupyter/labextensions/pexlab pexlab/labextension/install.json
	$(BIN)/pip install -q -e ".[server,dev,test]"
	$(BIN)/jupyter labextension develop --overwrite .
	touch $@

lib/.stamp: $(VENV)/.stamp-install $(shell find src style schema -type f 2>/dev/null)
	npm run build
	touch $@

setup: $(VENV)/.stamp-install lib/.stamp

# The demo kernel lives in its own venv, as a user's kernel would: pexlab plus a few real
# packages plus ONE project installed editable (pexlab itself is a normal install there, so the
# panel shows what a user would see; it is reinstalled whenever its sources change).
$(DEMO_VENV)/.stamp: $(BIN)/python demo/requirements.txt $(shell find demo/pexlab_demo_project -name '*.py' -o -name '*.toml' 2>/dev/null)
	rm -rf $(DEMO_VENV)
	$(PYTHON) -m venv $(DEMO_VENV)
	$(DEMO_VENV)/bin/pip install -q -U pip
	$(DEMO_VENV)/bin/pip install -q -r demo/requirements.txt
	$(DEMO_VENV)/bin/pip install -q -e demo/pexlab_demo_project
	$(DEMO_VENV)/bin/python -m ipykernel install --prefix $(VENV) --name pexlab-demo \
		--display-name "Python (pexlab demo)"
	touch $@

# SKIP_JUPYTER_BUILDER: the kernel side needs no labextension, so no npm build for this wheel.
$(DEMO_VENV)/.stamp-pexlab: $(DEMO_VENV)/.stamp $(VENV)/.stamp-install pyproject.toml $(shell find pexlab -name '*.py' -o -name '*.yaml')
	SKIP_JUPYTER_BUILDER=1 $(DEMO_VENV)/bin/pip install -q --no-deps --force-reinstall .
	touch $@

demo-venv: $(DEMO_VENV)/.stamp-pexlab

chromium:
	@test -x $(CHROMIUM) || { \
		echo "Installing Debian's chromium for the UI tests"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; }

# ---- run --------------------------------------------------------------------------------------

# Containers and CI machines often run as root, which Jupyter refuses without --allow-root.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

lab: setup demo-venv
	$(BIN)/jupyter lab --ServerApp.ip=127.0.0.1 $(ALLOW_ROOT) --notebook-dir=$(CURDIR)/demo/notebooks \
		--LabApp.default_url=/lab/tree/pexlab-demo.ipynb

demo: setup demo-venv
	$(DEMO_VENV)/bin/python demo/run_demo.py

bench: setup
	$(BIN)/python bench/packaging.py
	$(BIN)/python bench/executors.py
	$(BIN)/python bench/executors.py --boot-options

# ---- tests ------------------------------------------------------------------------------------

lint: setup
	$(BIN)/ruff check pexlab tests bench demo scripts
	npm run lint:check

# mypy --strict on pexlab/ (configured in pyproject.toml [tool.mypy]).
typecheck: setup
	$(BIN)/mypy

jest: setup
	npm test -- --ci

check-auth: setup
	$(BIN)/python scripts/check_auth.py

pytest: setup demo-venv
	$(BIN)/python -m pytest -q -ra

# `pip install .` must give a wheel with the labextension inside and the server extension
# enabled: install the wheel into a throw-away venv and ask Jupyter.
check-wheel: setup
	rm -rf .cache/wheel-check && mkdir -p .cache/wheel-check
	$(BIN)/pip wheel -q --no-deps -w .cache/wheel-check .
	$(PYTHON) -m venv .cache/wheel-check/venv
	.cache/wheel-check/venv/bin/pip install -q "$$(ls .cache/wheel-check/pexlab-*.whl)[server]" jupyterlab
	@# Jupyter colours its output: strip the escapes before matching.
	env -u JUPYTER_CONFIG_DIR -u JUPYTER_DATA_DIR .cache/wheel-check/venv/bin/jupyter labextension list 2>&1 \
		| sed 's/\x1b\[[0-9;]*m//g' | tee .cache/wheel-check/lab.txt
	env -u JUPYTER_CONFIG_DIR -u JUPYTER_DATA_DIR .cache/wheel-check/venv/bin/jupyter server extension list 2>&1 \
		| sed 's/\x1b\[[0-9;]*m//g' | tee .cache/wheel-check/server.txt
	grep -E "^ +pexlab v[0-9.]+ enabled OK" .cache/wheel-check/lab.txt
	grep -E "^ +pexlab enabled$$" .cache/wheel-check/server.txt
	grep -E "^ +pexlab [0-9.]+ OK$$" .cache/wheel-check/server.txt

ui-test: setup demo-venv chromium ui-tests/node_modules/.stamp
	cd ui-tests && npx playwright test

test: lint typecheck jest check-auth pytest check-wheel ui-test
	@echo "make test: all suites passed"

clean:
	rm -rf lib node_modules ui-tests/node_modules $(VENV) .cache pexlab/labextension tsconfig.tsbuildinfo
