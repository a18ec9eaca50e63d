"""TL114: names that are undefined where a registered function, the integration test, or a helper they call
runs (NameError on every sample, or in the platform's mapping pass).

pyflakes' rule (core/facts/scopes.py: builtins, globals bound anywhere in the module, ``global`` statements
and star imports we cannot see keep it silent; a module that writes ``globals()`` or calls ``exec`` says
nothing), restricted to what runs: the bodies of registered functions and the integration test, and the
plain functions of the project they (or module-level code) call, followed a few levels. A use that runs each
time its function runs is an error; one under a condition is a warning in the integration's own modules.

Also here, shared with core/checks/imports.py: what each piece of running code is (``reached``), whether a
star import can bind a name (``star_provides``), and the "did you mean" of an unbound name (``advice``).

Finding.data: UndefinedName (the name, the nearest defined name, an import that binds it).
"""

from __future__ import annotations

import ast
import builtins
import difflib
import os
import sys
from dataclasses import dataclass
from typing import Iterable

from tensorleap_ls.core.checks.base import CheckContext
from tensorleap_ls.core.codes import UNDEFINED_NAME
from tensorleap_ls.core.facts import scopes
from tensorleap_ls.core.facts.modules import Module
from tensorleap_ls.core.facts.scopes import COND, SPINE, def_key
from tensorleap_ls.core.fixdata import UndefinedName
from tensorleap_ls.core.model import Finding, Kind, Severity
from tensorleap_ls.core.project.evaluate import FunctionValue, Undefined
from tensorleap_ls.core.project.names import writes_globals
from tensorleap_ls.core.sdk.bundled import DECORATORS, DECORATORS_MODULE, ENUMS, LEAP_CLASSES, label_of

MAX_HELPER_DEPTH = 4
MAX_CONTEXTS = 400
BUILTINS = frozenset(dir(builtins)) | {"__file__", "__builtins__", "__annotations__", "__path__"}
# Where the SDK's user-facing names live (the first that has a name is the one to import it from).
SDK_MODULES = ("code_loader.contract.datasetclasses", "code_loader.contract.enums",
               "code_loader.contract.visualizer_classes", "code_loader.contract.responsedataclasses", DECORATORS_MODULE,
               "code_loader.plot_functions.visualize")
# Without an installed SDK: the names the bundled table knows.
_BUNDLED_SDK_NAMES = {
    **{n: DECORATORS_MODULE for n in DECORATORS}, **{n: "code_loader.contract.enums" for n in ENUMS},
    **{n: "code_loader.contract.visualizer_classes" for n in LEAP_CLASSES},
    **{n: "code_loader.contract.datasetclasses" for n in ("PreprocessResponse", "PredictionTypeHandler",
                                                          "SamplePreprocessResponse", "ElementInstance")},
    "leap_binder": "code_loader",
}
_COMMON_IMPORTS = {"np": "import numpy as np", "pd": "import pandas as pd", "plt": "import matplotlib.pyplot as plt",
                   "tf": "import tensorflow as tf",
                   **{n: f"from typing import {n}" for n in ("List", "Dict", "Tuple", "Optional", "Union", "Any",
                                                             "Callable", "Sequence", "Iterable")}}
_STDLIB = frozenset(getattr(sys, "stdlib_module_names", ()) or (
    "os", "sys", "re", "json", "math", "random", "time", "glob", "shutil", "pathlib", "typing", "functools",
    "itertools", "collections", "logging", "pickle", "copy", "datetime", "csv", "subprocess", "tempfile", "io"))


@dataclass
class Context:
    """A function body that runs: a registered function, the integration test, or a helper reached from them."""

    mod: Module
    node: ast.FunctionDef | ast.AsyncFunctionDef
    certainty: int  # SPINE: it runs whenever the integration runs; COND: it may
    who: str  # how messages name it
    kind: Kind | None  # the registered kind, None for a helper


def integration_module(ctx: CheckContext, mod: Module) -> bool:
    """The integration's own code (it imports code_loader or holds a registration), not a vendored library."""
    return bool(getattr(mod, "uses_code_loader", False)) or any(
        mod.path in (b.module_path, b.def_path) for b in ctx.bindings)


