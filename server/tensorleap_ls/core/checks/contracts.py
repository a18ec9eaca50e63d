"""2xx: the contract of one binding, as far as it is visible in the source.

Signatures, annotations, argument types of registrations and ``PreprocessResponse(...)``
calls, and the defaults the SDK warns about at run time; visible return values are in returns.py.

Finding.data: the classes core/codes.py registers per code (core/fixdata.py).
"""

from __future__ import annotations

import ast
import dataclasses
from typing import Iterator

from tensorleap_ls.core.checks.base import CheckContext, ScopedCheck
from tensorleap_ls.core.checks.returns import ann_name, returns
from tensorleap_ls.core.codes import (
    CHANNEL_DIM, DEFAULT_CHANNEL_DIM, DEFAULT_DIRECTION, DEFAULT_PREDICTION_TYPES, DEFAULT_STATE, DEPRECATED_LENGTH,
    ENCODER_SIGNATURE, HEATMAP_ARGS, INTEGRATION_TEST_SIGNATURE, METADATA_TYPE, METRIC_DIRECTION,
    MULTIPLE_SAMPLE_PREPROCESS, NO_ARGUMENTS, NOT_A_CLASS, OLD_METADATA_ORDER, PREDICTION_TYPES_TYPE, PREPROCESS_PARAMS,
    SAMPLE_ID_TYPE, STATE_TYPE, STRINGIZED_ANNOTATION, VISUALIZER_NO_ANNOTATION, VISUALIZER_RETURN_MISMATCH,
    VISUALIZER_TYPE,
)
from tensorleap_ls.core.fixdata import (
    ChannelDim, DefaultChannelDim, DefaultState, Function, FunctionKind, InsertAt, InsertKeyword, Keyword,
    MetadataOrder, StateMember, StringizedAnnotation, VisualizerAnnotation,
)
from tensorleap_ls.core.model import UNKNOWN, Binding, Finding, Kind, Severity, Span, Style, SymbolRef
from tensorleap_ls.core.facts.modules import has_tree, per_text
from tensorleap_ls.core.facts.nodes import kept_on, statement_calls
from tensorleap_ls.core.sdk.bundled import SAMPLE_FUNCTION_KINDS, TENSOR_FUNCTION_KINDS, VISUALIZER_CLASSES
from tensorleap_ls.core.source.text import dotted

_LABEL = {Kind.INPUT: "input encoder", Kind.GROUND_TRUTH: "ground-truth encoder", Kind.METADATA: "metadata function",
          Kind.VISUALIZER: "visualizer", Kind.METRIC: "metric", Kind.LOSS: "custom loss"}
_STATE_MEMBERS = ("training", "validation", "test", "unlabeled", "additional")


def _binding(ctx: CheckContext, b: Binding) -> list[Finding]:
    """One binding's contract: its signature, what it returns, its arguments (its own findings only)."""
    out: list[Finding] = []
    mod = ctx.module_at(b.def_path)
    src = getattr(mod, "source", None)
    node = b.def_node
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and src is not None:
        out.extend(_signature(b, node, src))
        out.extend(returns(b, node, src, lambda name, path=mod.path: _find(ctx, path, name)))
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
                           b.reg_span, data=Function(b.name)))
    elif b.kind is Kind.CUSTOM_LAYER:
        out.extend(_custom_layer(b))
    return out


def _project(ctx: CheckContext) -> list[Finding]:
    """PreprocessResponse(...) calls in every module (once per module text)."""
    out: list[Finding] = []
    responses = []
    for mod in ctx.modules.values():
        if has_tree(mod):
            responses.extend(f for f in _preprocess_responses(mod) if not _in_simulation(ctx, f))
    out.extend(_once_per_root_cause(ctx, responses))
    return out


