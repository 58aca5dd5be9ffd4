# Two commands: `make demo` (the main job end to end) and `make test` (the suite).
# Both do the whole set-up first; the set-up is idempotent and quick when done.
PY := .venv/bin/python
PIP := .venv/bin/pip
STAMP := .venv/.installed

.PHONY: demo test setup system-deps bench peers clean

setup: system-deps $(STAMP)

system-deps:
	@bash scripts/system-deps.sh

# torch 2.13.0 first: pip then takes the CPU wheel on disk instead of a CUDA build.
$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv .venv
	@$(PIP) install -q --upgrade pip
	@$(PIP) install -q torch==2.13.0
	@$(PIP) install -q -e '.[test,postgres]'
	@touch $(STAMP)

demo: setup
	@bash scripts/demo.sh

# One pytest worker per core, at most 4: the slow tests wait on gcc and QEMU subprocesses, one
# core each; more workers would crowd the timed tests (each torch process threads over every core).
TEST_WORKERS ?= $(shell n=$$(nproc); [ $$n -gt 4 ] && n=4; echo $$n)
test: setup
	@$(PY) -m pytest -n $(TEST_WORKERS) --dist worksteal

bench: setup
	@$(PY) bench/accuracy.py

# TFLite Micro peer for bench/memory.py, in its own venv: litert-torch pulls torch 2.14.1
# (and jax), which must not replace .venv's torch 2.13.0. Torch first, from the wheel on disk.
PEERS := .venv-peers
peers: $(PEERS)/.installed

$(PEERS)/.installed:
	@test -x $(PEERS)/bin/python || python3 -m venv $(PEERS)
	@$(PEERS)/bin/pip install -q torch==2.14.1
	@$(PEERS)/bin/pip install -q tflite-micro litert-torch ai-edge-quantizer numpy
	@touch $@

clean:
	rm -rf .venv .venv-peers demo-out .pytest_cache
