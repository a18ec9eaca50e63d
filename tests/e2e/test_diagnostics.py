"""Open, edit, save, close: diagnostics appear, update, never go stale, and clear."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from lsprotocol import types as lsp
from pytest_lsp import LanguageClient

pytestmark = pytest.mark.e2e


def uri(path: Path) -> str:
    return path.resolve().as_uri()


async def wait_diags(client: LanguageClient, u: str, pred, timeout: float = 10.0):
    """Waits until the latest diagnostics published for ``u`` satisfy ``pred``."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        diags = client.diagnostics.get(u)
        if diags is not None and pred(list(diags)):
            return list(diags)
        left = end - loop.time()
        if left <= 0:
            raise AssertionError(f"timed out; last diagnostics for {u}: {diags}")
        try:
            await asyncio.wait_for(client.wait_for_notification(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS), left)
        except asyncio.TimeoutError:
            pass


def open_doc(client: LanguageClient, path: Path, text: str | None = None, version: int = 1) -> str:
    u = uri(path)
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(text_document=lsp.TextDocumentItem(
        uri=u, language_id="python" if path.suffix == ".py" else "yaml", version=version,
        text=path.read_text() if text is None else text)))
    return u


def replace_all(client: LanguageClient, u: str, version: int, text: str) -> None:
    client.text_document_did_change(lsp.DidChangeTextDocumentParams(
        text_document=lsp.VersionedTextDocumentIdentifier(uri=u, version=version),
        content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=text)]))


def codes(diags) -> set[str]:
    return {d.code for d in diags}


async def test_diagnostics_appear_and_clear_on_edit(client: LanguageClient, project: Path):
    viz = project / "mnist_tl" / "visualizers.py"
    good = viz.read_text()
    bad = good.replace("-> LeapImage:", "-> LeapHorizontalBar:")
    u = open_doc(client, viz, bad)
    diags = await wait_diags(client, u, lambda d: "TL213" in codes(d))
    d = next(d for d in diags if d.code == "TL213")
    line = bad.split("\n")[d.range.start.line]
    assert d.source == "tensorleap" and d.severity == lsp.DiagnosticSeverity.Error
    assert line[d.range.start.character:d.range.end.character] == "LeapHorizontalBar"
    replace_all(client, u, 2, good)
    await wait_diags(client, u, lambda d: "TL213" not in codes(d))


async def test_edit_in_a_helper_module_updates_the_entry(client: LanguageClient, project: Path):
    entry = project / "leap_integration.py"
    eu = open_doc(client, entry)
    await wait_diags(client, eu, lambda d: True)
    enc = project / "mnist_tl" / "encoders.py"
    text = enc.read_text()
    u = open_doc(client, enc)
    # removing the input encoder's decorator makes the project lack an input: reported on the entry
    replace_all(client, u, 2, text.replace("@tensorleap_input_encoder('image', channel_dim=-1)\n", ""))
    diags = await wait_diags(client, eu, lambda d: "TL102" in codes(d))
    assert diags[0].range.start.line == 0
    replace_all(client, u, 3, text)
    await wait_diags(client, eu, lambda d: "TL102" not in codes(d))


async def test_stale_results_are_never_published(client: LanguageClient, project: Path):
    """A burst of edits alternating a bad and a good text: every publish for the document carries a
    version at least as new as the one before, and the last one is the last version, with its
    content's diagnostics."""
    viz = project / "mnist_tl" / "visualizers.py"
    good = viz.read_text()
    bad = good.replace("-> LeapImage:", "-> LeapHorizontalBar:")
    u = open_doc(client, viz, good)
    await wait_diags(client, u, lambda d: True)
    last = 30
    for v in range(2, last + 1):
        replace_all(client, u, v, bad if v % 2 == 0 else good)  # the last version (30) is bad
    loop = asyncio.get_running_loop()
    end = loop.time() + 10
    while not any(uu == u and v == last for uu, v, _ in client.published) and loop.time() < end:
        await asyncio.sleep(0.02)
    mine = [(v, c) for uu, v, c in client.published if uu == u and v is not None]
    versions = [v for v, _ in mine]
    assert versions[-1] == last, versions
    assert versions == sorted(versions), f"an older version was published after a newer one: {versions}"
    assert "TL213" in mine[-1][1]
    for v, c in mine:  # each publish shows the diagnostics of its own version's text
        assert ("TL213" in c) == (v % 2 == 0 and v > 1), (v, c)


