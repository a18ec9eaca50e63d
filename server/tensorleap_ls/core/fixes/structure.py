"""Fixes for 1xx (core/checks/structure.py): create or register a missing part, create an undefined
function, rename a duplicate."""

from __future__ import annotations

import ast

from tensorleap_ls.core.fixes import stubs
from tensorleap_ls.core.codes import (
    DUPLICATE_NAME, MISSING_GROUND_TRUTH, MISSING_INPUT, MISSING_INTEGRATION_TEST, MISSING_LOSS, MISSING_MODEL,
    MISSING_PREPROCESS, UNDEFINED_FUNCTION,
)
from tensorleap_ls.core.fixdata import FunctionKind, MissingPart, NameKind
from tensorleap_ls.core.fixes import fixer, imports
from tensorleap_ls.core.fixes.edits import data_of, free_name, insert, module, text
from tensorleap_ls.core.model import Finding, Fix, Kind, Span, Style, TextEdit
from tensorleap_ls.core.source.text import mentions
from tensorleap_ls.core.sdk.bundled import registrar_of, row_for

@fixer(MISSING_PREPROCESS, MISSING_INPUT, MISSING_MODEL, MISSING_INTEGRATION_TEST, MISSING_LOSS, MISSING_GROUND_TRUTH)
def _missing(f: Finding, pa) -> list[Fix]:
    """Registers a function that looks like the missing part (preferred), else creates the part from the
    registrar table's row (core/sdk/table.py: its default names, stub and title)."""
    d = data_of(f, MissingPart)
    kind = next((k for k in Kind if d and k.value == d.missing), None)
    row = row_for(kind) if kind is not None else None
    mod = module(pa, f.span.path)
    if row is None or not row.default or mod is None:
        return []
    style = Style(d.style)
    repointed = imports.stub_at_broken_import(pa, kind)  # the deleted function the entry still imports
    if repointed:
        return repointed
    out = _register_existing(pa, kind, row, style)
    fn, name = row.default
    fn = free_name(mod, fn)
    st = _wired_test(pa, fn) if kind is Kind.INTEGRATION_TEST else stubs.stub(kind, style, fn, name)
    edits = stubs.import_edits(f.span.path, mod.tree, mod.source.lines, set(st.names), set(st.decorators))
    edits.append(stubs.insert_code(f.span.path, mod.tree, mod.source.lines, st.code,
                                   line=None if kind is not Kind.INTEGRATION_TEST else _test_line(mod)))
    creator = row.legacy if row.kind is not kind and row.legacy is not None else row  # add_prediction: its own title
    what = creator.creates or f"a {kind.value.replace('_', ' ')} stub"
    return out + [Fix(f"Create {what}", edits, preferred=not out)]


def _register_existing(pa, kind: Kind, row, style: Style) -> list[Fix]:
    """At most three unregistered functions that look like the missing part, each with its registration."""
    if not row.looks_like:
        return []
    words, arity = row.looks_like
    registered = {(b.def_path, b.function) for b in pa.bindings}
    out = []
    for mod in pa.modules.values():
        for name, node in mod.defs.items():
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) or (mod.path, name) in registered:
                continue
            n_params = len(node.args.posonlyargs + node.args.args)
            if not any(w in name.lower() for w in words) or (n_params != arity if arity != 1 else n_params < 1):
                continue
            reg_name = row.default[1] or name
            if style is Style.DECORATOR or kind is Kind.INTEGRATION_TEST:
                deco = stubs.registration(row, Style.DECORATOR, name, reg_name)
                line = min([node.lineno] + [x.lineno for x in node.decorator_list]) - 1
                edits = stubs.import_edits(mod.path, mod.tree, mod.source.lines, set(), {deco.split("(")[0]})
                slip = imports.misspelled_decorator(mod, node, row.name)
                if slip is not None:  # `@tensorleap_input_encodr(...)`: fix its name, never stack a second one
                    edits.append(TextEdit(slip, row.name))
                    out.append(Fix(f"Register `{name}`: use @{row.name}", edits, preferred=True))
                    continue
                edits.append(insert(mod.path, line, 0, " " * node.col_offset + f"@{deco}\n"))
                out.append(Fix(f"Register `{name}` with @{deco}", edits, preferred=True))
            else:
                call = stubs.registration(row, Style.LEGACY, name, reg_name)
                edits = stubs.import_edits(mod.path, mod.tree, mod.source.lines, {"leap_binder"}, set())
                last = len(mod.source.lines) - 1
                tail = mod.source.lines[last]
                edits.append(TextEdit(Span(mod.path, last, len(tail), last, len(tail)), ("\n" if tail else "") + call + "\n"))
                out.append(Fix(f"Register `{name}`: {call}", edits, preferred=True))
            if len(out) >= 3:
                return out
    return out


