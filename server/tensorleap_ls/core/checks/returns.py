"""2xx: what a binding's function visibly returns (encoders, metadata, preprocess).

The returned expression, a local name assigned once, or a project/installed helper whose result kind is
visible (its annotation, or the one kind all its returns share); dtypes only where numpy makes them plain.
"""

from __future__ import annotations

import ast
import os
from typing import Iterator

from tensorleap_ls.core.codes import (
    ENCODER_DTYPE, ENCODER_NOT_ARRAY, ENCODER_RETURN_ANNOTATION, GT_RETURNS_NONE, METADATA_ANNOTATION,
    METADATA_NON_SCALAR, PREPROCESS_TUPLE,
)
from tensorleap_ls.core.fixdata import Annotated, EncoderDtype, FunctionKind
from tensorleap_ls.core.model import Binding, Finding, Kind, Severity, Style
from tensorleap_ls.core.source.text import dotted

_NON_SCALARS = {"list", "List", "tuple", "Tuple", "np.ndarray", "ndarray", "numpy.ndarray", "Sequence", "set", "Set"}
_ARRAY_ANN = {"np.ndarray", "ndarray", "numpy.ndarray", "NDArray", "npt.NDArray", "numpy.typing.NDArray", "Any",
              "np.typing.NDArray"}
def returns(b: Binding, node, src, find=lambda name: None) -> Iterator[Finding]:
    data = FunctionKind(node.name, b.kind.value)
    ann = node.returns
    shown = ann_name(ann)
    if b.kind in (Kind.INPUT, Kind.GROUND_TRUTH) and ann is not None and not isinstance(ann, ast.Constant):
        if shown and shown not in _ARRAY_ANN and not shown.endswith("ndarray") and not shown.endswith("NDArray"):
            yield Finding(ENCODER_RETURN_ANNOTATION, f"`{node.name}` is annotated to return `{src.segment(ann)}`; an encoder returns one "
                          "`np.ndarray` of float32.", src.span(ann), data=Annotated(data.function, data.kind, src.segment(ann)))
    if b.kind is Kind.METADATA and ann is not None and shown in _NON_SCALARS:
        yield Finding(METADATA_ANNOTATION, f"`{node.name}` is annotated to return `{src.segment(ann)}`; metadata returns a scalar or a "
                      "flat dict of scalars.", src.span(ann), data=Annotated(data.function, data.kind, src.segment(ann)))
    for ret in own_returns(node):
        value = ret.value
        if b.kind in (Kind.PREPROCESS,) and isinstance(value, ast.Tuple):
            sev = Severity.ERROR if b.style is Style.DECORATOR else Severity.WARNING
            yield Finding(PREPROCESS_TUPLE, "preprocess returns a tuple; return a list `[train, val, ...]` of PreprocessResponse.",
                          src.span(value), severity=sev, data=data)
        if b.kind in (Kind.INPUT, Kind.GROUND_TRUTH):
            yield from _encoder_return(b, node, ret, src, data, find)
        if b.kind is Kind.METADATA and value is not None:
            if isinstance(value, (ast.List, ast.Tuple, ast.ListComp, ast.Set)) or _is_array_call(value):
                yield Finding(METADATA_NON_SCALAR, "Metadata must be a scalar or a flat dict of scalars, not a list/tuple/array.",
                              src.span(value), data=data)
            elif isinstance(value, ast.Dict) and any(isinstance(v, (ast.Dict, ast.List, ast.Tuple)) for v in value.values):
                yield Finding(METADATA_NON_SCALAR, "Metadata dict values must be scalars (no nested dicts or lists).",
                              src.span(value), data=data)


def own_returns(node) -> Iterator[ast.Return]:
    """Return statements of ``node`` itself, not of nested functions."""
    stack = list(node.body)
    while stack:
        n = stack.pop()
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        if isinstance(n, ast.Return):
            yield n
        stack.extend(ast.iter_child_nodes(n))


