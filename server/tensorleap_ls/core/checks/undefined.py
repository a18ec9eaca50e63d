"""TL114: names that are undefined where a registered function, the integration test, or a helper they call
runs (NameError on every sample, or in the platform's mapping pass).

pyflakes' rule (core/facts/scopes.py: builtins, globals bound anywhere in the module, ``global`` statements
and star imports we cannot see keep it silent; a module that writes ``globals()`` or calls ``exec`` says
nothing), restricted to what runs: the bodies of registered functions and the integration test, and the
plain functions of the project they (or module-level code) call, followed a few levels. A use that runs each
time its function runs is an error; one under a condition is a warning in the integration's own modules (an
``if`` on a flag the project's values decide counts as decided: ``if PLOT:`` with ``PLOT = True``).

Also here, shared with core/checks/imports.py (which runs both, once per analysis, through ``Slips``): what
each piece of running code is (``reached``), what star imports bind (``Stars``), and the "did you mean" of an
unbound name (``Advisor``).

Finding.data: UndefinedName (the name, the nearest defined name, an import that binds it).
"""

from __future__ import annotations

import ast
import bisect
import builtins
import collections
import functools
import os
import sys
from dataclasses import dataclass
from typing import Iterable

from tensorleap_ls.core.checks.base import CheckContext
from tensorleap_ls.core.codes import UNDEFINED_NAME
from tensorleap_ls.core.facts import scopes
from tensorleap_ls.core.facts.modules import Module, calls_of, per_text
from tensorleap_ls.core.facts.scopes import COND, SPINE, def_key
from tensorleap_ls.core.fixdata import UndefinedName
from tensorleap_ls.core.graphs import components
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


class Slips:
    """What the slip checks gather once per analysis: the star imports' names, the "did you mean" pools, the
    modules that are the integration's own, the names legacy registrations pass."""

    def __init__(self, ctx: CheckContext):
        self.ctx = ctx
        self.stars = Stars(ctx)
        self.advisor = Advisor(ctx)
        self._own = {p for b in ctx.bindings for p in (b.module_path, b.def_path) if p}
        self._registration_spans: set | None = None

    def integration_module(self, mod: Module) -> bool:
        """The integration's own code (it imports code_loader or holds a registration), not a vendored library."""
        return bool(getattr(mod, "uses_code_loader", False)) or mod.path in self._own

    def registration_spans(self) -> set:
        if self._registration_spans is None:
            self._registration_spans = registration_spans(self.ctx)
        return self._registration_spans


def silent(mod: Module) -> bool:
    """A module where names appear that no statement binds (``globals()`` writes, ``exec``): nothing to say
    about its unbound names."""
    return writes_globals(mod) or scopes.writes_namespace(mod)


def builtins_written(ctx: CheckContext) -> bool:
    """Some module adds to ``builtins``: any name may be bound anywhere."""
    return any(scopes.writes_builtins(m) for m in ctx.modules.values())


def reached(ctx: CheckContext, slips: "Slips") -> dict[tuple, Context]:
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
        if slips.integration_module(mod) and mod.tree is not None:  # a vendored library's own calls: not followed
            _follow(ctx, mod, scopes.runs(mod).calls, SPINE, f"importing {_rel(ctx, mod.path)}", 0, add, registered)
    while queue:
        c, depth = queue.pop(0)
        if depth < MAX_HELPER_DEPTH and _may_follow(ctx, c.mod, c.node):
            _follow(ctx, c.mod, scopes.runs(c.mod, c.node).calls, c.certainty, c.who, depth + 1, add, registered)
    return out


def _followed(ctx: CheckContext, mod: Module, f: ast.expr, aliases) -> bool:
    """A call of ``f`` may reach a project function (``_follow``'s filter, before any resolution)."""
    if isinstance(f, ast.Name):
        return f.id in mod.defs or f.id in _explicitly_imported(mod)
    return isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id in aliases


