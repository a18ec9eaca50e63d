"""Contracts of the SDK's advanced registrars (TL240-TL245, TL120 for their duplicates).

Simulations, element instances, false positives, custom latent spaces and the autoregressive
hooks: each rule is one that code-loader 1.0.214 enforces (it raises at decoration, in its
``set_*`` method, or in ``leap_binder.check()``); the expected signatures and companions come
from the registrar table (core/sdk/bundled.py).

Finding.data: the classes core/codes.py registers per code (core/fixdata.py).
"""

from __future__ import annotations

import ast
from typing import Iterator

from tensorleap_ls.core.fixdata import Companion, FunctionKind, NameKind, OfKind
from tensorleap_ls.core.checks.base import CheckContext, ScopedCheck
from tensorleap_ls.core.model import Binding, Finding, Kind, Severity, Style
from tensorleap_ls.core.sdk.bundled import Registrar, contract_of, registrar_of
from tensorleap_ls.core.source.text import dotted
from tensorleap_ls.core.codes import (
    ADVANCED_SIGNATURE, AUTOREGRESSIVE_CONFLICT, DUPLICATE_NAME, IGNORED_ARGUMENT, MISSING_COMPANION,
    REGISTRAR_ARGUMENT, SIMULATION_PARAMS,
)

_AGGREGATIONS = ("last_step", "mean")  # AUTOREGRESSIVE_LATENT_SPACE_AGGREGATIONS
_CHAIN_ARGS = ("inputs", "outputs", "state")  # AUTOREGRESSIVE_IMPLICIT_ARG_NAMES
_SIM_TYPES = ("float", "int", "str", "string")  # sim_config.PARAM_TYPE_MAP (as strings)
# (legacy add_autoregressive_* share these contracts: rules compare contract_of() names)
_AUTOREGRESSIVE_USERS = ("tensorleap_autoregressive_metric", "tensorleap_autoregressive_loss",
                         "tensorleap_autoregressive_visualizer")


def _binding(ctx: CheckContext, b: Binding) -> list[Finding]:
    """One registration against its registrar's contract: arity, latent space, chain arguments, simulation."""
    reg = registrar_of(b)
    if reg is None:
        return []
    out: list[Finding] = []
    contract = contract_of(reg)
    node = b.def_node if isinstance(b.def_node, (ast.FunctionDef, ast.AsyncFunctionDef)) else None
    if node is not None and contract.signature:
        out.extend(_arity(b, node, contract))
    if node is not None and contract.name == "tensorleap_custom_latent_space" and b.style is Style.DECORATOR:
        out.extend(_latent_space_kind(b, node))
    if node is not None and contract.name in _AUTOREGRESSIVE_USERS:
        out.extend(_chain_args(b, node, contract))
    if contract.name == "tensorleap_simulation":
        out.extend(_simulation(b, node))
    out.extend(_arguments(b, contract))
    return out


def _project(ctx: CheckContext) -> list[Finding]:
    """What the registrations say together: duplicates, latent spaces, companions, autoregressive hooks."""
    regs = [(b, registrar_of(b)) for b in ctx.bindings]
    regs = [(b, r) for b, r in regs if r is not None]
    out: list[Finding] = []
    out.extend(_duplicates(regs))
    out.extend(_latent_spaces(ctx))
    out.extend(_companions(ctx, regs))
    out.extend(_autoregressive(ctx, regs))
    return out


check = ScopedCheck("registrars", _binding, _project)


def _by(regs, *names: str) -> list[Binding]:
    return [b for b, r in regs if contract_of(r).name in names]


def _params(node) -> list[ast.arg]:
    return node.args.posonlyargs + node.args.args


def _def_span(b: Binding):
    return b.def_span or b.reg_span


# --- signatures ----------------------------------------------------------------------------------
def _arity(b: Binding, node, contract: Registrar) -> Iterator[Finding]:
    """The SDK calls these positionally with exactly ``contract.signature``."""
    params = _params(node)
    n = len(contract.signature)
    required = len(params) - len(node.args.defaults)
    exact = contract.name == "tensorleap_instance_custom_latent_space"  # getfullargspec: exactly 3 at decoration
    ok = (len(params) == n) if exact else (required <= n and (len(params) >= n or node.args.vararg is not None))
    if not ok:
        yield Finding(ADVANCED_SIGNATURE, f"`{node.name}` takes {len(params)} positional parameter(s); `{contract.name}` calls it "
                      f"with {n}: `({', '.join(contract.signature)})`.", _def_span(b),
                      data=FunctionKind(node.name, b.kind.value))


