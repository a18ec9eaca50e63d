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
import collections
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
        self.own: list[set[int]] = []  # the statements of this module each one names (what it binds itself)
        self.others: list[list[str]] = []  # the names each one reads that the module does not bind itself
        self.other_names: list[str] = []  # all of them, once
        # The names this module can bind itself; with a star import, any name may resolve
        bindable = set(mod.defs) | set(mod.assigns) | {r.bound or "" for r in mod.imports} \
            | {bound for r in mod.imports for _, bound in r.names}
        star = "*" in bindable
        body = mod.tree.body if mod.tree is not None else []
        lines = mod.source.lines if mod.source is not None else []
        import_texts = []
        for stmt in body:
            # Kept on the statement (an unchanged one is the same node across edits, source/parse.py): its place,
            # hash and names depend on its own text and first line only
            part = stmt.__dict__.get("_tl_deps")
            if part is None:
                first = min([stmt.lineno] + [d.lineno for d in getattr(stmt, "decorator_list", ())]) - 1
                last = (getattr(stmt, "end_lineno", None) or stmt.lineno) - 1
                text = "\n".join(lines[first:last + 1])
                part = stmt._tl_deps = (first, _h(first, stmt.col_offset, text),
                                        frozenset(_IDENT.findall(text)) - _KEYWORDS,
                                        text if isinstance(stmt, (ast.Import, ast.ImportFrom)) else None)
            first, digest, names, text = part
            self.starts.append(first)
            self.hashes.append(digest)
            self.names.append(names if star else names & bindable)
            if text is not None:
                import_texts.append((first, text))
        self.imports = _h(import_texts, mod.has_future_annotations, mod.syntax_error is not None)
        others: dict[str, None] = {}
        for names in self.names:
            own, other = set(), []
            for name in sorted(names):
                local = mod.defs.get(name) or mod.assigns.get(name)  # what the module binds comes first
                if local is None:
                    other.append(name)
                    others[name] = None
                    continue
                j = self.at(local.lineno - 1)
                if j is not None:
                    own.add(j)
            self.own.append(own)
            self.others.append(other)
        self.other_names = list(others)

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


# A module's statement hashes (``Fingerprints._statement``) by (its text, what each name it reads from elsewhere
# resolves to, with the digests of those modules): pure, so shared by the analyses; bounded. An edit in a helper
# module changes the digests only some of the entry's statements read: the others' hashes are found here.
_STATEMENT_HASHES: "collections.OrderedDict[tuple, list[str]]" = collections.OrderedDict()
_STATEMENT_ROOM = 512
_MISS = object()


class Memo:
    """What the fingerprints of one project keep from one analysis to the next (``Fingerprints(memo=...)``): the
    import graph of the closure and its components while the closure is reused (the same ``resolved``, kept here,
    so its identity is not recycled), and each component's digest by its inputs."""

    def __init__(self) -> None:
        self.resolved: dict | None = None
        self.paths: tuple = ()
        self.graph: dict[str, list[str]] = {}
        self.components: list[list[str]] = []
        self.digests: dict[tuple, str] = {}
        # path -> (digest, the names it binds): what the lookups of names in other modules read besides the imports
        self.surfaces: dict[str, tuple] = {}
        self.where: dict[str, tuple] = {}  # path -> (digest, what each name it reads from elsewhere is)


