#!/usr/bin/env bash
# The whole test suite on a fresh machine: Python unit + end-to-end tests, then the editor tests.
set -euo pipefail
cd "$(dirname "$0")/.."
export TL_DISABLE_ANALYTICS=1
bash scripts/setup.sh
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
