"""The dynamic runner under load and interruption, through the real server: many previews in a row,
and a shutdown while user code hangs leaves no process behind."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import psutil
import pytest

from lspproc import is_diag, rss_mb, start_server

pytestmark = pytest.mark.dynamic
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
STATS = {"previews": 0}


def copy(tmp_path: Path, name: str) -> Path:
    dst = tmp_path / name
    shutil.copytree(EXAMPLES / name, dst, ignore=shutil.ignore_patterns("__pycache__"))
    return dst


def child_processes(server_pid: int) -> list[psutil.Process]:
    try:
        return [p for p in psutil.Process(server_pid).children(recursive=True) if p.is_running()]
    except psutil.NoSuchProcess:
        return []


def test_many_previews_in_a_row(tmp_path: Path):
    root = copy(tmp_path, "decorator_mnist")
    c = start_server(str(root), init_options={"trusted": True})
    try:
        uri = (root / "leap_integration.py").resolve().as_uri()
        mark = c.mark()
        c.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1,
                                                           "text": (root / "leap_integration.py").read_text()}})
        c.wait_for(is_diag(uri, 1), mark)
        rss = []
        for i in range(40):
            _, resp = c.request("workspace/executeCommand", {"command": "tensorleap.preview", "arguments": [
                {"uri": uri, "subset": "training" if i % 2 else "validation", "sampleId": i if i % 2 else 60 + i % 20}]},
                timeout=60)
            assert resp["result"]["ok"], resp
            STATS["previews"] += 1
            rss.append(rss_mb(c.proc.pid))
        # one warm child served them all (its guardian is the server's only child that runs the project;
        # the worker is below it). The compile worker of core/facts/compiled.py runs no user code.
        runs = [p for p in psutil.Process(c.proc.pid).children()
                if p.is_running() and not any("compile(req" in a for a in p.cmdline())]
        assert len(runs) == 1, [p.cmdline() for p in runs]
        assert rss[-1] - rss[5] < 60, rss  # no growth per preview
    finally:
        c.close()


def test_shutdown_during_a_dynamic_run_kills_the_child(tmp_path: Path):
    root = copy(tmp_path, "legacy_mnist")
    funcs = root / "digits" / "functions.py"
    funcs.write_text(funcs.read_text().replace(
        "def encode_image(sample_id: str, preprocess: PreprocessResponse) -> np.ndarray:\n",
        "def encode_image(sample_id: str, preprocess: PreprocessResponse) -> np.ndarray:\n"
        "    import time\n    time.sleep(600)\n"))
    c = start_server(str(root), init_options={"trusted": True, "timeoutSeconds": 600})
    server = psutil.Process(c.proc.pid)
    uri = (root / "leap_binder.py").resolve().as_uri()
    c.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1,
                                                       "text": (root / "leap_binder.py").read_text()}})
    threading.Thread(target=lambda: c.request("workspace/executeCommand", {
        "command": "tensorleap.runChecks", "arguments": [{"uri": uri}]}, timeout=60), daemon=True).start()
    deadline = time.monotonic() + 30
    while not child_processes(server.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    kids = child_processes(server.pid)
    assert kids, "the dynamic run did not start"
    c.close()  # shutdown + exit while user code sleeps
    gone, alive = psutil.wait_procs(kids, timeout=15)
    assert not alive, f"left running: {[p.pid for p in alive]}"