def _may_follow(ctx: CheckContext, mod: Module, owner: ast.AST) -> bool:
    """Some call written inside ``owner`` passes ``_follow``'s filter: else following it adds nothing, and how
    certainly each of its lines runs (a walk of the whole body) is not needed."""
    if "index" in mod.memo:  # the module's calls are known (one walk per text): the def's are a slice of them
        calls = _calls_by_line(mod)
        lo = bisect.bisect_left(calls, (owner.lineno, -1))
        hi = bisect.bisect_right(calls, ((getattr(owner, "end_lineno", None) or owner.lineno) + 1, -1))
        found = [call for _, _, call in calls[lo:hi]]
    else:  # else the def's own calls only (a helper module no other check walks), remembered by the def's text
        called = _called_in(mod, owner)
        if not called:
            return False
        aliases = _module_aliases(ctx, mod)
        imported = _explicitly_imported(mod)
        return any(name in mod.defs or name in imported if attr is None else attr in aliases for name, attr in called)
    if not found:
        return False
    aliases = _module_aliases(ctx, mod)
    return any(_followed(ctx, mod, call.func, aliases) for call in found)


# A def's calls as ``_followed`` reads them, by the def's text (decorators and indentation included: its whole
# tree): an edit in a helper module walks the def it changed, not every def of that module the analysis reaches.
# Pure, so shared; bounded.
_CALLED: "collections.OrderedDict[str, tuple]" = collections.OrderedDict()
_CALLED_ROOM = 4096


def _called_in(mod: Module, owner: ast.AST) -> tuple:
    """(name, None) for ``name(...)``, (None, module alias) for ``alias.f(...)``: the calls of ``owner`` that
    ``_followed`` may follow (what it reads of each)."""
    lines = mod.source.lines if mod.source is not None else None
    first = min([owner.lineno] + [d.lineno for d in getattr(owner, "decorator_list", ())])
    key = "\n".join(lines[first - 1:owner.end_lineno]) if lines is not None and getattr(owner, "end_lineno", None) \
        else None
    hit = _CALLED.get(key) if key is not None else None
    if hit is not None:
        _CALLED.move_to_end(key)
        return hit
    out = []
    for n in ast.walk(owner):
        if isinstance(n, ast.Call):
            f = n.func
            if isinstance(f, ast.Name):
                out.append((f.id, None))
            elif isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name):
                out.append((None, f.value.id))
    found = tuple(dict.fromkeys(out))
    if key is not None:
        _CALLED[key] = found
        if len(_CALLED) > _CALLED_ROOM:
            _CALLED.popitem(last=False)
    return found


@per_text("calls_by_line")
def _calls_by_line(mod: Module) -> list:
    """(line, column, call) of every call of the module, in source order (a def's calls are one slice of it)."""
    return sorted(((c.lineno, c.col_offset, c) for c in calls_of(mod)), key=lambda t: (t[0], t[1]))


def _follow(ctx: CheckContext, mod: Module, calls, base: int, via: str, depth: int, add, registered: set) -> None:
    r = ctx.resolver
    if r is None:
        return
    aliases = None
    for call, c in calls:
        f = call.func
        if not isinstance(f, (ast.Name, ast.Attribute)):
            continue
        aliases = _module_aliases(ctx, mod) if aliases is None and isinstance(f, ast.Attribute) else aliases
        if not _followed(ctx, mod, f, aliases):
            # a builtin, a class, a name from a star import; `np.zeros(...)`, `self.f(...)`: only a function of the
            # project (`f(...)`, `helpers.f(...)` of a local module) is followed
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


