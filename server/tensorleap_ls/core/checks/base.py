"""What every check receives. Checks are plain functions ``check(ctx) -> Iterable[Finding]``.

They read the bindings and the parsed modules of one project's import closure and never
touch the disk themselves (``ctx.read_text`` goes through the analyzer's overlays/caches).

A plain check runs on every analysis. A check whose findings mostly belong to one binding each is a
``ScopedCheck``: its ``binding`` part gives one binding's findings from the binding and the code its
statements name (never other bindings, other files, or ``ctx.modules`` at large), its ``project`` part
the rest; called as ``check(ctx)`` it gives both, in that order. The engine reuses a binding's findings
while the binding's fingerprint (core/engine/deps.py) holds: an edit in one function re-checks the
bindings that reach that function.
"""

from __future__ import annotations

import ast
import collections
from dataclasses import dataclass, field, replace
from typing import Callable, Iterable, Protocol

from tensorleap_ls.core.fixdata import FunctionKind
from tensorleap_ls.core.model import Binding, Finding, Span
from tensorleap_ls.core.source.text import SourceFile


class ModuleLike(Protocol):
    path: str  # absolute path of the .py file
    name: str  # dotted module name as imported ("pkg.mod"); the entry's is its stem
    source: SourceFile | None  # None when unreadable
    tree: ast.Module | None  # None when it does not parse


@dataclass
class CheckContext:
    root: str  # project root (folder of leap.yaml, or of the entry when there is none)
    entry: str  # absolute path of the entry file
    bindings: list[Binding]
    modules: dict[str, ModuleLike]  # the closure, keyed by absolute path, entry first
    leap_yaml: object | None = None  # core.leap_yaml.LeapYaml when the project has one
    read_text: Callable[[str], str | None] = lambda p: None  # overlay-aware file reader
    # Imports of the closure that are not local modules: top-level package name -> spans of the imports.
    external_imports: dict[str, list] = field(default_factory=dict)
    resolver: object | None = None  # core.evaluate.Resolver of the closure (module-level names, across modules)
    # The code-loader installed for the project (core.sdk_env.SdkApi), None when there is none.
    sdk: object | None = None
    # The environment's package folders (site-packages, .pth folders): installed distributions' metadata
    # (core/project/requirements.installed); empty when the analysis has no environment.
    sites: tuple[str, ...] = ()
    # Closure modules that importing the entry executes (core/project/closure.Project.executed); None: all.
    executed: frozenset | None = None
    # Model file path -> its facts (runtime/model_info.facts), read by the LSP layer / CLI, never here.
    model_facts: dict[str, dict] = field(default_factory=dict)
    # Modules outside the closure that hold registered functions (installed packages, sibling folders).
    outside_modules: dict[str, ModuleLike] = field(default_factory=dict)
    # find_function(module path, name) -> (module, def node) of a function as that module sees the name.
    find_function: Callable[[str, str], tuple | None] = lambda path, name: None
    # The persistent cache (core/engine/store.Store) or None: what a check reads of the environment is kept there
    # (the scan of each site-packages folder, core/project/requirements.installed).
    store: object | None = None

    def module_at(self, path: str | None) -> ModuleLike | None:
        """A closure module, or an outside one holding a registered function."""
        return None if path is None else self.modules.get(path) or self.outside_modules.get(path)

    def of_kind(self, *kinds) -> Iterable[Binding]:
        return (b for b in self.bindings if b.kind in kinds)


Check = Callable[[CheckContext], Iterable[Finding]]


@dataclass(frozen=True)
class ScopedCheck:
    """A check split into what each binding alone decides and what the project decides (see above)."""

    name: str
    binding: Callable[[CheckContext, Binding], Iterable[Finding]]
    project: Callable[[CheckContext], Iterable[Finding]] = lambda ctx: ()

    def __call__(self, ctx: CheckContext) -> list[Finding]:
        out = [f for b in ctx.bindings for f in self.binding(ctx, b)]
        out.extend(self.project(ctx))
        return out


# --- findings one def's text decides --------------------------------------------------------------------------
_BY_DEF: "collections.OrderedDict[tuple, tuple[int, list[Finding]]]" = collections.OrderedDict()
_BY_DEF_ROOM = 4096
_MOVABLE = (type(None), FunctionKind)  # fix data that holds no position


def per_def(name: str, mod, fn: ast.AST, compute: Callable[[], list[Finding]]) -> list[Finding]:
    """``compute()``: findings of the def ``fn`` that its text alone decides (its body, not what its names mean
    elsewhere), remembered by (``name``, that text) and moved to where the def is now: an edit elsewhere in the
    file does not walk this def again. Shared by every module and analysis; bounded."""
    end = getattr(fn, "end_lineno", None)
    if end is None or getattr(mod, "source", None) is None:
        return compute()
    key = (name, "\n".join(mod.source.lines[fn.lineno - 1:end]))
    hit = _BY_DEF.get(key)
    if hit is not None:
        _BY_DEF.move_to_end(key)
        line, found = hit
        return [_moved(f, fn.lineno - line, mod.path) for f in found]
    found = compute()
    if all(isinstance(f.data, _MOVABLE) for f in found):
        _BY_DEF[key] = (fn.lineno, [_moved(f, 0, mod.path) for f in found])
        if len(_BY_DEF) > _BY_DEF_ROOM:
            _BY_DEF.popitem(last=False)
    return found


def _moved(f: Finding, delta: int, path: str) -> Finding:
    def span(s: Span) -> Span:
        return Span(path, s.line + delta, s.col, s.end_line + delta, s.end_col)
    return replace(f, span=span(f.span), related=[(span(s), m) for s, m in f.related])
