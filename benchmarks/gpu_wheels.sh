#!/usr/bin/env bash
# Wheels for the device machine's Python 3.12 (no network there), into .gpu_wheels/ (ignored).
# Run here, before a session's one device call; then carry .gpu_wheels (see gpu_session.sh).
# The device already has torch (with CUDA), numpy, numba, sympy, hypothesis and pytest, so
# those (and matplotlib, which the GPU tests and benchmarks do not import) are left out to
# keep the carried tree under the 64 MiB limit.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
DIFFUSERS=$($PY -c 'import diffusers; print(diffusers.__version__)')
rm -rf .gpu_wheels && mkdir .gpu_wheels
$PY -m pip download -q --disable-pip-version-check --dest .gpu_wheels --python-version 3.12 \
    --only-binary=:all: --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform any \
    "scipy>=1.11" "tqdm>=4.66" "array-api-compat>=1.6" "pebble>=5.0" "diffusers==$DIFFUSERS"
cd .gpu_wheels
rm -f numpy-* matplotlib-* fonttools-* kiwisolver-* contourpy-* cycler-* pyparsing-* \
      python_dateutil-* tzdata-* hf_xet-* six-*
du -sh .
