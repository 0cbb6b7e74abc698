# Two commands for a newcomer: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
SUDO   := $(shell [ "$$(id -u)" = "0" ] || echo sudo)
PORT   ?= 8050
SPEEDUP ?= 60

.PHONY: install install-test demo test lint chromium bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip setuptools wheel

$(VENV)/.installed: $(PY) pyproject.toml
	$(PIP) install -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) install -e '.[test]'
	touch $@

install: $(VENV)/.installed            ## create .venv and install the command center

install-test: $(VENV)/.installed-test  ## also install the test extras

chromium:                              ## Debian chromium for the browser tests
	@if [ ! -x /usr/bin/chromium ]; then \
		echo "installing Debian chromium (browser tests)"; \
		$(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei; \
	fi

demo: $(VENV)/.installed               ## start the command center on the embedded defaults
	$(VENV)/bin/icc demo --reset --port $(PORT) --speedup $(SPEEDUP)

lint: $(VENV)/.installed-test
	$(PY) -m ruff check .

test: $(VENV)/.installed-test chromium ## run the whole suite (lint, unit, end-to-end, browser)
	$(PY) -m ruff check .
	$(PY) -m pytest -q

bench: $(VENV)/.installed-test         ## quick benchmarks (see bench/README.md)
	$(PY) -m bench.ingest --quick

clean:
	rm -rf $(VENV) .icc bench/results .pytest_cache
