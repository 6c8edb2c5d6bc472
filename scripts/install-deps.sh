#!/usr/bin/env bash
# Installs the Debian packages softreg needs; quick and silent when they are all present.
#   install-deps.sh        what building, the demo and the Python module need
#   install-deps.sh test   that, plus the test-only packages (Chromium, which renders the HTML
#                          report headless; about 300 MB, so `make build` does not pull it in)
set -euo pipefail
group=${1:-build}

# The one list of C/C++ dependencies and data. Build: compiler, CMake, Ninja, libraries. Python:
# only the interpreter, its headers and venv; every Python package (NumPy, scikit-learn, pybind11,
# pytest, the benchmark peers) comes from PyPI into the virtual environment that
# scripts/venv.sh makes. Data: the Fashion-MNIST IDX files are the main job's data. Fuzzing
# (make fuzz): clang, and libclang-rt-14-dev, whose compiler runtime holds libFuzzer (the main
# build stays on g++). Distributed training (softreg train --distributed): Open MPI.
packages=(
  g++ cmake ninja-build make pkg-config git
  libgtest-dev libgmock-dev libbenchmark-dev
  libhwy-dev libcli11-dev zlib1g-dev
  clang-format clang libclang-rt-14-dev
  python3 python3-dev python3-venv
  liblinear-tools time
  libopenmpi-dev openmpi-bin
  dataset-fashion-mnist
)
# Test-only: Debian's chromium (not the snap wrapper chromium-browser of Ubuntu). Installed by
# `make test` (and so by CI); where it cannot be installed the render test says so and skips.
test_packages=(chromium)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

missing_test=()
if [ "$group" = test ]; then
  for p in "${test_packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
      missing_test+=("$p")
    fi
  done
fi

if [ ${#missing[@]} -eq 0 ] && [ ${#missing_test[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# A test package that cannot be installed (no network, no such package on this release) is a
# warning, not a failure: the tests that need it skip and name the reason.
if [ ${#missing_test[@]} -gt 0 ]; then
  echo "install-deps: installing the test packages ${missing_test[*]}"
  if ! $SUDO apt-get install -y -qq --no-install-recommends "${missing_test[@]}" >/dev/null; then
    echo "install-deps: warning: could not install ${missing_test[*]}; the tests that need" \
      "them will be skipped" >&2
  fi
fi
echo "install-deps: done"
