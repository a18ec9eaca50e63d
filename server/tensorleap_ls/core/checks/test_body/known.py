"""What the test-body check knows of the project (core/checks/test_body): its decorated functions by
def node, the factories that register them, helpers returning them, module-level containers filled
with them, the declared prediction names and whether the data set is grouped; the per-module facts
are computed once per text (``Module.memo``).
"""

from __future__ import annotations

import ast
from typing import Any, Iterable

from tensorleap_ls.core.checks.base import CheckContext
from tensorleap_ls.core.checks.test_body.values import CONST_VAL, PLAIN, PLAIN_VAL, UNKNOWN_VAL, Val, container
from tensorleap_ls.core.project.evaluate import CallValue, FunctionValue
from tensorleap_ls.core.model import UNKNOWN, Kind
from tensorleap_ls.core.facts.modules import has_tree, index_of, per_text
from tensorleap_ls.core.facts.nodes import kept_on, own, statement_calls
from tensorleap_ls.core.sdk.bundled import DECORATORS
from tensorleap_ls.core.source.text import Words, dotted


class Known:
    """The project's decorated functions, loaders and factories, by def node."""

    def __init__(self, ctx: CheckContext):
        self.resolver = ctx.resolver
        self.modules = [m for m in ctx.modules.values() if has_tree(m)]
        self.kinds: dict[int, set[Kind]] = {}
        self.defs: dict[int, ast.AST] = {}
        for b in ctx.bindings:
            if b.def_node is not None and b.kind is not Kind.INTEGRATION_TEST:
                self.kinds.setdefault(id(b.def_node), set()).add(b.kind)
                self.defs[id(b.def_node)] = b.def_node
        preds = [b.name for b in ctx.bindings if b.kind is Kind.PREDICTION]
        # `outputs['name']` must name a declared prediction type (None: some name is not known statically)
        self.prediction_names: list[str] | None = None if None in preds else preds
        self._returns: dict[int, frozenset] = {}
        self._filled: dict[tuple, Val | None] = {}
        # A factory: a top-level function with a nested def that a tensorleap_* decorator registers
        # when the factory runs (lazily registered encoders, e.g. `@lru_cache def get_input(key)`).
        self.factories: dict[int, frozenset] = {}
        for mod in ctx.modules.values():
            for d, inner in _factories(mod).items():
                self.factories[id(d)] = frozenset(id(n) for n in inner)
                for n, kind in inner.items():
                    self.kinds.setdefault(id(n), set()).add(kind)
                    self.defs[id(n)] = n
        self.grouped = any(_grouped(mod) for mod in ctx.modules.values() if has_tree(mod))

    def of_node(self, node: ast.AST, mod) -> Val | None:
        if id(node) in self.kinds:
            return Val(funcs=frozenset({id(node)}))
        if id(node) in self.factories:
            return Val(frozenset({PLAIN}), makes=self.factories[id(node)])
        returned = self._returned(node, mod)
        return Val(frozenset({PLAIN}), makes=returned) if returned else None

    def _returned(self, fn: ast.AST, mod) -> frozenset:
        """Decorated functions a plain helper returns from module-level names (``return ENCODERS[key]``)."""
        if id(fn) in self._returns:
            return self._returns[id(fn)]
        self._returns[id(fn)] = frozenset()  # recursion guard
        out: set[int] = set()
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            params = {a.arg for a in fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs}
            for n in own(fn, ast.Return):
                if n.value is not None:
                    out |= self._static(n.value, mod, params).funcs
        self._returns[id(fn)] = frozenset(out)
        return self._returns[id(fn)]

    def _static(self, node: ast.expr, mod, params: set[str]) -> Val:
        if isinstance(node, ast.Name) and node.id not in params:
            return self.convert(self.value(node, mod))
        if isinstance(node, ast.Subscript):
            key = node.slice.value if isinstance(node.slice, ast.Constant) else UNKNOWN
            return self._static(node.value, mod, params).item(key)
        return UNKNOWN_VAL

    def convert(self, v: Any, depth: int = 0) -> Val:
        """An evaluated module-level value (core.evaluate) as an abstract value of the test body."""
        if depth > 8:
            return UNKNOWN_VAL
        if isinstance(v, FunctionValue):
            return self.of_node(v.node, v.module) or PLAIN_VAL
        if isinstance(v, CallValue):  # METADATA = [make_metadata(f) for f in FIELDS]: what the factory makes
            maker = self.convert(self.value(v.node.func, v.module), depth + 1)
            return Val(funcs=maker.makes) if maker.makes else PLAIN_VAL
        if isinstance(v, list):
            vals = [self.convert(e, depth + 1) for e in v]
            return container(vals, tuple(enumerate(vals)))
        if isinstance(v, dict):
            items = [(k, self.convert(e, depth + 1)) for k, e in v.items()]
            return container([e for _, e in items], tuple(items))
        if v is UNKNOWN:
            return UNKNOWN_VAL
        if v is None or isinstance(v, (str, int, float, bool, tuple)):
            return CONST_VAL
        return PLAIN_VAL  # constants, SDK symbols, third-party objects, local modules

    def filled(self, name: str, mod) -> Val | None:
        """What module-level ``NAME[k] = value`` / ``NAME.append(value)`` statements (in loops and ifs
        too) put into a container, when the values are decorated functions or factory products."""
        key = (name, mod.path)
        if key not in self._filled:
            vals = []
            for stmt in _module_statements(mod.tree.body):
                value = None
                if isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name)
                                                        and t.value.id == name for t in stmt.targets):
                    value = stmt.value
                elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) \
                        and dotted(stmt.value.func) == f"{name}.append" and stmt.value.args:
                    value = stmt.value.args[0]
                if value is not None:
                    vals.append(self._product(value, mod))
            found = container(vals).elems if vals else None
            self._filled[key] = found if found is not None and (found.funcs or found.makes) else None
        return self._filled[key]

    def _product(self, node: ast.expr, mod) -> Val:
        """A decorated function named, or made by a factory call (``make_encoder(key)``)."""
        if isinstance(node, ast.Call):
            maker = self.convert(self.value(node.func, mod))
            return Val(funcs=maker.makes) if maker.makes else UNKNOWN_VAL
        return self.convert(self.value(node, mod)) if isinstance(node, (ast.Name, ast.Attribute)) else UNKNOWN_VAL

    def is_loader(self, fid: int) -> bool:
        return Kind.LOAD_MODEL in self.kinds.get(fid, ())

    def value(self, node: ast.expr, mod) -> Any:
        if self.resolver is None:
            return UNKNOWN
        try:
            return self.resolver.value(node, mod)
        except RecursionError:
            return UNKNOWN


