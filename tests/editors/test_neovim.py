"""A second real client: headless Neovim runs the server on a fixture and sees the same
diagnostic as the other clients, applies the quick fix and sees it go (editor-neutral server)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.editor
HERE = Path(__file__).parent
EXAMPLES = HERE.parents[1] / "examples"


@pytest.mark.skipif(shutil.which("nvim") is None and not os.environ.get("CI"), reason="apt-get install neovim")
def test_neovim_sees_diagnostics_and_applies_the_fix(tmp_path):
    root = tmp_path / "decorator_mnist"
    shutil.copytree(EXAMPLES / "decorator_mnist", root, ignore=shutil.ignore_patterns("__pycache__"))
    viz = root / "mnist_tl" / "visualizers.py"
    viz.write_text(viz.read_text().replace("-> LeapImage:", "-> LeapHorizontalBar:"))
    env = dict(os.environ, LSP_PYTHON=sys.executable, LSP_FILE=str(viz), TL_DISABLE_ANALYTICS="1")
    r = subprocess.run(["nvim", "--headless", "-u", str(HERE / "nvim_lsp_test.lua")], env=env, capture_output=True,
                       text=True, timeout=120)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "TL213" in out and "[tensorleap]" in out
    assert "ACTION Annotate the return type as LeapImage" in out
    assert "DIAGS AFTER FIX: 0" in out
