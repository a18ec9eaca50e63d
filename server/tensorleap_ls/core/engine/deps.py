"""What the checks of one binding can read, hashed: the engine's dependency records for the checks it
reuses (core/checks/base.py ``ScopedCheck``).

A binding's checks read the binding (its registration, name, arguments and their values), the ``def``
it registers, and what the code of those statements names. So a binding's fingerprint is:

- the binding itself: kind, name, style, spans, arguments (their text, place and value);
- the top-level statements of its module that its registration and its def name, transitively
  (``def meta(...)`` calling ``helper`` defined below, which reads ``LABELS``...), each with its text
  and position; mutually recursive helpers form one component, hashed once (core/graphs.py);
- every other local module they name (an import, a star import, a re-export), at module granularity:
  the digests of that module and of every local module it imports, transitively;
- the module's import statements (a ``from __future__ import annotations`` changes the visualizer
  checks), and what every binding shares: leap.yaml, the installed SDK, the model's facts, the YAML
  configs the analysis read.

An edit inside one function body changes the statement of that function: the bindings whose closure
holds it are checked again, the others keep their findings. An edit in a vendored module re-checks the
bindings that use that library, not the others. Names are taken from the statements' text (every
identifier but attribute names: a superset of the globals the code names, so a dependency is never
missed).
"""

from __future__ import annotations

import ast
import bisect
import hashlib
import json
import keyword
import re
from typing import Any, Iterable

from tensorleap_ls.core.facts.modules import Module, has_tree, per_text
from tensorleap_ls.core.graphs import components
from tensorleap_ls.core.model import UNKNOWN, Binding, SymbolRef

# Identifiers that are not attribute names (``x.name``): what a statement can look up as a global
_IDENT = re.compile(r"(?<![.\w])[A-Za-z_][A-Za-z0-9_]*")
_KEYWORDS = frozenset(keyword.kwlist) | {"self", "cls"}


