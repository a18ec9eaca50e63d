#!/usr/bin/env bash
# Vendors Vega, Vega-Lite and vega-embed (their minified UMD builds and licenses) into the Python package,
# at the versions vscode-extension/package.json pins: `tensorleap-ls scan` inlines them in report.html (the
# machine may be offline: no CDN at run time); the extension bundles the same versions from node_modules.
# tests/scan/test_report.py checks the vendored files are those versions.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=server/tensorleap_ls/runtime/scan/assets
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
for pkg in vega vega-lite vega-embed; do
  version=$(node -p "require('./vscode-extension/package.json').dependencies['$pkg']")
  (cd "$TMP" && npm pack -s "$pkg@$version" >/dev/null && mkdir "$pkg" && tar xzf "$pkg-$version.tgz" -C "$pkg")
  cp "$TMP/$pkg/package/build/$pkg.min.js" "$DEST/$pkg.min.js"
  cp "$TMP/$pkg/package/LICENSE" "$DEST/LICENSE-$pkg"
  echo "$pkg $version" >> "$TMP/versions"
done
sort "$TMP/versions" > "$DEST/VERSIONS"
cat "$DEST/VERSIONS"
