# The two commands of the README: `make demo` (install, then run the main job) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The IPFS node the tests start (js-ipfs from npm); reinstalled only when its package files change.
IPFS_NODE := tests/ipfs-node
IPFS_NODE_STAMP := $(IPFS_NODE)/node_modules/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	ZKREG=$(BIN)/zkreg examples/demo.sh

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

$(IPFS_NODE_STAMP): $(IPFS_NODE)/package.json $(IPFS_NODE)/package-lock.json
	cd $(IPFS_NODE) && npm ci --ignore-scripts --no-audit --no-fund
	touch $(IPFS_NODE_STAMP)

test: lint $(IPFS_NODE_STAMP)
	$(BIN)/pytest

bench: $(STAMP) $(IPFS_NODE_STAMP)
	$(BIN)/python bench/cid_throughput.py
	$(BIN)/python bench/cli_startup.py
	$(BIN)/python bench/ledger.py
	$(BIN)/python bench/ipfs.py
	$(BIN)/python bench/zk.py
	$(BIN)/python bench/serve.py
	$(BIN)/python bench/incentives.py --where /dev/shm

clean:
	rm -rf $(VENV) demo-out
