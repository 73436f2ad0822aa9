#!/usr/bin/env bash
# Set up .venv for DeepImagine, then (optionally) run a command in it with the offline settings.
#
#   scripts/setup.sh                        # create/refresh .venv only
#   scripts/setup.sh dvc repro              # ... then run the default pipeline
#   scripts/setup.sh python -m pytest -q tests
#
# Needs only Python 3 with venv and pip (and a torch wheel pip can find). Idempotent: the virtual
# environment is created once; torch==2.13.0 (CPU) is installed only when no torch imports there;
# the project is (re)installed when pyproject.toml changed since the last install.
# Shared by the Makefile (`make repro`, `make test`) and .ci/run (which works without make).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
VENV="${VENV:-.venv}"
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0}"
STAMP="$VENV/.deepimagine-installed"

if [ ! -x "$VENV/bin/python" ]; then
    echo "setup: creating $VENV with $("$PYTHON" --version 2>&1)"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip
fi
if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
    echo "setup: no torch in $VENV: installing $TORCH_SPEC (first, so pip keeps the CPU wheel)"
    "$VENV/bin/python" -m pip install -q "$TORCH_SPEC"
fi
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
    echo "setup: installing the project and its test tools (pip install -e \".[dev]\")"
    "$VENV/bin/python" -m pip install -q -e ".[dev]"
    echo "$want" > "$STAMP"
fi

[ "$#" -eq 0 ] && exit 0
export PATH="$PWD/$VENV/bin:$PATH" VIRTUAL_ENV="$PWD/$VENV"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
exec "$@"