def _module_aliases(ctx: CheckContext, mod: Module) -> frozenset:
    """Names that are local modules in ``mod`` (``import helpers``, ``from pkg import helpers``); once per
    analysis and module."""
    memo = getattr(ctx.resolver, "memo", None)
    key = ("module_aliases", mod.path)
    if memo is not None and key in memo:
        return memo[key]
    resolved = getattr(ctx.resolver, "resolved", {})
    out = set()
    for ref in mod.imports:
        if not ref.names and ref.bound and ((mod.path, ref.index, "") in resolved or (mod.path, ref.index, "top") in resolved):
            out.add(ref.bound)
        out.update(bound for orig, bound in ref.names if (mod.path, ref.index, orig) in resolved)
    if memo is not None:
        memo[key] = frozenset(out)
    return frozenset(out)


@per_text("explicit_imports")
def _explicitly_imported(mod: Module) -> frozenset:
    return frozenset(bound for ref in mod.imports for orig, bound in ref.names if orig != "*")


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
    shadow = scopes.stored_in(mod, owner) if owner is not None else frozenset()
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
ANY = None  # a star import we cannot see: it may bind any name


class Stars:
    """What the star imports of each module can bind, once per analysis: the names ``from src import *``
    brings (``__all__`` when it is a literal, else the public names of ``src``, its own star imports included),
    through rings and pairs of modules that star-import each other (solved on the strongly connected
    components of the star-import graph: linear in its size). ``ANY`` where one of them is a module we cannot
    see (third-party, unresolved, code-loader with no installed SDK) or one that writes its namespace at run
    time."""

    def __init__(self, ctx: CheckContext):
        self.ctx = ctx
        self._bound: dict[str, frozenset | None] | None = None

    def provides(self, mod: Module, name: str) -> bool:
        names = self.bound(mod)
        return names is ANY or name in names

    def bound(self, mod: Module) -> frozenset | None:
        if self._bound is None:
            self._bound = self._solve()
        return self._bound.get(mod.path, frozenset())

    def _solve(self) -> dict[str, frozenset | None]:
        ctx, resolved = self.ctx, getattr(self.ctx.resolver, "resolved", {})
        edges: dict[str, list[str]] = {}  # importer -> star-imported modules without a literal __all__
        fixed: dict[str, set | None] = {}  # importer -> what its other star imports bind (None: ANY)
        for mod in ctx.modules.values():
            out: set | None = set()
            targets = []
            stars = [ref for ref in mod.imports if ref.names == [("*", "*")]]
            for ref in stars:
                if out is None:
                    break
                src = ctx.modules.get(resolved.get((mod.path, ref.index, ""), ""))
                if src is None:
                    api = ctx.sdk.module(ref.module) if ctx.sdk is not None and not ref.level else None
                    if not (ref.module or "").startswith("code_loader") or api is None:
                        out = None
                    else:
                        out.update(n for n in api.names if not n.startswith("_"))
                elif silent(src):
                    out = None
                elif _literal_all(src) is not None:
                    out.update(_literal_all(src))
                else:
                    out.update(n for n in scopes.module_names(src) if not n.startswith("_"))
                    targets.append(src.path)
            if stars:
                fixed[mod.path] = out
                edges[mod.path] = targets
        result: dict[str, frozenset | None] = {}
        for component in components(edges, lambda p: edges.get(p, [])):  # sinks first
            names: set | None = set()
            inside = set(component)
            for path in component:
                if fixed.get(path) is None and path in fixed:
                    names = None
                    break
                names |= fixed.get(path) or set()
                for target in edges.get(path, ()):
                    if target in inside:
                        continue
                    sub = result.get(target, frozenset())
                    if sub is ANY:
                        names = None
                        break
                    names |= {n for n in sub if not n.startswith("_")}
                if names is None:
                    break
            if names is not None and len(component) > 1:  # each member reaches the others' own names
                for path in component:
                    names |= {n for n in scopes.module_names(ctx.modules[path]) if not n.startswith("_")}
            frozen = ANY if names is None else frozenset(names)
            for path in component:
                result[path] = frozen
        return result


