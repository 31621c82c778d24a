# pexlab — every set-up step a fresh machine needs lives here, so `make lab` and `make test`
# work on a new clone with nothing but Python 3.10+, Node 20 and npm installed.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
DEMO_VENV := $(CURDIR)/.cache/demo-venv
# A kernel venv WITHOUT pexlab (ipykernel only), for the panel's "install pexlab" guidance test.
NOPEXLAB_VENV := $(CURDIR)/.cache/no-pexlab-venv
# A kernel venv with ipykernel and thousands of metadata-only distributions (scripts/fake_dists.py),
# for the panel's large package list test.
MANY_VENV := $(CURDIR)/.cache/many-dists-venv
MANY_DISTS ?= 3000
# `make lab`'s own state: the working copy of the demo notebook, the embedded cluster's bare
# worker venv. All git-ignored, so a `make lab` session leaves the clone clean.
LAB_DIR := $(CURDIR)/.cache/lab
CHROMIUM ?= /usr/bin/chromium
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# `pip install -e .` / `pip wheel .` run hatch-jupyter-builder, whose npm_builder runs a plain
# `npm install`: that rewrites package-lock.json (npm re-indents it like package.json and adds
# back the per-platform optional packages pruned from it). npm reads its `save` setting from the
# environment too, so every npm started under make, however deep, leaves the lock alone.
export npm_config_save := false
# Jupyter state of `make lab` / ui-tests stays inside the repo, not in the user's home.
export JUPYTER_CONFIG_DIR := $(CURDIR)/.cache/jupyter-config
export JUPYTER_DATA_DIR := $(CURDIR)/.cache/jupyter-data
export JUPYTER_RUNTIME_DIR := $(CURDIR)/.cache/jupyter-runtime
# No PEXLAB_CACHE_DIR for `make lab`/`make demo`: JupyterLab, its kernels and a terminal then
# share the engine's default cache (~/.cache/pexlab), so one environment is built once. Only the
# test and bench runs build into a cache of their own, not the user's.
pytest pytest-unit bench ui-test: export PEXLAB_CACHE_DIR ?= $(CURDIR)/.cache/pexlab
export PATH := $(BIN):$(PATH)

.PHONY: help setup lab test unit lint format typecheck jest pytest pytest-unit ui-test check-auth check-wheel demo bench demo-venv chromium rust hadoop clean

help:
	@echo "make lab    set up everything and start JupyterLab with the demo notebook"
	@echo "make test   set up everything and run every test (lint, jest, pytest, Galata)"
	@echo "make unit   the fast loop: lint, format check, mypy, jest, pytest without clusters"
	@echo "make format format Python (ruff) and TypeScript (prettier) in place"
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
# The venv is the user's playground: it is created once and only upgraded in place (what they
# pip-installed there stays). The editable project is a COPY of demo/pexlab_demo_project in
# $(LAB_DIR)/notebooks (scripts/demo_workdir.py), installed editable from there: editing it
# from JupyterLab (the README's edit loop) needs no reinstall and leaves the clone clean.
$(DEMO_VENV)/.stamp: $(BIN)/python demo/requirements.txt
	test -x $(DEMO_VENV)/bin/python || $(PYTHON) -m venv $(DEMO_VENV)
	$(DEMO_VENV)/bin/pip install -q -U pip
	$(DEMO_VENV)/bin/pip install -q -r demo/requirements.txt
	$(DEMO_VENV)/bin/python -m ipykernel install --prefix $(VENV) --name pexlab-demo \
		--display-name "Python (pexlab demo)"
	touch $@

# SKIP_JUPYTER_BUILDER: the kernel side needs no labextension, so no npm build for this wheel.
$(DEMO_VENV)/.stamp-pexlab: $(DEMO_VENV)/.stamp $(VENV)/.stamp-install pyproject.toml $(shell find pexlab -name '*.py' -o -name '*.yaml')
	SKIP_JUPYTER_BUILDER=1 $(DEMO_VENV)/bin/pip install -q --no-deps --force-reinstall .
	touch $@

# The project's copy is (re)installed only when the venv does not have it from there yet.
demo-venv: $(DEMO_VENV)/.stamp-pexlab
	$(BIN)/python scripts/demo_workdir.py --project demo/pexlab_demo_project \
		--to $(LAB_DIR)/notebooks --python $(DEMO_VENV)/bin/python

$(NOPEXLAB_VENV)/.stamp:
	test -x $(NOPEXLAB_VENV)/bin/python || $(PYTHON) -m venv $(NOPEXLAB_VENV)
	$(NOPEXLAB_VENV)/bin/pip install -q ipykernel
	touch $@

.PHONY: no-pexlab-venv
no-pexlab-venv: $(NOPEXLAB_VENV)/.stamp

$(MANY_VENV)/.stamp:
	test -x $(MANY_VENV)/bin/python || $(PYTHON) -m venv $(MANY_VENV)
	$(MANY_VENV)/bin/pip install -q ipykernel
	touch $@

.PHONY: many-dists-venv
many-dists-venv: $(MANY_VENV)/.stamp $(BIN)/python
	$(BIN)/python scripts/fake_dists.py --python $(MANY_VENV)/bin/python --count $(MANY_DISTS)

# The maturin (Rust) editable in tests/test_editable_backends.py needs cargo and rustc: rustup's
# (~/.cargo/bin) or else Debian's.
rust:
	@command -v cargo >/dev/null || test -x $(HOME)/.cargo/bin/cargo || { \
		echo "Installing Debian's cargo for the Rust editable test"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq cargo; }

