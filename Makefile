# labelloop: `make run` serves the demo project on SQLite; `make test` runs the whole suite;
# `make test-fast` the in-process SQLite tier (see CONTRIBUTING.md, "Test tiers").
PYTHON ?= python3
UV_VERSION := 0.13.8
UV := .tools/bin/uv
VENV := .venv
SYNC := UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --frozen --python $(PYTHON)
HOST ?= 127.0.0.1
PORT ?= 8000

# The fast tier: no server processes, no PostgreSQL, no browser, no slow in-process tests,
# no language model.
FAST_TESTS := not process and not postgres and not browser and not slow and not llm

.PHONY: run test test-fast venv lint chromium clean

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

venv: $(UV)
	$(SYNC) --inexact

run: venv
	$(VENV)/bin/labelloop migrate
	$(VENV)/bin/labelloop demo
	@echo "Open http://$(HOST):$(PORT)/ and sign in with the password above (API docs: /docs)."
	$(VENV)/bin/labelloop serve --host $(HOST) --port $(PORT)

# `make test` adds the `oracle` extra (llama.cpp, compiled once per machine: about 600 CPU-seconds,
# 14-27 minutes on a busy 2-core machine; uv caches the wheel). The other targets sync --inexact,
# so they leave it installed.
test: $(UV) chromium
	$(SYNC) --extra dev --extra oracle
	$(VENV)/bin/ruff check app tests bench migrations
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest -n 2 --durations=30

test-fast: $(UV)
	$(SYNC) --extra dev --inexact
	$(VENV)/bin/pytest -m "$(FAST_TESTS)" --durations=10

# Browser tests drive Debian's Chromium (never a downloaded browser build).
chromium:
	@test -x /usr/bin/chromium || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

lint: $(UV)
	$(SYNC) --extra dev --inexact
	$(VENV)/bin/ruff check app tests bench migrations
	$(VENV)/bin/ruff format --check app tests bench migrations
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) .tools var .pytest_cache .ruff_cache .mypy_cache
