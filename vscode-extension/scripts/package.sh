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
# Everything the server imports outside the standard library, resolved for its floor (Python 3.9;
# pip evaluates markers for the Python running it, so cattrs' exceptiongroup is named), pure Python only: PyYAML's wheel carries an optional C
# accelerator built for one Python version; without it PyYAML runs in its pure-Python mode everywhere.
"$PY" -m pip install -q --disable-pip-version-check --no-compile --target bundled/libs \
  --python-version 3.9 --only-binary=:all: "pygls>=2.1,<3" "lsprotocol==2025.0.0" "wcmatch>=8" "PyYAML>=6" exceptiongroup
find bundled/libs \( -name "*.so" -o -name "*.pyd" -o -name "*.dylib" \) -delete
rm -rf bundled/libs/_yaml bundled/libs/bin
cp -r ../server/tensorleap_ls bundled/libs/
find bundled -name __pycache__ -prune -exec rm -rf {} +
npx -y @vscode/vsce@3 package --allow-missing-repository --skip-license -o tensorleap-ls.vsix >/dev/null
ls -la tensorleap-ls.vsix
