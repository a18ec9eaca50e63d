"""Definitions that live outside the project's closure: in an installed package of the project's
environment (a company library, a model zoo, code-loader itself) or in a module beside the project.

Found statically, like the rest of the analysis: an import is resolved to a file on the search path
(the project's own path first, then the environment's site-packages), that file is parsed (cached by
path, size and mtime), and the ``def`` is located, following re-exports (``from .impl import f`` in a
package ``__init__``) a few levels deep. Nothing is imported or run.
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass, replace
from functools import lru_cache

from tensorleap_ls.core.source import files as safe_files
from tensorleap_ls.core.facts.modules import Module, parse_module

_MAX_BYTES = 2_000_000  # a generated or minified file is not worth parsing for one def
_REEXPORT_DEPTH = 4


@dataclass(frozen=True)
class ExternalDef:
    """A function or class defined outside the closure, with the module that holds it."""

    module: Module
    node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef

    @property
    def path(self) -> str:
        return self.module.path

    @property
    def line(self) -> int:
        return self.node.lineno - 1


class ExternalIndex:
    """Resolves dotted module names to files on a search path and finds definitions in them."""

    def __init__(self, search_path: list[str]):
        self.search_path = [p for p in dict.fromkeys(search_path) if p and os.path.isdir(p)]

    def module_file(self, dotted: str) -> str | None:
        parts = dotted.split(".")
        for base in self.search_path:
            stem = os.path.join(base, *parts)
            for candidate in (stem + ".py", os.path.join(stem, "__init__.py")):
                if os.path.isfile(candidate):
                    # a package folder or file linked out of its search-path folder (site-packages/x -> /usr)
                    # is not the environment's: not read
                    return candidate if safe_files.within(candidate, base) else None
        return None

    def module(self, dotted: str) -> Module | None:
        path = self.module_file(dotted)
        if path is None:
            return None
        try:
            st = os.stat(path)
        except OSError:
            return None
        if st.st_size > _MAX_BYTES:
            return None
        return _parse(path, dotted, st.st_size, st.st_mtime_ns)

    def find_def(self, dotted: str, name: str, depth: int = 0) -> ExternalDef | None:
        """``name`` as defined by module ``dotted``, through its re-exports."""
        mod = self.module(dotted)
        if mod is None or mod.tree is None:
            return None
        node = mod.defs.get(name)
        if node is not None:
            return ExternalDef(mod, node)
        if depth >= _REEXPORT_DEPTH:
            return None
        package = dotted if os.path.basename(mod.path) == "__init__.py" else dotted.rpartition(".")[0]
        for ref in mod.imports:
            for orig, bound in ref.names:
                if bound == name or orig == "*":
                    target = absolute(ref.module, ref.level, package)
                    found = self.find_def(target, orig if orig != "*" else name, depth + 1) if target else None
                    if found is not None:
                        return found
        return None


def absolute(module: str, level: int, package: str) -> str | None:
    """The absolute dotted name of ``from <level dots><module> import ...`` written in ``package``."""
    if level == 0:
        return module
    parts = package.split(".") if package else []
    if level - 1 > len(parts):
        return None
    base = parts[: len(parts) - (level - 1)]
    return ".".join(base + ([module] if module else [])) or None


@lru_cache(maxsize=256)
def _parse(path: str, dotted: str, _size: int, _mtime: int) -> Module | None:
    try:
        text = safe_files.read_text(path, errors="replace")  # regular files only, capped (core/source/files.py)
    except OSError:
        return None
    return parse_module(path, dotted, text)


# --- the analysis' use of it --------------------------------------------------------------------------
def resolve_function(project, index: ExternalIndex, module_path: str, name: str):
    """(module, def node) of ``name`` as module ``module_path`` of the closure sees it: its own def, a
    local module's def, or an outside one (installed package, sibling folder). None when unknown."""
    mod = project.modules.get(module_path)
    if mod is None or mod.tree is None:
        return None
    if name in mod.defs:
        return mod, mod.defs[name]
    package = mod.name if os.path.basename(mod.path) == "__init__.py" else mod.name.rpartition(".")[0]
    for ref in mod.imports:
        for orig, bound in ref.names:
            if bound != name:
                continue
            target = absolute(ref.module, ref.level, package)
            local = project.modules.get(project.by_name.get(target or "", ""))
            if local is not None:
                node = local.defs.get(orig)
                return (local, node) if node is not None else None
            found = index.find_def(target, orig) if target else None
            return (found.module, found.node) if found is not None else None
    return None


def attach_definitions(project, index: ExternalIndex, bindings: list) -> tuple[list, dict[str, Module]]:
    """Bindings whose function is defined outside the closure get that definition (copies: extracted
    bindings are shared per module text), so the contract checks read it like a local one."""
    out, outside = [], {}
    for b in bindings:
        if b.def_node is None and b.function and b.module_path:
            found = resolve_function(project, index, b.module_path, b.function)
            if found is not None and found[0].path not in project.modules and found[0].source is not None:
                mod, node = found
                b = replace(b, def_node=node, def_path=mod.path, def_span=mod.source.def_name_span(node))
                outside[mod.path] = mod
        out.append(b)
    return out, outside


def reanchor(findings, bindings: list, outside: dict[str, Module], root: str) -> list:
    """A finding inside an outside file is shown at the registration, naming where the function lives
    (the user edits their project, not site-packages)."""
    if not outside:
        return list(findings)
    out = []
    for f in findings:
        if f.span.path not in outside:
            out.append(f)
            continue
        b = next((b for b in bindings if b.def_path == f.span.path and b.def_node is not None
                  and b.def_node.lineno - 1 <= f.span.line <= (b.def_node.end_lineno or b.def_node.lineno) - 1), None)
        if b is None:
            continue
        where = os.path.relpath(f.span.path, root) if not os.path.relpath(f.span.path, root).startswith("..") \
            else f.span.path
        out.append(replace(f, span=b.reg_span, message=f"{f.message} (`{b.function}` is defined in {where}:"
                           f"{f.span.line + 1})", related=[*f.related, (f.span, f"`{b.function}` is defined here")]))
    return out
