"""Binding extraction: every registration the platform would see when it imports the entry.

The extractor walks the top level of each module of the closure the way an import executes
it: ``if`` on known constants takes one branch, ``for`` over known lists runs once per item,
calls of local functions (factories, ``lru_cache`` loaders, registration helpers) run their
bodies with the arguments bound. Both API styles are recognised, under any alias.

Factories (functions whose body registers something, e.g. an ``lru_cache`` loader holding a
decorated ``def`` named after its parameter) register when they are called, which may be long
after import: from the integration test (run in mapping mode by the platform) or from other
functions. A second pass scans every function body of the closure for calls of factories and
runs each with its arguments (one binding per statically known key, an unknown name otherwise).
"""

from __future__ import annotations

import ast
import builtins
import re
from typing import Any, Iterable

from tensorleap_ls.core.evaluate import (
    CallValue,
    FunctionValue,
    Missing,
    ModuleValue,
    Resolver,
    Undefined,
)
from tensorleap_ls.core.model import UNKNOWN, ArgValue, Binding, Kind, Span, Style
from tensorleap_ls.core.modules import Module
from tensorleap_ls.core.sdk import DECORATORS, LEGACY, Registrar
from tensorleap_ls.core.source import dotted

_MAX_CALL_DEPTH = 4
_MAX_ITEMS = 200
_BINDER_NAMES = {"leap_binder", "global_leap_binder"}
_BUILTINS = frozenset(dir(builtins))




def extract(modules: dict[str, Module], resolver: Resolver) -> list[Binding]:
    ex = _Extractor(modules, resolver)
    for mod in modules.values():
        if mod.tree is not None:
            ex.scan(mod, mod.tree.body, {}, 0)
    ex.factory_call_sites()
    return ex.finish()


# Statements holding other statements (the rest have no body to walk).
_COMPOUND = tuple(getattr(ast, n) for n in ("FunctionDef", "AsyncFunctionDef", "ClassDef", "If", "For", "AsyncFor",
                                             "While", "With", "AsyncWith", "Try", "TryStar", "Match", "ExceptHandler",
                                             "match_case") if hasattr(ast, n))


# A registration written indented (inside a def, maybe): a cheap test before walking a module for factories.
_INDENTED_REGISTRATION = re.compile(r"^[ \t]+(?:@[\w.]*tensorleap_|[\w.]+\.(?:set|add)_\w+\s*\()", re.M)


def _factories(mod: Module) -> list:
    """The factories of a module: the innermost def around a registration (a tensorleap decorator on a
    nested def or class, or a ``*.set_*``/``*.add_*`` registrar call statement). Once per text."""
    found = mod.memo.get("factories")
    if found is not None:
        return found
    found = []
    if mod.tree is not None and _INDENTED_REGISTRATION.search(mod.text):
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
    mod.memo["factories"] = found
    return found


def _function_nodes(mod: Module) -> list:
    """Every def of the module (top level, methods, nested). Once per text."""
    nodes = mod.memo.get("function_nodes")
    if nodes is None:
        nodes = [n for n in ast.walk(mod.tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))] \
            if mod.tree is not None else []
        mod.memo["function_nodes"] = nodes
    return nodes


