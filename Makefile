# cnnviz — the README's two commands are `make lab` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PORT   ?= 8888
# JupyterLab refuses to run as root unless told; containers and CI often are root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: lab present test lint unit nbval nbval-imagenet nbval-zh notebooks methods-table i18n-check references bench \
        offline-model robust-model shortcut-model fast-style-model download clean help instructor-lab course-init release collect autograde feedback \
        export report

help:
	@echo "make lab        open JupyterLab on notebooks/ (creates .venv on first run; PORT=8888)"
	@echo "make present    serve the explorer app (notebooks/explorer.ipynb) with Voila (PORT=8866)"
	@echo "make test       unit tests + every solution notebook in fast mode"
	@echo "make lint       ruff check + ruff format --check + mypy on the package (CI runs it first)"
	@echo "make notebooks  regenerate notebooks/ from solutions/ (and solutions/zh/, notebooks/zh/ from i18n/)"
	@echo "make i18n-check translations: cells translated / missing / fuzzy / stale per notebook"
	@echo "make methods-table  regenerate README's methods table from cnnviz_helpers/methods.py"
	@echo "make bench      speed ratios against reference implementations"
	@echo "make download   pre-fetch ImageNet weights and optional assets"
	@echo "make offline-model     retrain the offline ShapesNet (data/shapesnet.pt)"
	@echo "make robust-model      adversarially fine-tune it (data/shapesnet_robust.pt, ~15 min on 2 cores)"
	@echo "make shortcut-model SEED=N  train the capstone's shortcut ShapesNet of seed N (notebook 14; ~14 min of CPU time)"
	@echo "make fast-style-model  retrain the shipped fast style network (data/fast_style_cin.pt)"
	@echo "make references        regenerate the graded exercises' stored references"
	@echo "grading (README, 'Grading with nbgrader'): make course-init|release|collect|autograde|feedback|export|report COURSE=dir ..."

# One environment for everything: the kit plus its dev tools, torch pinned by constraints.txt.
$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

# nbgrader (instructor extra) is installed for `make test` and the grading targets only; its
# JupyterLab UI (Validate button, menus, "Create Assignment" panel) stays hidden in the students' lab.
# The presenting extra too: tests/test_browser.py checks the slides' live widgets.
$(VENV)/.instructor: $(VENV)/.installed
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev,instructor,presenting]'
	touch $@

lab: $(VENV)/.installed
	-@$(VENV)/bin/jupyter labextension disable --level=sys_prefix @jupyter/nbgrader >/dev/null 2>&1
	$(VENV)/bin/jupyter lab --ip=127.0.0.1 --port=$(PORT) $(ROOT_FLAG) --ServerApp.root_dir=$(CURDIR) notebooks/00_setup.ipynb

instructor-lab: $(VENV)/.instructor
	$(VENV)/bin/jupyter labextension enable --level=sys_prefix @jupyter/nbgrader
	$(VENV)/bin/jupyter lab --ip=127.0.0.1 --port=$(PORT) $(ROOT_FLAG) --ServerApp.root_dir=$(CURDIR)

# Presenting live: the explorer as an app (Voila, from the `presenting` extra), on this machine only.
$(VENV)/.presenting: $(VENV)/.installed
	$(PY) -m pip install --quiet -c constraints.txt -e '.[presenting]'
	touch $@

present: $(VENV)/.presenting
	$(VENV)/bin/voila --no-browser --Voila.ip=127.0.0.1 --port=$(if $(filter 8888,$(PORT)),8866,$(PORT)) notebooks/explorer.ipynb

test: unit nbval nbval-imagenet nbval-zh

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m mypy

# The test targets run two pytest workers (pytest-xdist, in the dev extra), one test file or notebook each at a
# time (a notebook's cells run in order in one kernel; a module's fixtures are made once), each with one torch
# thread: the 2-core CPU stays busy while one worker waits on a kernel, a server or a subprocess.
# `make test WORKERS=0` runs everything in one process, as before.
WORKERS ?= 2
XDIST    = $(if $(filter-out 0,$(WORKERS)),-n $(WORKERS) --dist loadfile)
THREADS  = $(if $(XDIST),OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1})

