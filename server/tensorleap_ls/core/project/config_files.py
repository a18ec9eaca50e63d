"""Values read from the project's YAML config files: ``yaml.safe_load(open(P))`` (or a file opened by
``with open(P) as f:`` at module level) with a path known statically inside the project. A file
outside the project, missing or broken gives ``UNKNOWN``, never a false error.
"""

from __future__ import annotations

import ast
import os
from typing import Any, Callable

from tensorleap_ls.core.model import UNKNOWN
from tensorleap_ls.core.facts.modules import Module, _module_level, per_text
from tensorleap_ls.core.project.closure import eval_path, inside
from tensorleap_ls.core.source.text import dotted


class ConfigFiles:
    """The YAML config files of one project, each read and parsed once."""

    def __init__(self, read_text: Callable[[str], str | None], root: str):
        self.read_text = read_text
        self.root = root
        self._yaml_cache: dict[str, Any] = {}
        self._loaders: dict[int, tuple] = {}  # id(def) -> (def, the `open(...)` call it reads or None)
        # The persistent cache (engine/store.py), set by the engine: a config's parse is kept there by its text, so
        # a second `check` of an unchanged project does not import PyYAML
        self.store = None

    def values(self) -> dict[str, Any]:
        """path -> parsed content of every config read so far."""
        return dict(self._yaml_cache)

    def value(self, arg: ast.expr, mod: Module) -> Any:
        """The parsed content of the file ``arg`` opens (``open(P)`` or a name bound by ``with open(P) as f``)."""
        path_node = arg
        if isinstance(arg, ast.Call) and dotted(arg.func) in ("open", "io.open") and arg.args:
            path_node = arg.args[0]
        elif isinstance(arg, ast.Name):
            opened = _find_with_open(mod, arg.id)
            if opened is None:
                return UNKNOWN
            path_node = opened
        path = eval_path(path_node, mod, self.root)
        if not path:
            return UNKNOWN
        return self._load_yaml(path)

    def _load_yaml(self, path: str) -> Any:
        path = os.path.normpath(path)
        if not inside(path, self.root):
            return UNKNOWN  # outside the project: unknown, never a false error
        if path in self._yaml_cache:
            return self._yaml_cache[path]
        text = self.read_text(path)
        value: Any = UNKNOWN
        if text is not None:
            value = _parsed(text, self.store)
        self._yaml_cache[path] = value
        return value


    def from_loader(self, fn: ast.FunctionDef | ast.AsyncFunctionDef, fn_mod: Module, call: ast.Call,
                    call_mod: Module) -> Any:
        """The config a project function returns when it only reads a YAML file (``def load_config(): with
        open(path) as f: return yaml.safe_load(f)``, the path a local name, a parameter or a constant)."""
        cached = self._loaders.get(id(fn))
        if cached is None or cached[0] is not fn:
            cached = self._loaders[id(fn)] = (fn, _opened_yaml(fn))
        opened = cached[1]
        if opened is None:
            return UNKNOWN
        path_node, where = _local(fn, opened.args[0]), fn_mod
        if isinstance(path_node, ast.Name):
            params = [a.arg for a in fn.args.posonlyargs + fn.args.args]
            arg = next((k.value for k in call.keywords if k.arg == path_node.id), None)
            if arg is None and path_node.id in params and params.index(path_node.id) < len(call.args):
                arg = call.args[params.index(path_node.id)]
            if arg is not None:
                path_node, where = arg, call_mod
        path = eval_path(path_node, where, self.root)
        return self._load_yaml(path) if path else UNKNOWN


def _parsed(text: str, store) -> Any:
    """``yaml.safe_load(text)``, UNKNOWN when it fails; kept in ``store`` when JSON gives it back the same."""
    key = None
    if store is not None:
        from tensorleap_ls.core.engine.store import MISSING, library_stamp

        key = library_stamp("yaml") + "\0" + text
        stored = store.fact("yaml_config", key)
        if stored is not MISSING and isinstance(stored, list) and len(stored) in (0, 1):
            return stored[0] if stored else UNKNOWN
    try:
        import yaml

        value = yaml.safe_load(text)
    except Exception:  # noqa: BLE001 - a broken config only makes values unknown
        value = UNKNOWN
    if key is not None:
        from tensorleap_ls.core.engine.store import json_exact

        try:
            exact = value is UNKNOWN or json_exact(value)
        except RecursionError:
            exact = False
        if exact:
            store.put_fact("yaml_config", key, [] if value is UNKNOWN else [value])
    return value


def _opened_yaml(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.Call | None:
    """The ``open(P)`` call whose YAML a function returns, when that is all it returns."""
    returns = [n for n in ast.walk(fn) if isinstance(n, ast.Return)]
    if len(returns) != 1 or returns[0].value is None:
        return None
    value = _local(fn, returns[0].value)
    if not (isinstance(value, ast.Call) and dotted(value.func).rsplit(".", 1)[-1] in ("safe_load", "load", "full_load")
            and dotted(value.func).startswith("yaml") and value.args):
        return None
    opened = value.args[0]
    if isinstance(opened, ast.Name):
        opened = next((item.context_expr for n in ast.walk(fn) if isinstance(n, ast.With) for item in n.items
                       if isinstance(item.optional_vars, ast.Name) and item.optional_vars.id == opened.id), None)
    if not (isinstance(opened, ast.Call) and dotted(opened.func) in ("open", "io.open") and opened.args):
        return None
    return opened


def _local(fn: ast.AST, node: ast.expr) -> ast.expr:
    """A name assigned once in ``fn`` stands for its value (``path = os.path.join(...)``)."""
    if not isinstance(node, ast.Name):
        return node
    found = [n.value for n in ast.walk(fn) if isinstance(n, ast.Assign) and len(n.targets) == 1
             and isinstance(n.targets[0], ast.Name) and n.targets[0].id == node.id]
    return found[0] if len(found) == 1 else node


def _find_with_open(mod: Module, var: str) -> ast.expr | None:
    """For ``with open(P) as var:`` at module level, the expression P."""
    return _with_opens(mod).get(var)


@per_text("with_opens")
def _with_opens(mod: Module) -> dict[str, ast.expr]:
    """Every ``with open(P) as var:`` at module level: var -> P (the first one), gathered once per text."""
    found: dict[str, ast.expr] = {}
    if mod.tree is None:
        return found
    for stmt in _module_level(mod.tree.body):
        if isinstance(stmt, ast.With):
            for item in stmt.items:
                ctx = item.context_expr
                if (isinstance(item.optional_vars, ast.Name) and isinstance(ctx, ast.Call)
                        and dotted(ctx.func) in ("open", "io.open") and ctx.args):
                    found.setdefault(item.optional_vars.id, ctx.args[0])
    return found
