# Two commands: `make run` (the dashboard on the sandbox) and `make test` (lint + every test).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
CHROMIUM ?= /usr/bin/chromium

.PHONY: run test test-fast test-production lint bench browser screenshots clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.run-deps: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.test-deps: requirements.txt requirements-test.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements-test.txt
	touch $@ $(VENV)/.run-deps

run: $(VENV)/.run-deps
	DASHBOARD_SANDBOX=1 DJANGO_ALLOW_PLAIN_HTTP=1 $(BIN)/python manage.py migrate --noinput
	DASHBOARD_SANDBOX=1 DJANGO_ALLOW_PLAIN_HTTP=1 $(BIN)/python manage.py collectstatic --noinput -v0
	@echo "Dashboard (sandbox mode): http://localhost:$(PORT)"
	DASHBOARD_SANDBOX=1 DJANGO_ALLOW_PLAIN_HTTP=1 PORT=$(PORT) $(BIN)/gunicorn dashboard.wsgi --config gunicorn.conf.py \
		--bind 127.0.0.1:$(PORT) --workers 2 --worker-class gthread --threads 8 --access-logfile -

browser:
	@if [ -x "$(CHROMIUM)" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing Debian's chromium for the browser tests…"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
		echo "The browser tests need Chromium at $(CHROMIUM): run 'sudo apt-get install chromium' (Debian/Ubuntu)."; \
		if [ "$$CI" = "true" ]; then exit 1; fi; \
	fi

lint: $(VENV)/.test-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The fast tier (tests/unit: pure, no database, no server) first and on its own, then the rest;
# branch coverage of both together is printed, and held to the floors in tests/coverage_floors.py.
test: $(VENV)/.test-deps browser lint
	$(BIN)/python -m pytest tests/unit --cov --cov-report=
	$(BIN)/python -m pytest --ignore=tests/unit --cov --cov-append --cov-report=term
	$(BIN)/python -m tests.coverage_floors

test-fast: $(VENV)/.test-deps
	$(BIN)/python -m pytest tests/unit

# The README's production commands under gunicorn, driven by Chromium (part of `make test` too).
test-production: $(VENV)/.test-deps browser
	$(BIN)/python -m pytest tests/test_production.py

screenshots: $(VENV)/.test-deps browser
	SCREENSHOTS_DIR=docs $(BIN)/python -m pytest tests/browser -q

bench: $(VENV)/.test-deps
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) staticfiles .test-db-*.sqlite3* .pytest_cache .coverage