unit: $(VENV)/.instructor
	CNNVIZ_FAST=1 $(THREADS) $(PY) -m pytest $(XDIST) tests

# CNNVIZ_STRICT_CHECKS=1: a graded check that fails the solution's own answer fails the run.
nbval: $(VENV)/.instructor
	CNNVIZ_FAST=1 CNNVIZ_STRICT_CHECKS=1 CNNVIZ_OFFLINE=$${CNNVIZ_OFFLINE:-1} MPLBACKEND=Agg $(THREADS) $(PY) -m pytest $(XDIST) --nbval-lax -p no:cacheprovider solutions/ --ignore=solutions/zh

# The Chinese notebooks (solutions/zh/, built from i18n/zh_CN/*.po): the same code cells, offline only.
nbval-zh: $(VENV)/.instructor
	CNNVIZ_FAST=1 CNNVIZ_STRICT_CHECKS=1 CNNVIZ_OFFLINE=1 MPLBACKEND=Agg $(THREADS) $(PY) -m pytest $(XDIST) --nbval-lax -p no:cacheprovider solutions/zh/

# The same on the ImageNet code path: squeezenet1_1 from a temporary cache of random weights under
# torchvision's real file names (no download), so a check that fails a correct answer there is caught.
nbval-imagenet: $(VENV)/.instructor
	CNNVIZ_FAST=1 CNNVIZ_STRICT_CHECKS=1 MPLBACKEND=Agg $(THREADS) $(PY) tools/imagenet_path.py $(PY) -m pytest $(XDIST) --nbval-lax -p no:cacheprovider \
		solutions/ --ignore=solutions/zh

references: $(VENV)/.installed
	$(PY) -m cnnviz_helpers.grading.grader.make_references

# The instructor's flow (README, "Grading with nbgrader"); COURSE is a directory outside the repo.
COURSE ?= $(HOME)/cnnviz-course
course-init: $(VENV)/.instructor
	$(PY) tools/course.py init $(COURSE)
release: $(VENV)/.instructor
	$(PY) tools/course.py release $(COURSE) $(ASSIGNMENT) $(NOTEBOOKS)
collect: $(VENV)/.instructor
	$(PY) tools/course.py collect $(COURSE) $(ASSIGNMENT) $(SUBMISSIONS)
autograde: $(VENV)/.instructor
	$(PY) tools/course.py autograde $(COURSE) $(ASSIGNMENT)
feedback: $(VENV)/.instructor
	$(PY) tools/course.py feedback $(COURSE) $(ASSIGNMENT)
export: $(VENV)/.instructor
	$(PY) tools/course.py export $(COURSE) $(or $(CSV),grades.csv)
report: $(VENV)/.instructor
	$(PY) tools/course.py report $(COURSE)

notebooks: $(VENV)/.installed
	$(PY) tools/build_notebooks.py

methods-table: $(VENV)/.installed
	$(PY) tools/methods_table.py

# Translations (i18n/zh_CN/*.po): `python tools/i18n.py update` after editing English; this reports what is left.
i18n-check: $(VENV)/.installed
	$(PY) tools/i18n.py check

bench: $(VENV)/.instructor
	$(PY) -m bench

download: $(VENV)/.installed
	$(PY) -m cnnviz_helpers.training.download

offline-model: $(VENV)/.installed
	$(PY) -m cnnviz_helpers.training.train_shapesnet

robust-model: $(VENV)/.installed
	$(PY) -m cnnviz_helpers.training.train_shapesnet --adv-eps 0.031372549 --adv-steps 2 --n-train 5000 --epochs 3 \
		--lr 0.001 --init data/shapesnet.pt --out data/shapesnet_robust.pt

# The capstone's model (notebook 14): seed 0 is shipped (data/shapesnet_shortcut.pt); another seed goes to the data cache.
SEED ?= 0
shortcut-model: $(VENV)/.installed
	$(PY) -m cnnviz_helpers.training.train_shapesnet --shortcut-seed $(SEED) --n-train 8000 --epochs 10

fast-style-model: $(VENV)/.installed
	$(PY) -m cnnviz_helpers.training.train_fast_style_net

clean:
	rm -rf $(VENV) .pytest_cache
