"""Binding extraction: every registration the platform would see when it imports the entry.

The extractor walks the top level of each module of the closure the way an import executes
it: ``if`` on known constants takes one branch, ``for`` over known lists runs once per item,
calls of local functions (factories, ``lru_cache`` loaders, registration helpers) run their
bodies with the arguments bound. Both API styles are recognised, under any alias (what one
registration statement gives is ``core/project/registrations.py``).

Factories (functions whose body registers something, e.g. an ``lru_cache`` loader holding a
decorated ``def`` named after its parameter) register when they are called, which may be long
after import: from the integration test (run in mapping mode by the platform) or from other
functions. A second pass scans every function body of the closure for calls of factories and
runs each with its arguments (one binding per statically known key, an unknown name otherwise).
"""

from __future__ import annotations

import ast
import re
from typing import Any, Iterable

from tensorleap_ls.core.project.evaluate import CallValue, FunctionValue, ModuleValue, Resolver
from tensorleap_ls.core.model import UNKNOWN, Binding, Span
from tensorleap_ls.core.facts.modules import Module, index_of, per_text
from tensorleap_ls.core.project.registrations import Registrations
from tensorleap_ls.core.sdk.bundled import DECORATORS, LEGACY
from tensorleap_ls.core.source.text import Words, dotted

_MAX_CALL_DEPTH = 4
_MAX_ITEMS = 200


def extract(modules: dict[str, Module], resolver: Resolver) -> list[Binding]:
    ex = _Extractor(modules, resolver)
    can = may_register(modules, resolver.resolved)
    for mod in modules.values():
        if mod.path in can and mod.tree is not None:
            ex.scan(mod, mod.tree.body, {}, 0)
    ex.factory_call_sites()
    return ex.finish()


# A registrar's name (decorator or leap_binder method), or sys.modules (which reaches any module by name).
_VOCABULARY = Words({*DECORATORS, *LEGACY, "sys.modules"})


@per_text("registers", stored=True)
def _mentions_registrars(mod: Module) -> bool:
    return bool(_VOCABULARY.search(mod.text))


def may_register(modules: dict[str, Module], resolved: dict) -> set[str]:
    """The modules whose import can register something: those naming a registrar (a registration is
    written with its name, or an alias made where the name is written), and those importing one of
    them, directly or not (an import-time call can only reach code through imports). A vendored library
    that never imports the integration is not scanned: its modules register nothing."""
    found = {p for p, m in modules.items() if _mentions_registrars(m)}
    last = _MAY_REGISTER[0]
    if last is not None and last[0] is resolved and last[1] == found:
        return set(last[2])  # the closure reused (the same ``resolved``) and the same modules naming a registrar
    seeds = frozenset(found)
    importers: dict[str, set[str]] = {}
    for (path, _, _), target in resolved.items():
        importers.setdefault(target, set()).add(path)
    todo = list(found)
    while todo:
        for importer in importers.get(todo.pop(), ()):
            if importer not in found:
                found.add(importer)
                todo.append(importer)
    _MAY_REGISTER[0] = (resolved, seeds, frozenset(found))
    return found


# The last answer of ``may_register``, by the identity of the closure's ``resolved`` (kept here, so its identity is
# not recycled; a closure is rebuilt with a new one) and the modules naming a registrar: an edit that changes no
# import walks no import graph.
_MAY_REGISTER: list = [None]


# Statements holding other statements (the rest have no body to walk).
_COMPOUND = tuple(getattr(ast, n) for n in ("FunctionDef", "AsyncFunctionDef", "ClassDef", "If", "For", "AsyncFor",
                                             "While", "With", "AsyncWith", "Try", "TryStar", "Match", "ExceptHandler",
                                             "match_case") if hasattr(ast, n))


# A registration written indented (inside a def, maybe): a cheap test before walking a module for factories.
_INDENTED_REGISTRATION = re.compile(r"^[ \t]+(?:@[\w.]*tensorleap_|[\w.]+\.(?:set|add)_\w+\s*\()", re.M)


