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

# Optional: Debian's chromium, for the test that renders metrics/report.html headlessly (skipped without it).
# Only with DEEPIMAGINE_CHROMIUM=1 (.ci/run sets it), only where apt-get exists and we are root or have
# password-less sudo; never fatal.
if [ "${DEEPIMAGINE_CHROMIUM:-0}" = "1" ] && ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo -n"
    if [ -z "$SUDO" ] || sudo -n true 2>/dev/null; then
        echo "setup: installing chromium (optional: the report's headless-browser test)"
        { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium; } \
            >/tmp/deepimagine-chromium.log 2>&1 || echo "setup: chromium not installed (see /tmp/deepimagine-chromium.log); that test will be skipped"
    else
        echo "setup: chromium absent and no root/sudo: the report's headless-browser test will be skipped"
    fi
fi

[ "$#" -eq 0 ] && exit 0
export PATH="$PWD/$VENV/bin:$PATH" VIRTUAL_ENV="$PWD/$VENV"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
exec "$@"