def _cached(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """``@lru_cache`` / ``@functools.cache`` (called or not)."""
    for deco in fn.decorator_list:
        target = deco.func if isinstance(deco, ast.Call) else deco
        if dotted(target).rsplit(".", 1)[-1] in ("lru_cache", "cache"):
            return True
    return False


class _Extractor:
    def __init__(self, modules: dict[str, Module], resolver: Resolver):
        self.modules = modules
        self.r = resolver
        self.bindings: list[Binding] = []
        self._stack: list[int] = []
        self._binder_aliases: dict[str, set[str]] = {}
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
                    self._decorator(mod, deco, stmt, env)
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
            if not self._sites_pass and (self._legacy(mod, expr, env) or self._applied_decorator(mod, expr, env)):
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

    # --- the two API styles ---------------------------------------------------------------
    def _legacy(self, mod: Module, call: ast.Call, env: dict[str, Any]) -> bool:
        func = call.func
        if not isinstance(func, ast.Attribute) or func.attr not in LEGACY:
            return False
        if not self._is_binder(mod, func.value, env):
            return False
        reg = LEGACY[func.attr]
        args = self._args(mod, reg, call.args, call.keywords, env)
        binding = Binding(
            kind=reg.kind, name=None, style=Style.LEGACY, function=None,
            reg_span=mod.source.span(call), args=args, reg_node=call, module_path=mod.path,
        )
        self._name(binding, reg)
        if reg.function_param:
            self._function(mod, binding, reg.function_param, env)
        self._add(binding)
        return True

    def _applied_decorator(self, mod: Module, call: ast.Call, env: dict[str, Any]) -> bool:
        """``tensorleap_custom_visualizer(name=..., ...)(fn)``: a decorator applied by hand (often in a loop)."""
        deco = call.func
        if len(call.args) != 1 or call.keywords or isinstance(call.args[0], ast.Starred):
            return False
        target = deco.func if isinstance(deco, ast.Call) else deco
        reg = DECORATORS.get(dotted(target).rsplit(".", 1)[-1])
        if reg is None:
            return False
        args = self._args(mod, reg, deco.args if isinstance(deco, ast.Call) else [],
                          deco.keywords if isinstance(deco, ast.Call) else [], env)
        fn = call.args[0]
        args["function"] = ArgValue(mod.source.segment(fn), mod.source.span(fn), self.r.value(fn, mod, env), fn)
        binding = Binding(kind=reg.kind, name=None, style=Style.DECORATOR, function=None,
                          reg_span=mod.source.span(call), args=args, reg_node=call, module_path=mod.path)
        self._name(binding, reg)
        self._function(mod, binding, "function", env)
        self._add(binding)
        if reg.kind is Kind.LOAD_MODEL and "prediction_types" in args:
            self._prediction_handlers(args["prediction_types"])
        return True

    def _decorator(self, mod: Module, deco: ast.expr, node: ast.AST, env: dict[str, Any]) -> None:
        call = deco if isinstance(deco, ast.Call) else None
        target = call.func if call is not None else deco
        short = dotted(target).rsplit(".", 1)[-1]
        reg = DECORATORS.get(short)
        if reg is None:
            return
        args = self._args(mod, reg, call.args if call else [], call.keywords if call else [], env)
        binding = Binding(
            kind=reg.kind, name=None, style=Style.DECORATOR, function=node.name,  # type: ignore[attr-defined]
            reg_span=mod.source.span(deco), def_span=mod.source.def_name_span(node),  # type: ignore[arg-type]
            args=args, def_node=node, reg_node=deco, module_path=mod.path, def_path=mod.path,  # type: ignore[arg-type]
        )
        self._name(binding, reg)
        self._add(binding)
        if reg.kind is Kind.LOAD_MODEL and "prediction_types" in args:
            self._prediction_handlers(args["prediction_types"])

    def _prediction_handlers(self, arg: ArgValue) -> None:
        if not isinstance(arg.value, list):
            return
        for item in arg.value:
            if not isinstance(item, CallValue) or not item.func.endswith("PredictionTypeHandler"):
                continue
            src = item.module
            params = ("name", "labels", "channel_dim")
            args: dict[str, ArgValue] = {}
            for pname, a in zip(params, item.node.args):
                args[pname] = ArgValue(src.source.segment(a), src.source.span(a), self.r.value(a, src), a)
            for kw in item.node.keywords:
                if kw.arg:
                    args[kw.arg] = ArgValue(src.source.segment(kw.value), src.source.span(kw.value), self.r.value(kw.value, src), kw.value)
            name = args.get("name")
            self._add(Binding(
                kind=Kind.PREDICTION, name=name.value if name and isinstance(name.value, str) else None,
                style=Style.DECORATOR, function=None, reg_span=src.source.span(item.node),
                name_span=name.span if name else None, args=args, reg_node=item.node, module_path=src.path,
            ))

    # --- helpers --------------------------------------------------------------------------
    def _args(self, mod: Module, reg: Registrar, pos: list[ast.expr], kws: list[ast.keyword], env: dict[str, Any]) -> dict[str, ArgValue]:
        out: dict[str, ArgValue] = {}
        for pname, a in zip(reg.params, pos):
            if isinstance(a, ast.Starred):
                break
            out[pname] = ArgValue(mod.source.segment(a), mod.source.span(a), self.r.value(a, mod, env), a)
        for kw in kws:
            if kw.arg:
                out[kw.arg] = ArgValue(mod.source.segment(kw.value), mod.source.span(kw.value), self.r.value(kw.value, mod, env), kw.value)
        return out

    @staticmethod
    def _name(binding: Binding, reg: Registrar) -> None:
        if reg.name_param and reg.name_param in binding.args:
            arg = binding.args[reg.name_param]
            binding.name_span = arg.span
            binding.name = arg.value if isinstance(arg.value, str) else None

    def _function(self, mod: Module, binding: Binding, param: str, env: dict[str, Any]) -> None:
        arg = binding.args.get(param)
        if arg is None or arg.node is None:
            return
        val = arg.value
        if isinstance(val, CallValue):
            val = self._unwrap_call(val, env)
        if val is UNKNOWN and isinstance(arg.node, ast.Name):
            name = arg.node.id
            if name not in env and name not in _BUILTINS and self.r.lookup(mod, name) is None \
                    and not self.r.has_external_star(mod):
                val = Undefined(name)
            arg.value = val
        if isinstance(val, FunctionValue):
            arg.value = val
            binding.function = val.name
            binding.def_node = val.node if not isinstance(val.node, ast.Lambda) else None
            binding.def_path = val.module.path
            if isinstance(val.node, ast.Lambda):
                binding.def_span = val.module.source.span(val.node)
            else:
                binding.def_span = val.module.source.def_name_span(val.node)
        elif isinstance(val, (Undefined, Missing)):
            arg.value = val
            binding.function = val.name if isinstance(val, Undefined) else val.dotted.rsplit(".", 1)[-1]
        elif isinstance(arg.node, (ast.Name, ast.Attribute)):
            binding.function = dotted(arg.node)

    def _unwrap_call(self, val: CallValue, env: dict[str, Any]) -> Any:
        """``partial(f, ...)`` -> f; ``factory(...)`` returning an inner def -> that def."""
        short = val.func.rsplit(".", 1)[-1]
        if short == "partial" and val.node.args:
            return self.r.value(val.node.args[0], val.module, env)
        fn = self.r.value(val.node.func, val.module, env)
        if isinstance(fn, FunctionValue) and isinstance(fn.node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            inner_defs = {s.name: s for s in fn.node.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))}
            for stmt in fn.node.body:
                if isinstance(stmt, ast.Return) and isinstance(stmt.value, ast.Name) and stmt.value.id in inner_defs:
                    return FunctionValue(inner_defs[stmt.value.id], fn.module)
                if isinstance(stmt, ast.Return) and isinstance(stmt.value, ast.Lambda):
                    return FunctionValue(stmt.value, fn.module)
        return UNKNOWN

    def _is_binder(self, mod: Module, node: ast.expr, env: dict[str, Any]) -> bool:
        if isinstance(node, ast.Name):
            return node.id in self._aliases(mod)
        if isinstance(node, ast.Attribute):
            return node.attr in _BINDER_NAMES
        return False

    def _aliases(self, mod: Module) -> set[str]:
        cached = self._binder_aliases.get(mod.path)
        if cached is not None:
            return cached
        names = set(_BINDER_NAMES)
        for ref in mod.imports:
            for orig, bound in ref.names:
                if orig in _BINDER_NAMES:
                    names.add(bound)
        changed = True
        while changed:  # lb = leap_binder; lb2 = lb
            changed = False
            for k, v in mod.assigns.items():
                if k not in names and (
                    (isinstance(v, ast.Name) and v.id in names)
                    or (isinstance(v, ast.Attribute) and v.attr in _BINDER_NAMES)
                ):
                    names.add(k)
                    changed = True
        # names imported from other local modules that are binder aliases there
        for ref in mod.imports:
            for orig, bound in ref.names:
                if orig == "*" or bound in names:
                    continue
                src = self.r.resolved.get((mod.path, id(ref.node), ""))
                if src in self.modules and src != mod.path:
                    other = self.modules[src]
                    v = other.assigns.get(orig)
                    if isinstance(v, ast.Name) and v.id in _BINDER_NAMES:
                        names.add(bound)
        self._binder_aliases[mod.path] = names
        return names
