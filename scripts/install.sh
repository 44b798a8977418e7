#!/usr/bin/env bash
# Set up a virtual environment with everything unipixel_plugin needs, from the package registries only.
# Usage: bash scripts/install.sh [VENV_DIR]   (default: .venv)
# The order matters; see docs/install.md for why several packages are installed with --no-deps.
set -euo pipefail
VENV=${1:-.venv}
HERE=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-python3}

[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
PIP="$VENV/bin/python -m pip"
$PIP install -q -U pip "setuptools>=77.0.3,<82" wheel
# torch + torchvision that import together on CPU (a CUDA build that also runs on CPU).
$PIP install -q "torch==2.14.1" "torchvision==0.29.1"
$PIP install -q -r "$HERE/requirements/base.txt"
# The demo extra (gradio) and Playwright for its browser test; gradio moves pillow to 12.x (pins <13).
$PIP install -q -r "$HERE/requirements/demo.txt"
# openmim, hydra and friends: their declared dependency chains downgrade packages the rest needs.
$PIP install -q --no-deps -r "$HERE/requirements/no-deps.txt"
$PIP install -q click colorama model-index tabulate pandas rich requests
# sam2 is an sdist; build it against the torch installed above, without the CUDA extension.
SAM2_BUILD_CUDA=0 $PIP install -q --no-deps --no-build-isolation "sam2==1.1.0"
# DeepSpeed (the `deepspeed` extra, for FlexibleRunner + DeepSpeedStrategy): an sdist; no CUDA ops are built here.
DS_BUILD_OPS=0 $PIP install -q --no-build-isolation "deepspeed==0.18.9"
# The plugin itself: a regular (non-editable) install, which `mim train` needs.
$PIP install -q --no-deps --no-build-isolation "$HERE"
