#!/usr/bin/env bash
# Set up, then check the bundled examples (both API styles).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/tensorleap-ls check examples/decorator_mnist examples/legacy_mnist
