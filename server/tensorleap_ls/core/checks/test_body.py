"""3xx: the body of ``@tensorleap_integration_test``.

The SDK re-runs the body in mapping mode (``LeapLoader.exec_script``; code-loader 1.0.214
``leapbinder_decorators.py``) with ``sample_id=None`` and an empty ``PreprocessResponse``, and
every decorated call returns a placeholder instead of running user code:

- input / ground-truth encoders: a ``TempMapping`` object without ``__getitem__``;
- metadata, visualizers, metrics, losses: ``None``;
- ``load_model()``: a model placeholder whose ``__call__`` / ``run(None, {...})`` returns an
  outputs placeholder; ``outputs[k]`` accepts an ``int`` or a declared prediction name (anything
  else fails an assertion) and returns a ``TempMapping`` (a second index fails);
  ``model.get_inputs()[i].name`` works.

Plain Python around those placeholders runs as usual: lists, tuples and dicts built in the
body, loops and comprehensions over them, module constants and their subscripts, the SDK's own
helpers (``visualize``: a no-op in mapping mode; core/sdk.py TEST_BODY_HELPERS). So this check
follows the body's data flow: every expression gets an abstract value (a placeholder, the model,
its outputs, a prediction, the test's data, a container of values, a decorated function, a
factory of decorated functions, a plain value or unknown) and only operations the SDK rejects on
*that* value are errors. An unknown value is never an error, and a branch that never runs (``if
False:``, ``if DEBUG:`` on a module constant) is not checked. On a grouped data set (nested
``sample_ids``) the input/ground-truth placeholders accept ``group[i]``. The same data flow tells
TL310 which decorated functions the test calls (through lists, dicts, loops, helper variables,
factories, ``globals()[...]`` / ``getattr(module, ...)`` by name).

Finding.data keys: {"function": name of the test, "line": 0-based line of the offending statement};
TL310 {"function": the decorated function never called, "kind": its kind, "test": name of the test}.
"""

from __future__ import annotations

import ast
import builtins
import re
from dataclasses import dataclass, replace
from typing import Any, Iterable

from tensorleap_ls.core.checks.base import CheckContext
from tensorleap_ls.core.evaluate import CallValue, FunctionValue, ModuleValue
from tensorleap_ls.core.modules import calls_of
from tensorleap_ls.core.model import UNKNOWN, Binding, Finding, Kind, Severity, SymbolRef
from tensorleap_ls.core.sdk import DECORATORS, TEST_BODY_HELPERS
from tensorleap_ls.core.source import dotted
from tensorleap_ls.core.codes import (
    NOT_IN_TEST, TEST_ARITHMETIC, TEST_BAD_INDEX, TEST_BATCH_DIM, TEST_DATA_ACCESS, TEST_DOUBLE_INDEX,
    TEST_LIBRARY_CALL, TEST_NOT_A_PLACEHOLDER, TEST_PLAIN_CALL,
)

_BATCH = {"expand_dims", "unsqueeze", "newaxis", "atleast_2d", "atleast_3d", "stack"}
_INFERENCE = {"run", "predict", "predict_on_batch", "__call__"}
# Attributes the mapping placeholders have (a TempMapping, the outputs placeholder, the model placeholder);
# any other attribute raises AttributeError in the mapping pass.
_PLACEHOLDER_ATTRS = {"node_mapping"}
_MODEL_ATTRS = {"run", "get_inputs", "node_mapping"}
# Kinds whose mapping call reads `.node_mapping` of every argument (visualizers, metrics, losses).
_WIRED_KINDS = frozenset({Kind.VISUALIZER, Kind.METRIC, Kind.LOSS})
# Libraries whose functions return arrays / tensors, never a mapping placeholder.
_ARRAY_LIBS = frozenset({"numpy", "np", "torch", "tensorflow", "tf", "cv2", "scipy", "PIL", "skimage", "jax"})
_MAX_PREDICTIONS = 10  # NodeMappingType.Prediction0..Prediction9: outputs[-1] or outputs[10] fails the mapping pass
_CALLED_KINDS = (Kind.INPUT, Kind.GROUND_TRUTH, Kind.METADATA, Kind.VISUALIZER, Kind.METRIC, Kind.LOSS, Kind.LOAD_MODEL)
_BUILTINS = frozenset(dir(builtins))
_HELPER_SHORT = frozenset(q.rsplit(".", 1)[-1] for q in TEST_BODY_HELPERS)
# Builtins that build a container from the elements of their argument(s).
_SEQ_BUILTINS = {"list", "tuple", "sorted", "reversed", "set", "iter", "frozenset"}
_GROW = {"append", "extend", "insert", "add", "update", "setdefault"}

