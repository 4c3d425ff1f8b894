# kernel-explorer: `make serve` sets everything up and serves the site; `make test` runs the tests.
# Everything the project needs is installed from here: Debian packages (as root), the venv,
# the kernel sources (kexplore vendor) and the index (kexplore index).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
KEXPLORE := $(BIN)/kexplore
# Debian packages: venv support for the system Python, the comparison tools for the
# benchmarks, GNU time for peak memory, what the labs and browser tests use, and the CJK font
# whose glyphs the site bundles (fonts-droid-fallback, Apache-2.0).
# npm (for mermaid, fetched from the npm registry at build time) is installed with Debian's nodejs
# only where no npm is on the PATH: Node.js from elsewhere conflicts with Debian's npm package.
DEB_PACKAGES := python3-venv python3-dev universal-ctags cscope time hyperfine iproute2 nftables chromium fonts-droid-fallback
STAMP_DEB := $(VENV)/.debian-packages
STAMP_PIP := $(VENV)/.installed

.PHONY: all setup vendor index lint test bench site serve publish clean distclean help

help:
	@echo "make serve   set up (venv, packages, kernel sources, index), build and serve the site on 127.0.0.1:8000"
	@echo "make test    set up, then run ruff, mypy and the test suite"
	@echo "make lint    ruff and mypy (configured in pyproject.toml)"
	@echo "make publish build the site strictly for KEXPLORE_SITE_URL and write $(ARCHIVE)"
	@echo "make index   vendor the kernels and (re)build their indexes"
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

# every kernel of kernel-snippets/kernels.toml (Linux 6.1 and 6.12): the later kernel copies the index
# rows of the files that are the same in both instead of parsing them again
vendor: $(STAMP_PIP)
	$(KEXPLORE) vendor --all

# The package is byte-compiled here (only what changed): where PYTHONDONTWRITEBYTECODE is set, as on the CI
# machines, Python would otherwise compile every module again on each kexplore run (about 0.1 s of each).
index: vendor
	$(BIN)/python -m compileall -q explorer
	$(KEXPLORE) index --all

lint: $(STAMP_PIP)
	$(BIN)/ruff check explorer tests benchmarks
	$(BIN)/mypy
	$(BIN)/zizmor --offline --no-progress .github/workflows

test: index lint
	$(BIN)/python -m pytest -q
	$(KEXPLORE) check

bench: index
	$(BIN)/python benchmarks/run.py

# mermaid is fetched once from the npm registry (npm pack) into ~/.cache/kernel-explorer/npm.
site: index
	-$(KEXPLORE) lab record
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# `make publish`: the site built strictly for $KEXPLORE_SITE_URL (canonical links, sitemap) and a
# reproducible archive of it for any static host: the same commit and lab results give the same
# bytes (SOURCE_DATE_EPOCH: the last commit's time). Labs are recorded once, into build/labs/
# (`kexplore lab record` records them again).
ARCHIVE := build/kernel-explorer-site.tar.gz
publish: index
	@test -n "$$(ls build/labs 2>/dev/null)" || $(KEXPLORE) lab record || true
	export SOURCE_DATE_EPOCH="$${SOURCE_DATE_EPOCH:-$$(git log -1 --format=%ct 2>/dev/null || echo 0)}"; \
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --clean && \
	$(BIN)/python -m explorer.site.archive site $(ARCHIVE)

serve: index
	-$(KEXPLORE) lab record
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve -a 127.0.0.1:8000

clean:
	rm -rf site build/site-cache $(ARCHIVE) .pytest_cache .hypothesis .mypy_cache .ruff_cache benchmarks/results

distclean: clean
	rm -rf $(VENV) kernel-snippets/linux-*/ kernel-snippets/index
