"""Facts about one Python module: parsed once per text, then reused by every analysis.

A ``Module`` holds the tree and the cheap facts later stages need (imports, top-level names,
``sys.path`` additions). It never resolves anything across files: that is ``project.py``'s job.
"""

from __future__ import annotations

import ast
import collections
import functools
import hashlib
import re
import weakref
from dataclasses import dataclass, field
from typing import Callable, KeysView, TypeVar

from tensorleap_ls.core.fixdata import SyntaxDetail
from tensorleap_ls.core.model import Finding, Span
from tensorleap_ls.core.source.parse import parse as parse_text
from tensorleap_ls.core.source.text import SourceFile, Words
from tensorleap_ls.core.codes import SYNTAX_ERROR

T = TypeVar("T")


@dataclass(eq=False)
class ImportRef:
    module: str  # dotted name as written ("" for `from . import x`)
    level: int  # 0 absolute, 1 for `.`, 2 for `..`
    names: list[tuple[str, str]]  # (name, bound-as); [("*", "*")] for a star import; [] for `import a.b`
    bound: str | None  # for `import a.b as c`: "c"; for `import a.b`: "a"
    span: Span
    _node: ast.stmt | None = field(repr=False)
    # Runs when the module is imported: not in a function body, not under `if TYPE_CHECKING:` or
    # `if __name__ == "__main__":` (functions may run later, or never).
    at_import: bool = True
    # Guarded by `try: ... except ImportError` (or `except Exception`, a bare `except`): a missing
    # package is expected there (optional back-ends of vendored libraries).
    optional: bool = False
    index: int = 0  # position in Module.imports: with the module path, a key that survives a re-parse
    # its Module, weakly: a strong reference would make a cycle, and a replaced module (and its tree) would wait for
    # the cyclic collector instead of going when the cache drops it
    _module: "Module | weakref.ref | None" = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self._module is not None and not isinstance(self._module, weakref.ref):
            self._module = weakref.ref(self._module)

    @property
    def node(self) -> ast.stmt | None:
        """The import statement (its module's tree is parsed again if it was released)."""
        mod = self._module() if self._module is not None else None
        if self._node is None and mod is not None:
            mod.tree  # noqa: B018 - loading the tree attaches the nodes
        return self._node

    @property
    def signature(self) -> tuple:
        """What the import says, without where it is written."""
        return (self.module, self.level, tuple(self.names), self.bound, self.at_import, self.optional)


# The clock of the tree cache: the engine ticks it once per analysis; a tree remembers when it was used.
CLOCK = [0]

# Per-text facts that hold no tree node: kept when a module's tree is released (the others are computed
# again from the new tree, whose nodes are new objects).
NODE_FREE = {"registers", "compiled", "statements", "writes_globals", "preprocess_responses", "leap_results",
             "test_body.grouped", "test_body.nested_names", "names_reader"}


