# Two entry points for a fresh machine: `make demo` (set up + the main job) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP_CONSTRAINTS ?= constraints-local.txt

.PHONY: setup demo test bench clean-cache
setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml $(PIP_CONSTRAINTS)
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -c $(PIP_CONSTRAINTS) -e '.[test]'
	touch $@

demo: setup
	$(PY) cli.py demo

test: setup
	$(PY) -m pytest -q

bench: setup
	for b in bench/*.py; do $(PY) $$b || exit 1; done

clean-cache:
	rm -rf cache/*.zarr cache/raw cache/glove
