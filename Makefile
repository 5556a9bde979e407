# `make run`: set up and serve the demo on http://127.0.0.1:8000 (embedded SQLite unless DATABASE_URL is set).
# `make lint`: ruff (lint and format check) and import-linter's contracts (.importlinter).
# `make test`: lint, then set up the same way and run every test, browser tests included.
# `make due`: run every timer and sweep due now (manage.py run_due; beat does it in production).
# `make bench`: every benchmark in bench/ against the local PostgreSQL and Redis, written to
#   bench/results/<date>.md (README, "Benchmarks"); `make bench BENCH_ARGS="--quick --only lifecycle"`.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_PASSWORD ?= Subsidy-Demo-2026

# Loopback demo defaults; real deployments set these in the environment.
export DEBUG ?= True
export SECURE_SSL_REDIRECT ?= False
export SECRET_KEY ?= insecure-local-only-key-change-me

.PHONY: run test lint setup browser messages bench clean due

$(BIN)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q -r requirements.txt
	touch $@

setup: $(BIN)/.installed
	$(BIN)/python manage.py migrate --noinput -v0

# The demo's e-mails (printed on the console) link to the demo's own address.
run due: export NOTIFICATION_SITE_URL ?= http://127.0.0.1:8000
run: setup
	$(BIN)/python manage.py seed_demo --password $(DEMO_PASSWORD) --with-claims
	@echo "Demo password for every login above: $(DEMO_PASSWORD)"
	@echo "Timers and sweeps (deadlines): no beat here; run 'make due' (manage.py run_due) by hand or from cron."
	@echo "Serving on http://127.0.0.1:8000/"
	$(BIN)/python manage.py runserver 127.0.0.1:8000

# Every timer and sweep due now (README, "Deadlines and timers"); beat does this in production.
due: setup
	$(BIN)/python manage.py run_due

# Debian's chromium (never a downloaded browser) and a CJK font for screenshots.
browser:
	@command -v chromium >/dev/null 2>&1 && fc-list 2>/dev/null | grep -qi "WenQuanYi" || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null; }

# pytest-django creates (and drops) its own test database: no migrate of the DATABASE_URL one,
# which need not even exist (CI's `claims`).
# One test process per core (pytest-xdist), each with its own test database, Celery queues and
# worker; a test file stays in one process, so its module fixtures are built once.
# `make test TEST_WORKERS=0` runs in this process alone.
TEST_WORKERS ?= auto
test: export DEBUG = False
test: $(BIN)/.installed browser lint
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

# Every check runs, so one run shows all that is wrong; any failure fails the target (and `make test`).
# Lint only, nothing rewritten: `$(BIN)/ruff check --fix .` and `$(BIN)/ruff format .` fix what they can.
lint: $(BIN)/.installed
	@status=0; \
	for check in "ruff check ." "ruff format --check ." "lint-imports"; do \
	  echo "lint: $$check"; $(BIN)/$$check || status=1; \
	done; \
	exit $$status

# Each benchmark makes its own throwaway databases (names containing "bench") and serves as in
# production (DEBUG off) whatever the loopback defaults above say.
bench: $(BIN)/.installed
	$(BIN)/python bench/run_all.py $(BENCH_ARGS)

messages: $(BIN)/.installed
	$(BIN)/python manage.py makemessages -l en -l zh_Hans --ignore=.venv
	$(BIN)/python manage.py compilemessages --ignore=.venv

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles
