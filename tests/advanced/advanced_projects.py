"""The advanced fixture integrations, copied with one fault planted, run through the real code-loader."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "model"))
from onnx_models import build  # noqa: E402

from tensorleap_ls.core.engine.analysis import Analyzer  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "advanced"
ENTRY = "leap_integration.py"
LEGACY_ENTRY = "leap_binder.py"  # the legacy-style fixture's entry (its __main__ runs leap_binder.check())
# Each fixture's model, built by the test (no binary in the repository): (path, inputs, outputs) for build().
MODELS = {
    "detection": ("models/detector.onnx", [("image", [None, 3, 8, 8], "float32")], [("objects", 3, 3)]),
    "sequence": ("models/decoder.onnx", [("tokens", [None, 4], "float32")], [("next_token", 5, 5)]),
}


def project(tmp_path: Path, name: str, replace: list[tuple[str, str]] = (), file: str | None = None) -> Path:
    """A copy of fixture ``name`` with ``replace`` planted in ``file`` (each old text occurs exactly once)."""
    root = tmp_path / name
    shutil.copytree(FIXTURES / name, root, ignore=shutil.ignore_patterns("__pycache__"))
    target = root / (file or entry_of(root))
    text = target.read_text()
    for old, new in replace:
        assert text.count(old) == 1, f"fixture drifted: {old!r}"
        text = text.replace(old, new)
    target.write_text(text)
    if name in MODELS:
        model, inputs, outputs = MODELS[name]
        build(root / model, inputs, outputs)
    return root


def entry_of(root: Path) -> str:
    return LEGACY_ENTRY if (root / LEGACY_ENTRY).exists() else ENTRY


def run_sdk(root: Path, platform_call: str = "") -> subprocess.CompletedProcess:
    """The entry's ``__main__`` (integration tests, each ending in ``leap_binder.check()``) with the real
    code-loader, then ``platform_call``: a call the platform makes that the local run does not."""
    code = f"import runpy\nrunpy.run_path({entry_of(root)!r}, run_name='__main__')\n" + platform_call
    env = {**os.environ, "TL_DISABLE_ANALYTICS": "1", "PYTHONPATH": ""}
    return subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=180,
                          env=env)


def findings(root: Path):
    """The project's findings, less the legacy fixtures' TL104: a legacy script without an integration test is
    refused by the platform since code-loader 1.0.189, and these registrars (false positives after 1.0.206)
    need a newer release; the fixtures are about the registrars, TL104 for legacy scripts is proven in
    tests/core/test_codes.py and tests/oracle/test_error_oracle.py."""
    return [f for pa in Analyzer().analyze_path(str(root)) for f in pa.findings
            if not (f.code == "TL104" and not any(b.style.value == "decorator" for b in pa.bindings))]