def _annotation_is(node: ast.expr | None, *names: str) -> bool:
    return node is not None and dotted(node).rsplit(".", 1)[-1] in names


def _latent_space_kind(b: Binding, node) -> Iterator[Finding]:
    """_classify_custom_latent_space_signature: dataset- or model-computed, from the annotations."""
    params = _params(node)
    span = _def_span(b)
    data = FunctionKind(node.name, b.kind.value)
    pre = [p.arg for p in params if _annotation_is(p.annotation, "PreprocessResponse")]
    pre += [p.arg for p in node.args.kwonlyargs if _annotation_is(p.annotation, "PreprocessResponse")]
    if pre:
        if [p.arg for p in params[1:2]] != pre[:1] or len(pre) > 1:
            yield Finding(ADVANCED_SIGNATURE, f"`{node.name}` is dataset-computed (it takes a `PreprocessResponse`), so it is called "
                          f"as `{node.name}(sample_id, preprocess)`: the `PreprocessResponse` must be the second "
                          "positional parameter, and the only one.", span, data=data)
        return
    annotated = [p for p in params + node.args.kwonlyargs if p.annotation is not None]
    if len(params) == 2 and params[1].annotation is None:
        yield Finding(ADVANCED_SIGNATURE, f"`{node.name}({params[0].arg}, {params[1].arg})`: `{params[1].arg}` has no annotation, so "
                      "the SDK cannot tell a dataset-computed latent space from a model-computed one and raises. Annotate "
                      f"it: `{params[1].arg}: PreprocessResponse` (per sample) or `np.ndarray` (model tensors).",
                      span, data=data)
    elif len(params) > 2 and not annotated:
        yield Finding(ADVANCED_SIGNATURE, f"`{node.name}` has {len(params)} parameters and none is annotated: the SDK cannot tell a "
                      "dataset-computed latent space from a model-computed one and raises. Annotate them "
                      "(`preprocess: PreprocessResponse` second, or `np.ndarray` model tensors).", span, data=data)


def _chain_args(b: Binding, node, contract: Registrar) -> Iterator[Finding]:
    names = [p.arg for p in _params(node)]
    if not any(n in _CHAIN_ARGS for n in names):
        yield Finding(ADVANCED_SIGNATURE, f"`{node.name}` declares none of the chain arguments `inputs`, `outputs`, `state`: "
                      f"`{contract.name}` needs at least one (the platform feeds them from the finished chain).",
                      _def_span(b), data=FunctionKind(node.name, b.kind.value))


# --- simulations ---------------------------------------------------------------------------------
def _simulation(b: Binding, node) -> Iterator[Finding]:
    arg = b.args.get("sim_params") or b.args.get("sim_config_raw")
    config = arg.value if arg is not None else None
    data = FunctionKind(b.function, b.kind.value)
    if isinstance(config, dict):
        problem = _sim_config_problem(config)
        if problem:
            yield Finding(SIMULATION_PARAMS, f"Invalid `sim_params`: {problem} (the SDK raises when it parses them).", arg.span,
                          data=data)
            return
    if node is None or b.style is not Style.DECORATOR or not isinstance(config, dict):
        return
    if not all(isinstance(k, str) for k in config):
        return
    expected = set(config) | {"N", "seed"}
    have = {p.arg for p in _params(node) + node.args.kwonlyargs}
    missing, extra = sorted(expected - have), sorted(have - expected)
    if missing or extra:
        parts = ([f"missing {', '.join(f'`{m}`' for m in missing)}"] if missing else []) + \
                ([f"unexpected {', '.join(f'`{e}`' for e in extra)}"] if extra else [])
        yield Finding(SIMULATION_PARAMS, f"`{node.name}` must take exactly the `sim_params` keys plus `N` and `seed`: "
                      f"{'; '.join(parts)}. The SDK raises at decoration.", _def_span(b), data=data)


