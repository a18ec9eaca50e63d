"""Which model file the project uses, and what its integration test feeds it: the facts the model
checks (core/checks/model.py, static; core/checks/model_run.py, from a run) compare.

``model_path`` finds the file ``load_model`` loads; ``model_calls`` the integration test's calls of the
model; ``input_feeds`` which model input each input encoder feeds."""

from __future__ import annotations

import ast
import copy
import os
import re
from dataclasses import dataclass, field
from typing import Any

from tensorleap_ls.core.checks.base import CheckContext
from tensorleap_ls.core.facts.nodes import under
from tensorleap_ls.core.model import Binding, Kind, Span, Style
from tensorleap_ls.core.project.closure import eval_path, norm
from tensorleap_ls.core.source.text import dotted

# Model files the facts reader understands (runtime/model_info.py reads them).
MODEL_SUFFIXES = (".onnx", ".h5", ".keras", ".tflite", ".pt", ".pth", ".torchscript", ".ptl")
_PATH_KEYWORDS = {"path_or_bytes", "filepath", "model_path", "path", "f", "model_file"}

# --- the model file ------------------------------------------------------------------------------
def model_path(bindings: list[Binding], modules: dict, root: str) -> tuple[str, Span] | None:
    """The model file the ``load_model`` function loads, when its path is a literal or statically
    resolvable (``os.path.join(os.path.dirname(__file__), 'model.onnx')``, module constants, local
    variables), with the span of the expression. None when it loads one of several files (a flag picks
    it): facts of the wrong model would give false errors. A legacy project (``add_prediction``, no
    load_model) has no model in its code: see ``legacy_model_path``."""
    found: dict[str, Span] = {}
    loaders = [b for b in bindings if b.kind is Kind.LOAD_MODEL]
    if not loaders:
        legacy = any(b.kind is Kind.PREDICTION and b.style is Style.LEGACY for b in bindings)
        return legacy_model_path(modules, root) if legacy else None
    for b in loaders:
        mod = modules.get(b.def_path or "")
        if isinstance(b.def_node, (ast.FunctionDef, ast.AsyncFunctionDef)) and mod is not None and mod.source:
            _model_paths(b.def_node, mod, modules, root, found)
    return next(iter(found.items())) if len(found) == 1 else None


def _model_paths(scope: ast.AST, mod, modules: dict, root: str, found: dict[str, Span],
                 calls: list[ast.Call] | None = None) -> None:
    """Adds to ``found`` the model files that ``calls`` (default: every call in ``scope``, a function
    or a module) load: their first argument or path keyword, with the names ``scope`` binds inlined."""
    local = _local_assigns(scope) if not isinstance(scope, ast.Module) else {}
    inline = _Inline({k: v[0] for k, v in local.items() if len(v) == 1}, mod, modules, root)
    for node in calls if calls is not None else under(scope, ast.Call):
        for arg in node.args[:1] + [k.value for k in node.keywords if k.arg in _PATH_KEYWORDS]:
            # a name the function binds several times (if/else): every value it may take
            values = local.get(arg.id, [arg]) if isinstance(arg, ast.Name) else [arg]
            for value in values:
                # (a copy inlined only when some name in it may be inlined: the copy cost most of this check)
                path = eval_path(inline.visit(copy.deepcopy(value)) if inline.may_change(value) else value, mod, root)
                if path and path.endswith(MODEL_SUFFIXES):
                    found.setdefault(norm(path), mod.source.span(arg))


# The calls that load a model file: onnxruntime, Keras / tf.keras, torch.jit, TFLite / LiteRT.
_LOADER_CALLS = ("InferenceSession", "load_model", "jit.load", "Interpreter")


