"""2xx: the contract of one binding, as far as it is visible in the source.

Signatures, annotations, argument types of registrations and ``PreprocessResponse(...)``
calls, visible return values, and the defaults the SDK warns about at run time.

Finding.data keys (for quick fixes):
  TL201-TL206            {"function", "kind"}
  TL210, TL214           {"function", "kind", "annotation"}
  TL211, TL213           {"function", "expected": Leap class or None, "visualizer_type": member or None,
                          "annotation": written annotation or None}
  TL212                  {"future_line": 0-based line of the import}
  TL215                  {"function"}
  TL216, TL230           {"function", "kind", "style"}; TL230 also {"insert_at": [line, col]} (before the ')')
  TL217                  {"member": suggested DataStateType member or None}
  TL218                  {"insert_at": [line, col]}
  TL219                  {"keyword": "length"}
  TL220                  {"function_text", "type_text", "name_text"}
  TL221, TL222, TL223,
  TL224, TL225           {"function", "kind"}
  TL231                  {"function", "insert_at": [line, col]}
  TL232                  {"insert_at": [line, col], "member": suggested member or None}
  TL233                  {"function"}
"""

from __future__ import annotations

import ast
import os
from typing import Iterator

from tensorleap_ls.core.checks.base import CheckContext
from tensorleap_ls.core.source import dotted
from tensorleap_ls.core.modules import calls_of
from tensorleap_ls.core.model import UNKNOWN, Binding, Finding, Kind, Severity, Span, Style, SymbolRef
from tensorleap_ls.core.sdk import SAMPLE_FUNCTION_KINDS, TENSOR_FUNCTION_KINDS, VISUALIZER_CLASSES
from tensorleap_ls.core.codes import (
    CHANNEL_DIM, DEFAULT_CHANNEL_DIM, DEFAULT_DIRECTION, DEFAULT_PREDICTION_TYPES, DEFAULT_STATE,
    DEPRECATED_LENGTH, ENCODER_DTYPE, ENCODER_NOT_ARRAY, ENCODER_RETURN_ANNOTATION, ENCODER_SIGNATURE,
    GT_RETURNS_NONE, HEATMAP_ARGS, INTEGRATION_TEST_SIGNATURE, METADATA_ANNOTATION, METADATA_NON_SCALAR,
    METADATA_TYPE, METRIC_DIRECTION, MULTIPLE_SAMPLE_PREPROCESS, NOT_A_CLASS, NO_ARGUMENTS, OLD_METADATA_ORDER,
    PREDICTION_TYPES_TYPE, PREPROCESS_PARAMS, PREPROCESS_TUPLE, SAMPLE_ID_TYPE, STATE_TYPE, STRINGIZED_ANNOTATION,
    VISUALIZER_NO_ANNOTATION, VISUALIZER_RETURN_MISMATCH, VISUALIZER_TYPE,
)

_SCALARS = {"int", "float", "str", "bool", "None", "Optional", "Union", "np.float32", "np.float64", "np.int64",
            "Dict", "dict", "Any", "numpy.float32"}
_NON_SCALARS = {"list", "List", "tuple", "Tuple", "np.ndarray", "ndarray", "numpy.ndarray", "Sequence", "set", "Set"}
_ARRAY_ANN = {"np.ndarray", "ndarray", "numpy.ndarray", "NDArray", "npt.NDArray", "numpy.typing.NDArray", "Any",
              "np.typing.NDArray"}
_LABEL = {Kind.INPUT: "input encoder", Kind.GROUND_TRUTH: "ground-truth encoder", Kind.METADATA: "metadata function",
          Kind.VISUALIZER: "visualizer", Kind.METRIC: "metric", Kind.LOSS: "custom loss"}
_STATE_MEMBERS = ("training", "validation", "test", "unlabeled", "additional")