def _test_line(mod) -> int | None:
    """The integration test goes before __main__ (after everything else)."""
    for stmt in (mod.tree.body if mod.tree else []):
        if isinstance(stmt, ast.If) and mentions(stmt.test, "__name__"):
            return stmt.lineno - 1
    return None


def _wired_test(pa, fn: str) -> stubs.Stub:
    by_kind = lambda k: [b.function for b in pa.bindings if b.kind is k and b.function and b.def_node is not None]  # noqa: E731
    loaders = by_kind(Kind.LOAD_MODEL)
    inputs = by_kind(Kind.INPUT)
    names = [b.name or "input" for b in pa.bindings if b.kind is Kind.INPUT and b.function]
    return stubs.integration_test_stub(fn, inputs, by_kind(Kind.GROUND_TRUTH), loaders[0] if loaders else None,
                                       by_kind(Kind.LOSS), names)


@fixer(UNDEFINED_FUNCTION)
def _undefined(f: Finding, pa) -> list[Fix]:
    d = data_of(f, FunctionKind)
    fn = d.function if d else None
    if not fn or not fn.isidentifier():
        return []
    kind = Kind(d.kind)
    b = next((x for x in pa.bindings if x.function == fn and x.kind is kind), None)
    mod = module(pa, f.span.path)
    if mod is None:
        return []
    reg = registrar_of(b) if b is not None else None
    st = (reg and stubs.registrar_stub(reg.name, fn, b.name)) or stubs.stub(kind, Style.DECORATOR, fn, b.name if b else None)
    code = st.code.split("\n", 1)[1] if st.code.startswith("@") else st.code  # the legacy call registers it
    # defined before the registration that names it
    reg_line = f.span.line
    stmt_line = next((s.lineno - 1 for s in (mod.tree.body if mod.tree else [])
                      if s.lineno - 1 <= reg_line <= (s.end_lineno or s.lineno) - 1), reg_line)
    edits = stubs.import_edits(f.span.path, mod.tree, mod.source.lines, set(st.names) - {"leap_binder"}, set())
    edits.append(TextEdit(Span(f.span.path, stmt_line, 0, stmt_line, 0), code + "\n\n"))
    guess = imports.did_you_mean(pa, f.span.path, fn)
    use = [Fix(f"Use `{guess}`", [TextEdit(f.span, guess)], preferred=True)] if guess and text(pa, f.span) == fn else []
    return use + [Fix(f"Create function `{fn}`", edits, preferred=not use)]


@fixer(DUPLICATE_NAME)
def _rename(f: Finding, pa) -> list[Fix]:
    d = data_of(f, NameKind)
    if d is None or not d.name:
        return []
    taken = {b.name for b in pa.bindings if b.kind.value == d.kind}
    new = next(f"{d.name}_{i}" for i in range(2, 1000) if f"{d.name}_{i}" not in taken)
    old = text(pa, f.span)
    if not old or old[0] not in "'\"":
        return []
    return [Fix(f"Rename to '{new}'", [TextEdit(f.span, f"{old[0]}{new}{old[0]}")], preferred=True)]
