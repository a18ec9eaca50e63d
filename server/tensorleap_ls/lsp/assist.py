"""Completion, hover, signature help, workspace symbols, references and the entry-file checklist."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types as lsp
from pygls.uris import from_fs_path, to_fs_path

from tensorleap_ls.core import assist
from tensorleap_ls.core.project.closure import norm
from tensorleap_ls.lsp.convert import code_points, to_range
from tensorleap_ls.lsp.navigation import word_or_string_at
from tensorleap_ls.lsp.session import off_loop

if TYPE_CHECKING:
    from tensorleap_ls.lsp.session import Session as TensorleapServer

_KIND = {"function": lsp.CompletionItemKind.Function, "enum": lsp.CompletionItemKind.EnumMember,
         "class": lsp.CompletionItemKind.Class, "field": lsp.CompletionItemKind.Field,
         "value": lsp.CompletionItemKind.Value, "snippet": lsp.CompletionItemKind.Snippet}


def _line(ls, uri: str, pos: lsp.Position) -> tuple[str, int, list[str]]:
    doc = ls.workspace.get_text_document(uri)
    lines = doc.lines
    text = lines[pos.line].rstrip("\r\n") if pos.line < len(lines) else ""
    return text, code_points(text, pos.character, ls.encoding), [ln.rstrip("\r\n") for ln in lines[max(0, pos.line - 8):pos.line]]


def _bindings(ls, uri: str):
    path = to_fs_path(uri)
    if path is None:
        return []
    return [b for pa in ls.analyses_for(norm(path)) for b in pa.bindings]


def _root(ls, uri: str) -> str | None:
    path = to_fs_path(uri)
    return next((pa.project.root for pa in ls.analyses_for(norm(path))), None) if path else None


def _sdk(ls, uri: str):
    """The project's installed code-loader (hover and signature help describe that release)."""
    root = _root(ls, uri)
    return ls.installed_sdk(root) if root else None


def register(server: "TensorleapServer") -> None:
    @server.feature(lsp.TEXT_DOCUMENT_COMPLETION, lsp.CompletionOptions(trigger_characters=[".", "(", "'", '"', "@", ">", " ", ","]))
    async def completion(ls, params: lsp.CompletionParams) -> lsp.CompletionList:
        return await off_loop(lambda: _completion(ls, params))

    @server.feature(lsp.TEXT_DOCUMENT_HOVER)
    async def hover(ls, params: lsp.HoverParams) -> lsp.Hover | None:
        return await off_loop(lambda: _hover(ls, params))

    @server.feature(lsp.TEXT_DOCUMENT_SIGNATURE_HELP, lsp.SignatureHelpOptions(trigger_characters=["(", ","]))
    async def signature_help(ls, params: lsp.SignatureHelpParams) -> lsp.SignatureHelp | None:
        return await off_loop(lambda: _signature_help(ls, params))

    @server.feature(lsp.WORKSPACE_SYMBOL)
    def workspace_symbols(ls, params: lsp.WorkspaceSymbolParams) -> list[lsp.SymbolInformation]:
        out = []
        q = params.query.lower()
        for pa in ls.latest.values():
            for b in pa.bindings:
                label = b.name or b.function or b.kind.value
                if q and q not in label.lower() and q not in (b.function or "").lower():
                    continue
                span = b.def_span or b.reg_span
                out.append(lsp.SymbolInformation(name=label, kind=lsp.SymbolKind.Function, container_name=b.kind.value,
                                                 location=lsp.Location(uri=from_fs_path(span.path) or span.path,
                                                                       range=to_range(span, ls.line_text, ls.encoding))))
        return out

    @server.feature(lsp.TEXT_DOCUMENT_REFERENCES)
    async def references(ls, params: lsp.ReferenceParams) -> list[lsp.Location]:
        return await off_loop(lambda: _references(ls, params))

    server.code_lens_providers.append(_checklist)


# --- the handlers' work, run off the event loop (an analysis may still be running) -------------------
def _completion(ls, params: lsp.CompletionParams) -> lsp.CompletionList:
    line, col, prev = _line(ls, params.text_document.uri, params.position)
    items = assist.complete(line, col, _bindings(ls, params.text_document.uri), prev,
                            _sdk(ls, params.text_document.uri))
    return lsp.CompletionList(is_incomplete=False, items=[lsp.CompletionItem(
        label=i.label, kind=_KIND.get(i.kind), detail=i.detail or None,
        documentation=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=i.documentation) if i.documentation else None,
        insert_text=i.insert, insert_text_format=lsp.InsertTextFormat.Snippet if i.snippet else None,
        sort_text=i.sort or None) for i in items])


def _hover(ls, params: lsp.HoverParams) -> lsp.Hover | None:
    found = word_or_string_at(ls, params.text_document.uri, params.position)
    if found is None:
        return None
    uri = params.text_document.uri
    root = _root(ls, uri)
    observed = {(k[1], k[2]): v for k, v in ls.observations.items() if k[0] == root}
    text = assist.hover(found[0], _bindings(ls, uri), observed, _sdk(ls, uri))
    return lsp.Hover(contents=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=text)) if text else None


def _signature_help(ls, params: lsp.SignatureHelpParams) -> lsp.SignatureHelp | None:
    line, col, _ = _line(ls, params.text_document.uri, params.position)
    sig = assist.signature(line, col, _sdk(ls, params.text_document.uri))
    if sig is None:
        return None
    return lsp.SignatureHelp(signatures=[lsp.SignatureInformation(
        label=sig.label, documentation=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=sig.documentation),
        parameters=[lsp.ParameterInformation(label=p) for p in sig.params])], active_signature=0,
        active_parameter=sig.active)


def _references(ls, params: lsp.ReferenceParams) -> list[lsp.Location]:
    found = word_or_string_at(ls, params.text_document.uri, params.position)
    if found is None:
        return []
    word = found[0]
    out = []
    for pa in ls.analyses_for(norm(to_fs_path(params.text_document.uri) or "")):
        for b in pa.bindings:
            if word in (b.name, b.function):
                for span in filter(None, (b.name_span, b.reg_span, b.def_span)):
                    out.append(lsp.Location(uri=from_fs_path(span.path) or span.path,
                                            range=to_range(span, ls.line_text, ls.encoding)))
        for mod in pa.modules.values():  # calls by name (e.g. in the integration test)
            for i, text in enumerate(mod.source.lines if mod.source else []):
                j = text.find(word + "(")
                if j >= 0 and not text.lstrip().startswith(("def ", "@")):
                    out.append(lsp.Location(uri=from_fs_path(mod.path) or mod.path, range=lsp.Range(
                        lsp.Position(i, j), lsp.Position(i, j + len(word)))))
    return out


def _checklist(ls, path: str) -> list[lsp.CodeLens]:
    out = []
    for pa in ls.analyses_for(path):
        if pa.project.entry != path:
            continue
        out.append(lsp.CodeLens(range=lsp.Range(lsp.Position(0, 0), lsp.Position(0, 0)),
                                command=lsp.Command(title=assist.checklist(pa.bindings), command="")))
    return out
