# `make train`: set up .venv and train the default (Pendulum-v1). `make test`: set up and test.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: setup train test test-all docs bench clean

setup: $(STAMP)

# torch is pinned to 2.13.0 in pyproject.toml; pip finds its CPU wheel on these machines' disk.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

train: $(STAMP)
	$(VENV)/bin/ddpg train $(ARGS)

test: $(STAMP)
	$(PY) -m pytest -q

test-all: $(STAMP)
	$(PY) -m pytest -q -m ''

# the user guide into site/ (the docs extra is part of .[test]); --strict fails on any warning
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site

bench: $(STAMP)
	$(PY) benchmarks/pendulum_default.py --seeds 0-9 --out docs/pendulum_default.md

clean:
	rm -rf $(VENV) runs site .pytest_cache
