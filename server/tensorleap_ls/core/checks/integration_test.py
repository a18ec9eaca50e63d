"""3xx: the body of ``@tensorleap_integration_test``.

The SDK re-runs the body in mapping mode with placeholders, so it may only call decorated
functions, load the model, run the model and index its predictions once. Everything else
either raises there (arithmetic, indexing non-predictions) or silently escapes the mapping
(library calls, reading the data directly).

Finding.data keys: {"function": name of the test, "line": 0-based line of the offending statement};
TL310 {"function": the decorated function never called, "kind": its kind, "test": name of the test}.
"""

from __future__ import annotations

import ast
import builtins
from typing import Iterator

from tensorleap_ls.core.checks.base import CheckContext
from tensorleap_ls.core.source import dotted
from tensorleap_ls.core.model import Binding, Finding, Kind

_LIBS = {"np", "numpy", "torch", "tf", "tensorflow", "pd", "pandas", "jax", "jnp", "cv2", "scipy", "math", "sklearn",
         "PIL", "keras", "F", "nn"}
_BATCH = {"expand_dims", "unsqueeze", "newaxis", "atleast_2d", "atleast_3d", "stack"}
_MODEL_METHODS = {"run", "predict", "get_inputs", "get_outputs", "__call__", "predict_on_batch"}
_ALLOWED_CALLS = {"SamplePreprocessResponse", "print"}
_CALLED_KINDS = (Kind.INPUT, Kind.GROUND_TRUTH, Kind.METADATA, Kind.VISUALIZER, Kind.METRIC, Kind.LOSS, Kind.LOAD_MODEL)
_BUILTINS = frozenset(dir(builtins))


def check(ctx: CheckContext) -> list[Finding]:
    tests = [b for b in ctx.bindings if b.kind is Kind.INTEGRATION_TEST
             and isinstance(b.def_node, (ast.FunctionDef, ast.AsyncFunctionDef))]
    if not tests:
        return []
    decorated = {b.function for b in ctx.bindings if b.function and b.def_node is not None and b.kind is not Kind.INTEGRATION_TEST}
    loaders = {b.function for b in ctx.bindings if b.kind is Kind.LOAD_MODEL and b.function}
    out: list[Finding] = []
    called: set[str] = set()
    for t in tests:
        mod = ctx.modules.get(t.def_path or "")
        if mod is None or mod.source is None:
            continue
        aliases = _aliases(mod, decorated | loaders)
        body = _Body(t, mod.source, decorated | aliases.keys(), loaders | {a for a, o in aliases.items() if o in loaders})
        out.extend(body.run())
        called |= {aliases.get(n, n) for n in body.called}
    for b in ctx.bindings:
        if b.kind in _CALLED_KINDS and b.function and b.def_node is not None and b.def_span is not None \
                and b.function not in called and not _factory_called_in(b, tests):
            out.append(Finding("TL310", f"`{b.function}` ({b.kind.value}) is never called from the integration test: "
                               "it stays unwired on the platform.", b.def_span,
                               data={"function": b.function, "kind": b.kind.value, "test": tests[0].function}))
    return out


def _factory_called_in(b: Binding, tests: list[Binding]) -> bool:
    """A binding registered by a factory (``get_input_func(k)``) is called where the test calls the factory."""
    for site in b.factory_sites:
        for t in tests:
            node = t.def_node
            if site.path == t.def_path and node.lineno <= site.line + 1 <= (node.end_lineno or node.lineno):
                return True
    return False


def _aliases(mod, names: set[str]) -> dict[str, str]:
    """Local names that refer to decorated functions under another name (``from m import f as g``)."""
    out = {}
    for ref in mod.imports:
        for orig, bound in ref.names:
            if orig in names and bound != orig:
                out[bound] = orig
    for k, v in mod.assigns.items():
        if isinstance(v, ast.Name) and v.id in names:
            out[k] = v.id
    return out