class Module:
    """One module's text and what it alone says. The cheap facts (imports, flags, the syntax error) stay;
    the tree and what holds its nodes (``defs``, ``assigns``, ``sys_path_calls``, node-holding per-text
    facts) can be released (``release``) and come back on first use, parsed again from the text: the
    engine keeps the trees of open files and a bounded number of others (facts/modules.ModuleCache.trim)."""

    def __init__(self, path: str, name: str, text: str, digest: str, source: SourceFile | None = None,
                 tree: ast.Module | None = None, syntax_error: Finding | None = None,
                 imports: list[ImportRef] | None = None, defs: dict | None = None, assigns: dict | None = None,
                 sys_path_calls: list | None = None, uses_code_loader: bool = False,
                 has_future_annotations: bool = False, stale: bool = False, memo: dict | None = None):
        self.path, self.name, self.text, self.digest = path, name, text, digest
        self._source = source
        self._tree = tree
        self.parsed = tree is not None  # the text parses: a tree is there, or comes back on demand
        self.syntax_error = syntax_error
        self.imports: list[ImportRef] = imports if imports is not None else []
        self._defs: dict = defs if defs is not None else {}
        self._assigns: dict = assigns if assigns is not None else {}
        self._sys_path_calls: list = sys_path_calls if sys_path_calls is not None else []
        self.uses_code_loader = uses_code_loader
        self.has_future_annotations = has_future_annotations
        self.stale = stale  # True when this is the last good parse of a text that no longer parses
        # Per-text results of checks that only read this module (the module object lives as long as its text).
        self.memo: dict = memo if memo is not None else {}
        self.used = CLOCK[0]  # when the tree was last asked for
        self.sys_path_free = False  # known to hold no sys.path call without its tree (from the persistent cache)
        # The top-level names (defs, assignments) as the persistent cache stored them: asked without a tree
        self._stored_names: tuple[frozenset, frozenset] | None = None
        self.stored: dict | None = None  # this text's entry in the persistent cache (engine/store.py), if any
        self.loads = 0  # parses of the text after a release (the tests count them)

    def __repr__(self) -> str:
        return f"Module({self.path!r}, {self.name!r}, digest={self.digest!r}, parsed={self.parsed})"

    # --- the tree, on demand ----------------------------------------------------------------
    @property
    def tree(self) -> ast.Module | None:
        if self._tree is None and self.parsed:
            self._load()
        self.used = CLOCK[0]
        return self._tree

    @tree.setter
    def tree(self, tree: ast.Module | None) -> None:
        self._tree = tree
        self.parsed = tree is not None

    @property
    def defs(self) -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef]:
        """Top-level defs and classes by name."""
        self.tree  # noqa: B018
        return self._defs

    @property
    def assigns(self) -> dict[str, ast.expr]:
        """Top-level ``NAME = expr`` (last wins)."""
        self.tree  # noqa: B018
        return self._assigns

    @property
    def def_names(self) -> "frozenset | KeysView":
        """The names of ``defs`` (a set-like view: no copy per question), without parsing a module the persistent
        cache knows."""
        if self._tree is None and self._stored_names is not None:
            return self._stored_names[0]
        return self.defs.keys()

    @property
    def assign_names(self) -> "frozenset | KeysView":
        """The names of ``assigns`` (a set-like view), without parsing a module the persistent cache knows."""
        if self._tree is None and self._stored_names is not None:
            return self._stored_names[1]
        return self.assigns.keys()

    @property
    def sys_path_calls(self) -> list[ast.Call]:
        """``sys.path.insert/append(...)`` calls."""
        if self._tree is None and self.sys_path_free:
            return []  # the stored facts say there are none: no parse to learn it
        self.tree  # noqa: B018
        return self._sys_path_calls

    @property
    def source(self) -> SourceFile:
        if self._source is None:
            self._source = SourceFile(self.path, self.text)
        return self._source

    @property
    def loaded(self) -> bool:
        return self._tree is not None

    def release(self) -> None:
        """Drops the tree and what holds its nodes (they come back, parsed again, when asked for)."""
        if self._tree is None or not self.parsed:
            return
        self._tree, self._defs, self._assigns, self._sys_path_calls, self._source = None, {}, {}, [], None
        for ref in self.imports:
            ref._node = None
        self.memo = {k: v for k, v in self.memo.items()
                     if k in NODE_FREE or stored_key(k) or (isinstance(k, tuple) and k and k[0] == "sdk_api")}

    def _load(self) -> None:
        tree = parse_text(self.text.replace("\x00", " "), filename=self.path)
        self.loads += 1
        fresh = Module(self.path, self.name, self.text, self.digest, self._source, tree)
        _collect(fresh, tree)
        self._tree, self._defs, self._assigns = tree, fresh._defs, fresh._assigns
        self._sys_path_calls = fresh._sys_path_calls
        for ref, new in zip(self.imports, fresh.imports):
            ref._node = new._node


# Per-text facts the persistent cache keeps with the module's entry (engine/store.py): node-free, of the
# text alone (never of its path or name: identical texts share one entry), with JSON-able values (bool,
# str, int, None, frozenset of str). A module read from the store starts with them, so an unchanged module
# is not parsed to learn them again.
STORED: set[str] = set()
# Stored per-text facts whose key carries an argument after its prefix ("prefix" + argument, a string): a fact of
# the text and of a question about it (e.g. which function bodies pyflakes read), node-free like the others.
STORED_PREFIXES: set[str] = set()


def stored_key(k) -> bool:
    if k.__class__ is not str:
        return False
    return k in STORED or (bool(STORED_PREFIXES) and k.startswith(tuple(STORED_PREFIXES)))


def encode_memo(memo: dict) -> dict:
    """The stored per-text facts of ``memo``, as JSON."""
    return {k: {"set": sorted(v)} if isinstance(v, frozenset) else v for k, v in memo.items() if stored_key(k)}


