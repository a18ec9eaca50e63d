"""Import-time failures of the closure, at their line, and one finding per root cause.

TL113: a name that is not defined where module-level code runs (decorators and their arguments,
module-level calls, class bodies, default values, evaluated annotations): NameError when the module is
imported. TL112: ``from local_module import name`` where that module binds no such name (through star
imports and re-exports; silent where it writes ``globals()``, calls ``exec``, has a module ``__getattr__``
or a star import we cannot see): ImportError where the import runs. Both are errors where the code runs each
time the module is imported (or each time a registered function runs, for an import inside it), warnings
under a condition in the integration's own modules, and nothing in a vendored module's conditional code.

``fold`` (run after every check): while the import of the closure fails, what depends on it is not a finding
of its own: "registers no input encoder" becomes related information of the misspelled decorator that would
register it, a registration of a name the failing import names points at that import, and the integration
test's "not a Tensorleap-decorated function" on a misspelled call is the undefined name itself.

Finding.data: TL113 UndefinedName; TL112 ImportedName (the name, the module as written, the nearest name).
"""

from __future__ import annotations

import ast
import os
from dataclasses import replace

from tensorleap_ls.core.checks import undefined
from tensorleap_ls.core.checks.base import CheckContext
from tensorleap_ls.core.codes import (
    ADVANCED_SIGNATURE, ENCODER_SIGNATURE, INTEGRATION_TEST_SIGNATURE, NO_ARGUMENTS, PREPROCESS_PARAMS,
    MISSING_GROUND_TRUTH, MISSING_INPUT, MISSING_INTEGRATION_TEST, MISSING_LOSS, MISSING_MODEL, MISSING_PREPROCESS,
    NOT_IN_TEST, SDK_API_MISSING, SIMULATION_PARAMS, TEST_PLAIN_CALL, UNDEFINED_AT_IMPORT, UNDEFINED_FUNCTION,
    UNDEFINED_NAME, UNRESOLVED_IMPORT,
)
from tensorleap_ls.core.facts import scopes
from tensorleap_ls.core.facts.modules import per_text, walk
from tensorleap_ls.core.facts.scopes import SPINE
from tensorleap_ls.core.fixdata import FunctionKind, ImportedName, MissingPart, NotInTest, UndefinedName
from tensorleap_ls.core.model import Finding, Kind, Severity, Span
from tensorleap_ls.core.sdk.bundled import DECORATORS, ROWS

MISSING_PARTS = (MISSING_PREPROCESS, MISSING_INPUT, MISSING_MODEL, MISSING_INTEGRATION_TEST, MISSING_LOSS,
                 MISSING_GROUND_TRUTH)


def check(ctx: CheckContext) -> list[Finding]:
    """TL112 and TL113 here, TL114 in core/checks/undefined.py: one pass over what runs."""
    slips = undefined.Slips(ctx)
    contexts = undefined.reached(ctx, slips)
    names = not undefined.builtins_written(ctx)
    by_mod: dict[str, list] = {}
    for c in contexts.values():
        by_mod.setdefault(c.mod.path, []).append(c)
    out: list[Finding] = []
    for mod in ctx.modules.values():
        if not mod.parsed or mod.stale:
            continue
        cs = by_mod.get(mod.path, [])
        if names:
            out.extend(_at_import(ctx, mod, cs, slips))
        out.extend(_imports(ctx, mod, cs, slips))
    return out + (undefined.check(ctx, contexts, slips) if names else [])


