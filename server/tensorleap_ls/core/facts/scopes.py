"""What runs in one module, and which names are unbound where it runs (the slip checks:
core/checks/imports.py, core/checks/undefined.py).

* ``module_names(mod)``: every name the module's namespace can hold once it is imported (bound at module
  level in any branch, or declared ``global`` in one of its functions): what ``from mod import name`` may find.
* ``runs(mod, owner)``: how certainly each name use, import and call of one piece of code runs: the module
  body as importing the module runs it (``owner`` None), or a function body as a call runs it. ``SPINE``:
  each time that code runs; ``COND``: under a condition (an ``if`` on a value, a loop body, a handler, the
  right side of ``and``); absent: never (after a ``return``, under ``if TYPE_CHECKING:`` or ``__main__``, an
  annotation that is not evaluated) or inside a ``try`` whose handler catches the NameError.
* ``unbound(mod, keep)``: the names pyflakes finds unbound (UndefinedName, or ImportStarUsage: only a star
  import could bind it) in module-level code and in the bodies of the defs of ``keep``; the other function
  bodies are left out (their ``global`` statements kept), which is what makes it cheap on vendored code.
"""

from __future__ import annotations

import ast
import bisect
import collections
import contextlib
import copy
import functools
import logging
import sys
import zlib
from dataclasses import dataclass, field

from tensorleap_ls.core.facts.modules import STORED_PREFIXES, Module, index_of, per_text, walk
from tensorleap_ls.core.source.text import dotted

log = logging.getLogger(__name__)

SPINE, COND = 2, 1
_CATCH_NAME_ERROR = frozenset({"NameError", "Exception", "BaseException"})
_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)
_TRY = (ast.Try, ast.TryStar) if hasattr(ast, "TryStar") else (ast.Try,)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)


def def_key(node: ast.AST) -> tuple[int, int]:
    """A def's identity within its text (memo keys hold no node objects)."""
    return (node.lineno, node.col_offset)


# --- the module's namespace ------------------------------------------------------------------------
def _targets(node: ast.AST | None, out: set[str]) -> None:
    if node is None:
        return
    for n in ast.walk(node):
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
            out.add(n.id)


@per_text("module_names", stored=True)
def module_names(mod: Module) -> frozenset:
    """Names bound at module level (any branch, loop targets, ``with ... as``, ``except ... as``, imports,
    defs, classes) and the names its functions declare ``global``."""
    out: set[str] = set()
    if mod.tree is None:
        return frozenset()
    stack = list(mod.tree.body)
    while stack:
        s = stack.pop()
        if isinstance(s, (*_FUNCS, ast.ClassDef)):
            out.add(s.name)
            continue
        if isinstance(s, ast.Assign):
            for t in s.targets:
                _targets(t, out)
        elif isinstance(s, ast.AnnAssign):
            if s.value is not None:  # `x: int` alone binds nothing
                _targets(s.target, out)
        elif isinstance(s, ast.AugAssign):
            _targets(s.target, out)
        elif isinstance(s, (ast.For, ast.AsyncFor)):
            _targets(s.target, out)
        elif isinstance(s, (ast.With, ast.AsyncWith)):
            for item in s.items:
                _targets(item.optional_vars, out)
        elif isinstance(s, (ast.Import, ast.ImportFrom)):
            for a in s.names:
                if a.name != "*":
                    out.add(a.asname or a.name.split(".")[0])
        for attr in ("body", "orelse", "finalbody"):
            stack.extend(getattr(s, attr, None) or ())
        for h in getattr(s, "handlers", None) or ():
            if h.name:
                out.add(h.name)
            stack.extend(h.body)
        for case in getattr(s, "cases", None) or ():
            for n in ast.walk(case.pattern):
                name = getattr(n, "name", None)
                if isinstance(name, str):
                    out.add(name)
            stack.extend(case.body)
    out |= global_names(mod)
    return frozenset(out)


@per_text("global_names", stored=True)
def global_names(mod: Module) -> frozenset:
    """Names some function of the module declares ``global`` (bound in the module when it runs)."""
    if "global " not in mod.text or mod.tree is None:
        return frozenset()
    out: set[str] = set()
    stack = list(mod.tree.body)  # statements only: `global` is one
    while stack:
        s = stack.pop()
        if isinstance(s, ast.Global):
            out.update(s.names)
            continue
        for attr in ("body", "orelse", "finalbody"):
            stack.extend(x for x in getattr(s, attr, None) or () if isinstance(x, ast.stmt))
        for h in getattr(s, "handlers", None) or ():
            stack.extend(h.body)
        for case in getattr(s, "cases", None) or ():
            stack.extend(case.body)
    return frozenset(out)


@per_text("writes_namespace", stored=True)
def writes_namespace(mod: Module) -> bool:
    """``exec(...)`` anywhere in the module: names may appear that no statement binds (``globals()`` writes are
    ``project.names.writes_globals``)."""
    if "exec" not in mod.text or mod.tree is None:
        return False
    return any(dotted(c.func) in ("exec", "execfile", "builtins.exec") for c in index_of(mod).calls)


def writes_builtins(mod: Module) -> bool:
    """``builtins.x = ...`` / ``setattr(builtins, ...)``: a name becomes visible in every module."""
    if "builtins" not in mod.text or not mod.parsed:
        return False
    return _writes_builtins(mod)


