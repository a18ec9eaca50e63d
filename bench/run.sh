#!/usr/bin/env bash
# One command: set up the benchmark's own environment (tensorleap-ls + the servers it is compared
# with, from PyPI), run the benchmark and write bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
if [ ! -x bench/.venv/bin/python ]; then
  "$PY" -m venv bench/.venv
fi
bench/.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]' \
  jedi-language-server python-lsp-server ruff pyflakes
export TL_DISABLE_ANALYTICS=1
exec bench/.venv/bin/python bench/run.py "$@"