def _encoder_return(b: Binding, fn, ret: ast.Return, src, data, find=lambda name: None) -> Iterator[Finding]:
    value = ret.value
    if value is None or (isinstance(value, ast.Constant) and value.value is None):
        if b.kind is Kind.GROUND_TRUTH:
            yield Finding(GT_RETURNS_NONE, "A ground-truth encoder must not return None; for unlabeled data return "
                          "`np.array([], dtype=np.float32)`.", src.span(ret), data=data)
        else:
            yield Finding(ENCODER_NOT_ARRAY, "An input encoder must return one float32 ndarray, not None.", src.span(ret), data=data)
        return
    if isinstance(value, (ast.List, ast.Tuple, ast.ListComp, ast.Dict)) or (
            isinstance(value, ast.Constant) and isinstance(value.value, (int, float, str))):
        kind = type(value).__name__.lower().replace("comp", "")
        if isinstance(value, ast.Tuple):
            msg = f"`{fn.name}` returns a tuple; an encoder returns exactly one float32 ndarray."
        else:
            msg = f"`{fn.name}` returns a {kind}; an encoder returns one float32 `np.ndarray`."
        yield Finding(ENCODER_NOT_ARRAY, msg, src.span(value), data=data)
        return
    helper = _helper_result(value, fn, find)
    if helper is not None:
        name, kind, where = helper
        if kind == "None" and b.kind is Kind.GROUND_TRUTH:
            yield Finding(GT_RETURNS_NONE, f"`{fn.name}` returns the result of `{name}()`, which returns None ({where}); for "
                          "unlabeled data return `np.array([], dtype=np.float32)`.", src.span(value), data=data)
        else:
            yield Finding(ENCODER_NOT_ARRAY, f"`{fn.name}` returns the result of `{name}()`, which returns "
                          f"{'None' if kind == 'None' else 'a ' + kind} ({where}); an encoder returns one float32 "
                          "`np.ndarray`.", src.span(value), data=data)
        return
    dtype = _visible_dtype(value, fn)
    if dtype is not None and dtype not in ("float32", "np.float32", "numpy.float32", "'float32'"):
        yield Finding(ENCODER_DTYPE, f"`{fn.name}` returns an array of dtype {dtype}; encoders must return float32 "
                      "(add `.astype(np.float32)`).", src.span(value), data=EncoderDtype(data.function, data.kind, dtype))


_RESULT_KINDS = {"list": "list", "List": "list", "tuple": "tuple", "Tuple": "tuple", "dict": "dict", "Dict": "dict",
                 "str": "str", "None": "None"}