@per_text("writes_builtins", stored=True)
def _writes_builtins(mod: Module) -> bool:
    for n in ast.walk(mod.tree):
        if isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Store) and dotted(n.value) in ("builtins", "__builtins__"):
            return True
        if isinstance(n, ast.Call) and dotted(n.func) == "setattr" and n.args and dotted(n.args[0]) in ("builtins", "__builtins__"):
            return True
        if isinstance(n, ast.Subscript) and isinstance(n.ctx, ast.Store) and dotted(n.value) == "__builtins__":
            return True
    return False


# --- what runs -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Runs:
    """How certainly each part of one piece of code runs (ids of nodes of the module's tree -> SPINE | COND)."""

    names: dict  # id(ast.Name) -> certainty (loads and stores)
    imports: tuple  # (ast.ImportFrom, certainty)
    calls: tuple  # (ast.Call, certainty)
    loaded: frozenset  # the identifiers it reads
    # id(ast.Name) -> the `if` guards that alone make it COND: ((test, branch taken when the test is true), ...);
    # a checker that can evaluate them (a flag read from a config, through a star import) decides
    guarded: dict = field(default_factory=dict)


def runs(mod: Module, owner: ast.AST | None = None) -> Runs:
    """The module body as an import runs it (``owner`` None) or ``owner``'s body as a call runs it."""
    key = ("runs", def_key(owner) if owner is not None else None)
    memo = mod.memo
    if key not in memo:
        w = _Walker(mod, in_function=owner is not None, shadowed=stored_in(mod, owner) if owner is not None else frozenset())
        if owner is None:
            memo[key] = _module_runs(mod, w)
            return memo[key]
        # A def's result depends on its nodes, the names it binds, postponed annotations and (when a guard read
        # them) the module's constants: kept on the def, whose nodes an edit elsewhere in the file leaves shared
        # (source/parse.py), it is not walked again while those are the same.
        kept = owner.__dict__.get("_tl_runs")
        if kept is not None and kept[0] == (w.shadowed, w.postponed) and (kept[1] is None or kept[1] == _consts_key(w)):
            memo[key] = kept[2]
            return memo[key]
        w.stmts(owner.body, SPINE)
        memo[key] = Runs(w.names, tuple(w.imports), tuple(w.calls), frozenset(w.loaded), w.guarded)
        owner._tl_runs = ((w.shadowed, w.postponed), _consts_key(w) if w.read_consts else None, memo[key])
    return memo[key]


def _module_runs(mod: Module, w: "_Walker") -> Runs:
    """The module body as an import runs it: each top-level statement walked alone (at the top level no guard or
    loop is open: what one statement adds does not depend on the others), its part kept on it like a def's."""
    names: dict = {}
    imports: list = []
    calls: list = []
    loaded: set = set()
    guarded: dict = {}
    for s in mod.tree.body if mod.tree is not None else []:
        kept = s.__dict__.get("_tl_module_runs")
        if kept is not None and kept[0] == w.postponed and (kept[1] is None or kept[1] == _consts_key(w)):
            part = kept[2]
        else:
            one = _Walker(mod, in_function=False)
            one._consts = w._consts  # (computed once for the module)
            one.stmt(s, SPINE)
            w._consts = one._consts
            part = (one.names, tuple(one.imports), tuple(one.calls), frozenset(one.loaded), one.guarded)
            if not isinstance(s, ast.ImportFrom):  # (an import's part holds the statement: a reference cycle)
                s._tl_module_runs = (w.postponed, _consts_key(one) if one.read_consts else None, part)
        names.update(part[0])
        imports += part[1]
        calls += part[2]
        loaded |= part[3]
        guarded.update(part[4])
        if isinstance(s, (ast.Return, ast.Raise, ast.Continue, ast.Break)):
            break  # the rest of the module never runs (``_Walker.stmts``)
    return Runs(names, tuple(imports), tuple(calls), frozenset(loaded), guarded)


def _consts_key(w: "_Walker") -> tuple:
    """The module constants a walker's guards may read, as values (``_Walker.consts``)."""
    return tuple(sorted((k, type(v.value).__name__, repr(v.value)) for k, v in w.consts.items()))


_COMPARE = {ast.Eq: lambda a, b: a == b, ast.NotEq: lambda a, b: a != b, ast.Lt: lambda a, b: a < b,
            ast.LtE: lambda a, b: a <= b, ast.Gt: lambda a, b: a > b, ast.GtE: lambda a, b: a >= b,
            ast.Is: lambda a, b: a is b, ast.IsNot: lambda a, b: a is not b}


def _constant(node: ast.expr, consts: dict) -> tuple[bool, object]:
    """(known, value) of a literal or of a name the module binds once to a literal (``PLOT = True``)."""
    if isinstance(node, ast.Constant):
        return True, node.value
    if isinstance(node, ast.Name) and isinstance(consts.get(node.id), ast.Constant):
        return True, consts[node.id].value
    return False, None


