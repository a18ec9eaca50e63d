"""Cross-platform basics with the platform faked where it cannot run here (the extension's side,
PYTHONPATH delimiter and `py`, is in the extension's mocha tests): Windows file URIs with drive
letters and spaces, the TL534 install command's quoting, and the server side of the runtime
without `resource` and POSIX signals (no crash: a hang is still cut off and reported)."""

from __future__ import annotations

import ntpath
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pygls.uris

from tensorleap_ls.core.project import closure as project
from tensorleap_ls.lsp.server import TensorleapServer
from tensorleap_ls.runtime.interpreter import install_line

ROOT = Path(__file__).resolve().parents[2]


def test_windows_uris_with_drive_letters_and_spaces(monkeypatch):
    monkeypatch.setattr(pygls.uris, "IS_WIN", True)
    monkeypatch.setattr(project, "os", SimpleNamespace(path=ntpath))  # norm() with Windows paths
    vscode_uri = "file:///c%3A/My%20Project/mnist_tl/..%2Fleap_integration.py"  # how VS Code spells it
    path = pygls.uris.to_fs_path(vscode_uri)
    assert project.norm(path) == r"c:\My Project\leap_integration.py"
    assert pygls.uris.to_fs_path("file:///C:/My%20Project/leap_integration.py") == r"c:\My Project\leap_integration.py"
    # diagnostics go back under the client's own spelling of an open document, else a valid file URI
    server = TensorleapServer()
    server.open_uris[project.norm(path)] = vscode_uri
    assert server.uri_of(r"c:\My Project\leap_integration.py") == vscode_uri
    assert server.uri_of(r"c:\My Project\mnist_tl\data.py") == "file:///c:/My%20Project/mnist_tl/data.py"


def test_install_command_is_quoted_for_the_platform(tmp_path):
    (tmp_path / "my project").mkdir()
    root = tmp_path / "my project"
    (root / "requirements.txt").write_text("numpy\ncode_loader == 1.0.214  # pinned\n")
    req = str(root / "requirements.txt")
    assert install_line("/home/u/my env/bin/python", str(root), windows=False, pip=True) == \
        f"'/home/u/my env/bin/python' -m pip install -r '{req}'"
    assert install_line(r"C:\My Project\.venv\Scripts\python.exe", str(root), windows=True, pip=True) == \
        rf'"C:\My Project\.venv\Scripts\python.exe" -m pip install -r "{req}"'
    # no requirements file: code-loader pinned to the release tensorleap-ls knows, never unpinned
    assert install_line("/venv/bin/python", str(tmp_path / "none"), windows=False, pip=True) == \
        "/venv/bin/python -m pip install code-loader==1.0.214"
    # a venv without pip gets it first (Windows: PowerShell's separator)
    assert install_line("/venv/bin/python", str(tmp_path / "none"), windows=False, pip=False) == \
        "/venv/bin/python -m ensurepip --upgrade && /venv/bin/python -m pip install code-loader==1.0.214"
    assert install_line(r"C:\v\python.exe", str(tmp_path / "none"), windows=True, pip=False).startswith(
        r"C:\v\python.exe -m ensurepip --upgrade; C:\v\python.exe -m pip install")


# Run in a fresh interpreter: `resource`, POSIX signals and os.killpg removed before the runner is imported.
FAKE_WINDOWS = textwrap.dedent("""
    import os, signal, subprocess, sys
    sys.modules["resource"] = None
    subprocess.Popen.kill = lambda self: os.kill(self.pid, 9)  # stands for Windows' TerminateProcess
    for name in ("SIGKILL", "SIGUSR1", "SIGBUS"):
        delattr(signal, name)
    del os.killpg
    from tensorleap_ls.runtime.api import run_checks
    from tensorleap_ls.runtime.runner import Limits, Runner
    root, entry = sys.argv[1], sys.argv[2]
    runner = Runner(Limits(timeout_s=1.5, preprocess_timeout_s=30, memory_mb=1024))
    try:
        findings, _ = run_checks(runner, sys.executable, root, entry, samples=0)
        print("CODES", sorted({f.code for f in findings}))
    finally:
        runner.close()
    import psutil
    left = [p for p in psutil.Process().children(recursive=True) if p.status() != psutil.STATUS_ZOMBIE]
    print("OK" if not left else f"LEFT {left}")
""")


def test_runner_without_resource_and_posix_signals(tmp_path):
    root = tmp_path / "p"
    shutil.copytree(ROOT / "tests" / "fixtures" / "dynamic" / "legacy", root, ignore=shutil.ignore_patterns("__pycache__"))
    functions = root / "dyn" / "functions.py"
    hook = "    image = _image(idx)\n"
    text = functions.read_text()
    assert hook in text
    # a hang the child's own alarm cannot end: the server must cut it off (no killpg, no SIGKILL here)
    functions.write_text(text.replace(hook, hook + "    if idx == 3:\n        import signal, time\n"
                                      "        signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGALRM])\n"
                                      "        time.sleep(60)\n", 1))
    r = subprocess.run([sys.executable, "-c", FAKE_WINDOWS, str(root), str(root / "leap_binder.py")],
                       capture_output=True, text=True, timeout=120, env={**os.environ, "TL_DISABLE_ANALYTICS": "1"})
    assert r.returncode == 0, r.stdout + r.stderr
    assert "CODES ['TL530']" in r.stdout, r.stdout + r.stderr
    assert "OK" in r.stdout, r.stdout


CHILD_WITHOUT_ALARM = textwrap.dedent("""
    import signal, sys
    for name in ("SIGALRM", "SIGUSR1", "setitimer"):  # what Windows lacks
        delattr(signal, name)
    sys.path.insert(0, sys.argv[1])
    from tensorleap_ls_child import sandbox
    sandbox.install()
    with sandbox.limited():
        value = sum(range(10))
    with sandbox.limited("preprocess"):
        value += 1
    print("OK", value)
""")


def test_child_sandbox_without_alarm_signals(tmp_path, monkeypatch):
    """The child's per-call alarm degrades to nothing (the server's own limit remains), never a crash."""
    child = ROOT / "server" / "tensorleap_ls" / "runtime" / "child"
    trace = tmp_path / "trace.txt"
    r = subprocess.run([sys.executable, "-c", CHILD_WITHOUT_ALARM, str(child)], capture_output=True, text=True,
                       timeout=60, env={**os.environ, "TL_TRACE_FILE": str(trace)}, cwd=tmp_path)
    assert r.returncode == 0 and "OK 46" in r.stdout + r.stderr, r.stdout + r.stderr