def _once_per_root_cause(ctx: CheckContext, findings: list[Finding]) -> list[Finding]:
    """TL219 once per project (every `length=` is one habit, fixed everywhere at once) and TL232 once per
    preprocess (its subsets are one decision); the other sites are the finding's related information."""
    out: list[Finding] = []
    first: dict[object, Finding] = {}
    for f in findings:
        if f.code == DEPRECATED_LENGTH:
            key: object = DEPRECATED_LENGTH
        elif f.code == DEFAULT_STATE:
            key = (DEFAULT_STATE, _enclosing(ctx, f.span))
        else:
            out.append(f)
            continue
        if key not in first:
            first[key] = f = dataclasses.replace(f, related=[])  # the per-text cache keeps its own copy
            out.append(f)
        else:
            first[key].related.append((f.span, "`length=` here too" if f.code == DEPRECATED_LENGTH
                                       else "`state` not set here either"))
    for f in first.values():
        if f.related and f.code == DEPRECATED_LENGTH:
            f.message = (f"`length=` is deprecated ({len(f.related) + 1} places in the project; it still works): pass "
                         "`sample_ids=` (and `sample_id_type=int` for integers). The quick fix changes every place.")
        elif f.related:
            f.message += f" ({len(f.related) + 1} subsets of this preprocess.)"
    return out


def _enclosing(ctx: CheckContext, span: Span) -> object:
    """The preprocess whose body holds ``span``, else the top-level function of its module that does."""
    for b in ctx.of_kind(Kind.PREPROCESS, Kind.UNLABELED_PREPROCESS):
        node = b.def_node
        if b.def_path == span.path and node is not None and node.lineno - 1 <= span.line <= (node.end_lineno or 0) - 1:
            return ("preprocess", b.def_path, node.lineno)
    mod = ctx.modules.get(span.path)
    for stmt in getattr(getattr(mod, "tree", None), "body", []):
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and \
                stmt.lineno - 1 <= span.line <= (stmt.end_lineno or 0) - 1:
            return (span.path, stmt.lineno)
    return (span.path, span.line)


def _find(ctx: CheckContext, path: str, name: str):
    """(module, def) of a function as module ``path`` sees ``name``: ctx.find_function, then the closure's
    name lookup (star imports of helper modules: ``from helpers import *``)."""
    found = ctx.find_function(path, name)
    mod = ctx.modules.get(path)
    if found is None and mod is not None and ctx.resolver is not None:
        hit = ctx.resolver.lookup(mod, name)
        if hit is not None and hit[0] == "def":
            found = (hit[2], hit[1])  # ("def", node, the module that defines it)
    return found


check = ScopedCheck("contracts", _binding, _project)


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
    data = FunctionKind(node.name, b.kind.value)
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
        spr = [a for a in params + node.args.kwonlyargs if ann_name(a.annotation) == "SamplePreprocessResponse"]
        if len(spr) > 1:
            yield Finding(MULTIPLE_SAMPLE_PREPROCESS, "Only one argument can be annotated `SamplePreprocessResponse`.",
                          src.span(spr[1]), data=data)