def _sim_config_problem(config: dict) -> str | None:
    """parse_sim_config's checks, on a literal config (UNKNOWN parts pass)."""
    if not config:
        return "it must have at least one parameter"
    for name, param in config.items():
        if not isinstance(param, dict):
            continue
        if "type" not in param:
            return f"parameter `{name}` has no `type`"
        t = param["type"]  # a string here; the builtins float/int/str are accepted too
        if isinstance(t, str) and t not in _SIM_TYPES:
            return f"parameter `{name}` has the unsupported type {t!r} (float, int, str)"
        if "bounds" not in param:
            return f"parameter `{name}` has no `bounds`"
        bounds = param["bounds"]
        if not isinstance(bounds, dict) or not isinstance(param["type"], str):
            continue
        if param["type"] in ("float", "int"):
            if "min" not in bounds or "max" not in bounds:
                return f"parameter `{name}`'s bounds need `min` and `max`"
            lo, hi = bounds["min"], bounds["max"]
            if isinstance(lo, (int, float)) and isinstance(hi, (int, float)) and lo >= hi:
                return f"parameter `{name}`: min ({lo}) must be < max ({hi})"
        elif "values" not in bounds:
            return f"parameter `{name}`'s bounds need `values`"
        elif bounds["values"] == []:
            return f"parameter `{name}`'s `values` must not be empty"
    return None


# --- argument values -----------------------------------------------------------------------------
def _arguments(b: Binding, contract: Registrar) -> Iterator[Finding]:
    data = FunctionKind(b.function, b.kind.value)
    if contract.name == "tensorleap_autoregressive_step":
        if b.style is Style.DECORATOR and not isinstance(b.reg_node, ast.Call):
            yield Finding(REGISTRAR_ARGUMENT, "`tensorleap_autoregressive_step` must be called with parentheses: "
                          "`@tensorleap_autoregressive_step()`.", b.reg_span, data=data)
        arg = b.args.get("latent_space_aggregation")
        if arg is not None and isinstance(arg.value, str) and arg.value not in _AGGREGATIONS:
            yield Finding(REGISTRAR_ARGUMENT, f"Unknown `latent_space_aggregation` {arg.value!r}: use 'last_step' or 'mean'.",
                          arg.span, data=data)
    yield from _connects_to(b, contract, data)
    arg = b.args.get("use_ls_for_analysis")
    if arg is not None and b.style is Style.DECORATOR and isinstance(arg.node, ast.Constant) \
            and not isinstance(arg.value, bool):
        yield Finding(REGISTRAR_ARGUMENT, f"`use_ls_for_analysis` must be a bool, not `{arg.text}`.", arg.span, data=data)


def _connects_to(b: Binding, contract: Registrar, data: dict) -> Iterator[Finding]:
    """A loss's `connects_to` is a dict {name: [decorated encoders]} (the SDK calls `.items()` and reads each
    destination's `node_mapping` at decoration); an instance metric's is a str or a list/tuple/set of str."""
    arg = b.args.get("connects_to")
    node = arg.node if arg is not None else None
    if node is None or (isinstance(node, ast.Constant) and node.value is None):
        return
    if contract.name == "tensorleap_custom_loss":
        if isinstance(node, (ast.List, ast.Tuple, ast.Set, ast.Constant, ast.JoinedStr)):
            yield Finding(REGISTRAR_ARGUMENT, f"`connects_to={arg.text}`: a custom loss takes a dict "
                          "`{name: [decorated encoder, ...]}` (the SDK raises at decoration).", arg.span, data=data)
        elif isinstance(node, ast.Dict):
            for value in node.values:
                names = [e for e in getattr(value, "elts", []) if isinstance(e, ast.Constant)]
                if names:
                    yield Finding(REGISTRAR_ARGUMENT, "`connects_to` lists the decorated encoders themselves, not their names "
                                  f"(`{ast.unparse(names[0])}`): the SDK reads each one's `node_mapping` at decoration.",
                                  arg.span, data=data)
                    break
    elif contract.name == "tensorleap_custom_instances_metric":
        bad = isinstance(node, (ast.Dict, ast.Constant)) and not (isinstance(node, ast.Constant) and isinstance(node.value, str))
        bad = bad or any(isinstance(e, ast.Constant) and not isinstance(e.value, str) for e in getattr(node, "elts", []))
        if bad:
            yield Finding(REGISTRAR_ARGUMENT, f"`connects_to={arg.text}`: an instance metric takes a name or a list of names "
                          "(the SDK raises at decoration).", arg.span, data=data)


