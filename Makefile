# The README's verbs. Every target installs what it needs (scripts/install-deps.sh) first.
BUILD ?= build
JOBS ?= $(shell nproc)
PREFIX ?= /usr/local
CMAKE_FLAGS ?=

.PHONY: all deps build demo test test-asan bench python install clean

all: build

deps:
	@bash scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release -DSOFTREG_BUILD_PYTHON=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

demo: build
	@bash scripts/demo.sh $(BUILD)

test: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	@if [ "$$CI" = "true" ]; then $(MAKE) --no-print-directory test-asan; fi

# The same suite under AddressSanitizer and UndefinedBehaviorSanitizer (run by CI), without the
# Python module: an instrumented extension needs the sanitizer runtime preloaded into Python.
test-asan: deps
	@cmake -S . -B $(BUILD)-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSOFTREG_BUILD_PYTHON=OFF \
	  -DCMAKE_CXX_FLAGS="-O1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
	  $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD)-asan -j $(JOBS)
	@cd $(BUILD)-asan && ctest --output-on-failure -j $(JOBS) -E example_consumer

bench: deps
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release -DSOFTREG_BUILD_BENCH=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)
	@bash bench/run.sh $(BUILD)

# The Python package in the build tree: PYTHONPATH=$(BUILD)/python /usr/bin/python3 -c 'import softreg'
# (docs/PYTHON.md: installing it with pip).
python: build
	@echo "softreg Python package: $(BUILD)/python/softreg (use PYTHONPATH=$(BUILD)/python)"

install: build
	@cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	@rm -rf $(BUILD) $(BUILD)-asan