# --- TL113 -----------------------------------------------------------------------------------------
def _at_import(ctx: CheckContext, mod, contexts, slips) -> list[Finding]:
    if undefined.silent(mod):
        return []
    own = slips.integration_module(mod)
    keep = undefined.keep_of(contexts, mod)
    if not own and not keep and not _reads_unbound(mod):
        return []  # a library module whose module-level code reads only names it binds: pyflakes is not needed
    unbound = scopes.unbound(mod, keep)
    if not unbound:
        return []  # (the usual case; then how certainly each module-level line runs is not needed)
    runs = scopes.runs(mod)
    out = []
    seen: dict[str, Finding] = {}
    for u in sorted(unbound, key=lambda u: (u.node.lineno, u.node.col_offset)):
        level = undefined.level_of(ctx, mod, runs, u.node)
        if not level or (level < SPINE and not own):
            continue
        if u.star and slips.stars.provides(mod, u.name):
            continue
        span = mod.source.span(u.node)
        if span in slips.registration_spans():
            continue
        if u.name in seen:  # importing stops at the first use; the others are the same missing name
            seen[u.name].related.append((span, f"`{u.name}` is also used here"))
            continue
        data = slips.advisor.advice(mod, u.name, decorator=id(u.node) in _decorator_names(mod))
        when = "raises NameError here" if level == SPINE else "raises NameError here if this line runs"
        f = Finding(UNDEFINED_AT_IMPORT, f"`{u.name}` is not defined: importing {_rel(ctx, mod.path)} {when}"
                    f"{undefined.tail(data)}", span, severity=None if level == SPINE else Severity.WARNING, data=data)
        seen[u.name] = f
        out.append(f)
    return out


@per_text("reads_unbound", stored=True)
def _reads_unbound(mod) -> frozenset:
    """Names the module-level code reads that the module does not bind and builtins do not hold (kept with the
    text: an unchanged library module is not parsed again to learn it has none). Most library modules name at module
    level only what they bind: a plain collection of those names (``_named_at_module_level``) shows it, without the
    walk of what runs (a tenth of a cold open of a 100-module project)."""
    bound = scopes.module_names(mod)
    if not _named_at_module_level(mod) - bound - undefined.BUILTINS:
        return frozenset()
    return frozenset(scopes.runs(mod).loaded - bound - undefined.BUILTINS)


def _named_at_module_level(mod) -> set[str]:
    """Every name module-level code reads, deletes, updates (``x += 1``) or declares global (a superset of what
    ``scopes.runs`` finds it loads): each statement whole, except that of a def only its decorators, defaults and
    annotations count, and of a class its bases, keywords, decorators and body by the same rule."""
    out: set[str] = set()
    stack = list(mod.tree.body) if mod.tree is not None else []
    while stack:
        st = stack.pop()
        if isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef)):
            a = st.args
            parts = [*st.decorator_list, *a.defaults, *(d for d in a.kw_defaults if d is not None),
                     *(x.annotation for x in (*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg)
                       if x is not None and x.annotation is not None),
                     *([st.returns] if st.returns is not None else [])]
        elif isinstance(st, (ast.Import, ast.ImportFrom)):
            continue  # (binds names, reads none)
        elif isinstance(st, ast.ClassDef):
            parts = [*st.decorator_list, *st.bases, *st.keywords]
            stack.extend(st.body)
        else:
            parts = [st]
        for part in parts:
            for n in walk(part):
                if isinstance(n, ast.Name):
                    if not isinstance(n.ctx, ast.Store):
                        out.add(n.id)
                elif isinstance(n, ast.AugAssign) and isinstance(n.target, ast.Name):
                    out.add(n.target.id)
                elif isinstance(n, (ast.Global, ast.Nonlocal)):
                    out.update(n.names)
    return out


