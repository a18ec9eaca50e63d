"""Reference point: a bare pygls server that only runs ast.parse + pyflakes on each change.

The issue sets tensorleap-ls's edit->diagnostics targets relative to this (it should do its
whole analysis in less time than this server spends on a syntax check and pyflakes).
"""

from __future__ import annotations

import ast

import pyflakes.checker
from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer

server = LanguageServer("bare-pyflakes", "0")


def _publish(ls: LanguageServer, uri: str) -> None:
    doc = ls.workspace.get_text_document(uri)
    diags: list[lsp.Diagnostic] = []
    try:
        tree = ast.parse(doc.source, doc.path)
        for msg in pyflakes.checker.Checker(tree, filename=doc.path).messages:
            line = max(msg.lineno - 1, 0)
            diags.append(lsp.Diagnostic(
                range=lsp.Range(lsp.Position(line, msg.col), lsp.Position(line, msg.col + 1)),
                message=msg.message % msg.message_args, source="pyflakes"))
    except SyntaxError as e:
        line = max((e.lineno or 1) - 1, 0)
        diags.append(lsp.Diagnostic(range=lsp.Range(lsp.Position(line, 0), lsp.Position(line, 1)),
                                    message=str(e.msg), source="syntax"))
    ls.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=uri, version=doc.version, diagnostics=diags))


@server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: LanguageServer, params: lsp.DidOpenTextDocumentParams) -> None:
    _publish(ls, params.text_document.uri)


@server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
def did_change(ls: LanguageServer, params: lsp.DidChangeTextDocumentParams) -> None:
    _publish(ls, params.text_document.uri)


if __name__ == "__main__":
    server.start_io()
