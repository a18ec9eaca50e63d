"""6xx: the data side of the integration against the model that ``load_model`` loads.

Pure, like every check: the model's facts are read in the project interpreter by the LSP layer or
the CLI (``runtime/model_info.facts``) and come in as data, ``ctx.model_facts[path]``:
``{"path", "format", "inputs": [{"name", "shape", "dtype"}], "outputs": [...]}`` with batched shapes
(axis 0 the batch, None where the model leaves a dimension free), or ``{"error": why}``.

Static (``check``): TL600-TL606. From what a run observed (``observed_findings``,
``prediction_findings``, called through runtime/model_info.py): TL610, TL611, TL603.
Why each error is one: TL601 and TL602 are raised by code-loader 1.0.214's load_model proxy
(``_convert_onnx_inputs_to_correct_type``, ``validate_declared_prediction_types``; contract §2.3,
rules.md 45); TL604 only for k outside 0-9 (``NodeMappingType('Input10')`` raises at import; otherwise
a warning: the test's model call re-wires the encoders it feeds by position); TL605 is the SDK's own
``_warn_loss_inputs_not_wired_to_model`` ("crashes the platform model build"); TL610 is onnxruntime's
"Got invalid dimensions" (Keras raises likewise). TL603 and TL611 are documented rules the SDK does
not check (contract §3.8 "labels length should equal output.shape[channel_dim]", rules.md 41).
"""

from __future__ import annotations

import ast
import copy
import difflib
import os
import re
from dataclasses import dataclass, field
from typing import Any

from tensorleap_ls.core.checks.base import CheckContext
from tensorleap_ls.core.fixes import fixer
from tensorleap_ls.core.model import Binding, Finding, Fix, Kind, Severity, Span, Style, TextEdit
from tensorleap_ls.core.project import eval_path, norm
from tensorleap_ls.core.source import dotted
from tensorleap_ls.core.codes import (
    CHANNEL_DIM_LAYOUT, LABELS_SIZE, LOSS_INPUT_NOT_FED, MODEL_FEED_NAMES, MODEL_INPUT_INDEX, MODEL_UNREADABLE,
    PREDICTION_COUNT, RUN_MODEL_INPUT_DTYPE, RUN_MODEL_INPUT_SHAPE,
)

# Model files the facts reader understands (runtime/model_info.py reads them).
MODEL_SUFFIXES = (".onnx", ".h5", ".keras", ".tflite", ".pt", ".pth", ".torchscript", ".ptl")
_PATH_KEYWORDS = {"path_or_bytes", "filepath", "model_path", "path", "f", "model_file"}
_KERAS_FORMATS = {"h5", "keras"}


