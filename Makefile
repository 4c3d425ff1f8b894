# kernel-explorer: `make serve` sets everything up and serves the site; `make test` runs the tests.
# Everything the project needs is installed from here: Debian packages (as root), the venv,
# the kernel sources (kexplore vendor) and the index (kexplore index).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
KEXPLORE := $(BIN)/kexplore
# Debian packages: venv support for the system Python, the comparison tools for the
# benchmarks, GNU time for peak memory, and what the labs and browser tests use.
# npm (for mermaid, fetched from the npm registry at build time) is installed with Debian's nodejs
# only where no npm is on the PATH: Node.js from elsewhere conflicts with Debian's npm package.
DEB_PACKAGES := python3-venv python3-dev universal-ctags cscope time hyperfine iproute2 nftables chromium
STAMP_DEB := $(VENV)/.debian-packages
STAMP_PIP := $(VENV)/.installed
INDEX := kernel-snippets/index/linux-6.1.sqlite
TREE  := kernel-snippets/linux-6.1

.PHONY: all setup vendor index lint test bench site serve clean distclean help

help:
	@echo "make serve   set up (venv, packages, kernel sources, index), build and serve the site on 127.0.0.1:8000"
	@echo "make test    set up, then run ruff, mypy and the test suite"
	@echo "make lint    ruff and mypy (configured in pyproject.toml)"
	@echo "make index   vendor the kernel and (re)build the index"
	@echo "make bench   run the benchmarks (figures in benchmarks/results/)"
	@echo "make clean   remove the site and caches; distclean also removes the venv, trees and indexes"

setup: $(STAMP_PIP)

$(STAMP_DEB): Makefile
	@mkdir -p $(VENV)
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  missing=""; \
	  for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	  command -v npm >/dev/null || missing="$$missing nodejs npm"; \
	  if [ -n "$$missing" ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  fi; \
	else \
	  echo "not root or no apt-get: skipping Debian packages ($(DEB_PACKAGES) nodejs npm); install them yourself"; \
	fi
	@touch $@

$(STAMP_PIP): pyproject.toml $(STAMP_DEB)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test]"
	@touch $@

vendor: $(STAMP_PIP)
	$(KEXPLORE) vendor

index: vendor
	$(KEXPLORE) index

lint: $(STAMP_PIP)
	$(BIN)/ruff check explorer tests benchmarks
	$(BIN)/mypy

test: index lint
	$(BIN)/python -m pytest -q
	$(KEXPLORE) check

bench: index
	$(BIN)/python benchmarks/run.py

# mermaid is fetched once from the npm registry (npm pack) into ~/.cache/kernel-explorer/npm.
site: index
	-$(KEXPLORE) lab record
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

serve: index
	-$(KEXPLORE) lab record
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve -a 127.0.0.1:8000

clean:
	rm -rf site build/site-cache .pytest_cache .hypothesis .mypy_cache .ruff_cache benchmarks/results

distclean: clean
	rm -rf $(VENV) $(TREE) kernel-snippets/index