def static_truth(test: ast.expr, consts: dict | None = None) -> bool | None:
    consts = consts or {}
    known, value = _constant(test, consts)
    if known:
        return bool(value)
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        inner = static_truth(test.operand, consts)
        return None if inner is None else not inner
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and type(test.ops[0]) in _COMPARE:
        (lk, lv), (rk, rv) = _constant(test.left, consts), _constant(test.comparators[0], consts)
        if lk and rk:
            try:
                return bool(_COMPARE[type(test.ops[0])](lv, rv))
            except TypeError:
                return None
    if dotted(test).rsplit(".", 1)[-1] == "TYPE_CHECKING":
        return False
    if (isinstance(test, ast.Compare) and dotted(test.left) == "__name__" and len(test.comparators) == 1
            and isinstance(test.comparators[0], ast.Constant) and test.comparators[0].value == "__main__"):
        # the platform imports the entry as a module: `==` never holds, `!=` always does
        if isinstance(test.ops[0], ast.Eq):
            return False
        if isinstance(test.ops[0], ast.NotEq):
            return True
    return None


def stored_in(mod: Module, owner: ast.AST) -> frozenset:
    """``stored(owner)``, remembered by the def's text (a set of names: nothing to map back to a tree): an edit
    elsewhere in the file does not walk this function again."""
    end = getattr(owner, "end_lineno", None)
    if end is None or not hasattr(owner, "lineno"):
        return stored(owner)
    first = min([owner.lineno] + [d.lineno for d in getattr(owner, "decorator_list", ())])  # stored() walks them too
    key = "\n".join(mod.source.lines[first - 1:end])
    found = _STORED.get(key)
    if found is None:
        found = _STORED[key] = stored(owner)
        if len(_STORED) > _UNITS_ROOM:
            _STORED.popitem(last=False)
    else:
        _STORED.move_to_end(key)
    return found


_STORED: "collections.OrderedDict[str, frozenset]" = collections.OrderedDict()


def stored(owner: ast.AST) -> frozenset:
    """Names a function binds itself (its parameters, its assignments): they shadow the module's."""
    a = owner.args
    out = {p.arg for p in (*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg) if p is not None}
    out.update(n.id for n in ast.walk(owner) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load))
    return frozenset(out)


def _bound_once(mod: Module, name: str) -> bool:
    """``name`` has one binding in the module (a constant reassigned, or written with `global`, is not one)."""
    return _binding_counts(mod).get(name, 0) == 1 and name not in global_names(mod)


@per_text("binding_counts")
def _binding_counts(mod: Module) -> dict:
    """How many times the module binds each name, at any depth (each top-level statement's counts kept on it)."""
    counts: dict[str, int] = {}
    for st in mod.tree.body if mod.tree is not None else ():
        part = st.__dict__.get("_tl_counts")
        if part is None:
            part = st._tl_counts = _counts(st)
        for k, v in part.items():
            counts[k] = counts.get(k, 0) + v
    return counts


def _counts(root: ast.AST) -> dict:
    counts: dict[str, int] = {}
    for n in walk(root):
        if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load):
            counts[n.id] = counts.get(n.id, 0) + 1
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            counts[n.name] = counts.get(n.name, 0) + 1
        elif isinstance(n, ast.alias):
            key = n.asname or n.name.split(".")[0]
            counts[key] = counts.get(key, 0) + 1
    return counts


def _non_empty_literal(node: ast.expr) -> bool:
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return bool(node.elts) and not any(isinstance(e, ast.Starred) for e in node.elts)
    if isinstance(node, ast.Dict):
        return bool(node.keys)
    return isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)) and bool(node.value)


def _catches_name_error(handlers: list) -> bool:
    for h in handlers:
        if h.type is None:
            return True
        types = h.type.elts if isinstance(h.type, ast.Tuple) else [h.type]
        if any(dotted(t).rsplit(".", 1)[-1] in _CATCH_NAME_ERROR for t in types):
            return True
    return False


