"""The data flow of the integration test's body (core/checks/test_body): statements, branches, loops,
bindings and the plain expressions, each given an abstract value. Reported here: arithmetic on a
placeholder (TL301), computing on the test's data (TL304), unpacking the model's outputs (TL306).
What a call, an attribute or an index gives, and the SDK's rejections there, are in
``operations.py`` (``Body``, the class the check runs).
"""

from __future__ import annotations

import ast
from dataclasses import replace
from typing import Any

from tensorleap_ls.core.checks.test_body.known import Known
from tensorleap_ls.core.checks.test_body.values import (
    CONST_VAL, DATA, OUTS, PLAIN, PLAIN_VAL, PRED, UNKNOWN_VAL, Val, container,
)
from tensorleap_ls.core.codes import TEST_ARITHMETIC, TEST_BAD_INDEX, TEST_DATA_ACCESS
from tensorleap_ls.core.fixdata import TestStatement
from tensorleap_ls.core.facts.nodes import under
from tensorleap_ls.core.model import UNKNOWN, Binding, Finding, Severity


class Flow:
    """The data flow of the test body, or of a plain helper the body calls with placeholders (``via``).
    ``operations.Body`` completes it with calls, attributes and indexes."""

    def __init__(self, test: Binding, mod, known: Known, helper: ast.FunctionDef | None = None,
                 env: dict[str, Val] | None = None, via: tuple = ()):
        self.test = test
        self.node: ast.FunctionDef = helper or test.def_node  # type: ignore[assignment]
        self.mod = mod
        self.src = mod.source
        self.known = known
        self.via = via  # names of the helpers this body was reached through, outermost first
        params = [a.arg for a in self.node.args.posonlyargs + self.node.args.args]
        self.sample_id = params[0] if params and not helper else None
        self.preprocess = params[1] if len(params) > 1 and not helper else None
        self.env: dict[str, Val] = env if env is not None else {p: Val(frozenset({DATA})) for p in params[:2]}
        self.local_defs = {s.name for s in under(self.node, (ast.FunctionDef, ast.AsyncFunctionDef))}
        self.called: set[int] = set()
        self.out: list[Finding] = []
        self._seen: set[tuple] = set()
        self._loops = 0
        self.returned: Val | None = None  # what the body's `return` statements give

    def run(self) -> list[Finding]:
        self._block(self.node.body)
        return self.out

    def _report(self, code: str, node: ast.AST, msg: str, severity: Severity | None = None) -> None:
        key = (code, node.lineno, node.col_offset)
        if key in self._seen:  # a loop body is walked twice
            return
        self._seen.add(key)
        if self.via:
            msg += f" (in `{self.via[-1]}`, which the integration test calls with a mapping placeholder)"
        self.out.append(Finding(code, msg, self.src.span(node), severity,
                                data=TestStatement(self.test.function, node.lineno - 1)))

    # --- statements -----------------------------------------------------------------------
    def _block(self, stmts: list[ast.stmt]) -> None:
        for stmt in stmts:
            self._stmt(stmt)

    def _stmt(self, stmt: ast.stmt) -> None:
        if isinstance(stmt, ast.Assign):
            v = self._expr(stmt.value)
            if any(isinstance(t, (ast.Tuple, ast.List)) for t in stmt.targets):
                self._iterate(v, stmt.value)
            for t in stmt.targets:
                self._bind(t, v)
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            self._bind(stmt.target, self._expr(stmt.value))
        elif isinstance(stmt, ast.AugAssign):
            target, v = self._expr(stmt.target), self._expr(stmt.value)
            if target.certainly_mapped or v.certainly_mapped:
                self._report(TEST_ARITHMETIC, stmt, "Arithmetic in the integration test body: the mapping pass raises. Move it "
                             "into a decorated function.")
            elif DATA in target.tags | v.tags:
                self._report(TEST_DATA_ACCESS, stmt, "The integration test computes on `sample_id`/`preprocess` directly; do it "
                             "inside a decorated encoder.")
            elif isinstance(stmt.target, ast.Name) and target.elems is not None:
                self._grow(stmt.target, [v.item()])
        elif isinstance(stmt, ast.Return) and stmt.value is not None:
            v = self._expr(stmt.value)
            self.returned = v if self.returned is None else self.returned | v
        elif isinstance(stmt, ast.Expr):
            self._expr(stmt.value)
        elif isinstance(stmt, (ast.For, ast.AsyncFor)):
            it = self._expr(stmt.iter)
            self._iterate(it, stmt.iter)
            before = dict(self.env)
            self._loops += 1
            # twice: a list grown in the loop is read by the next iteration (once when deeply nested)
            for _ in range(2 if self._loops <= 3 else 1):
                self._bind(stmt.target, self._element(it))
                self._block(stmt.body)
            self._loops -= 1
            self._merge(before)
            self._block(stmt.orelse)
        elif isinstance(stmt, ast.While):
            self._expr(stmt.test)
            if self._static(stmt.test) is False:
                return
            before = dict(self.env)
            self._block(stmt.body)
            self._merge(before)
            self._block(stmt.orelse)
        elif isinstance(stmt, ast.If):
            self._expr(stmt.test)
            known = self._static(stmt.test)  # `if False:` / `if DEBUG:` on a module constant: one branch never runs
            if known is not UNKNOWN:
                self._block(stmt.body if known else stmt.orelse)
                return
            before = dict(self.env)
            self._block(stmt.body)
            after_body, self.env = self.env, dict(before)
            self._block(stmt.orelse)
            self._merge(after_body)
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            for item in stmt.items:
                v = self._expr(item.context_expr)
                if item.optional_vars is not None:
                    self._bind(item.optional_vars, UNKNOWN_VAL if v.mapped else v)
            self._block(stmt.body)
        elif isinstance(stmt, ast.Try):
            self._block(stmt.body)
            for h in stmt.handlers:
                if h.name:
                    self.env[h.name] = PLAIN_VAL
                self._block(h.body)
            self._block(stmt.orelse)
            self._block(stmt.finalbody)
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            self.env[stmt.name] = PLAIN_VAL

    def _merge(self, other: dict[str, Val]) -> None:
        for k, v in other.items():
            self.env[k] = self.env[k] | v if k in self.env else v

    def _bind(self, target: ast.expr, v: Val) -> None:
        if isinstance(target, ast.Name):
            self.env[target.id] = v
        elif isinstance(target, (ast.Tuple, ast.List)):
            for i, elt in enumerate(target.elts):
                if isinstance(elt, ast.Starred):
                    self._bind(elt.value, container([self._element(v)]))
                else:
                    self._bind(elt, v.item(i) if v.keyed else self._element(v))
        elif isinstance(target, ast.Subscript):  # d['k'] = value: the container now holds it
            base = self._expr(target.value)
            self._expr(target.slice)
            if isinstance(target.value, ast.Name) and base.elems is not None:
                self._grow(target.value, [v])

    def _grow(self, name: ast.Name, vals: list[Val]) -> None:
        cur = self.env.get(name.id)
        if cur is not None and cur.elems is not None:
            self.env[name.id] = replace(cur, elems=container([cur.elems, *vals]).elems, keyed=())

    def _iterate(self, it: Val, node: ast.expr) -> None:
        if it.only(frozenset({OUTS})):
            self._report(TEST_BAD_INDEX, node, f"`{self.src.segment(node)}` is the model's outputs placeholder at mapping time: "
                         "it cannot be unpacked or iterated; index each output (`outputs[0]`, `outputs[1]`).")

    def _element(self, it: Val) -> Val:
        """One element of an iterable: a container's element; each of a model's outputs."""
        if it.elems is not None:
            return it.elems
        if it.only(frozenset({OUTS})):
            return Val(frozenset({PRED}))  # a, b = model(x): each output already split
        return UNKNOWN_VAL

    # --- expressions ----------------------------------------------------------------------
    def _expr(self, node: ast.expr | None) -> Val:
        if node is None:
            return UNKNOWN_VAL
        if isinstance(node, ast.Constant):
            return CONST_VAL
        if isinstance(node, ast.Name):
            return self._name(node)
        if isinstance(node, ast.Call):
            return self._call(node)
        if isinstance(node, ast.Subscript):
            return self._subscript(node)
        if isinstance(node, ast.Attribute):
            return self._attribute(node)
        if isinstance(node, ast.BinOp) or (isinstance(node, ast.UnaryOp) and not isinstance(node.op, ast.Not)):
            operands = [node.left, node.right] if isinstance(node, ast.BinOp) else [node.operand]
            vals = [self._expr(o) for o in operands]
            if any(v.certainly_mapped for v in vals):
                self._report(TEST_ARITHMETIC, node, "Arithmetic in the integration test body: the mapping pass raises. Move it "
                             "into a decorated function (a metric, loss or visualizer).")
                return UNKNOWN_VAL
            if any(DATA in v.tags for v in vals):
                self._report(TEST_DATA_ACCESS, node, "The integration test computes on `sample_id`/`preprocess` directly; do it "
                             "inside a decorated encoder.")
                return UNKNOWN_VAL
            if all(v.only(frozenset({PLAIN})) for v in vals):
                return PLAIN_VAL
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add) and all(v.elems is not None for v in vals):
                return container([v.elems for v in vals if v.elems is not None])  # list + list
            return UNKNOWN_VAL
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            vals = []
            for e in node.elts:
                v = self._expr(e.value if isinstance(e, ast.Starred) else e)
                vals.append(self._element(v) if isinstance(e, ast.Starred) else v)
            starred = any(isinstance(e, ast.Starred) for e in node.elts) or isinstance(node, ast.Set)
            return container(vals, () if starred else tuple(enumerate(vals)))
        if isinstance(node, ast.Dict):
            keyed, vals = [], []
            for k, v in zip(node.keys, node.values):
                kv = self._expr(k) if k is not None else None
                vv = self._expr(v)
                if k is None:  # {**other}
                    vals.append(vv.item())
                    continue
                vals.append(vv)
                key = self._static(k)
                if key is not UNKNOWN and kv is not None:
                    keyed.append((key, vv))
            return container(vals, tuple(keyed) if len(keyed) == len(node.keys) else ())
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            return self._comprehension(node)
        if isinstance(node, ast.IfExp):
            self._expr(node.test)
            return self._expr(node.body) | self._expr(node.orelse)
        if isinstance(node, ast.NamedExpr):
            v = self._expr(node.value)
            self._bind(node.target, v)
            return v
        if isinstance(node, ast.Starred):
            return self._expr(node.value)
        if isinstance(node, (ast.Compare, ast.BoolOp, ast.UnaryOp, ast.JoinedStr, ast.FormattedValue)):
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.expr):
                    self._expr(child)
            return PLAIN_VAL
        return UNKNOWN_VAL

    def _comprehension(self, node) -> Val:
        saved = dict(self.env)
        for gen in node.generators:
            it = self._expr(gen.iter)
            self._iterate(it, gen.iter)
            self._bind(gen.target, self._element(it))
            for cond in gen.ifs:
                self._expr(cond)
        if isinstance(node, ast.DictComp):
            self._expr(node.key)
            v = self._expr(node.value)
        else:
            v = self._expr(node.elt)
        self.env = saved
        return container([v])

    def _static(self, node: ast.expr) -> Any:
        """The value of an expression made of literals and module constants, else UNKNOWN."""
        names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
        if names & self.env.keys():
            return UNKNOWN
        v = self.known.value(node, self.mod)
        return v if isinstance(v, (str, int, float, bool, tuple)) else UNKNOWN

    def _name(self, node: ast.Name) -> Val:
        if node.id in self.env:
            return self.env[node.id]
        if node.id in self.local_defs:
            return PLAIN_VAL
        return self._module_value(node)

    def _module_value(self, node: ast.expr) -> Val:
        """A module-level name (or attribute of a module), through imports and star imports."""
        v = self.known.convert(self.known.value(node, self.mod))
        if isinstance(node, ast.Name) and v.elems is not None and not v.keyed and self.known.resolver is not None:
            found = self.known.resolver.lookup(self.mod, node.id)
            if found is not None and found[0] == "assign":  # ENCODERS = {} filled by a module-level loop
                filled = self.known.filled(node.id, found[2])
                if filled is not None:
                    return container([v.item(), filled])
        return v

    # --- completed by operations.Body ------------------------------------------------------
    def _call(self, node: ast.Call) -> Val:
        raise NotImplementedError

    def _attribute(self, node: ast.Attribute) -> Val:
        raise NotImplementedError

    def _subscript(self, node: ast.Subscript) -> Val:
        raise NotImplementedError