@per_text("indented_registration", stored=True)
def _indented_registration(mod: Module) -> bool:
    return bool(_INDENTED_REGISTRATION.search(mod.text))


@per_text("factories")
def _factories(mod: Module) -> list:
    """The factories of a module: the innermost def around a registration (a tensorleap decorator on a
    nested def or class, or a ``*.set_*``/``*.add_*`` registrar call statement)."""
    found: list = []
    if _indented_registration(mod) and mod.tree is not None:
        stack: list[tuple[ast.stmt, Any]] = [(s, None) for s in reversed(mod.tree.body)]
        while stack:
            node, owner = stack.pop()
            registers = False
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                registers = owner is not None and any(
                    dotted(d.func if isinstance(d, ast.Call) else d).rsplit(".", 1)[-1] in DECORATORS
                    for d in node.decorator_list)
            elif isinstance(node, (ast.Expr, ast.Assign, ast.Return)) and isinstance(node.value, ast.Call):
                f = node.value.func
                registers = owner is not None and isinstance(f, ast.Attribute) and f.attr in LEGACY
            if registers and owner not in found:
                found.append(owner)
            if isinstance(node, _COMPOUND):
                inner = node if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) else owner
                for attr in ("body", "orelse", "finalbody", "handlers", "cases"):
                    for child in reversed(getattr(node, attr, None) or ()):
                        stack.append((child, inner))
    return found


def _function_nodes(mod: Module) -> list:
    """Every def of the module (top level, methods, nested)."""
    return index_of(mod).defs