class _Walker:
    """One pass over a body: statements in order, with the certainty of the branch they are in."""

    def __init__(self, mod: Module, in_function: bool, shadowed: frozenset = frozenset()):
        self.postponed = mod.has_future_annotations
        self.mod, self.shadowed, self._consts = mod, shadowed, None
        self.read_consts = False  # whether a guard read the module's constants (what the walk depends on)
        self.guards: list = []  # the `if` tests of unknown truth on the way (test, branch)
        self.hard = 0  # > 0 inside a region that is conditional for another reason (loop body, handler...)
        self.guarded: dict[int, tuple] = {}
        self.in_function = in_function
        self.names: dict[int, int] = {}
        self.imports: list = []
        self.calls: list = []
        self.loaded: set[str] = set()

    @property
    def consts(self) -> dict:
        """Module constants bound once to a literal (``PLOT = True``), as the guards of ``if`` read them (computed
        on the first guard that names one)."""
        self.read_consts = True
        if self._consts is None:
            self._consts = {k: v for k, v in self.mod.assigns.items() if isinstance(v, ast.Constant)
                            and k not in self.shadowed and _bound_once(self.mod, k)}
        return self._consts

    def _truth(self, test: ast.expr) -> bool | None:
        names = isinstance(test, ast.Name) or (isinstance(test, (ast.Compare, ast.UnaryOp)) and any(
            isinstance(n, ast.Name) for n in ast.walk(test)))
        return static_truth(test, self.consts if names else None)

    def stmts(self, body: list, c: int) -> None:
        for s in body:
            if c <= 0:
                return
            self.stmt(s, c)
            if isinstance(s, (ast.Return, ast.Raise, ast.Continue, ast.Break)):
                return  # the rest of this block never runs

    def stmt(self, s: ast.stmt, c: int) -> None:
        if isinstance(s, _FUNCS):
            self.exprs(s.decorator_list, c)
            self._arguments(s.args, c)
            if s.returns is not None and not self.postponed:
                self.expr(s.returns, c)
            if self.in_function:  # a nested def runs if it is called: under a condition
                self._cond(s.body, c)
        elif isinstance(s, ast.ClassDef):
            self.exprs(s.decorator_list, c)
            self.exprs(s.bases, c)
            self.exprs([k.value for k in s.keywords], c)
            self.stmts(s.body, c)  # a class body runs where the class statement runs
        elif isinstance(s, ast.If):
            self.expr(s.test, c)
            truth = self._truth(s.test)
            for body, branch in ((s.body, True), (s.orelse, False)):
                if truth is None:
                    self.guards.append((s.test, branch))
                    self.stmts(body, min(c, COND))
                    self.guards.pop()
                else:
                    self.stmts(body, c if truth is branch else 0)
        elif isinstance(s, (ast.For, ast.AsyncFor)):
            self.expr(s.iter, c)
            self.expr(s.target, c)
            if _non_empty_literal(s.iter):
                self.stmts(s.body, c)
            else:
                self._cond(s.body, c)
            self._cond(s.orelse, c)
        elif isinstance(s, ast.While):
            self.expr(s.test, c)
            if self._truth(s.test) is True:
                self.stmts(s.body, c)
            else:
                self._cond(s.body, c)
            self._cond(s.orelse, c)
        elif isinstance(s, _TRY):
            self.stmts(s.body, 0 if _catches_name_error(s.handlers) else c)
            self.hard += 1
            for h in s.handlers:
                if h.type is not None:
                    self.expr(h.type, min(c, COND))
                self.stmts(h.body, min(c, COND))
            self.hard -= 1
            self.stmts(s.orelse, c)
            self.stmts(s.finalbody, c)
        elif isinstance(s, (ast.With, ast.AsyncWith)):
            for item in s.items:
                self.expr(item.context_expr, c)
                if item.optional_vars is not None:
                    self.expr(item.optional_vars, c)
            self.stmts(s.body, c)
        elif hasattr(ast, "Match") and isinstance(s, ast.Match):
            self.expr(s.subject, c)
            self.hard += 1
            for case in s.cases:
                if case.guard is not None:
                    self.expr(case.guard, min(c, COND))
                self.stmts(case.body, min(c, COND))
            self.hard -= 1
        elif isinstance(s, ast.AnnAssign):
            # a local variable's annotation is never evaluated; a module's or a class's is, unless postponed
            if not self.in_function and not self.postponed:
                self.expr(s.annotation, c)
            self.expr(s.target, c)
            if s.value is not None:
                self.expr(s.value, c)
        elif isinstance(s, ast.Assert):
            self.expr(s.test, c)
            if s.msg is not None:
                self.expr(s.msg, min(c, COND))
        elif isinstance(s, ast.ImportFrom):
            self.imports.append((s, c))
        else:
            for child in ast.iter_child_nodes(s):
                if isinstance(child, ast.expr):
                    self.expr(child, c)
                elif isinstance(child, ast.keyword):
                    self.expr(child.value, c)

    def _cond(self, body: list, c: int) -> None:
        """``body`` under a condition no guard expresses (a loop, a handler, a nested def)."""
        self.hard += 1
        self.stmts(body, min(c, COND))
        self.hard -= 1

    def _arguments(self, a: ast.arguments, c: int) -> None:
        self.exprs(a.defaults, c)
        self.exprs([d for d in a.kw_defaults if d is not None], c)
        if not self.postponed:
            for arg in (*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg):
                if arg is not None and arg.annotation is not None:
                    self.expr(arg.annotation, c)

    def exprs(self, nodes, c: int) -> None:
        for n in nodes:
            self.expr(n, c)

    def expr(self, node: ast.expr, c: int) -> None:
        c0 = c
        stack = [(node, c)]
        while stack:
            n, c = stack.pop()
            if isinstance(n, ast.Name):
                if c == COND and c == c0 and not self.hard and self.guards and self.names.get(id(n), 0) < COND:
                    self.guarded[id(n)] = tuple(self.guards)
                self.names[id(n)] = max(c, self.names.get(id(n), 0))
                if isinstance(n.ctx, ast.Load):
                    self.loaded.add(n.id)
                continue
            if isinstance(n, ast.Call):
                self.calls.append((n, c))
            if isinstance(n, ast.Lambda):
                self._arguments(n.args, c)
                if self.in_function:
                    stack.append((n.body, min(c, COND)))
                continue
            if isinstance(n, ast.IfExp):
                stack += [(n.test, c), (n.body, min(c, COND)), (n.orelse, min(c, COND))]
                continue
            if isinstance(n, ast.BoolOp):
                stack.append((n.values[0], c))
                stack += [(v, min(c, COND)) for v in n.values[1:]]
                continue
            if isinstance(n, _COMPREHENSIONS):
                gens = n.generators
                stack.append((gens[0].iter, c))
                inner = min(c, COND)
                for i, g in enumerate(gens):
                    stack.append((g.target, inner))
                    if i:
                        stack.append((g.iter, inner))
                    stack += [(x, inner) for x in g.ifs]
                elts = [n.key, n.value] if isinstance(n, ast.DictComp) else [n.elt]
                stack += [(x, inner) for x in elts]
                continue
            for child in ast.iter_child_nodes(n):
                if isinstance(child, ast.expr):
                    stack.append((child, c))
                elif isinstance(child, ast.keyword):  # f(x=name)
                    stack.append((child.value, c))


