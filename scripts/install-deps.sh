#!/usr/bin/env bash
# Installs the Debian packages softreg needs; quick and silent when they are all present.
set -euo pipefail

# The one list of C/C++ dependencies and data. Build: compiler, CMake, Ninja, libraries. Python:
# only the interpreter, its headers and venv; every Python package (NumPy, scikit-learn, pybind11,
# pytest, the benchmark peers) comes from PyPI into the virtual environment that
# scripts/venv.sh makes. Data: the Fashion-MNIST IDX files are the main job's data. Fuzzing
# (make fuzz): clang, and libclang-rt-14-dev, whose compiler runtime holds libFuzzer (the main
# build stays on g++).
packages=(
  g++ cmake ninja-build make pkg-config git
  libgtest-dev libgmock-dev libbenchmark-dev
  libhwy-dev libcli11-dev zlib1g-dev
  clang-format clang libclang-rt-14-dev
  python3 python3-dev python3-venv
  liblinear-tools time
  dataset-fashion-mnist
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
