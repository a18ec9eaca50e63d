"""Other real code-loader releases beside the test venv's 1.0.214, installed once into bare venvs
(code-loader only, no dependencies: the server reads them, it never imports them), cached between
runs under ~/.cache/tensorleap-ls-tests (TL_TEST_CACHE)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from venvs import CACHE

OLD = "1.0.100"  # lacks tensorleap_integration_test (first in 1.0.137)
PYVER = f"python{sys.version_info[0]}.{sys.version_info[1]}"


def sdk_venv(version: str) -> Path:
    """The python of a bare venv holding only code-loader==version."""
    base = CACHE / f"sdk-{version}-{PYVER}"
    site = base / "lib" / PYVER / "site-packages"
    if not (site / f"code_loader-{version}.dist-info").is_dir():
        shutil.rmtree(base, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(base)], check=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps",
                        "--target", str(site), f"code-loader=={version}"], check=True)
    return base / "bin" / "python"