class _Body:
    def __init__(self, test: Binding, src, decorated: set[str], loaders: set[str]):
        self.test = test
        self.node: ast.FunctionDef = test.def_node  # type: ignore[assignment]
        self.src = src
        self.decorated = decorated
        self.loaders = loaders
        params = [a.arg for a in self.node.args.posonlyargs + self.node.args.args]
        self.sample_id = params[0] if params else None
        self.preprocess = params[1] if len(params) > 1 else None
        self.models: set[str] = set()
        self.raw_preds: set[str] = set()  # results of a model call, not yet indexed
        self.preds: set[str] = set()  # predictions already indexed once
        self.local_defs = {s.name for s in ast.walk(self.node) if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))
                           and s is not self.node}
        self.called: set[str] = set()
        self.out: list[Finding] = []

    def run(self) -> list[Finding]:
        for stmt in self.node.body:
            self._stmt(stmt)
        return self.out

    def _report(self, code: str, node: ast.AST, msg: str) -> None:
        self.out.append(Finding(code, msg, self.src.span(node),
                                data={"function": self.test.function, "line": node.lineno - 1}))

    # --- statements -----------------------------------------------------------------------
    def _stmt(self, stmt: ast.stmt) -> None:
        if isinstance(stmt, ast.Assign):
            self._expr(stmt.value)
            kind = self._classify(stmt.value)
            for t in stmt.targets:
                for name in _names(t):
                    self.models.discard(name)
                    self.raw_preds.discard(name)
                    self.preds.discard(name)
                    if kind == "model":
                        self.models.add(name)
                    elif kind == "raw":
                        self.raw_preds.add(name)
                    elif kind == "pred":
                        self.preds.add(name)
                    if isinstance(t, (ast.Tuple, ast.List)) and kind == "raw":
                        self.preds.add(name)  # a, b = model(...): each output already split
        elif isinstance(stmt, (ast.Expr, ast.Return)) and stmt.value is not None:
            self._expr(stmt.value)
        elif isinstance(stmt, (ast.AugAssign,)):
            self._report("TL301", stmt, "Arithmetic in the integration test body: the mapping pass raises. Move it into a "
                         "decorated function.")
        elif isinstance(stmt, (ast.If, ast.For, ast.While, ast.With, ast.Try)):
            for child in ast.iter_child_nodes(stmt):
                if isinstance(child, ast.stmt):
                    self._stmt(child)
                elif isinstance(child, ast.expr):
                    self._expr(child)
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            self._expr(stmt.value)

    def _classify(self, value: ast.expr) -> str:
        if isinstance(value, ast.Call):
            f = value.func
            if isinstance(f, ast.Name) and f.id in self.loaders:
                return "model"
            if self._is_inference(value):
                return "raw"
        if isinstance(value, ast.Subscript) and (self._is_inference(value.value) or _name_in(value.value, self.raw_preds)):
            return "pred"
        if isinstance(value, ast.Name):
            if value.id in self.models:
                return "model"
            if value.id in self.raw_preds:
                return "raw"
            if value.id in self.preds:
                return "pred"
        return ""

    def _is_inference(self, node: ast.expr) -> bool:
        if not isinstance(node, ast.Call):
            return False
        f = node.func
        if isinstance(f, ast.Name) and f.id in self.models:
            return True
        return (isinstance(f, ast.Attribute) and f.attr in ("run", "predict", "predict_on_batch", "__call__")
                and _name_in(f.value, self.models))

    # --- expressions ----------------------------------------------------------------------
    def _expr(self, node: ast.expr) -> None:
        if isinstance(node, ast.Call):
            self._call(node)
        elif isinstance(node, ast.BinOp) or (isinstance(node, ast.UnaryOp) and not isinstance(node.op, ast.Not)):
            if self._mentions_data(node):
                self._report("TL304", node, "The integration test computes on `sample_id`/`preprocess` directly; do it "
                             "inside a decorated encoder.")
            else:
                self._report("TL301", node, "Arithmetic in the integration test body: the mapping pass raises. Move it "
                             "into a decorated function (a metric, loss or visualizer).")
        elif isinstance(node, ast.Subscript):
            self._subscript(node)
        elif isinstance(node, ast.Attribute):
            if _name_in(node.value, {self.preprocess} if self.preprocess else set()):
                self._report("TL304", node, f"The integration test reads `{self.src.segment(node)}` directly; read the data "
                             "inside a decorated encoder.")
            else:
                self._expr(node.value)
        elif isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            for e in node.elts:
                self._expr(e)
        elif isinstance(node, ast.Dict):
            for v in node.values:
                if v is not None:
                    self._expr(v)
            for k in node.keys:
                if k is not None and not self._is_input_name(k):
                    self._expr(k)
        elif isinstance(node, ast.Starred):
            self._expr(node.value)

    def _call(self, node: ast.Call) -> None:
        f = node.func
        name = dotted(f)
        root = name.split(".")[0]
        last = name.rsplit(".", 1)[-1]
        args = list(node.args) + [k.value for k in node.keywords]
        if isinstance(f, ast.Name) and (f.id in self.decorated or f.id in self.loaders):
            self.called.add(f.id)
            for a in args:
                self._expr(a)
            return
        if isinstance(f, ast.Name) and f.id in _ALLOWED_CALLS:
            for a in args:
                self._expr(a)
            return
        if self._is_inference(node) or (isinstance(f, ast.Attribute) and f.attr in _MODEL_METHODS
                                        and _name_in(f.value, self.models)):
            for a in args:
                if not (isinstance(a, ast.Constant) and a.value is None):
                    self._expr(a)
            return
        if last in _BATCH:
            self._report("TL305", node, f"`{name}` adds a batch dimension by hand; decorated calls inside the integration "
                         "test already return batched arrays.")
            return
        if isinstance(f, ast.Name) and root not in _LIBS and (f.id in self.local_defs or f.id not in _BUILTINS):
            self._report("TL303", node, f"`{f.id}` is not a Tensorleap-decorated function; the integration test may only "
                         "call decorated functions and the model.")
            return
        # a library function, a method of a value, or a builtin
        self._report("TL302", node, f"`{name}(...)` in the integration test escapes the mapping; move this logic into "
                     "a decorated function.")

    def _subscript(self, node: ast.Subscript) -> None:
        base = node.value
        if _is_none_index(node.slice):
            self._report("TL305", node, "Indexing with `None`/`np.newaxis` adds a batch dimension by hand; decorated calls "
                         "already return batched arrays.")
            return
        if isinstance(base, ast.Subscript) and (self._is_inference(base.value) or _name_in(base.value, self.raw_preds)):
            self._report("TL307", node, "A prediction is indexed twice; only one index on the model's output is allowed "
                         "('TempMapping' object is not subscriptable).")
            return
        if _name_in(base, self.preds):
            self._report("TL307", node, f"`{self.src.segment(base)}` is already an indexed prediction; a second index "
                         "fails in the mapping pass.")
            return
        if self._is_inference(base) or _name_in(base, self.raw_preds):
            self._expr(node.slice) if not isinstance(node.slice, ast.Constant) else None
            if isinstance(base, ast.Call):
                self._call(base)
            return
        if isinstance(base, ast.Call) and isinstance(base.func, ast.Attribute) and base.func.attr in ("get_inputs", "get_outputs") \
                and _name_in(base.func.value, self.models):
            return
        if self._mentions_data(base):
            self._report("TL304", node, f"The integration test reads `{self.src.segment(node)}` directly; read the data "
                         "inside a decorated encoder.")
            return
        self._report("TL306", node, f"Indexing `{self.src.segment(base)}` in the integration test: only the model's "
                     "predictions may be indexed.")

    def _is_input_name(self, node: ast.expr) -> bool:
        """Keys of the ONNX input dict: a string, or model.get_inputs()[i].name."""
        if isinstance(node, ast.Constant):
            return True
        return isinstance(node, ast.Attribute) and node.attr == "name"

    def _mentions_data(self, node: ast.expr) -> bool:
        names = {n for n in (self.sample_id, self.preprocess) if n}
        return any(isinstance(n, ast.Name) and n.id in names for n in ast.walk(node))


def _names(target: ast.expr) -> Iterator[str]:
    if isinstance(target, ast.Name):
        yield target.id
    elif isinstance(target, (ast.Tuple, ast.List)):
        for e in target.elts:
            yield from _names(e)


def _name_in(node: ast.expr, names: set) -> bool:
    return isinstance(node, ast.Name) and node.id in names


def _is_none_index(s: ast.expr) -> bool:
    if isinstance(s, ast.Constant) and s.value is None:
        return True
    if isinstance(s, ast.Attribute) and s.attr == "newaxis":
        return True
    if isinstance(s, ast.Tuple):
        return any(_is_none_index(e) for e in s.elts)
    return False