@per_text("literal_all", stored=True)
def _literal_all(mod: Module) -> frozenset | None:
    if "__all__" not in mod.assign_names:
        return None
    v = mod.assigns.get("__all__")
    if isinstance(v, (ast.List, ast.Tuple)) and all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in v.elts):
        return frozenset(e.value for e in v.elts)
    return None


def provides(stars: Stars, src: Module, name: str) -> bool:
    """``from src import name`` finds something (a binding anywhere at module level, ``global``, a star import,
    a module ``__getattr__``, a namespace written at run time)."""
    names = scopes.module_names(src)
    return name in names or "__getattr__" in names or silent(src) or stars.provides(src, name)


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
    return _nearest(name, pool if isinstance(pool, frozenset) else frozenset(pool))


@functools.lru_cache(maxsize=8192)
def _nearest(name: str, pool: frozenset) -> str | None:
    """(Kept per pool: the SDK's names and the other modules' functions do not change while one module is edited.)"""
    lower, by_end = _index(pool)
    same = lower.get(name.lower())
    if same is not None and same != name:
        return same
    if len(name) < 4:  # `idx` is not a slip of `id`
        return None
    # a ratio of 0.8 needs the shorter name to be at least 2/3 of the longer, and a slip keeps one end of the
    # name (its first or last two letters): the rest is not compared
    n = len(name)
    near = {p for key in (("^", name[:2].lower()), ("$", name[-2:].lower())) for p in by_end.get(key, ())
            if p != name and 2 * n <= 3 * len(p) and 2 * len(p) <= 3 * n}
    import difflib  # (here: a check that finds nothing does not import it, nor heapq)

    close = difflib.get_close_matches(name, sorted(near), n=1, cutoff=0.8)
    return close[0] if close else None


@functools.lru_cache(maxsize=64)
def _index(pool: frozenset) -> tuple[dict, dict]:
    """A pool by lower-case name, and by its first / last two letters (names of 4 letters or more)."""
    lower: dict[str, str] = {}
    by_end: dict[tuple, list] = {}
    for p in sorted(pool):
        lower.setdefault(p.lower(), p)
        if len(p) >= 4:
            by_end.setdefault(("^", p[:2].lower()), []).append(p)
            by_end.setdefault(("$", p[-2:].lower()), []).append(p)
    return lower, by_end


_ADVICE: dict[tuple, UndefinedName] = {}  # across analyses: (the name, what the pools hold) -> advice


