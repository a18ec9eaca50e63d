"""1xx: the structure of the integration as a whole.

Missing mandatory parts (reported once per project, on the entry file), registrations of
undefined / non-callable / un-importable functions, duplicate and empty names.

Finding.data: the classes core/codes.py registers per code (core/fixdata.py).
"""

from __future__ import annotations

import ast
import os
from collections import defaultdict


from tensorleap_ls.core.fixdata import FunctionKind, MissingPart, NameKind, OfKind
from tensorleap_ls.core.checks.base import CheckContext
from tensorleap_ls.core.checks.undefined import nearest
from tensorleap_ls.core.project.evaluate import Missing, Undefined
from tensorleap_ls.core.model import Binding, Finding, Kind, Severity, Span, Style
from tensorleap_ls.core.codes import (
    DUPLICATE_NAME, EMPTY_NAME, MISSING_GROUND_TRUTH, MISSING_INPUT, MISSING_INTEGRATION_TEST, MISSING_LOSS,
    MISSING_MODEL, MISSING_PREPROCESS, NAME_ACROSS_KINDS, NOT_CALLABLE, REGISTERED_TWICE, UNDEFINED_FUNCTION,
    UNRESOLVED_IMPORT,
)
from tensorleap_ls.core.checks import sdk_api
from tensorleap_ls.core.checks.sdk_api import resolved_sdk
from tensorleap_ls.core.sdk.bundled import (INTEGRATION_TEST_REQUIRED_SINCE, BUILTIN_NAMES, NAMED_KINDS, PAIRED_KINDS, SINGLETON_KINDS, contract_of, label_of,
                                   registrar_of)


def check(ctx: CheckContext) -> list[Finding]:
    out: list[Finding] = []
    out.extend(_missing_parts(ctx))
    out.extend(f for b in ctx.bindings for f in _function(ctx, b))
    out.extend(_names(ctx))
    out.extend(_registered_twice(ctx))
    return out


def _anchor(ctx: CheckContext) -> Span:
    """Where project-wide findings go: the first line of code of the entry file."""
    mod = ctx.modules.get(ctx.entry)
    if mod is None or mod.tree is None or not mod.tree.body or mod.source is None:
        return Span.point(ctx.entry)
    first = mod.tree.body[0]
    line = first.lineno - 1
    return mod.source.line_span(line)


def _style(ctx: CheckContext) -> Style:
    styles = {b.style for b in ctx.bindings}
    return Style.DECORATOR if Style.DECORATOR in styles else Style.LEGACY


def _missing_parts(ctx: CheckContext) -> list[Finding]:
    entry = ctx.modules.get(ctx.entry)
    if entry is None or entry.tree is None:
        return []
    kinds = {b.kind for b in ctx.bindings}
    uses_sdk = any(m.uses_code_loader for m in ctx.modules.values() if getattr(m, "uses_code_loader", False))
    if not uses_sdk and not ctx.bindings:
        return []  # not an integration at all: nothing to demand
    style = _style(ctx)
    span = _anchor(ctx)
    out = []

    def missing(code: str, what: str, kind: str) -> None:
        out.append(Finding(code, what, span, data=MissingPart(kind, style.value)))

    if Kind.PREPROCESS not in kinds:
        missing(MISSING_PREPROCESS, "The integration registers no preprocess function "
                "(`@tensorleap_preprocess()` or `leap_binder.set_preprocess(...)`).", "preprocess")
    # An autoregressive step hook is the sole source of model inputs (leap_binder.check() forbids input encoders).
    registrars = {contract_of(r).name for r in filter(None, (registrar_of(b) for b in ctx.bindings))}
    if Kind.INPUT not in kinds and "tensorleap_autoregressive_step" not in registrars:
        missing(MISSING_INPUT, "The integration registers no input encoder "
                "(`@tensorleap_input_encoder(...)` or `leap_binder.set_input(...)`).", "input")
    if style is Style.DECORATOR and Kind.LOAD_MODEL not in kinds and Kind.PREDICTION not in kinds:
        missing(MISSING_MODEL, "The integration has no `@tensorleap_load_model([...])`: the model and its prediction "
                "types are unknown.", "load_model")
    elif style is Style.LEGACY and Kind.PREDICTION not in kinds and Kind.LOAD_MODEL not in kinds:
        missing(MISSING_MODEL, "The integration declares no model output (`leap_binder.add_prediction(...)`).", "prediction")
    if style is Style.DECORATOR and Kind.INTEGRATION_TEST not in kinds:
        missing(MISSING_INTEGRATION_TEST, "No `@tensorleap_integration_test()`: the platform aborts the push without one.",
                "integration_test")
    elif Kind.INTEGRATION_TEST not in kinds and ctx.read_text(os.path.join(ctx.root, "leap.yaml")) is not None:
        # A legacy script: refused too when the code-loader the platform installs has the check (since 1.0.189).
        resolved = resolved_sdk(ctx.root, ctx.read_text)
        newer = resolved is not None and (sdk_api.version.Version(resolved[0])
                                          >= sdk_api.version.Version(INTEGRATION_TEST_REQUIRED_SINCE))
        if newer:
            release, pin = resolved
            asked = f"`{pin}` installs" if pin else "no code-loader pin: the platform installs the newest,"
            missing(MISSING_INTEGRATION_TEST, f"No `@tensorleap_integration_test()`: {asked} code-loader {release}, "
                    f"which aborts the push without one (since {INTEGRATION_TEST_REQUIRED_SINCE}, legacy scripts "
                    "included). Add an integration test that calls the registered functions.", "integration_test")
    # A legacy `leap_binder` comes with the SDK's built-in losses (CategoricalCrossentropy...): only the
    # decorator style's status table and the platform's 'Testing Loss' step ask for a tensorleap_custom_loss.
    if Kind.LOSS not in kinds and style is Style.DECORATOR:
        missing(MISSING_LOSS, "No custom loss (`@tensorleap_custom_loss` / `add_custom_loss`): the platform build fails "
                "at 'Testing Loss'.", "loss")
    if Kind.GROUND_TRUTH not in kinds:
        missing(MISSING_GROUND_TRUTH, "No ground-truth encoder: fine for unlabeled data only.", "ground_truth")
    return out


