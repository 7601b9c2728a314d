# cnnviz — the README's two commands are `make lab` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PORT   ?= 8888
# JupyterLab refuses to run as root unless told; containers and CI often are root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: lab test lint unit nbval notebooks bench offline-model fast-style-model download clean help

help:
	@echo "make lab        open JupyterLab on notebooks/ (creates .venv on first run; PORT=8888)"
	@echo "make test       unit tests + every solution notebook in fast mode"
	@echo "make lint       ruff check + ruff format --check + mypy on the package (CI runs it first)"
	@echo "make notebooks  regenerate notebooks/ from solutions/"
	@echo "make bench      speed ratios against reference implementations"
	@echo "make download   pre-fetch ImageNet weights and optional assets"
	@echo "make offline-model     retrain the offline ShapesNet (data/shapesnet.pt)"
	@echo "make fast-style-model  retrain the shipped fast style network (data/fast_style_cin.pt)"

# One environment for everything: the kit plus its dev tools, torch pinned by constraints.txt.
$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

lab: $(VENV)/.installed
	$(VENV)/bin/jupyter lab --ip=127.0.0.1 --port=$(PORT) $(ROOT_FLAG) --ServerApp.root_dir=$(CURDIR) notebooks/00_setup.ipynb

test: unit nbval

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m mypy

unit: $(VENV)/.installed
	CNNVIZ_FAST=1 $(PY) -m pytest tests

nbval: $(VENV)/.installed
	CNNVIZ_FAST=1 CNNVIZ_OFFLINE=$${CNNVIZ_OFFLINE:-1} MPLBACKEND=Agg $(PY) -m pytest --nbval-lax -p no:cacheprovider solutions/

notebooks: $(VENV)/.installed
	$(PY) tools/build_notebooks.py

bench: $(VENV)/.installed
	$(PY) -m bench

download: $(VENV)/.installed
	$(PY) -m cnnviz_helpers.training.download

offline-model: $(VENV)/.installed
	$(PY) -m cnnviz_helpers.training.train_shapesnet

fast-style-model: $(VENV)/.installed
	$(PY) -m cnnviz_helpers.training.train_fast_style

clean:
	rm -rf $(VENV) .pytest_cache
