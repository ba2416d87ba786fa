# Two commands on a fresh machine: `make run` (the app in local mode) and `make test` (every check).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CODE := bot core storage webserver fake_telegram mtproto clients tests bench run.py

.PHONY: install run test preflight lint typecheck pytest catalogs bench bench-finance clean

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

# The tests start their own redis-server and PostgreSQL; this installs them, or names the command that does.
preflight:
	bash .ci/preflight

pytest: install preflight
	$(BIN)/python -m pytest

test: preflight lint typecheck pytest

bench: install
	$(BIN)/python -m bench.users_me

# The family-finance figures (docs/benchmarks.md): a few minutes on SQLite; `make bench-finance FINBENCH=--postgres`
# runs both on a throwaway PostgreSQL server instead.
bench-finance: install
	$(BIN)/python -m bench.finance_entry $(FINBENCH)
	$(BIN)/python -m bench.finance_month $(FINBENCH)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
	find locales -name '*.mo' -delete