@per_text("decorator_names")
def _decorator_names(mod) -> frozenset:
    """ids of the names decorators are called by (``@name`` / ``@name(...)``): their nearest SDK decorator first."""
    out = set()
    for d in (x for n in ast.walk(mod.tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
              for x in n.decorator_list):
        target = d.func if isinstance(d, ast.Call) else d
        if isinstance(target, ast.Name):
            out.add(id(target))
    return frozenset(out)


def _rel(ctx: CheckContext, path: str) -> str:
    return os.path.relpath(path, ctx.root).replace(os.sep, "/")


# --- TL112 -----------------------------------------------------------------------------------------
def _imports(ctx: CheckContext, mod, contexts, slips) -> list[Finding]:
    resolved = getattr(ctx.resolver, "resolved", {})
    own = slips.integration_module(mod)
    levels = None
    out = []
    for ref in mod.imports:
        if ref.bound is not None or ref.optional or ref.names == [("*", "*")]:  # `import x`, guarded, star
            continue
        src = ctx.modules.get(resolved.get((mod.path, ref.index, ""), ""))
        if src is None or not src.parsed:
            continue
        # node-free first: the names the source module provides (most imports) need no tree of either module
        missing = {orig for orig, _ in ref.names
                   if (mod.path, ref.index, orig) not in resolved and not undefined.provides(slips.stars, src, orig)}
        if not missing:
            continue
        levels = levels if levels is not None else _import_levels(mod, contexts)
        node = ref.node
        level, who = levels.get(id(node), (0, None))
        if not isinstance(node, ast.ImportFrom) or not level or (level < SPINE and not own):
            continue
        for alias in node.names:
            if alias.name not in missing:
                continue
            if os.path.basename(src.path) == "__init__.py" and _other_submodule(src.path, alias.name):
                continue
            guess = undefined.nearest(alias.name, [n for n in scopes.module_names(src) if not n.startswith("_")])
            written = "." * (node.level or 0) + (node.module or "")
            where = _rel(ctx, src.path)
            when = f"{who or 'importing ' + _rel(ctx, mod.path)} raises ImportError here" + ("" if level == SPINE else " if this line runs")
            dym = f"; did you mean `{guess}`?" if guess else "."
            span = mod.source.span(alias) if hasattr(alias, "lineno") else mod.source.span(node)
            out.append(Finding(UNRESOLVED_IMPORT, f"`{alias.name}` is not defined in {where}: {when}{dym}", span,
                               severity=None if level == SPINE else Severity.WARNING,
                               data=ImportedName(alias.name, written, guess)))
    return out


def _import_levels(mod, contexts) -> dict:
    """id(ImportFrom node) -> (how certainly it runs, who runs it): at import, or in a function that runs."""
    levels = {id(node): (c, None) for node, c in scopes.runs(mod).imports}
    for ctxt in contexts:
        for node, c in scopes.runs(mod, ctxt.node).imports:
            level = min(c, ctxt.certainty)
            if level > levels.get(id(node), (0,))[0]:
                levels[id(node)] = (level, ctxt.who)
    return levels


def _other_submodule(init_path: str, name: str) -> bool:
    """A submodule that is not a .py file (a compiled extension, a data package) beside a package's __init__."""
    folder = os.path.dirname(init_path)
    try:
        return any(e.split(".", 1)[0] == name for e in os.listdir(folder))
    except OSError:
        return True


# --- one root cause, one finding ---------------------------------------------------------------------
_IMPORT_TIME = (UNDEFINED_AT_IMPORT, UNRESOLVED_IMPORT, UNDEFINED_FUNCTION)


def _fails_import(f: Finding) -> bool:
    if f.effective_severity is not Severity.ERROR:
        return False
    if f.code in _IMPORT_TIME:
        return not isinstance(f.data, FunctionKind) or f.code == UNDEFINED_FUNCTION
    return f.code == SDK_API_MISSING and ("ImportError" in f.message or "ModuleNotFoundError" in f.message)


def _would_register(f: Finding) -> Kind | None:
    """The kind of part the failing code would register: its decorator's, or the kind its name looks like."""
    d = f.data
    if isinstance(d, UndefinedName) and d.suggestion in DECORATORS:
        return DECORATORS[d.suggestion].kind
    name = d.name if isinstance(d, (UndefinedName, ImportedName)) else getattr(d, "name", None)
    if isinstance(d, UndefinedName) and name in DECORATORS:
        return DECORATORS[name].kind
    return kind_of_name(name) if isinstance(d, ImportedName) and name else None


def kind_of_name(name: str) -> Kind | None:
    """The part a function name looks like (the registrar table's words; the generic "encode" last)."""
    low = name.lower()
    rows = sorted((r for r in ROWS if r.looks_like), key=lambda r: r.kind is Kind.INPUT)
    return next((r.kind for r in rows if any(w in low for w in r.looks_like[0])), None)


def _contains(outer: Span, inner: Span) -> bool:
    return outer.path == inner.path and (outer.line, outer.col) <= (inner.line, inner.col) and \
        (inner.end_line, inner.end_col) <= (outer.end_line, outer.end_col)


_SIGNATURES = (PREPROCESS_PARAMS, ENCODER_SIGNATURE, INTEGRATION_TEST_SIGNATURE, NO_ARGUMENTS, ADVANCED_SIGNATURE,
               SIMULATION_PARAMS)


def _same_function(ctx: CheckContext, header: Span, use: Span) -> bool:
    """``use`` lies in the body of the def whose header holds ``header``."""
    mod = ctx.modules.get(use.path)
    if mod is None or mod.tree is None or header.path != use.path:
        return False
    return any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.lineno - 1 <= header.line < n.body[0].lineno - 1
               and n.body[0].lineno - 1 <= use.line <= (n.end_lineno or n.lineno) - 1 for n in ast.walk(mod.tree))


