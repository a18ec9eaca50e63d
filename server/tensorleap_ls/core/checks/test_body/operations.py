"""What calls, attributes and indexes give in the integration test's body (core/checks/test_body), and
the SDK's rejections there: a library call or an attribute the placeholder lacks (TL302), a plain
function called on placeholders (TL303; followed into the project's helpers first), reading the
test's data (TL304), a batch dimension added by hand (TL305), a bad or double index (TL306, TL307),
a value that is not a placeholder passed to a visualizer, metric or loss (TL308).
"""

from __future__ import annotations

import ast
import builtins
import re

from tensorleap_ls.core.checks.test_body.flow import Flow
from tensorleap_ls.core.checks.test_body.known import registers
from tensorleap_ls.core.checks.test_body.values import (
    DATA, GROUP, MODEL, OUTS, PLACE, PLAIN, PLAIN_VAL, PRED, UNKNOWN_VAL, Val, container,
)
from tensorleap_ls.core.codes import (
    TEST_ARITHMETIC, TEST_BAD_INDEX, TEST_BATCH_DIM, TEST_DATA_ACCESS, TEST_DOUBLE_INDEX, TEST_LIBRARY_CALL,
    TEST_NOT_A_PLACEHOLDER, TEST_PLAIN_CALL,
)
from tensorleap_ls.core.project.evaluate import FunctionValue, ModuleValue
from tensorleap_ls.core.model import UNKNOWN, Kind, Severity, SymbolRef
from tensorleap_ls.core.sdk.bundled import TEST_BODY_HELPERS
from tensorleap_ls.core.source.text import dotted

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
_BUILTINS = frozenset(dir(builtins))
_HELPER_SHORT = frozenset(q.rsplit(".", 1)[-1] for q in TEST_BODY_HELPERS)
# Builtins that build a container from the elements of their argument(s).
_SEQ_BUILTINS = {"list", "tuple", "sorted", "reversed", "set", "iter", "frozenset"}
_GROW = {"append", "extend", "insert", "add", "update", "setdefault"}
# Attributes of the subset that describe it rather than hold its data: the mapping pass runs the test with
# `PreprocessResponse(state=DataStateType.training, length=0)`, so reading them works there too.
_RESPONSE_SETUP = frozenset({"state", "sample_id_type", "is_grouped"})


class Body(Flow):
    """The test body's data flow with its calls, attributes and indexes."""

    def _attribute(self, node: ast.Attribute) -> Val:
        if isinstance(node.value, ast.Name) and node.value.id == self.preprocess and node.attr in _RESPONSE_SETUP:
            return PLAIN_VAL  # the mapping pass supplies a real PreprocessResponse: its state is set, it is not data
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
                self._escapes(node, name)
                return UNKNOWN_VAL
            if f.id == "getattr" and len(node.args) >= 2:  # getattr(module, f'viz_{name}')
                where = self.known.value(node.args[0], self.mod)
                if isinstance(where, ModuleValue):
                    return self._by_name(node.args[1], where.module)
                return UNKNOWN_VAL
            return self._builtin(f.id, args)
        if name.rsplit(".", 1)[-1] in _BATCH and any(a.mapped for a in args):
            self._batch_by_hand(node, name)
            return UNKNOWN_VAL
        followed = self._into_helper(f, node, args) if touches and isinstance(f, ast.Name) else None
        if followed is not None:
            return followed
        if touches and isinstance(f, ast.Name):
            self._report(TEST_PLAIN_CALL, node, f"`{f.id}` is not a Tensorleap-decorated function; the integration test may only "
                         "call decorated functions and the model.")
        elif touches and callee.tags:  # a callee computed in the body that we cannot know: say nothing
            self._escapes(node, name)
        return UNKNOWN_VAL

    def _escapes(self, node: ast.Call, name: str, severity: Severity | None = None) -> None:
        self._report(TEST_LIBRARY_CALL, node, f"`{name}(...)` in the integration test escapes the mapping; move this logic "
                     "into a decorated function.", severity)

    def _batch_by_hand(self, node: ast.Call, name: str) -> None:
        self._report(TEST_BATCH_DIM, node, f"`{name}` adds a batch dimension by hand; decorated calls inside the integration "
                     "test already return batched arrays.")

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
        sub = Body(self.test, v.module, self.known, helper=v.node, env=env, via=(*self.via, f.id))
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
        if not defs or any(not isinstance(d, (ast.FunctionDef, ast.AsyncFunctionDef)) or registers(d) is None
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
            return container([UNKNOWN_VAL])  # preprocess() gives [None] * 4 at mapping time
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
            return container([self._element(args[0])])
        if fn == "enumerate" and args:
            return container([container([PLAIN_VAL, self._element(args[0])], ((0, PLAIN_VAL), (1, self._element(args[0]))))])
        if fn == "zip" and args:
            items = [self._element(a) for a in args]
            return container([container(items, tuple(enumerate(items)))])
        if fn == "dict":
            return container([a.item() if a.elems is not None else a for a in args])
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
                return container([container([PLAIN_VAL, base.item()], ((0, PLAIN_VAL), (1, base.item())))])
            if f.attr == "values":
                return container([base.item()])
            if f.attr in ("get", "pop"):
                return base.item(self._static(node.args[0]) if node.args else UNKNOWN)
            if f.attr == "copy":
                return base
            return PLAIN_VAL
        if base.mapped and not base.only(frozenset({PLAIN})):
            self._escapes(node, name, self._missing_attr(base, f.attr))
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
                self._batch_by_hand(node, name)
            else:
                self._escapes(node, name)
            return Val(frozenset({PLAIN}), nomap=True) if array else UNKNOWN_VAL
        if array:
            return Val(frozenset({PLAIN}), nomap=True)
        return UNKNOWN_VAL if not base.tags else PLAIN_VAL


def _is_none_index(s: ast.expr) -> bool:
    if isinstance(s, ast.Constant) and s.value is None:
        return True
    if isinstance(s, ast.Attribute) and s.attr == "newaxis":
        return True
    if isinstance(s, ast.Tuple):
        return any(_is_none_index(e) for e in s.elts)
    return False
