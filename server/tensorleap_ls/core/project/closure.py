"""The project model: where a project starts, which file is its entry, which local modules the
platform would load with it (the import closure).

A project root is the folder holding ``leap.yaml``; its ``entryFile`` is the entry (default
``leap_integration.py``, then ``leap_binder.py``). The closure follows the entry's local imports
the way Python would find them with the platform's ``sys.path``: the entry's folder and its
parents up to the root, plus folders the code adds with ``sys.path.insert/append``.
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass, field
from typing import Callable

from tensorleap_ls.core.facts.modules import ImportRef, Module
from tensorleap_ls.core.source.text import dotted

DEFAULT_ENTRIES = ("leap_integration.py", "leap_binder.py")
_MISS = object()


def norm(path: str) -> str:
    return os.path.normpath(os.path.abspath(path))


def inside(path: str, root: str) -> bool:
    """``path`` is ``root`` or lies under it (``/a/bc`` is not inside ``/a/b``)."""
    path, root = norm(path), norm(root)
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def find_root(path: str, stop: str | None = None) -> str | None:
    """The nearest folder at or above ``path`` holding a leap.yaml."""
    d = path if os.path.isdir(path) else os.path.dirname(path)
    seen = 0
    while seen < 64:
        if os.path.isfile(os.path.join(d, "leap.yaml")):
            return d
        parent = os.path.dirname(d)
        if parent == d or (stop and d == stop):
            return None
        d = parent
        seen += 1
    return None


def default_entry(folder: str) -> str | None:
    for name in DEFAULT_ENTRIES:
        p = os.path.join(folder, name)
        if os.path.isfile(p):
            return p
    return None


@dataclass
class Project:
    root: str
    entry: str
    leap_yaml_path: str | None
    modules: dict[str, Module] = field(default_factory=dict)  # closure, entry first
    search_path: list[str] = field(default_factory=list)
    # Third-party imports executed when the entry is imported: top-level name -> [(module path, ImportRef)],
    # in closure order. Left out: imports in function bodies, under `try/except ImportError`, and every
    # import of a local module that is itself only loaded lazily (see `executed`).
    external: dict[str, list[tuple[str, ImportRef]]] = field(default_factory=dict)
    # Modules of the closure that importing the entry executes (the rest load lazily, if ever).
    executed: set[str] = field(default_factory=set)
    # Import statements naming a local-looking module that does not exist: (module path, ImportRef)
    unresolved: list[tuple[str, ImportRef]] = field(default_factory=list)
    # For name lookups: (module path, ImportRef.index, attr) -> the local module the import loads (attr: "" the
    # module named, "top" its top package, a name: the submodule `from pkg import name` loads)
    resolved: dict[tuple[str, int, str], str] = field(default_factory=dict)
    by_name: dict[str, str] = field(default_factory=dict)  # dotted module name -> path
    # What the closure was computed from (ClosureBuilder.reuse checks it): the import signature of each
    # module, every file probed (-> found, through an editor buffer), the folders they are in (-> mtime, None when missing), the
    # files found but unreadable.
    signatures: dict[str, tuple] = field(default_factory=dict, repr=False)
    probes: dict[str, tuple[bool, bool]] = field(default_factory=dict, repr=False)  # path -> (found, a buffer)
    folders: dict[str, int | None] = field(default_factory=dict, repr=False)
    unreadable: dict[str, str] = field(default_factory=dict, repr=False)  # path -> module name

    @property
    def module_paths(self) -> list[str]:
        return list(self.modules)


def stored(proj: Project) -> dict:
    """What the persistent cache keeps of a closure (JSON; ``ClosureBuilder.restore`` reads it): the closure and
    what it was computed from, so that a new run resolves no import of an unchanged project."""
    return {"modules": [[p, m.name, m.digest] for p, m in proj.modules.items()], "search_path": proj.search_path,
            "executed": sorted(proj.executed), "resolved": [[p, i, a, t] for (p, i, a), t in proj.resolved.items()],
            "by_name": proj.by_name, "external": {top: [[p, r.index] for p, r in refs] for top, refs in proj.external.items()},
            "unresolved": [[p, r.index] for p, r in proj.unresolved],
            "probes": {p: list(v) for p, v in proj.probes.items()}, "folders": proj.folders,
            "unreadable": proj.unreadable}


def import_signature(mod: Module, root: str) -> tuple:
    """What decides the closure in a module's text: its imports (not where they are written) and the
    sys.path additions it makes. An edit that keeps it keeps the closure."""
    return (mod.name, tuple(ref.signature for ref in mod.imports),
            tuple(eval_path(c.args[-1], mod, root) if c.args else None for c in mod.sys_path_calls))


def _mtime(folder: str) -> int | None:
    try:
        return os.stat(folder).st_mtime_ns
    except OSError:
        return None


class ClosureBuilder:
    """Builds a project's closure from a module loader (overlay- and cache-aware)."""

    def __init__(self, load: Callable[[str, str], Module | None], isfile: Callable[[str], bool],
                 overlaid: Callable[[str], bool] = lambda path: False):
        self._load = load
        self._found = isfile
        self._overlaid = overlaid  # an editor buffer stands for the path (its existence is not the disk's)
        self._probes: dict[str, bool] = {}
        self._found_in: dict[tuple, str | None] = {}

    def _isfile(self, path: str) -> bool:
        found = self._probes.get(path)
        if found is None:
            found = self._probes[path] = self._found(path)
        return found

    def reuse(self, old: Project) -> Project | None:
        """``old`` again, with the modules' current texts, when nothing it was computed from changed: the
        same import signatures, the same probed files (no folder of theirs modified, no editor buffer
        opened or closed over one), no unreadable file readable now. Else None (build again)."""
        modules: dict[str, Module] = {}
        for path, mod in old.modules.items():
            new = self._load(path, mod.name)
            if new is None or (new is not mod and import_signature(new, old.root) != old.signatures.get(path)):
                return None
            modules[path] = new
        return self._again(old, modules)

    def _again(self, old: Project, modules: dict[str, Module]) -> Project | None:
        """``old`` with ``modules`` (its modules' current texts, same imports), when no file it probed or could not
        read changed; else None."""
        if any(self._load(p, name) is not None for p, name in old.unreadable.items()):
            return None
        for path, (found, overlaid) in old.probes.items():
            now = self._overlaid(path)
            if now != overlaid and not (found and not overlaid):  # a buffer opened over a found file changes nothing
                return None
        if any(_mtime(folder) != stamp for folder, stamp in old.folders.items()):
            return None
        proj = Project(root=old.root, entry=old.entry, leap_yaml_path=old.leap_yaml_path, modules=modules,
                       search_path=old.search_path, executed=old.executed, resolved=old.resolved,
                       by_name=old.by_name, signatures=old.signatures, probes=old.probes, folders=old.folders,
                       unreadable=old.unreadable)
        # the import statements of an edited module moved with its text: the same imports, new spans
        proj.external = {top: [(p, modules[p].imports[r.index]) for p, r in refs] for top, refs in old.external.items()}
        proj.unresolved = [(p, modules[p].imports[r.index]) for p, r in old.unresolved]
        return proj

    def restore(self, data: object, root: str, entry: str, leap_yaml_path: str | None) -> Project | None:
        """The closure ``stored`` kept (a new run: the persistent cache), when nothing it was computed from
        changed: every module's text (its digest), the probed files (their folders' modification times, editor
        buffers), the unreadable files. Else (or ``data`` of another shape) None: build it."""
        try:
            modules: dict[str, Module] = {}
            for path, name, digest in data["modules"]:  # type: ignore[index]
                mod = self._load(path, name)
                if mod is None or mod.digest != digest or mod.stale:
                    return None
                modules[path] = mod
            old = Project(root=root, entry=entry, leap_yaml_path=leap_yaml_path, modules=modules,
                          search_path=[str(p) for p in data["search_path"]], executed=set(data["executed"]),
                          resolved={(p, int(i), a): t for p, i, a, t in data["resolved"]}, by_name=dict(data["by_name"]),
                          probes={p: (bool(f), bool(o)) for p, (f, o) in data["probes"].items()},
                          folders=dict(data["folders"]), unreadable=dict(data["unreadable"]))
            old.signatures = {p: import_signature(m, root) for p, m in modules.items()}
            old.external = {top: [(p, modules[p].imports[int(i)]) for p, i in refs] for top, refs in data["external"].items()}
            old.unresolved = [(p, modules[p].imports[int(i)]) for p, i in data["unresolved"]]
        except (KeyError, TypeError, ValueError, IndexError, AttributeError):
            return None
        return self._again(old, modules)  # (the same texts: what remains is to check the probes, folders, unreadable files)

    def build(self, root: str, entry: str, leap_yaml_path: str | None) -> Project:
        proj = self._build(root, entry, leap_yaml_path)
        proj.signatures = {p: import_signature(m, root) for p, m in proj.modules.items()}
        proj.probes = {p: (found, self._overlaid(p)) for p, found in self._probes.items()}
        proj.folders = {d: _mtime(d) for d in {os.path.dirname(p) for p in self._probes} | set(self._dirs)}
        return proj

    def _build(self, root: str, entry: str, leap_yaml_path: str | None) -> Project:
        proj = Project(root=root, entry=entry, leap_yaml_path=leap_yaml_path)
        self._dirs: set[str] = set()
        # The platform appends every parent folder of the entry up to the root to sys.path.
        d = os.path.dirname(entry)
        search = [d]
        while d != root and inside(d, root) and os.path.dirname(d) != d:
            d = os.path.dirname(d)
            search.append(d)
        if root not in search:
            search.append(root)
        proj.search_path = search
        entry_name = os.path.splitext(os.path.basename(entry))[0]
        queue: list[tuple[str, str]] = [(entry, entry_name)]
        # module -> what its executed imports do, in source order: ("local", path) or ("external", top, ref)
        runs: dict[str, list[tuple]] = {}
        while queue:
            path, name = queue.pop(0)
            if path in proj.modules:
                continue
            mod = self._load(path, name)
            if mod is None:
                proj.unreadable[path] = name
                continue
            proj.modules[path] = mod
            proj.by_name.setdefault(name, path)
            for extra in self._sys_path_additions(mod, root):
                if extra not in proj.search_path:
                    proj.search_path.append(extra)
            events = runs.setdefault(path, [])
            for ref in mod.imports:
                executed = ref.at_import and not ref.optional
                for target, tname, attr in self._resolve_import(proj, mod, ref, events if executed else None):
                    if target is None:
                        continue
                    proj.resolved[(path, ref.index, attr)] = target
                    if executed:
                        events.append(("local", target))
                    if target not in proj.modules:
                        queue.append((target, tname))
        self._run_imports(proj, entry, runs)
        return proj

    @staticmethod
    def _run_imports(proj: Project, entry: str, runs: dict[str, list[tuple]]) -> None:
        """Replays the import of the entry: a local module runs its own imports the first time it is
        imported, where it is imported. Fills ``executed`` and ``external`` in execution order."""
        stack = [iter([("local", entry)])]
        while stack:
            event = next(stack[-1], None)
            if event is None:
                stack.pop()
            elif event[0] == "external":
                proj.external.setdefault(event[1], []).append((event[2].span.path, event[2]))
            elif event[1] not in proj.executed:
                proj.executed.add(event[1])
                stack.append(iter(runs.get(event[1], ())))

    # --- imports --------------------------------------------------------------------------
    def _resolve_import(self, proj: Project, mod: Module, ref: ImportRef, external: list | None):
        """Yields (path, dotted name, attr) for every local module the import loads."""
        if ref.level:
            base = os.path.dirname(mod.path)
            for _ in range(ref.level - 1):
                base = os.path.dirname(base)
            parts = ref.module.split(".") if ref.module else []
            pkg_name = self._relative_name(mod, ref)
            target = self._find_in(base, parts)
            if ref.module and target is None:
                proj.unresolved.append((mod.path, ref))
                return
            if target is not None:
                yield target, pkg_name, ""
            for name, _ in ref.names:
                if name == "*":
                    continue
                sub = self._find_in(base, parts + [name])
                if sub is not None:
                    yield sub, f"{pkg_name}.{name}" if pkg_name else name, name
            return
        parts = ref.module.split(".")
        found = False
        for folder in proj.search_path:
            # each package level is loaded: a.b.c loads a/__init__, a/b/__init__ and a/b/c
            target = self._find_in(folder, parts)
            if target is None:
                continue
            found = True
            for i in range(1, len(parts)):
                pkg = self._find_in(folder, parts[:i])
                if pkg is not None:
                    yield pkg, ".".join(parts[:i]), "top" if i == 1 else "."
            yield target, ref.module, ""
            for name, _ in ref.names:
                if name == "*":
                    continue
                sub = self._find_in(folder, parts + [name])
                if sub is not None:
                    yield sub, f"{ref.module}.{name}", name
            break
        if not found and external is not None:
            external.append(("external", parts[0], ref))

    @staticmethod
    def _relative_name(mod: Module, ref: ImportRef) -> str:
        base = mod.name.split(".")
        if not mod.path.endswith("__init__.py"):
            base = base[:-1]
        if ref.level > 1:
            base = base[: len(base) - (ref.level - 1)]
        return ".".join([p for p in base + ([ref.module] if ref.module else []) if p])

    def _find_in(self, folder: str, parts: list[str]) -> str | None:
        # once per (folder, dotted parts) and build: every import of a module is looked up in every folder of the
        # search path (a vendored library imports the same few modules from everywhere: 2,000 lookups, 500 distinct)
        key = (folder, *parts)
        found = self._found_in.get(key, _MISS)
        if found is _MISS:
            found = self._found_in[key] = self._find(folder, parts)
        return found

    def _find(self, folder: str, parts: list[str]) -> str | None:
        # joined by hand: the parts are identifiers (never absolute, never empty) and os.path.join was most of
        # the resolution's time
        base = folder if folder.endswith(os.sep) else folder + os.sep
        if not parts:
            init = base + "__init__.py"
            return init if self._isfile(init) else None
        base += os.sep.join(parts)
        init = base + os.sep + "__init__.py"
        if self._isfile(init):
            return init
        if self._isfile(base + ".py"):
            return base + ".py"
        return None

    # --- sys.path -------------------------------------------------------------------------
    def _sys_path_additions(self, mod: Module, root: str) -> list[str]:
        out = []
        for call in mod.sys_path_calls:
            arg = call.args[-1] if call.args else None
            if arg is None:
                continue
            p = eval_path(arg, mod, root)
            if p:
                self._dirs.update((p, os.path.dirname(p)))  # its creation or removal changes the closure
            if p and os.path.isdir(p) and inside(p, root):
                out.append(norm(p))
        return out


