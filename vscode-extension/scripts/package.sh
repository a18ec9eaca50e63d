#!/usr/bin/env bash
# Builds the .vsix: bundles the extension (esbuild), then the server and its pure-Python dependencies
# into bundled/libs (built here, not committed), then packages with vsce.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
export npm_config_fund=false npm_config_audit=false
[ -d node_modules/vscode-languageclient ] || npm install --no-fund --no-audit -s
npm run -s build
rm -rf bundled && mkdir -p bundled/libs
"$PY" -m pip install -q --disable-pip-version-check --no-compile --target bundled/libs --no-deps \
  "pygls>=2.1,<3" "lsprotocol==2025.0.0" attrs cattrs wcmatch bracex typing_extensions
cp -r ../server/tensorleap_ls bundled/libs/
find bundled -name __pycache__ -prune -exec rm -rf {} +
node scripts/inline-readme-images.js README.md bundled/readme-vsix.md  # images inline for the Extensions view
npx -y @vscode/vsce@3 package --allow-missing-repository --no-rewrite-relative-links --readme-path bundled/readme-vsix.md \
  --skip-license -o tensorleap-ls.vsix >/dev/null
ls -la tensorleap-ls.vsix
