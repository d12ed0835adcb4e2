# Two entry points: `make repro` (run the pipeline) and `make test` (run the test-suite).
# Both create .venv on first use; the stamp file makes a second run skip the install.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install repro test results bench bench-test bench-queue bench-report docs-assets clean-venv

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,ray]'
	touch $(STAMP)

install: $(STAMP)

# stages call `python`: put the venv first on PATH so they get its interpreter
repro: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/dvc repro
	@$(BIN)/python -m mscl.report

# The demo's comparison table (benchmarks/results/demo.json, shown in docs/results.md): four named
# DVC experiments on the demo, each run in a temporary copy of the workspace (`--temp`: your
# workspace, params.yaml and outputs stay as they are), then only these four rendered from
# `dvc exp show`.
RESULTS = moco-rgb dclr random-init mscl
EXP = PATH="$(abspath $(BIN)):$$PATH" $(BIN)/dvc exp run --temp
INIT = -S evaluation.init=$(1)
results: $(STAMP)
	@for e in $(RESULTS); do $(BIN)/dvc exp remove -q $$e 2>/dev/null || true; done
	$(EXP) -n moco-rgb -S pretrain.method=moco $(call INIT,pretrained)
	$(EXP) -n dclr -S pretrain.method=dclr $(call INIT,pretrained)
	$(EXP) -n random-init -S pretrain.method=mscl $(call INIT,random)
	$(EXP) -n mscl -S pretrain.method=mscl $(call INIT,pretrained)
	$(BIN)/python -m mscl.report --results benchmarks/results/demo.json --experiments $(RESULTS)
	$(BIN)/python -m mscl.bench tables

# A benchmark grid (docs/benchmarks.md; PRESET=benchmarks/<name>.yaml, the layers family by
# default, benchmarks/relative.yaml and benchmarks/motion.yaml the others): its experiments one after the other, each
# scored on val and then, sealed until the whole grid has them, on test (resumable: run it again
# after an interruption), then its results, figures and tables. `make bench-test` scores test with
# the val experiments of `make bench-queue`.
PRESET ?= benchmarks/layers.yaml
BENCH = PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m mscl.bench
bench: $(STAMP)
	$(BENCH) run --preset $(PRESET)
	$(BENCH) report --preset $(PRESET)

bench-test: $(STAMP)
	$(BENCH) test --preset $(PRESET)
	$(BENCH) report --preset $(PRESET)

# The val experiments through DVC's experiment queue, in the background: `dvc queue status` follows
# them, then `make bench-test` and `make bench-report`.
bench-queue: $(STAMP)
	$(BENCH) run --queue --preset $(PRESET)

bench-report: $(STAMP)
	$(BENCH) report --preset $(PRESET)

# Small copies of the pictures the docs show (docs/assets/): the demo's reports/ (a DVC output, after
# make repro) and the benchmarks' figures
docs-assets: $(STAMP)
	$(BIN)/python -m mscl.report --docs-assets docs/assets

test: $(STAMP)
	$(BIN)/python -m pytest

clean-venv:
	rm -rf $(VENV)
