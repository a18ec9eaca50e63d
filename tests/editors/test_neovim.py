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


@pytest.mark.skipif(shutil.which("nvim") is None and not os.environ.get("CI"), reason="apt-get install neovim")
def test_neovim_gets_the_observed_values_as_inlay_hints(tmp_path):
    """Neovim 0.7 has no inlay hints of its own: its LSP client asks for them, as a plugin would, after a
    dynamic run (the real child and code-loader); an edit of one function withdraws that function's hint."""
    root = tmp_path / "decorator_mnist"
    shutil.copytree(EXAMPLES / "decorator_mnist", root, ignore=shutil.ignore_patterns("__pycache__"))
    enc = root / "mnist_tl" / "encoders.py"
    env = dict(os.environ, LSP_PYTHON=sys.executable, LSP_FILE=str(enc), TL_DISABLE_ANALYTICS="1")
    r = subprocess.run(["nvim", "--headless", "-u", str(HERE / "nvim_inlay_test.lua")], env=env, capture_output=True,
                       text=True, timeout=180)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "RUN no problem found on 10 of 80 samples (training 5 of 60, validation 5 of 20)" in out
    hints = [line for line in out.splitlines() if line.startswith("HINT ")]
    assert len(hints) == 4, out
    assert any("(10,) float32 [0, 1] | def gt_encoder(" in h for h in hints), hints
    assert any("str | def metadata_label(" in h for h in hints), hints
    assert any("{brightness: float, is_even: bool} | def metadata_stats(" in h for h in hints), hints
    assert any("(28, 28, 1) float32 [" in h and "| def input_encoder(" in h for h in hints), hints
    assert "AFTER EDIT 3" in out
