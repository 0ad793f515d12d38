# Two commands do all the set-up on a fresh machine:
#   make serve   install into .venv and start the service with the demo tenant
#   make test    install into .venv and run the whole test suite
#   make bench   benchmarks against moto; prints tables, writes bench/results/ (docs/performance.md)
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8080
DATA ?= ./ecslite-data

.PHONY: install serve test lint bench

$(BIN)/ecslite: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

install: $(BIN)/ecslite

serve: install
	$(BIN)/ecslite serve --demo --data-dir $(DATA) --port $(PORT)

test: install
	$(BIN)/ruff check ecslite tests examples
	$(BIN)/mypy ecslite
	$(BIN)/pytest -q

lint: install
	$(BIN)/ruff check ecslite tests examples
	$(BIN)/mypy ecslite

bench: install
	$(BIN)/pip install -q -e '.[dev,bench]'
	$(BIN)/python -m bench
