"""Static evaluation of the expressions registrations use: names, constants, f-strings,
containers, enum members, module-level variables (also across local modules) and values read
from YAML config files of the project.

Anything that cannot be known yields ``UNKNOWN``; callers then report a binding with an
unknown name rather than a false error. This module holds the values an evaluation gives and the
``Resolver``; what a name is bound to is found by ``core/project/names.py``, a YAML config's content read
by ``core/project/config_files.py``.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any, Callable

from tensorleap_ls.core.project.config_files import ConfigFiles
from tensorleap_ls.core.model import UNKNOWN, SymbolRef
from tensorleap_ls.core.facts.modules import Module
from tensorleap_ls.core.project.names import MAX_DEPTH, Names, bound_anywhere, writes_globals
from tensorleap_ls.core.sdk.bundled import ENUMS
from tensorleap_ls.core.source.text import dotted


@dataclass(frozen=True)
class CallValue:
    """An un-evaluated call, e.g. a ``PredictionTypeHandler(...)`` held in a list."""

    func: str  # dotted name of the callee as written
    node: ast.Call
    module: Module
    env: tuple = field(default=(), compare=False)  # (name, value) pairs of the loop / comprehension variables in scope at the call

    def arg_value(self, resolver: "Resolver", node: ast.expr) -> Any:
        """The value of one of the call's arguments, with the variables in scope where it was written."""
        return resolver.value(node, self.module, dict(self.env))


@dataclass(frozen=True)
class FunctionValue:
    """A function or class the expression refers to."""

    node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda
    module: Module

    @property
    def name(self) -> str:
        return getattr(self.node, "name", "<lambda>")


@dataclass(frozen=True)
class Undefined:
    """A name bound nowhere the analysis can see (and no star import could provide it)."""

    name: str


@dataclass(frozen=True)
class Missing:
    """A name imported from a local module that does not define it, or from a missing local module."""

    dotted: str


@dataclass(frozen=True)
class ModuleValue:
    """A local module bound to a name (``import helpers`` then ``helpers.encode``)."""

    module: Module


@dataclass(frozen=True)
class GlobalsValue:
    """``globals()`` of a module: subscripting it with a known key is a name lookup."""

    module: Module


# Values an f-string placeholder can be formatted from statically.
_SCALARS = (str, int, float, bool, type(None))


