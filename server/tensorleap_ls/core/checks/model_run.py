"""TL610, TL611 and TL603 from what a run observed: the input encoders' shapes and dtypes of a dynamic
run, the predictions of a preview's forward pass, against the model's facts (core/checks/model.py has
the static checks and the reasons each code is what it is). Called through runtime/model_info.py."""

from __future__ import annotations

import re

from tensorleap_ls.core.checks.base import CheckContext
from tensorleap_ls.core.checks.model import fmt_shape, labels_size, prediction_handlers
from tensorleap_ls.core.checks.model_file import facts_of, input_feeds
from tensorleap_ls.core.codes import RUN_MODEL_INPUT_DTYPE, RUN_MODEL_INPUT_SHAPE
from tensorleap_ls.core.fixdata import ObservedShape
from tensorleap_ls.core.model import Finding, Kind

_OBSERVED = re.compile(r"shape \(([\d, ]*)\), dtype (\w+)")


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
                               f"{fmt_shape(want.get('shape') or [])}: {advice}.", span,
                               data=ObservedShape(list(shape), want.get("shape"))))
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
    found = prediction_handlers(ctx)
    if found is None:
        return []
    handlers = found[0]
    out = []
    for p in predictions or []:
        i, shape = p.get("index"), (p.get("value") or {}).get("shape")
        if isinstance(i, int) and i < len(handlers) and isinstance(shape, list):
            f = labels_size(handlers[i], i, shape, f"model output {i} in this sample's forward pass")
            if f is not None:
                out.append(f)
    return out