def check(ctx: CheckContext) -> list[Finding]:
    out: list[Finding] = []
    for b in ctx.bindings:
        mod = ctx.module_at(b.def_path)
        src = getattr(mod, "source", None)
        node = b.def_node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and src is not None:
            out.extend(_signature(b, node, src))
            out.extend(_returns(b, node, src, lambda name, path=mod.path: ctx.find_function(path, name)))
        if b.kind is Kind.VISUALIZER:
            out.extend(_visualizer(ctx, b))
        elif b.kind is Kind.INPUT:
            out.extend(_channel_dim(b))
        elif b.kind is Kind.METRIC:
            out.extend(_direction(b))
        elif b.kind is Kind.METADATA:
            out.extend(_metadata(b))
        elif b.kind is Kind.LOAD_MODEL:
            out.extend(_load_model(b))
        elif b.kind is Kind.PREDICTION and b.style is Style.DECORATOR and "channel_dim" not in b.args:
            out.append(Finding(DEFAULT_PREDICTION_TYPES, "`PredictionTypeHandler` without `channel_dim`: the SDK defaults it to -1 and warns.",
                               b.reg_span, data={"function": b.name}))
        elif b.kind is Kind.CUSTOM_LAYER:
            out.extend(_custom_layer(b))
    for mod in ctx.modules.values():
        if mod.tree is not None and mod.source is not None:
            memo = getattr(mod, "memo", {})
            if "preprocess_responses" not in memo:  # depends on this module's text only
                memo["preprocess_responses"] = list(_preprocess_responses(mod))
            out.extend(f for f in memo["preprocess_responses"] if not _in_simulation(ctx, f))
    return out


def _in_simulation(ctx: CheckContext, f: Finding) -> bool:
    """A simulation's response gets state `additional` from the SDK, silently: no TL232 there."""
    return f.code == DEFAULT_STATE and any(
        b.def_path == f.span.path and b.def_node is not None
        and b.def_node.lineno - 1 <= f.span.line <= (b.def_node.end_lineno or 0) - 1
        for b in ctx.of_kind(Kind.SIMULATION))


# --- signatures ------------------------------------------------------------------------------
def _params(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.arg]:
    return node.args.posonlyargs + node.args.args


def _params_span(src, node) -> Span:
    """From the function name to the end of its parameter list."""
    name = src.def_name_span(node)
    args = node.args
    last = (args.posonlyargs + args.args + args.kwonlyargs + [a for a in (args.vararg, args.kwarg) if a])
    if last:
        end = src.span(last[-1])
        return Span(name.path, name.line, name.col, end.end_line, end.end_col)
    return name


def _signature(b: Binding, node, src) -> Iterator[Finding]:
    params = _params(node)
    required = len(params) - len(node.args.defaults)
    data = {"function": node.name, "kind": b.kind.value}
    if b.kind in (Kind.PREPROCESS, Kind.UNLABELED_PREPROCESS, Kind.LOAD_MODEL):
        if required > 0 or node.args.kwonlyargs and any(d is None for d in node.args.kw_defaults):
            what = "preprocess" if b.kind is not Kind.LOAD_MODEL else "load_model"
            yield Finding(PREPROCESS_PARAMS, f"`{node.name}` takes parameters; {what} functions are called with none.",
                          _params_span(src, node), data=data)
    elif b.kind in SAMPLE_FUNCTION_KINDS:
        if node.args.vararg is None and (required > 2 or len(params) < 2):
            yield Finding(ENCODER_SIGNATURE, f"`{node.name}` takes {len(params)} parameter(s); a {_LABEL[b.kind]} takes exactly "
                          "`(sample_id, preprocess)`.", _params_span(src, node), data=data)
    elif b.kind is Kind.INTEGRATION_TEST:
        if node.args.vararg is None and (required > 2 or len(params) < 2):
            yield Finding(INTEGRATION_TEST_SIGNATURE, f"`{node.name}` takes {len(params)} parameter(s); the integration test takes "
                          "`(sample_id, preprocess)`.", _params_span(src, node), data=data)
    elif b.kind in TENSOR_FUNCTION_KINDS:
        if not params and node.args.vararg is None and not node.args.kwonlyargs:
            yield Finding(NO_ARGUMENTS, f"`{node.name}` takes no argument; a {_LABEL.get(b.kind, b.kind.value)} receives the "
                          "arrays it is wired to.", _params_span(src, node), data=data)
        spr = [a for a in params + node.args.kwonlyargs if _ann_name(a.annotation) == "SamplePreprocessResponse"]
        if len(spr) > 1:
            yield Finding(MULTIPLE_SAMPLE_PREPROCESS, "Only one argument can be annotated `SamplePreprocessResponse`.",
                          src.span(spr[1]), data=data)