# --- pyflakes, on what runs ------------------------------------------------------------------------
@dataclass(frozen=True)
class Unbound:
    name: str
    node: ast.AST  # the ast.Name of the module's tree (pyflakes reports string annotations on nodes of its own)
    star: bool  # only a star import could bind it


# "none unbound" for (a text, the kept bodies) is stored with the text (facts/modules.STORED_PREFIXES): an unchanged
# module that holds a binding is not run through pyflakes again to learn it has no unbound name (the usual case)
_CLEAN = "unbound_none@"
STORED_PREFIXES.add(_CLEAN)


def unbound(mod: Module, keep: frozenset = frozenset()) -> tuple[Unbound, ...]:
    """Unbound names of module-level code and of the bodies of the defs whose ``def_key`` is in ``keep``."""
    key = ("unbound", keep)
    memo = mod.memo
    if key not in memo:
        clean = _CLEAN + ";".join(f"{line}.{col}" for line, col in sorted(keep))
        if memo.get(clean) is True and not WHOLE_FILE[0]:
            memo[key] = ()
            return ()
        if mod.tree is None:
            return ()
        memo[key] = _unbound(mod, keep)
        memo[clean] = not memo[key]
    return memo[key]


def _unbound(mod: Module, keep: frozenset) -> tuple[Unbound, ...]:
    """pyflakes on module-level code and the kept bodies. Each top-level def whose body is kept is checked on its
    own (``_unit``) against the module's namespace as pyflakes leaves it, and remembered by its text: an edit
    inside one function re-checks that function, not the whole file."""
    made = _checker_class()
    if made is None:
        return ()
    _Checker, pyflakes_checker = made
    units, inside = _units(mod.tree.body, keep) if not WHOLE_FILE[0] else ([], frozenset())
    star = any(ref.names == [("*", "*")] for ref in mod.imports)
    module_keep = keep - inside
    found = None
    try:
        if not WHOLE_FILE[0] and _no_deferred(mod, module_keep):
            # nothing of the module's own code is checked after its body (see _no_deferred): module-level code
            # statement by statement, each remembered (``_by_statement``)
            out, names, annotated = _by_statement(mod, module_keep, _Checker, pyflakes_checker)
        else:
            tree = ast.Module(body=_pruned(mod.tree.body, module_keep), type_ignores=[])
            globs = sorted(global_names(mod))
            if globs:
                # what any function declares `global` is bound in the module once that function has run, which may
                # be before any other body runs: every body sees it (pyflakes alone lets a body see only the globals
                # of the functions defined above it). The bodies run after the module's code: first of them, this.
                at = next((i for i, st in enumerate(tree.body) if not _leading(st, i)), len(tree.body))
                tree.body.insert(at, ast.FunctionDef(name=" globals", args=_no_args(), body=[ast.Global(names=globs)],
                                                     decorator_list=[], returns=None, type_comment=None, lineno=1,
                                                     col_offset=0, **_type_params()))
            found = _Checker(tree, mod.path)
            out = found.found()
            names, annotated = _namespace(found, pyflakes_checker) if units else (frozenset(), frozenset())
        if units:
            out += _units_checked(mod, units, (names, annotated), star, _Checker)
    except RecursionError:  # a tree nested deeper than pyflakes' recursion: the user's shape, not our fault
        log.info("%s: nested too deeply for the undefined-name check (pyflakes); not checked", mod.path)
        return ()
    except Exception:  # noqa: BLE001 - pyflakes failed on a tree it should read: ours to fix, nothing to say
        log.exception("pyflakes failed on %s", mod.path)
        return ()
    finally:
        if found is not None:
            found.done()
    return tuple(out)


def _no_deferred(mod: Module, keep: frozenset) -> bool:
    """pyflakes checks these after the module body, against the namespace the whole body leaves: a kept body that is
    not a top-level unit, a lambda's body, annotations postponed by ``from __future__ import annotations``. Without
    them each statement sees exactly the namespace the statements before it left. (So are type parameters' bounds and
    `type` aliases, Python 3.12, and every annotation from 3.14.)"""
    if mod.has_future_annotations or "lambda" in mod.text or sys.version_info >= (3, 14):
        return False
    for st in mod.tree.body:
        if _holds(st, keep):
            return False
        for s in [st, *(st.body if isinstance(st, ast.ClassDef) else ())]:
            if getattr(s, "type_params", None) or type(s).__name__ == "TypeAlias":
                return False
    return True


def _leading(st: ast.stmt, i: int) -> bool:
    """The module's docstring or a ``from __future__`` import (what must come first)."""
    return (isinstance(st, ast.ImportFrom) and st.module == "__future__") or (
        i == 0 and isinstance(st, ast.Expr) and isinstance(st.value, ast.Constant) and isinstance(st.value.value, str))


def _namespace(checker, pyflakes_checker) -> tuple[frozenset, frozenset]:
    """The module's namespace as pyflakes leaves it: (the names bound, deletions applied; the names only annotated:
    ``x: int`` alone binds nothing, and pyflakes then looks no further, not even at a star import)."""
    scope = next(sc for sc in checker.deadScopes if isinstance(sc, pyflakes_checker.ModuleScope))
    names = frozenset(k for k, v in scope.items() if not isinstance(v, pyflakes_checker.Annotation) and k != " globals")
    annotated = frozenset(k for k, v in scope.items() if isinstance(v, pyflakes_checker.Annotation))
    return names, annotated