# --- the model file ------------------------------------------------------------------------------
def model_path(bindings: list[Binding], modules: dict, root: str) -> tuple[str, Span] | None:
    """The model file the ``load_model`` function loads, when its path is a literal or statically
    resolvable (``os.path.join(os.path.dirname(__file__), 'model.onnx')``, module constants, local
    variables), with the span of the expression. None when it loads one of several files (a flag picks
    it): facts of the wrong model would give false errors."""
    found: dict[str, Span] = {}
    for b in bindings:
        if b.kind is not Kind.LOAD_MODEL or not isinstance(b.def_node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        mod = modules.get(b.def_path or "")
        if mod is None or mod.source is None:
            continue
        local = _local_assigns(b.def_node)
        inline = _Inline({k: v[0] for k, v in local.items() if len(v) == 1}, mod, modules, root)
        for node in ast.walk(b.def_node):
            if not isinstance(node, ast.Call):
                continue
            for arg in node.args[:1] + [k.value for k in node.keywords if k.arg in _PATH_KEYWORDS]:
                # a name the function binds several times (if/else): every value it may take
                values = local.get(arg.id, [arg]) if isinstance(arg, ast.Name) else [arg]
                for value in values:
                    path = eval_path(inline.visit(copy.deepcopy(value)), mod, root)
                    if path and path.endswith(MODEL_SUFFIXES):
                        found.setdefault(norm(path), mod.source.span(arg))
    return next(iter(found.items())) if len(found) == 1 else None


def _local_assigns(fn: ast.AST) -> dict[str, list[ast.expr]]:
    out: dict[str, list[ast.expr]] = {}
    for node in ast.walk(fn):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            out.setdefault(node.targets[0].id, []).append(node.value)
    return out


class _Inline(ast.NodeTransformer):
    """Replaces names bound inside the loader function by their value, and names imported from
    another module of the closure (``from cfg import *``) by the path they evaluate to there, so
    ``eval_path`` sees them."""

    def __init__(self, local: dict[str, ast.expr], mod, modules: dict, root: str, depth: int = 0):
        self.local, self.mod, self.modules, self.root, self.depth = local, mod, modules, root, depth

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if self.depth > 5 or node.id == "__file__":
            return node
        value = self.local.get(node.id)
        if value is not None:
            return _Inline(self.local, self.mod, self.modules, self.root, self.depth + 1).visit(copy.deepcopy(value))
        if node.id in self.mod.assigns:
            return node
        found = [m for m in self.modules.values() if m is not self.mod and node.id in getattr(m, "assigns", {})]
        path = eval_path(found[0].assigns[node.id], found[0], self.root) if len(found) == 1 else None
        return ast.copy_location(ast.Constant(path), node) if path else node


def facts_of(ctx: CheckContext) -> tuple[dict, str, Span] | None:
    """(facts, the model's name for messages, span of its path in load_model), when known."""
    found = model_path(ctx.bindings, ctx.modules, ctx.root)
    if found is None or found[0] not in ctx.model_facts:
        return None
    return ctx.model_facts[found[0]], os.path.relpath(found[0], ctx.root), found[1]


# --- what the integration test feeds the model ---------------------------------------------------
@dataclass
class Feed:
    position: int
    value: ast.expr
    key: ast.expr | None = None  # the ONNX dict key
    key_name: str | int | None = None  # a literal name, or i of ``model.get_inputs()[i].name``
    encoder: Binding | None = None


@dataclass
class ModelCall:
    node: ast.Call
    onnx: bool  # ``model.run(None, {...})``; else a Keras call on a list or one array
    container: ast.expr
    feeds: list[Feed]
    src: Any  # SourceFile of the test
    test: Binding
    encoder_vars: dict[str, Binding] = field(default_factory=dict)


def model_calls(ctx: CheckContext) -> list[ModelCall]:
    loaders = {b.function for b in ctx.bindings if b.kind is Kind.LOAD_MODEL and b.function}
    encoders = {b.function: b for b in ctx.bindings if b.kind is Kind.INPUT and b.function}
    out = []
    for t in ctx.of_kind(Kind.INTEGRATION_TEST):
        mod = ctx.modules.get(t.def_path or "")
        if not isinstance(t.def_node, (ast.FunctionDef, ast.AsyncFunctionDef)) or mod is None or mod.source is None:
            continue
        models: set[str] = set()
        enc_vars: dict[str, Binding] = {}
        dicts: dict[str, ast.Dict] = {}  # inputs = {'image': image}; model.run(None, inputs)
        for node in ast.walk(t.def_node):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                if isinstance(node.value, ast.Dict):
                    dicts[node.targets[0].id] = node.value
                called = _callee(node.value)
                if called in loaders:
                    models.add(node.targets[0].id)
                elif called in encoders:
                    enc_vars[node.targets[0].id] = encoders[called]

        def is_model(e: ast.expr) -> bool:
            return (isinstance(e, ast.Name) and e.id in models) or _callee(e) in loaders

        def encoder_of(e: ast.expr) -> Binding | None:
            return enc_vars.get(e.id) if isinstance(e, ast.Name) else encoders.get(_callee(e) or "")

        for node in ast.walk(t.def_node):
            if not isinstance(node, ast.Call):
                continue
            f = node.func
            if isinstance(f, ast.Attribute) and f.attr == "run" and is_model(f.value):
                feed = node.args[1] if len(node.args) > 1 else next(
                    (k.value for k in node.keywords if k.arg == "input_feed"), None)
                if isinstance(feed, ast.Name):
                    feed = dicts.get(feed.id)
                if not isinstance(feed, ast.Dict) or any(k is None for k in feed.keys):
                    continue
                feeds = [Feed(i, v, k, _key_name(k), encoder_of(v)) for i, (k, v) in enumerate(zip(feed.keys, feed.values))]
                out.append(ModelCall(node, True, feed, feeds, mod.source, t, enc_vars))
            elif (isinstance(f, ast.Name) and f.id in models) or (
                    isinstance(f, ast.Attribute) and f.attr in ("predict", "__call__", "predict_on_batch") and is_model(f.value)):
                if not node.args:
                    continue
                arg = node.args[0]
                items = arg.elts if isinstance(arg, (ast.List, ast.Tuple)) else [arg]
                feeds = [Feed(i, v, encoder=encoder_of(v)) for i, v in enumerate(items)]
                out.append(ModelCall(node, False, arg, feeds, mod.source, t, enc_vars))
    return out


def _callee(e: ast.expr) -> str | None:
    if isinstance(e, ast.Call):
        return dotted(e.func).rsplit(".", 1)[-1] or None
    return None


def _key_name(k: ast.expr | None) -> str | int | None:
    if isinstance(k, ast.Constant) and isinstance(k.value, str):
        return k.value
    # model.get_inputs()[i].name
    if isinstance(k, ast.Attribute) and k.attr == "name" and isinstance(k.value, ast.Subscript) \
            and isinstance(k.value.slice, ast.Constant) and isinstance(k.value.slice.value, int) \
            and isinstance(k.value.value, ast.Call) and dotted(k.value.value.func).endswith("get_inputs"):
        return k.value.slice.value
    return None


# --- static checks ---------------------------------------------------------------------------------
@fixer(MODEL_FEED_NAMES, CHANNEL_DIM_LAYOUT)
def _use_the_model_s(f: Finding, pa) -> list[Fix]:
    """The value the model's facts call for: its input name (TL601), the channel axis of its layout (TL606)."""
    new = f.data.get("replacement")
    title = f"Use the model's input name {new}" if f.code == MODEL_FEED_NAMES else f"Use channel_dim={new}"
    return [Fix(title, [TextEdit(f.span, new)], preferred=True)] if new else []


def check(ctx: CheckContext) -> list[Finding]:
    calls = model_calls(ctx)
    out = _loss_inputs_not_fed(ctx, calls)
    known = facts_of(ctx)
    if known is None:
        return out + _input_index(ctx, None, "")
    facts, model, span = known
    if "error" in facts:
        out.append(Finding(MODEL_UNREADABLE, f"Model checks skipped: {model} cannot be read: {facts['error']}.", span,
                           data={"model": model}))
        return out
    out += _feed_names(calls, facts, model)
    out += _predictions(ctx, facts, model)
    out += _input_index(ctx, facts, model)
    out += _channel_dims(ctx, facts, model)
    return out


def _names(xs: list[dict]) -> list[str]:
    return [x.get("name", "") for x in xs]


def _feed_names(calls: list[ModelCall], facts: dict, model: str) -> list[Finding]:
    names = _names(facts.get("inputs", []))
    out = []
    for call in calls:
        if call.onnx and facts.get("format") == "onnx":
            unknown = [f for f in call.feeds if isinstance(f.key_name, str) and f.key_name not in names]
            for f in unknown:
                close = difflib.get_close_matches(f.key_name, names, n=1, cutoff=0.5)
                hint = f" Did you mean `{close[0]}`?" if close else ""
                quote = call.src.segment(f.key)[:1]
                out.append(Finding(MODEL_FEED_NAMES, f"`{f.key_name}` is not an input of {model} (its inputs: "
                                   f"{_list(names)}): the SDK raises \"Input name(s) ['{f.key_name}'] do not match any "
                                   f"ONNX model input\".{hint}", call.src.span(f.key),
                                   data={"replacement": f"{quote}{close[0]}{quote}" if close and quote in "'\"" else None}))
            given = [names[f.key_name] if isinstance(f.key_name, int) and f.key_name < len(names) else f.key_name
                     for f in call.feeds]
            if unknown or any(not isinstance(g, str) for g in given):
                continue
            missing = [n for n in names if n not in given]
            if missing:
                out.append(Finding(MODEL_FEED_NAMES, f"The integration test does not feed {model}'s input(s) {_list(missing)}: the "
                                   f"SDK raises \"Missing required input(s): {sorted(missing)}\".", call.src.span(call.container)))
            elif given != names:
                out.append(Finding(MODEL_FEED_NAMES, f"The inputs are fed in the order {_list(given)} but {model} takes "
                                   f"{_list(names)}: the SDK raises \"Input order mismatch\". Reorder the dict.",
                                   call.src.span(call.container)))
        elif not call.onnx and facts.get("format") in _KERAS_FORMATS and len(call.feeds) != len(names):
            out.append(Finding(MODEL_FEED_NAMES, f"{model} takes {len(names)} input(s) ({_list(names)}) but the integration test "
                               f"passes {len(call.feeds)}: Keras raises on the first inference.",
                               call.src.span(call.container)))
    return out


def _handlers(ctx: CheckContext) -> tuple[list[Binding], Span] | None:
    """The prediction types in output order, and where they are declared; None when not all known."""
    for b in ctx.of_kind(Kind.LOAD_MODEL):
        arg = b.args.get("prediction_types")
        if arg is None:
            continue
        declared = [p for p in ctx.of_kind(Kind.PREDICTION) if p.style is Style.DECORATOR]
        if not isinstance(arg.value, list) or len(declared) != len(arg.value):
            return None
        return declared, arg.span
    legacy = [p for p in ctx.of_kind(Kind.PREDICTION) if p.style is Style.LEGACY]
    if not legacy or any(p.name is None for p in legacy):
        return None
    return legacy, legacy[-1].reg_span


def _predictions(ctx: CheckContext, facts: dict, model: str) -> list[Finding]:
    found = _handlers(ctx)
    outputs = facts.get("outputs", [])
    if found is None or not found[0] or not outputs:
        return []
    handlers, span = found
    if len(handlers) != len(outputs):
        return [Finding(PREDICTION_COUNT, f"{len(handlers)} prediction type(s) are declared but {model} has {len(outputs)} "
                        f"output(s) ({_list(_names(outputs))}): the SDK raises \"number of declared prediction "
                        f"types({len(handlers)}) != number of model outputs({len(outputs)})\" on the first inference. "
                        "Declare one PredictionTypeHandler per output, in output order.",
                        handlers[len(outputs)].reg_span if len(handlers) > len(outputs) else span)]
    out = []
    for i, (h, o) in enumerate(zip(handlers, outputs)):
        f = _labels_size(h, i, o.get("shape") or [], f"output {i} (`{o.get('name')}`) of {model}")
        if f is not None:
            out.append(f)
    return out


def _labels_size(h: Binding, i: int, shape: list, what: str) -> Finding | None:
    labels = h.args.get("labels")
    cd_arg = h.args.get("channel_dim")
    cd = cd_arg.value if cd_arg is not None else -1
    if labels is None or not isinstance(labels.value, list) or not isinstance(cd, int) or isinstance(cd, bool):
        return None
    axis = cd if cd >= 0 else len(shape) + cd
    if not 0 < axis < len(shape) or not isinstance(shape[axis], int) or shape[axis] == len(labels.value):
        return None
    return Finding(LABELS_SIZE, f"`{h.name}` has {len(labels.value)} label(s) but {what} has size {shape[axis]} on "
                   f"channel_dim={cd} (shape {_fmt(shape)}): the platform names the classes from these labels.",
                   labels.span, data={"expected": shape[axis]})


def _input_index(ctx: CheckContext, facts: dict | None, model: str) -> list[Finding]:
    names = _names(facts.get("inputs", [])) if facts else None
    out, seen = [], {}
    for b in ctx.of_kind(Kind.INPUT):
        arg = b.args.get("model_input_index")
        k = arg.value if arg is not None else None
        if not isinstance(k, int) or isinstance(k, bool):
            continue
        if k >= 10 or k < 0:
            out.append(Finding(MODEL_INPUT_INDEX, f"model_input_index={k}: the SDK supports model inputs 0 to 9 and raises at "
                               f"import ('Input{k}' is not a valid NodeMappingType).", arg.span, severity=Severity.ERROR))
        elif names is not None and k >= len(names):
            out.append(Finding(MODEL_INPUT_INDEX, f"model_input_index={k} names no input of {model}: it has {len(names)} "
                               f"input(s) ({_list(names)}), numbered from 0.", arg.span))
        elif k in seen:
            out.append(Finding(MODEL_INPUT_INDEX, f"model_input_index={k} is also claimed by `{seen[k]}`: each model input takes "
                               "one encoder.", arg.span))
        seen.setdefault(k, b.name or b.function)
    return out


def _channel_dims(ctx: CheckContext, facts: dict, model: str) -> list[Finding]:
    inputs = facts.get("inputs", [])
    feeds = input_feeds(ctx, facts)
    out = []
    for b in ctx.of_kind(Kind.INPUT):
        arg = b.args.get("channel_dim")
        cd = arg.value if arg is not None else None
        if id(b) not in feeds or not isinstance(cd, int) or isinstance(cd, bool):
            continue
        want = inputs[feeds[id(b)]]
        shape = want.get("shape") or []
        layout, axis = _layout(shape), (cd if cd >= 0 else len(shape) + cd)
        use = {"first": 1, "last": -1}.get(layout or "")
        if use is None or axis == (1 if layout == "first" else len(shape) - 1):
            continue
        out.append(Finding(CHANNEL_DIM_LAYOUT, f"`channel_dim={cd}` but {model}'s input `{want.get('name')}` is channels-{layout} "
                           f"{_fmt(shape)}: use channel_dim={use}.", arg.span, data={"replacement": str(use)}))
    return out


def _layout(shape: list) -> str | None:
    """"first" / "last" when one end of an image-like shape is a channel count and the other is not."""
    if len(shape) < 4:
        return None
    small = [isinstance(d, int) and 1 <= d <= 4 for d in (shape[1], shape[-1])]
    big = [isinstance(d, int) and d > 4 for d in (shape[1], shape[-1])]
    if small[0] and big[1]:
        return "first"
    if small[1] and big[0]:
        return "last"
    return None


def _loss_inputs_not_fed(ctx: CheckContext, calls: list[ModelCall]) -> list[Finding]:
    """An input encoder a loss reads but no model call receives stays a plain ``Input`` node."""
    losses = {b.function for b in ctx.of_kind(Kind.LOSS) if b.function}
    out = []
    for test in {id(c.test): c.test for c in calls}.values():
        mine = [c for c in calls if c.test is test]
        if any(f.encoder is None for c in mine for f in c.feeds):
            continue  # a model input fed from something we cannot follow: it may be that encoder
        fed = {id(f.encoder) for c in mine for f in c.feeds}
        for node in ast.walk(test.def_node):
            if not isinstance(node, ast.Call) or _callee_name(node) not in losses:
                continue
            for a in list(node.args) + [k.value for k in node.keywords]:
                enc = mine[0].encoder_vars.get(a.id) if isinstance(a, ast.Name) else None
                if enc is None or id(enc) in fed or "model_input_index" in enc.args:
                    continue
                out.append(Finding(LOSS_INPUT_NOT_FED, f"The loss `{_callee_name(node)}` reads the input `{enc.name}`, which no model "
                                   "input receives: the SDK warns and the platform model build crashes. Feed it to the "
                                   "model, or give the loss a ground truth instead.", mine[0].src.span(a)))
    return out


def _callee_name(node: ast.Call) -> str:
    return dotted(node.func).rsplit(".", 1)[-1]


# --- from what a run observed -------------------------------------------------------------------
_OBSERVED = re.compile(r"shape \(([\d, ]*)\), dtype (\w+)")


def input_feeds(ctx: CheckContext, facts: dict) -> dict[int, int]:
    """id(input encoder binding) -> index of the model input it feeds: by the integration test's model
    call, ``model_input_index``, the same name, then the rest in registration order when the counts agree."""
    names = _names(facts.get("inputs", []))
    encoders = list(ctx.of_kind(Kind.INPUT))
    out: dict[int, int] = {}
    for call in model_calls(ctx):
        for f in call.feeds:
            if isinstance(f.key_name, str):
                idx = names.index(f.key_name) if f.key_name in names else None
            elif isinstance(f.key_name, int) or f.key is None:  # get_inputs()[i].name, or a Keras list
                idx = f.key_name if isinstance(f.key_name, int) else f.position
            else:
                idx = None  # a key we cannot evaluate
            if f.encoder is not None and idx is not None and idx < len(names):
                out.setdefault(id(f.encoder), idx)
    for b in encoders:
        k = b.args["model_input_index"].value if "model_input_index" in b.args else None
        if id(b) in out:
            continue
        if isinstance(k, int) and not isinstance(k, bool) and 0 <= k < len(names):
            out[id(b)] = k
        elif b.name in names:
            out[id(b)] = names.index(b.name)
    # the rest in registration order, when as many encoders as model inputs are left
    rest, free = [b for b in encoders if id(b) not in out], [i for i in range(len(names)) if i not in out.values()]
    if rest and len(rest) == len(free):
        out.update({id(b): i for b, i in zip(rest, free)})
    return out


def observed_findings(ctx: CheckContext, observed: list) -> list[Finding]:
    """TL610/TL611: each input encoder's observed shape and dtype (``[kind, name, "shape (...), dtype
    ..."]`` from the child) against the model input it feeds."""
    known = facts_of(ctx)
    if known is None or "error" in known[0] or known[0].get("shapes_known") is False:
        return []
    facts, model, _ = known
    inputs = facts.get("inputs", [])
    seen = {(k, n): m.groups() for k, n, text in observed or [] if (m := _OBSERVED.search(str(text)))}
    feeds = input_feeds(ctx, facts)
    out = []
    for b in ctx.of_kind(Kind.INPUT):
        idx = feeds.get(id(b))
        got = seen.get(("input", b.name))
        if idx is None or got is None:
            continue
        shape = tuple(int(x) for x in got[0].replace(" ", "").split(",") if x)
        want, span = inputs[idx], b.def_span or b.reg_span
        advice = shape_advice(shape, want.get("shape") or [])
        if advice is not None:
            out.append(Finding(RUN_MODEL_INPUT_SHAPE, f"`{b.name}` gives {shape} but {model}'s input `{want.get('name')}` is "
                               f"{_fmt(want.get('shape') or [])}: {advice}.", span,
                               data={"observed": list(shape), "expected": want.get("shape")}))
        if got[1] == "float32" and want.get("dtype") not in (None, "float32"):
            out.append(Finding(RUN_MODEL_INPUT_DTYPE, f"`{b.name}` feeds {model}'s {want['dtype']} input `{want.get('name')}`: the SDK "
                               f"casts the float32 array to {want['dtype']}. Re-export the model with a float32 input and "
                               "cast inside it.", span))
    return out


def shape_advice(obs: tuple, want: list) -> str | None:
    """None when ``obs`` (unbatched) fits the batched model shape ``want``; else what to change."""
    if not want:
        return None
    batched = (1,) + tuple(obs)
    if _fits(batched, want):
        return None
    r = len(obs)
    if r >= 3:
        first, last = (r - 1,) + tuple(range(r - 1)), tuple(range(1, r)) + (0,)
        if _fits((1,) + tuple(obs[p] for p in first), want):
            return f"move the channel axis first (np.transpose(x, {first}))"
        if _fits((1,) + tuple(obs[p] for p in last), want):
            return f"move the channel axis last (np.transpose(x, {last}))"
    if _fits(batched + (1,), want):
        return "add a channel axis last (x[..., np.newaxis])"
    if _fits((1, 1) + tuple(obs), want):
        return "add a channel axis first (x[np.newaxis])"
    if r and obs[0] == 1 and _fits(tuple(obs), want):
        return "drop the leading axis of size 1: the platform adds the batch axis itself"
    return "the encoder and the model disagree on the shape (onnxruntime raises \"Got invalid dimensions\")"


def _fits(batched: tuple, want: list) -> bool:
    return len(batched) == len(want) and all(w is None or w == o for o, w in zip(batched[1:], want[1:]))


def prediction_findings(ctx: CheckContext, predictions: list) -> list[Finding]:
    """TL603 on the outputs a preview's forward pass produced (``{"index", "value": {"shape"}}``), where
    the model file leaves the size free."""
    found = _handlers(ctx)
    if found is None:
        return []
    handlers = found[0]
    out = []
    for p in predictions or []:
        i, shape = p.get("index"), (p.get("value") or {}).get("shape")
        if isinstance(i, int) and i < len(handlers) and isinstance(shape, list):
            f = _labels_size(handlers[i], i, shape, f"model output {i} in this sample's forward pass")
            if f is not None:
                out.append(f)
    return out


def _fmt(shape: list) -> str:
    dims = ["N" if i == 0 and d is None else ("?" if d is None else str(d)) for i, d in enumerate(shape)]
    return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"


def _list(names: list) -> str:
    return ", ".join(f"`{n}`" for n in names) or "none"
