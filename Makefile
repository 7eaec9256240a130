# The README's two commands: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test check lint typecheck pytest catalogs catalogs-check migration clean console-catalogs fuzz

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

## run: install, migrate, load the demo, and serve on http://localhost:8000
run: export HELPLINE_DEMO ?= true
run: $(VENV)/.installed
	$(BIN)/helpline db upgrade
	$(BIN)/helpline demo
	$(BIN)/helpline serve --host $(HOST) --port $(PORT)

## test: install with the dev extras, then lint, type-check and run every test
test: $(VENV)/.installed-dev check pytest

check: $(VENV)/.installed-dev lint typecheck

lint:
	$(BIN)/ruff check bot tests bench
	$(BIN)/ruff format --check bot tests bench

typecheck:
	$(BIN)/mypy

pytest: $(VENV)/.installed-dev
	$(BIN)/pytest

## migration: a new migration from the changes in bot/models.py (MESSAGE="what changed")
migration: $(VENV)/.installed-dev
	rm -f /tmp/helpline-migration.db
	$(BIN)/python -c "from alembic import command; from bot.db import alembic_config, upgrade; url = 'sqlite:////tmp/helpline-migration.db'; upgrade(url); command.revision(alembic_config(url), message='$(MESSAGE)', autogenerate=True)"
	rm -f /tmp/helpline-migration.db

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache

## catalogs: extract what the bot says (flows/, the /try page), update and compile bot.po
catalogs: $(VENV)/.installed-dev
	$(BIN)/pybabel -q extract -F babel.cfg --no-location --sort-output --omit-header -o locales/bot.pot .
	$(BIN)/pybabel -q update -D bot -i locales/bot.pot -d locales --no-fuzzy-matching --ignore-obsolete
	$(BIN)/pybabel -q compile -D bot -d locales --statistics

## console-catalogs: extract the staff console's strings, update its console.po files
console-catalogs: $(VENV)/.installed-dev
	$(BIN)/python -c "from bot.console.i18n import main; main()" locales

## fuzz: hypothesis on the parsers and matcher, schemathesis on /openapi.json, many more examples
fuzz: $(VENV)/.installed-dev
	HELPLINE_FUZZ_PROFILE=deep-random $(BIN)/pytest tests/fuzz
