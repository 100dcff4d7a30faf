#!/usr/bin/env bash
# Wheels for the device machine's Python 3.12 (no network there), into .gpu_wheels/ (ignored).
# Run here, before a session's one device call; then carry .gpu_wheels (see gpu_session.sh).
# The device image already has torch (with CUDA), numpy, scipy, numba, sympy, matplotlib,
# pillow, hypothesis and pytest (../.library/device/KINDS.md lists its packages): the large
# ones of those are left out, so that what travels stays far below the 64 MiB limit. What
# the image lacks (diffusers, array-api-compat, pebble) comes from here; gpu_session.sh
# installs only the packages that do not import there.
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
rm -f numpy-* scipy-* matplotlib-* fonttools-* kiwisolver-* contourpy-* cycler-* \
      pyparsing-* python_dateutil-* tzdata-* hf_xet-* six-* pillow-*
du -sh .
