# The two commands the README promises: `make demo` and `make test`. Both set themselves up.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install -q --disable-pip-version-check -c constraints.txt

.PHONY: demo test lint bench docs graphviz clean

$(VENV)/.ok: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) -e '.'
	touch $@

$(VENV)/.dev-ok: $(VENV)/.ok
	$(PIP) -e '.[dev]'
	touch $@

demo: $(VENV)/.ok
	$(VENV)/bin/resnet-inspect summary resnet50

# Graphviz's `dot` renders the diagrams; install it when we can (root with apt), else say so.
graphviz:
	@command -v dot >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null) \
	      || echo "warning: could not install graphviz; rendering tests will be skipped"; \
	  else echo "warning: Graphviz 'dot' not found (apt-get install graphviz); rendering tests will be skipped"; fi; }

test: $(VENV)/.dev-ok graphviz
	$(PY) -m pytest -n 2 -q

lint: $(VENV)/.dev-ok
	$(VENV)/bin/ruff check resnet_inspect tests benchmarks
	$(VENV)/bin/mypy resnet_inspect

bench: $(VENV)/.dev-ok
	$(PIP) -e '.[dev,bench]'
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
