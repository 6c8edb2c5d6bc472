#!/usr/bin/env bash
# Makes the project's Python virtual environment (never the system interpreter) and installs one
# pinned requirement set into it from PyPI: `test` (make test) or `bench` (make bench).
# usage: scripts/venv.sh VENV test|bench      interpreter: $PYTHON (default python3)
set -euo pipefail
venv=$1
set=$2
root=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python3}

if [ ! -x "$venv/bin/python" ]; then
  echo "venv: creating $venv with $("$python" --version 2>&1) ($(command -v "$python"))"
  "$python" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check -q)

echo "venv: installing requirements/$set.txt into $venv"
"${pip[@]}" install -r "$root/requirements/$set.txt" 2> >(grep -v "^WARNING: Location" >&2)

# PyTorch is optional for the tests: the CPU build is installed when pip finds that exact wheel
# without the index (a local wheel directory in pip's configuration), since anything else would
# be a CUDA build of several GB. The benchmarks require it (requirements/bench.txt).
if [ "$set" = test ] && ! "$venv/bin/python" -c 'import torch' 2>/dev/null; then
  if "${pip[@]}" install --dry-run --no-index --no-deps torch==2.13.0 >/dev/null 2>&1; then
    echo "venv: installing PyTorch 2.13.0 (CPU build, local wheel) for the tests' comparisons"
    "${pip[@]}" install -r "$root/requirements/torch.txt" 2> >(grep -v "^WARNING: Location" >&2)
  else
    echo "venv: no local PyTorch 2.13.0 CPU wheel; the tests that compare against PyTorch will be skipped"
  fi
fi
touch "$venv/.installed-$set"
