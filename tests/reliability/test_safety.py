"""Safety: a planted secret never leaves the child; user code never runs in the server process;
edits change only their range (leap.yaml with comments and unknown keys round-trips)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lspproc import is_diag, start_server
from tensorleap_ls.core.engine.analysis import Analyzer
from tensorleap_ls.core.fixes import fixes_for

pytestmark = pytest.mark.dynamic
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SECRET = "tl-secret-4f9c2e7a1b"


def test_secret_never_appears_in_anything_the_server_emits(tmp_path: Path):
    root = tmp_path / "legacy_mnist"
    shutil.copytree(EXAMPLES / "legacy_mnist", root, ignore=shutil.ignore_patterns("__pycache__"))
    funcs = root / "digits" / "functions.py"
    # user code that prints the secret, puts it in an error message, in metadata and in an id
    funcs.write_text(funcs.read_text().replace(
        "def encode_image(sample_id: str, preprocess: PreprocessResponse) -> np.ndarray:\n",
        "def encode_image(sample_id: str, preprocess: PreprocessResponse) -> np.ndarray:\n"
        "    import os\n    print('token is', os.environ['AUTH_SECRET'])\n"
        "    if sample_id.endswith('_0'):\n        raise ValueError('bad token ' + os.environ['AUTH_SECRET'])\n"))
    funcs.write_text(funcs.read_text().replace(
        "    return LABELS[int(preprocess.data['labels'][_index(sample_id)])]",
        "    import os\n    return os.environ['AUTH_SECRET']"))
    c = start_server(str(root), init_options={"trusted": True, "authSecret": SECRET})
    emitted = []
    try:
        entry = root / "leap_binder.py"
        uri = entry.resolve().as_uri()
        c.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1,
                                                           "text": entry.read_text()}})
        _, resp = c.request("workspace/executeCommand", {"command": "tensorleap.runChecks", "arguments": [{"uri": uri}]},
                            timeout=120)
        emitted.append(resp)
        assert resp["result"]["ok"] and "TL501" in resp["result"]["codes"]  # the run happened, with the secret set
        _, resp = c.request("workspace/executeCommand", {"command": "tensorleap.preview", "arguments": [
            {"uri": uri, "subset": "training", "sampleId": "training_1"}]}, timeout=120)
        emitted.append(resp)
        assert resp["result"]["ok"], resp
        assert "***" in json.dumps(resp)  # the metadata value was scrubbed, not dropped
    finally:
        c.close()
    emitted += [m for _, m in c._notifications]
    text = json.dumps(emitted)
    assert SECRET not in text
    # and nothing on disk the preview wrote
    out = tmp_path / "preview"
    r = subprocess.run([sys.executable, "-m", "tensorleap_ls", "preview", str(root), "--subset", "training",
                        "--sample", "training_1", "--out", str(out)], capture_output=True, text=True,
                       env={**os.environ, "AUTH_SECRET": SECRET, "TL_DISABLE_ANALYTICS": "1"})
    assert SECRET not in r.stdout + r.stderr
    for f in out.iterdir():
        assert SECRET.encode() not in f.read_bytes(), f


def test_user_code_never_runs_in_the_server_process(tmp_path: Path):
    """Opening and analysing a project whose import would write a file does not run it."""
    root = tmp_path / "p"
    shutil.copytree(EXAMPLES / "legacy_mnist", root, ignore=shutil.ignore_patterns("__pycache__"))
    marker = tmp_path / "ran"
    entry = root / "leap_binder.py"
    entry.write_text(f"open({str(marker)!r}, 'w').close()\n" + entry.read_text())
    c = start_server(str(root), init_options={"trusted": True})
    try:
        uri = entry.resolve().as_uri()
        mark = c.mark()
        c.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1,
                                                           "text": entry.read_text()}})
        c.wait_for(is_diag(uri, 1), mark)
        c.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": {"line": 5, "character": 3}})
        c.request("textDocument/codeAction", {"textDocument": {"uri": uri}, "range": {
            "start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}, "context": {"diagnostics": []}})
    finally:
        c.close()
    assert not marker.exists()


def test_include_fix_round_trips_leap_yaml(tmp_path: Path):
    root = tmp_path / "p"
    shutil.copytree(EXAMPLES / "decorator_mnist", root, ignore=shutil.ignore_patterns("__pycache__"))
    ly = root / "leap.yaml"
    original = ("# project file, hand-written\nprojectId: abc  # keep me\nentryFile: leap_integration.py\n"
                "customKey: {nested: [1, 2]}  # unknown to the CLI\ninclude:\n  - leap_integration.py  # entry\n"
                "  - requirements.txt\n  - mnist_tl/config.yaml\n# trailing comment\npythonVersion: py311\n")
    ly.write_text(original)
    (pa,) = Analyzer().analyze_path(str(root))
    finding = next(f for f in pa.findings if f.code == "TL405" and f.span.path == str(ly))
    for fix in [f for f in fixes_for(finding, pa) if "include" in f.title]:  # the glob, and every file
        (edit,) = fix.edits
        lines = original.split("\n")
        new_lines = edit.new_text
        assert edit.span.line == edit.span.end_line and edit.span.col == edit.span.end_col == 0  # a pure insertion
        result = "\n".join(lines[:edit.span.line]) + "\n" + new_lines + "\n".join(lines[edit.span.line:])
        assert result.replace(new_lines, "", 1) == original  # nothing else changed: comments, order, unknown keys
        import yaml

        added = [line.strip()[2:].strip("'") for line in new_lines.splitlines()]
        assert added in ([*finding.data.paths], [*finding.data.globs]), added
        assert set(added) <= set(yaml.safe_load(result)["include"])
