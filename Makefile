# YBB Data Management Service. `make run` and `make test` are all a newcomer needs.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
RUNTIME_STAMP := $(VENV)/.runtime-installed
DEV_STAMP := $(VENV)/.dev-installed
# Locust has a venv of its own: gevent patches the standard library.
LOCUST_VENV ?= .venv-locust
LOCUST_PY := $(LOCUST_VENV)/bin/python
LOCUST_STAMP := $(LOCUST_VENV)/.installed

.PHONY: help run run-detached stop key test test-fast lint lint-python bench loadtest loadtest-quick soak nginx php chromium readers databases clean

help:
	@echo "make run           start the whole stack in the foreground (Ctrl-C stops it)"
	@echo "make run-detached  start it in the background; make stop stops it"
	@echo "make key TENANT=x  print a new API key for tenant x (the running stack accepts it at once)"
	@echo "make test          ruff, mypy, then the test suite (starts real Nginx, Gunicorn and Dask on free ports)"
	@echo "make test-fast     the tests that start no real processes (no e2e, deploy, clients or scripts tests)"
	@echo "make databases     install MariaDB and PostgreSQL for the source tests (apt-get, when root)"
	@echo "make readers       install the cross-reader test's readers: exceljs, SheetJS (npm), LibreOffice"
	@echo "make lint          ruff and mypy, then validate docker-compose, the Dockerfiles and the systemd units"
	@echo "make bench         the benchmark: ratios against pandas/xlsxwriter/openpyxl, end-to-end figures"
	@echo "make loadtest      locust scenarios, 20 users for 2 minutes; fails on a missed threshold (loadtest-quick: 30 s)"
	@echo "make soak          the same scenarios for 10 min against a stack of its own; fails on a 5xx or on RSS growth"
	@echo "                   over 10 % in any process (about 12 min; SOAK_ARGS=\"--minutes 3 --users 5\" for a quick check)"

$(VENV)/bin/python:
	python3 -m venv $(VENV)

# A .pth file puts services/api and services/scheduler on the venv's path, so Gunicorn,
# `dask worker` and pytest import ybb_api and ybb_engine without an install step.
$(RUNTIME_STAMP): requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install -q -r requirements.txt
	printf '%s\n' "$(CURDIR)/services/api" "$(CURDIR)/services/scheduler" \
		> "$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/ybb-services.pth"
	touch $@

$(DEV_STAMP): $(RUNTIME_STAMP) requirements-dev.txt requirements-lint.txt
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

$(LOCUST_PY):
	python3 -m venv $(LOCUST_VENV)

$(LOCUST_STAMP): loadtests/requirements.txt | $(LOCUST_PY)
	$(LOCUST_PY) -m pip install -q -r loadtests/requirements.txt
	touch $@

nginx:
	@if command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing nginx with apt-get..."; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null; \
	else \
		echo "WARNING: nginx is missing and cannot be installed (not root): the API will be served"; \
		echo "WARNING: directly on http://127.0.0.1:$${YBB_API_PORT:-8000}, without TLS or rate limits."; \
	fi

run: $(RUNTIME_STAMP) nginx
	$(PY) scripts/devstack.py run

run-detached: $(RUNTIME_STAMP) nginx
	$(PY) scripts/devstack.py start

stop:
	@$(PY) scripts/devstack.py stop

key: $(RUNTIME_STAMP)
	@test -n "$(TENANT)" || { echo "usage: make key TENANT=name" >&2; exit 2; }
	@$(PY) scripts/devstack.py key "$(TENANT)"

# PHP and PHPUnit, for the PHP client's tests against the running stack.
php:
	@scripts/ensure_php.sh

# Headless Chromium, for the browser test of the /monitor page.
chromium:
	@scripts/ensure_chromium.sh

# exceljs and SheetJS (npm, into tests/readers/node/node_modules) and LibreOffice, for the
# cross-reader test (tests/readers); Node.js and LibreOffice with apt-get when root.
readers:
	@scripts/ensure_readers.sh

# MariaDB and PostgreSQL (Debian's packages, with apt-get when root), for the source tests: the
# tests start private servers on free ports (or use YBB_TEST_MARIADB_URL / YBB_TEST_POSTGRES_URL).
databases:
	@scripts/ensure_databases.sh

test: $(DEV_STAMP) lint-python $(LOCUST_STAMP) nginx php chromium readers databases
	YBB_LOCUST_PYTHON=$(CURDIR)/$(LOCUST_PY) $(PY) -m pytest

# In-process tests only (the Dask cluster of tests/conftest.py runs in threads; no database servers).
test-fast: $(DEV_STAMP)
	$(PY) -m pytest -m "not e2e and not database" --ignore=tests/e2e --ignore=tests/deploy --ignore=tests/clients --ignore=tests/scripts --ignore=tests/readers --ignore=tests/compat

# The benchmark: our engine against pandas, xlsxwriter and openpyxl, and end to end (about 10 min).
bench: $(DEV_STAMP) nginx
	$(PY) bench/run.py $(BENCH_ARGS)

# Locust against the stack (started if it is not running), or LOADTEST_ARGS="--host https://…".
loadtest: $(RUNTIME_STAMP) $(LOCUST_STAMP) nginx
	$(LOCUST_PY) loadtests/run.py --stack-python $(PY) $(LOADTEST_ARGS)

loadtest-quick: $(RUNTIME_STAMP) $(LOCUST_STAMP) nginx
	$(LOCUST_PY) loadtests/run.py --quick --stack-python $(PY) $(LOADTEST_ARGS)

# Memory under sustained load (loadtests/soak.py): its own stack on free ports (var/soak), the RSS
# of every service process every 10 s; a table of the figures; non-zero exit on a 5xx or on growth.
soak: $(RUNTIME_STAMP) $(LOCUST_STAMP) nginx
	$(LOCUST_PY) loadtests/soak.py --stack-python $(PY) $(SOAK_ARGS)

clean:
	rm -rf var .pytest_cache .hypothesis

# Python lint and types; the settings are in pyproject.toml ([tool.ruff], [tool.mypy]).
lint-python: $(DEV_STAMP)
	$(PY) -m ruff check services scripts
	$(PY) -m mypy

lint: lint-python
	PYTHON=$(PY) scripts/lint_deploy.sh
