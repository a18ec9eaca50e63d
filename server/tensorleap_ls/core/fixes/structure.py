"""Fixes for 1xx (core/checks/structure.py): create or register a missing part, create an undefined
function, rename a duplicate."""

from __future__ import annotations

import ast

from tensorleap_ls.core import stubs
from tensorleap_ls.core.codes import (
    DUPLICATE_NAME, MISSING_GROUND_TRUTH, MISSING_INPUT, MISSING_INTEGRATION_TEST, MISSING_LOSS, MISSING_MODEL,
    MISSING_PREPROCESS, UNDEFINED_FUNCTION,
)
from tensorleap_ls.core.fixdata import FunctionKind, MissingPart, NameKind
from tensorleap_ls.core.fixes import fixer
from tensorleap_ls.core.fixes.edits import data_of, free_name, insert, module, text
from tensorleap_ls.core.model import Finding, Fix, Kind, Span, Style, TextEdit
from tensorleap_ls.core.sdk import registrar_of

_MISSING_KIND = {"preprocess": Kind.PREPROCESS, "input": Kind.INPUT, "load_model": Kind.LOAD_MODEL,
                 "prediction": Kind.PREDICTION, "integration_test": Kind.INTEGRATION_TEST, "loss": Kind.LOSS,
                 "ground_truth": Kind.GROUND_TRUTH}
_DEFAULT_FN = {Kind.PREPROCESS: ("preprocess", None), Kind.INPUT: ("input_encoder", "image"),
               Kind.GROUND_TRUTH: ("gt_encoder", "classes"), Kind.LOSS: ("custom_loss", "loss"),
               Kind.LOAD_MODEL: ("load_model", None), Kind.PREDICTION: ("load_model", None),
               Kind.INTEGRATION_TEST: ("integration_test", None)}


@fixer(MISSING_PREPROCESS, MISSING_INPUT, MISSING_MODEL, MISSING_INTEGRATION_TEST, MISSING_LOSS, MISSING_GROUND_TRUTH)
def _missing(f: Finding, pa) -> list[Fix]:
    d = data_of(f, MissingPart)
    kind = _MISSING_KIND.get(d.missing) if d else None
    if kind is None:
        return []
    style = Style(d.style)
    path = f.span.path
    mod = module(pa, path)
    if mod is None:
        return []
    out = _register_existing(pa, kind, style)
    fn, name = _DEFAULT_FN[kind]
    fn = free_name(mod, fn)
    if kind is Kind.INTEGRATION_TEST:
        st = _wired_test(pa, fn)
    else:
        st = stubs.stub(kind, style, fn, name)
    edits = stubs.import_edits(path, mod.tree, mod.source.lines, set(st.names), set(st.decorators))
    edits.append(stubs.insert_code(path, mod.tree, mod.source.lines, st.code,
                                   line=None if kind is not Kind.INTEGRATION_TEST else _test_line(mod)))
    what = {Kind.LOAD_MODEL: "load_model with prediction types", Kind.PREDICTION: "a prediction type",
            Kind.INTEGRATION_TEST: "an integration test wired to the encoders, the model and the loss"}.get(
        kind, f"a {kind.value.replace('_', ' ')} stub")
    return out + [Fix(f"Create {what}", edits, preferred=not out)]


# A function that looks like the missing part but is not registered: register it (preferred).
_HINTS = {Kind.PREPROCESS: (("preprocess",), 0), Kind.INPUT: (("input", "encode", "image"), 2),
          Kind.GROUND_TRUTH: (("gt", "label", "ground", "target"), 2), Kind.LOSS: (("loss", "entropy"), 1),
          Kind.INTEGRATION_TEST: (("integration_test", "test"), 2)}
_LEGACY_CALL = {Kind.PREPROCESS: "leap_binder.set_preprocess({fn})",
                Kind.INPUT: "leap_binder.set_input({fn}, '{name}', channel_dim=-1)",
                Kind.GROUND_TRUTH: "leap_binder.set_ground_truth({fn}, '{name}')",
                Kind.LOSS: "leap_binder.add_custom_loss({fn}, '{name}')"}
_DECO = {Kind.PREPROCESS: "tensorleap_preprocess()", Kind.INPUT: "tensorleap_input_encoder('{name}', channel_dim=-1)",
         Kind.GROUND_TRUTH: "tensorleap_gt_encoder('{name}')", Kind.LOSS: "tensorleap_custom_loss('{name}')",
         Kind.INTEGRATION_TEST: "tensorleap_integration_test()"}


def _register_existing(pa, kind: Kind, style: Style) -> list[Fix]:
    hint = _HINTS.get(kind)
    if hint is None:
        return []
    words, arity = hint
    registered = {(b.def_path, b.function) for b in pa.bindings}
    out = []
    for mod in pa.modules.values():
        for name, node in mod.defs.items():
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) or (mod.path, name) in registered:
                continue
            n_params = len(node.args.posonlyargs + node.args.args)
            if not any(w in name.lower() for w in words) or (n_params != arity if arity != 1 else n_params < 1):
                continue
            reg_name = _DEFAULT_FN[kind][1] or name
            if style is Style.DECORATOR or kind is Kind.INTEGRATION_TEST:
                deco = _DECO[kind].format(name=reg_name)
                line = min([node.lineno] + [d.lineno for d in node.decorator_list]) - 1
                edits = stubs.import_edits(mod.path, mod.tree, mod.source.lines, set(), {deco.split("(")[0]})
                edits.append(insert(mod.path, line, 0, " " * node.col_offset + f"@{deco}\n"))
                out.append(Fix(f"Register `{name}` with @{deco}", edits, preferred=True))
            else:
                call = _LEGACY_CALL[kind].format(fn=name, name=reg_name)
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
        if isinstance(stmt, ast.If) and "__name__" in ast.dump(stmt.test):
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
    return [Fix(f"Create function `{fn}`", edits, preferred=True)]


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
