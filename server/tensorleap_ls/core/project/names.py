"""Name lookup across the modules of one project: what a top-level name of a module is bound to
(a def, an assignment, a local module, an external symbol, or a name missing from a local module),
through imports, aliases and star imports, and which names a module could bind at run time.
``core.evaluate.Resolver`` builds on it to evaluate expressions.

Every lookup is memoized per analysis, with cycle detection, so the work is linear in the project:
star imports are resolved on the graph of their strongly connected components (a module that
star-imports itself, two that star-import each other, a ring of them: one component each, searched
once per name), explicit re-export chains once per (module, name).
"""

from __future__ import annotations

import ast
from typing import Any

from tensorleap_ls.core.facts.modules import Module, index_of, per_text
from tensorleap_ls.core.graphs import components
from tensorleap_ls.core.source.text import dotted

# Nesting bound of expression evaluation (core/project/evaluate.py): deeper expressions are unknown.
MAX_DEPTH = 30
# Re-export chains longer than this (through explicit imports) are cut: the Python stack stays small.
MAX_CHAIN = 100

_MISS = object()
_INF = 1 << 30
STAR = [("*", "*")]


class Names:
    """Top-level name lookup across the modules of one project (module level, star imports, aliases)."""

    def __init__(self, modules: dict[str, Module], resolved: dict):
        self.modules = modules
        self.resolved = resolved  # (module path, ImportRef.index, attr) -> module path (Project.resolved)
        self._memo: dict[tuple, Any] = {}
        self._held: dict[int, Module] = {}
        self._active: dict[tuple, int] = {}  # lookups in progress -> their level
        self._cut = _INF  # lowest level of a lookup in progress that a cycle came back to
        self._scc: dict[str, int] | None = None  # module path -> its star component
        self._members: list[list[Module]] = []
        self._down: list[list[int]] = []  # component -> the components its members star-import, in order
        self._external: list[bool] = []  # component -> it sees a star import of a module we cannot see
        self.steps = 0  # lookups computed (not served from the memo): the scaling test counts them

    # --- lookups ----------------------------------------------------------------------------
    def lookup(self, mod: Module, name: str, depth: int = 0) -> tuple[str, Any, Module] | None:
        """Finds what a top-level ``name`` is bound to in ``mod``.

        Returns ("def", node, module), ("assign", expr, module), ("module", path, module),
        ("external", dotted, module), ("missing", dotted, module) or None. (``depth`` is accepted for
        old callers and unused: cycles are detected, chains memoized.)
        """
        self._held.setdefault(id(mod), mod)  # keys hold ids: the module is kept for the analysis
        return self._memoized(("name", id(mod), name), lambda: self._local(mod, name) or self._through_stars(mod, name))

    def _memoized(self, key: tuple, compute) -> Any:
        """``compute()`` once per key and analysis. A key met again while it is being computed is a
        cycle: it counts as nothing found there, and what was computed while the cycle was open is
        not memoized, so no result depends on the order of the queries."""
        hit = self._memo.get(key, _MISS)
        if hit is not _MISS:
            return hit
        level = self._active.get(key)
        if level is not None or len(self._active) >= MAX_CHAIN:
            self._cut = min(self._cut, level if level is not None else 0)
            return None
        level = len(self._active)
        self._active[key] = level
        self.steps += 1
        try:
            result = compute()
        finally:
            del self._active[key]
        if self._cut >= level:
            self._memo[key] = result
            self._cut = _INF
        return result

    def _local(self, mod: Module, name: str) -> tuple[str, Any, Module] | None:
        """What ``mod`` itself binds ``name`` to: a def, an assignment or an explicit import."""
        if name in mod.def_names:  # (the tree only when the module binds the name)
            return ("def", mod.defs[name], mod)
        if name in mod.assign_names:
            return ("assign", mod.assigns[name], mod)
        for ref in mod.imports:
            if ref.names == STAR:
                continue
            if ref.bound == name and not ref.names:
                is_alias = ref.bound != ref.module.split(".")[0] or "." not in ref.module
                target = self.resolved.get((mod.path, ref.index, "" if is_alias else "top"))
                if target is not None:
                    return ("module", target, mod)
                return ("external", ref.module if is_alias else ref.module.split(".")[0], mod)
            for orig, bound in ref.names:
                if bound != name:
                    continue
                sub = self.resolved.get((mod.path, ref.index, orig))
                src = self.resolved.get((mod.path, ref.index, ""))
                if sub is not None:
                    # `from pkg import f` takes the package's attribute first: an __init__ re-exporting a
                    # function over the submodule of the same name gives the function.
                    found = self.lookup(self.modules[src], orig) if src in self.modules and src != sub else None
                    return found if found is not None and found[0] != "missing" else ("module", sub, mod)
                where = ("." * ref.level) + ref.module
                if src is not None and src in self.modules:
                    found = self.lookup(self.modules[src], orig)
                    if found is None and not self.has_external_star(self.modules[src]):
                        return ("missing", f"{where}.{orig}", mod)
                    return found
                if ref.level:  # a relative import that does not resolve cannot be third-party
                    return ("missing", f"{where}.{orig}", mod)
                return ("external", f"{where}.{orig}", mod)
        return None

    def _through_stars(self, mod: Module, name: str) -> tuple[str, Any, Module] | None:
        if not any(ref.names == STAR for ref in mod.imports) or self.modules.get(mod.path) is not mod:
            return self._stars_alone(mod, name)
        self._components()
        return self._find(self._scc[mod.path], name)  # type: ignore[index]

    def _find(self, comp: int, name: str) -> tuple[str, Any, Module] | None:
        """``name`` as the modules of one star component see it: the members' own bindings (in the
        order the component was found), then the components they star-import, last import first (the
        last star import wins at run time), depth first. Without cycles this is the order Python
        applies the star imports in; a cycle is searched once, whichever member asks."""
        def compute():
            for member in self._members[comp]:
                found = self._local(member, name)
                if found is not None:
                    return found
            for down in self._down[comp]:
                found = self._find(down, name)
                if found is not None:
                    return found
            return None
        return self._memoized(("star", comp, name), compute)

    def _stars_alone(self, mod: Module, name: str) -> tuple[str, Any, Module] | None:
        """The star imports of a module outside the closure (an installed package's): each target's
        lookup, last first."""
        for src in self._stars_of(mod)[0]:
            found = self.lookup(self.modules[src], name)
            if found is not None:
                return found
        return None

    def has_external_star(self, mod: Module, depth: int = 0) -> bool:
        """True when ``mod`` star-imports a module we cannot see (any name may come from it)."""
        if not any(ref.names == STAR for ref in mod.imports):
            return False
        if self.modules.get(mod.path) is not mod:
            targets, unseen = self._stars_of(mod)
            return unseen or any(self.has_external_star(self.modules[t]) for t in targets)
        self._components()
        return self._external[self._scc[mod.path]]  # type: ignore[index]

    # --- the star-import graph ------------------------------------------------------------------
    def _stars_of(self, mod: Module) -> tuple[list[str], bool]:
        """The modules ``mod`` star-imports (last first), and whether one of them is not visible."""
        targets, unseen = [], False
        for ref in reversed(mod.imports):
            if ref.names != STAR:
                continue
            src = self.resolved.get((mod.path, ref.index, ""))
            if src is None or src not in self.modules:
                if not (ref.module or "").startswith("code_loader"):
                    unseen = True
            else:
                targets.append(src)
        return targets, unseen

    def _components(self) -> None:
        """The strongly connected components of the star-import graph (core/graphs.py)."""
        if self._scc is not None:
            return
        graph = {p: self._stars_of(m) for p, m in self.modules.items()}
        scc: dict[str, int] = {}
        for comp, members in enumerate(components(self.modules, lambda p: graph[p][0])):
            for p in members:
                scc[p] = comp
            self._members.append([self.modules[p] for p in members])
        # Components come after every component they reach: one pass in that order computes what each
        # sees, without recursion.
        for comp, members in enumerate(self._members):
            down: list[int] = []
            unseen = False
            for m in members:
                targets, missing = graph[m.path]
                unseen = unseen or missing
                for t in targets:
                    d = scc[t]
                    if d != comp and d not in down:
                        down.append(d)
            self._down.append(down)
            self._external.append(unseen or any(self._external[d] for d in down))
        self._scc = scc


def bound_anywhere(mod: Module) -> frozenset:
    """Every name some statement of the module binds, at any depth (a superset of its globals)."""
    return index_of(mod).bound


@per_text("writes_globals", stored=True)
def writes_globals(mod: Module) -> bool:
    """``globals()[k] = v`` / ``globals().update(...)`` / ``setattr(sys.modules[...], ...)``: names appear at run time."""
    if ("globals()" not in mod.text and "setattr(" not in mod.text) or mod.tree is None:
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