class Resolver(Names):
    """The value of an expression of a module of the project (names through ``Names``, YAML configs
    through ``ConfigFiles``)."""

    def __init__(self, modules: dict[str, Module], resolved: dict, read_text: Callable[[str], str | None], root: str):
        super().__init__(modules, resolved)
        self.configs = ConfigFiles(read_text, root)
        self._assigned: dict[tuple[int, int], tuple[ast.expr, Any]] = {}
        self.memo: dict = {}  # what checks derive from the closure once per analysis (the resolver lives for one)

    # --- values ---------------------------------------------------------------------------
    def value(self, node: ast.expr | None, mod: Module, env: dict[str, Any] | None = None, depth: int = 0) -> Any:
        if node is None or depth > MAX_DEPTH:
            return UNKNOWN
        env = env or {}
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            if node.id in env:
                return env[node.id]
            if node.id in ("True", "False", "None"):
                return {"True": True, "False": False, "None": None}[node.id]
            if node.id == "__name__":
                return mod.name  # imported as a module by the platform, never "__main__"
            found = self.lookup(mod, node.id)
            if found is None:
                return UNKNOWN
            kind, obj, where = found
            if kind == "assign":
                return self.assigned(obj, where, depth + 1)
            if kind == "def":
                return FunctionValue(obj, where)
            if kind == "external":
                return _enum_ref(obj) or SymbolRef(obj)
            if kind == "module" and obj in self.modules:
                return ModuleValue(self.modules[obj])
            if kind == "missing":
                return Missing(obj)
            return UNKNOWN
        if isinstance(node, ast.JoinedStr):
            parts = []
            for v in node.values:
                if isinstance(v, ast.Constant):
                    parts.append(str(v.value))
                elif isinstance(v, ast.FormattedValue) and v.format_spec is None and v.conversion in (-1, 115):
                    val = self.value(v.value, mod, env, depth + 1)
                    if not isinstance(val, _SCALARS):
                        return UNKNOWN
                    parts.append(str(val))
                else:
                    return UNKNOWN
            return "".join(parts)
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            out = []
            for elt in node.elts:
                if isinstance(elt, ast.Starred):
                    inner = self.value(elt.value, mod, env, depth + 1)
                    if not isinstance(inner, list):
                        return UNKNOWN
                    out.extend(inner)
                else:
                    out.append(self.value(elt, mod, env, depth + 1))
            return out
        if isinstance(node, ast.Dict):
            out_d: dict = {}
            for k, v in zip(node.keys, node.values):
                if k is None:
                    return UNKNOWN
                kv = self.value(k, mod, env, depth + 1)
                if kv is UNKNOWN or not _hashable(kv):
                    return UNKNOWN
                out_d[kv] = self.value(v, mod, env, depth + 1)
            return out_d
        if isinstance(node, ast.Attribute):
            enum = _enum_ref(dotted(node))
            if enum is not None:
                return enum
            base = self.value(node.value, mod, env, depth + 1)
            if isinstance(base, ModuleValue):
                return self.member(base, node.attr, depth)
            if isinstance(base, SymbolRef):
                return _enum_ref(f"{base.qualname}.{node.attr}") or SymbolRef(f"{base.qualname}.{node.attr}")
            return UNKNOWN
        if isinstance(node, ast.Subscript):
            base = self.value(node.value, mod, env, depth + 1)
            key = self.value(node.slice, mod, env, depth + 1)
            if isinstance(base, GlobalsValue) and isinstance(key, str):
                return self.member(base, key, depth)
            if isinstance(base, SymbolRef) and base.qualname == "sys.modules" and isinstance(key, str):
                path = next((p for p, m in self.modules.items() if m.name == key), None)
                return ModuleValue(self.modules[path]) if path else UNKNOWN
            try:
                if isinstance(base, (list, dict, str)) and key is not UNKNOWN:
                    return base[key]
            except (KeyError, IndexError, TypeError):
                return UNKNOWN
            return UNKNOWN
        if isinstance(node, ast.BinOp):
            left = self.value(node.left, mod, env, depth + 1)
            right = self.value(node.right, mod, env, depth + 1)
            if left is UNKNOWN or right is UNKNOWN:
                return UNKNOWN
            try:
                if isinstance(node.op, ast.Add) and type(left) is type(right) and isinstance(left, (str, int, float, list)):
                    return left + right
                if isinstance(node.op, ast.Mod) and isinstance(left, str):
                    return left % right
            except (TypeError, ValueError):
                return UNKNOWN
            return UNKNOWN
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            v = self.value(node.operand, mod, env, depth + 1)
            return -v if isinstance(v, (int, float)) and not isinstance(v, bool) else UNKNOWN
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            v = self.value(node.operand, mod, env, depth + 1)
            return (not v) if v is not UNKNOWN else UNKNOWN
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            left = self.value(node.left, mod, env, depth + 1)
            right = self.value(node.comparators[0], mod, env, depth + 1)
            if left is UNKNOWN or right is UNKNOWN or isinstance(left, (CallValue, FunctionValue)):
                return UNKNOWN
            op = node.ops[0]
            try:
                if isinstance(op, ast.Eq):
                    return left == right
                if isinstance(op, ast.NotEq):
                    return left != right
                if isinstance(op, ast.In):
                    return left in right
                if isinstance(op, ast.NotIn):
                    return left not in right
            except TypeError:
                return UNKNOWN
            return UNKNOWN
        if isinstance(node, ast.BoolOp):
            vals = [self.value(v, mod, env, depth + 1) for v in node.values]
            if any(v is UNKNOWN for v in vals):
                return UNKNOWN
            return all(vals) if isinstance(node.op, ast.And) else any(vals)
        if isinstance(node, ast.Lambda):
            return FunctionValue(node, mod)
        if isinstance(node, ast.ListComp):
            return self._comprehension(node, node.generators, mod, env, depth)
        if isinstance(node, ast.Call):
            return self._call_value(node, mod, env, depth)
        return UNKNOWN

    def member(self, base: "ModuleValue | GlobalsValue", name: str, depth: int = 0) -> Any:
        """``module.name``, ``getattr(module, name)``, ``globals()[name]``: a top-level name of a module.

        A key that ``globals()`` cannot hold is ``Undefined`` (a KeyError at import): no statement of
        the module binds it anywhere (tuple targets, loops, ``global`` in functions count) and nothing
        we cannot see could (an external star import, a write to ``globals()``). ``getattr`` of a
        missing name stays unknown.
        """
        found = self.lookup(base.module, name)
        if found is None:
            if isinstance(base, GlobalsValue) and not self.has_external_star(base.module) \
                    and not writes_globals(base.module) and name not in bound_anywhere(base.module):
                return Undefined(name)
            return UNKNOWN
        kind, obj, where = found
        if kind == "def":
            return FunctionValue(obj, where)
        if kind == "assign":
            return self.assigned(obj, where, depth + 1)
        if kind == "module" and obj in self.modules:
            return ModuleValue(self.modules[obj])
        if kind == "missing":
            return Missing(obj)
        return SymbolRef(obj) if kind == "external" else UNKNOWN

    def assigned(self, expr: ast.expr, mod: Module, depth: int) -> Any:
        """The value of a module-level assignment, once per (expression, depth) and analysis: values
        defined in terms of each other (``A = [B, B]``, ``B = [C, C]``...) cost linear work, not a
        tree of evaluations. Lists and dicts are copied: callers may extend what they get."""
        key = (id(expr), depth)
        hit = self._assigned.get(key)
        if hit is None or hit[0] is not expr:  # the node is kept: a temporary node's id may be reused
            hit = self._assigned[key] = (expr, self.value(expr, mod, None, depth))
        value = hit[1]
        return list(value) if isinstance(value, list) else dict(value) if isinstance(value, dict) else value

    def _call_value(self, node: ast.Call, mod: Module, env: dict, depth: int) -> Any:
        fname = dotted(node.func)
        short = fname.rsplit(".", 1)[-1]
        args = node.args
        if fname in ("globals", "vars") and not args and not node.keywords and "globals" not in env:
            return GlobalsValue(mod)
        if fname == "getattr" and len(args) in (2, 3):
            base = self.value(args[0], mod, env, depth + 1)
            key = self.value(args[1], mod, env, depth + 1)
            if isinstance(base, (ModuleValue, GlobalsValue)) and isinstance(key, str):
                found = self.member(ModuleValue(base.module), key, depth)
                if found is UNKNOWN and len(args) == 3:
                    return self.value(args[2], mod, env, depth + 1)
                return found
            return UNKNOWN
        if short in ("list", "tuple", "sorted") and len(args) == 1:
            inner = self.value(args[0], mod, env, depth + 1)
            if isinstance(inner, list):
                return sorted(inner) if short == "sorted" and _sortable(inner) else list(inner)
            if isinstance(inner, dict):
                return list(inner)
            return UNKNOWN
        if short == "range" and 1 <= len(args) <= 3:
            vals = [self.value(a, mod, env, depth + 1) for a in args]
            if all(isinstance(v, int) and not isinstance(v, bool) for v in vals):
                r = range(*vals)
                return list(r) if len(r) <= 10_000 else UNKNOWN
            return UNKNOWN
        if short == "enumerate" and len(args) == 1:
            inner = self.value(args[0], mod, env, depth + 1)
            return [[i, v] for i, v in enumerate(inner)] if isinstance(inner, list) else UNKNOWN
        if short == "zip" and args:
            inners = [self.value(a, mod, env, depth + 1) for a in args]
            if all(isinstance(i, list) for i in inners):
                return [list(t) for t in zip(*inners)]
            return UNKNOWN
        if isinstance(node.func, ast.Attribute) and node.func.attr in ("keys", "values", "items") and not args:
            base = self.value(node.func.value, mod, env, depth + 1)
            if isinstance(base, dict):
                if node.func.attr == "keys":
                    return list(base)
                if node.func.attr == "values":
                    return list(base.values())
                return [[k, v] for k, v in base.items()]
            return UNKNOWN
        if isinstance(node.func, ast.Attribute) and node.func.attr == "get" and args:
            base = self.value(node.func.value, mod, env, depth + 1)
            key = self.value(args[0], mod, env, depth + 1)
            if isinstance(base, GlobalsValue) and isinstance(key, str):
                found = self.member(base, key, depth)
                if isinstance(found, Undefined):  # .get() of a missing key returns the default
                    return self.value(args[1], mod, env, depth + 1) if len(args) > 1 else None
                return found
            if isinstance(base, dict) and key is not UNKNOWN and _hashable(key):
                default = self.value(args[1], mod, env, depth + 1) if len(args) > 1 else None
                return base.get(key, default)
            return UNKNOWN
        if short in ("safe_load", "load", "full_load") and fname.startswith("yaml") and args:
            return self.configs.value(args[0], mod)
        if short == "str" and len(args) == 1:
            v = self.value(args[0], mod, env, depth + 1)
            return str(v) if isinstance(v, (str, int, float)) else UNKNOWN
        if isinstance(node.func, ast.Name) and fname not in env:  # `CONFIG = load_config()`: a YAML reader
            found = self.lookup(mod, fname)
            if found is not None and found[0] == "def" and isinstance(found[1], (ast.FunctionDef, ast.AsyncFunctionDef)):
                loaded = self.configs.from_loader(found[1], found[2], node, mod)
                if loaded is not UNKNOWN:
                    return loaded
        return CallValue(fname, node, mod, tuple(env.items()))

    def _comprehension(self, node: ast.ListComp, gens: list[ast.comprehension], mod: Module, env: dict,
                       depth: int) -> Any:
        """``[elt for t in ITER if ...]`` over a statically known iterable (e.g. a list read from a config)."""
        if not gens:
            return [self.value(node.elt, mod, env, depth + 1)]
        gen = gens[0]
        items = self.value(gen.iter, mod, env, depth + 1)
        if gen.is_async or not isinstance(items, list) or len(items) > 10_000:
            return UNKNOWN
        out: list = []
        for item in items:
            inner = _bind_target(gen.target, item, env)
            if inner is None:
                return UNKNOWN
            tests = [self.value(t, mod, inner, depth + 1) for t in gen.ifs]
            if any(t is UNKNOWN or isinstance(t, (CallValue, FunctionValue)) for t in tests):
                return UNKNOWN
            if all(tests):
                rest = self._comprehension(node, gens[1:], mod, inner, depth + 1)
                if rest is UNKNOWN:
                    return UNKNOWN
                out.extend(rest)
        return out


def _bind_target(target: ast.expr, value: Any, env: dict) -> dict | None:
    """The env with a loop target bound to ``value`` (a name or a tuple of names), None when it cannot be."""
    if isinstance(target, ast.Name):
        return {**env, target.id: value}
    if isinstance(target, (ast.Tuple, ast.List)) and isinstance(value, (list, tuple)) \
            and len(value) == len(target.elts):
        out: dict | None = env
        for t, v in zip(target.elts, value):
            out = _bind_target(t, v, out) if out is not None else None
        return out
    return None



def _enum_ref(dotted: str) -> SymbolRef | None:
    parts = dotted.split(".")
    if len(parts) >= 2 and parts[-2] in ENUMS:
        return SymbolRef(f"{parts[-2]}.{parts[-1]}")
    return None


def _hashable(v: Any) -> bool:
    try:
        hash(v)
    except TypeError:
        return False
    return True


def _sortable(v: list) -> bool:
    try:
        sorted(v)
    except TypeError:
        return False
    return True