def legacy_model_path(modules: dict, root: str) -> tuple[str, Span] | None:
    """The model of a legacy project. It is uploaded apart (``leap push -m``) and named nowhere the
    platform reads (leap.yaml has no model key); the one trustworthy trace is the project's own local
    test: a script beside the entry that imports it and loads a model file (``leap_custom_test.py``:
    ``tf.keras.models.load_model(os.path.join(dir_path, 'model/model.h5'))``), or the entry's
    ``if __name__ == '__main__':`` block. Exactly one existing file loaded there, else None: a model the
    integration's own modules load (a feature extractor of an encoder) or a lone file in the folder
    may be another model, and its facts would give false findings."""
    entry = next(iter(modules.values()), None)
    if entry is None or entry.tree is None:
        return None
    found: dict[str, Span] = {}
    main = [n for n in entry.tree.body if isinstance(n, ast.If) and _is_main_guard(n.test)]
    for block in main:
        _model_paths(entry.tree, entry, modules, root, found, _loader_calls(block))
    for script in _local_tests(root, entry, modules):
        for scope in [script.tree] + [n for n in ast.walk(script.tree) if isinstance(n, (ast.FunctionDef,
                                                                                        ast.AsyncFunctionDef))]:
            _model_paths(scope, script, modules, root, found, _loader_calls(scope, own_only=True))
    files = {p: s for p, s in found.items() if os.path.isfile(p)}
    return next(iter(files.items())) if len(files) == 1 else None


def _loader_calls(scope: ast.AST, own_only: bool = False) -> list[ast.Call]:
    """The model-loading calls in ``scope``; with ``own_only``, not those of the functions it holds
    (they are scopes of their own, with their own local names)."""
    out, todo = [], list(ast.iter_child_nodes(scope))
    while todo:
        node = todo.pop()
        if own_only and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        if isinstance(node, ast.Call) and dotted(node.func).endswith(_LOADER_CALLS):
            out.append(node)
        todo.extend(ast.iter_child_nodes(node))
    return out


def _is_main_guard(test: ast.expr) -> bool:
    return isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) and test.left.id == "__name__" \
        and any(isinstance(c, ast.Constant) and c.value == "__main__" for c in test.comparators)


# The local test is found by name (``leap_custom_test.py``, ``leap_test.py``, ``test_x.py``...), at most
# ``_SCRIPT_CANDIDATES`` of them, each read only up to ``_SCRIPT_BYTES`` and parsed only when its text
# imports the entry. Other files beside the entry are never read; only real local tests stay parsed
# (``_SCRIPTS``: at most ``_SCRIPTS_KEPT``, by path and stamp), never a file that is not one.
_SCRIPT_CANDIDATES = 8
_SCRIPT_BYTES = 256 * 1024
_SCRIPTS_KEPT = 4
_SCRIPTS: dict[str, tuple[tuple, object]] = {}  # path -> ((size, mtime, entry name), parsed local test)


def _local_tests(root: str, entry, modules: dict) -> list:
    """The Python files beside the entry, outside the closure, named like a test, that import it: the
    project's local tests."""
    from tensorleap_ls.core.source import files

    name = os.path.splitext(os.path.basename(entry.path))[0]
    folder = os.path.dirname(entry.path)
    try:
        names = [f for f in sorted(os.listdir(folder)) if f.endswith(".py") and "test" in f.lower()]
    except OSError:
        return []
    imports_entry = re.compile(rf"^\s*(?:from|import)\s[^\n]*\b{re.escape(name)}\b", re.M)  # a cheap look first
    out = []
    for fname in names[:_SCRIPT_CANDIDATES]:
        path = norm(os.path.join(folder, fname))
        if path in modules:
            continue
        try:
            st = os.stat(path)
        except (OSError, ValueError):
            continue
        key = (st.st_size, st.st_mtime_ns, name)
        kept = _SCRIPTS.get(path)
        if kept is not None and kept[0] == key:
            out.append(kept[1])
            continue
        _SCRIPTS.pop(path, None)
        mod = _read_local_test(path, fname[:-3], imports_entry, name, files)
        if mod is None:
            continue
        while len(_SCRIPTS) >= _SCRIPTS_KEPT:
            _SCRIPTS.pop(next(iter(_SCRIPTS)))
        _SCRIPTS[path] = (key, mod)
        out.append(mod)
    return out


def _read_local_test(path: str, name: str, imports_entry: re.Pattern, entry_name: str, files):
    """The parsed script at ``path`` when it is a local test of the entry ``entry_name``, else None."""
    from tensorleap_ls.core.facts.modules import parse_module

    try:
        text = files.read_text(path, _SCRIPT_BYTES, errors="replace")  # regular files only, capped
    except (OSError, ValueError):
        return None
    if not imports_entry.search(text):
        return None
    mod = parse_module(path, name, text)
    if not mod.parsed or not any(i.module == entry_name for i in mod.imports):
        return None
    return mod