async def test_leap_yaml_diagnostics(client: LanguageClient, project: Path):
    ly = project / "leap.yaml"
    text = ly.read_text()
    u = open_doc(client, ly, text.replace("pythonVersion: py311", "pythonVersion: 3.11"))
    diags = await wait_diags(client, u, lambda d: "TL409" in codes(d))
    assert diags[0].range.start.line == text.split("\n").index("pythonVersion: py311")
    replace_all(client, u, 2, text.replace("  - mnist_tl/**/*.py\n", ""))
    diags = await wait_diags(client, u, lambda d: "TL405" in codes(d) and "TL409" not in codes(d))
    # one finding for the slip, on `include`, the imports it breaks as related information (not a TL405 each)
    (tl405,) = [d for d in diags if d.code == "TL405"]
    entry = uri(project / "leap_integration.py")
    assert entry in {r.location.uri for r in tl405.related_information}
    replace_all(client, u, 3, text)
    await wait_diags(client, u, lambda d: not d)


async def test_close_clears(client: LanguageClient, project: Path):
    viz = project / "mnist_tl" / "visualizers.py"
    bad = viz.read_text().replace("-> LeapImage:", "-> LeapHorizontalBar:")
    u = open_doc(client, viz, bad)
    await wait_diags(client, u, lambda d: "TL213" in codes(d))
    client.text_document_did_close(lsp.DidCloseTextDocumentParams(text_document=lsp.TextDocumentIdentifier(uri=u)))
    await wait_diags(client, u, lambda d: not d)


async def test_syntax_error_keeps_the_rest(client: LanguageClient, project: Path):
    entry = project / "leap_integration.py"
    text = entry.read_text()
    u = open_doc(client, entry, text)
    await wait_diags(client, u, lambda d: not d)
    replace_all(client, u, 2, text.replace("def load_model():", "def load_model(:"))
    diags = await wait_diags(client, u, lambda d: "TL190" in codes(d))
    assert codes(diags) == {"TL190"}  # no flood of "missing" diagnostics while typing


async def test_paths_with_spaces_and_parentheses(client: LanguageClient, tmp_path: Path, project: Path):
    """The client's URI spelling (percent-encoded) is the one diagnostics are published for, with the
    document's version (found by the fuzz-free benchmark: a folder named 'x (default debounce)')."""
    odd = tmp_path / "my project (copy) #1"
    project.rename(odd)
    viz = odd / "mnist_tl" / "visualizers.py"
    bad = viz.read_text().replace("-> LeapImage:", "-> LeapHorizontalBar:")
    u = open_doc(client, viz, bad)
    assert "%20" in u and "%28" in u
    await wait_diags(client, u, lambda d: any(x.code == "TL213" for x in d))
    assert any(uu == u and v == 1 for uu, v, _ in client.published)


async def test_the_persistent_cache_is_written_after_the_diagnostics_are_published(client: LanguageClient, project: Path):
    """The first open answers before it writes the cache: the entries appear once the diagnostics are out."""
    import os

    from tensorleap_ls.core.engine.store import Store
    from tensorleap_ls.core.facts.modules import digest_of

    helper = project / "mnist_tl" / "visualizers.py"
    text = helper.read_text() + "\n# a text no run has stored: " + project.name + str(id(client)) + "\n"
    u = open_doc(client, helper, text)
    await wait_diags(client, u, lambda d: True)
    store = Store(Path(os.environ["TL_CACHE_DIR"]))
    loop = asyncio.get_running_loop()
    end = loop.time() + 10
    while store.get(digest_of(text)) is None and loop.time() < end:
        await asyncio.sleep(0.05)
    entry = store.get(digest_of(text))
    assert entry is not None and "imports" in entry["module"], "the analysed buffer's facts are written to the cache"
