# toytheory: the two commands the README shows.
#   make verify   set up .venv, run the quick tier of every claim, write report/
#   make test     set up .venv with the test extras, run the whole pytest suite
#   make reseed   the quick tier under 20 run seeds (SEEDS=0..19): report/reseed/stability.md
#   make typical-times  record each quick-tier claim's time (limits are 10x it)
#   make docs     the documentation, executed gallery included: docs/_build/html
#   make bench    every CPU benchmark against its peer, one table (BUSY=1: beside one
#                 CPU burner per core); JSON under benchmarks/results/
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
# constraints.txt pins torch to the CPU wheel on this machine's disk.
PIP_FLAGS := -q --disable-pip-version-check -c constraints.txt $(if $(wildcard /opt/wheels),--find-links /opt/wheels)
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
# k-diffusion is a test peer whose package pulls torchvision (which does not
# import beside the CPU torch wheel); it is installed without dependencies and
# its sampling module is loaded on its own by the tests.
KDIFFUSION := k-diffusion==0.1.1.post1

.PHONY: verify test reseed typical-times bench docs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.verify-installed: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) install $(PIP_FLAGS) -e ".[verify]"
	touch $@

$(VENV)/.test-installed: $(VENV)/.verify-installed
	$(PIP) install $(PIP_FLAGS) -e ".[test]"
	$(PIP) install $(PIP_FLAGS) --no-deps "$(KDIFFUSION)"
	touch $@

verify: $(VENV)/.verify-installed
	$(BIN)/toytheory verify --tier quick --jobs $(JOBS) --out report/
	@echo "report written to report/: report.html, report.md, results.json"

# Every claim's verdict must be the same under any run seed (or inconclusive where its
# statistics cannot decide): run the quick tier under each seed of SEEDS and write the
# stability table. Exit status 1 if a claim fails, errors or flips under any seed.
SEEDS ?= 0..19
reseed: $(VENV)/.verify-installed
	$(BIN)/toytheory verify --tier quick --seeds $(SEEDS) --jobs $(JOBS) --out report/reseed
	@echo "stability table written to report/reseed/stability.md (also stability.json)"

# Record each quick-tier claim's typical time (its limit is 10x it): on an idle machine.
typical-times: $(VENV)/.verify-installed
	OMP_NUM_THREADS=1 $(BIN)/toytheory verify --tier quick --record-times --out report/timing

# One BLAS/OpenMP thread per pytest worker: the workers already use every core, and
# nested BLAS threads make the many small matrix products of the suite far slower.
test: $(VENV)/.test-installed
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
		$(BIN)/python -m pytest -n $(JOBS) -p no:cacheprovider

# The CPU benchmarks, each against its peer in interleaved rounds (benchmarks/suite.py).
bench: $(VENV)/.test-installed
	$(BIN)/python -m benchmarks.suite $(if $(BUSY),--busy)

# The documentation (docs/build.py): API reference, area pages with the verdicts of
# report/results.json (run make verify first to show them), the executed notebook gallery
# and each notebook as an .ipynb with outputs; sphinx -W and an internal link check.
docs: $(VENV)/.test-installed
	$(BIN)/python docs/build.py --execute
	@echo "documentation written to docs/_build/html"

clean:
	rm -rf $(VENV) report .pytest_cache .hypothesis
