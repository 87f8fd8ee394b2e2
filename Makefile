# Every target bootstraps .venv from requirements.lock first, so each works on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-from-lock

.PHONY: serve build test bench kernels lint lock clean distclean

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

serve: $(STAMP)  ## build, serve at http://127.0.0.1:8000 and rebuild on every change (snippets too)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --dev-addr 127.0.0.1:8000 --livereload

ENGINE ?= mkdocs
STAGED := .cache/docs-exec/staging

build: $(STAMP)  ## the static site in site/ (ENGINE=zensical: the same site built by Zensical)
ifeq ($(ENGINE),mkdocs)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site
else ifeq ($(ENGINE),zensical)
	$(BIN)/python -m docs_exec build
	$(BIN)/zensical build --strict --config-file $(STAGED)/mkdocs.yml
	rm -rf site && cp -r $(STAGED)/site site
else
	$(error ENGINE must be mkdocs or zensical, not $(ENGINE))
endif

test: lint  ## the whole suite: lint, snippet maths, executor, strict build, links, browser, a11y
	$(BIN)/pytest

bench: $(STAMP)  ## build timings: plain vs cached vs cold vs one edited snippet
	$(BIN)/python bench/bench.py

kernels: $(STAMP)  ## how far each snippet's output moves with other CPU kernels and thread counts
	$(BIN)/python -m docs_exec run >/dev/null
	$(BIN)/python tools/kernels.py

lint: $(STAMP)  ## ruff check and ruff format --check
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

lock:  ## re-resolve pyproject's dependencies in a throwaway venv and pin them
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet torch==2.13.0 ".[dev,hands-on]"
	{ sed -n '1,2p' requirements.lock; .lock-venv/bin/python -m pip freeze --exclude-editable \
	  | grep -v '^demystifying-gradients' | sed 's/^torch==\(.*\)+cpu$$/torch==\1/'; } > requirements.lock.new
	mv requirements.lock.new requirements.lock && rm -rf .lock-venv

clean:  ## built site and snippet cache
	rm -rf site .cache

distclean: clean
	rm -rf $(VENV)
