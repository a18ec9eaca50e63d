"""A synchronous client for the reliability tests: the benchmark's stdlib client, plus helpers.

pytest-lsp is async and shaped for request/response tests; fuzzing and protocol abuse need a
client that can send malformed frames, bursts and then simply disappear, so they use
bench/lsp_client.py (the same client the benchmark measures with).
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from lsp_client import LspClient, is_diag  # noqa: E402,F401 (is_diag: for the tests)

import tensorleap_ls  # noqa: E402

# The way editors start the server (see tensorleap_ls/_boot/serve.py): the launcher, with the
# working directory in the workspace, never `-m` (which would make the workspace importable).
LAUNCHER = str(Path(tensorleap_ls.__file__).parent / "_boot" / "serve.py")
SERVER_CMD = [sys.executable, LAUNCHER]


def utf16_len(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


_EOL = re.compile(r"\r\n|\r|\n")


def lsp_lines(text: str) -> list[str]:
    """Lines as the LSP spec defines them: only \\n, \\r\\n and \\r end a line."""
    return _EOL.split(text)


def position_of(text: str, offset: int) -> dict:
    """LSP position (UTF-16 columns) of a code-point offset in ``text``."""
    before = text[:offset]
    if before.endswith("\r") and text[offset:offset + 1] == "\n":
        before = before[:-1]  # never point between \r and \n
    lines = lsp_lines(before)
    return {"line": len(lines) - 1, "character": utf16_len(lines[-1])}


def start_server(root: str, init_options: dict | None = None, env: dict | None = None, **client_args) -> LspClient:
    client = LspClient(SERVER_CMD, cwd=root, env={**os.environ, "TL_DISABLE_ANALYTICS": "1", **(env or {})},
                       **client_args)
    uri = Path(root).resolve().as_uri()
    _, resp = client.request("initialize", {
        "processId": os.getpid(), "rootUri": uri, "workspaceFolders": [{"uri": uri, "name": "ws"}],
        "capabilities": {"textDocument": {"publishDiagnostics": {"versionSupport": True}},
                         "window": {"workDoneProgress": True}},
        "initializationOptions": {"debounceMs": 0, **(init_options or {})},
    }, timeout=60)
    assert "result" in resp, resp
    client.notify("initialized", {})
    return client


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0