# --- custom latent spaces (set_custom_latent_space, both styles) --------------------------------
_MAX_LATENT_SPACES = 10  # MAX_CUSTOM_LATENT_SPACES
_LEGACY_LATENT_NAME = "custom_latent_space"  # custom_latent_space_attribute: set_custom_latent_space's default name


def _latent_spaces(ctx: CheckContext) -> Iterator[Finding]:
    spaces = list(ctx.of_kind(Kind.CUSTOM_LATENT_SPACE))
    seen: dict[str, Binding] = {}
    flagged: Binding | None = None
    for i, b in enumerate(spaces):
        name = _latent_name(b) if b.style is Style.DECORATOR else (b.name if "name" in b.args else _LEGACY_LATENT_NAME)
        data = NameKind(name, b.kind.value)
        if name is not None and name in seen:
            f = Finding(DUPLICATE_NAME, f"A custom latent space named `{name}` is already registered: the SDK raises at import.",
                        b.name_span or b.reg_span, severity=Severity.ERROR, data=data)
            f.related.append((seen[name].name_span or seen[name].reg_span, "first registered here"))
            yield f
        elif name is not None:
            seen[name] = b
        if i == _MAX_LATENT_SPACES:
            yield Finding(REGISTRAR_ARGUMENT, f"More than {_MAX_LATENT_SPACES} custom latent spaces: the SDK raises at the "
                          f"{_MAX_LATENT_SPACES + 1}th.", b.reg_span, data=data)
        arg = b.args.get("use_ls_for_analysis")
        if arg is None or arg.value is not True:
            continue
        if _instance_aware(b):
            yield Finding(IGNORED_ARGUMENT, "`use_ls_for_analysis=True` is not supported on an instance latent space: the SDK "
                          "ignores it with a warning.", arg.span, data=data)
        elif flagged is not None:
            f = Finding(REGISTRAR_ARGUMENT, f"`use_ls_for_analysis=True` is already set on `{_latent_name(flagged)}`: only one "
                        "custom latent space may set it (the SDK raises).", arg.span, data=data)
            f.related.append((flagged.args["use_ls_for_analysis"].span, "set here"))
            yield f
        else:
            flagged = b


# --- duplicates the SDK's set_* methods reject (both styles) -------------------------------------
def _duplicates(regs) -> Iterator[Finding]:
    groups = (("tensorleap_false_positive_instances_encoder", False, "only one false-positive instances encoder can be defined"),
              ("tensorleap_autoregressive_step", False, "only one autoregressive step hook is allowed"),
              ("tensorleap_false_positive_empty_gt", True, "an empty ground truth for `{}` is already defined"),
              ("tensorleap_false_positive_custom_latent_space", True, "a false-positive latent space `{}` is already defined"),
              ("tensorleap_simulation", True, "a simulation named `{}` already exists"))
    for name, by_name, msg in groups:
        seen: dict[object, Binding] = {}
        for b in _by(regs, name):
            key = b.name if by_name else None
            if by_name and key is None:
                continue
            if key in seen:
                f = Finding(DUPLICATE_NAME, msg.format(key).capitalize() + ": the SDK raises at import.",
                            b.name_span or b.reg_span, severity=Severity.ERROR,
                            data=NameKind(key, b.kind.value))
                f.related.append((seen[key].name_span or seen[key].reg_span, "first registered here"))
                yield f
            else:
                seen[key] = b


# --- companions (leap_binder.check()) ------------------------------------------------------------
def _latent_name(b: Binding) -> str | None:
    """A custom latent space's name defaults to its function's name."""
    return b.name if b.name is not None or "name" in b.args else b.function


