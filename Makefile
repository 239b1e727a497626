# Two entry points for a fresh machine: `make demo` (set up + the main job) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP_CONSTRAINTS ?= constraints-local.txt

.PHONY: setup demo test test-fast bench pages clean-cache
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

# the unit tests alone (tests/unit: no store, no training): under a minute
test-fast: setup
	$(PY) -m pytest -q tests/unit

# every results page of docs/results/ again from the JSON committed beside it (no training)
pages: setup
	$(PY) cli.py page $(filter-out $(wildcard docs/results/berkeley-loso*.json),$(wildcard docs/results/*.json))
	$(PY) bench/real_sensors.py --table docs/results/berkeley-loso.json --json docs/results/berkeley-loso.json \
		--page docs/results/berkeley-loso.md > /dev/null
	$(PY) bench/spamfm_fusion.py --json docs/results/berkeley-loso-spamfm.json --page docs/results/berkeley-loso-spamfm.md

bench: setup
	for b in bench/*.py; do $(PY) $$b || exit 1; done

clean-cache:
	rm -rf cache/*.zarr cache/raw cache/glove
