"""Coalescing at the default settings (no debounceMs sent): the newest text is analysed as soon as the
previous analysis ends, fast typing does not flood the client, and no publish ever carries
diagnostics of an older text than its version says.

Each edit toggles a deliberate error (a visualizer's return annotation, TL213), so every published
version can be checked against the text it names: the error is there exactly when that version's text
has it. bench/typing.py measures the same loop (publishes per second, last edit -> diagnostics).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from lspproc import SERVER_CMD, is_diag  # puts bench/ on sys.path

from engine import start_default  # noqa: E402 (bench/engine.py)

pytestmark = pytest.mark.e2e

FIXTURE = Path(__file__).parent / "fixtures" / "mnist_decorator"
GOOD, BAD = "image_viz(image: np.ndarray) -> LeapImage:", "image_viz(image: np.ndarray) -> LeapHorizontalBar:"


def _start_default(root: Path):
    """The server as an editor starts it, with no settings at all: the defaults are under test."""
    return start_default(SERVER_CMD, str(root))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    shutil.copytree(FIXTURE, root)
    return root


def _position(text: str, needle: str) -> dict:
    i = text.index(needle)
    line = text.count("\n", 0, i)
    return {"line": line, "character": i - (text.rfind("\n", 0, i) + 1)}


def test_fast_typing_publishes_only_what_each_version_says(project: Path) -> None:
    viz = project / "leap_integration.py"
    text = viz.read_text(encoding="utf-8")
    assert GOOD in text
    uri = viz.resolve().as_uri()
    c = _start_default(project)
    try:
        mark = c.mark()
        c.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}})
        c.wait_for(is_diag(uri, 1), mark, timeout=60)
        has_error = {1: False}
        mark = c.mark()
        edits = 150
        for v in range(2, edits + 2):
            pos = _position(text, GOOD if GOOD in text else BAD)
            old, new = (GOOD, BAD) if GOOD in text else (BAD, GOOD)
            end = {"line": pos["line"], "character": pos["character"] + len(old)}
            c.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": v},
                                                "contentChanges": [{"range": {"start": pos, "end": end}, "text": new}]})
            text = text.replace(old, new, 1)
            has_error[v] = BAD in text
            time.sleep(0.005)  # faster than any analysis: edits arrive while one runs
        c.wait_for(is_diag(uri, edits + 1), mark, timeout=60)
        published = [m["params"] for _, m in c._notifications[mark:] if is_diag(uri)(m)]  # noqa: SLF001
        versions = [p["version"] for p in published]
        assert versions == sorted(versions) and len(set(versions)) == len(versions), versions
        # coalesced: far fewer analyses than edits, and the last version is always published
        assert len(published) < edits / 3, len(published)
        assert versions[-1] == edits + 1
        for p in published:
            shown = any(d["code"] == "TL213" for d in p["diagnostics"])
            assert shown == has_error[p["version"]], f"version {p['version']} published diagnostics of another text"
    finally:
        c.close()


def test_two_documents_of_one_project_edited_together(project: Path) -> None:
    """Edits to two files of one closure, interleaved: each file's last version is published, and a
    file's publish never carries a version whose text the analysis did not read."""
    viz = project / "leap_integration.py"
    entry = project / "tensorleap" / "encoders.py"
    docs = {p.resolve().as_uri(): p.read_text(encoding="utf-8") for p in (viz, entry)}
    c = _start_default(project)
    try:
        mark = c.mark()
        for u, t in docs.items():
            c.notify("textDocument/didOpen", {"textDocument": {"uri": u, "languageId": "python", "version": 1, "text": t}})
        for u in docs:
            c.wait_for(is_diag(u, 1), mark, timeout=60)
        viz_uri, entry_uri = list(docs)
        has_error = {1: False}
        mark = c.mark()
        for v in range(2, 62):
            # the entry's visualizer toggles its error; the helper module gets a comment line at its end
            t = docs[viz_uri]
            old, new = (GOOD, BAD) if GOOD in t else (BAD, GOOD)
            pos = _position(t, old)
            end = {"line": pos["line"], "character": pos["character"] + len(old)}
            c.notify("textDocument/didChange", {"textDocument": {"uri": viz_uri, "version": v},
                                                "contentChanges": [{"range": {"start": pos, "end": end}, "text": new}]})
            docs[viz_uri] = t.replace(old, new, 1)
            has_error[v] = BAD in docs[viz_uri]
            c.notify("textDocument/didChange", {"textDocument": {"uri": entry_uri, "version": v},
                                                "contentChanges": [{"text": docs[entry_uri] + f"# {v}\n"}]})
            docs[entry_uri] += f"# {v}\n"
            time.sleep(0.01)
        c.wait_for(is_diag(viz_uri, 61), mark, timeout=60)
        c.wait_for(is_diag(entry_uri, 61), mark, timeout=60)
        for p in (m["params"] for _, m in c._notifications[mark:] if is_diag(viz_uri)(m)):  # noqa: SLF001
            if p.get("version") is not None:
                assert any(d["code"] == "TL213" for d in p["diagnostics"]) == has_error[p["version"]]
    finally:
        c.close()


def test_the_full_garbage_collection_waits_for_a_pause_in_typing(project: Path) -> None:
    """The server freezes what its analyses leave (no full collection walks every tree while the user types) and
    runs the collection once typing pauses; analyses go on after it."""
    from lspproc import start_server

    viz = project / "leap_integration.py"
    text = viz.read_text(encoding="utf-8")
    uri = viz.resolve().as_uri()
    c = start_server(str(project), init_options={"logLevel": "debug"},
                     env={"TL_COLLECT_EVERY": "3", "TL_COLLECT_IDLE_S": "1"})
    try:
        mark = c.mark()
        c.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}})
        c.wait_for(is_diag(uri, 1), mark, timeout=60)

        def logs() -> list[str]:
            return [m["params"]["message"] for _, m in list(c._notifications) if m.get("method") == "window/logMessage"]

        for v in range(2, 6):  # typing: no collection while edits come every 0.2 s
            c.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": v},
                                                "contentChanges": [{"text": text + f"\n# edit {v}\n"}]})
            c.wait_for(is_diag(uri, v), mark, timeout=60)
            time.sleep(0.2)
        assert not any("idle garbage collection" in m for m in logs())
        deadline = time.monotonic() + 20  # the pause: collected once
        while time.monotonic() < deadline and not any("idle garbage collection" in m for m in logs()):
            time.sleep(0.2)
        assert sum("idle garbage collection" in m for m in logs()) == 1, logs()[-5:]
        mark = c.mark()
        c.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 6},
                                            "contentChanges": [{"text": text.replace(GOOD, BAD)}]})
        _, msg = c.wait_for(is_diag(uri, 6), mark, timeout=60)
        assert any(d.get("code") == "TL213" for d in msg["params"]["diagnostics"])
    finally:
        c.close()
