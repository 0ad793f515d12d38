# Two commands do all the set-up on a fresh machine:
#   make serve   install into .venv and start the service with the demo tenant
#   make test    install into .venv and run the whole test suite (SQLite, then PostgreSQL)
#   make check   the inner loop (under 2 minutes): ruff, mypy and every test that starts no
#                process (unit, in-process API and auth tests); `make test` runs these too
#   make bench   benchmarks against moto; prints tables, writes bench/results/ (docs/performance.md)
#   make bench-check   statements and CPU per reinstall against their recorded budget (exit 1 over)
#   make tempest OpenStack's Tempest (compute and identity token API tests) against a fresh
#                service; installs Tempest into build/tempest/venv; not part of `make test`
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8080
DATA ?= ./ecslite-data
# The PostgreSQL server the second pass runs against (each test creates its own database).
# Real guests boot only in the first pass: the store under them is covered by the sim tests.
PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/postgres
# End-to-end tests of the HTTP layer and of clients that never reach the store differently on
# PostgreSQL (connection handling, admission, log lines, CLI and browser clients): first pass only.
STORE_AGNOSTIC := test_openstack_clients.py test_readme_quickstart.py test_slow_clients.py \
	test_log_forging.py test_login_flood.py test_burst_admission.py test_cli_servers.py \
	test_nginx_proxy.py test_openstack_rebuild_repeat.py

.PHONY: install serve check test test-sqlite test-postgres lint bench bench-check tempest

$(BIN)/ecslite: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

install: $(BIN)/ecslite

serve: install
	$(BIN)/ecslite serve --demo --data-dir $(DATA) --port $(PORT)

lint: install
	$(BIN)/ruff check ecslite tests examples tools bench
	$(BIN)/mypy ecslite

# Tests marked `process` (all of tests/e2e and tests/browser, and those starting QEMU, qemu-img
# or an ecslite service elsewhere) are left out; --no-processes fails any unmarked test that
# starts a process, so the split cannot rot silently. Schemathesis's pytest plugin (used only by
# tests/e2e/test_schemathesis.py) is not loaded: importing it costs seconds per run.
check: lint
	$(BIN)/pytest -q -n 2 -m "not process" --no-processes -p no:schemathesis

# Three workers on two cores: most of a test's time is spent waiting on the processes it starts.
# tests/conftest.py hands out whole files, and all guest-booting files to one worker.
TEST_WORKERS ?= 3

test-sqlite: install
	$(BIN)/pytest -q -n $(TEST_WORKERS) --durations=15

test-postgres: install
	ECSLITE_TEST_DATABASE_URL=$(PG_URL) ECSLITE_CRASH_REPS=1 $(BIN)/pytest -q -n $(TEST_WORKERS) --durations=15 -m "not qemu" tests/api tests/e2e \
	  $(foreach t,$(STORE_AGNOSTIC),--ignore=tests/e2e/$(t))

test: lint test-sqlite test-postgres

bench: install
	$(BIN)/pip install -q -e '.[dev,bench]'
	$(BIN)/python -m bench

bench-check: install
	$(BIN)/python -m bench.reinstall_cost --n 300 --check

tempest: install
	$(BIN)/python tools/tempest_run.py