# A top-level statement's unbound names, and the namespace after it, by (its text, the namespace before it, a star
# import before it, postponed annotations, a package __init__): module-level code re-checked from the edited
# statement only where the namespace it leaves changed. Pure: shared, bounded.
_STATEMENTS: "collections.OrderedDict[tuple, tuple]" = collections.OrderedDict()


def _groups(mod: Module) -> list[tuple[list[int], str, list]]:
    """The module's top-level statements in runs cut where content decides (after a statement whose text hashes to
    0 mod 16: an edit or an insertion moves no other cut): (each statement's first line, the run's text, statements).
    One pyflakes checker per run, not per statement: its set-up (every builtin and module name bound) costs about a
    statement's check. A top-level def's body is left out of the module pass (``_pruned``; the def is checked on its
    own, ``_units_checked``): its text here is what comes before its body, so an edit inside a function body keeps
    its run's text, and the results are kept relative to each statement (an inserted line moves no result)."""
    lines = mod.source.lines
    out: list[tuple[list[int], str, list]] = []
    cur: list = []
    starts: list[int] = []
    texts: list[str] = []
    for stmt in mod.tree.body:
        part = stmt.__dict__.get("_tl_run_text")  # its own text decides: kept on it (an unchanged statement is shared)
        if part is None:
            start = min([stmt.lineno] + [d.lineno for d in getattr(stmt, "decorator_list", ())])
            text = _run_text(lines, stmt, start)
            part = stmt._tl_run_text = (start, text, zlib.crc32(text.encode("utf-8", "surrogatepass")) % 16 == 0)
        start, text, cut = part
        cur.append(stmt)
        starts.append(start)
        texts.append(text)
        if cut:
            out.append((starts, "\n\x00".join(texts), cur))
            cur, texts, starts = [], [], []
    if cur:
        out.append((starts, "\n\x00".join(texts), cur))
    return out


def _run_text(lines: list[str], stmt: ast.stmt, start: int) -> str:
    """A statement's text as the module pass reads it: a top-level def's decorators and signature, up to its body
    (``_pruned`` replaces the body); the whole text of any other statement."""
    body = getattr(stmt, "body", None) if isinstance(stmt, _FUNCS) else None
    if body and body[0].lineno > start:
        b = body[0]
        line = lines[b.lineno - 1] if b.lineno - 1 < len(lines) else ""
        head = line[:b.col_offset] if line.isascii() else line  # (col_offset counts bytes)
        return "def\n" + "\n".join(lines[start - 1:b.lineno - 1] + [head])
    return "\n".join(lines[start - 1:stmt.end_lineno or stmt.lineno])


def _positions(stmts: list, starts: list[int], wanted: set[int]) -> dict:
    """(statement index, line after its first, column, name) -> the ast.Name, for the statements ``wanted`` of a run
    (a def's body left out: the module pass does not read it)."""
    at = {}
    for i in wanted:
        st = stmts[i]
        if isinstance(st, _FUNCS):
            parts = [*st.decorator_list, st.args, *([st.returns] if st.returns is not None else []),
                     *getattr(st, "type_params", [])]
        else:
            parts = [st]
        for part in parts:
            for n in walk(part):
                if isinstance(n, ast.Name):
                    at[(i, n.lineno - starts[i], n.col_offset, n.id)] = n
    return at


def _by_statement(mod: Module, keep: frozenset, checker, pyflakes_checker) -> tuple[list, frozenset, frozenset]:
    """Module-level code as one pyflakes pass over the module would see it, a run of statements at a time: each run
    checked against the namespace the statements before it left (passed as pyflakes' builtins), and remembered.
    Only valid when nothing is deferred to the end of the module (``_no_deferred``)."""
    out: list[Unbound] = []
    names, annotated, star = frozenset(), frozenset(), False
    for starts, text, stmts in _groups(mod):
        key = (text, names, annotated, star, mod.has_future_annotations, mod.path.endswith("__init__.py"))
        hit = _STATEMENTS.get(key)
        if hit is not None:
            _STATEMENTS.move_to_end(key)
            rel = hit[0]
            nodes: list = []
            if rel:
                at = _positions(stmts, starts, {i for _, i, _, _, _ in rel})
                nodes = [at.get((i, line, col, name)) for name, i, line, col, _ in rel]
            if all(n is not None for n in nodes):
                out += [Unbound(name, n, s) for (name, _, _, _, s), n in zip(rel, nodes)]
                names, annotated, star = hit[1], hit[2], hit[3]
                continue
        body = _prefix(mod, star, annotated, names)
        c = checker(ast.Module(body=body + _pruned(stmts, keep), type_ignores=[]), mod.path,
                    builtins=names - {"__all__"})
        try:
            found = c.found()
            after, annotated_after = _namespace(c, pyflakes_checker)
            star_after = star or any(sc.importStarred for sc in c.deadScopes
                                     if isinstance(sc, pyflakes_checker.ModuleScope))
        finally:
            c.done()
        where = {id(n): k[0] for k, n in _positions(stmts, starts, set(range(len(stmts)))).items()} if found else {}
        if all(id(f.node) in where for f in found):
            _STATEMENTS[key] = (tuple((f.name, where[id(f.node)], f.node.lineno - starts[where[id(f.node)]],
                                       f.node.col_offset, f.star) for f in found),
                                after, annotated_after, star_after)
            if len(_STATEMENTS) > _UNITS_ROOM:
                _STATEMENTS.popitem(last=False)
        out += found
        names, annotated, star = after, annotated_after, star_after
    globs = global_names(mod)  # the `global` statements of the functions bind when they run: after the module
    # (the namespace the last run left, itself when no function declares a global: the same object from one analysis
    # to the next, which the functions' kept answers compare first, _units_checked)
    return out, (names | (globs - annotated)) if globs - annotated - names else names, annotated


