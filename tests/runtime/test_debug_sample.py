"""``tensorleap-ls debug-sample`` driven over the Debug Adapter Protocol by a small client: the real CLI,
the real debugpy (the product's copy, never installed in the project interpreter), the real code-loader in
a project interpreter that has nothing but the project's requirements."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from dap import DapClient
from venvs import cached_venv, pyenv_python

pytestmark = pytest.mark.dynamic
REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "decorator_mnist"
CLI = str(Path(sys.executable).with_name("tensorleap-ls"))

HELPER = '''import numpy as np


def take_image(images, idx, offset):
    image = images[idx - offset]
    return image.astype(np.float32)
'''
HELPER_LINE = 5  # `image = images[idx - offset]`


def project_python() -> str:
    """A project interpreter with the example's requirements (code-loader...) and nothing else: Python 3.8
    (the oldest code-loader supports) when the machine has one."""
    requirements = [r.strip() for r in (EXAMPLE / "requirements.txt").read_text().splitlines() if r.strip()]
    base = pyenv_python("3.8")
    # keyed by what it holds, not by the checkout's path: worktrees of the repository share the cache
    name = "venv-debug-py38" if base else "venv-debug-project"
    return cached_venv(name, base or sys.executable, requirements, "\n".join(requirements))


@pytest.fixture
def project(tmp_path) -> Path:
    """The example, its input encoder calling a helper of another module (as real projects do)."""
    root = tmp_path / "mnist"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("__pycache__"))
    (root / "mnist_tl" / "utils.py").write_text(HELPER)
    enc = root / "mnist_tl" / "encoders.py"
    text = enc.read_text()
    text = text.replace("from mnist_tl.config import LABELS\n", "from mnist_tl.config import LABELS\nfrom mnist_tl.utils import take_image\n")
    text = text.replace("    return preprocess.data['images'][idx - preprocess.data['offset']].astype(np.float32)",
                        "    return take_image(preprocess.data['images'], idx, preprocess.data['offset'])")
    enc.write_text(text)
    return root


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_cli(project: Path, python: str, port: int, *extra: str) -> subprocess.Popen:
    proc = subprocess.Popen([CLI, "debug-sample", str(project), "--subset", "training", "--sample", "7", "--python",
                             python, "--listen", f"127.0.0.1:{port}", *extra], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, cwd=str(project))
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert f"debugpy waits for a DAP client on 127.0.0.1:{port}" in line, line + proc.stdout.read()
    return proc


def descendants(proc: subprocess.Popen) -> list[psutil.Process]:
    try:
        return psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def test_a_breakpoint_in_a_helper_an_encoder_calls_stops_with_the_sample_id(project):
    python = project_python()
    probe = subprocess.run([python, "-c", "import debugpy"], capture_output=True, text=True)
    assert probe.returncode != 0 and "debugpy" in probe.stderr, "the project interpreter must not have debugpy"
    port = free_port()
    proc = start_cli(project, python, port, "--no-integration-test")
    client = DapClient("127.0.0.1", port)
    try:
        helper = str(project / "mnist_tl" / "utils.py")
        client.attach({helper: [HELPER_LINE]})
        stopped = client.event("stopped")["body"]
        assert stopped["reason"] == "breakpoint", stopped
        frames = client.request("stackTrace", threadId=stopped["threadId"])["stackFrames"]
        top = frames[0]
        assert os.path.realpath(top["source"]["path"]) == os.path.realpath(helper) and top["line"] == HELPER_LINE, top
        # the encoder that called it is the next frame: the user's own code, not the SDK's wrapper
        assert any(f["name"] == "input_encoder" for f in frames[1:4]), [f["name"] for f in frames]
        scopes = client.request("scopes", frameId=top["id"])["scopes"]
        local = next(s for s in scopes if s["name"].lower().startswith("locals"))
        values = {v["name"]: v["value"] for v in client.request("variables", variablesReference=local["variablesReference"])["variables"]}
        assert values["idx"] == "7", values
        assert values["offset"] == "0", values
        # continue: the sample runs to its end, the session ends, then the process
        client.request("continue", threadId=stopped["threadId"])
        client.event("terminated")
        client.send("disconnect")
        assert proc.wait(timeout=60) == 0
        out = proc.stdout.read()
        assert "debug-sample: training sample 7 ran (inputs image" in out, out
    finally:
        client.close()
        if proc.poll() is None:
            proc.kill()
    deadline = time.monotonic() + 10
    while descendants(proc) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not descendants(proc)


def test_the_client_ending_the_session_at_a_breakpoint_ends_the_process(project):
    python = project_python()
    port = free_port()
    proc = start_cli(project, python, port)
    client = DapClient("127.0.0.1", port)
    try:
        client.attach({str(project / "mnist_tl" / "utils.py"): [HELPER_LINE]})
        client.event("stopped")
        harness = descendants(proc)
        assert harness, "the harness runs below the CLI"
        client.request("disconnect")
        assert proc.wait(timeout=30) is not None
        gone, alive = psutil.wait_procs(harness, timeout=15)
        assert not alive, [p.cmdline() for p in alive]
    finally:
        client.close()
        if proc.poll() is None:
            proc.kill()


def test_an_interpreter_without_code_loader_is_one_message_not_a_listener(project, tmp_path):
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    r = subprocess.run([CLI, "debug-sample", str(project), "--subset", "training", "--sample", "7", "--python",
                        str(bare / "bin" / "python"), "--listen", f"127.0.0.1:{free_port()}"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "cannot import code_loader" in r.stderr and "pip install code-loader" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
