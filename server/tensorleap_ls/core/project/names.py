"""Name lookup across the modules of one project: what a top-level name of a module is bound to
(a def, an assignment, a local module, an external symbol, or a name missing from a local module),
through imports, aliases and star imports, and which names a module could bind at run time.
``core.evaluate.Resolver`` builds on it to evaluate expressions.
"""

from __future__ import annotations

import ast
from typing import Any

from tensorleap_ls.core.facts.modules import Module, index_of, per_text
from tensorleap_ls.core.source.text import dotted

MAX_DEPTH = 30


class Names:
    """Top-level name lookup across the modules of one project (module level, star imports, aliases)."""

    def __init__(self, modules: dict[str, Module], resolved: dict):
        self.modules = modules
        self.resolved = resolved  # (module path, id(import node), attr) -> module path

    def lookup(self, mod: Module, name: str, depth: int = 0) -> tuple[str, Any, Module] | None:
        """Finds what a top-level ``name`` is bound to in ``mod``.

        Returns ("def", node, module), ("assign", expr, module), ("module", path, module),
        ("external", dotted, module) or None.
        """
        if depth > MAX_DEPTH:
            return None
        if name in mod.defs:
            return ("def", mod.defs[name], mod)
        if name in mod.assigns:
            return ("assign", mod.assigns[name], mod)
        stars = []
        for ref in mod.imports:
            if ref.names == [("*", "*")]:
                stars.append(ref)
                continue
            if ref.bound == name and not ref.names:
                is_alias = ref.bound != ref.module.split(".")[0] or "." not in ref.module
                target = self.resolved.get((mod.path, id(ref.node), "" if is_alias else "top"))
                if target is not None:
                    return ("module", target, mod)
                return ("external", ref.module if is_alias else ref.module.split(".")[0], mod)
            for orig, bound in ref.names:
                if bound != name:
                    continue
                sub = self.resolved.get((mod.path, id(ref.node), orig))
                src = self.resolved.get((mod.path, id(ref.node), ""))
                if sub is not None:
                    # `from pkg import f` reads the attribute of the package first: an `__init__.py` that
                    # re-exports a function over its submodule (`from .f import f`) gives the function.
                    over = self.lookup(self.modules[src], orig, depth + 1) if src in self.modules and src != sub \
                        else None
                    if over is not None and not (over[0] == "module" and over[1] == sub):
                        return over
                    return ("module", sub, mod)
                dotted = ("." * ref.level) + ref.module
                if src is not None and src in self.modules:
                    found = self.lookup(self.modules[src], orig, depth + 1)
                    if found is None and not self.has_external_star(self.modules[src]):
                        return ("missing", f"{dotted}.{orig}", mod)
                    return found
                if ref.level:  # a relative import that does not resolve cannot be third-party
                    return ("missing", f"{dotted}.{orig}", mod)
                return ("external", f"{dotted}.{orig}", mod)
        for ref in reversed(stars):
            src = self.resolved.get((mod.path, id(ref.node), ""))
            if src is not None and src in self.modules:
                found = self.lookup(self.modules[src], name, depth + 1)
                if found is not None:
                    return found
        return None

    def has_external_star(self, mod: Module, depth: int = 0) -> bool:
        """True when ``mod`` star-imports a module we cannot see (any name may come from it)."""
        if depth > MAX_DEPTH:
            return False
        for ref in mod.imports:
            if ref.names != [("*", "*")]:
                continue
            src = self.resolved.get((mod.path, id(ref.node), ""))
            if src is None or src not in self.modules:
                if not (ref.module or "").startswith("code_loader"):
                    return True
            elif self.has_external_star(self.modules[src], depth + 1):
                return True
        return False


def bound_anywhere(mod: Module) -> frozenset:
    """Every name some statement of the module binds, at any depth (a superset of its globals)."""
    return index_of(mod).bound


@per_text("writes_globals")
def writes_globals(mod: Module) -> bool:
    """``globals()[k] = v`` / ``globals().update(...)`` / ``setattr(sys.modules[...], ...)``: names appear at run time."""
    if mod.tree is None or ("globals()" not in mod.text and "setattr(" not in mod.text):
        return False
    for n in ast.walk(mod.tree):
        if isinstance(n, ast.Subscript) and isinstance(n.ctx, ast.Store) and isinstance(n.value, ast.Call) \
                and dotted(n.value.func) == "globals":
            return True
        if isinstance(n, ast.Call) and (dotted(n.func) == "setattr" or (
                isinstance(n.func, ast.Attribute) and n.func.attr == "update"
                and isinstance(n.func.value, ast.Call) and dotted(n.func.value.func) == "globals")):
            return True
    return False