# --- return values ---------------------------------------------------------------------------
def _returns(b: Binding, node, src, find=lambda name: None) -> Iterator[Finding]:
    data = {"function": node.name, "kind": b.kind.value}
    ann = node.returns
    ann_name = _ann_name(ann)
    if b.kind in (Kind.INPUT, Kind.GROUND_TRUTH) and ann is not None and not isinstance(ann, ast.Constant):
        if ann_name and ann_name not in _ARRAY_ANN and not ann_name.endswith("ndarray") and not ann_name.endswith("NDArray"):
            yield Finding(ENCODER_RETURN_ANNOTATION, f"`{node.name}` is annotated to return `{src.segment(ann)}`; an encoder returns one "
                          "`np.ndarray` of float32.", src.span(ann), data={**data, "annotation": src.segment(ann)})
    if b.kind is Kind.METADATA and ann is not None and ann_name in _NON_SCALARS:
        yield Finding(METADATA_ANNOTATION, f"`{node.name}` is annotated to return `{src.segment(ann)}`; metadata returns a scalar or a "
                      "flat dict of scalars.", src.span(ann), data={**data, "annotation": src.segment(ann)})
    for ret in _own_returns(node):
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


def _own_returns(node) -> Iterator[ast.Return]:
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
                      "(add `.astype(np.float32)`).", src.span(value), data={**data, "dtype": dtype})


_RESULT_KINDS = {"list": "list", "List": "list", "tuple": "tuple", "Tuple": "tuple", "dict": "dict", "Dict": "dict",
                 "str": "str", "None": "None"}


def _helper_result(value: ast.expr, fn, find) -> tuple[str, str, str] | None:
    """(helper name, kind, where) when ``value`` is the result of a helper (of the project or an installed
    package) that visibly returns a list, tuple, dict, str or None; None when nothing is certain."""
    if isinstance(value, ast.Name):
        value = _single_assignment(fn, value.id)
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
        return _RESULT_KINDS.get(_ann_name(fn.returns).split("[")[0]) if not isinstance(fn.returns, ast.Constant) \
            else ("None" if fn.returns.value is None else None)
    if any(isinstance(n, (ast.Yield, ast.YieldFrom)) for n in ast.walk(fn)):
        return None
    kinds = set()
    for ret in _own_returns(fn):
        value = ret.value
        if isinstance(value, ast.Name):
            assigned = _single_assignment(fn, value.id)
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
        assigned = _single_assignment(fn, value.id)
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


def _single_assignment(fn, name: str) -> ast.expr | None:
    found = []
    for n in ast.walk(fn):
        if isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in n.targets):
            found.append(n.value)
        elif isinstance(n, (ast.AugAssign, ast.AnnAssign)) and isinstance(n.target, ast.Name) and n.target.id == name:
            found.append(None)
    return found[0] if len(found) == 1 else None


def _is_array_call(value: ast.expr) -> bool:
    return isinstance(value, ast.Call) and dotted(value.func) in ("np.array", "np.asarray", "numpy.array", "np.zeros")


