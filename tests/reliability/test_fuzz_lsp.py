"""Property-based fuzzing of the editing loop over LSP (hypothesis).

Random edit sequences (insertions of real-script fragments and odd text, deeply nested
expressions, deletions, replacements, positions in UTF-16 like an editor sends them) are applied
to the real server over stdio, while a project file the analysis reads (requirements.txt, the
YAML config) may be swapped for a special file (a FIFO, a symlink to /dev/zero or /dev/stdin).
After every step: the server answered, the diagnostics published for the document carry its
latest version, every range is inside the current text (UTF-16 columns), and memory stays bounded.
The server runs in the engine's oracle mode (TL_ENGINE_ORACLE=1): each incremental analysis is also
done in full and a difference is an error (the analysis is not published, the wait fails).

Budget: TL_FUZZ_EXAMPLES (default 25) examples and TL_FUZZ_SECONDS (default 60) seconds, so
CI stays within a few minutes; the long run (docs/reliability.md):

    TL_FUZZ_EXAMPLES=400 TL_FUZZ_SECONDS=900 .venv/bin/python -m pytest -q tests/reliability/test_fuzz_lsp.py

Sequences that once failed are kept in corpus/*.json and replayed by test_corpus.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lspproc import is_diag, lsp_lines, position_of, rss_mb, start_server, utf16_len

pytestmark = pytest.mark.e2e

HERE = Path(__file__).parent
FIXTURE = HERE / "fixtures" / "mnist_decorator"
CORPUS = HERE / "corpus"
ENTRY_TEXT = (FIXTURE / "leap_integration.py").read_text(encoding="utf-8")
EXAMPLES = int(os.environ.get("TL_FUZZ_EXAMPLES", "25"))
SECONDS = float(os.environ.get("TL_FUZZ_SECONDS", "60"))
STATS = {"examples": 0, "edits": 0}

FRAGMENTS = [
    "@tensorleap_input_encoder('image', channel_dim=0)\n",
    "@tensorleap_custom_visualizer('v', LeapDataType.Image)\ndef v(x) -> LeapHorizontalBar:\n    return None\n",
    "leap_binder.set_input(missing_fn, 'x')\n",
    "PreprocessResponse(sample_ids=[1, 2], state='training')\n",
    "from __future__ import annotations\n",
    "def f(:\n", "(((", "'''", '"', "\\", "\t", "\r\n", "\r", "\x00", "é", "🧪", "日本語", "\u200b",
    "    return np.zeros((3, 3))\n", "import missing_mod\n", "from . import *\n",
    "if True:\n    pass\n", "lambda: ", "yield from x\n", "async def g():\n    await h()\n",
    # deeply nested expressions: near CPython's limits (they compile) and past them (they do not)
    "X = " + "f(" * 180 + ")" * 180 + "\n", "Y = g()" + ".h()" * 1100 + "\n", "Z = a" + ".b" * 1500 + "\n",
    "W = " + "[" * 250 + "]" * 250 + "\n", "@" + "d." * 400 + "e\ndef deco():\n    pass\n",
]

# A file the analysis reads, swapped for a special file for the whole sequence (None: untouched).
SPECIAL_FILES = [None, ("requirements.txt", "fifo"), ("requirements.txt", "/dev/zero"),
                 ("tensorleap/config.yaml", "/dev/stdin"), ("tensorleap/config.yaml", "fifo")]

edit = st.tuples(
    st.sampled_from(["insert", "delete", "replace"]),
    st.floats(0, 1),
    st.floats(0, 1),
    st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=12)),
)


class Session:
    def __init__(self, root: Path):
        self.root = root
        self.entry = root / "leap_integration.py"
        self.uri = self.entry.resolve().as_uri()
        # the engine's oracle mode: every analysis is also compared with a full one (a difference fails it)
        self.client = start_server(str(root), env={"TL_ENGINE_ORACLE": "1"})
        self.rss_start = rss_mb(self.client.proc.pid)
        self.opens = 0

    def open(self) -> str:
        self.opens += 1
        self.client.notify("textDocument/didOpen", {"textDocument": {
            "uri": self.uri, "languageId": "python", "version": 1, "text": ENTRY_TEXT}})
        return ENTRY_TEXT

    def close(self) -> None:
        self.client.notify("textDocument/didClose", {"textDocument": {"uri": self.uri}})


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz") / "proj"
    shutil.copytree(FIXTURE, root)
    s = Session(root)
    yield s
    s.client.close()


def apply_edit(text: str, op: str, a: float, b: float, frag: str) -> tuple[str, dict]:
    i = int(a * len(text))
    j = min(len(text), i + int(b * 40))
    # an editor never splits a CRLF: move offsets off the middle of one
    if 0 < i < len(text) and text[i - 1] == "\r" and text[i] == "\n":
        i -= 1
    if 0 < j < len(text) and text[j - 1] == "\r" and text[j] == "\n":
        j += 1
    j = max(i, j)
    if op == "insert":
        j = i
    elif op == "delete":
        frag = ""
    start, end = position_of(text, i), position_of(text, j)
    new = text[:i] + frag + text[j:]
    return new, {"range": {"start": start, "end": end}, "text": frag}


def check_publish(msg: dict, text: str) -> None:
    lines = lsp_lines(text)
    for d in msg["params"]["diagnostics"]:
        for pos in (d["range"]["start"], d["range"]["end"]):
            assert 0 <= pos["line"] < len(lines), (pos, len(lines), d)
            assert 0 <= pos["character"] <= utf16_len(lines[pos["line"]]), (pos, d)
        assert d.get("source") == "tensorleap"
        assert str(d.get("code", "")).startswith("TL")


def swap_special(session: Session, special) -> bytes | None:
    """Replaces a project file by a FIFO or a symlink to a device; returns its bytes to restore."""
    if special is None:
        return None
    rel, kind = special
    path = session.root / rel
    original = path.read_bytes()
    path.unlink()
    if kind == "fifo":
        os.mkfifo(path)
    else:
        os.symlink(kind, path)
    _watched(session, path)
    return original


def restore_special(session: Session, special, original: bytes | None) -> None:
    if special is None or original is None:
        return
    path = session.root / special[0]
    path.unlink()
    path.write_bytes(original)
    _watched(session, path)


def _watched(session: Session, path: Path) -> None:
    session.client.notify("workspace/didChangeWatchedFiles", {"changes": [{"uri": path.as_uri(), "type": 2}]})


def run_sequence(session: Session, edits: list[tuple], special=None) -> None:
    original = swap_special(session, special)
    try:
        _run_sequence(session, edits)
    finally:
        restore_special(session, special, original)


def _run_sequence(session: Session, edits: list[tuple]) -> None:
    c = session.client
    mark = c.mark()
    text = session.open()
    c.wait_for(is_diag(session.uri, 1), mark, timeout=30)
    version = 1
    for op, a, b, frag in edits:
        text, change = apply_edit(text, op, a, b, frag)
        version += 1
        mark = c.mark()
        c.notify("textDocument/didChange", {"textDocument": {"uri": session.uri, "version": version},
                                            "contentChanges": [change]})
        _, msg = c.wait_for(is_diag(session.uri, version), mark, timeout=30)
        check_publish(msg, text)
        # every request is answered (a result or a proper error), the server is alive
        _, resp = c.request("textDocument/documentSymbol", {"textDocument": {"uri": session.uri}}, timeout=30)
        assert "result" in resp or "error" in resp
        STATS["edits"] += 1
    # nothing published later may carry an older version than the last one
    for _, later in c._notifications[mark:]:
        if is_diag(session.uri)(later) and later["params"].get("version") is not None:
            assert later["params"]["version"] >= version
    # the server's copy of the text is the client's: a full resync yields the same diagnostics
    incremental = _diag_set(msg)
    version += 1
    mark = c.mark()
    c.notify("textDocument/didChange", {"textDocument": {"uri": session.uri, "version": version},
                                        "contentChanges": [{"text": text}]})
    _, full = c.wait_for(is_diag(session.uri, version), mark, timeout=30)
    assert _diag_set(full) == incremental, "incremental edits diverged from the client's text"
    session.close()
    STATS["examples"] += 1


def _diag_set(msg: dict) -> set:
    return {(d["code"], d["message"], json.dumps(d["range"], sort_keys=True)) for d in msg["params"]["diagnostics"]}


_deadline = time.monotonic() + SECONDS


@settings(max_examples=EXAMPLES, deadline=None, derandomize=False, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(edit, min_size=1, max_size=12), st.sampled_from(SPECIAL_FILES))
def test_random_edit_sequences(session, edits, special):
    if time.monotonic() > _deadline:
        return  # time budget spent: remaining examples pass trivially, counted in STATS only if run
    try:
        run_sequence(session, edits, special)
        if special is not None:
            STATS["special_files"] = STATS.get("special_files", 0) + 1
    except (AssertionError, TimeoutError):
        CORPUS.mkdir(exist_ok=True)
        name = CORPUS / f"found-{abs(hash(json.dumps(edits))) % 10**8}.json"
        name.write_text(json.dumps(edits, ensure_ascii=False, indent=1), encoding="utf-8")
        raise


def test_memory_bounded_after_fuzzing(session):
    # runs after the fuzz test in the same module (pytest keeps file order)
    run_sequence(session, [("insert", 0.5, 0, "# still alive\n")])
    grown = rss_mb(session.client.proc.pid) - session.rss_start
    assert grown < 150, f"server RSS grew by {grown:.0f} MB over {STATS['edits']} edits"


@pytest.mark.parametrize("case", sorted(p.name for p in CORPUS.glob("*.json")) if CORPUS.exists() else [])
def test_corpus(session, case):
    edits = [tuple(e) for e in json.loads((CORPUS / case).read_text(encoding="utf-8"))]
    run_sequence(session, edits)
