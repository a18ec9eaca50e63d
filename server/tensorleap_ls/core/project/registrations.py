"""What one registration gives: a ``Binding`` per ``leap_binder.set_*`` / ``add_*`` call (under any
alias of the binder, also imported from another local module), per ``@tensorleap_*`` decorator
(applied on a def or class, or by hand: ``tensorleap_custom_visualizer(...)(fn)``), and one per
``PredictionTypeHandler(...)`` of ``load_model``; its arguments evaluated and its function found
(through ``partial(f, ...)`` and factories returning an inner def). ``core/project/bindings.py`` walks the
import and calls it on every statement that runs.
"""

from __future__ import annotations

import ast
import builtins
from typing import Any

from tensorleap_ls.core.project.evaluate import CallValue, FunctionValue, Missing, Resolver, Undefined
from tensorleap_ls.core.model import UNKNOWN, ArgValue, Binding, Kind, Style
from tensorleap_ls.core.facts.modules import Module
from tensorleap_ls.core.sdk.bundled import DECORATORS, LEGACY, Registrar
from tensorleap_ls.core.source.text import dotted

_BINDER_NAMES = {"leap_binder", "global_leap_binder"}
_BUILTINS = frozenset(dir(builtins))


class Registrations:
    """Recognises the registrations of both API styles in the modules of one project."""

    def __init__(self, modules: dict[str, Module], resolver: Resolver):
        self.modules = modules
        self.r = resolver
        self._binder_aliases: dict[str, set[str]] = {}

    def legacy(self, mod: Module, call: ast.Call, env: dict[str, Any]) -> list[Binding]:
        """``leap_binder.set_*(...)`` / ``add_*(...)`` under any alias of the binder."""
        func = call.func
        if not isinstance(func, ast.Attribute) or func.attr not in LEGACY:
            return []
        if not self._is_binder(mod, func.value, env):
            return []
        reg = LEGACY[func.attr]
        # its arguments' text and places and its span, kept on the call (as a decorator's, ``decorator``)
        kept = call.__dict__.get("_tl_registrar")
        if kept is None or kept[0] != mod.path or kept[1] is not reg:
            src = mod.source
            kept = call._tl_registrar = (mod.path, reg, self._arg_parts(src, reg, call.args, call.keywords), src.span(call))
        args = self._valued(mod, kept[2], env)
        binding = Binding(
            kind=reg.kind, name=None, style=Style.LEGACY, function=None,
            reg_span=kept[3], args=args, reg_node=call, module_path=mod.path,
        )
        self._name(binding, reg)
        if reg.function_param:
            self._function(mod, binding, reg.function_param, env)
        return [binding]

    def applied_decorator(self, mod: Module, call: ast.Call, env: dict[str, Any]) -> list[Binding]:
        """``tensorleap_custom_visualizer(name=..., ...)(fn)``: a decorator applied by hand (often in a loop)."""
        deco = call.func
        if len(call.args) != 1 or call.keywords or isinstance(call.args[0], ast.Starred):
            return []
        target = deco.func if isinstance(deco, ast.Call) else deco
        reg = DECORATORS.get(dotted(target).rsplit(".", 1)[-1])
        if reg is None:
            return []
        args = self._args(mod, reg, deco.args if isinstance(deco, ast.Call) else [],
                          deco.keywords if isinstance(deco, ast.Call) else [], env)
        fn = call.args[0]
        args["function"] = ArgValue(mod.source.segment(fn), mod.source.span(fn), self.r.value(fn, mod, env), fn)
        binding = Binding(kind=reg.kind, name=None, style=Style.DECORATOR, function=None,
                          reg_span=mod.source.span(call), args=args, reg_node=call, module_path=mod.path)
        self._name(binding, reg)
        self._function(mod, binding, "function", env)
        return [binding, *self._prediction_handlers(reg, args)]

    def decorator(self, mod: Module, deco: ast.expr, node: ast.AST, env: dict[str, Any]) -> list[Binding]:
        """A ``@tensorleap_*`` decorator of the def or class ``node``."""
        # What the decorator's text gives (its registrar, each argument's text and place, the spans) is kept on it:
        # an unchanged statement is the same node across edits (source/parse.py). The values are evaluated each time
        # (they read the rest of the project).
        kept = deco.__dict__.get("_tl_registrar")
        if kept is None or kept[0] != mod.path or kept[1] != id(node):
            call = deco if isinstance(deco, ast.Call) else None
            target = call.func if call is not None else deco
            reg = DECORATORS.get(dotted(target).rsplit(".", 1)[-1])
            if reg is None:
                parts = None
            else:
                pos, kws = (call.args, call.keywords) if call is not None else ([], [])
                src = mod.source
                parts = (reg, self._arg_parts(src, reg, pos, kws), src.span(deco), src.def_name_span(node))  # type: ignore[arg-type]
            kept = deco._tl_registrar = (mod.path, id(node), parts)  # not the def: a reference cycle
        if kept[2] is None:
            return []
        reg, arg_parts, reg_span, def_span = kept[2]
        args = self._valued(mod, arg_parts, env)
        binding = Binding(
            kind=reg.kind, name=None, style=Style.DECORATOR, function=node.name,  # type: ignore[attr-defined]
            reg_span=reg_span, def_span=def_span,
            args=args, def_node=node, reg_node=deco, module_path=mod.path, def_path=mod.path,  # type: ignore[arg-type]
        )
        self._name(binding, reg)
        return [binding, *self._prediction_handlers(reg, args)]

    def _prediction_handlers(self, reg: Registrar, args: dict[str, ArgValue]) -> list[Binding]:
        """The ``PredictionTypeHandler(...)`` items of ``load_model``'s ``prediction_types`` list."""
        arg = args.get("prediction_types") if reg.kind is Kind.LOAD_MODEL else None
        if arg is None or not isinstance(arg.value, list):
            return []
        out = []
        for item in arg.value:
            if not isinstance(item, CallValue) or not item.func.endswith("PredictionTypeHandler"):
                continue
            src = item.module
            params = ("name", "labels", "channel_dim")
            args: dict[str, ArgValue] = {}
            for pname, a in zip(params, item.node.args):
                args[pname] = ArgValue(src.source.segment(a), src.source.span(a), item.arg_value(self.r, a), a)
            for kw in item.node.keywords:
                if kw.arg:
                    args[kw.arg] = ArgValue(src.source.segment(kw.value), src.source.span(kw.value),
                                            item.arg_value(self.r, kw.value), kw.value)
            name = args.get("name")
            out.append(Binding(
                kind=Kind.PREDICTION, name=name.value if name and isinstance(name.value, str) else None,
                style=Style.DECORATOR, function=None, reg_span=src.source.span(item.node),
                name_span=name.span if name else None, args=args, reg_node=item.node, module_path=src.path,
            ))
        return out

    # --- helpers --------------------------------------------------------------------------
    def _args(self, mod: Module, reg: Registrar, pos: list[ast.expr], kws: list[ast.keyword], env: dict[str, Any]) -> dict[str, ArgValue]:
        return self._valued(mod, self._arg_parts(mod.source, reg, pos, kws), env)

    def _valued(self, mod: Module, parts: tuple, env: dict[str, Any]) -> dict[str, ArgValue]:
        """The arguments (``_arg_parts``) with their values, evaluated now (they read the rest of the project)."""
        r = self.r
        return {pname: ArgValue(text, span, r.value(a, mod, env), a) for pname, text, span, a in parts}

    @staticmethod
    def _arg_parts(src, reg: Registrar, pos: list[ast.expr], kws: list[ast.keyword]) -> tuple:
        """(parameter, text, span, node) of each argument by the registrar's parameters: the positional ones up to a
        ``*args``, then the keywords (a parameter given twice: the last)."""
        out: dict[str, tuple] = {}
        for pname, a in zip(reg.params, pos):
            if isinstance(a, ast.Starred):
                break
            out[pname] = (pname, src.segment(a), src.span(a), a)
        for kw in kws:
            if kw.arg:
                out[kw.arg] = (kw.arg, src.segment(kw.value), src.span(kw.value), kw.value)
        return tuple(out.values())

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
                src = self.r.resolved.get((mod.path, ref.index, ""))
                if src in self.modules and src != mod.path:
                    other = self.modules[src]
                    v = other.assigns.get(orig)
                    if isinstance(v, ast.Name) and v.id in _BINDER_NAMES:
                        names.add(bound)
        self._binder_aliases[mod.path] = names
        return names