def _companions(ctx: CheckContext, regs) -> Iterator[Finding]:
    fp = _by(regs, "tensorleap_false_positive_instances_encoder")
    if not fp:
        return
    gts = list(ctx.of_kind(Kind.GROUND_TRUTH))
    empties = _by(regs, "tensorleap_false_positive_empty_gt")
    gt_names = [g.name for g in gts]
    if None not in gt_names and all(e.name is not None for e in empties):
        missing = [n for n in gt_names if n not in {e.name for e in empties}]
        for name in missing:
            yield Finding(MISSING_COMPANION, f"A false-positive instances encoder needs a `tensorleap_false_positive_empty_gt('{name}')` "
                          f"for the ground truth `{name}`: `leap_binder.check()` raises without it.", fp[0].reg_span,
                          data=Companion("tensorleap_false_positive_empty_gt", name,
                                         _gt_shape(next(g for g in gts if g.name == name))))
        for e in empties:
            if e.name not in gt_names:
                yield Finding(MISSING_COMPANION, f"`{e.name}` names no ground-truth encoder (registered: "
                              f"{', '.join(f'`{n}`' for n in gt_names) or 'none'}): `leap_binder.check()` raises.",
                              e.name_span or e.reg_span, data=Companion(name=e.name))
    spaces = [b for b in ctx.of_kind(Kind.CUSTOM_LATENT_SPACE)]
    if any(_latent_name(s) is None for s in spaces):
        return
    instance = {_latent_name(s) for s in spaces if _instance_aware(s)}
    for b in _by(regs, "tensorleap_false_positive_custom_latent_space"):
        if b.name is not None and b.name not in instance:
            taken = b.name in {_latent_name(s) for s in spaces}  # then renaming, not a new space, is the fix
            yield Finding(MISSING_COMPANION, f"`{b.name}` is not an instance custom latent space "
                          "(`tensorleap_instance_custom_latent_space`): `leap_binder.check()` raises.",
                          b.name_span or b.reg_span,
                          data=Companion(name=b.name) if taken else
                          Companion("tensorleap_instance_custom_latent_space", b.name))


def _instance_aware(b: Binding) -> bool:
    reg = registrar_of(b)
    if reg is not None and reg.name == "tensorleap_instance_custom_latent_space":
        return True
    arg = b.args.get("instance_aware")
    return arg is not None and arg.value is True


def _gt_shape(gt: Binding) -> str | None:
    """An expression of the ground truth's shape inside a `(sample_id, preprocess)` stub: its own output's."""
    return f"np.shape({gt.function}(sample_id, preprocess))" if gt.function and gt.function.isidentifier() else None


# --- autoregressive integrations (validate_autoregressive_setup) --------------------------------
def _autoregressive(ctx: CheckContext, regs) -> Iterator[Finding]:
    steps = _by(regs, "tensorleap_autoregressive_step")
    if not steps:
        for b in _by(regs, *_AUTOREGRESSIVE_USERS):
            yield Finding(MISSING_COMPANION, f"`{registrar_of(b).name}` needs a `tensorleap_autoregressive_step` hook (it consumes "
                          "the chain the hook drives): `leap_binder.check()` raises.", b.reg_span,
                          data=Companion("tensorleap_autoregressive_step", b.name))
        return
    conflicts = ((Kind.INPUT, "input encoders (the step hook is the only source of model inputs)"),
                 (Kind.SIMULATION, "simulations"),
                 (Kind.INSTANCE_MASKS, "element instances"),
                 (Kind.CUSTOM_LATENT_SPACE, "custom latent spaces (they cannot observe the chain)"))
    for kind, what in conflicts:
        for b in ctx.of_kind(kind):
            yield Finding(AUTOREGRESSIVE_CONFLICT, f"An autoregressive integration cannot have {what}: `leap_binder.check()` raises. "
                          "Remove this or the `tensorleap_autoregressive_step` hook.", b.reg_span,
                          data=OfKind(kind.value))
    for b in _by(regs, "tensorleap_false_positive_instances_encoder"):
        yield Finding(AUTOREGRESSIVE_CONFLICT, "An autoregressive integration cannot have element instances (false positives): "
                      "`leap_binder.check()` raises.", b.reg_span, data=OfKind(b.kind.value))
    if not any(ctx.of_kind(Kind.PREDICTION)):
        yield Finding(AUTOREGRESSIVE_CONFLICT, "An autoregressive integration must declare prediction types "
                      "(`tensorleap_load_model(prediction_types=[...])`): `leap_binder.check()` raises.",
                      steps[0].reg_span, data=OfKind(Kind.AUTOREGRESSIVE.value))
