# The README's verbs. Every target installs what it needs first: Debian packages
# (scripts/install-deps.sh) and the pinned Python packages in the virtual environment $(VENV)
# (scripts/venv.sh, requirements/*.txt).
BUILD ?= build
JOBS ?= $(shell nproc)
PREFIX ?= /usr/local
# make fuzz: seconds per fuzz target, and how many targets run at once.
FUZZ_SECONDS ?= 60
FUZZ_JOBS ?= 2
CMAKE_FLAGS ?=
# The interpreter that makes the virtual environment, and where it lives.
PYTHON ?= python3
VENV ?= .venv
VENV_PYTHON = $(abspath $(VENV))/bin/python
# The build's Python: the module is built for it, and the pytest suites run under it.
PYTHON_FLAGS = -DPython3_EXECUTABLE=$(VENV_PYTHON) \
  -Dpybind11_DIR=$$($(VENV_PYTHON) -m pybind11 --cmakedir)

.PHONY: all deps deps-test venv build demo test test-asan fuzz bench python install clean

all: build

deps:
	@bash scripts/install-deps.sh

venv: $(VENV)/.installed-test

$(VENV)/.installed-test: requirements/test.txt requirements/torch.txt scripts/venv.sh | deps
	@PYTHON=$(PYTHON) bash scripts/venv.sh $(VENV) test

$(VENV)/.installed-bench: requirements/bench.txt requirements/test.txt requirements/torch.txt \
                          scripts/venv.sh | deps
	@PYTHON=$(PYTHON) bash scripts/venv.sh $(VENV) bench

build: deps venv
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release -DSOFTREG_BUILD_PYTHON=ON \
	  -DSOFTREG_BUILD_MPI=ON $(PYTHON_FLAGS) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

demo: build
	@bash scripts/demo.sh $(BUILD)

# The tests also need the test-only Debian packages (Chromium for the HTML report's render test).
test: build
	@bash scripts/install-deps.sh test
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	@if [ "$$CI" = "true" ]; then $(MAKE) --no-print-directory test-asan; fi
	@if [ "$$CI" = "true" ]; then $(MAKE) --no-print-directory fuzz FUZZ_SECONDS=30; fi

# The same suite under AddressSanitizer and UndefinedBehaviorSanitizer (run by CI), without the
# Python module (an instrumented extension needs the sanitizer runtime preloaded into Python)
# and without MPI (Open MPI's own allocations would be reported as leaks; the distributed tests
# skip there and run in the main build). Its SIMD kernels leave out Highway's SSSE3 target: SSE4
# has the same 128-bit vectors and the same tails, and the instrumented kernels are most of CI's
# build time; the main build compiles and tests every target.
test-asan: deps venv
	@cmake -S . -B $(BUILD)-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSOFTREG_BUILD_PYTHON=OFF \
	  -DCMAKE_CXX_FLAGS="-O1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -DHWY_DISABLED_TARGETS=HWY_SSSE3" \
	  -DPython3_EXECUTABLE=$(VENV_PYTHON) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD)-asan -j $(JOBS)
	@cd $(BUILD)-asan && ctest --output-on-failure -j $(JOBS) -E example_consumer

# Every libFuzzer target of fuzz/ (the readers of each data format, plain and gzip, the model
# file, the sample weights and standard input) for FUZZ_SECONDS each, FUZZ_JOBS at a time, built
# with clang into $(BUILD)-fuzz; fails on any finding (docs/ARCHITECTURE.md, "Fuzzing"). CI runs
# it with 30 s per target: about 3 minutes for the eleven, within CI's 30-minute budget.
fuzz: deps
	@bash scripts/fuzz.sh $(BUILD)-fuzz $(FUZZ_SECONDS) $(FUZZ_JOBS)

# The peers run from the same virtual environment with requirements/bench.txt on top.
bench: deps venv $(VENV)/.installed-bench
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release -DSOFTREG_BUILD_PYTHON=ON \
	  -DSOFTREG_BUILD_MPI=ON -DSOFTREG_BUILD_BENCH=ON $(PYTHON_FLAGS) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)
	@bash bench/run.sh $(BUILD) $(VENV_PYTHON)

# The Python package in the build tree, for the virtual environment's interpreter:
# PYTHONPATH=$(BUILD)/python $(VENV)/bin/python -c 'import softreg'
# (`pip install .` builds and installs it like any package: docs/PYTHON.md).
python: build
	@echo "softreg Python package: $(BUILD)/python/softreg"
	@echo "  PYTHONPATH=$(BUILD)/python $(VENV)/bin/python -c 'import softreg'"

install: build
	@cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	@rm -rf $(BUILD) $(BUILD)-asan $(BUILD)-fuzz build-pip