# The engine's oracle (engine/analysis.py) checks whole files, the per-function reuse off: an independent answer.
WHOLE_FILE = [False]


@contextlib.contextmanager
def whole_file():
    saved, WHOLE_FILE[0] = WHOLE_FILE[0], True
    try:
        yield
    finally:
        WHOLE_FILE[0] = saved


def _units(body: list, keep: frozenset) -> tuple[list, frozenset]:
    """The top-level defs that hold a kept def, and the kept defs inside them (sorted spans: linear)."""
    lines = sorted(k[0] for k in keep)
    units, inside = [], set()
    for s in body:
        if isinstance(s, _FUNCS):
            lo = bisect.bisect_left(lines, s.lineno)
            hi = bisect.bisect_right(lines, s.end_lineno or s.lineno)
            if lo < hi:
                units.append(s)
                inside.update(lines[lo:hi])
    return units, frozenset(k for k in keep if k[0] in inside)


@functools.lru_cache(maxsize=1)
def _checker_class():
    """pyflakes' Checker reporting only unbound names, with their nodes (made once: a class is cyclic garbage)."""
    try:
        from pyflakes import checker as pyflakes_checker
        from pyflakes import messages as pyflakes_messages
    except ImportError:  # a declared dependency: an install that lacks it says so in the log
        log.error("pyflakes is not installed: undefined names are not checked (pip install pyflakes)")
        return None
    wanted = (pyflakes_messages.UndefinedName, pyflakes_messages.ImportStarUsage)

    class _Checker(pyflakes_checker.Checker):
        def __init__(self, tree, filename, builtins=None):
            self.nodes: dict[int, ast.AST] = {}
            super().__init__(tree, filename=filename, builtins=builtins)

        def report(self, messageClass, *args, **kwargs):
            if messageClass in wanted:
                super().report(messageClass, *args, **kwargs)
                self.nodes[id(self.messages[-1])] = args[0]

        def found(self) -> list[Unbound]:
            # names of the tree only: a name in a string annotation is a node of pyflakes' own parse, and an
            # undefined `__all__` entry is reported on the assignment; the checks locate neither
            return [Unbound(m.message_args[0], self.nodes[id(m)], isinstance(m, pyflakes_messages.ImportStarUsage))
                    for m in self.messages if isinstance(self.nodes.get(id(m)), ast.Name) and isinstance(m, wanted)]

        def done(self) -> None:
            """Breaks the cycles pyflakes leaves (a binding's ``used`` names its scope, which holds the binding; its
            handler cache holds bound methods of itself): the checker and every node it saw go when it is dropped,
            not at the cyclic collector's next full pass over every tree."""
            for scope in [*self.deadScopes, *self.scopeStack]:
                for binding in scope.values():
                    binding.used = False
                scope.clear()
            self.deadScopes, self.scopeStack, self._deferred = [], [], collections.deque()
            for attr in ("_nodeHandlers", "_parents", "_node_depths"):
                if isinstance(getattr(self, attr, None), dict):
                    getattr(self, attr).clear()

    return _Checker, pyflakes_checker


def _holds(s: ast.stmt, keep: frozenset) -> bool:
    return any(s.lineno <= k[0] <= (s.end_lineno or s.lineno) for k in keep)


# A top-level def's unbound names by (its text, the module's namespace, a star import, postponed annotations, a
# package __init__), as (name, line after the def's, column, only a star import could bind it): pure, so shared
# by every module and analysis; bounded.
_UNITS: "collections.OrderedDict[tuple, tuple]" = collections.OrderedDict()
_UNITS_ROOM = 4096


