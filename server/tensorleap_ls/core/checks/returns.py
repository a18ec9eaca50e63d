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
from tensorleap_ls.core.facts.nodes import own
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
    if b.kind is Kind.METADATA and ann is not None and shown in _NON_SCALARS and not any(
            _visibly_scalar(r.value, node) for r in own_returns(node)):
        # What runs is the value, not the annotation: `-> np.ndarray` over `return np.mean(img)` is a numpy
        # scalar, which the SDK accepts (np.floating / np.signedinteger).
        yield Finding(METADATA_ANNOTATION, f"`{node.name}` is annotated to return `{src.segment(ann)}`; metadata returns a scalar or a "
                      "flat dict of scalars.", src.span(ann), data=Annotated(data.function, data.kind, src.segment(ann)))
    for ret in own_returns(node):
        value = ret.value
        if b.kind in (Kind.PREPROCESS,) and isinstance(value, ast.Tuple):
            sev = Severity.ERROR if b.style is Style.DECORATOR else Severity.HINT  # legacy: accepted everywhere
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


# numpy reductions and scalar constructors: their result is a numpy scalar (np.floating / np.integer / np.bool_).
_NP_SCALAR = {"mean", "sum", "std", "var", "min", "max", "amin", "amax", "median", "prod", "count_nonzero", "argmax",
              "argmin", "nanmean", "nansum", "nanstd", "nanmax", "nanmin", "average", "ptp", "linalg.norm", "any", "all",
              "float32", "float64", "int32", "int64", "bool_", "percentile", "quantile", "trace", "dot"}
_SCALAR_BUILTINS = {"float", "int", "str", "bool", "len", "round", "abs", "sum", "min", "max"}
_SCALAR_METHODS = {"item", "mean", "sum", "std", "var", "min", "max", "argmax", "argmin", "any", "all", "prod"}


def _visibly_scalar(value: ast.expr | None, fn, depth: int = 0) -> bool:
    """A return value that is a scalar or a flat dict as the SDK takes it (numpy scalars included)."""
    if value is None or depth > 4:
        return value is None
    if isinstance(value, ast.Name):
        assigned = single_assignment(fn, value.id)
        return assigned is not None and _visibly_scalar(assigned, fn, depth + 1)
    if isinstance(value, (ast.Constant, ast.JoinedStr, ast.Compare, ast.BoolOp, ast.Dict)):
        return True
    if isinstance(value, ast.BinOp):
        return _visibly_scalar(value.left, fn, depth + 1) and _visibly_scalar(value.right, fn, depth + 1)
    if isinstance(value, ast.Attribute) and value.attr in ("size", "ndim", "itemsize", "nbytes"):
        return True
    if isinstance(value, ast.Call):
        func = dotted(value.func)
        if func in _SCALAR_BUILTINS:
            return True
        if func.startswith(("np.", "numpy.")) and func.split(".", 1)[1] in _NP_SCALAR and not any(
                k.arg in ("axis", "keepdims") for k in value.keywords):
            return True
        return isinstance(value.func, ast.Attribute) and value.func.attr in _SCALAR_METHODS and not value.args \
            and not value.keywords
    return False


def own_returns(node) -> Iterator[ast.Return]:
    """Return statements of ``node`` itself, not of nested functions."""
    return own_nodes(node, ast.Return)


def own_nodes(node, cls: type) -> Iterator:
    """Nodes of type ``cls`` in the body of ``node`` (a function, or a module's top level), not in nested
    functions or classes (kept on the node: facts/nodes.py)."""
    return iter(own(node, cls))


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
    dtype = _visible_dtype(value, fn, find=find)
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
                    "random.random", "random.normal", "random.uniform"}
# Where numpy reads a dtype passed by position (``np.zeros(shape, np.float32)``): the index of that argument.
_DTYPE_POSITION = {"zeros": 1, "ones": 1, "empty": 1, "identity": 1, "full": 2, "array": 1, "asarray": 1,
                   "ascontiguousarray": 1, "zeros_like": 1, "ones_like": 1, "empty_like": 1, "full_like": 2, "eye": 3,
                   "arange": 3, "frombuffer": 1, "fromiter": 1}
# numpy functions whose result has the dtype of their first argument.
_SAME_DTYPE = {"pad", "squeeze", "expand_dims", "reshape", "transpose", "flip", "fliplr", "flipud", "rot90", "roll",
               "ascontiguousarray", "copy", "moveaxis", "swapaxes", "clip", "tile", "repeat", "atleast_1d",
               "atleast_2d", "atleast_3d", "asarray", "array", "zeros_like", "ones_like", "empty_like", "full_like"}
# Methods of an ndarray that keep its dtype.
_SAME_DTYPE_METHODS = {"reshape", "transpose", "squeeze", "copy", "flatten", "ravel", "clip", "swapaxes", "repeat"}
# Readers of images that give uint8 pixels: PIL images (``np.asarray(Image.open(p))``) and OpenCV.
_UINT8_READERS = {"Image.open", "PIL.Image.open", "Image.fromarray", "PIL.Image.fromarray", "cv2.imread",
                  "cv2.cvtColor", "cv2.resize", "imageio.imread", "imageio.v2.imread", "imageio.v3.imread"}
_PIL_METHODS = {"convert", "resize", "crop", "rotate", "transpose", "copy", "thumbnail"}
# Tokenizer idioms that give Python ints (``np.array(tokenizer.encode(text))`` is int64).
_TOKEN_METHODS = {"encode", "convert_tokens_to_ids"}
_TOKEN_KEYS = {"input_ids", "attention_mask", "token_type_ids"}
_INT_DTYPES = {"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "int", "bool", "bool_", "intc",
               "uint", "long", "longlong"}