def decode_memo(data: dict) -> dict:
    """``encode_memo``'s output back (keys no longer stored by this code, and values of another shape, dropped)."""
    out = {}
    for k, v in data.items():
        if not stored_key(k):
            continue
        if isinstance(v, dict) and isinstance(v.get("set"), list):
            out[k] = frozenset(map(str, v["set"]))
        elif v is None or isinstance(v, (bool, int, str)):
            out[k] = v
    return out


def per_text(key: str, needle: "str | re.Pattern | Words | None" = None,
             empty: Callable[[], T] | None = None,
             stored: bool = False) -> Callable[[Callable[["Module"], T]], Callable[["Module"], T]]:
    """Decorates a fact of one module that depends on its text only: computed once per text, kept in
    ``Module.memo`` under ``key`` (the module object lives as long as its text). With ``needle`` (a
    string, or a pattern, the fact cannot exist without), a text that lacks it gets ``empty()`` without
    its tree being asked for: a vendored module never mentioning PreprocessResponse is not parsed again
    to learn it has none; whether the text holds the needle is itself kept with the text (stored).
    ``stored``: the persistent cache keeps the fact (see ``STORED``)."""
    if stored:
        STORED.add(key)
        NODE_FREE.add(key)
    holds = f"needle:{key}"
    if needle is not None and empty is not None:
        STORED.add(holds)
        NODE_FREE.add(holds)

    def wrap(compute: Callable[["Module"], T]) -> Callable[["Module"], T]:
        @functools.wraps(compute)
        def once(mod: "Module") -> T:
            memo = getattr(mod, "memo", None)
            if memo is None:
                return compute(mod)
            if key not in memo:
                if needle is not None and empty is not None:
                    if holds not in memo:
                        text = getattr(mod, "text", "")
                        memo[holds] = bool(needle in text if isinstance(needle, str) else needle.search(text))
                    if not memo[holds]:
                        memo[key] = empty()
                        return memo[key]
                memo[key] = compute(mod)
            return memo[key]
        return once
    return wrap


@dataclass(frozen=True)
class NodeIndex:
    """What several checks look for in a whole module, gathered by one walk per top-level statement (in walk order)."""

    calls: list  # every ast.Call
    defs: list  # every def: top level, methods, nested
    assigns: list  # every ast.Assign
    bound: frozenset  # every name some statement binds, at any depth (a superset of the globals)


def walk(node: ast.AST):
    """``ast.walk``, the same nodes in the same order, about 1.5x faster (no generator per node for its fields)."""
    todo = collections.deque([node])
    pop, push, is_node = todo.popleft, todo.append, ast.AST
    while todo:
        n = pop()
        for name in n._fields:
            v = getattr(n, name, None)
            if v.__class__ is list:
                for x in v:
                    if isinstance(x, is_node):
                        push(x)
            elif isinstance(v, is_node):
                push(v)
        yield n


@per_text("index")
def index_of(mod: "Module") -> NodeIndex:
    """The module's index: each top-level statement's own, kept on the statement (source/parse.py shares the
    unchanged statements of a file between its texts: a keystroke walks the statement it changed)."""
    calls, defs, assigns, bound = [], [], [], set()
    for st in mod.tree.body if mod.tree is not None else ():
        part = st.__dict__.get("_tl_index")
        if part is None:
            part = st._tl_index = _index(st)
        # (the statement itself is not in its part: a node holding itself would be a reference cycle)
        if isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef)):
            defs.append(st)
        elif isinstance(st, ast.Assign):
            assigns.append(st)
        calls += part[0]
        defs += part[1]
        assigns += part[2]
        bound |= part[3]
    return NodeIndex(calls, defs, assigns, frozenset(bound))


def _index(root: ast.stmt) -> tuple:
    """(calls, defs, assigns, bound) of the nodes under the statement ``root`` (``NodeIndex``; ``root`` itself is
    not listed, its name is bound), in walk order."""
    calls, defs, assigns, bound = [], [], [], set()
    for n in walk(root):
        if isinstance(n, ast.Call):
            calls.append(n)
        elif isinstance(n, ast.Name):
            if isinstance(n.ctx, ast.Store):
                bound.add(n.id)
        elif isinstance(n, ast.Assign):
            assigns.append(n)
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(n.name)
            if not isinstance(n, ast.ClassDef):
                defs.append(n)
        elif isinstance(n, ast.Global):
            bound.update(n.names)
        elif isinstance(n, ast.alias):
            bound.add(n.asname or n.name.split(".")[0])
    if defs and defs[0] is root:
        defs.pop(0)
    if assigns and assigns[0] is root:
        assigns.pop(0)
    return calls, defs, assigns, bound