def _local_assigns(fn: ast.AST) -> dict[str, list[ast.expr]]:
    out: dict[str, list[ast.expr]] = {}
    for node in under(fn, ast.Assign):
        if len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            out.setdefault(node.targets[0].id, []).append(node.value)
    return out


class _Inline(ast.NodeTransformer):
    """Replaces names bound inside the loader function by their value, and names imported from
    another module of the closure (``from cfg import *``) by the path they evaluate to there, so
    ``eval_path`` sees them."""

    def __init__(self, local: dict[str, ast.expr], mod, modules: dict, root: str, depth: int = 0):
        self.local, self.mod, self.modules, self.root, self.depth = local, mod, modules, root, depth

    def may_change(self, value: ast.expr) -> bool:
        """Some name in ``value`` may be replaced (``visit_Name``): else the visit gives a copy equal to it."""
        for n in ast.walk(value):
            if isinstance(n, ast.Name) and n.id != "__file__" and self.depth <= 5 and (n.id in self.local or (
                    n.id not in self.mod.assign_names
                    and any(m is not self.mod and n.id in m.assign_names for m in self.modules.values()))):
                return True
        return False

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if self.depth > 5 or node.id == "__file__":
            return node
        value = self.local.get(node.id)
        if value is not None:
            return _Inline(self.local, self.mod, self.modules, self.root, self.depth + 1).visit(copy.deepcopy(value))
        if node.id in self.mod.assign_names:
            return node
        found = [m for m in self.modules.values() if m is not self.mod and node.id in m.assign_names]
        path = eval_path(found[0].assigns[node.id], found[0], self.root) if len(found) == 1 else None
        return ast.copy_location(ast.Constant(path), node) if path else node


def facts_of(ctx: CheckContext) -> tuple[dict, str, Span] | None:
    """(facts, the model's name for messages, span of its path in load_model or the local test), when known."""
    found = model_path(ctx.bindings, ctx.modules, ctx.root)
    if found is None or found[0] not in ctx.model_facts:
        return None
    name = os.path.relpath(found[0], ctx.root)
    if not any(ctx.of_kind(Kind.LOAD_MODEL)):  # legacy: say where the model was found
        name += f" (the model {os.path.relpath(found[1].path, ctx.root)} loads)"
    return ctx.model_facts[found[0]], name, found[1]


# --- what the integration test feeds the model ---------------------------------------------------
@dataclass
class Feed:
    position: int
    value: ast.expr
    key: ast.expr | None = None  # the ONNX dict key
    key_name: str | int | None = None  # a literal name, or i of ``model.get_inputs()[i].name``
    encoder: Binding | None = None


@dataclass
class ModelCall:
    node: ast.Call
    onnx: bool  # ``model.run(None, {...})``; else a Keras call on a list or one array
    container: ast.expr
    feeds: list[Feed]
    src: Any  # SourceFile of the test
    test: Binding
    encoder_vars: dict[str, Binding] = field(default_factory=dict)