# --- registration arguments ------------------------------------------------------------------
def _visualizer(ctx: CheckContext, b: Binding) -> Iterator[Finding]:
    vtype = b.args.get("visualizer_type")
    member = None
    data = {"function": b.function}
    if vtype is not None:
        v = vtype.value
        if isinstance(v, SymbolRef) and v.qualname.startswith("LeapDataType."):
            member = v.attr
        elif _wrong_constant(v, "LeapDataType"):
            yield Finding(VISUALIZER_TYPE, f"`visualizer_type` must be a `LeapDataType` member, got `{vtype.text}`.",
                          vtype.span, data=data)
    node = b.def_node
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return
    mod = ctx.modules.get(b.def_path or "")
    if mod is None or mod.source is None:
        return
    src = mod.source
    expected = VISUALIZER_CLASSES.get(member) if member else None
    ann = node.returns
    base = {"function": node.name, "expected": expected, "visualizer_type": member}
    if getattr(mod, "has_future_annotations", False):
        future = _future_import(mod.tree)
        if future is not None:
            yield Finding(STRINGIZED_ANNOTATION, "`from __future__ import annotations` turns the visualizers' return annotations into "
                          "strings; the SDK then rejects them. Remove it from this file.", src.span(future),
                          data={**base, "future_line": future.lineno - 1})
            return
    if ann is None:
        yield Finding(VISUALIZER_NO_ANNOTATION, f"Visualizer `{node.name}` has no return annotation"
                      + (f"; annotate `-> {expected}`." if expected else "."),
                      src.def_name_span(node), data={**base, "annotation": None})
        return
    if isinstance(ann, ast.Constant) and isinstance(ann.value, str):
        yield Finding(STRINGIZED_ANNOTATION, f"The return annotation of `{node.name}` is a string; the SDK needs the class itself.",
                      src.span(ann), data={**base, "annotation": ann.value, "future_line": None})
        return
    name = _ann_name(ann).rsplit(".", 1)[-1]
    if expected and name != expected:
        yield Finding(VISUALIZER_RETURN_MISMATCH, f"`{node.name}` is registered as `LeapDataType.{member}` but annotated `-> {name}`; "
                      f"it must return `{expected}`.", src.span(ann), data={**base, "annotation": name})
    heat = b.args.get("heatmap_function") or b.args.get("heatmap_visualizer")
    if heat is not None and hasattr(heat.value, "node") and isinstance(heat.value.node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        hn = heat.value.node
        vis_args = [a.arg for a in _params(node) if _ann_name(a.annotation) != "SamplePreprocessResponse"]
        h_args = [a.arg for a in _params(hn) if _ann_name(a.annotation) not in ("RawInputsForHeatmap", "SamplePreprocessResponse")]
        if vis_args != h_args:
            yield Finding(HEATMAP_ARGS, f"Heatmap function `{hn.name}` takes ({', '.join(h_args)}) but visualizer "
                          f"`{node.name}` takes ({', '.join(vis_args)}): the names must match.", heat.span,
                          data={"function": hn.name, "kind": "visualizer"})


def _future_import(tree: ast.Module | None) -> ast.ImportFrom | None:
    if tree is None:
        return None
    for stmt in tree.body:
        if isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__" and any(a.name == "annotations" for a in stmt.names):
            return stmt
    return None


def _call_end(b: Binding) -> list[int] | None:
    """Where to insert a keyword argument: just before the closing parenthesis of the registration."""
    span = b.reg_span
    if isinstance(b.reg_node, ast.Call):
        return [span.end_line, max(span.end_col - 1, 0)]
    return None


def _channel_dim(b: Binding) -> Iterator[Finding]:
    arg = b.args.get("channel_dim")
    data = {"function": b.function, "kind": b.kind.value, "style": b.style.value}
    if arg is None:
        if b.style is Style.DECORATOR:
            yield Finding(DEFAULT_CHANNEL_DIM, "`channel_dim` is not set: the SDK defaults it to -1 (channels last) and warns.",
                          b.reg_span, data={**data, "insert_at": _call_end(b)})
        return
    v = arg.value
    if isinstance(v, int) and not isinstance(v, bool) and (v == 0 or v < -1):
        sev = Severity.ERROR if b.style is Style.DECORATOR else Severity.WARNING
        yield Finding(CHANNEL_DIM, f"`channel_dim={v}` is invalid: use -1 (channels last, NHWC) or a positive axis of the "
                      "batched tensor (1 for NCHW).", arg.span, severity=sev, data=data)


def _direction(b: Binding) -> Iterator[Finding]:
    arg = b.args.get("direction")
    if arg is None:
        if b.style is Style.DECORATOR:
            yield Finding(DEFAULT_DIRECTION, "Metric `direction` is not set: the SDK defaults it to Downward and warns.",
                          b.reg_span, data={"function": b.function, "insert_at": _call_end(b)})
        return
    v = arg.value
    if isinstance(v, SymbolRef) and v.qualname.startswith("MetricDirection."):
        return
    if isinstance(v, dict) and all(isinstance(x, SymbolRef) and x.qualname.startswith("MetricDirection.") for x in v.values()):
        return
    if not _wrong_constant(v, "MetricDirection"):
        return
    yield Finding(METRIC_DIRECTION, f"`direction` must be `MetricDirection.Upward` / `Downward` (or a dict of them), got "
                  f"`{arg.text}`.", arg.span, data={"function": b.function})


def _metadata(b: Binding) -> Iterator[Finding]:
    if b.style is Style.LEGACY and isinstance(b.reg_node, ast.Call):
        args = b.reg_node.args
        if len(args) >= 3:
            second, third = b.args.get("name"), b.args.get("metadata_type")
            if second is not None and isinstance(second.value, SymbolRef) and "DatasetMetadataType" in second.value.qualname:
                yield Finding(OLD_METADATA_ORDER, "Old `set_metadata(function, DatasetMetadataType.x, name)` argument order: the "
                              "SDK now takes `(function, name, metadata_type=None)` and raises a TypeError.",
                              b.reg_span, data={"function_text": b.args["function"].text if "function" in b.args else "",
                                                "type_text": second.text, "name_text": third.text if third else ""})
                return
    arg = b.args.get("metadata_type")
    if arg is None:
        return
    v = arg.value
    bad = _wrong_constant(v, "DatasetMetadataType") if not isinstance(v, dict) else any(
        _wrong_constant(x, "DatasetMetadataType") for x in v.values())
    if v is not None and bad:
        yield Finding(METADATA_TYPE, f"`metadata_type` should be a `DatasetMetadataType` member (or a dict of them), got "
                      f"`{arg.text}`: the SDK stores it unchecked as the type of a None value.", arg.span,
                      data={"function": b.function})


def _load_model(b: Binding) -> Iterator[Finding]:
    arg = b.args.get("prediction_types")
    if arg is None:
        yield Finding(DEFAULT_PREDICTION_TYPES, "`tensorleap_load_model` without prediction types: declare one `PredictionTypeHandler` "
                      "per model output.", b.reg_span, data={"function": b.function})
        return
    v = arg.value
    if v is UNKNOWN or isinstance(v, list):
        return
    yield Finding(PREDICTION_TYPES_TYPE, f"`prediction_types` must be a list of `PredictionTypeHandler`, got `{arg.text}`.",
                  arg.span, data={"function": b.function})


def _custom_layer(b: Binding) -> Iterator[Finding]:
    node = b.def_node
    if node is None:
        return
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        span = b.def_span or b.reg_span
        yield Finding(NOT_A_CLASS, f"`{node.name}` is a function; a custom layer is a Keras layer class with a `call` method.",
                      span, data={"function": node.name, "kind": b.kind.value})
    elif isinstance(node, ast.ClassDef) and not any(
            isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef)) and s.name == "call" for s in node.body):
        if not node.bases or all(dotted(base).endswith(("Layer", "Model")) for base in node.bases):
            yield Finding(NOT_A_CLASS, f"Custom layer `{node.name}` has no `call` method; the SDK reads its arguments from it.",
                          b.def_span or b.reg_span, data={"function": node.name, "kind": b.kind.value})