def _units_checked(mod: Module, units: list, namespace: tuple[frozenset, frozenset], star: bool,
                   checker) -> list[Unbound]:
    """The unbound names of the top-level defs ``units``, their bodies alone against the module's namespace (the
    names it binds, and those only annotated); their decorators, default values and annotations are module-level
    code: the module pass has them. Each def's result is remembered by its text; the others are checked together,
    in one pyflakes pass (its set-up, every name of the namespace bound, costs about as much as a def's check)."""
    names, annotated = namespace
    flags = (names, annotated, star, mod.has_future_annotations, mod.path.endswith("__init__.py"))
    out: list[Unbound] = []
    missing: list[tuple[ast.stmt, tuple]] = []
    for u in units:
        # the answer for this def, kept on it by the namespace it was checked against (an unchanged def is the same
        # node in the file's next tree): no text to join and look up for the defs an edit left alone
        kept = u.__dict__.get("_tl_unbound")
        if kept is not None and kept[0] == flags:
            out += kept[1]
            continue
        key = ("\n".join(mod.source.lines[u.lineno - 1:u.end_lineno or u.lineno]),) + flags
        rel = _UNITS.get(key)
        if rel is not None:
            _UNITS.move_to_end(key)
            nodes: list = []
            if rel:
                at = {(n.lineno - u.lineno, n.col_offset, n.id): n for n in walk(u) if isinstance(n, ast.Name)}
                nodes = [at.get((line, col, name)) for name, line, col, _ in rel]
            if all(n is not None for n in nodes):
                got = tuple(Unbound(name, n, s) for (name, _, _, s), n in zip(rel, nodes))
                u._tl_unbound = (flags, got)
                out += got
                continue
        missing.append((u, key))
    if not missing:
        return out
    body = _prefix(mod, star, annotated, frozenset())
    for u, _ in missing:
        fn = copy.copy(u)
        fn.decorator_list, fn.returns, fn.args = [], None, _bare(u.args)
        body.append(fn)
    c = checker(ast.Module(body=body, type_ignores=[]), mod.path, builtins=names)
    try:
        found = c.found()
    finally:
        c.done()
    mine: dict[int, list[Unbound]] = {id(u): [] for u, _ in missing}
    spans = sorted(((u.lineno, u.end_lineno or u.lineno), id(u)) for u, _ in missing)
    starts = [sp[0][0] for sp in spans]
    for f in found:  # each name to the def whose lines hold it (the defs do not overlap)
        i = bisect.bisect_right(starts, f.node.lineno) - 1
        if i >= 0 and f.node.lineno <= spans[i][0][1]:
            mine[spans[i][1]].append(f)
    for u, key in missing:
        got = mine[id(u)]
        ids = {id(n) for n in walk(u) if isinstance(n, ast.Name)} if got else set()
        if all(id(f.node) in ids for f in got):  # nodes of the def itself: their place can be found again
            _UNITS[key] = tuple((f.name, f.node.lineno - u.lineno, f.node.col_offset, f.star) for f in got)
            if len(_UNITS) > _UNITS_ROOM:
                _UNITS.popitem(last=False)
            u._tl_unbound = (flags, tuple(got))
        out += got
    return out


def _prefix(mod: Module, star: bool, annotated: frozenset, names: frozenset) -> list[ast.stmt]:
    """The statements that put a checker of a part of the module where that part is: postponed annotations, a star
    import seen above it, the names only annotated above it, an export list (the names bound above it are pyflakes'
    builtins)."""
    at = {"lineno": 1, "col_offset": 0}
    body: list[ast.stmt] = []
    if mod.has_future_annotations:
        body.append(ast.ImportFrom(module="__future__", names=[ast.alias(name="annotations")], level=0, **at))
    if star:
        body.append(ast.ImportFrom(module="_", names=[ast.alias(name="*")], level=0, **at))
    body += [ast.AnnAssign(target=ast.Name(id=k, ctx=ast.Store(), **at), annotation=ast.Name(id="int", ctx=ast.Load(), **at),
                           value=None, simple=1, **at) for k in sorted(annotated)]
    if "__all__" in names:  # an export list, not a builtin (pyflakes extends it on `__all__ += [...]`)
        body.append(ast.Assign(targets=[ast.Name(id="__all__", ctx=ast.Store(), **at)],
                               value=ast.List(elts=[], ctx=ast.Load(), **at), **at))
    return body


def _bare(a: ast.arguments) -> ast.arguments:
    """The parameters as names only (defaults and annotations are evaluated where the def is, not in its body)."""
    def arg(p: ast.arg | None) -> ast.arg | None:
        return None if p is None else ast.arg(arg=p.arg, annotation=None, lineno=p.lineno, col_offset=p.col_offset)
    return ast.arguments(posonlyargs=[arg(p) for p in a.posonlyargs], args=[arg(p) for p in a.args],
                         vararg=arg(a.vararg), kwonlyargs=[arg(p) for p in a.kwonlyargs],
                         kw_defaults=[None] * len(a.kwonlyargs), kwarg=arg(a.kwarg), defaults=[])


def _no_args() -> ast.arguments:
    return ast.arguments(posonlyargs=[], args=[], vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[])


def _type_params() -> dict:
    return {"type_params": []} if "type_params" in ast.FunctionDef._fields else {}


def _pruned(body: list, keep: frozenset) -> list:
    """``body`` with the bodies of defs that hold no kept def replaced by ``pass`` (copies; the tree is shared)."""
    out = []
    for s in body:
        if isinstance(s, _FUNCS):
            if not _holds(s, keep):
                s = copy.copy(s)
                s.body = [ast.Pass(lineno=s.lineno, col_offset=s.col_offset)]
        elif isinstance(s, (ast.ClassDef, ast.If, ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith, *_TRY)):
            s = copy.copy(s)  # statements only: the expressions stay shared
            for attr in ("body", "orelse", "finalbody"):
                if getattr(s, attr, None):
                    setattr(s, attr, _pruned(getattr(s, attr), keep))
            if getattr(s, "handlers", None):
                s.handlers = [_handler(h, keep) for h in s.handlers]
        out.append(s)
    return out


def _handler(h: ast.ExceptHandler, keep: frozenset) -> ast.ExceptHandler:
    h = copy.copy(h)
    h.body = _pruned(h.body, keep)
    return h