def _cached(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """``@lru_cache`` / ``@functools.cache`` (called or not)."""
    for deco in fn.decorator_list:
        target = deco.func if isinstance(deco, ast.Call) else deco
        if dotted(target).rsplit(".", 1)[-1] in ("lru_cache", "cache"):
            return True
    return False


class _Extractor:
    """Runs the import of the closure (and, in a second pass, the factory calls in function bodies)."""

    def __init__(self, modules: dict[str, Module], resolver: Resolver):
        self.modules = modules
        self.r = resolver
        self.bindings: list[Binding] = []
        self.registrations = Registrations(modules, resolver)
        self._stack: list[int] = []
        # Factory call sites: in the sites pass only calls of factories run (nothing registers directly);
        # the outermost call running a factory is recorded on what it registers.
        self._sites_pass = False
        self._site: Span | None = None
        self._dedupe = False  # the running factory registers a key once (lru_cache, or a call from a function)
        self._lazy_run = False  # the running factory was called from a function body (the sites pass)
        self._factory_memo: dict[int, bool] = {}
        self._by_site_key: dict[tuple, Binding] = {}
        self._lazy: set[int] = set()  # ids of bindings registered by factory calls found in function bodies

    # --- the factory pass -----------------------------------------------------------------
    def _is_factory(self, fn: FunctionValue, seen: frozenset = frozenset()) -> bool:
        """Calling ``fn`` registers something (directly, or through another factory it calls)."""
        node = fn.node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return False
        hit = self._factory_memo.get(id(node))
        if hit is not None:
            return hit
        if id(node) in seen or len(seen) > _MAX_CALL_DEPTH:
            return False
        hit = node in _factories(fn.module)
        if not hit:
            for n in ast.walk(node):
                if isinstance(n, ast.Call) and isinstance(n.func, (ast.Name, ast.Attribute)):
                    callee = self.r.value(n.func, fn.module)
                    if isinstance(callee, FunctionValue) and callee.node is not node \
                            and self._is_factory(callee, seen | {id(node)}):
                        hit = True
                        break
        self._factory_memo[id(node)] = hit
        return hit

    def factory_call_sites(self) -> None:
        names = {n.name for m in self.modules.values() for n in _factories(m)}
        if not names:
            return
        self._sites_pass = True
        try:
            for mod in self.modules.values():
                if not any(n in mod.text for n in names):
                    continue  # no call of a factory can be written here (aliases included: they name it)
                factories = _factories(mod)
                for node in _function_nodes(mod):
                    if node in factories:
                        continue  # runs with the arguments of its own call sites
                    params = node.args.posonlyargs + node.args.args + node.args.kwonlyargs
                    env: dict[str, Any] = {a.arg: UNKNOWN for a in params}
                    self._stack.append(id(node))
                    try:
                        self.scan(mod, node.body, env, 1)
                    finally:
                        self._stack.pop()
        finally:
            self._sites_pass = False

    def finish(self) -> list[Binding]:
        """Drops the unknown-name registrations of factory calls found in function bodies when the factory's
        other calls give known names (a generic helper passing its parameter through, say)."""
        known = {(id(b.reg_node), b.kind) for b in self.bindings if b.name is not None}
        return [b for b in self.bindings
                if not (id(b) in self._lazy and b.name is None and (id(b.reg_node), b.kind) in known)]

    def _add(self, binding: Binding) -> None:
        if self._site is not None:
            key = (id(binding.reg_node), binding.kind, binding.name)
            prev = self._by_site_key.get(key)
            if self._dedupe and prev is not None:
                # The factory already registered this key (lru_cache returns the same function).
                if self._site not in prev.factory_sites:
                    prev.factory_sites.append(self._site)
                return
            if self._lazy_run:
                self._lazy.add(id(binding))
            binding.factory_sites.append(self._site)
            self._by_site_key.setdefault(key, binding)
        self.bindings.append(binding)

    # --- statements -----------------------------------------------------------------------
    def scan(self, mod: Module, stmts: Iterable[ast.stmt], env: dict[str, Any], depth: int) -> None:
        for stmt in stmts:
            try:
                self._stmt(mod, stmt, env, depth)
            except RecursionError:
                continue

    def _stmt(self, mod: Module, stmt: ast.stmt, env: dict[str, Any], depth: int) -> None:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if depth > 0:
                env[stmt.name] = FunctionValue(stmt, mod)
            if not self._sites_pass:
                for deco in stmt.decorator_list:
                    for binding in self.registrations.decorator(mod, deco, stmt, env):
                        self._add(binding)
        elif isinstance(stmt, (ast.Expr, ast.Return)):
            if stmt.value is not None:
                self._effects(mod, stmt.value, env, depth)
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            value = stmt.value
            if value is None:
                return
            self._effects(mod, value, env, depth)
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            if depth == 0 and all(isinstance(t, ast.Name) and mod.assigns.get(t.id) is value for t in targets):
                # The module-level value the resolver finds by name: no need to evaluate it here.
                for t in targets:
                    env.pop(t.id, None)  # type: ignore[attr-defined]
                return
            # In function bodies, and at module level in loops / re-assignments (``fn = globals()[...]``
            # inside a ``for``), the name holds this value from here on.
            val = self.r.value(value, mod, env)
            for t in targets:
                self._bind(t, val, env)
        elif isinstance(stmt, ast.If):
            test = self.r.value(stmt.test, mod, env)
            if test is UNKNOWN or isinstance(test, (CallValue, FunctionValue, ModuleValue)):
                self.scan(mod, stmt.body, env, depth)
                self.scan(mod, stmt.orelse, env, depth)
            elif test:
                self.scan(mod, stmt.body, env, depth)
            else:
                self.scan(mod, stmt.orelse, env, depth)
        elif isinstance(stmt, (ast.For, ast.AsyncFor)):
            items = self.r.value(stmt.iter, mod, env)
            if isinstance(items, list):
                for item in items[:_MAX_ITEMS]:
                    inner = dict(env)
                    self._bind(stmt.target, item, inner)
                    self.scan(mod, stmt.body, inner, depth)
            else:
                inner = dict(env)
                self._bind(stmt.target, UNKNOWN, inner)
                self.scan(mod, stmt.body, inner, depth)
            self.scan(mod, stmt.orelse, env, depth)
        elif isinstance(stmt, ast.While):
            self.scan(mod, stmt.body, dict(env), depth)
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            self.scan(mod, stmt.body, env, depth)
        elif isinstance(stmt, ast.Try) or type(stmt).__name__ == "TryStar":
            self.scan(mod, stmt.body, env, depth)  # type: ignore[attr-defined]
            for h in stmt.handlers:  # type: ignore[attr-defined]
                self.scan(mod, h.body, env, depth)
            self.scan(mod, stmt.orelse, env, depth)  # type: ignore[attr-defined]
            self.scan(mod, stmt.finalbody, env, depth)  # type: ignore[attr-defined]

    def _bind(self, target: ast.expr, value: Any, env: dict[str, Any]) -> None:
        if isinstance(target, ast.Name):
            env[target.id] = value
        elif isinstance(target, (ast.Tuple, ast.List)):
            vals = value if isinstance(value, list) and len(value) == len(target.elts) else [UNKNOWN] * len(target.elts)
            for t, v in zip(target.elts, vals):
                self._bind(t, v, env)

    # --- expressions with effects ---------------------------------------------------------
    def _effects(self, mod: Module, expr: ast.expr, env: dict[str, Any], depth: int) -> None:
        """Runs the calls of an expression in evaluation order (arguments first, nested calls too)."""
        if isinstance(expr, ast.Call):
            found = [] if self._sites_pass else (self.registrations.legacy(mod, expr, env)
                                                 or self.registrations.applied_decorator(mod, expr, env))
            for binding in found:
                self._add(binding)
            if found:
                return
            for sub in [expr.func, *expr.args, *(k.value for k in expr.keywords)]:
                self._effects(mod, sub, env, depth)
            self._call_into(mod, expr, env, depth)
        elif isinstance(expr, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            gen = expr.generators[0]
            items = self.r.value(gen.iter, mod, env) if len(expr.generators) == 1 else UNKNOWN
            for item in (items[:_MAX_ITEMS] if isinstance(items, list) else [UNKNOWN]):
                inner = dict(env)
                self._bind(gen.target, item, inner)
                for elt in ((expr.key, expr.value) if isinstance(expr, ast.DictComp) else (expr.elt,)):
                    self._effects(mod, elt, inner, depth)
        elif not isinstance(expr, (ast.Lambda, ast.Constant, ast.Name)):
            for child in ast.iter_child_nodes(expr):
                if isinstance(child, ast.expr):
                    self._effects(mod, child, env, depth)

    def _call_into(self, mod: Module, call: ast.Call, env: dict[str, Any], depth: int) -> None:
        """Runs the body of a local function called at import time (factories, loaders)."""
        if depth >= _MAX_CALL_DEPTH:
            return
        if not isinstance(call.func, (ast.Name, ast.Attribute)):
            return
        fn = self.r.value(call.func, mod, env)
        if not isinstance(fn, FunctionValue) or not isinstance(fn.node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return
        if id(fn.node) in self._stack or (self._sites_pass and not self._is_factory(fn)):
            return
        inner: dict[str, Any] = {}
        params = [a.arg for a in fn.node.args.posonlyargs + fn.node.args.args]
        defaults = fn.node.args.defaults
        for name, dflt in zip(params[len(params) - len(defaults):], defaults):
            inner[name] = self.r.value(dflt, fn.module)
        for name, arg in zip(params, call.args):
            inner[name] = self.r.value(arg, mod, env)
        for kw in call.keywords:
            if kw.arg:
                inner[kw.arg] = self.r.value(kw.value, mod, env)
        for name in params + [a.arg for a in fn.node.args.kwonlyargs]:
            inner.setdefault(name, UNKNOWN)
        self._stack.append(id(fn.node))
        outer, dedupe, lazy = self._site, self._dedupe, self._lazy_run
        if outer is None and self._is_factory(fn):
            self._site = mod.source.span(call)
            # Called again with the same key, a cached factory returns the function it made; calls
            # found in function bodies may all run or not: never a duplicate-name error from them.
            self._dedupe = self._sites_pass or _cached(fn.node)
            self._lazy_run = self._sites_pass
        sites_pass, self._sites_pass = self._sites_pass, False  # the factory's own body registers
        try:
            self.scan(fn.module, fn.node.body, inner, depth + 1)
        finally:
            self._stack.pop()
            self._site, self._dedupe, self._lazy_run = outer, dedupe, lazy
            self._sites_pass = sites_pass