_FLOATS = ("float16", "float32", "float64")


def _visible_dtype(value: ast.expr, fn, depth: int = 0, find=lambda name: None) -> str | None:
    """The dtype an expression visibly has, or None when it is not visible: numpy constructors with a dtype
    by keyword or by position, their float64 defaults, ``.astype``, images read by PIL / OpenCV (uint8), token
    ids (int64), arithmetic with Python numbers (``uint8 / 255.`` is float64), functions that keep their
    argument's dtype (``np.pad``), and helpers of the closure whose returns all have one visible dtype."""
    if depth > 6 or value is None:
        return None
    if isinstance(value, ast.Name):
        assigned = single_assignment(fn, value.id)
        return _visible_dtype(assigned, fn, depth + 1, find) if assigned is not None else None
    if isinstance(value, ast.BinOp):
        return _arith_dtype(value, fn, depth, find)
    if not isinstance(value, ast.Call):
        return None
    func = dotted(value.func)
    if isinstance(value.func, ast.Attribute) and value.func.attr == "astype" and value.args:
        return _dtype_text(value.args[0])
    if isinstance(value.func, ast.Attribute) and value.func.attr in _SAME_DTYPE_METHODS \
            and not func.startswith(("np.", "numpy.")):
        return _visible_dtype(value.func.value, fn, depth + 1, find)
    dtype_kw = next((k.value for k in value.keywords if k.arg == "dtype"), None)
    short = func.split(".", 1)[1] if func.startswith(("np.", "numpy.")) else None
    if short is None:
        return _helper_dtype(value, fn, depth, find)
    if dtype_kw is None and short in _DTYPE_POSITION and len(value.args) > _DTYPE_POSITION[short]:
        dtype_kw = value.args[_DTYPE_POSITION[short]]
    if dtype_kw is not None:
        return _dtype_text(dtype_kw)
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
        if _is_image(arg, fn, depth + 1):
            return "uint8"
        if _is_token_ids(arg, fn, depth + 1):
            return "int64"
    if short in _SAME_DTYPE and value.args:
        return _visible_dtype(value.args[0], fn, depth + 1, find)
    if short == "arange":
        return "int64" if all(isinstance(a, ast.Constant) and isinstance(a.value, int) for a in value.args) else None
    return None


def _arith_dtype(node: ast.BinOp, fn, depth: int, find) -> str | None:
    """``array <op> number`` (either side): numpy's promotion with a Python scalar (NEP 50)."""
    left, right = node.left, node.right
    if _number(left) is not None and _number(right) is None:
        left, right = right, left
    num = _number(right)
    if num is None:
        return None
    dtype = _visible_dtype(left, fn, depth + 1, find)
    if dtype is None:
        return None
    base = dtype.split(".")[-1].strip("'\"")
    if base in _FLOATS:
        return base  # float32 / 255. stays float32
    if base in _INT_DTYPES:
        if isinstance(node.op, ast.Div) or isinstance(num, float):
            return "float64"  # uint8 / 255 or uint8 * 1.0: numpy gives float64
        return base
    return None


def _number(node: ast.expr):
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        node = node.operand
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return node.value
    return None


def _is_image(node: ast.expr, fn, depth: int) -> bool:
    """A PIL image or an OpenCV array: ``Image.open(p).convert('RGB')``, or a local name assigned one."""
    if depth > 6:
        return False
    if isinstance(node, ast.Name):
        assigned = single_assignment(fn, node.id)
        return assigned is not None and _is_image(assigned, fn, depth + 1)
    if not isinstance(node, ast.Call):
        return False
    if dotted(node.func) in _UINT8_READERS:
        return True
    return isinstance(node.func, ast.Attribute) and node.func.attr in _PIL_METHODS \
        and _is_image(node.func.value, fn, depth + 1)


def _is_token_ids(node: ast.expr, fn, depth: int) -> bool:
    """Token ids: ``tokenizer.encode(text)``, ``enc['input_ids']``, ``[vocab.index(w) for w in words]``."""
    if depth > 6:
        return False
    if isinstance(node, ast.Name):
        assigned = single_assignment(fn, node.id)
        return assigned is not None and _is_token_ids(assigned, fn, depth + 1)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _TOKEN_METHODS:
        return True
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) and node.slice.value in _TOKEN_KEYS:
        return True
    if isinstance(node, ast.ListComp):
        elt = node.elt
        return (isinstance(elt, ast.Call) and dotted(elt.func) in ("int", "len")) or (
            isinstance(elt, ast.Call) and isinstance(elt.func, ast.Attribute) and elt.func.attr == "index")
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):  # ids + [pad] * n
        return _is_token_ids(node.left, fn, depth + 1)
    return False


def _helper_dtype(call: ast.Call, fn, depth: int, find) -> str | None:
    """The dtype a helper of the closure visibly returns: every ``return`` of it has the same visible dtype."""
    if not isinstance(call.func, ast.Name):
        return None
    found = find(call.func.id)
    if found is None or not isinstance(found[1], (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    mod, helper = found
    if helper is fn:
        return None
    path = getattr(mod, "path", None)

    def inner(name: str):  # names as the helper's own module sees them
        try:
            return find(name, path=path) if path else None
        except TypeError:  # a finder bound to one module only
            return None
    dtypes = {_visible_dtype(r.value, helper, depth + 1, inner) for r in own_returns(helper)}
    return dtypes.pop() if len(dtypes) == 1 else None


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