class Advisor:
    """The "did you mean" of unbound names, with the pools of one analysis gathered once. An answer depends on
    the name and on what the pools hold (the module's names, the names the project's modules define, the
    SDK), not on the texts: it is kept across analyses while those stay the same (typing in a function body
    does not recompute the advice of the module's other findings)."""

    def __init__(self, ctx: CheckContext):
        self.ctx = ctx
        self._ready = False
        self._elsewhere: dict[str, frozenset] = {}

    def _prepare(self) -> None:
        """The pools, gathered on the first name that needs advice."""
        ctx = self.ctx
        self.sdk = sdk_names(ctx)
        # name -> the dotted names of the modules that define it (a def or a top-level assignment), the entry aside
        self.defined: dict[str, list[str]] = {}
        for m in ctx.modules.values():
            if m.path != ctx.entry and m.parsed:
                for n in m.def_names | m.assign_names:
                    if not n.startswith("_"):
                        self.defined.setdefault(n, []).append(m.name)
        self.key = (frozenset((n, tuple(ms)) for n, ms in self.defined.items()),
                    getattr(ctx.sdk, "version", None), getattr(ctx.sdk, "package_dir", None))
        self.sdk_pool = frozenset(self.sdk)
        self.decorators = frozenset(n for n in self.sdk if n.startswith("tensorleap_"))
        self._ready = True

    def elsewhere(self, mod: Module) -> frozenset:
        """What the project's other modules define (a helper of another module, misspelled)."""
        if mod.name not in self._elsewhere:
            self._elsewhere[mod.name] = frozenset(n for n, ms in self.defined.items() if any(m != mod.name for m in ms))
        return self._elsewhere[mod.name]

    def advice(self, mod: Module, name: str, local: Iterable[str] = (), decorator: bool = False) -> UndefinedName:
        """What the name should be: itself imported, or the nearest defined name (a decorator's nearest SDK
        decorator first), with the import that name needs when the module lacks it."""
        if not self._ready:
            self._prepare()
        key = (name, frozenset(local), decorator, mod.name, scopes.module_names(mod), self.key)
        found = _ADVICE.get(key)
        if found is None:
            if len(_ADVICE) > 4096:
                _ADVICE.clear()
            found = _ADVICE[key] = self._advice(mod, name, local, decorator)
        return found

    def _import_line(self, mod: Module, name: str) -> str | None:
        if name in self.sdk:
            return f"from {self.sdk[name]} import {name}"
        where = [m for m in self.defined.get(name, ()) if m != mod.name]
        if where:
            return f"from {where[0]} import {name}"
        if name in _COMMON_IMPORTS:
            return _COMMON_IMPORTS[name]
        return f"import {name}" if name in _STDLIB else None

    def _advice(self, mod: Module, name: str, local: Iterable[str], decorator: bool) -> UndefinedName:
        visible = set(scopes.module_names(mod)) | set(local)
        line = self._import_line(mod, name)
        if line is not None:
            return UndefinedName(name, None, line)
        pools = (self.decorators, frozenset(visible)) if decorator else (
            frozenset(visible | BUILTINS), self.sdk_pool, self.elsewhere(mod))
        for pool in pools:
            guess = nearest(name, pool)
            if guess is not None:
                needs = None if guess in visible or guess in BUILTINS else self._import_line(mod, guess)
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
def check(ctx: CheckContext, contexts: dict[tuple, Context], slips: Slips) -> list[Finding]:
    """TL114 in the function bodies that run (``reached``; core/checks/imports.py runs both, once per project)."""
    by_mod: dict[str, list[Context]] = {}
    for c in contexts.values():
        by_mod.setdefault(c.mod.path, []).append(c)
    skip = slips.registration_spans()
    out: list[Finding] = []
    seen: dict[tuple, Finding] = {}
    for path, cs in by_mod.items():
        mod = ctx.modules[path]
        if mod.tree is None or mod.source is None or getattr(mod, "stale", False) or silent(mod):
            continue
        own = slips.integration_module(mod)
        unbound = scopes.unbound(mod, keep_of(cs, mod))
        if not unbound:
            continue  # (the usual case: no walk of the contexts' bodies)
        wanted = {id(u.node) for u in unbound}
        where: dict[int, list] = {}  # id(ast.Name) of an unbound name -> the contexts whose code holds it
        for c in cs:
            r = scopes.runs(mod, c.node)
            for i in wanted & r.names.keys():
                where.setdefault(i, []).append((c, r))
        for u in unbound:
            best = None
            for c, r in where.get(id(u.node), ()):
                level = min(level_of(ctx, mod, r, u.node, c.node), c.certainty)
                if level and (best is None or level > best[1]):
                    best = (c, level)
            if best is None or (best[1] < SPINE and not own):
                continue
            if u.star and slips.stars.provides(mod, u.name):
                continue
            span = mod.source.span(u.node)
            if span in skip:
                continue
            c, level = best
            first = seen.get((id(c.node), u.name))
            if first is not None:  # the same name again in the same function: one root cause
                first.related.append((span, f"`{u.name}` is also used here"))
                continue
            data = slips.advisor.advice(mod, u.name, locals_of(c.node))
            when = "raises NameError here" if level == SPINE else "raises NameError if this line runs"
            f = Finding(UNDEFINED_NAME, f"`{u.name}` is not defined: {c.who} {when}{tail(data)}", span,
                        severity=None if level == SPINE else Severity.WARNING, data=data)
            seen[(id(c.node), u.name)] = f
            out.append(f)
    return out

