#!/usr/bin/env bash
# The whole test suite on a fresh machine: Python set-up, the editor tests (extension unit tests with
# mocha, a real VS Code through code-server; they install their own Debian and npm packages), then
# every Python test (unit, end-to-end over LSP, dynamic with the real code-loader, reliability, Neovim).
set -euo pipefail
cd "$(dirname "$0")/.."
export TL_DISABLE_ANALYTICS=1
bash scripts/setup.sh
if [ "${SKIP_EDITOR_TESTS:-0}" != 1 ]; then
  bash scripts/editor_tests.sh
fi
# Two test processes (pytest-xdist), a file each at a time (module fixtures stay shared): most tests wait on
# processes (servers, children, code-loader imports), so the 2-core machine CI runs on does ~1.7x the work.
# TL_TEST_WORKERS=0 runs them in this process.
.venv/bin/python -m pytest -q -p no:cacheprovider -n "${TL_TEST_WORKERS:-2}" --dist loadfile "$@"
