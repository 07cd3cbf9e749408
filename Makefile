# glasstls: `make demo` to watch a handshake, `make test` to run everything.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit fuzz fuzz-smoke bench bench-sockets fast test-fast clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/glasstls demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench tools

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest tests/unit tests/engine -q

test: $(STAMP) lint typecheck
	$(BIN)/pytest -q
	$(MAKE) --no-print-directory fuzz-smoke

# The optional compiled build (hatch_build.py): the engine's hot modules compiled by
# mypyc, the sources unchanged; needs a C compiler and the Python headers. `make fast`
# leaves the wheel in dist/; `make test-fast` installs it into a venv of its own
# (.venv-fast) and runs the engine's tests against it (CI runs both builds).
FAST_VENV := .venv-fast
FAST_STAMP := $(FAST_VENV)/.installed
FAST_TESTS ?= tests/unit tests/engine tests/transcripts

fast:
	GLASSTLS_COMPILE=1 $(PYTHON) -m pip wheel --quiet --no-deps --wheel-dir dist .

$(FAST_STAMP): pyproject.toml hatch_build.py $(shell find src -name '*.py')
	rm -rf $(FAST_VENV)
	$(PYTHON) -m venv $(FAST_VENV)
	$(FAST_VENV)/bin/pip install --quiet --upgrade pip
	GLASSTLS_COMPILE=1 $(FAST_VENV)/bin/pip install --quiet '.[test]'
	touch $@

# GLASSTLS_EXPECT_COMPILED: tests/conftest.py refuses to run if the sources are imported.
test-fast: $(FAST_STAMP)
	GLASSTLS_EXPECT_COMPILED=1 $(FAST_VENV)/bin/pytest -q $(FAST_TESTS)

# Coverage-guided fuzzing under atheris (tests/fuzz/harnesses.py): each harness for
# FUZZ_SECONDS, from its seeds and the corpus kept in .fuzz/; a finding fails the run
# and is saved as .fuzz/<harness>/crash-*. `make test` runs a short smoke of each.
FUZZ_SECONDS ?= 600
FUZZ_SMOKE_SECONDS ?= 30
FUZZ_HARNESSES ?=

fuzz: $(STAMP)
	$(BIN)/python tests/fuzz/atheris_main.py --seconds $(FUZZ_SECONDS) $(FUZZ_HARNESSES)

fuzz-smoke: $(STAMP)
	$(BIN)/python tests/fuzz/atheris_main.py --seconds $(FUZZ_SMOKE_SECONDS) $(FUZZ_HARNESSES)

# The shared harness (not vendored); override with TLSBENCH=/path/to/tlsbench.py.
# Its pinned peers go into a venv of their own (bench/.venv) so that the bench
# never changes the development venv. Extra harness flags: BENCH_ARGS=--quick.
TLSBENCH ?= ../shared/bench/tlsbench.py
BENCH_ARGS ?=
BENCH_VENV := bench/.venv
BENCH_STAMP := $(BENCH_VENV)/.installed

$(BENCH_STAMP): pyproject.toml bench/requirements.txt
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/pip install --quiet -e . -r bench/requirements.txt
	touch $@

ifneq ($(filter bench,$(MAKECMDGOALS)),)
ifeq ($(wildcard $(TLSBENCH)),)
$(error make bench: the tlsbench harness is not at '$(TLSBENCH)'; pass TLSBENCH=/path/to/tlsbench.py)
endif
endif

bench: $(BENCH_STAMP)
	$(BENCH_VENV)/bin/python "$(TLSBENCH)" --plugin bench/glasstls_adapter.py $(BENCH_ARGS)

# Real sockets, client and server in separate processes (bench/sockets.py);
# extra flags in SOCKETS_ARGS, e.g. SOCKETS_ARGS="--quick --only bulk".
SOCKETS_ARGS ?=

bench-sockets: $(BENCH_STAMP)
	$(BENCH_VENV)/bin/python bench/sockets.py $(SOCKETS_ARGS)

clean:
	rm -rf $(VENV) $(FAST_VENV) dist .pytest_cache .mypy_cache .ruff_cache .hypothesis .fuzz
