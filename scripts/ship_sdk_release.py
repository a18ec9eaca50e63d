"""Writes the API of the installed code-loader into server/tensorleap_ls/core/sdk/releases/<version>.json.

A first run on a machine whose cache is empty then reads it instead of parsing the package (core/sdk/env.py
``shipped``), when the installed files are that release's byte for byte. Run it with the interpreter where the
release is installed (the project's .venv holds the pinned one); tests/core/test_installed_sdk.py checks that the
shipped file is what the package says:

    .venv/bin/python scripts/ship_sdk_release.py
"""

from __future__ import annotations

import json
import os
import sys

from tensorleap_ls.core.sdk import env


def main() -> int:
    found = env.installed_version(env.site_packages(None))
    if found is None:
        print("code-loader is not installed in this interpreter", file=sys.stderr)
        return 1
    version, package_dir = found
    out = os.path.join(env.RELEASES, f"{version}.json")
    os.makedirs(env.RELEASES, exist_ok=True)
    with open(out, "w", encoding="utf-8") as f:
        json.dump(env.ship(package_dir, version), f, sort_keys=True, separators=(",", ":"))
        f.write("\n")
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