def eval_path(node: ast.expr, mod: Module, root: str, depth: int = 0) -> str | None:
    """Statically evaluates common path expressions: literals, os.path.join/dirname/abspath of
    __file__, Path(__file__).parent / 'x', str(...). Relative paths are relative to the cwd, which
    is the project root when the platform runs the script. Memoized per module text (paths joined
    from each other, ``P0 = join(P1, P1)``, cost linear work)."""
    if depth > 20:
        return None
    memo = mod.memo.setdefault("paths", {}) if isinstance(getattr(mod, "memo", None), dict) else {}
    key = (id(node), root, depth)
    hit = memo.get(key)
    if hit is None or hit[0] is not node:  # the node is kept: a temporary node's id may be reused
        hit = memo[key] = (node, _eval_path(node, mod, root, depth))
    return hit[1]


def _eval_path(node: ast.expr, mod: Module, root: str, depth: int) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value if os.path.isabs(node.value) else os.path.join(root, node.value)
    if isinstance(node, ast.Name):
        if node.id == "__file__":
            return mod.path
        val = mod.assigns.get(node.id)
        return eval_path(val, mod, root, depth + 1) if val is not None else None
    if isinstance(node, ast.Call):
        fname = dotted(node.func)
        args = [eval_path(a, mod, root, depth + 1) for a in node.args]
        if fname in ("os.path.join", "path.join", "join") and args and all(args):
            parts = [args[0]] + [_raw_str(a) or "" for a in node.args[1:]]
            return os.path.join(*parts)
        if fname in ("os.path.dirname", "path.dirname", "dirname") and args and args[0]:
            return os.path.dirname(args[0])
        if fname in ("os.path.abspath", "os.path.realpath", "os.path.normpath", "str", "Path", "pathlib.Path",
                     "abspath", "realpath") and args and args[0]:
            return args[0]
        if isinstance(node.func, ast.Attribute) and node.func.attr in ("resolve", "absolute"):
            return eval_path(node.func.value, mod, root, depth + 1)
        return None
    if isinstance(node, ast.Attribute) and node.attr == "parent":
        inner = eval_path(node.value, mod, root, depth + 1)
        return os.path.dirname(inner) if inner else None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        left = eval_path(node.left, mod, root, depth + 1)
        right = _raw_str(node.right)
        return os.path.join(left, right) if left and right is not None else None
    return None


def _raw_str(node: ast.expr) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None
