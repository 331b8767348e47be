# Xunjian (巡检). Two commands on a fresh Debian 12 machine:
#
#   make run     install what the server needs, migrate, load the demo, serve
#   make test    install everything, ruff, then the whole pytest suite on SQLite and on PostgreSQL
#
# Other targets: lint, bench, clean. Variables: PYTHON (for the venv), HOST, PORT (make run),
# PYTEST_ARGS (make test PYTEST_ARGS="-k login"), BENCH_ARGS.
#
# Installs are idempotent: stamp files record what is done and are redone only when
# pyproject.toml or package.json / package-lock.json are newer.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
VENV_CFG := $(VENV)/pyvenv.cfg
PIP := $(PY) -m pip -q --disable-pip-version-check
NPM_FLAGS := --no-audit --no-fund --loglevel=error

STAMP_RUN := $(VENV)/.xunjian-installed-run
STAMP_DEV := $(VENV)/.xunjian-installed-dev
STAMP_NPM := node_modules/.xunjian-installed

PYTEST_ARGS ?=
BENCH_ARGS ?=

.PHONY: help run test lint bench clean venv venv-dev npm system-deps system-deps-run FORCE

help:
	@echo "make run     serve the app with demo data (HOST=..., PORT=... to override)"
	@echo "make test    ruff + the pytest suite on SQLite and PostgreSQL (PYTEST_ARGS=...)"
	@echo "make lint    ruff check ."
	@echo "make bench   python bench/run_all.py (BENCH_ARGS=...)"
	@echo "make clean   remove .venv, node_modules and the install stamps"

# --- installs ---------------------------------------------------------------------------------

# A venv is made when missing, and made afresh (which drops the stamps) when its Python no longer
# starts, e.g. the pyenv version it points to was removed. pyvenv.cfg is written only on creation,
# so a new venv is newer than any stamp and gets its packages installed again.
ifneq ($(shell $(PY) -c pass 2>/dev/null && echo ok),ok)
$(VENV_CFG): FORCE
endif
$(VENV_CFG):
	@echo "==> creating $(VENV) with $$(command -v $(PYTHON)) ($$($(PYTHON) -V 2>&1))"
	@$(PYTHON) -m venv --clear $(VENV)

$(STAMP_RUN): pyproject.toml $(VENV_CFG)
	@echo "==> pip install -e . (into $(VENV))"
	@$(PIP) install -e .
	@touch $@

# The dev install is a superset of the run install, so it satisfies that stamp too.
$(STAMP_DEV): pyproject.toml $(VENV_CFG)
	@echo "==> pip install -e .[dev] (into $(VENV))"
	@$(PIP) install -e '.[dev]'
	@touch $@ $(STAMP_RUN)

# npm ci from the committed lockfile; if package.json was edited without updating the lockfile,
# a developer gets `npm install` (which updates it), CI gets the failure.
$(STAMP_NPM): package.json $(wildcard package-lock.json)
	@if [ -f package-lock.json ]; then \
	    echo "==> npm ci"; \
	    npm ci $(NPM_FLAGS) || { \
	        [ -z "$${CI:-}" ] || exit 1; \
	        echo "==> npm ci failed (package-lock.json out of date?); running npm install"; \
	        npm install $(NPM_FLAGS); }; \
	else \
	    echo "==> npm install (no package-lock.json yet)"; \
	    npm install $(NPM_FLAGS); \
	fi
	@touch $@

venv: $(STAMP_RUN)
venv-dev: $(STAMP_DEV)
npm: $(STAMP_NPM)

# Cheap when nothing is missing: only reads the dpkg database.
system-deps:
	@scripts/ensure-system-deps.sh chromium postgresql fonts-noto-cjk fonts-dejavu-core

# Label sheets need the CJK font.
system-deps-run:
	@scripts/ensure-system-deps.sh fonts-noto-cjk fonts-dejavu-core

# --- the two commands -------------------------------------------------------------------------

run: system-deps-run venv npm
	@echo "==> xunjian migrate"
	@$(VENV)/bin/xunjian migrate
	@echo "==> xunjian demo"
	@$(VENV)/bin/xunjian demo
	@echo "==> xunjian serve"
	@$(if $(HOST),XUNJIAN_HOST='$(HOST)') $(if $(PORT),XUNJIAN_PORT='$(PORT)') \
	    exec $(VENV)/bin/xunjian serve

RUFF_CHECK := $(VENV)/bin/ruff check .

# ruff and both pytest runs always all run, so one CI run shows every problem; make test fails if
# any of them does. pytest's exit status 5 (no tests collected, e.g. a PYTEST_ARGS that matches
# nothing) is a failure, never a pass. Ctrl-C stops the whole run (the traps), not just one step.
test: system-deps venv-dev npm
	@trap 'exit 130' INT; trap 'exit 143' TERM; \
	report() { \
	    case "$$2" in \
	        0) echo "==>   $$1: passed" ;; \
	        5) echo "==>   $$1: FAILED (exit 5: no tests collected)" ;; \
	        *) echo "==>   $$1: FAILED (exit $$2)" ;; \
	    esac; \
	}; \
	echo "==> ruff check ."; \
	ruff=0; $(RUFF_CHECK) || ruff=$$?; \
	echo "==> pytest on SQLite (temporary file)"; \
	sqlite=0; env -u XUNJIAN_TEST_DATABASE_URL $(VENV)/bin/pytest $(PYTEST_ARGS) || sqlite=$$?; \
	echo "==> pytest on PostgreSQL (throwaway cluster)"; \
	pg=0; scripts/with-postgres.sh $(VENV)/bin/pytest $(PYTEST_ARGS) || pg=$$?; \
	echo "==> make test summary"; \
	report "ruff check" $$ruff; report "pytest on SQLite" $$sqlite; report "pytest on PostgreSQL" $$pg; \
	[ $$ruff -eq 0 ] && [ $$sqlite -eq 0 ] && [ $$pg -eq 0 ]

lint: venv-dev
	@echo "==> ruff check ."
	@$(RUFF_CHECK)

bench: venv-dev
	@if [ ! -f bench/run_all.py ]; then echo "make bench: bench/run_all.py does not exist yet" >&2; exit 1; fi
	@echo "==> python bench/run_all.py $(BENCH_ARGS)"
	@$(PY) bench/run_all.py $(BENCH_ARGS)

FORCE:

clean:
	@echo "==> removing $(VENV) node_modules and install stamps"
	@rm -rf $(VENV) node_modules