def calls_of(mod: "Module") -> list:
    """Every call expression of the module (checks share the one walk of ``index_of``)."""
    return index_of(mod).calls


def digest_of(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def syntax_finding(path: str, source: SourceFile, err: BaseException) -> Finding:
    if isinstance(err, SyntaxError):
        line = max((err.lineno or 1) - 1, 0)
        line = min(line, len(source.lines) - 1)
        text = source.lines[line]
        col = max((err.offset or 1) - 1, 0)
        col = min(col, len(text))
        end_col = col + 1 if col < len(text) else col
        msg = f"Syntax error: {err.msg}"
        return Finding(SYNTAX_ERROR, msg, Span(path, line, col, line, end_col), data=SyntaxDetail(err.msg))
    # RecursionError / MemoryError from a pathological text: report it, never raise.
    return Finding(SYNTAX_ERROR, f"The file cannot be parsed: {type(err).__name__}", Span.point(path))


def parse_module(path: str, name: str, text: str, previous: "Module | None" = None) -> Module:
    """``previous``: the module's last text, whose unchanged top-level statements are reused (source/parse.py)."""
    source = SourceFile(path, text)
    mod = Module(path=path, name=name, text=text, digest=digest_of(text), source=source, tree=None)
    before = None
    if previous is not None and previous.loaded and previous.path == path:
        before = (previous.text.replace("\x00", " "), previous.tree)
    try:
        tree = parse_text(text.replace("\x00", " "), filename=path, previous=before)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as err:
        mod.syntax_error = syntax_finding(path, source, err)
        return mod
    mod.tree = tree
    # What the parser accepts but the compiler rejects (`f(a=1, a=2)`, `return` outside a function) is
    # found by compile(), once per text, in a worker process: facts/compiled.py (apply_verdict).
    try:
        _collect(mod, tree)
    except RecursionError:
        mod.syntax_error = syntax_finding(path, source, RecursionError())
    return mod


def has_tree(mod) -> bool:
    """The module's text parses (its tree is there, or comes back on demand) — without loading it."""
    parsed = getattr(mod, "parsed", None)
    return parsed if parsed is not None else getattr(mod, "tree", None) is not None


def apply_verdict(mod: Module, verdict: "tuple | None") -> None:
    """Records what compile() said of the module's text (facts/compiled.py): a SyntaxError the parser let
    through fails the import as well. The tree stays: it is a valid analysis."""
    if verdict is not None and mod.syntax_error is None:
        msg, lineno, offset = verdict
        mod.syntax_error = syntax_finding(mod.path, mod.source, SyntaxError(msg, (mod.path, lineno, offset, None)))


def _module_level(stmts: list) -> "list[ast.stmt]":
    """Statements that run at module level: the top level and the bodies of with/try/if blocks."""
    out = []
    for stmt in stmts:
        out.append(stmt)
        if isinstance(stmt, (ast.With, ast.AsyncWith)):
            out.extend(_module_level(stmt.body))
        elif isinstance(stmt, ast.Try):
            out.extend(_module_level(stmt.body + stmt.orelse + stmt.finalbody))
        elif isinstance(stmt, ast.If):
            out.extend(_module_level(stmt.body + stmt.orelse))
    return out


def _collect(mod: Module, tree: ast.Module) -> None:
    for stmt in _module_level(tree.body):
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            mod._defs[stmt.name] = stmt
        elif isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                if isinstance(target, ast.Name):
                    mod._assigns[target.id] = stmt.value
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value is not None:
            mod._assigns[stmt.target.id] = stmt.value
        elif isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__":
            if any(a.name == "annotations" for a in stmt.names):
                mod.has_future_annotations = True
    # Imports and sys.path edits in any statement (functions run at import time too, e.g. lru_cache
    # loaders). Statements only: walking every expression node costs 3x more on big files.
    for node, at_import, optional in _all_statements(tree.body, mod.source.lines):
        if isinstance(node, ast.Import):
            for alias in node.names:
                bound = alias.asname or alias.name.split(".")[0]
                mod.imports.append(ImportRef(alias.name, 0, [], bound, mod.source.span(node), node, at_import, optional,
                                             len(mod.imports), mod))
                if alias.name.split(".")[0] == "code_loader":
                    mod.uses_code_loader = True
        elif isinstance(node, ast.ImportFrom):
            names = [(a.name, a.asname or a.name) for a in node.names]
            mod.imports.append(ImportRef(node.module or "", node.level, names, None, mod.source.span(node), node,
                                         at_import, optional, len(mod.imports), mod))
            if (node.module or "").split(".")[0] == "code_loader" and node.level == 0:
                mod.uses_code_loader = True
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Attribute):
            f = node.value.func
            if f.attr in ("insert", "append") and isinstance(f.value, ast.Attribute) and f.value.attr == "path":
                if isinstance(f.value.value, ast.Name) and f.value.value.id == "sys":
                    mod._sys_path_calls.append(node.value)


