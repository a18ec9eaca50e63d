"""Fixes for 3xx (core/checks/test_body.py): move logic out of the integration test body, drop a
hand-made batch axis, call a binding the test never calls."""

from __future__ import annotations

import ast
import re

from tensorleap_ls.core.fixes import stubs
from tensorleap_ls.core.codes import (
    NOT_IN_TEST, TEST_ARITHMETIC, TEST_BAD_INDEX, TEST_BATCH_DIM, TEST_DOUBLE_INDEX, TEST_LIBRARY_CALL,
)
from tensorleap_ls.core.fixdata import NotInTest
from tensorleap_ls.core.fixes import fixer
from tensorleap_ls.core.fixes.edits import data_of, expr_at, insert, module
from tensorleap_ls.core.model import Finding, Fix, Kind, TextEdit


@fixer(TEST_ARITHMETIC, TEST_LIBRARY_CALL, TEST_BAD_INDEX)
def _move_out_of_test(f: Finding, pa) -> list[Fix]:
    """``metric(gt, prediction.argmax(-1))`` -> ``metric(gt, prediction)``, and the decorated function
    starts with ``prediction = prediction.argmax(-1)``: the logic runs where the SDK allows it."""
    test = next((b for b in pa.bindings if b.kind is Kind.INTEGRATION_TEST and b.def_node is not None
                 and b.def_path == f.span.path), None)
    mod = module(pa, f.span.path)
    if test is None or mod is None:
        return []
    target = expr_at(pa, f.span)
    if target is None:
        return []
    for call in (n for n in ast.walk(test.def_node) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)):
        if target not in call.args:
            continue
        callee = next((b for b in pa.bindings if b.function == call.func.id and b.def_node is not None
                       and b.kind is not Kind.INTEGRATION_TEST), None)
        names = {n.id for n in ast.walk(target) if isinstance(n, ast.Name)} - {"np", "numpy", "torch", "tf"}
        if callee is None or len(names) != 1:
            return []
        (var,) = names
        index = call.args.index(target)
        params = [a.arg for a in callee.def_node.args.posonlyargs + callee.def_node.args.args]
        if index >= len(params):
            return []
        param = params[index]
        moved = re.sub(rf"\b{re.escape(var)}\b", param, mod.source.segment(target))
        first = callee.def_node.body[0]
        indent = " " * first.col_offset
        cmod = module(pa, callee.def_path)
        needs_np = "np." in moved and cmod is not None and "np" not in {a for r in cmod.imports for a in
                                                                      [n[1] for n in r.names] + [r.bound]}
        edits = [TextEdit(f.span, var),
                 insert(callee.def_path, first.lineno - 1, 0, f"{indent}{param} = {moved}  # moved from the integration test\n")]
        if needs_np:
            edits = stubs.import_edits(callee.def_path, cmod.tree, cmod.source.lines, {"np"}, set()) + edits
        return [Fix(f"Move `{mod.source.segment(target)}` into `{callee.function}`", edits, preferred=True)]
    return []


@fixer(TEST_BATCH_DIM)
def _drop_batch_dim(f: Finding, pa) -> list[Fix]:
    """``enc(idx, p)[None]`` / ``np.expand_dims(x, 0)`` -> the unbatched value: decorated calls already
    return batched arrays, so the hand-made axis is simply removed."""
    target = expr_at(pa, f.span)
    inner = None
    if isinstance(target, ast.Subscript):
        inner = target.value
    elif isinstance(target, ast.Call) and target.args:
        inner = target.args[0]
    if inner is None:
        return _move_out_of_test(f, pa)
    value = pa.modules[f.span.path].source.segment(inner)
    return [Fix(f"Remove the manual batch dimension (`{value}`)", [TextEdit(f.span, value)], preferred=True)]


@fixer(TEST_DOUBLE_INDEX)
def _drop_second_index(f: Finding, pa) -> list[Fix]:
    """``prediction[0]`` (``prediction`` already a model output) -> ``prediction``: the platform passes the
    whole output; an index the function needs moves into it (the second fix, when it is a call's argument)."""
    target = expr_at(pa, f.span)
    if not isinstance(target, ast.Subscript):
        return []
    value = pa.modules[f.span.path].source.segment(target.value)
    out = [Fix(f"Remove the second index: pass `{value}` whole", [TextEdit(f.span, value)], preferred=True)]
    moved = _move_out_of_test(f, pa)
    return out + [Fix(m.title, m.edits) for m in moved]


@fixer(NOT_IN_TEST)
def _call_in_test(f: Finding, pa) -> list[Fix]:
    d = data_of(f, NotInTest)
    if d is None or d.kind not in ("input", "ground_truth", "metadata"):
        return []
    test = next((b for b in pa.bindings if b.kind is Kind.INTEGRATION_TEST and b.def_node is not None), None)
    if test is None:
        return []
    node = test.def_node
    params = [a.arg for a in node.args.args]
    if len(params) < 2:
        return []
    last = node.body[-1]
    line = last.end_lineno or last.lineno
    indent = " " * node.body[0].col_offset
    return [Fix(f"Call `{d.function}` in the integration test",
                [insert(test.def_path, line, 0, f"{indent}{d.function}({params[0]}, {params[1]})\n")])]
