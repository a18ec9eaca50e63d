"""What a function's cached results depend on: its key.

A function's key hashes, as they are on disk (what the child ran): its own source; the module-level
definitions, assignments and imports of its module that it uses, followed through each other; the local
modules those imports (and the module's star imports) name, whole and transitively along the project's import
closure (its own module excluded: the parts it uses are already in); the preprocess function's key (its
output feeds every sample); the scan's own format.
So editing one encoder changes that encoder's key only, while editing a helper it calls, a constant it reads,
a local module its module imports or preprocess changes the keys of every function that depends on it.
"""

from __future__ import annotations

import ast
import hashlib
import os
from typing import Iterable

from tensorleap_ls.core.source import files

FORMAT = "scan-1"  # bump when what a record holds, or a check, changes: older records are then never read


class _Source:
    """One file as the child ran it: text, tree, top-level statements by the names they bind."""

    def __init__(self, path: str):
        self.path = path
        try:
            self.text = files.read_text(path) or ""
        except (OSError, ValueError):
            self.text = ""
        self.digest = hashlib.sha256(self.text.encode("utf-8", "surrogatepass")).hexdigest()
        try:
            self.tree: ast.Module | None = ast.parse(self.text)
        except (SyntaxError, ValueError, RecursionError):
            self.tree = None
        self.binds: dict[str, list[ast.stmt]] = {}
        for stmt in self.tree.body if self.tree else []:
            for name in _bound(stmt):
                self.binds.setdefault(name, []).append(stmt)

    def segment(self, node: ast.AST) -> str:
        lines = self.text.splitlines()
        start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        end = getattr(node, "end_lineno", None) or node.lineno
        return "\n".join(lines[start - 1:end])

    def def_at(self, line: int | None) -> ast.stmt | None:
        for stmt in self.tree.body if self.tree else []:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and stmt.lineno == line:
                return stmt
        for node in ast.walk(self.tree) if self.tree and line else ():  # nested (a factory's product)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.lineno == line:
                return node
        return None


def _bound(stmt: ast.stmt) -> Iterable[str]:
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        yield stmt.name
    elif isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        for t in targets:
            for n in ast.walk(t):
                if isinstance(n, ast.Name):
                    yield n.id
    elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
        for a in stmt.names:
            yield (a.asname or a.name).split(".")[0]
    elif isinstance(stmt, (ast.If, ast.Try, ast.With, ast.For)):  # module-level branches: what they bind
        for sub in ast.walk(stmt):
            if sub is not stmt and isinstance(sub, ast.stmt):
                yield from _bound(sub)


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


class Keys:
    """Keys of the functions of one project: ``by_name`` (dotted module name -> path) and ``edges`` (path ->
    the local modules it imports) come from its import closure (``of_project``)."""

    def __init__(self, root: str, by_name: dict[str, str], edges: dict[str, set[str]]):
        self.root, self.by_name, self.edges = root, by_name, edges
        self.name_of = {p: n for n, p in by_name.items()}
        self._sources: dict[str, _Source] = {}

    @classmethod
    def of_project(cls, project) -> "Keys":
        edges: dict[str, set[str]] = {}
        for (path, _node, _attr), target in getattr(project, "resolved", {}).items():
            if target and target != path:
                edges.setdefault(path, set()).add(target)
        return cls(project.root, dict(getattr(project, "by_name", {})), edges)

    def source(self, path: str) -> _Source:
        s = self._sources.get(path)
        if s is None:
            s = self._sources[path] = _Source(path)
        return s

    def key(self, where: list | tuple | None, preprocess: str = "") -> str:
        """The key of the function defined at ``where`` ([file, def line]); ``preprocess``: preprocess's key."""
        h = hashlib.sha256(f"{FORMAT}\n{preprocess}\n".encode())
        file, line = (list(where or []) + [None, None])[:2]
        if not file or not os.path.isfile(file):
            h.update(f"unknown {file}:{line}".encode())
            return h.hexdigest()
        src = self.source(file)
        node = src.def_at(line)
        used: list[ast.stmt] = []
        if node is None:  # not found where the child says: the whole file stands for it
            h.update(src.digest.encode())
            used = [st for st in (src.tree.body if src.tree else []) if isinstance(st, (ast.Import, ast.ImportFrom))]
        else:
            for part, stmt in self._uses(src, node):
                h.update(part.encode("utf-8", "surrogatepass"))
                h.update(b"\0")
                used.append(stmt)
        stars = [st for st in (src.tree.body if src.tree else []) if isinstance(st, ast.ImportFrom)
                 and any(a.name == "*" for a in st.names)]
        for dep in sorted(self._imported(file, used + stars)):
            h.update(f"{os.path.relpath(dep, self.root)}:{self.source(dep).digest}\n".encode())
        return h.hexdigest()

    def _uses(self, src: _Source, node: ast.AST) -> list[tuple[str, ast.AST]]:
        """The function's source, then each module-level statement it reaches by name (breadth first)."""
        out, seen, todo = [(src.segment(node), node)], {id(node)}, sorted(_names(node))
        done: set[str] = set()
        while todo:
            name = todo.pop(0)
            if name in done:
                continue
            done.add(name)
            for stmt in src.binds.get(name, []):
                if id(stmt) in seen:
                    continue
                seen.add(id(stmt))
                out.append((src.segment(stmt), stmt))
                todo.extend(sorted(_names(stmt) - done))
        return out

    def _imported(self, path: str, stmts: list) -> set[str]:
        """The local modules the import statements among ``stmts`` name, and what those import in turn."""
        first: set[str] = set()
        for st in stmts:
            for name in self._module_names(path, st):
                for candidate in (name, name.rsplit(".", 1)[0] if "." in name else None):
                    if candidate and candidate in self.by_name:
                        first.add(self.by_name[candidate])
                        break
        out: set[str] = set()
        todo = list(first)
        while todo:
            p = todo.pop()
            if p in out or p == path:
                continue
            out.add(p)
            todo.extend(self.edges.get(p, ()))
        return out

    def _module_names(self, path: str, st: ast.AST) -> list[str]:
        """Dotted names of the modules an import statement may load (``from a import b``: a and a.b)."""
        if isinstance(st, ast.Import):
            return [a.name for a in st.names]
        if not isinstance(st, ast.ImportFrom):
            return []
        base = st.module or ""
        if st.level:
            package = self.name_of.get(path, "").split(".")
            if not os.path.basename(path).startswith("__init__."):
                package = package[:-1]
            package = package[:len(package) - (st.level - 1)] if st.level > 1 else package
            base = ".".join([p for p in package if p] + ([base] if base else []))
        return [f"{base}.{a.name}" if base else a.name for a in st.names if a.name != "*"] + ([base] if base else [])
