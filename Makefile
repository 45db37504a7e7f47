# The two front-door commands. Each works as the first command on a fresh machine with
# Python 3.11 and make: it creates .venv and installs what it needs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export KERAS_BACKEND := torch
# The CPU build of torch ships on this project's machines in /opt/wheels: use it when present
# (a plain PyPI torch request would pull a multi-GB CUDA build).
PIP_LOCAL := $(if $(wildcard /opt/wheels),--find-links /opt/wheels,)

.PHONY: test demo bench lint clean

$(VENV)/.stamp-test: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q $(PIP_LOCAL) -e ".[test,examples]"
	touch $@

$(VENV)/.stamp-examples: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q $(PIP_LOCAL) -e ".[examples]"
	touch $@

# Two test workers on two cores: one BLAS/OpenMP thread each, so they do not oversubscribe.
test: $(VENV)/.stamp-test
	$(PY) -m ruff check src tests examples benchmarks
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PY) -m pytest -n 2 src tests

demo: $(VENV)/.stamp-examples
	$(PY) examples/demo.py

bench: $(VENV)/.stamp-test
	$(PY) benchmarks/run.py

lint: $(VENV)/.stamp-test
	$(PY) -m ruff check src tests examples benchmarks

clean:
	rm -rf $(VENV) out .pytest_cache
