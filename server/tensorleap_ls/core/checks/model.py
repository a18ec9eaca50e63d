"""6xx: the data side of the integration against the model that ``load_model`` loads.

Pure, like every check: the model's facts are read in the project interpreter by the LSP layer or
the CLI (``runtime/model_info.facts``) and come in as data, ``ctx.model_facts[path]``:
``{"path", "format", "inputs": [{"name", "shape", "dtype"}], "outputs": [...]}`` with batched shapes
(axis 0 the batch, None where the model leaves a dimension free), or ``{"error": why}``.

Static (``check``, here): TL600-TL607. From what a run observed (core/checks/model_run.py, called
through runtime/model_info.py): TL610, TL611, TL603. Which model file and which model calls:
core/checks/model_file.py.
Why each error is one: TL601 and TL602 are raised by code-loader 1.0.214's load_model proxy
(``_convert_onnx_inputs_to_correct_type``, ``validate_declared_prediction_types``; contract §2.3,
rules.md 45); TL604 only for k outside 0-9 (``NodeMappingType('Input10')`` raises at import; otherwise
a warning: the test's model call re-wires the encoders it feeds by position); TL605 is the SDK's own
``_warn_loss_inputs_not_wired_to_model`` ("crashes the platform model build"); TL607 is the load_model
proxy's ``_validate_result`` ("Supported models are Keras and onnxruntime only"; no model file needed);
TL610 is onnxruntime's "Got invalid dimensions" (Keras raises likewise). TL603 and TL611 are documented rules the SDK does
not check (contract §3.8 "labels length should equal output.shape[channel_dim]", rules.md 41).
"""

from __future__ import annotations

import ast

from tensorleap_ls.core import lazy
from tensorleap_ls.core.checks.base import CheckContext
from tensorleap_ls.core.checks.model_file import (  # noqa: F401 - model_path: read from here too (lsp)
    ModelCall, facts_of, input_feeds, io_names, model_calls, model_path)
from tensorleap_ls.core.checks.returns import own_returns, single_assignment
from tensorleap_ls.core.facts.nodes import under
from tensorleap_ls.core.codes import (
    CHANNEL_DIM_LAYOUT, LABELS_SIZE, LOAD_MODEL_UNSUPPORTED, LOSS_INPUT_NOT_FED, MODEL_FEED_NAMES, MODEL_INPUT_INDEX,
    MODEL_UNREADABLE, PREDICTION_COUNT,
)
from tensorleap_ls.core.fixdata import ExpectedSize, ModelName, Replacement, SessionCall
from tensorleap_ls.core.model import Binding, Finding, Kind, Severity, Span, Style
from tensorleap_ls.core.source.text import dotted

_KERAS_FORMATS = {"h5", "keras"}

difflib = lazy.Module("difflib")  # a near name is looked for only when one is missing


# --- static checks ---------------------------------------------------------------------------------
def check(ctx: CheckContext) -> list[Finding]:
    calls = model_calls(ctx)
    out = _loss_inputs_not_fed(ctx, calls) + _unsupported_model(ctx)
    known = facts_of(ctx)
    if known is None:
        return out + _input_index(ctx, None, "")
    facts, model, span = known
    if "error" in facts:
        out.append(Finding(MODEL_UNREADABLE, f"Model checks skipped: {model} cannot be read: {facts['error']}.", span,
                           data=ModelName(model)))
        return out
    out += _feedio_names(calls, facts, model)
    out += _predictions(ctx, facts, model)
    out += _input_index(ctx, facts, model)
    out += _channel_dims(ctx, facts, model)
    return out


def _feedio_names(calls: list[ModelCall], facts: dict, model: str) -> list[Finding]:
    names = io_names(facts.get("inputs", []))
    out = []
    for call in calls:
        if call.onnx and facts.get("format") == "onnx":
            unknown = [f for f in call.feeds if isinstance(f.key_name, str) and f.key_name not in names]
            for f in unknown:
                close = difflib.get_close_matches(f.key_name, names, n=1, cutoff=0.5)
                hint = f" Did you mean `{close[0]}`?" if close else ""
                quote = call.src.segment(f.key)[:1]
                out.append(Finding(MODEL_FEED_NAMES, f"`{f.key_name}` is not an input of {model} (its inputs: "
                                   f"{name_list(names)}): the SDK raises \"Input name(s) ['{f.key_name}'] do not match any "
                                   f"ONNX model input\".{hint}", call.src.span(f.key),
                                   data=Replacement(f"{quote}{close[0]}{quote}" if close and quote in "'\"" else None)))
            given = [names[f.key_name] if isinstance(f.key_name, int) and f.key_name < len(names) else f.key_name
                     for f in call.feeds]
            if unknown or any(not isinstance(g, str) for g in given):
                continue
            missing = [n for n in names if n not in given]
            if missing:
                out.append(Finding(MODEL_FEED_NAMES, f"The integration test does not feed {model}'s input(s) {name_list(missing)}: the "
                                   f"SDK raises \"Missing required input(s): {sorted(missing)}\".", call.src.span(call.container)))
            elif given != names:
                out.append(Finding(MODEL_FEED_NAMES, f"The inputs are fed in the order {name_list(given)} but {model} takes "
                                   f"{name_list(names)}: the SDK raises \"Input order mismatch\". Reorder the dict.",
                                   call.src.span(call.container)))
        elif not call.onnx and facts.get("format") in _KERAS_FORMATS and len(call.feeds) != len(names):
            out.append(Finding(MODEL_FEED_NAMES, f"{model} takes {len(names)} input(s) ({name_list(names)}) but the integration test "
                               f"passes {len(call.feeds)}: Keras raises on the first inference.",
                               call.src.span(call.container)))
    return out