# Tags of abstract values. PLACE/MODEL/OUTS/PRED only exist in mapping mode as placeholders.
DATA, PLACE, MODEL, OUTS, PRED, PLAIN = "data", "place", "model", "outs", "pred", "plain"
# An input/ground-truth placeholder of a grouped data set: `group[i]` gives the same placeholder.
GROUP = "group"
_MAPPED = frozenset({PLACE, MODEL, OUTS, PRED})


@dataclass(frozen=True)
class Val:
    """What an expression of the test body may be (a union: several tags = any of them)."""

    tags: frozenset = frozenset()
    funcs: frozenset = frozenset()  # decorated functions (ids of their def nodes) this value may be
    makes: frozenset = frozenset()  # factory: calling it gives these decorated functions
    elems: "Val | None" = None  # a container: the union of its elements
    keyed: tuple = ()  # a container whose keys are known: ((key, Val), ...)
    nomap: bool = False  # certainly not a mapping placeholder (a constant, a container, an array library's result)

    def __or__(self, other: "Val") -> "Val":
        elems = self.elems if other.elems is None else other.elems if self.elems is None else self.elems | other.elems
        return Val(self.tags | other.tags, self.funcs | other.funcs, self.makes | other.makes, elems,
                   self.keyed if self.keyed == other.keyed else (), self.nomap and other.nomap)

    def only(self, tags: frozenset) -> bool:
        """Certainly one of ``tags`` (never for unknown values, containers or functions)."""
        return bool(self.tags) and self.tags <= tags and self.elems is None and not self.funcs and not self.makes

    @property
    def mapped(self) -> bool:
        """May be a mapping placeholder (enough for a warning)."""
        return bool(self.tags & _MAPPED)

    @property
    def certainly_mapped(self) -> bool:
        """Is a mapping placeholder on every path (needed for an error)."""
        return self.only(_MAPPED | {GROUP})

    def item(self, key: Any = UNKNOWN) -> "Val":
        for k, v in self.keyed:
            if k == key and key is not UNKNOWN:
                return v
        return self.elems or Val()


UNKNOWN_VAL = Val()
PLAIN_VAL = Val(frozenset({PLAIN}))
CONST_VAL = Val(frozenset({PLAIN}), nomap=True)  # a literal or a module constant


def _container(elems: Iterable[Val], keyed: tuple = ()) -> Val:
    out = None
    for e in elems:
        out = e if out is None else out | e
    return Val(frozenset({PLAIN}), elems=out or UNKNOWN_VAL, keyed=keyed, nomap=True)


def check(ctx: CheckContext) -> list[Finding]:
    tests = [b for b in ctx.bindings if b.kind is Kind.INTEGRATION_TEST
             and isinstance(b.def_node, (ast.FunctionDef, ast.AsyncFunctionDef))]
    if not tests:
        return []
    known = _Known(ctx)
    out: list[Finding] = []
    called: set[int] = set()
    for t in tests:
        mod = ctx.modules.get(t.def_path or "")
        if mod is None or mod.source is None:
            continue
        body = _Body(t, mod, known)
        out.extend(body.run())
        called |= body.called
    stub = next((b for b in ctx.bindings if b.kind is Kind.LOAD_MODEL and id(b.def_node) not in called
                 and _is_stub(b.def_node)), None)
    if stub is not None and stub.def_span is not None:  # one root cause: the model is not there yet
        out.append(Finding(NOT_IN_TEST, f"`{stub.function}` is a stub (TODO: load your model): the integration test runs "
                           "without predictions; the metrics and losses are wired once it calls the model.",
                           stub.def_span, severity=Severity.INFORMATION,
                           data={"function": stub.function, "kind": stub.kind.value, "test": tests[0].function}))
    for b in ctx.bindings:
        if stub is not None and (b is stub or b.kind in (Kind.METRIC, Kind.LOSS)):
            continue
        if b.kind in _CALLED_KINDS and b.function and b.def_node is not None and b.def_span is not None \
                and id(b.def_node) not in called and not _factory_called_in(b, tests):
            out.append(Finding(NOT_IN_TEST, f"`{b.function}` ({b.kind.value}) is never called from the integration test: "
                               "it stays unwired on the platform.", b.def_span,
                               data={"function": b.function, "kind": b.kind.value, "test": tests[0].function}))
    return out