def _callee(ctx: CheckContext, span: Span) -> str:
    mod = ctx.modules.get(span.path)
    text = mod.source.text_of(span) if mod is not None and mod.source is not None else ""
    return text.split("(", 1)[0].strip()


def _hidden_functions(ctx: CheckContext, host: Finding) -> set[str]:
    """Functions the failing code leaves undecorated or undefined: calling them is not a finding of its own."""
    if isinstance(host.data, ImportedName):
        return {host.data.name}
    mod = ctx.modules.get(host.span.path)
    if host.code != UNDEFINED_AT_IMPORT or mod is None or mod.tree is None:
        return set()
    return {n.name for n in ast.walk(mod.tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
            and any(d.lineno - 1 <= host.span.line <= (d.end_lineno or d.lineno) - 1 for d in n.decorator_list)}


def fold(findings: list[Finding], ctx: CheckContext) -> list[Finding]:
    hosts = [f for f in findings if _fails_import(f)]
    names = [f for f in findings if f.code == UNDEFINED_NAME and f.effective_severity is Severity.ERROR]
    signatures = [f for f in findings if f.code in _SIGNATURES]
    if not hosts and not names:
        return findings  # nothing fails at import, no name is undefined: nothing to fold
    copies: dict[int, Finding] = {}  # findings may be memoized per text: related info goes on copies

    def own(h: Finding) -> Finding:
        if id(h) not in copies:
            copies[id(h)] = replace(h, related=list(h.related))
        return copies[id(h)]

    out = []
    for f in findings:
        host = None
        if hosts and f.code in MISSING_PARTS:
            kind = f.data.missing if isinstance(f.data, MissingPart) else None
            host = next((h for h in hosts if (k := _would_register(h)) is not None and k.value == kind), hosts[0])
        elif f.code == UNDEFINED_NAME and isinstance(f.data, UndefinedName):
            # `acuracy` imported, `accuracy` used; a parameter removed: its uses belong to the signature finding
            host = next((h for h in hosts if isinstance(h.data, ImportedName) and h.span.path == f.span.path
                         and h.data.suggestion == f.data.name), None) or next(
                (h for h in signatures if _same_function(ctx, h.span, f.span)), None)
        elif f.code == UNRESOLVED_IMPORT and isinstance(f.data, FunctionKind):
            host = next((h for h in hosts if isinstance(h.data, ImportedName) and h.data.name == f.data.function), None)
        elif f.code == TEST_PLAIN_CALL:
            host = next((h for h in names if _contains(f.span, h.span)), None)
            callee = _callee(ctx, f.span) if host is None and hosts else ""
            host = host or next((h for h in hosts if callee and callee in _hidden_functions(ctx, h)), None)
        elif f.code == NOT_IN_TEST and isinstance(f.data, NotInTest):
            host = next((h for h in names if isinstance(h.data, UndefinedName)
                         and h.data.suggestion == f.data.function), None)
        if host is None:
            out.append(f)
        else:
            own(host).related.append((f.span, f.message))
    return [copies.get(id(f), f) for f in out]