def prediction_handlers(ctx: CheckContext) -> tuple[list[Binding], Span] | None:
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
    found = prediction_handlers(ctx)
    outputs = facts.get("outputs", [])
    if found is None or not found[0] or not outputs:
        return []
    handlers, span = found
    if len(handlers) != len(outputs) and handlers[0].style is Style.LEGACY:
        # no SDK check runs (no load_model proxy), and the model was found through the local test: a warning
        return [Finding(PREDICTION_COUNT, f"{len(handlers)} prediction(s) are added with `add_prediction` but {model} has "
                        f"{len(outputs)} output(s) ({name_list(io_names(outputs))}): the platform ties the i-th prediction "
                        "to model output i. Add one prediction per output, in output order.",
                        handlers[len(outputs)].reg_span if len(handlers) > len(outputs) else span,
                        severity=Severity.WARNING)]
    if len(handlers) != len(outputs):
        return [Finding(PREDICTION_COUNT, f"{len(handlers)} prediction type(s) are declared but {model} has {len(outputs)} "
                        f"output(s) ({name_list(io_names(outputs))}): the SDK raises \"number of declared prediction "
                        f"types({len(handlers)}) != number of model outputs({len(outputs)})\" on the first inference. "
                        "Declare one PredictionTypeHandler per output, in output order.",
                        handlers[len(outputs)].reg_span if len(handlers) > len(outputs) else span)]
    out = []
    for i, (h, o) in enumerate(zip(handlers, outputs)):
        f = labels_size(h, i, o.get("shape") or [], f"output {i} (`{o.get('name')}`) of {model}")
        if f is not None:
            out.append(f)
    return out


def labels_size(h: Binding, i: int, shape: list, what: str) -> Finding | None:
    labels = h.args.get("labels")
    cd_arg = h.args.get("channel_dim")
    cd = cd_arg.value if cd_arg is not None else -1
    if labels is None or not isinstance(labels.value, list) or not isinstance(cd, int) or isinstance(cd, bool):
        return None
    axis = cd if cd >= 0 else len(shape) + cd
    if not 0 < axis < len(shape) or not isinstance(shape[axis], int) or shape[axis] == len(labels.value):
        return None
    return Finding(LABELS_SIZE, f"`{h.name}` has {len(labels.value)} label(s) but {what} has size {shape[axis]} on "
                   f"channel_dim={cd} (shape {fmt_shape(shape)}): the platform names the classes from these labels.",
                   labels.span, data=ExpectedSize(shape[axis]))


def _input_index(ctx: CheckContext, facts: dict | None, model: str) -> list[Finding]:
    names = io_names(facts.get("inputs", [])) if facts else None
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
                               f"input(s) ({name_list(names)}), numbered from 0.", arg.span))
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
                           f"{fmt_shape(shape)}: use channel_dim={use}.", arg.span, data=Replacement(str(use))))
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
        for node in under(test.def_node, ast.Call):
            if _callee_name(node) not in losses:
                continue
            for a in list(node.args) + [k.value for k in node.keywords]:
                enc = mine[0].encoder_vars.get(a.id) if isinstance(a, ast.Name) else None
                if enc is None or id(enc) in fed or "model_input_index" in enc.args:
                    continue
                out.append(Finding(LOSS_INPUT_NOT_FED, f"The loss `{_callee_name(node)}` reads the input `{enc.name}`, which no model "
                                   "input receives: the SDK warns and the platform model build crashes. Feed it to the "
                                   "model, or give the loss a ground truth instead.", mine[0].src.span(a)))
    return out


# What load_model may visibly return that code-loader 1.0.214's ``_validate_result`` rejects (it accepts
# ``keras.Model`` / ``tf.keras.Model`` and ``onnxruntime.InferenceSession`` only): call -> (what, what to do).
_TORCH = "export it with `torch.onnx.export` and return `onnxruntime.InferenceSession(path)` on the .onnx file"
_TFLITE = ("return the Keras model it was converted from (`keras.models.load_model(path)`), or an ONNX export "
           "(tf2onnx) loaded with `onnxruntime.InferenceSession(path)`")