_BODIES = ("body", "orelse", "finalbody", "handlers", "cases")
# Handlers that swallow a failed import.
_TRY = (ast.Try, ast.TryStar) if hasattr(ast, "TryStar") else (ast.Try,)
_IMPORT_ERRORS = frozenset({"ImportError", "ModuleNotFoundError", "Exception", "BaseException"})


# What _collect reads; the other simple statements (most of a module) are skipped without a tuple
_WANTED = (ast.Import, ast.ImportFrom, ast.Expr)
# Statements that hold statements (the others hold none: not descended into)
_COMPOUND = tuple(getattr(ast, n) for n in ("FunctionDef", "AsyncFunctionDef", "ClassDef", "If", "For", "AsyncFor",
                                           "While", "With", "AsyncWith", "Try", "TryStar", "Match", "ExceptHandler",
                                           "match_case") if hasattr(ast, n))


def _all_statements(body: list, lines: list[str]) -> "list[tuple[ast.stmt, bool, bool]]":
    """``_statements`` of a module's body, kept on each compound top-level statement (source/parse.py shares the
    unchanged ones between the file's texts; a compound statement is not in its own list: no reference cycle).
    A compound statement whose text (``lines``) cannot hold an import or a ``sys.path`` call is not walked: most
    classes and functions of a library (walking them was a tenth of a cold open)."""
    out: list[tuple[ast.stmt, bool, bool]] = []
    for st in body:
        if not isinstance(st, _COMPOUND):
            if isinstance(st, _WANTED):
                out.append((st, True, False))
            continue
        part = st.__dict__.get("_tl_statements")
        if part is None:
            text = "\n".join(lines[st.lineno - 1:st.end_lineno])
            wanted = "import" in text or ("sys" in text and "path" in text)
            part = st._tl_statements = _statements([st]) if wanted else []
        out += part
    return out


def _statements(stmts: list) -> "list[tuple[ast.stmt, bool, bool]]":
    """The imports and expression statements, in source order, with (runs at import, under an import-error
    guard)."""
    out: list[tuple[ast.stmt, bool, bool]] = []
    stack = [(s, True, False) for s in reversed(stmts)]
    while stack:
        node, at_import, optional = stack.pop()
        if not isinstance(node, _COMPOUND):
            if isinstance(node, _WANTED):
                out.append((node, at_import, optional))
            continue
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            at_import = False
        # (decided once per node, not per child: a long guarded body asked for each of its statements)
        skipped = isinstance(node, ast.If) and _never_at_import(node.test)
        guarded = isinstance(node, _TRY) and any(_catches_import_error(h) for h in node.handlers)
        children: list[tuple[ast.stmt, bool, bool]] = []
        for attr in _BODIES:
            kids = getattr(node, attr, None)
            if not kids:
                continue
            # the guarded body, its `else:` and the fallbacks in the handlers are optional
            ctx = (False if skipped and attr == "body" else at_import, True if guarded and attr != "finalbody" else optional)
            children += [(child, *ctx) for child in kids]
        stack.extend(reversed(children))
    return out


def _never_at_import(test: ast.expr) -> bool:
    """``if TYPE_CHECKING:`` / ``if __name__ == "__main__":`` (the platform imports the entry as a module)."""
    if isinstance(test, (ast.Name, ast.Attribute)) and (getattr(test, "id", None) or getattr(test, "attr", None)) \
            == "TYPE_CHECKING":
        return True
    return (isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) and test.left.id == "__name__"
            and len(test.comparators) == 1 and isinstance(test.comparators[0], ast.Constant)
            and test.comparators[0].value == "__main__" and isinstance(test.ops[0], ast.Eq))


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any((getattr(t, "id", None) or getattr(t, "attr", None)) in _IMPORT_ERRORS for t in types)


