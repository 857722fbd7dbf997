# Two commands on a fresh machine: `make dev` and `make test`. Both bootstrap .venv
# from this repo's own files first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: dev test unit lint types bench install clean

# Dev dependencies are pinned by constraints.txt (pyproject.toml says what, constraints.txt which versions).
$(STAMP): pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

dev: $(STAMP)
	$(BIN)/aiagent dev $(ARGS)

# The whole check, as CI runs it: lint, types, then every test (the QA console's tests drive
# Debian's chromium, installed here when missing).
test: lint types $(CHROMIUM)
	$(BIN)/python -m pytest $(ARGS)

CHROMIUM ?= /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
$(CHROMIUM):
	@command -v apt-get >/dev/null || { echo "install Chromium at $(CHROMIUM) (the console's browser tests need it)"; exit 1; }
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium

# The fast loop: pure logic, models and workflows against in-memory fakes (no sockets).
unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check functions shared devkit tests

# shared/ and devkit/ in one run; each functions/<name>/index.py on its own (they share the name `index`).
types: $(STAMP)
	$(BIN)/mypy
	@for f in functions/*/index.py; do $(BIN)/mypy --no-error-summary $$f || exit 1; done

bench: $(STAMP)
	$(BIN)/python -m devkit.bench.run $(ARGS)

clean:
	rm -rf $(VENV) build .pytest_cache

.PHONY: build
build: $(STAMP)
	$(BIN)/python -m devkit.ops.build $(ARGS)