# --- PreprocessResponse(...) anywhere in the closure -----------------------------------------
def _preprocess_responses(mod) -> Iterator[Finding]:
    src = mod.source
    for node in calls_of(mod):
        if not dotted(node.func).endswith("PreprocessResponse"):
            continue
        if dotted(node.func).endswith("SamplePreprocessResponse"):
            continue
        kws = {k.arg: k.value for k in node.keywords if k.arg}
        insert_at = [src.span(node).end_line, max(src.span(node).end_col - 1, 0)]
        state = kws.get("state")
        if state is None:
            if not any(k.arg is None for k in node.keywords):  # **kwargs may carry it
                yield Finding(DEFAULT_STATE, "`state` is not set: the subset is inferred from its position in the list and "
                              "the SDK warns. Pass `state=DataStateType.<subset>`.", src.span(node.func),
                              data={"insert_at": insert_at, "member": None})
        else:
            text = dotted(state)
            if isinstance(state, ast.Constant) and isinstance(state.value, str):
                member = state.value if state.value in _STATE_MEMBERS else None
                yield Finding(STATE_TYPE, f"`state={src.segment(state)}` is a string; the SDK asserts a `DataStateType` "
                              "member.", src.span(state), data={"member": member})
            elif text.startswith("DataStateEnum.") or ".DataStateEnum." in text:
                yield Finding(STATE_TYPE, "`DataStateEnum` is an internal key; `state` takes a `DataStateType` member.",
                              src.span(state), data={"member": text.rsplit(".", 1)[-1]})
        if "length" in kws:
            yield Finding(DEPRECATED_LENGTH, "`length=` is deprecated; pass `sample_ids=` (and `sample_id_type=int` for integers).",
                          src.span(kws["length"]), data={"keyword": "length"})
        ids = kws.get("sample_ids")
        if ids is not None and "sample_id_type" not in kws and _visibly_ints(ids):
            yield Finding(SAMPLE_ID_TYPE, "Integer `sample_ids` need `sample_id_type=int` (the SDK assumes str and asserts).",
                          src.span(ids), data={"insert_at": insert_at})


