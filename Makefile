# Two commands on a fresh machine: `make run` (the app in local mode) and `make test` (every check).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CODE := bot core storage webserver fake_telegram mtproto clients tests bench run.py

.PHONY: install run test test-postgres lint typecheck pytest catalogs bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test,postgres]"
	touch $(STAMP)

install: $(STAMP) catalogs

# Compiled catalogs are build output: made here, never committed.
catalogs: $(STAMP)
	$(BIN)/pybabel compile --use-fuzzy -d locales -D messages

run: install
	$(BIN)/python run.py

lint: install
	$(BIN)/ruff check $(CODE)

typecheck: install
	$(BIN)/mypy $(CODE)

pytest: install
	$(BIN)/python -m pytest

test: lint typecheck pytest

# The identity tests again on a PostgreSQL server you name, e.g.
#   make test-postgres UNIBOT_TEST_POSTGRES=postgresql+asyncpg://postgres@127.0.0.1:5432
# (each test creates a database of its own there).
test-postgres: install
	UNIBOT_TEST_POSTGRES=$(UNIBOT_TEST_POSTGRES) $(BIN)/python -m pytest -k "memory or not redis" \
		tests/webserver tests/core/auth/test_hot_path_and_jobs.py tests/core/users

bench: install
	$(BIN)/python -m bench.users_me

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
	find locales -name '*.mo' -delete
