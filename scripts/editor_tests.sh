#!/usr/bin/env bash
# Editor tests: the extension's mocha unit tests, then a real VS Code (code-server 4.100.3, the last
# release for Node 20) driven by playwright-core + Debian chromium with the packaged .vsix installed.
# Installs its own Debian and npm dependencies; code-server is cached in $E2E_WORK between runs.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
W=${E2E_WORK:-"$HOME/.cache/tensorleap-ls-e2e"}
ART="$REPO/test-artifacts"
CS_VERSION=4.100.3
T0=$(date +%s)
step() { echo "[editor-tests $(( $(date +%s) - T0 ))s] $*"; }
mkdir -p "$W" "$ART"
export npm_config_yes=true npm_config_unsafe_perm=true npm_config_fund=false npm_config_audit=false
export DEBIAN_FRONTEND=noninteractive

step "apt: chromium, neovim, build deps of code-server's native modules"
need=()
command -v chromium >/dev/null || need+=(chromium)
command -v nvim >/dev/null || need+=(neovim)
[ -f /usr/include/gssapi/gssapi.h ] || need+=(libkrb5-dev)
command -v g++ >/dev/null || need+=(build-essential)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" fonts-dejavu-core >/dev/null
fi

step "extension: npm ci, type check, mocha"
(cd vscode-extension && npm ci --no-fund --no-audit -s && npx tsc -p tsconfig.json && npm test -s)

step "extension: package the .vsix"
PYTHON="$REPO/.venv/bin/python" bash vscode-extension/scripts/package.sh

step "code-server $CS_VERSION"
if [ ! -x "$W/cs/node_modules/.bin/code-server" ]; then
  # code-server's pinned @vscode/ripgrep downloads rg from GitHub; seed its cache from the npm package.
  TMPD=$(node -p 'require("os").tmpdir()')
  RGC="$TMPD/vscode-ripgrep-cache-1.15.11"
  if [ ! -f "$RGC/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz" ]; then
    mkdir -p "$W/rg" "$RGC"
    (cd "$W/rg" && npm pack -s @vscode/ripgrep-linux-x64@1.18.0 >/dev/null && tar xzf vscode-ripgrep-linux-x64-1.18.0.tgz)
    tar czf "$RGC/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz" -C "$W/rg/package/bin" rg
  fi
  [ -d /usr/include/node ] && export npm_config_nodedir=/usr
  npm install -s --prefix "$W/cs" "code-server@$CS_VERSION" >/dev/null
fi
[ -d "$W/pw/node_modules/playwright-core" ] || npm install -s --prefix "$W/pw" playwright-core@1 >/dev/null

step "fixture workspace with a planted, fixable problem"
rm -rf "$W/data" "$W/exts" "$W/ws" "$W/ps-main.txt" && mkdir -p "$W/data/User" "$W/ws"
cp -r examples/decorator_mnist/. "$W/ws/"
sed -i 's/def image_visualizer(image: np.ndarray) -> LeapImage:/def image_visualizer(image: np.ndarray) -> LeapHorizontalBar:/' "$W/ws/mnist_tl/visualizers.py"
# Two interpreters: the server runs in a bare venv (nothing installed: the .vsix's bundled libraries
# only), the integration in the project venv (code-loader).
[ -x "$W/server-venv/bin/python" ] || python3.11 -m venv "$W/server-venv"
cat > "$W/data/User/settings.json" <<JSON
{ "tensorleap.serverInterpreter": "$W/server-venv/bin/python", "tensorleap.interpreter": "$REPO/.venv/bin/python",
  "workbench.startupEditor": "none",
  "security.workspace.trust.enabled": false, "telemetry.telemetryLevel": "off",
  "extensions.autoCheckUpdates": false, "extensions.autoUpdate": false, "workbench.tips.enabled": false,
  "files.hotExit": "off", "tensorleap.debounceMs": 50, "git.openRepositoryInParentFolders": "never" }
JSON
CS=("$W/cs/node_modules/.bin/code-server" --config "$W/config.yaml" --user-data-dir "$W/data" --extensions-dir "$W/exts")
"${CS[@]}" --install-extension "$REPO/vscode-extension/tensorleap-ls.vsix" >/dev/null

step "start code-server on 127.0.0.1"
PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
setsid "${CS[@]}" --bind-addr "127.0.0.1:$PORT" --auth none --disable-telemetry --disable-update-check \
  --disable-workspace-trust "$W/ws" > "$ART/code-server.log" 2>&1 &
CS_PID=$!
trap 'kill -- -$CS_PID 2>/dev/null || true; wait $CS_PID 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.5; done

step "playwright: diagnostics, quick fix, preview"
rc=0
# the other scenarios (bare interpreter, empty folder, untrusted folder) start their own code-server
NODE_PATH="$W/pw/node_modules" CS_URL="http://127.0.0.1:$PORT/?folder=$W/ws" SHOTS="$ART" \
  CS_BIN="$W/cs/node_modules/.bin/code-server" E2E_DIR="$W" REPO="$REPO" WS_DIR="$W/ws" \
  node tests/editors/e2e_vscode.js || rc=$?
step "the server ran with the server interpreter, the integration with the project interpreter"
procs=$(cat "$W/ps-main.txt" 2>/dev/null || true)  # written by the main scenario while its server runs
if [[ ",${E2E_ONLY:-main}," == *",main,"* ]]; then  # E2E_ONLY=slips,... runs some scenarios only
grep -F "$W/server-venv/bin/python $W/exts/" <<<"$procs" | grep -q "tensorleap_ls/_boot/serve.py" \
  || { echo "FAIL: no server process started as <server venv> <extension>/.../_boot/serve.py"; rc=1; }
grep -F "$REPO/.venv/bin/python -X utf8 -m tensorleap_ls_child" <<<"$procs" >/dev/null \
  || { echo "FAIL: no child process of the project interpreter"; rc=1; }
fi
step "done rc=$rc (screenshots in $ART)"
exit $rc
