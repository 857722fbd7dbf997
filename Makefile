# Two commands on a fresh machine: `make dev` and `make test`. Both bootstrap .venv
# from this repo's own files first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: dev test bench install clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

dev: $(STAMP)
	$(BIN)/aiagent dev $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest $(ARGS)

bench: $(STAMP)
	$(BIN)/python -m devkit.bench.run $(ARGS)

clean:
	rm -rf $(VENV) build .pytest_cache

.PHONY: build
build: $(STAMP)
	$(BIN)/python -m devkit.ops.build $(ARGS)