def _visibly_ints(node: ast.expr) -> bool:
    if isinstance(node, (ast.List, ast.Tuple)) and node.elts:
        return all(isinstance(e, ast.Constant) and isinstance(e.value, int) and not isinstance(e.value, bool)
                   for e in node.elts)
    if isinstance(node, ast.Call):
        f = dotted(node.func)
        if f == "range":
            return True
        if f in ("list", "np.arange", "numpy.arange") and node.args:
            return f != "list" or _visibly_ints(node.args[0])
    if isinstance(node, ast.ListComp):
        return _visibly_ints(node.generators[0].iter) and isinstance(node.elt, ast.Name)
    return False


_ENUM_NAMES = ("LeapDataType", "MetricDirection", "DataStateType", "DataStateEnum", "DatasetMetadataType")


def _wrong_constant(v, enum: str) -> bool:
    """True when ``v`` is visibly not a member of ``enum``: a literal, or a member of another SDK enum.
    Unknown values and names we cannot see through are given the benefit of the doubt."""
    if v is UNKNOWN or v is None and enum == "DatasetMetadataType":
        return False
    if isinstance(v, SymbolRef):
        head = v.qualname.split(".")[0]
        return head in _ENUM_NAMES and head != enum
    return isinstance(v, (str, int, float, bool, list)) or v is None


def _ann_name(ann: ast.expr | None) -> str:
    if ann is None:
        return ""
    if isinstance(ann, ast.Subscript):
        return _ann_name(ann.value)
    if isinstance(ann, (ast.Name, ast.Attribute)):
        return dotted(ann)
    if isinstance(ann, ast.Constant) and isinstance(ann.value, str):
        return ann.value
    return ""