def model_calls(ctx: CheckContext) -> list[ModelCall]:
    loaders = {b.function for b in ctx.bindings if b.kind is Kind.LOAD_MODEL and b.function}
    encoders = {b.function: b for b in ctx.bindings if b.kind is Kind.INPUT and b.function}
    out = []
    for t in ctx.of_kind(Kind.INTEGRATION_TEST):
        mod = ctx.modules.get(t.def_path or "")
        if not isinstance(t.def_node, (ast.FunctionDef, ast.AsyncFunctionDef)) or mod is None or mod.source is None:
            continue
        models: set[str] = set()
        enc_vars: dict[str, Binding] = {}
        dicts: dict[str, ast.Dict] = {}  # inputs = {'image': image}; model.run(None, inputs)
        for node in under(t.def_node, ast.Assign):
            if len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                if isinstance(node.value, ast.Dict):
                    dicts[node.targets[0].id] = node.value
                called = _callee(node.value)
                if called in loaders:
                    models.add(node.targets[0].id)
                elif called in encoders:
                    enc_vars[node.targets[0].id] = encoders[called]

        def is_model(e: ast.expr) -> bool:
            return (isinstance(e, ast.Name) and e.id in models) or _callee(e) in loaders

        def encoder_of(e: ast.expr) -> Binding | None:
            return enc_vars.get(e.id) if isinstance(e, ast.Name) else encoders.get(_callee(e) or "")

        for node in under(t.def_node, ast.Call):
            f = node.func
            if isinstance(f, ast.Attribute) and f.attr == "run" and is_model(f.value):
                feed = node.args[1] if len(node.args) > 1 else next(
                    (k.value for k in node.keywords if k.arg == "input_feed"), None)
                if isinstance(feed, ast.Name):
                    feed = dicts.get(feed.id)
                if not isinstance(feed, ast.Dict) or any(k is None for k in feed.keys):
                    continue
                feeds = [Feed(i, v, k, _key_name(k), encoder_of(v)) for i, (k, v) in enumerate(zip(feed.keys, feed.values))]
                out.append(ModelCall(node, True, feed, feeds, mod.source, t, enc_vars))
            elif (isinstance(f, ast.Name) and f.id in models) or (
                    isinstance(f, ast.Attribute) and f.attr in ("predict", "__call__", "predict_on_batch") and is_model(f.value)):
                if not node.args:
                    continue
                arg = node.args[0]
                items = arg.elts if isinstance(arg, (ast.List, ast.Tuple)) else [arg]
                feeds = [Feed(i, v, encoder=encoder_of(v)) for i, v in enumerate(items)]
                out.append(ModelCall(node, False, arg, feeds, mod.source, t, enc_vars))
    return out


def _callee(e: ast.expr) -> str | None:
    if isinstance(e, ast.Call):
        return dotted(e.func).rsplit(".", 1)[-1] or None
    return None


def _key_name(k: ast.expr | None) -> str | int | None:
    if isinstance(k, ast.Constant) and isinstance(k.value, str):
        return k.value
    # model.get_inputs()[i].name
    if isinstance(k, ast.Attribute) and k.attr == "name" and isinstance(k.value, ast.Subscript) \
            and isinstance(k.value.slice, ast.Constant) and isinstance(k.value.slice.value, int) \
            and isinstance(k.value.value, ast.Call) and dotted(k.value.value.func).endswith("get_inputs"):
        return k.value.slice.value
    return None


def io_names(xs: list[dict]) -> list[str]:
    """The names of a model's inputs or outputs (facts)."""
    return [x.get("name", "") for x in xs]


def input_feeds(ctx: CheckContext, facts: dict) -> dict[int, int]:
    """id(input encoder binding) -> index of the model input it feeds: by the integration test's model
    call, ``model_input_index``, the same name, then the rest in registration order when the counts agree."""
    names = io_names(facts.get("inputs", []))
    encoders = list(ctx.of_kind(Kind.INPUT))
    out: dict[int, int] = {}
    for call in model_calls(ctx):
        for f in call.feeds:
            if isinstance(f.key_name, str):
                idx = names.index(f.key_name) if f.key_name in names else None
            elif isinstance(f.key_name, int) or f.key is None:  # get_inputs()[i].name, or a Keras list
                idx = f.key_name if isinstance(f.key_name, int) else f.position
            else:
                idx = None  # a key we cannot evaluate
            if f.encoder is not None and idx is not None and idx < len(names):
                out.setdefault(id(f.encoder), idx)
    for b in encoders:
        k = b.args["model_input_index"].value if "model_input_index" in b.args else None
        if id(b) in out:
            continue
        if isinstance(k, int) and not isinstance(k, bool) and 0 <= k < len(names):
            out[id(b)] = k
        elif b.name in names:
            out[id(b)] = names.index(b.name)
    # the rest in registration order, when as many encoders as model inputs are left
    rest, free = [b for b in encoders if id(b) not in out], [i for i in range(len(names)) if i not in out.values()]
    if rest and len(rest) == len(free):
        out.update({id(b): i for b, i in zip(rest, free)})
    return out