chromium:
	@test -x $(CHROMIUM) || { \
		echo "Installing Debian's chromium for the UI tests"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; }

# The Hadoop cluster of the YARN/HDFS tests runs from Maven Central jars, fetched once with mvn
# into ~/.cache/pexlab/hadoop-<version>/lib (pexlab.local.hadoop_jars.fetch_jars).
hadoop: $(BIN)/python
	@command -v mvn >/dev/null || { \
		echo "Installing Debian's maven to fetch the Hadoop jars"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq maven; }
	PYTHONPATH=$(CURDIR) $(BIN)/python -c "from pexlab.local.hadoop_jars import fetch_jars; print(fetch_jars())"

# ---- run --------------------------------------------------------------------------------------

# Containers and CI machines often run as root, which Jupyter refuses without --allow-root.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

# JupyterLab on the embedded default cluster: scripts/lab.py starts a local standalone cluster
# (127.0.0.1, free ports) whose workers' Python is a bare venv, runs JupyterLab with
# --PexLab.master set to it, and stops the cluster by PID when JupyterLab ends (Ctrl-C, or
# SIGTERM to make). JupyterLab opens a working copy of the demo notebook under .cache/lab, so
# its outputs and autosaves never touch the tracked one.
lab: setup demo-venv
	$(BIN)/python scripts/demo_workdir.py --notebook demo/notebooks/pexlab-demo.ipynb \
		--to $(LAB_DIR)/notebooks
	$(BIN)/python scripts/lab.py --state-dir $(LAB_DIR) --kernel pexlab-demo -- \
		$(BIN)/jupyter lab --ServerApp.ip=127.0.0.1 $(ALLOW_ROOT) --notebook-dir=$(LAB_DIR)/notebooks \
		--LabApp.default_url=/lab/tree/pexlab-demo.ipynb '--PexLab.master={master}'

demo: setup demo-venv
	$(DEMO_VENV)/bin/python demo/run_demo.py

bench: setup hadoop
	$(BIN)/python bench/packaging.py
	$(BIN)/python bench/executors.py
	$(BIN)/python bench/connect.py
	$(BIN)/python bench/yarn.py
	$(BIN)/python bench/executors.py --boot-options
	$(BIN)/python bench/layers.py
	$(BIN)/python bench/layered.py
	$(BIN)/python bench/torch_env.py

# ---- tests ------------------------------------------------------------------------------------

PY_SOURCES := pexlab tests bench demo scripts

lint: setup
	$(BIN)/ruff check $(PY_SOURCES)
	$(BIN)/ruff format --check $(PY_SOURCES)
	npm run lint:check

format: setup
	$(BIN)/ruff check --fix $(PY_SOURCES)
	$(BIN)/ruff format $(PY_SOURCES)
	npm run lint

# mypy --strict on pexlab/ (configured in pyproject.toml [tool.mypy]).
typecheck: setup
	$(BIN)/mypy

jest: setup
	npm test -- --ci

check-auth: setup
	$(BIN)/python scripts/check_auth.py

pytest: setup demo-venv hadoop rust
	$(BIN)/python -m pytest -q -ra --durations=25

# The pytest tests that start no cluster (tests/conftest.py marks every test using a cluster
# fixture): no Hadoop jars, no Maven, no Spark daemons.  PYTEST_ARGS narrows it further.
pytest-unit: setup
	$(BIN)/python -m pytest -q -ra -m "not spark and not hadoop" $(PYTEST_ARGS)

# The developer's loop; `make test` stays the one full command.
unit: lint typecheck jest pytest-unit
	@echo "make unit: all fast suites passed"

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

# Two Playwright runs: JupyterLab (playwright.config.js, tests/*.spec.ts) and Notebook 7
# (playwright.notebook.config.js, tests/notebook7/), each with its own Jupyter server.
# UI_TEST_ARGS: e.g. `make ui-test UI_TEST_ARGS=tests/demo.spec.ts` runs one spec, with the
# config its folder belongs to (`UI_TEST_ARGS=tests/notebook7` for the Notebook 7 run alone).
UI_LAB_RUN := npx playwright test
UI_NB7_RUN := npx playwright test -c playwright.notebook.config.js
ui-test: setup demo-venv no-pexlab-venv many-dists-venv chromium ui-tests/node_modules/.stamp
ifeq ($(strip $(UI_TEST_ARGS)),)
	cd ui-tests && $(UI_LAB_RUN) && $(UI_NB7_RUN)
else ifneq ($(findstring notebook7,$(UI_TEST_ARGS)),)
	cd ui-tests && $(UI_NB7_RUN) $(UI_TEST_ARGS)
else
	cd ui-tests && $(UI_LAB_RUN) $(UI_TEST_ARGS)
endif

# The README's screenshots: the Galata run, saving its pictures in ui-tests/screenshots/ (a plain
# `make ui-test` keeps them in ui-tests/test-results/, so tests leave the clone clean).
.PHONY: screenshots
screenshots:
	$(MAKE) ui-test PEXLAB_SCREENSHOTS_DIR=$(CURDIR)/ui-tests/screenshots

test: lint typecheck jest check-auth pytest check-wheel ui-test
	@echo "make test: all suites passed"

clean:
	rm -rf lib node_modules ui-tests/node_modules $(VENV) .cache pexlab/labextension tsconfig.tsbuildinfo
