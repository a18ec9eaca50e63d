"""The .vsix is self-sufficient for everything that runs no user code: its bundled server and
libraries, started as the extension starts them, with a bare `python3.11 -m venv` interpreter (no
PyYAML, numpy or Pillow): diagnostics on the bundled example, a quick fix, the skeleton; a preview
answers TL534 with the exact install command, and a quick fix that opens a terminal holding it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from dap import DapClient
from stdio_session import LAUNCHER, ROOT, broken_project, open_doc, start, static_session

EXT = ROOT / "vscode-extension"
SHADOWS = ("json", "yaml", "pygls", "attr", "tensorleap_ls", "lsprotocol")


@pytest.fixture(scope="module")
def vsix(tmp_path_factory) -> Path:
    """The .vsix built by the extension's own script, unzipped."""
    r = subprocess.run(["bash", str(EXT / "scripts" / "package.sh")], capture_output=True, text=True,
                       env={**os.environ, "PYTHON": sys.executable}, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    out = tmp_path_factory.mktemp("vsix")
    with zipfile.ZipFile(EXT / "tensorleap-ls.vsix") as z:
        binaries = [n for n in z.namelist() if n.endswith((".so", ".pyd", ".dylib", ".dll", ".exe"))]
        assert binaries == [], binaries
        z.extractall(out)
    return out / "extension"


def bare_venv(version: str, where: Path) -> str:
    """A fresh `pythonX.Y -m venv`: nothing installed (no PyYAML, numpy, Pillow, pygls, code-loader)."""
    # pyenv's own build first: its shims answer "command not found" for a version not selected
    python = next((str(p) for p in sorted(Path.home().glob(f".pyenv/versions/{version}.*/bin/python"))),
                  None) or shutil.which(f"python{version}")
    if python is None:
        pytest.fail(f"python{version} is needed (an interpreter a new user may start from)")
    subprocess.run([python, "-m", "venv", str(where)], check=True)
    py = str(where / "bin" / "python")
    for module in ("yaml", "numpy", "PIL", "pygls", "code_loader"):
        assert subprocess.run([py, "-c", f"import {module}"], capture_output=True).returncode != 0, module
    return py


@pytest.fixture(scope="module")
def bare(tmp_path_factory) -> str:
    return bare_venv("3.11", tmp_path_factory.mktemp("bare") / "venv")


@pytest.mark.parametrize("version", ["3.11", "3.9"])  # 3.9: the server's floor (tomli instead of tomllib)
def test_the_cli_checks_the_examples_with_the_bundled_libraries(vsix: Path, version: str, tmp_path: Path):
    python = bare_venv(version, tmp_path / "venv")
    r = subprocess.run([python, "-m", "tensorleap_ls", "check", str(ROOT / "examples" / "decorator_mnist"),
                        str(ROOT / "examples" / "legacy_mnist")], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(vsix / "bundled" / "libs")}, cwd=vsix)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "2 project(s) checked: 0 error(s)" in r.stdout


def test_the_bundled_server_in_a_bare_venv(vsix: Path, bare: str, tmp_path: Path):
    root = broken_project(tmp_path)
    # the worst case for the launcher: started from the workspace, which holds modules named like the
    # server's imports; none may be imported (each would leave a marker file)
    for name in SHADOWS:
        (root / f"{name}.py").write_text(f"open({str(tmp_path / ('imported-' + name))!r}, 'w').close()\n")
    libs = vsix / "bundled" / "libs"
    client = start([bare, str(libs / LAUNCHER)], tmp_path, {"trusted": True, "interpreter": bare},
                   env={"PYTHONPATH": str(libs)}, cwd=root)
    try:
        static_session(client, tmp_path, root)
        entry = root / "leap_integration.py"
        open_doc(client, entry)
        mark = client.mark()
        _, resp = client.request("workspace/executeCommand", {"command": "tensorleap.preview", "arguments": [
            {"uri": entry.as_uri(), "subset": "training", "sampleId": 0}]}, timeout=120)
        result = resp["result"]
        line = f"{bare} -m pip install code-loader==1.0.214"  # the project's requirements.txt pins it
        assert result["ok"] is False and result["problems"][0]["code"] == "TL534", result
        assert result["problems"][0]["install"] == line
        assert line in result["message"]
        # ... and as a diagnostic whose quick fix opens a terminal holding that line
        _, msg = client.wait_for(lambda m: m.get("method") == "textDocument/publishDiagnostics"
                                 and m["params"]["uri"] == entry.as_uri()
                                 and any(d["code"] == "TL534" for d in m["params"]["diagnostics"]), mark)
        tl534 = next(d for d in msg["params"]["diagnostics"] if d["code"] == "TL534")
        _, actions = client.request("textDocument/codeAction", {"textDocument": {"uri": entry.as_uri()},
                                                                "range": tl534["range"],
                                                                "context": {"diagnostics": [tl534]}})
        assert "result" in actions, actions
        commands = [a["command"] for a in actions["result"] if a.get("command")]
        assert {"title": "Install code-loader in the project interpreter (opens a terminal)",
                "command": "tensorleap.openInstallTerminal", "arguments": [line]} in commands, actions
    finally:
        client.close()
    assert sorted(p.name for p in tmp_path.glob("imported-*")) == []


def test_the_bundled_debugpy_debugs_a_sample_in_a_project_interpreter_without_it(vsix: Path, bare: str, tmp_path: Path):
    """debugpy comes with the .vsix: the bundled server in a bare venv starts a sample's harness in a project
    interpreter that has code-loader and nothing else; a DAP client attaches, stops in the encoder, continues."""
    sys.path.insert(0, str(ROOT / "tests" / "runtime"))
    from test_debug_sample import project_python

    python = project_python()
    assert subprocess.run([python, "-c", "import debugpy"], capture_output=True).returncode != 0
    root = tmp_path / "mnist"
    shutil.copytree(ROOT / "examples" / "decorator_mnist", root, ignore=shutil.ignore_patterns("__pycache__"))
    enc = root / "mnist_tl" / "encoders.py"
    line = next(i for i, t in enumerate(enc.read_text().split("\n"), 1) if "astype(np.float32)" in t)
    libs = vsix / "bundled" / "libs"
    client = start([bare, str(libs / LAUNCHER)], tmp_path, {"trusted": True, "interpreter": python},
                   env={"PYTHONPATH": str(libs)}, cwd=root)
    try:
        open_doc(client, enc)
        _, resp = client.request("workspace/executeCommand", {"command": "tensorleap.debugSample", "arguments": [
            {"uri": enc.as_uri(), "subset": "validation", "sampleId": 63, "integrationTest": False}]}, timeout=120)
        started = resp["result"]
        assert started["ok"] and started["python"] == python, started
        dap = DapClient(started["host"], started["port"])
        try:
            dap.attach({str(enc): [line]})
            thread, frame, local = dap.stopped_frame()
            assert (frame["name"], frame["line"]) == ("input_encoder", line)
            assert local["idx"] == "63"
            dap.request("continue", threadId=thread)
            dap.event("terminated")
        finally:
            dap.close()
    finally:
        client.close()