def stored_facts(mod: Module) -> dict:
    """What the persistent cache keeps of a module that parses (engine/store.py): the facts that hold no node."""
    return {"imports": [[r.module, r.level, r.names, r.bound, [r.span.line, r.span.col, r.span.end_line, r.span.end_col],
                         r.at_import, r.optional] for r in mod.imports],
            "uses_code_loader": mod.uses_code_loader, "future_annotations": mod.has_future_annotations,
            "sys_path_free": not mod.sys_path_calls, "defs": sorted(mod.defs), "assigns": sorted(mod.assigns)}


def module_from_store(path: str, name: str, text: str, digest: str, data: dict) -> Module | None:
    """A module rebuilt from its stored facts, with no tree (parsed on first use); None when ``data`` does not
    have the expected shape."""
    try:
        mod = Module(path=path, name=name, text=text, digest=digest, uses_code_loader=bool(data["uses_code_loader"]),
                     has_future_annotations=bool(data["future_annotations"]))
        mod.parsed = True
        mod.sys_path_free = bool(data["sys_path_free"])
        mod._stored_names = (frozenset(map(str, data["defs"])), frozenset(map(str, data["assigns"])))
        for i, (module, level, names, bound, span, at_import, optional) in enumerate(data["imports"]):
            mod.imports.append(ImportRef(str(module), int(level), [(str(a), str(b)) for a, b in names],
                                         None if bound is None else str(bound), Span(path, *map(int, span)), None,
                                         bool(at_import), bool(optional), i, mod))
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    return mod


class ModuleCache:
    """Parsed modules keyed by path; a new text replaces the entry, the last good parse is kept. With a
    ``store`` (engine/store.py), a text seen by an earlier run is rebuilt from its stored facts, unparsed."""

    def __init__(self, store=None) -> None:
        self._by_path: dict[str, Module] = {}
        self._last_good: dict[str, Module] = {}
        self.store = store

    def get(self, path: str, name: str, text: str) -> Module:
        cur = self._by_path.get(path)
        if cur is not None and cur.text == text and cur.name == name:
            return cur
        mod = None
        # A file being edited (its last text's tree is here) is parsed reusing that tree's unchanged statements and
        # what is kept on them: cheaper than a module rebuilt from the store whose tree the checks then parse whole
        # (a text typed and undone is in the store)
        previous = cur if cur is not None and cur.parsed and cur.loaded else None
        digest = digest_of(text) if self.store is not None else ""
        data = self.store.get(digest) if self.store is not None else None
        if data and "module" in data and previous is None:
            mod = module_from_store(path, name, text, digest, data["module"])
        if mod is None:
            mod = parse_module(path, name, text, previous=previous)
        if data and mod.parsed:
            mod.stored = data
            memo = data.get("memo")
            mod.memo.update(decode_memo(memo) if isinstance(memo, dict) else {})
        self._by_path[path] = mod
        if mod.parsed:
            self._last_good[path] = mod
        return mod

    def last_good(self, path: str) -> Module | None:
        return self._last_good.get(path)

    def trim(self, keep: set[str], room: int = 24) -> int:
        """Releases the trees of the modules not in ``keep`` (open files, modules holding bindings) and not
        used by the last analysis, beyond the ``room`` most recently used: memory stays bounded whatever the
        project's size. A tree the last analysis used stays (the next one would parse it again: releasing
        it trades memory for a parse per edit). Returns how many were released."""
        loaded = [m for m in {id(m): m for m in [*self._by_path.values(), *self._last_good.values()]}.values()
                  if m.loaded and m.path not in keep and m.used < CLOCK[0]]
        loaded.sort(key=lambda m: m.used, reverse=True)
        for m in loaded[room:]:
            m.release()
        return max(0, len(loaded) - room)

    def last_good_of_broken(self) -> dict[str, Module]:
        """path -> the last good parse, for every module whose current text does not parse."""
        return {p: self._last_good[p] for p, m in self._by_path.items() if not m.parsed and p in self._last_good}

    def seed_last_good(self, mod: Module) -> None:
        self._last_good[mod.path] = mod

    def drop(self, path: str) -> None:
        self._by_path.pop(path, None)