def registers(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> Kind | None:
    """The kind a ``tensorleap_*`` decorator of ``fn`` registers it as, if any (kept on the def: asked at every call
    of it in the test body, on every analysis)."""
    kept = fn.__dict__.get("_tl_registers")
    if kept is not None and kept[0] == id(fn):  # (a copy.copy of a def carries its original's)
        return kept[1]
    found = None
    for d in fn.decorator_list:
        name = dotted(d.func if isinstance(d, ast.Call) else d).rsplit(".", 1)[-1]
        if name in DECORATORS:
            found = DECORATORS[name].kind
            break
    fn._tl_registers = (id(fn), found)
    return found


@per_text("test_body.factories", needle=Words(DECORATORS, whole=False), empty=dict)
def _factories(mod) -> dict:
    """Top-level functions of ``mod`` with a nested def that a tensorleap_* decorator registers when they
    run: {factory def: {inner def: kind}}."""
    out = {}
    nested = [n for n in index_of(mod).defs if n.col_offset > 0]  # one walk per text, shared
    for d in getattr(mod, "defs", {}).values():
        if isinstance(d, (ast.FunctionDef, ast.AsyncFunctionDef)):
            last = d.end_lineno or d.lineno
            inner = {n: registers(n) for n in nested if d.lineno < n.lineno <= last}
            inner = {n: kind for n, kind in inner.items() if kind is not None}
            if inner:
                out[d] = inner
    return out


@per_text("test_body.grouped", needle="PreprocessResponse", empty=bool)
def _grouped(mod) -> bool:
    """The module builds a grouped data set."""
    # which calls build a PreprocessResponse is kept per statement (facts/nodes.py); whether it is grouped reads
    # the module's other statements (``_nested_names``)
    return any(_grouped_response(c, mod) for st, calls in statement_calls(mod)
               for c in kept_on(st, "_tl_responses_built", 0, lambda calls=calls: _responses_built(calls)))


def _responses_built(calls: list) -> tuple:
    return tuple(c for c in calls if dotted(c.func).endswith("PreprocessResponse"))


def _grouped_response(call: ast.Call, mod) -> bool:
    """``PreprocessResponse(sample_ids=[[...], ...])``: a grouped data set (the SDK then maps with
    placeholders that accept ``group[i]``)."""
    if not dotted(call.func).endswith("PreprocessResponse"):
        return False
    ids = next((k.value for k in call.keywords if k.arg == "sample_ids"), call.args[2] if len(call.args) > 2 else None)
    if isinstance(ids, ast.Name):  # ids = [...] somewhere in the module
        return ids.id in _nested_names(mod)
    return ids is not None and _nested(ids)


@per_text("test_body.nested_names")
def _nested_names(mod) -> frozenset:
    """Names the module assigns a nested list to (one walk per text, not one per call)."""
    return frozenset(t.id for n in index_of(mod).assigns if _nested(n.value)
                     for t in n.targets if isinstance(t, ast.Name))


def _nested(node: ast.expr) -> bool:
    lists = (ast.List, ast.Tuple, ast.ListComp)
    if isinstance(node, (ast.List, ast.Tuple)):
        return any(isinstance(e, lists) for e in node.elts)
    if isinstance(node, (ast.ListComp, ast.GeneratorExp)):
        return isinstance(node.elt, lists) or (isinstance(node.elt, ast.Call) and dotted(node.elt.func) in ("list", "tuple"))
    return False


def _module_statements(stmts: list[ast.stmt]) -> Iterable[ast.stmt]:
    """Statements that run at import: the top level and the bodies of its for/if/with/try blocks."""
    for stmt in stmts:
        yield stmt
        if isinstance(stmt, (ast.For, ast.If, ast.With, ast.Try, ast.While)):
            for attr in ("body", "orelse", "finalbody"):
                yield from _module_statements(getattr(stmt, attr, []))

