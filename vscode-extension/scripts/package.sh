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
# Everything the server imports outside the standard library: pyproject's dependencies but numpy (it
# runs in the project interpreter only) and Pillow (optional: previews draw plain images without it),
# resolved for the server's floor, Python 3.9 (pip evaluates markers for the Python running it, so
# cattrs' exceptiongroup is named and pyproject's markers are dropped), pure Python only: PyYAML's
# wheel carries an optional C accelerator built for one Python version; without it PyYAML runs in
# its pure-Python mode everywhere.
mapfile -t DEPS < <("$PY" -c '
import re, tomllib
deps = tomllib.load(open("../pyproject.toml", "rb"))["project"]["dependencies"]
# markers dropped: what a 3.9 server needs (tomli) is bundled too
print("\n".join(d.split(";")[0].strip() for d in deps
                if re.split(r"[<>=!~ ;\[]", d)[0].lower() not in ("numpy", "pillow", "debugpy")))')
DEBUGPY=$("$PY" -c '
import tomllib
print(next(d for d in tomllib.load(open("../pyproject.toml", "rb"))["project"]["dependencies"] if d.startswith("debugpy")))')
"$PY" -m pip install -q --disable-pip-version-check --no-compile --target bundled/libs \
  --python-version 3.9 --only-binary=:all: "${DEPS[@]}" exceptiongroup
# debugpy (debugging one sample; it runs in the project interpreter, 3.8-3.12): its pure-Python wheel, for
# every platform (pydevd without its optional compiled speed-ups)
"$PY" -m pip install -q --disable-pip-version-check --no-compile --target bundled/libs --no-deps \
  --platform any --python-version 3.8 --only-binary=:all: "$DEBUGPY"
# no platform binaries (debugpy's attach-to-process helpers, .dll/.exe/.pdb/.so: a PID attach we never use)
find bundled/libs \( -name "*.so" -o -name "*.pyd" -o -name "*.dylib" -o -name "*.dll" -o -name "*.exe" -o -name "*.pdb" \) -delete
rm -rf bundled/libs/_yaml bundled/libs/bin
cp -r ../server/tensorleap_ls bundled/libs/
find bundled -name __pycache__ -prune -exec rm -rf {} +
node scripts/inline-readme-images.js README.md bundled/readme-vsix.md  # images inline for the Extensions view
npx -y @vscode/vsce@3 package --allow-missing-repository --no-rewrite-relative-links --readme-path bundled/readme-vsix.md \
  --skip-license -o tensorleap-ls.vsix >/dev/null
ls -la tensorleap-ls.vsix
