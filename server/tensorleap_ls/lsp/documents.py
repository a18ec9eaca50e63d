"""Document synchronisation (open, change, save, close, files changed on disk), and line handling
that follows the LSP specification.

The handlers keep the analyser's overlays in step with the editor's buffers and schedule the
debounced analysis; the hooks feature modules add (``change_hooks``, ``save_hooks``) run after them.

pygls's TextDocument splits lines with ``str.splitlines``, which also breaks on \\x0b, \\x0c,
\\x1c-\\x1e, \\x85, \\u2028 and \\u2029. LSP clients only break on \\n, \\r\\n and \\r, so with any of
those characters in a file an incremental edit would land on the wrong line and corrupt the
server's copy of the text. ``install()`` makes pygls split the way clients do, once per text
(``lines`` is asked for once per range converted: re-splitting each time made publishing 4,000
findings quadratic).
"""

from __future__ import annotations

import re

from lsprotocol import types as lsp
from pygls.uris import to_fs_path

from tensorleap_ls.core.project.closure import norm
from tensorleap_ls.lsp.session import Session, run_hooks

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")


def lsp_lines(text: str) -> tuple[str, ...]:
    """Lines with their endings, split only on \\n, \\r\\n and \\r."""
    return tuple(_LINE.findall(text))


def install() -> None:
    from pygls.workspace.text_document import TextDocument

    if getattr(TextDocument, "_tensorleap_lines", False):
        return
    def lines(self) -> tuple[str, ...]:
        source = self.source
        cached = getattr(self, "_tensorleap_split", None)
        if cached is None or cached[0] is not source:
            cached = (source, lsp_lines(source))
            self._tensorleap_split = cached
        return cached[1]

    TextDocument.lines = property(lines)  # type: ignore[method-assign,assignment]
    TextDocument._tensorleap_lines = True  # type: ignore[attr-defined]


def register(server: Session) -> None:
    @server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: Session, params: lsp.DidOpenTextDocumentParams) -> None:
        path = to_fs_path(params.text_document.uri)
        if path is None:
            return
        ls.open_uris[norm(path)] = params.text_document.uri
        ls.analyzer.set_overlay(path, params.text_document.text)
        ls.schedule(params.text_document.uri, delay_ms=0)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: Session, params: lsp.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        path = to_fs_path(uri)
        doc = ls.document(uri)
        if path is None or doc is None:
            return
        ls.analyzer.set_overlay(path, doc.source)
        run_hooks(ls, ls.change_hooks, uri, "change hook")
        ls.schedule(uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: Session, params: lsp.DidSaveTextDocumentParams) -> None:
        path = to_fs_path(params.text_document.uri)
        if path is not None:
            ls.analyzer.invalidate(path)
        ls.schedule(params.text_document.uri, delay_ms=0)
        run_hooks(ls, ls.save_hooks, params.text_document.uri, "save hook")

    @server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: Session, params: lsp.DidCloseTextDocumentParams) -> None:
        ls.forget(params.text_document.uri)

    @server.feature(lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def watched(ls: Session, params: lsp.DidChangeWatchedFilesParams) -> None:
        touched = False
        for change in params.changes:
            path = to_fs_path(change.uri)
            if path is None:
                continue
            ls.analyzer.invalidate(path)
            touched = True
            # e.g. a data file the integration reads: the child re-imports
            run_hooks(ls, ls.save_hooks, change.uri, "change hook")
        if touched:
            for uri in list(ls.workspace.text_documents):
                ls.schedule(uri)