def silent(mod: Module) -> bool:
    """A module where names appear that no statement binds (``globals()`` writes, ``exec``): nothing to say
    about its unbound names."""
    return writes_globals(mod) or scopes.writes_namespace(mod)


def builtins_written(ctx: CheckContext) -> bool:
    """Some module adds to ``builtins``: any name may be bound anywhere."""
    return any(scopes.writes_builtins(m) for m in ctx.modules.values())


def reached(ctx: CheckContext) -> dict[tuple, Context]:
    """The function bodies that run, keyed by (module path, def_key): registered functions and the integration
    test, then the project's plain functions they and module-level code call (certainty: the lowest on the
    way)."""
    out: dict[tuple, Context] = {}
    queue: list[tuple[Context, int]] = []

    def add(c: Context, depth: int) -> None:
        key = (c.mod.path, def_key(c.node))
        old = out.get(key)
        if old is not None and (old.certainty >= c.certainty or old.kind is not None):
            return
        if len(out) >= MAX_CONTEXTS:
            return
        out[key] = c
        queue.append((c, depth))

    for b in ctx.bindings:
        mod = ctx.modules.get(b.def_path or "")
        if mod is None or not isinstance(b.def_node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        who = "the integration test" if b.kind is Kind.INTEGRATION_TEST else f"the {label_of(b.kind)} `{b.function}`"
        add(Context(mod, b.def_node, SPINE, who, b.kind), 0)
    registered = set(out)
    for mod in ctx.modules.values():
        if mod.tree is not None and integration_module(ctx, mod):  # a vendored library's own calls: not followed
            _follow(ctx, mod, scopes.runs(mod).calls, SPINE, f"importing {_rel(ctx, mod.path)}", 0, add, registered)
    while queue:
        c, depth = queue.pop(0)
        if depth < MAX_HELPER_DEPTH:
            _follow(ctx, c.mod, scopes.runs(c.mod, c.node).calls, c.certainty, c.who, depth + 1, add, registered)
    return out


def _follow(ctx: CheckContext, mod: Module, calls, base: int, via: str, depth: int, add, registered: set) -> None:
    r = ctx.resolver
    if r is None:
        return
    for call, c in calls:
        if not isinstance(call.func, (ast.Name, ast.Attribute)):
            continue
        try:
            v = r.value(call.func, mod)
        except RecursionError:
            continue
        if not isinstance(v, FunctionValue) or not isinstance(v.node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        target = ctx.modules.get(getattr(v.module, "path", ""))
        if target is None or (target.path, def_key(v.node)) in registered:
            continue
        add(Context(target, v.node, min(base, c), f"`{v.node.name}` (run by {via})", None), depth)


def _rel(ctx: CheckContext, path: str) -> str:
    return os.path.relpath(path, ctx.root).replace(os.sep, "/")


_SCALAR = (bool, int, float, str, bytes, type(None), list, tuple, dict)


def truth(ctx: CheckContext, mod: Module, test: ast.expr, shadow: frozenset = frozenset()) -> bool | None:
    """What an ``if`` test is, when the project's values say it (a flag read from a config, a constant reached
    through a star import); None when they do not."""
    if ctx.resolver is None or any(isinstance(n, ast.Name) and n.id in shadow for n in ast.walk(test)):
        return None
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        inner = truth(ctx, mod, test.operand, shadow)
        return None if inner is None else not inner
    try:
        if isinstance(test, ast.Compare) and len(test.ops) == 1:
            left, right = ctx.resolver.value(test.left, mod), ctx.resolver.value(test.comparators[0], mod)
            if isinstance(left, _SCALAR) and isinstance(right, _SCALAR):
                return scopes.static_truth(ast.Compare(left=ast.Constant(left), ops=test.ops,
                                                       comparators=[ast.Constant(right)]))
            return None
        v = ctx.resolver.value(test, mod)
    except RecursionError:
        return None
    return bool(v) if isinstance(v, _SCALAR) else None


def level_of(ctx: CheckContext, mod: Module, runs: scopes.Runs, node: ast.AST, owner=None) -> int:
    """How certainly a name use runs, its `if` guards evaluated with the project's values where they can be."""
    level = runs.names.get(id(node), 0)
    guards = runs.guarded.get(id(node)) if level == COND else None
    if not guards:
        return level
    shadow = scopes.stored(owner) if owner is not None else frozenset()
    for test, branch in guards:
        t = truth(ctx, mod, test, shadow)
        if t is None:
            return COND
        if t is not branch:
            return 0
    return SPINE


def keep_of(contexts: Iterable[Context], mod: Module) -> frozenset:
    return frozenset(def_key(c.node) for c in contexts if c.mod is mod)


def registration_spans(ctx: CheckContext) -> set:
    """Names a legacy registration passes that are not defined: TL110 reports them (with its own fix)."""
    out = set()
    for b in ctx.bindings:
        for k, a in b.args.items():
            if k in ("function", "custom_layer") and isinstance(a.value, Undefined):
                out.add(a.span)
    return out


# --- star imports ----------------------------------------------------------------------------------
def star_provides(ctx: CheckContext, mod: Module, name: str, depth: int = 0) -> bool:
    """True when one of ``mod``'s star imports binds ``name``, or may (a module we cannot see)."""
    if depth > 20:
        return True
    resolved = getattr(ctx.resolver, "resolved", {})
    for ref in mod.imports:
        if ref.names != [("*", "*")]:
            continue
        src = ctx.modules.get(resolved.get((mod.path, id(ref.node), ""), ""))
        if src is None:
            if not (ref.module or "").startswith("code_loader") or ref.level:
                return True  # a third-party module, or one we cannot find: anything may come from it
            api = ctx.sdk.module(ref.module) if ctx.sdk is not None else None
            if api is None or (name in api.names and not name.startswith("_")):
                return True
            continue
        if exports(ctx, src, name, depth + 1):
            return True
    return False


def exports(ctx: CheckContext, src: Module, name: str, depth: int = 0) -> bool:
    """What ``from src import *`` binds: ``__all__`` when it is a literal, else its public names (its own
    star imports included)."""
    if silent(src):
        return True
    listed = _literal_all(src)
    if listed is not None:
        return name in listed
    if name.startswith("_"):
        return False
    return name in scopes.module_names(src) or star_provides(ctx, src, name, depth)


def _literal_all(mod: Module) -> frozenset | None:
    v = mod.assigns.get("__all__")
    if isinstance(v, (ast.List, ast.Tuple)) and all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in v.elts):
        return frozenset(e.value for e in v.elts)
    return None


def provides(ctx: CheckContext, src: Module, name: str) -> bool:
    """``from src import name`` finds something (a binding anywhere at module level, ``global``, a star import,
    a module ``__getattr__``, a namespace written at run time)."""
    names = scopes.module_names(src)
    return name in names or "__getattr__" in names or silent(src) or star_provides(ctx, src, name)


# --- did you mean ----------------------------------------------------------------------------------
def sdk_names(ctx: CheckContext) -> dict[str, str]:
    """Public SDK name -> the module to import it from (the installed release, else the common ones)."""
    out: dict[str, str] = {}
    if ctx.sdk is not None:
        for m in SDK_MODULES:
            api = ctx.sdk.module(m)
            for n in sorted({*api.funcs, *api.methods}) if api is not None else ():  # defined there, not imported
                if not n.startswith("_"):
                    out.setdefault(n, m)
    for n, m in _BUNDLED_SDK_NAMES.items():
        out.setdefault(n, m)
    return out


def nearest(name: str, pool: Iterable[str]) -> str | None:
    """The name of ``pool`` that ``name`` is a slip of (a letter left out, swapped, doubled; case)."""
    pool = [p for p in set(pool) if p != name]
    low = {p.lower(): p for p in pool}
    if name.lower() in low:
        return low[name.lower()]
    if len(name) < 4:  # `idx` is not a slip of `id`
        return None
    close = difflib.get_close_matches(name, [p for p in pool if len(p) >= 4], n=1, cutoff=0.8)
    return close[0] if close else None


def import_line(ctx: CheckContext, mod: Module, name: str) -> str | None:
    """An import statement that binds ``name`` as the code means it: the SDK, another module of the project
    that defines it, numpy as np, a standard-library module."""
    sdk = sdk_names(ctx)
    if name in sdk:
        return f"from {sdk[name]} import {name}"
    for other in ctx.modules.values():
        if other is mod or other.path == ctx.entry or other.tree is None or name.startswith("_"):
            continue
        if name in other.defs or name in other.assigns:
            return f"from {other.name} import {name}"
    if name in _COMMON_IMPORTS:
        return _COMMON_IMPORTS[name]
    if name in _STDLIB:
        return f"import {name}"
    return None


def advice(ctx: CheckContext, mod: Module, name: str, local: Iterable[str] = (), decorator: bool = False) -> UndefinedName:
    """What the name should be: itself imported, or the nearest defined name (a decorator's nearest SDK decorator
    first), with the import that name needs when the module lacks it."""
    visible = set(scopes.module_names(mod)) | set(local)
    line = import_line(ctx, mod, name)
    if line is not None:
        return UndefinedName(name, None, line)
    sdk = sdk_names(ctx)
    elsewhere = {n for m in ctx.modules.values() if m is not mod and m.path != ctx.entry for n in m.defs
                 if not n.startswith("_")}
    pools = ([n for n in sdk if n.startswith("tensorleap_")], visible) if decorator else (
        visible | BUILTINS, set(sdk), elsewhere)
    for pool in pools:
        guess = nearest(name, pool)
        if guess is not None:
            needs = None if guess in visible or guess in BUILTINS else import_line(ctx, mod, guess)
            return UndefinedName(name, guess, needs)
    return UndefinedName(name, None, None)


def tail(data: UndefinedName) -> str:
    if data.suggestion:
        return f"; did you mean `{data.suggestion}`?"
    if data.imports:
        return f"; import it (`{data.imports}`)."
    return "."


def locals_of(node: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    a = node.args
    out = {p.arg for p in (*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg) if p is not None}
    for n in ast.walk(node):
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
            out.add(n.id)
    return out


# --- TL114 -----------------------------------------------------------------------------------------
def check(ctx: CheckContext, contexts: dict[tuple, Context]) -> list[Finding]:
    """TL114 in the function bodies that run (``reached``; core/checks/imports.py runs both, once per project)."""
    by_mod: dict[str, list[Context]] = {}
    for c in contexts.values():
        by_mod.setdefault(c.mod.path, []).append(c)
    skip = registration_spans(ctx)
    out: list[Finding] = []
    seen: dict[tuple, Finding] = {}
    for path, cs in by_mod.items():
        mod = ctx.modules[path]
        if mod.tree is None or mod.source is None or getattr(mod, "stale", False) or silent(mod):
            continue
        own = integration_module(ctx, mod)
        runs = [(c, scopes.runs(mod, c.node)) for c in cs]
        for u in scopes.unbound(mod, keep_of(cs, mod)):
            best = None
            for c, r in runs:
                level = min(level_of(ctx, mod, r, u.node, c.node), c.certainty)
                if level and (best is None or level > best[1]):
                    best = (c, level)
            if best is None or (best[1] < SPINE and not own):
                continue
            if u.star and star_provides(ctx, mod, u.name):
                continue
            span = mod.source.span(u.node)
            if span in skip:
                continue
            c, level = best
            first = seen.get((id(c.node), u.name))
            if first is not None:  # the same name again in the same function: one root cause
                first.related.append((span, f"`{u.name}` is also used here"))
                continue
            data = advice(ctx, mod, u.name, locals_of(c.node))
            when = "raises NameError here" if level == SPINE else "raises NameError if this line runs"
            f = Finding(UNDEFINED_NAME, f"`{u.name}` is not defined: {c.who} {when}{tail(data)}", span,
                        severity=None if level == SPINE else Severity.WARNING, data=data)
            seen[(id(c.node), u.name)] = f
            out.append(f)
    return out

