"""Fixes for the slips of core/checks/imports.py and core/checks/undefined.py, and what the other fixers use
so that they leave code that imports.

TL113 / TL114: use the name it is a slip of ("did you mean"), importing it where the module lacks it, or
import the name itself (a decorator used without its import, ``np`` without numpy). TL112: import the name
the module has, or create the missing part under the imported name in that module (the stub of its kind,
so the import works again), or drop it from the import when nothing uses it. TL420: the SDK name it is a slip
of, renamed everywhere the module uses it.

Shared: ``stub_at_broken_import`` (the missing-part stub goes where a failing import expects it),
``misspelled_decorator`` ("Register" replaces a misspelled decorator, never stacks a second one), ``rename``.
"""

from __future__ import annotations

import ast
import os
import re

from tensorleap_ls.core.checks.imports import kind_of_name
from tensorleap_ls.core.codes import SDK_API_MISSING, UNDEFINED_AT_IMPORT, UNDEFINED_NAME, UNRESOLVED_IMPORT
from tensorleap_ls.core.facts import scopes
from tensorleap_ls.core.fixdata import ImportedName, SdkName, UndefinedName
from tensorleap_ls.core.fixes import fixer, stubs
from tensorleap_ls.core.fixes.edits import data_of, module
from tensorleap_ls.core.checks.undefined import BUILTINS, nearest
from tensorleap_ls.core.model import Finding, Fix, Kind, Span, Style, TextEdit
from tensorleap_ls.core.sdk.bundled import row_for


def _import_edit(mod, statement: str | None) -> list[TextEdit]:
    if not statement or mod is None:
        return []
    return [stubs.import_line_edit(mod.path, mod.tree, mod.source.lines, statement)]


@fixer(UNDEFINED_AT_IMPORT, UNDEFINED_NAME)
def _undefined(f: Finding, pa) -> list[Fix]:
    d = data_of(f, UndefinedName)
    mod = module(pa, f.span.path)
    if d is None or mod is None:
        return []
    if d.suggestion:
        via = f" (`{d.imports}`)" if d.imports else ""
        return [Fix(f"Use `{d.suggestion}`{via}", _import_edit(mod, d.imports) + [TextEdit(f.span, d.suggestion)],
                    preferred=True)]
    if d.imports:
        return [Fix(f"Add `{d.imports}`", _import_edit(mod, d.imports), preferred=True)]
    return []


# --- TL112 -----------------------------------------------------------------------------------------
def _import_at(mod, span: Span) -> tuple[ast.ImportFrom, ast.alias] | None:
    """The ``from ... import`` statement and the alias a TL112 finding points at."""
    for node in mod.tree.body if mod.tree is not None else ():
        for n in ast.walk(node):
            if isinstance(n, ast.ImportFrom) and n.lineno - 1 <= span.line <= (n.end_lineno or n.lineno) - 1:
                for a in n.names:
                    if (hasattr(a, "lineno") and mod.source.span(a) == span) or (
                            not hasattr(a, "lineno") and mod.source.span(n) == span):
                        return n, a
    return None


def _source_of(pa, mod, node: ast.ImportFrom):
    index = next((r.index for r in mod.imports if r.node is node), None)  # resolved is keyed by ImportRef.index
    path = pa.project.resolved.get((mod.path, index, "")) if index is not None else None
    return pa.modules.get(path) if path else None


def _style(pa) -> Style:
    return Style.DECORATOR if any(b.style is Style.DECORATOR for b in pa.bindings) else Style.LEGACY


def create_in_source(pa, f: Finding, kind: Kind) -> list[Fix]:
    """The stub of ``kind`` named as the failing import names it, in the module it imports it from: registered
    the project's way, or the bare function where a legacy call already registers that name."""
    d = data_of(f, ImportedName)
    mod = module(pa, f.span.path)
    found = _import_at(mod, f.span) if d is not None and mod is not None else None
    src = _source_of(pa, mod, found[0]) if found else None
    row = row_for(kind)
    if src is None or src.tree is None or row is None or not row.default or not d.name.isidentifier():
        return []
    registered = any(b.function == d.name for b in pa.bindings)
    st = stubs.render(row, None, d.name) if registered else stubs.stub(kind, _style(pa), d.name, row.default[1] or d.name)
    edits = stubs.import_edits(src.path, src.tree, src.source.lines, set(st.names) - {"leap_binder"} if registered
                               else set(st.names), set(st.decorators))
    edits.append(stubs.insert_code(src.path, src.tree, src.source.lines, st.code))
    where = os.path.relpath(src.path, pa.project.root).replace(os.sep, "/")
    what = f"the {kind.value.replace('_', ' ')} function" if registered else (
        row.creates or f"a {kind.value.replace('_', ' ')} stub")
    return [Fix(f"Create {what} `{d.name}` in {where}", edits, preferred=True)]


