# Two commands for a newcomer (both set up .venv first, see scripts/setup.sh):
#   make repro                 run the default pipeline (dvc repro), offline
#   make test                  run the test suite (the README's test command)
# PYTEST_ARGS replaces the default `tests`: make test PYTEST_ARGS=tests/test_params.py
#                                           make test PYTEST_ARGS='-m "not slow"'
PYTEST_ARGS ?= tests

.PHONY: setup repro test

setup:
	scripts/setup.sh

repro:
	scripts/setup.sh dvc repro

test:
	scripts/setup.sh python -m pytest -q $(PYTEST_ARGS)