# --- registration arguments ------------------------------------------------------------------
def _visualizer(ctx: CheckContext, b: Binding) -> Iterator[Finding]:
    vtype = b.args.get("visualizer_type")
    member = None
    data = Function(b.function)
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
    base = (node.name, expected, member)
    if getattr(mod, "has_future_annotations", False):
        future = _future_import(mod.tree)
        if future is not None:
            yield Finding(STRINGIZED_ANNOTATION, "`from __future__ import annotations` turns the visualizers' return annotations into "
                          "strings; the SDK then rejects them. Remove it from this file.", src.span(future),
                          data=StringizedAnnotation(*base, future_line=future.lineno - 1))
            return
    if ann is None:
        yield Finding(VISUALIZER_NO_ANNOTATION, f"Visualizer `{node.name}` has no return annotation"
                      + (f"; annotate `-> {expected}`." if expected else "."),
                      src.def_name_span(node), data=VisualizerAnnotation(*base, None))
        return
    if isinstance(ann, ast.Constant) and isinstance(ann.value, str):
        yield Finding(STRINGIZED_ANNOTATION, f"The return annotation of `{node.name}` is a string; the SDK needs the class itself.",
                      src.span(ann), data=StringizedAnnotation(*base, annotation=ann.value))
        return
    name = ann_name(ann).rsplit(".", 1)[-1]
    if expected and name != expected:
        yield Finding(VISUALIZER_RETURN_MISMATCH, f"`{node.name}` is registered as `LeapDataType.{member}` but annotated `-> {name}`; "
                      f"it must return `{expected}`.", src.span(ann), data=VisualizerAnnotation(*base, name))
    heat = b.args.get("heatmap_function") or b.args.get("heatmap_visualizer")
    if heat is not None and hasattr(heat.value, "node") and isinstance(heat.value.node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        hn = heat.value.node
        vis_args = [a.arg for a in _params(node) if ann_name(a.annotation) != "SamplePreprocessResponse"]
        h_args = [a.arg for a in _params(hn) if ann_name(a.annotation) not in ("RawInputsForHeatmap", "SamplePreprocessResponse")]
        if vis_args != h_args:
            yield Finding(HEATMAP_ARGS, f"Heatmap function `{hn.name}` takes ({', '.join(h_args)}) but visualizer "
                          f"`{node.name}` takes ({', '.join(vis_args)}): the names must match.", heat.span,
                          data=FunctionKind(hn.name, "visualizer"))


def _future_import(tree: ast.Module | None) -> ast.ImportFrom | None:
    if tree is None:
        return None
    for stmt in tree.body:
        if isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__" and any(a.name == "annotations" for a in stmt.names):
            return stmt
    return None


def _call_end(b: Binding) -> tuple[int, int] | None:
    """Where to insert a keyword argument: just before the closing parenthesis of the registration."""
    span = b.reg_span
    if isinstance(b.reg_node, ast.Call):
        return span.end_line, max(span.end_col - 1, 0)
    return None


def _channel_dim(b: Binding) -> Iterator[Finding]:
    arg = b.args.get("channel_dim")
    data = ChannelDim(b.function, b.kind.value, b.style.value)
    if arg is None:
        if b.style is Style.DECORATOR:
            yield Finding(DEFAULT_CHANNEL_DIM, "`channel_dim` is not set: the SDK defaults it to -1 (channels last) and warns.",
                          b.reg_span, data=DefaultChannelDim(b.function, b.kind.value, b.style.value, _call_end(b)))
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
                          b.reg_span, data=InsertKeyword(b.function, _call_end(b)))
        return
    v = arg.value
    if isinstance(v, SymbolRef) and v.qualname.startswith("MetricDirection."):
        return
    if isinstance(v, dict) and all(isinstance(x, SymbolRef) and x.qualname.startswith("MetricDirection.") for x in v.values()):
        return
    if not _wrong_constant(v, "MetricDirection"):
        return
    yield Finding(METRIC_DIRECTION, f"`direction` must be `MetricDirection.Upward` / `Downward` (or a dict of them), got "
                  f"`{arg.text}`.", arg.span, data=Function(b.function))


def _metadata(b: Binding) -> Iterator[Finding]:
    if b.style is Style.LEGACY and isinstance(b.reg_node, ast.Call):
        args = b.reg_node.args
        if len(args) >= 3:
            second, third = b.args.get("name"), b.args.get("metadata_type")
            if second is not None and isinstance(second.value, SymbolRef) and "DatasetMetadataType" in second.value.qualname:
                yield Finding(OLD_METADATA_ORDER, "Old `set_metadata(function, DatasetMetadataType.x, name)` argument order: the "
                              "SDK now takes `(function, name, metadata_type=None)` and raises a TypeError.",
                              b.reg_span, data=MetadataOrder(b.args["function"].text if "function" in b.args else "",
                                                 second.text, third.text if third else ""))
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
                      data=Function(b.function))