class Fingerprints:
    """One analysis' fingerprints of its bindings (see the module docstring)."""

    def __init__(self, modules: dict[str, Module], resolver, shared: Iterable[Any],
                 outside: dict[str, Module] | None = None, memo: Memo | None = None):
        self.modules = modules
        self.outside = outside or {}  # modules outside the closure holding registered functions
        self.r = resolver
        self.shared = _h(*shared)
        self.memo = memo if memo is not None else Memo()
        self._stmt: dict[str, list[str]] = {}  # module path -> statement index -> hash of its closure
        self._closure: dict[str, str] | None = None  # module path -> digest of it and what it imports
        self._same_graph = False  # the closure's import graph is the last analysis' (_closures)
        self._same_names: bool | None = None  # ... and every module binds the same names (_lookups_hold)
        self.looked_up = 0  # names looked up (not kept from the last analysis): the tests count them


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
        closure = self._closures()
        where = self._where(mod, stmts)
        key = (mod.path, mod.digest, tuple((n, w if w is None or w[0] == "own" else closure.get(w[1], w[1]))
                                           for n, w in where.items()))
        hashes = _STATEMENT_HASHES.get(key)
        if hashes is not None:
            _STATEMENT_HASHES.move_to_end(key)
            self._stmt[mod.path] = hashes
            return hashes
        edges: list[list[int]] = []
        outside: list[set[str]] = []
        for own, names in zip(stmts.own, stmts.others):
            own, other = set(own), set()
            for name in names:
                w = where[name]
                if w is None:
                    continue
                if w[0] == "other":
                    other.add(w[1])
                elif w[1] is not None:
                    own.add(w[1])
            edges.append(sorted(own))
            outside.append(other)
        hashes = [""] * len(stmts.hashes)
        for members in components(range(len(stmts.hashes)), lambda i: edges[i]):
            inside = set(members)
            h = _h([stmts.hashes[i] for i in members],
                   sorted(hashes[j] for i in members for j in edges[i] if j not in inside),
                   sorted(closure.get(p, p) for i in members for p in outside[i]))
            for i in members:
                hashes[i] = h
        self._stmt[mod.path] = hashes
        _STATEMENT_HASHES[key] = hashes
        if len(_STATEMENT_HASHES) > _STATEMENT_ROOM:
            _STATEMENT_HASHES.popitem(last=False)
        return hashes

    def _where(self, mod: Module, stmts: Statements) -> dict[str, Any]:
        """What each name the module reads from elsewhere is: ("other", module path), ("own", statement index) or
        None; looked up once per name, and kept from the last analysis while the lookups hold (``_lookups_hold``)."""
        mine = self.modules.get(mod.path) is mod
        last: dict[str, Any] = {}
        if mine and self._lookups_hold():
            kept = self.memo.where.get(mod.path)
            if kept is not None and kept[0] == mod.digest:
                return kept[1]
            if kept is not None:  # the module's own text changed, not what it binds: what a name elsewhere is holds
                last = kept[1]
        where: dict[str, Any] = {}
        for name in stmts.other_names:
            w = last.get(name, _MISS)
            if w is not _MISS and (w is None or w[0] == "other"):
                where[name] = w
                continue
            self.looked_up += 1
            found = self.r.lookup(mod, name)
            if found is None:
                where[name] = None
                continue
            kind, obj, at = found
            if kind == "module":
                where[name] = ("other", obj)
            elif at is not mod:
                where[name] = ("other", at.path)
            elif kind in ("def", "assign") and hasattr(obj, "lineno"):
                where[name] = ("own", stmts.at(obj.lineno - 1))
            else:
                where[name] = None
        if mine:
            self.memo.where[mod.path] = (mod.digest, where)
        return where

    def _lookups_hold(self) -> bool:
        """The lookups of the last analysis still hold: the same import graph (the closure reused: every module's
        imports the same, ``resolved`` the same object) and every module binds the same top-level names (an edit
        inside a function body keeps them). Checked once per analysis, on the modules whose text changed."""
        if self._same_names is None:
            self._closures()
            memo = self.memo
            same = self._same_graph
            for p, m in self.modules.items():
                old = memo.surfaces.get(p)
                if old is not None and old[0] == m.digest:
                    continue
                names = (frozenset(m.def_names), frozenset(m.assign_names))
                if old is None or old[1] != names:
                    same = False
                memo.surfaces[p] = (m.digest, names)
            if not same:
                memo.where = {}
            self._same_names = same
        return self._same_names

    # --- other modules ---------------------------------------------------------------------------
    def _closures(self) -> dict[str, str]:
        """module path -> digest of the module and of every local module it imports (transitively)."""
        if self._closure is None:
            memo = self.memo
            paths = tuple(self.modules)
            if memo.resolved is not self.r.resolved or memo.paths != paths:
                # the import graph and its components: once per closure (an edit that changes no import reuses it)
                imports: dict[str, set[str]] = {p: set() for p in self.modules}
                for (path, _, _), target in self.r.resolved.items():
                    if path in imports and target in self.modules:
                        imports[path].add(target)
                memo.graph = {p: sorted(t) for p, t in imports.items()}
                memo.components = components(self.modules, memo.graph.__getitem__)
                memo.resolved, memo.paths, memo.digests = self.r.resolved, paths, {}
            else:
                self._same_graph = True
            graph = memo.graph
            out: dict[str, str] = {}
            digests: dict[tuple, str] = {}
            for members in memo.components:
                inside = set(members)
                inputs = (tuple(sorted(self.modules[p].digest for p in members)),
                          tuple(sorted(out[t] for p in members for t in graph[p] if t not in inside)))
                h = memo.digests.get(inputs)
                if h is None:
                    h = _h(list(inputs[0]), list(inputs[1]))
                digests[inputs] = h
                for p in members:
                    out[p] = h
            memo.digests = digests  # this analysis' only: bounded by the closure
            self._closure = out
        return self._closure


def shared_inputs(leap_yaml_text: str | None, sdk: Any, model_facts: dict, configs: dict) -> list:
    """What every binding's checks may read besides code: leap.yaml, the installed SDK, the model's facts,
    the YAML configs read by the analysis."""
    return [leap_yaml_text, getattr(sdk, "version", None), getattr(sdk, "package_dir", None),
            json.dumps(model_facts, sort_keys=True, default=repr),
            sorted((p, _h(stable(v))) for p, v in configs.items())]