def _h(*parts: Any) -> str:
    return hashlib.blake2b(repr(parts).encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


class Statements:
    """A module's top-level statements: where each starts and ends, a hash of its text, the names it
    holds; computed once per text."""

    def __init__(self, mod: Module):
        self.starts: list[int] = []
        self.hashes: list[str] = []
        self.names: list[frozenset] = []
        self.imports: str = ""
        # The names this module can bind itself; with a star import, any name may resolve
        bindable = set(mod.defs) | set(mod.assigns) | {r.bound or "" for r in mod.imports} \
            | {bound for r in mod.imports for _, bound in r.names}
        star = "*" in bindable
        body = mod.tree.body if mod.tree is not None else []
        lines = mod.source.lines if mod.source is not None else []
        import_texts = []
        for stmt in body:
            first = min([stmt.lineno] + [d.lineno for d in getattr(stmt, "decorator_list", ())]) - 1
            last = (getattr(stmt, "end_lineno", None) or stmt.lineno) - 1
            text = "\n".join(lines[first:last + 1])
            self.starts.append(first)
            self.hashes.append(_h(first, stmt.col_offset, text))
            names = frozenset(_IDENT.findall(text)) - _KEYWORDS
            self.names.append(names if star else names & bindable)
            if isinstance(stmt, (ast.Import, ast.ImportFrom)):
                import_texts.append((first, text))
        self.imports = _h(import_texts, mod.has_future_annotations, mod.syntax_error is not None)

    def at(self, line0: int) -> int | None:
        """The top-level statement holding 0-based ``line0``."""
        i = bisect.bisect_right(self.starts, line0) - 1
        return i if i >= 0 else None


@per_text("statements")
def statements(mod: Module) -> Statements:
    return Statements(mod)


def stable(value: Any, depth: int = 0) -> Any:
    """A value as the checks see it, without object identities (a re-parse makes new nodes)."""
    from tensorleap_ls.core.project.evaluate import CallValue, FunctionValue, GlobalsValue, ModuleValue

    if depth > 8:
        return "..."
    if value is UNKNOWN:
        return "?"
    if isinstance(value, (str, int, float, bool, type(None))):
        return value
    if isinstance(value, (list, tuple)):
        return [stable(v, depth + 1) for v in value[:200]]
    if isinstance(value, dict):
        return sorted(((repr(k), stable(v, depth + 1)) for k, v in list(value.items())[:200]), key=lambda kv: kv[0])
    if isinstance(value, FunctionValue):
        return ("fn", value.module.path, value.name, getattr(value.node, "lineno", 0), getattr(value.node, "col_offset", 0))
    if isinstance(value, CallValue):
        return ("call", value.func, value.module.path, value.node.lineno, value.node.col_offset,
                [(k, stable(v, depth + 1)) for k, v in value.env])
    if isinstance(value, (ModuleValue, GlobalsValue)):
        return (type(value).__name__, value.module.path)
    if isinstance(value, SymbolRef):
        return ("sym", value.qualname)
    return (type(value).__name__, repr(value))


class Fingerprints:
    """One analysis' fingerprints of its bindings (see the module docstring)."""

    def __init__(self, modules: dict[str, Module], resolver, shared: Iterable[Any],
                 outside: dict[str, Module] | None = None):
        self.modules = modules
        self.outside = outside or {}  # modules outside the closure holding registered functions
        self.r = resolver
        self.shared = _h(*shared)
        self._stmt: dict[str, list[str]] = {}  # module path -> statement index -> hash of its closure
        self._closure: dict[str, str] | None = None  # module path -> digest of it and what it imports


    def of(self, b: Binding) -> str:
        parts: list[Any] = [self.shared, b.kind.value, b.name, b.style.value, b.function, b.reg_span, b.def_span,
                            b.name_span, b.module_path, b.def_path, list(b.factory_sites),
                            [(k, a.text, a.span, stable(a.value)) for k, a in b.args.items()]]
        for path, node in ((b.module_path, b.reg_node), (b.def_path, b.def_node)):
            mod = self.modules.get(path or "") or self.outside.get(path or "")
            if mod is None or node is None or not has_tree(mod):
                parts.append((path, getattr(node, "lineno", None)))
                continue
            stmts = statements(mod)
            i = stmts.at(getattr(node, "lineno", 1) - 1)
            parts.append((path, stmts.imports, self._statement(mod)[i] if i is not None else None,
                          getattr(node, "lineno", None), getattr(node, "col_offset", None),
                          getattr(node, "end_lineno", None), getattr(node, "end_col_offset", None)))
        return _h(*parts)

    # --- statements of one module ---------------------------------------------------------------
    def _statement(self, mod: Module) -> list[str]:
        """Each top-level statement's hash, with the statements it names (same module) and the modules
        it names (others), transitively; a cycle of statements naming each other is one component."""
        done = self._stmt.get(mod.path)
        if done is not None:
            return done
        stmts = statements(mod)
        edges: list[list[int]] = []
        outside: list[set[str]] = []
        for names in stmts.names:
            own, other = set(), set()
            for name in names:
                local = mod.defs.get(name) or mod.assigns.get(name)  # what the module binds comes first
                if local is not None:
                    j = stmts.at(local.lineno - 1)
                    if j is not None:
                        own.add(j)
                    continue
                found = self.r.lookup(mod, name)
                if found is None:
                    continue
                kind, obj, where = found
                if kind == "module":
                    other.add(obj)
                elif where is not mod:
                    other.add(where.path)
                elif kind in ("def", "assign") and hasattr(obj, "lineno"):
                    j = stmts.at(obj.lineno - 1)
                    if j is not None:
                        own.add(j)
            edges.append(sorted(own))
            outside.append(other)
        closure = self._closures()
        hashes = [""] * len(stmts.hashes)
        for members in components(range(len(stmts.hashes)), lambda i: edges[i]):
            inside = set(members)
            h = _h([stmts.hashes[i] for i in members],
                   sorted(hashes[j] for i in members for j in edges[i] if j not in inside),
                   sorted(closure.get(p, p) for i in members for p in outside[i]))
            for i in members:
                hashes[i] = h
        self._stmt[mod.path] = hashes
        return hashes

    # --- other modules ---------------------------------------------------------------------------
    def _closures(self) -> dict[str, str]:
        """module path -> digest of the module and of every local module it imports (transitively)."""
        if self._closure is None:
            imports: dict[str, set[str]] = {p: set() for p in self.modules}
            for (path, _, _), target in self.r.resolved.items():
                if path in imports and target in self.modules:
                    imports[path].add(target)
            graph = {p: sorted(t) for p, t in imports.items()}
            out: dict[str, str] = {}
            for members in components(self.modules, graph.__getitem__):
                inside = set(members)
                h = _h(sorted(self.modules[p].digest for p in members),
                       sorted(out[t] for p in members for t in graph[p] if t not in inside))
                for p in members:
                    out[p] = h
            self._closure = out
        return self._closure


def shared_inputs(leap_yaml_text: str | None, sdk: Any, model_facts: dict, configs: dict) -> list:
    """What every binding's checks may read besides code: leap.yaml, the installed SDK, the model's facts,
    the YAML configs read by the analysis."""
    return [leap_yaml_text, getattr(sdk, "version", None), getattr(sdk, "package_dir", None),
            json.dumps(model_facts, sort_keys=True, default=repr),
            sorted((p, _h(stable(v))) for p, v in configs.items())]