def _load_model(b: Binding) -> Iterator[Finding]:
    arg = b.args.get("prediction_types")
    if arg is None:
        yield Finding(DEFAULT_PREDICTION_TYPES, "`tensorleap_load_model` without prediction types: declare one `PredictionTypeHandler` "
                      "per model output.", b.reg_span, data=Function(b.function))
        return
    v = arg.value
    if v is UNKNOWN or isinstance(v, list):
        return
    yield Finding(PREDICTION_TYPES_TYPE, f"`prediction_types` must be a list of `PredictionTypeHandler`, got `{arg.text}`.",
                  arg.span, data=Function(b.function))


def _custom_layer(b: Binding) -> Iterator[Finding]:
    node = b.def_node
    if node is None:
        return
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        span = b.def_span or b.reg_span
        yield Finding(NOT_A_CLASS, f"`{node.name}` is a function; a custom layer is a Keras layer class with a `call` method.",
                      span, data=FunctionKind(node.name, b.kind.value))
    elif isinstance(node, ast.ClassDef) and not any(
            isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef)) and s.name == "call" for s in node.body):
        if not node.bases or all(dotted(base).endswith(("Layer", "Model")) for base in node.bases):
            yield Finding(NOT_A_CLASS, f"Custom layer `{node.name}` has no `call` method; the SDK reads its arguments from it.",
                          b.def_span or b.reg_span, data=FunctionKind(node.name, b.kind.value))


# --- PreprocessResponse(...) anywhere in the closure -----------------------------------------
@per_text("preprocess_responses", needle="PreprocessResponse", empty=list)
def _preprocess_responses(mod) -> list[Finding]:
    """The ``PreprocessResponse(...)`` calls of a module: they depend on its text only (each statement's on its
    own text: kept on it, facts/nodes.py)."""
    out: list[Finding] = []
    for st, calls in statement_calls(mod):
        out += kept_on(st, "_tl_responses", mod.path, lambda calls=calls: list(_response_findings(mod, calls)))
    return out


def _response_findings(mod, calls: list) -> Iterator[Finding]:
    src = mod.source
    for node in calls:
        if not dotted(node.func).endswith("PreprocessResponse"):
            continue
        if dotted(node.func).endswith("SamplePreprocessResponse"):
            continue
        kws = {k.arg: k.value for k in node.keywords if k.arg}
        insert_at = (src.span(node).end_line, max(src.span(node).end_col - 1, 0))
        state = kws.get("state")
        if state is None:
            if not any(k.arg is None for k in node.keywords):  # **kwargs may carry it
                yield Finding(DEFAULT_STATE, "`state` is not set: the subset is inferred from its position in the list and "
                              "the SDK warns. Pass `state=DataStateType.<subset>`.", src.span(node.func),
                              data=DefaultState(insert_at, None))
        else:
            text = dotted(state)
            if isinstance(state, ast.Constant) and isinstance(state.value, str):
                member = state.value if state.value in _STATE_MEMBERS else None
                yield Finding(STATE_TYPE, f"`state={src.segment(state)}` is a string; the SDK asserts a `DataStateType` "
                              "member.", src.span(state), data=StateMember(member))
            elif text.startswith("DataStateEnum.") or ".DataStateEnum." in text:
                yield Finding(STATE_TYPE, "`DataStateEnum` is an internal key; `state` takes a `DataStateType` member.",
                              src.span(state), data=StateMember(text.rsplit(".", 1)[-1]))
        if "length" in kws:
            yield Finding(DEPRECATED_LENGTH, "`length=` is deprecated; pass `sample_ids=` (and `sample_id_type=int` for integers).",
                          src.span(kws["length"]), data=Keyword("length"))
        ids = kws.get("sample_ids")
        if ids is not None and "sample_id_type" not in kws and _visibly_ints(ids):
            yield Finding(SAMPLE_ID_TYPE, "Integer `sample_ids` need `sample_id_type=int` (the SDK assumes str and asserts).",
                          src.span(ids), data=InsertAt(insert_at))


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