def _helper_result(value: ast.expr, fn, find) -> tuple[str, str, str] | None:
    """(helper name, kind, where) when ``value`` is the result of a helper (of the project or an installed
    package) that visibly returns a list, tuple, dict, str or None; None when nothing is certain."""
    if isinstance(value, ast.Name):
        value = single_assignment(fn, value.id)
    if not isinstance(value, ast.Call) or not isinstance(value.func, ast.Name):
        return None
    found = find(value.func.id)
    if found is None or not isinstance(found[1], (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    mod, helper = found
    kind = _result_kind(helper)
    if kind is None:
        return None
    return value.func.id, kind, f"{os.path.basename(mod.path)}:{helper.lineno}"


def _result_kind(fn) -> str | None:
    """What a function visibly returns: its annotation, else the one kind all its returns share."""
    if fn.returns is not None:
        return _RESULT_KINDS.get(ann_name(fn.returns).split("[")[0]) if not isinstance(fn.returns, ast.Constant) \
            else ("None" if fn.returns.value is None else None)
    if any(isinstance(n, (ast.Yield, ast.YieldFrom)) for n in ast.walk(fn)):
        return None
    kinds = set()
    for ret in own_returns(fn):
        value = ret.value
        if isinstance(value, ast.Name):
            assigned = single_assignment(fn, value.id)
            value = assigned if assigned is not None else value
        if value is None or (isinstance(value, ast.Constant) and value.value is None):
            kinds.add("None")
        elif isinstance(value, (ast.List, ast.ListComp)):
            kinds.add("list")
        elif isinstance(value, ast.Tuple):
            kinds.add("tuple")
        elif isinstance(value, (ast.Dict, ast.DictComp)):
            kinds.add("dict")
        elif isinstance(value, ast.JoinedStr) or (isinstance(value, ast.Constant) and isinstance(value.value, str)):
            kinds.add("str")
        else:
            return None
    if not kinds:  # falls off the end: returns None (unless it only raises)
        return None if any(isinstance(n, ast.Raise) for n in fn.body) else "None"
    return kinds.pop() if len(kinds) == 1 else None


_DEFAULT_FLOAT64 = {"zeros", "ones", "empty", "full", "eye", "identity", "linspace", "random.rand", "random.randn",
                    "random.random", "random.normal", "random.uniform", "zeros_like", "ones_like"}


def _visible_dtype(value: ast.expr, fn, depth: int = 0) -> str | None:
    """The dtype an expression visibly has, or None when it is not visible."""
    if depth > 4:
        return None
    if isinstance(value, ast.Name):
        assigned = single_assignment(fn, value.id)
        return _visible_dtype(assigned, fn, depth + 1) if assigned is not None else None
    if not isinstance(value, ast.Call):
        return None
    func = dotted(value.func)
    if isinstance(value.func, ast.Attribute) and value.func.attr == "astype" and value.args:
        return _dtype_text(value.args[0])
    dtype_kw = next((k.value for k in value.keywords if k.arg == "dtype"), None)
    short = func.split(".", 1)[1] if func.startswith(("np.", "numpy.")) else None
    if short is None:
        return None
    if dtype_kw is not None:
        return _dtype_text(dtype_kw)
    if short in ("zeros_like", "ones_like", "empty_like", "full_like"):
        return None  # same dtype as the argument: not visible
    if short in _DEFAULT_FLOAT64:
        return "float64"
    if short in ("array", "asarray") and value.args:
        arg = value.args[0]
        if isinstance(arg, ast.List) and arg.elts and all(isinstance(e, ast.Constant) for e in arg.elts):
            vals = [e.value for e in arg.elts]
            if all(isinstance(v, bool) for v in vals):
                return "bool"
            if all(isinstance(v, int) for v in vals):
                return "int64"
            if all(isinstance(v, (int, float)) for v in vals):
                return "float64"
    if short == "arange":
        return "int64" if all(isinstance(a, ast.Constant) and isinstance(a.value, int) for a in value.args) else None
    return None


def _dtype_text(node: ast.expr) -> str | None:
    text = dotted(node) if isinstance(node, (ast.Attribute, ast.Name)) else None
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if text in ("float", "builtins.float"):
        return "float64"
    if text in ("int",):
        return "int64"
    if text:
        return text.split(".")[-1]
    return None


def single_assignment(fn, name: str) -> ast.expr | None:
    found = []
    for n in ast.walk(fn):
        if isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in n.targets):
            found.append(n.value)
        elif isinstance(n, (ast.AugAssign, ast.AnnAssign)) and isinstance(n.target, ast.Name) and n.target.id == name:
            found.append(None)
    return found[0] if len(found) == 1 else None


def _is_array_call(value: ast.expr) -> bool:
    return isinstance(value, ast.Call) and dotted(value.func) in ("np.array", "np.asarray", "numpy.array", "np.zeros")




def ann_name(ann: ast.expr | None) -> str:
    if ann is None:
        return ""
    if isinstance(ann, ast.Subscript):
        return ann_name(ann.value)
    if isinstance(ann, (ast.Name, ast.Attribute)):
        return dotted(ann)
    if isinstance(ann, ast.Constant) and isinstance(ann.value, str):
        return ann.value
    return ""
