"""Protocol robustness: the server keeps answering whatever the client sends, and goes away
cleanly (with its children) when the client does."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import psutil
import pytest

from lspproc import is_diag, start_server

pytestmark = pytest.mark.e2e

FIXTURE = Path(__file__).parent / "fixtures" / "mnist_decorator"


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    dst = tmp_path / "proj"
    shutil.copytree(FIXTURE, dst)
    return dst


def alive(client) -> None:
    _, resp = client.request("textDocument/documentSymbol",
                             {"textDocument": {"uri": "file:///nonexistent/x.py"}}, timeout=20)
    assert "result" in resp or "error" in resp


def test_unknown_method_and_malformed_params(project: Path) -> None:
    c = start_server(str(project))
    try:
        _, resp = c.request("tensorleap/doesNotExist", {"x": 1})
        assert resp["error"]["code"] == -32601  # MethodNotFound
        _, resp = c.request("textDocument/hover", {"textDocument": 42, "position": "nope"})
        assert "error" in resp
        _, resp = c.request("textDocument/completion", None)
        assert "error" in resp
        c.notify("textDocument/didChange", {"garbage": True})  # malformed notification: ignored
        c.notify("textDocument/didOpen", {"textDocument": {"uri": "file:///x.py"}})  # missing fields
        alive(c)
        # a raw frame that is not JSON
        assert c.proc.stdin is not None
        body = b"{not json"
        c.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        c.proc.stdin.flush()
        alive(c)
    finally:
        c.close()


def test_cancelled_requests_are_answered(project: Path) -> None:
    c = start_server(str(project))
    try:
        entry = project / "leap_integration.py"
        uri = entry.resolve().as_uri()
        mark = c.mark()
        c.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1,
                                                           "text": entry.read_text()}})
        c.wait_for(is_diag(uri, 1), mark)
        # send requests and cancel them at once: each still gets a response (result or RequestCancelled)
        ids = []
        for i in range(20):
            rid = 10_000 + i
            c._write({"jsonrpc": "2.0", "id": rid, "method": "textDocument/hover",
                      "params": {"textDocument": {"uri": uri}, "position": {"line": 20, "character": 5}}})
            c.notify("$/cancelRequest", {"id": rid})
            ids.append(rid)
        deadline = time.monotonic() + 20
        with c._lock:
            while not all(i in c._responses for i in ids) and time.monotonic() < deadline:
                c._lock.wait(0.5)
            missing = [i for i in ids if i not in c._responses]
        assert not missing, f"unanswered cancelled requests: {missing}"
        alive(c)
    finally:
        c.close()


def test_burst_of_a_thousand_edits(project: Path) -> None:
    c = start_server(str(project), init_options={"debounceMs": 50})
    try:
        entry = project / "leap_integration.py"
        uri = entry.resolve().as_uri()
        text = entry.read_text()
        c.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}})
        mark = c.mark()
        # type a comment one character at a time at the end of the file, 1,000 edits without waiting
        lines = text.split("\n")
        last = len(lines) - 1
        col = len(lines[-1])
        for v in range(2, 1002):
            c.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": v}, "contentChanges": [
                {"range": {"start": {"line": last, "character": col}, "end": {"line": last, "character": col}}, "text": "#"}]})
            col += 1
        _, msg = c.wait_for(is_diag(uri, 1001), mark, timeout=60)
        published = [m for _, m in c._notifications[mark:] if is_diag(uri)(m)]
        # debounced: far fewer publishes than edits, and never a stale version after a newer one
        assert len(published) < 200, len(published)
        versions = [m["params"]["version"] for m in published if m["params"].get("version") is not None]
        assert versions == sorted(versions)
        alive(c)
    finally:
        c.close()


def test_client_disappears_server_exits(project: Path) -> None:
    c = start_server(str(project))
    server = psutil.Process(c.proc.pid)
    assert c.proc.stdin is not None
    c.proc.stdin.close()  # the editor crashed: stdin reaches EOF
    try:
        server.wait(timeout=15)
    except psutil.TimeoutExpired:
        server.kill()
        pytest.fail("server kept running after its client went away")
    assert not _descendants_alive(server.pid)


def _descendants_alive(pid: int) -> list[int]:
    found = []
    for p in psutil.process_iter(["pid", "ppid", "cmdline"]):
        try:
            if p.info["ppid"] == pid:
                found.append(p.info["pid"])
        except psutil.NoSuchProcess:
            pass
    return found


def test_exit_without_shutdown(project: Path) -> None:
    c = start_server(str(project))
    c.notify("exit", None)
    assert c.proc.wait(timeout=15) in (0, 1)


def test_requests_before_initialize_and_after_shutdown(project: Path) -> None:
    from lspproc import LspClient, SERVER_CMD
    import os

    c = LspClient(SERVER_CMD, cwd=str(project), env={**os.environ, "TL_DISABLE_ANALYTICS": "1"})
    try:
        _, resp = c.request("textDocument/hover", {"textDocument": {"uri": "file:///x.py"},
                                                   "position": {"line": 0, "character": 0}}, timeout=30)
        assert "error" in resp or resp.get("result") is None
        _, resp = c.request("initialize", {"processId": None, "rootUri": project.as_uri(), "capabilities": {}}, timeout=30)
        assert "result" in resp
        _, resp = c.request("shutdown", None)
        assert "result" in resp
        c.notify("exit", None)
        assert c.proc.wait(timeout=15) == 0
    finally:
        if c.proc.poll() is None:
            c.proc.kill()