def _function(ctx: CheckContext, b: Binding) -> list[Finding]:
    """A legacy registrar's function argument, or the function a decorator is applied to by hand
    (``tensorleap_custom_visualizer(...)(fn)``), that is no function; a decorator on a ``def`` has none."""
    fn_arg = next((a for k, a in b.args.items() if k in ("function", "custom_layer")), None)
    if fn_arg is None:
        return []
    val = fn_arg.value
    data = FunctionKind(b.function, b.kind.value)
    if isinstance(val, Undefined):
        return [Finding(UNDEFINED_FUNCTION, f"`{val.name}` is not defined: the {label_of(b.kind)} "
                        f"registration names a function that does not exist{_did_you_mean(ctx, b, val.name)}",
                        fn_arg.span, data=data)]
    if isinstance(val, Missing):
        return [Finding(UNRESOLVED_IMPORT, f"`{val.dotted.lstrip('.')}` cannot be imported: the module does not define it.",
                        fn_arg.span, data=data)]
    if val is None or isinstance(val, (str, int, float, bool, list, dict)):
        if fn_arg.node is not None and not isinstance(fn_arg.node, ast.Call):
            return [Finding(NOT_CALLABLE, f"`{fn_arg.text}` is not callable: register a function here.",
                            fn_arg.span, data=data)]
    return []


def _did_you_mean(ctx: CheckContext, b: Binding, name: str) -> str:
    mod = ctx.modules.get(b.module_path)
    guess = nearest(name, [n for n in mod.defs if n != name]) if mod is not None else None
    return f"; did you mean `{guess}`?" if guess else "."


def _names(ctx: CheckContext) -> list[Finding]:
    out = []
    by_kind: dict[Kind, dict[str, list[Binding]]] = defaultdict(lambda: defaultdict(list))
    kinds_of_name: dict[str, set[Kind]] = defaultdict(set)
    for b in ctx.bindings:
        if b.name is None or b.kind not in NAMED_KINDS:
            continue
        if b.name.strip() == "":
            out.append(Finding(EMPTY_NAME, f"Empty name for a {label_of(b.kind)}.",
                               b.name_span or b.reg_span, data=OfKind(b.kind.value)))
            continue
        by_kind[b.kind][b.name].append(b)
        kinds_of_name[b.name].add(b.kind)
    for kind, names in by_kind.items():
        builtins = BUILTIN_NAMES.get(kind, frozenset())
        for name, group in names.items():
            dups = group[1:]
            if name in builtins and kind is not Kind.PREDICTION:
                # The SDK pre-registers it: a decorator raises, the legacy API silently shadows it.
                for b in group:
                    out.append(_dup(b, name, kind, f"`{name}` is the name of a built-in {label_of(kind)}."))
                continue
            for b in dups:
                first = group[0]
                f = _dup(b, name, kind, f"Another {label_of(kind)} is already named `{name}`.")
                f.related.append((first.name_span or first.reg_span, "first registered here"))
                out.append(f)
    order = {id(b): i for i, b in enumerate(ctx.bindings)}
    for name, kinds in kinds_of_name.items():
        # A ground truth and the prediction it is compared with often share a name: that pairing is intended.
        if len(kinds) < 2 or kinds <= PAIRED_KINDS:
            continue
        bs = sorted((b for k in kinds for b in by_kind[k][name]), key=lambda b: order[id(b)])
        for b in bs[1:]:
            others = sorted(k.value for k in kinds if k is not b.kind)
            out.append(Finding(NAME_ACROSS_KINDS, f"`{name}` is also the name of a binding of kind {', '.join(others)} (the SDK checks names "
                               "within one kind only: this works).",
                               b.name_span or b.reg_span, data=NameKind(name, b.kind.value)))
    return out


def _dup(b: Binding, name: str, kind: Kind, msg: str) -> Finding:
    sev = Severity.ERROR if b.style is Style.DECORATOR else Severity.WARNING
    tail = " The SDK raises at import." if sev is Severity.ERROR else " The legacy API keeps both and the platform sees one."
    return Finding(DUPLICATE_NAME, msg + tail, b.name_span or b.reg_span, severity=sev,
                   data=NameKind(name, kind.value))


def _registered_twice(ctx: CheckContext) -> list[Finding]:
    out = []
    seen: dict[Kind, Binding] = {}
    for b in ctx.bindings:
        if b.kind not in SINGLETON_KINDS:
            continue
        if b.kind in seen and seen[b.kind].reg_span != b.reg_span:
            f = Finding(REGISTERED_TWICE, f"{label_of(b.kind).capitalize()} registered more than once: only the "
                        "last registration counts.", b.reg_span, data=OfKind(b.kind.value))
            f.related.append((seen[b.kind].reg_span, "also registered here"))
            out.append(f)
        else:
            seen[b.kind] = b
    return out
