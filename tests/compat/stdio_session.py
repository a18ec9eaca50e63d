"""One editor session over stdio against a server started by any command (another Python, the
libraries bundled in the .vsix): diagnostics, a quick fix, the skeleton command and a preview.

The tests in this folder start the server the way the VS Code extension does (the launcher file,
a working directory outside the workspace) with interpreters other than the test's own, so they
use the benchmark's stdlib client rather than pytest-lsp (which runs in the test's interpreter).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from lsp_client import LspClient  # noqa: E402

EXAMPLES = ROOT / "examples"
LAUNCHER = Path("tensorleap_ls", "_boot", "serve.py")


class RecordingClient(LspClient):
    """Accepts every workspace/applyEdit and keeps the edits; answers other requests like the bench client."""

    def __init__(self, *args, **kwargs):
        self.applied: list[dict] = []
        super().__init__(*args, **kwargs)

    def _answer_server_request(self, msg: dict) -> None:
        if msg.get("method") == "workspace/applyEdit":
            self.applied.append(msg["params"]["edit"])
            self._write({"jsonrpc": "2.0", "id": msg["id"], "result": {"applied": True}})
            return
        super()._answer_server_request(msg)


def broken_project(tmp: Path) -> Path:
    """The decorator example with a visualizer annotated with the wrong Leap class (TL213, fixable)."""
    root = tmp / "decorator_mnist"
    shutil.copytree(EXAMPLES / "decorator_mnist", root, ignore=shutil.ignore_patterns("__pycache__"))
    viz = root / "mnist_tl" / "visualizers.py"
    text = viz.read_text()
    good = "def image_visualizer(image: np.ndarray) -> LeapImage:"
    assert good in text
    viz.write_text(text.replace(good, good.replace("LeapImage", "LeapHorizontalBar")))
    return root


def start(cmd: list[str], tmp: Path, init_options: dict, env: dict | None = None,
          cwd: Path | None = None) -> RecordingClient:
    """Starts ``cmd`` in ``cwd`` (default: a folder of its own, as the extension does) and initializes it."""
    if cwd is None:
        cwd = tmp / "server-cwd"
        cwd.mkdir(exist_ok=True)
    client = RecordingClient(cmd, cwd=str(cwd), env={**os.environ, "TL_DISABLE_ANALYTICS": "1", **(env or {})})
    _, resp = client.request("initialize", {
        "processId": os.getpid(), "rootUri": None, "capabilities": {
            "workspace": {"applyEdit": True, "workspaceEdit": {"documentChanges": True}},
            "textDocument": {"publishDiagnostics": {"versionSupport": True}}},
        "initializationOptions": {"debounceMs": 0, **init_options},
    }, timeout=120)
    assert "result" in resp, resp
    client.notify("initialized", {})
    return client


def open_doc(client: LspClient, path: Path, text: str | None = None) -> dict:
    """Opens ``path``; returns its first publishDiagnostics params."""
    uri = path.as_uri()
    mark = client.mark()
    client.notify("textDocument/didOpen", {"textDocument": {
        "uri": uri, "languageId": "python", "version": 1, "text": path.read_text() if text is None else text}})
    _, msg = client.wait_for(lambda m: m.get("method") == "textDocument/publishDiagnostics"
                             and m["params"]["uri"] == uri, mark, timeout=120)
    return msg["params"]


def quick_fix_for(client: LspClient, uri: str, diagnostic: dict) -> list[dict]:
    _, resp = client.request("textDocument/codeAction", {
        "textDocument": {"uri": uri}, "range": diagnostic["range"],
        "context": {"diagnostics": [diagnostic], "only": ["quickfix"]}})
    return resp["result"] or []


def edit_texts(edit: dict) -> list[str]:
    """Every new text of a WorkspaceEdit, whichever form the server chose."""
    out = [e["newText"] for edits in (edit.get("changes") or {}).values() for e in edits]
    for change in edit.get("documentChanges") or []:
        out.extend(e["newText"] for e in change.get("edits", []))
    return out


def static_session(client: RecordingClient, tmp: Path, root: Path | None = None) -> None:
    """Diagnostics on the bundled example, a quick fix and the skeleton command work."""
    root = root or broken_project(tmp)
    viz = root / "mnist_tl" / "visualizers.py"
    params = open_doc(client, viz)
    tl213 = [d for d in params["diagnostics"] if d["code"] == "TL213"]
    assert tl213, params
    titles = {a["title"]: a for a in quick_fix_for(client, viz.as_uri(), tl213[0])}
    fix = titles.get("Annotate the return type as LeapImage")
    assert fix is not None, list(titles)
    assert any("LeapImage" in t for t in edit_texts(fix["edit"])), fix

    empty = tmp / "fresh" / "leap_integration.py"
    empty.parent.mkdir()
    empty.write_text("")
    open_doc(client, empty)
    _, resp = client.request("workspace/executeCommand", {
        "command": "tensorleap.generateSkeleton", "arguments": [{"uri": empty.as_uri()}]}, timeout=60)
    assert resp.get("result") == {"ok": True}, resp
    skeleton = "".join(edit_texts(client.applied[-1]))
    assert "@tensorleap_preprocess" in skeleton and "@tensorleap_integration_test" in skeleton, skeleton[:500]