def _is_stub(node) -> bool:
    """A function whose body (after a docstring) only raises NotImplementedError."""
    body = [s for s in getattr(node, "body", []) if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    return len(body) == 1 and isinstance(body[0], ast.Raise) and "NotImplementedError" in ast.dump(body[0])


def _factory_called_in(b: Binding, tests: list[Binding]) -> bool:
    """A binding registered by a factory (``get_input_func(k)``) is called where the test calls the factory."""
    for site in b.factory_sites:
        for t in tests:
            node = t.def_node
            if site.path == t.def_path and node.lineno <= site.line + 1 <= (node.end_lineno or node.lineno):
                return True
    return False


class _Known:
    """The project's decorated functions, loaders and factories, by def node."""

    def __init__(self, ctx: CheckContext):
        self.resolver = ctx.resolver
        self.modules = [m for m in ctx.modules.values() if getattr(m, "tree", None) is not None]
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
            for d, inner in _memo(mod, "test_body.factories", _factories).items():
                self.factories[id(d)] = frozenset(id(n) for n in inner)
                for n, kind in inner.items():
                    self.kinds.setdefault(id(n), set()).add(kind)
                    self.defs[id(n)] = n
        self.grouped = any(_memo(mod, "test_body.grouped", lambda m: any(_grouped_response(c, m) for c in calls_of(m)))
                           for mod in ctx.modules.values() if getattr(mod, "tree", None))

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
            for n in _own_nodes(fn):
                if isinstance(n, ast.Return) and n.value is not None:
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
            return _container(vals, tuple(enumerate(vals)))
        if isinstance(v, dict):
            items = [(k, self.convert(e, depth + 1)) for k, e in v.items()]
            return _container([e for _, e in items], tuple(items))
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
            found = _container(vals).elems if vals else None
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


def _registers(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> Kind | None:
    """The kind a ``tensorleap_*`` decorator of ``fn`` registers it as, if any."""
    for d in fn.decorator_list:
        name = dotted(d.func if isinstance(d, ast.Call) else d).rsplit(".", 1)[-1]
        if name in DECORATORS:
            return DECORATORS[name].kind
    return None


def _memo(mod, key: str, compute):
    """A fact of one module's text, computed once per text (the module object lives as long as it)."""
    memo = getattr(mod, "memo", None)
    if memo is None:
        return compute(mod)
    if key not in memo:
        memo[key] = compute(mod)
    return memo[key]


def _factories(mod) -> dict:
    """Top-level functions of ``mod`` with a nested def that a tensorleap_* decorator registers when they
    run: {factory def: {inner def: kind}}."""
    out = {}
    for d in getattr(mod, "defs", {}).values():
        if isinstance(d, (ast.FunctionDef, ast.AsyncFunctionDef)):
            inner = {n: _registers(n) for n in ast.walk(d) if n is not d
                     and isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
            inner = {n: kind for n, kind in inner.items() if kind is not None}
            if inner:
                out[d] = inner
    return out


def _grouped_response(call: ast.Call, mod) -> bool:
    """``PreprocessResponse(sample_ids=[[...], ...])``: a grouped data set (the SDK then maps with
    placeholders that accept ``group[i]``)."""
    if not dotted(call.func).endswith("PreprocessResponse"):
        return False
    ids = next((k.value for k in call.keywords if k.arg == "sample_ids"), call.args[2] if len(call.args) > 2 else None)
    if isinstance(ids, ast.Name):  # ids = [...] somewhere in the module
        return ids.id in _memo(mod, "test_body.nested_names", _nested_names)
    return ids is not None and _nested(ids)


def _nested_names(mod) -> frozenset:
    """Names the module assigns a nested list to (one walk per text, not one per call)."""
    return frozenset(t.id for n in ast.walk(mod.tree) if isinstance(n, ast.Assign) and _nested(n.value)
                     for t in n.targets if isinstance(t, ast.Name))


def _nested(node: ast.expr) -> bool:
    lists = (ast.List, ast.Tuple, ast.ListComp)
    if isinstance(node, (ast.List, ast.Tuple)):
        return any(isinstance(e, lists) for e in node.elts)
    if isinstance(node, (ast.ListComp, ast.GeneratorExp)):
        return isinstance(node.elt, lists) or (isinstance(node.elt, ast.Call) and dotted(node.elt.func) in ("list", "tuple"))
    return False


class _Body:
    """The data flow of the test body, or of a plain helper the body calls with placeholders (``via``)."""

    def __init__(self, test: Binding, mod, known: _Known, helper: ast.FunctionDef | None = None,
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
        self.local_defs = {s.name for s in ast.walk(self.node) if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))
                           and s is not self.node}
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
                                data={"function": self.test.function, "line": node.lineno - 1}))

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
                    self._bind(elt.value, _container([self._element(v)]))
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
            self.env[name.id] = replace(cur, elems=_container([cur.elems, *vals]).elems, keyed=())

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
                return _container([v.elems for v in vals if v.elems is not None])  # list + list
            return UNKNOWN_VAL
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            vals = []
            for e in node.elts:
                v = self._expr(e.value if isinstance(e, ast.Starred) else e)
                vals.append(self._element(v) if isinstance(e, ast.Starred) else v)
            starred = any(isinstance(e, ast.Starred) for e in node.elts) or isinstance(node, ast.Set)
            return _container(vals, () if starred else tuple(enumerate(vals)))
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
            return _container(vals, tuple(keyed) if len(keyed) == len(node.keys) else ())
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
        return _container([v])

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
                    return _container([v.item(), filled])
        return v

    def _attribute(self, node: ast.Attribute) -> Val:
        if isinstance(node.value, ast.Name) and node.value.id == self.preprocess:
            self._report(TEST_DATA_ACCESS, node, f"The integration test reads `{self.src.segment(node)}` directly; read the data "
                         "inside a decorated encoder.")
            return Val(frozenset({DATA}))
        base = self._expr(node.value)
        if base.only(frozenset({PLAIN})) and not (isinstance(node.value, ast.Name) and node.value.id in self.env):
            return self._module_value(node)  # config.OUTPUT_INDICES, a module's function
        if base.only(frozenset({MODEL})) and node.attr in _INFERENCE:
            return Val(frozenset({MODEL}))
        if base.certainly_mapped and not (base.only(frozenset({MODEL})) and node.attr == "get_inputs"):
            self._report(TEST_LIBRARY_CALL, node, f"`{self.src.segment(node)}`: at mapping time `{self.src.segment(node.value)}` "
                         f"is a placeholder without `{node.attr}`; read it inside a decorated function.",
                         self._missing_attr(base, node.attr))
        return UNKNOWN_VAL

    @staticmethod
    def _missing_attr(base: Val, attr: str) -> Severity | None:
        """ERROR when ``attr`` certainly raises AttributeError on the placeholder ``base`` (TL302's severity note)."""
        if attr.startswith("__"):
            return None
        if base.only(frozenset({MODEL})):
            return Severity.ERROR if attr not in _MODEL_ATTRS else None
        if base.only(frozenset({PLACE, PRED, OUTS})):  # a TempMapping, the outputs placeholder, or None (metadata)
            return Severity.ERROR if attr not in _PLACEHOLDER_ATTRS else None
        return None  # a grouped input (its own placeholder class) or a union with plain values

    def _subscript(self, node: ast.Subscript) -> Val:
        v = node.value
        if isinstance(v, ast.Call) and isinstance(v.func, ast.Name) and v.func.id == "globals" and not v.args:
            self._expr(node.slice)
            return self._by_name(node.slice, self.mod)  # globals()[f'display_{name}']
        base = self._expr(node.value)
        key_node = node.slice
        if isinstance(key_node, ast.Slice):
            for part in (key_node.lower, key_node.upper, key_node.step):
                self._expr(part)
            key = PLAIN_VAL
        else:
            key = self._expr(key_node)
        if _is_none_index(key_node) and (base.mapped or not base.tags):
            self._report(TEST_BATCH_DIM, node, "Indexing with `None`/`np.newaxis` adds a batch dimension by hand; decorated calls "
                         "already return batched arrays.")
            return UNKNOWN_VAL
        if base.elems is not None:  # a list / tuple / dict of the body or of the module
            return base.item(self._static(key_node))
        if base.only(frozenset({PLACE, GROUP})) and GROUP in base.tags:
            return base  # one sample of a group: the same input / ground-truth source
        what = self.src.segment(node.value)
        if base.only(frozenset({OUTS})):
            if isinstance(key_node, ast.Slice) or key.elems is not None:
                self._report(TEST_BAD_INDEX, node, f"`{what}` may only be indexed with an int or a declared prediction "
                             "name in the integration test (the mapping pass asserts it).")
                return UNKNOWN_VAL
            name = self._static(key_node)
            if isinstance(name, int) and not isinstance(name, bool) and not 0 <= name < _MAX_PREDICTIONS:
                self._report(TEST_BAD_INDEX, node, f"`{self.src.segment(node)}`: at mapping time the model's outputs are "
                             f"indexed 0..{_MAX_PREDICTIONS - 1} (or by a declared prediction name); {name} raises "
                             "('no more then 10 active predictions'). Index from the front.")
                return UNKNOWN_VAL
            declared = self.known.prediction_names
            if isinstance(name, str) and declared is not None and name not in declared:
                self._report(TEST_BAD_INDEX, node, f"No prediction type is declared with the name {name!r} (declared: "
                             f"{', '.join(map(repr, declared)) or 'none'}); the mapping pass raises.")
                return UNKNOWN_VAL
            return Val(frozenset({PRED}))
        if base.only(frozenset({PRED})):
            self._report(TEST_DOUBLE_INDEX, node, f"`{what}` is already an indexed prediction; a second index fails in the "
                         "mapping pass ('TempMapping' object is not subscriptable).")
            return UNKNOWN_VAL
        if base.only(frozenset({PLACE, MODEL})):
            self._report(TEST_BAD_INDEX, node, f"Indexing `{what}` in the integration test: at mapping time it is a "
                         "placeholder that cannot be indexed; only the model's predictions may be indexed.")
            return UNKNOWN_VAL
        if base.only(frozenset({DATA})):
            if not isinstance(node.value, ast.Name):
                return base  # `preprocess.data[...]`: reported once, at the read of `preprocess.data`
            self._report(TEST_DATA_ACCESS, node, f"The integration test reads `{self.src.segment(node)}` directly; read the data "
                         "inside a decorated encoder.")
            return Val(frozenset({DATA}))
        if base.only(frozenset({PLAIN})):
            return PLAIN_VAL
        return UNKNOWN_VAL

    def _args(self, node: ast.Call) -> list[Val]:
        vals = []
        for a in node.args:
            vals.append(self._element(self._expr(a.value)) if isinstance(a, ast.Starred) else self._expr(a))
        for k in node.keywords:
            v = self._expr(k.value)
            vals.append(v.item() if k.arg is None else v)
        return vals

    def _call(self, node: ast.Call) -> Val:
        f = node.func
        name = dotted(f)
        if isinstance(f, ast.Attribute):
            return self._method(node, f)
        callee = self._expr(f)
        args = self._args(node)
        if callee.funcs:
            self._wired_args(node, callee, args)
            return self._decorated(callee)
        if callee.makes:
            return Val(funcs=callee.makes)
        if callee.only(frozenset({MODEL})):
            return Val(frozenset({OUTS}))  # model([...]) (Keras)
        if isinstance(f, ast.Name) and (f.id == "print" or self._is_helper(f)):
            return PLAIN_VAL
        touches = any(a.mapped or DATA in a.tags for a in args)
        if isinstance(f, ast.Name) and f.id not in self.env and f.id not in self.local_defs and f.id in _BUILTINS \
                and self.known.value(f, self.mod) is UNKNOWN:
            if touches:
                self._report(TEST_LIBRARY_CALL, node, f"`{name}(...)` in the integration test escapes the mapping; move this logic "
                             "into a decorated function.")
                return UNKNOWN_VAL
            if f.id == "getattr" and len(node.args) >= 2:  # getattr(module, f'viz_{name}')
                where = self.known.value(node.args[0], self.mod)
                if isinstance(where, ModuleValue):
                    return self._by_name(node.args[1], where.module)
                return UNKNOWN_VAL
            return self._builtin(f.id, args)
        if name.rsplit(".", 1)[-1] in _BATCH and any(a.mapped for a in args):
            self._report(TEST_BATCH_DIM, node, f"`{name}` adds a batch dimension by hand; decorated calls inside the integration "
                         "test already return batched arrays.")
            return UNKNOWN_VAL
        followed = self._into_helper(f, node, args) if touches and isinstance(f, ast.Name) else None
        if followed is not None:
            return followed
        if touches and isinstance(f, ast.Name):
            self._report(TEST_PLAIN_CALL, node, f"`{f.id}` is not a Tensorleap-decorated function; the integration test may only "
                         "call decorated functions and the model.")
        elif touches and callee.tags:  # a callee computed in the body that we cannot know: say nothing
            self._report(TEST_LIBRARY_CALL, node, f"`{name}(...)` in the integration test escapes the mapping; move this logic into "
                         "a decorated function.")
        return UNKNOWN_VAL

    def _into_helper(self, f: ast.Name, node: ast.Call, args: list[Val]) -> Val | None:
        """Follows placeholders into a plain function of the project. Where the SDK certainly fails in
        it, its errors are reported at the helper's lines (where the SDK names them); a helper that is
        plain Python on placeholders (picks, passes them on) is fine and gives what it returns. None:
        not followed, or the helper escapes the mapping (TL303 at the call then says so)."""
        v = self.known.value(f, self.mod) if f.id not in self.env and f.id not in self.local_defs else UNKNOWN
        if not isinstance(v, FunctionValue) or not isinstance(v.node, (ast.FunctionDef, ast.AsyncFunctionDef)) \
                or getattr(v.module, "source", None) is None or len(self.via) >= 3 or f.id in self.via:
            return None
        a = v.node.args
        params = [p.arg for p in a.posonlyargs + a.args]
        env = {p.arg: UNKNOWN_VAL for p in a.posonlyargs + a.args + a.kwonlyargs}
        env.update({n: PLAIN_VAL for n in (a.vararg and a.vararg.arg, a.kwarg and a.kwarg.arg) if n})
        if not any(isinstance(x, ast.Starred) for x in node.args):
            env.update(zip(params, args[:len(node.args)]))
            env.update({k.arg: val for k, val in zip(node.keywords, args[len(node.args):]) if k.arg in env})
        sub = _Body(self.test, v.module, self.known, helper=v.node, env=env, via=(*self.via, f.id))
        found = sub.run()
        errors = [x for x in found if x.code in (TEST_ARITHMETIC, TEST_BAD_INDEX, TEST_DOUBLE_INDEX)]
        self.called |= sub.called
        self.out.extend(errors)
        if errors:
            return UNKNOWN_VAL
        return (sub.returned or PLAIN_VAL) if not found else None

    def _wired_args(self, node: ast.Call, callee: Val, args: list[Val]) -> None:
        """A visualizer, metric or loss reads ``.node_mapping`` of each argument in the mapping pass: a
        constant, a container or an array computed in the body has none (AttributeError)."""
        defs = [self.known.defs.get(fid) for fid in callee.funcs]
        if not defs or any(not isinstance(d, (ast.FunctionDef, ast.AsyncFunctionDef)) or _registers(d) is None
                           or not self.known.kinds.get(id(d), set()) <= _WIRED_KINDS for d in defs):
            return  # a function registered with leap_binder.set_* (or by hand) runs as plain Python when called
        if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
            return
        names = set.intersection(*({a.arg for a in d.args.posonlyargs + d.args.args} for d in defs))  # type: ignore[union-attr]
        n_pos = min(len(d.args.posonlyargs + d.args.args) for d in defs)  # type: ignore[union-attr]
        pairs = list(zip(node.args, args))[:n_pos] + [(k.value, v) for k, v in zip(node.keywords, args[len(node.args):])
                                                      if k.arg in names]
        for arg, v in pairs:
            if not v.nomap:
                continue
            span = self.src.span(arg)
            self.out = [x for x in self.out if not (x.code == TEST_LIBRARY_CALL and x.span == span)]  # one finding, this one
            self._report(TEST_NOT_A_PLACEHOLDER, arg, f"`{self.src.segment(arg)}` is not a mapping placeholder: in the mapping pass "
                         f"`{self.src.segment(node.func)}` reads its `node_mapping` and raises AttributeError. Pass the "
                         "encoder result or the model's prediction itself and compute inside the decorated function.")

    def _decorated(self, callee: Val) -> Val:
        self.called |= callee.funcs
        loaders = {fid for fid in callee.funcs if self.known.is_loader(fid)}
        if all(self.known.kinds.get(fid) == {Kind.PREPROCESS} for fid in callee.funcs):
            return _container([UNKNOWN_VAL])  # preprocess() gives [None] * 4 at mapping time
        out = {MODEL} if loaders else set()
        if callee.funcs - loaders:
            out.add(PLACE)
            kinds = set().union(*(self.known.kinds.get(fid, set()) for fid in callee.funcs - loaders))
            if self.known.grouped and kinds and kinds <= {Kind.INPUT, Kind.GROUND_TRUTH}:
                out.add(GROUP)
        return Val(frozenset(out))

    def _by_name(self, key: ast.expr, mod) -> Val:
        """What a module-level lookup by name may give: ``globals()[key]``, ``getattr(module, key)``.
        A literal or f-string key matches the module's names (f-string fields match anything)."""
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            pattern = re.escape(key.value)
        elif isinstance(key, ast.JoinedStr):
            pattern = "".join(re.escape(str(p.value)) if isinstance(p, ast.Constant) else ".*" for p in key.values)
        else:
            return UNKNOWN_VAL
        names = set(mod.defs) | set(mod.assigns) | {b for ref in mod.imports for _, b in ref.names if b != "*"}
        if any(ref.names == [("*", "*")] for ref in mod.imports):
            names |= {n for m in self.known.modules for n in m.defs}
        found = UNKNOWN_VAL
        for n in sorted(names):
            if re.fullmatch(pattern, n):
                found = found | self.known.convert(self.known.value(ast.Name(id=n, ctx=ast.Load()), mod))
        return found if found.funcs or found.makes else UNKNOWN_VAL

    def _is_helper(self, f: ast.Name) -> bool:
        v = self.known.value(f, self.mod)
        if isinstance(v, SymbolRef):
            return v.qualname in TEST_BODY_HELPERS
        return v is UNKNOWN and f.id in _HELPER_SHORT  # e.g. through a star import of the SDK

    def _builtin(self, fn: str, args: list[Val]) -> Val:
        if fn in _SEQ_BUILTINS and args:
            return _container([self._element(args[0])])
        if fn == "enumerate" and args:
            return _container([_container([PLAIN_VAL, self._element(args[0])], ((0, PLAIN_VAL), (1, self._element(args[0]))))])
        if fn == "zip" and args:
            items = [self._element(a) for a in args]
            return _container([_container(items, tuple(enumerate(items)))])
        if fn == "dict":
            return _container([a.item() if a.elems is not None else a for a in args])
        return PLAIN_VAL

    def _method(self, node: ast.Call, f: ast.Attribute) -> Val:
        name = dotted(f)
        if isinstance(f.value, ast.Name) and f.value.id == self.preprocess:
            self._attribute(f)  # preprocess.data.get(...): TL304 on the read
            self._args(node)
            return Val(frozenset({DATA}))
        base = self._expr(f.value)
        args = self._args(node)
        if base.only(frozenset({MODEL})):
            if self._missing_attr(base, f.attr):
                self._report(TEST_LIBRARY_CALL, node, f"`{name}(...)`: at mapping time the model is a placeholder that only "
                             "supports `model(x)` (Keras) and `model.run(None, {...})` (ONNX); "
                             f"`{f.attr}` raises AttributeError there.", Severity.ERROR)
            if f.attr in _INFERENCE:
                return Val(frozenset({OUTS}))
            return PLAIN_VAL  # get_inputs(): its items' `.name` are the ONNX input names
        if base.elems is not None and isinstance(f.value, ast.Name) and f.value.id in self.env:
            if f.attr in _GROW:
                grown = [a.item() for a in args] if f.attr in ("extend", "update") else args[-1:]
                self._grow(f.value, grown)
                return PLAIN_VAL
        if base.elems is not None:
            if f.attr == "items":
                return _container([_container([PLAIN_VAL, base.item()], ((0, PLAIN_VAL), (1, base.item())))])
            if f.attr == "values":
                return _container([base.item()])
            if f.attr in ("get", "pop"):
                return base.item(self._static(node.args[0]) if node.args else UNKNOWN)
            if f.attr == "copy":
                return base
            return PLAIN_VAL
        if base.mapped and not base.only(frozenset({PLAIN})):
            self._report(TEST_LIBRARY_CALL, node, f"`{name}(...)` in the integration test escapes the mapping; move this logic "
                         "into a decorated function.", self._missing_attr(base, f.attr))
            return UNKNOWN_VAL
        v = self.known.value(f, self.mod) if base.only(frozenset({PLAIN})) else UNKNOWN
        array = isinstance(v, SymbolRef) and v.qualname.split(".")[0] in _ARRAY_LIBS
        if isinstance(v, SymbolRef) and v.qualname in TEST_BODY_HELPERS:  # plot_functions.plot_image(...)
            return PLAIN_VAL
        fv = self.known.of_node(v.node, v.module) if isinstance(v, FunctionValue) else None
        if fv is not None and fv.funcs:  # module.decorated(...)
            return self._decorated(fv)
        if fv is not None and fv.makes:
            return Val(funcs=fv.makes)
        if any(a.mapped or DATA in a.tags for a in args):
            if f.attr in _BATCH:
                self._report(TEST_BATCH_DIM, node, f"`{name}` adds a batch dimension by hand; decorated calls inside the "
                             "integration test already return batched arrays.")
            else:
                self._report(TEST_LIBRARY_CALL, node, f"`{name}(...)` in the integration test escapes the mapping; move this "
                             "logic into a decorated function.")
            return Val(frozenset({PLAIN}), nomap=True) if array else UNKNOWN_VAL
        if array:
            return Val(frozenset({PLAIN}), nomap=True)
        return UNKNOWN_VAL if not base.tags else PLAIN_VAL


def _module_statements(stmts: list[ast.stmt]) -> Iterable[ast.stmt]:
    """Statements that run at import: the top level and the bodies of its for/if/with/try blocks."""
    for stmt in stmts:
        yield stmt
        if isinstance(stmt, (ast.For, ast.If, ast.With, ast.Try, ast.While)):
            for attr in ("body", "orelse", "finalbody"):
                yield from _module_statements(getattr(stmt, attr, []))


def _own_nodes(fn: ast.AST) -> Iterable[ast.AST]:
    """The nodes of a function's body, not those of functions defined inside it."""
    stack = list(ast.iter_child_nodes(fn))
    while stack:
        n = stack.pop()
        yield n
        if not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            stack.extend(ast.iter_child_nodes(n))


def _is_none_index(s: ast.expr) -> bool:
    if isinstance(s, ast.Constant) and s.value is None:
        return True
    if isinstance(s, ast.Attribute) and s.attr == "newaxis":
        return True
    if isinstance(s, ast.Tuple):
        return any(_is_none_index(e) for e in s.elts)
    return False