_ONNX = "load the same file with `onnxruntime.InferenceSession(path)`"
_UNSUPPORTED = {
    "torch.jit.load": ("a TorchScript module", _TORCH), "torch.jit.script": ("a TorchScript module", _TORCH),
    "torch.jit.trace": ("a TorchScript module", _TORCH), "torch.load": ("a pickled PyTorch object", _TORCH),
    "tensorflow.lite.Interpreter": ("a TFLite interpreter", _TFLITE),
    "tflite_runtime.interpreter.Interpreter": ("a TFLite interpreter", _TFLITE),
    "ai_edge_litert.interpreter.Interpreter": ("a LiteRT (TFLite) interpreter", _TFLITE),
    "onnx.load": ("an ONNX ModelProto, not a session", _ONNX),
    "onnx.load_model": ("an ONNX ModelProto, not a session", _ONNX),
}


def _unsupported_model(ctx: CheckContext) -> list[Finding]:
    """TL607: every return of the decorated load_model is visibly one of ``_UNSUPPORTED`` (the call, or a
    local name assigned once from it). A return we cannot see through (a helper, a wrapper, a name bound
    several times) or one branch that returns a session: nothing (the SDK is the oracle)."""
    out = []
    for b in ctx.of_kind(Kind.LOAD_MODEL):
        fn, mod = b.def_node, ctx.module_at(b.def_path)
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) or mod is None or mod.source is None:
            continue
        aliases = _import_aliases(mod, fn)
        shadowed = {m.name.split(".")[0] for m in ctx.modules.values()}  # a local module named torch, onnx...
        found = []
        for ret in own_returns(fn):
            value = ret.value
            call = single_assignment(fn, value.id) if isinstance(value, ast.Name) else value
            name = _qualified(call.func, aliases) if isinstance(call, ast.Call) else ""
            if name not in _UNSUPPORTED or name.split(".")[0] in shadowed:
                found = []
                break
            found.append((ret, call, name))
        for ret, call, name in found:
            value, (what, todo) = ret.value, _UNSUPPORTED[name]
            data = _session_call(fn, ret if ret.value is call else None, call, mod.source) if todo is _ONNX else None
            shown = f"`{value.id}`, " if isinstance(value, ast.Name) else ""
            out.append(Finding(LOAD_MODEL_UNSUPPORTED, f"`{fn.name}` returns {shown}{what} "
                               f"(`{mod.source.segment(call.func)}(...)`): code-loader accepts only a "
                               "Keras model or an onnxruntime `InferenceSession` and raises \"Supported models are Keras and "
                               f"onnxruntime only\" when load_model runs. To fix: {todo}.", mod.source.span(value),
                               data=data))
    return out


def _session_call(fn: ast.AST, ret: ast.Return | None, call: ast.Call, src) -> SessionCall | None:
    """Where ``onnx.load(path)`` becomes ``onnxruntime.InferenceSession(path)`` (one positional argument: the
    keywords differ), and the statement before which ``import onnxruntime`` goes; None when that statement
    does not start its line."""
    stmt = ret or next((n for n in ast.walk(fn) if isinstance(n, ast.Assign) and n.value is call), None)
    if stmt is None or len(call.args) != 1 or call.keywords:
        return None
    at, callee = src.span(stmt), src.span(call.func)
    if src.lines[at.line][:at.col].strip():
        return None
    return SessionCall([callee.line, callee.col, callee.end_line, callee.end_col], [at.line, at.col])


def _import_aliases(mod, fn: ast.AST) -> dict[str, str]:
    """Local name -> dotted name it imports, from the module's top-level imports and those of ``fn``."""
    out: dict[str, str] = {}
    first, last = fn.lineno, getattr(fn, "end_lineno", fn.lineno)
    for ref in mod.imports:
        if ref.level or not (ref.at_import or first <= ref.node.lineno <= last):
            continue
        if ref.bound is not None:  # import a.b (binds a) / import a.b as c
            out[ref.bound] = ref.module if ref.bound != ref.module.split(".")[0] else ref.bound
        for name, bound in ref.names:
            if name != "*":
                out[bound] = f"{ref.module}.{name}"
    return out


def _qualified(func: ast.expr, aliases: dict[str, str]) -> str:
    """``jit.load`` after ``from torch import jit`` -> ``torch.jit.load``; "" for a name no import binds."""
    head, _, rest = dotted(func).partition(".")
    full = aliases.get(head)
    return "" if full is None or "()" in rest else full + ("." + rest if rest else "")


def _callee_name(node: ast.Call) -> str:
    return dotted(node.func).rsplit(".", 1)[-1]


def fmt_shape(shape: list) -> str:
    dims = ["N" if i == 0 and d is None else ("?" if d is None else str(d)) for i, d in enumerate(shape)]
    return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"


def name_list(names: list) -> str:
    return ", ".join(f"`{n}`" for n in names) or "none"
