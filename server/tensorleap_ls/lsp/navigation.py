"""Go-to-definition from registered names and function names, document symbols for bindings."""

from __future__ import annotations

from lsprotocol import types as lsp
from pygls.uris import from_fs_path, to_fs_path

from tensorleap_ls.core.model import Binding, Kind
from tensorleap_ls.core.project.closure import norm
from tensorleap_ls.lsp.convert import code_points, to_range
from tensorleap_ls.lsp.session import Session, off_loop

_SYMBOL_KIND = {Kind.CUSTOM_LAYER: lsp.SymbolKind.Class, Kind.PREDICTION: lsp.SymbolKind.Constant}


def register(server: Session) -> None:
    @server.feature(lsp.TEXT_DOCUMENT_DEFINITION)
    async def definition(ls: Session, params: lsp.DefinitionParams) -> list[lsp.Location] | None:
        return await off_loop(lambda: find_definition(ls, params.text_document.uri, params.position))

    @server.feature(lsp.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    async def document_symbols(ls: Session, params: lsp.DocumentSymbolParams) -> list:
        # thousands of bindings: built and serialised off the event loop, so a hover never waits
        unstructure = ls.protocol._converter.unstructure  # noqa: SLF001
        return await off_loop(lambda: [unstructure(s) for s in symbols_of(ls, params.text_document.uri)])


def word_or_string_at(ls: Session, uri: str, pos: lsp.Position) -> tuple[str, bool] | None:
    """The identifier or string literal under the cursor, and whether it is a string."""
    path = to_fs_path(uri)
    if path is None:
        return None
    doc = ls.workspace.get_text_document(uri)
    lines = doc.lines
    if pos.line >= len(lines):
        return None
    text = lines[pos.line].rstrip("\r\n")
    col = code_points(text, pos.character, ls.encoding)
    # inside a quoted string?
    for quote in ("'", '"'):
        left = text.rfind(quote, 0, col)
        right = text.find(quote, col)
        if left >= 0 and right >= 0 and text.count(quote, 0, left) % 2 == 0:
            return text[left + 1:right], True
    start = col
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] == "_"):
        start -= 1
    end = col
    while end < len(text) and (text[end].isalnum() or text[end] == "_"):
        end += 1
    word = text[start:end]
    return (word, False) if word else None


def find_definition(ls: Session, uri: str, pos: lsp.Position) -> list[lsp.Location] | None:
    found = word_or_string_at(ls, uri, pos)
    path = to_fs_path(uri)
    if found is None or path is None:
        return None
    word, is_string = found
    out = []
    for pa in ls.analyses_for(path):
        for b in pa.bindings:
            if b.def_span is None:
                continue
            if (is_string and b.name == word) or (not is_string and b.function == word and b.def_path is not None):
                out.append(_location(ls, b.def_span))
    if not out and not is_string:  # any other function: local, an installed package's, code-loader's
        for pa in ls.analyses_for(path):
            found = pa.find_function(norm(path), word)
            if found is not None and found[0].source is not None:
                out.append(_location(ls, found[0].source.def_name_span(found[1])))
    # unique, in a stable order
    seen = set()
    uniq = []
    for loc in out:
        key = (loc.uri, loc.range.start.line, loc.range.start.character)
        if key not in seen:
            seen.add(key)
            uniq.append(loc)
    return uniq or None


def _location(ls: Session, span) -> lsp.Location:
    return lsp.Location(uri=from_fs_path(span.path) or span.path, range=to_range(span, ls.line_text, ls.encoding))


def symbols_of(ls: Session, uri: str) -> list[lsp.DocumentSymbol]:
    path = to_fs_path(uri)
    if path is None:
        return []
    path = norm(path)
    out = []
    seen = set()
    for pa in ls.analyses_for(path):
        for b in pa.bindings:
            if b.reg_span.path != path and (b.def_span is None or b.def_span.path != path):
                continue
            key = (b.kind, b.name, b.reg_span)
            if key in seen:
                continue
            seen.add(key)
            out.append(_symbol(ls, b, path))
    return out


def _symbol(ls: Session, b: Binding, path: str) -> lsp.DocumentSymbol:
    sel = b.def_span if b.def_span is not None and b.def_span.path == path else b.reg_span
    full = sel
    node = b.def_node
    if node is not None and b.def_span is not None and b.def_span.path == path:
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])]) - 1
        end = (getattr(node, "end_lineno", None) or node.lineno) - 1
        full = type(sel)(path, first, 0, end, len(ls.line_text(path, end)))
    elif b.reg_span.path == path:
        full = b.reg_span
    label = b.name if b.name is not None else (b.function or b.kind.value)
    return lsp.DocumentSymbol(
        name=f"{label}",
        detail=f"{b.kind.value} ({b.style.value})" + (f" → {b.function}" if b.function and b.function != label else ""),
        kind=_SYMBOL_KIND.get(b.kind, lsp.SymbolKind.Function),
        range=to_range(full, ls.line_text, ls.encoding),
        selection_range=to_range(sel, ls.line_text, ls.encoding),
    )