def stub_at_broken_import(pa, kind: Kind) -> list[Fix]:
    """When an import fails on a name that looks like the missing ``kind`` (the function was deleted, the import
    stayed), the missing-part stub is created under that name where the import looks for it."""
    for f in pa.findings:
        d = data_of(f, ImportedName)
        if f.code == UNRESOLVED_IMPORT and d is not None and kind_of_name(d.name) is kind:
            return create_in_source(pa, f, kind)
    return []


def rename(mod, old: str, new: str, skip: Span | None = None) -> list[TextEdit]:
    """Every read of the module-level name ``old`` becomes ``new`` (a slip fixed where it is used too)."""
    out = []
    for n in ast.walk(mod.tree):
        if isinstance(n, ast.Name) and n.id == old:
            span = mod.source.span(n)
            if span != skip:
                out.append(TextEdit(span, new))
    return out


@fixer(UNRESOLVED_IMPORT)
def _unresolved(f: Finding, pa) -> list[Fix]:
    d = data_of(f, ImportedName)
    mod = module(pa, f.span.path)
    found = _import_at(mod, f.span) if d is not None and mod is not None else None
    if found is None:
        return []
    node, alias = found
    out = []
    if d.suggestion:
        name_span = Span(f.span.path, f.span.line, f.span.col, f.span.line, f.span.col + len(alias.name))
        edits = [TextEdit(name_span, d.suggestion)]
        if alias.asname is None:
            edits += rename(mod, alias.name, d.suggestion)
        out.append(Fix(f"Import `{d.suggestion}`", edits, preferred=True))
    registered = next((b.kind for b in pa.bindings if b.function == d.name), None)
    kind = registered or kind_of_name(d.name)
    if kind is not None and (registered or not any(b.kind is kind for b in pa.bindings)):
        out += [Fix(x.title, x.edits, preferred=not out) for x in create_in_source(pa, f, kind)]
    bound = alias.asname or alias.name
    if not d.suggestion and not any(isinstance(n, ast.Name) and n.id == bound for n in ast.walk(mod.tree)):
        out.append(Fix(f"Remove `{alias.name}` from the import", [_drop_alias(mod, node, alias)]))
    return out


def _drop_alias(mod, node: ast.ImportFrom, alias: ast.alias) -> TextEdit:
    span = mod.source.span(node)
    if len(node.names) == 1:
        return TextEdit(Span(span.path, span.line, 0, span.end_line + 1, 0), "")
    kept = ", ".join(a.name + (f" as {a.asname}" if a.asname else "") for a in node.names if a is not alias)
    text = mod.source.text_of(span)
    paren = "(" in text[text.index(" import ") :] if " import " in text else False
    head = text[: text.index(" import ") + len(" import ")] if " import " in text else f"from {node.module} import "
    return TextEdit(span, head + (f"({kept})" if paren else kept))


# --- "Register" and TL110 --------------------------------------------------------------------------
def misspelled_decorator(mod, node, registrar: str) -> Span | None:
    """The name of a decorator of ``node`` that is not defined in ``mod`` and is a slip of ``registrar``."""
    bound = scopes.module_names(mod) | BUILTINS
    for d in getattr(node, "decorator_list", ()):
        target = d.func if isinstance(d, ast.Call) else d
        if isinstance(target, ast.Name) and target.id not in bound and nearest(target.id, [registrar]) == registrar:
            return mod.source.span(target)
    return None


def did_you_mean(pa, path: str, name: str) -> str | None:
    """A defined function of the module that ``name`` is a slip of."""
    mod = module(pa, path)
    if mod is None:
        return None
    return nearest(name, [n for n in mod.defs if n != name])


# --- TL420 -----------------------------------------------------------------------------------------
@fixer(SDK_API_MISSING)
def _sdk_name(f: Finding, pa) -> list[Fix]:
    d = data_of(f, SdkName)
    mod = module(pa, f.span.path)
    if d is None or not d.suggestion or mod is None or mod.tree is None:
        return []
    wrong = d.name.rpartition("(")[2].rstrip(")").rpartition(".")[2]
    line = mod.source.lines[f.span.line]
    hits = [m for m in re.finditer(rf"\b{re.escape(wrong)}\b", line)]
    inside = [m for m in hits if f.span.col <= m.start() and (f.span.end_line > f.span.line or m.end() <= f.span.end_col)]
    before = [m for m in hits if m.end() <= f.span.col]  # a keyword: the span is its value
    m = inside[0] if inside else (before[-1] if before else None)
    if m is None:
        return []
    at = Span(f.span.path, f.span.line, m.start(), f.span.line, m.end())
    edits = [TextEdit(at, d.suggestion)]
    imported = next((a for n in ast.walk(mod.tree) if isinstance(n, ast.ImportFrom) for a in n.names
                     if a.name == wrong and a.asname is None), None)
    if imported is not None and "(" not in d.name and "." not in d.name:
        edits += rename(mod, wrong, d.suggestion)
    return [Fix(f"Use `{d.suggestion}`", edits, preferred=True)]

