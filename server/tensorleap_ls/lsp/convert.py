"""Core findings, spans and fixes -> LSP types. Columns: code points in the core, the
negotiated position encoding (UTF-16 unless the client chose otherwise) on the wire."""

from __future__ import annotations

from typing import Callable, Sequence

from lsprotocol import types as lsp
from pygls.uris import from_fs_path

from tensorleap_ls.core.codes import CODES, DEPRECATED_LENGTH, NOT_IN_TEST
from tensorleap_ls.core.model import Finding, Fix, Span

LineText = Callable[[str, int], str]  # (path, 0-based line) -> text of that line

_SEVERITY = {1: lsp.DiagnosticSeverity.Error, 2: lsp.DiagnosticSeverity.Warning,
             3: lsp.DiagnosticSeverity.Information, 4: lsp.DiagnosticSeverity.Hint}
_TAGS = {DEPRECATED_LENGTH: [lsp.DiagnosticTag.Deprecated], NOT_IN_TEST: [lsp.DiagnosticTag.Unnecessary]}


def units(text: str, col: int, encoding: str = "utf-16") -> int:
    """Code-point column -> column in the wire encoding."""
    prefix = text[:col]
    if prefix.isascii() or encoding == "utf-32":
        return len(prefix)
    if encoding == "utf-8":
        return len(prefix.encode("utf-8", "surrogatepass"))
    return len(prefix.encode("utf-16-le", "surrogatepass")) // 2


def code_points(text: str, col: int, encoding: str = "utf-16") -> int:
    """Column in the wire encoding -> code-point column (clamped to the line)."""
    if text.isascii() or encoding == "utf-32":
        return min(col, len(text))
    if encoding == "utf-8":
        return len(text.encode("utf-8")[:col].decode("utf-8", errors="ignore"))
    count = 0
    for i, ch in enumerate(text):
        if count >= col:
            return i
        count += 2 if ord(ch) > 0xFFFF else 1
    return len(text)


def to_range(span: Span, line_text: LineText, encoding: str = "utf-16") -> lsp.Range:
    start_text = line_text(span.path, span.line)
    end_text = start_text if span.end_line == span.line else line_text(span.path, span.end_line)
    return lsp.Range(
        start=lsp.Position(line=span.line, character=units(start_text, span.col, encoding)),
        end=lsp.Position(line=span.end_line, character=units(end_text, span.end_col, encoding)),
    )


def to_diagnostic(f: Finding, line_text: LineText, encoding: str = "utf-16") -> lsp.Diagnostic:
    code = CODES.get(f.code)
    data = dict(f.data)
    data["code"] = f.code
    related = [
        lsp.DiagnosticRelatedInformation(
            location=lsp.Location(uri=from_fs_path(span.path) or span.path, range=to_range(span, line_text, encoding)),
            message=msg,
        )
        for span, msg in f.related
    ]
    return lsp.Diagnostic(
        range=to_range(f.span, line_text, encoding),
        message=f.message,
        severity=_SEVERITY[int(f.effective_severity)],
        code=f.code,
        code_description=None,
        source="tensorleap",
        tags=_TAGS.get(f.code),
        related_information=related or None,
        data=data if code is not None else None,
    )


def to_workspace_edit(fix: Fix, line_text: LineText, encoding: str = "utf-16") -> lsp.WorkspaceEdit:
    changes: dict[str, list[lsp.TextEdit]] = {}
    for e in fix.edits:
        uri = from_fs_path(e.span.path) or e.span.path
        changes.setdefault(uri, []).append(lsp.TextEdit(range=to_range(e.span, line_text, encoding), new_text=e.new_text))
    return lsp.WorkspaceEdit(changes=changes)


def to_code_action(fix: Fix, diagnostics: Sequence[lsp.Diagnostic], line_text: LineText,
                   encoding: str = "utf-16") -> lsp.CodeAction:
    kind = {"quickfix": lsp.CodeActionKind.QuickFix, "source": lsp.CodeActionKind.Source,
            "refactor": lsp.CodeActionKind.Refactor,
            "refactor.rewrite": lsp.CodeActionKind.RefactorRewrite}.get(fix.kind, fix.kind)
    return lsp.CodeAction(
        title=fix.title, kind=kind, diagnostics=list(diagnostics) or None,
        edit=to_workspace_edit(fix, line_text, encoding), is_preferred=fix.preferred or None,
    )
