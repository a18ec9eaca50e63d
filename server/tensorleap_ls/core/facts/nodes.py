"""What is kept on a node between edits: the walks of a def, and the answers checks compute per top-level statement.

source/parse.py shares the unchanged top-level statements of a file between its texts, and a tree is never
changed, so what a walk of a node finds is the same for as long as the node lives: the checks that walk the
same functions on every analysis (the integration test's body, the registered functions) walk each once, and a
check that reads each statement alone keeps its answer on it (``kept_on``) by what else it reads. What is kept
is never the node itself (a node holding itself would be a reference cycle: garbage the frozen server never
collects).
"""

from __future__ import annotations

import ast

from tensorleap_ls.core.facts.modules import index_of, per_text, walk


def under(node: ast.AST, types: type | tuple | None = None) -> tuple:
    """The nodes under ``node`` (not itself) in ``ast.walk`` order; those of ``types`` only, when given."""
    kept = node.__dict__.get("_tl_under")
    if kept is None or kept[0] != id(node):  # a copy.copy of a node carries its original's (facts/scopes.py)
        kept = node._tl_under = (id(node), {})
    found = kept[1].get(types)
    if found is None:
        every = kept[1].get(None)
        if every is None:
            it = walk(node)
            next(it)
            every = kept[1][None] = tuple(it)
        found = kept[1][types] = every if types is None else tuple(n for n in every if isinstance(n, types))
    return found


def own(node: ast.AST, types: type | tuple) -> tuple:
    """The nodes of ``types`` in the body of ``node`` (a function, or a module's top level), not in nested
    functions, lambdas or classes, in the order checks/returns.py ``own_nodes`` gives them."""
    kept = node.__dict__.get("_tl_own")
    if kept is None or kept[0] != id(node):
        kept = node._tl_own = (id(node), {})
    found = kept[1].get(types)
    if found is None:
        out = []
        stack = list(node.body)
        while stack:
            n = stack.pop()
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
                continue
            if isinstance(n, types):
                out.append(n)
            stack.extend(ast.iter_child_nodes(n))
        found = kept[1][types] = tuple(out)
    return found


def statement_calls(mod) -> list[tuple[ast.stmt, list]]:
    """Each top-level statement of ``mod`` with its calls, in ``calls_of``'s order (the parts of ``index_of``'s one
    walk): a check that reads each call alone keeps its answer per statement, and an edit asks again for the
    statement it changed."""
    return [(st, calls) for st, calls, _ in statement_index(mod)]  # (a list per call: cheap beside the walk)


@per_text("statement_index")
def statement_index(mod) -> list[tuple[ast.stmt, list, list]]:
    """Each top-level statement of ``mod`` with its calls and its defs (itself first when it is one), in the order of
    ``index_of``'s ``calls`` and ``defs`` (once per text, for the checks that keep answers per statement)."""
    index_of(mod)  # each statement's part of the walk, kept on it
    out = []
    for st in mod.tree.body if mod.tree is not None else ():
        part = st.__dict__.get("_tl_index")
        if part is None:  # (index_of keeps one on every statement)
            calls, defs = list(under(st, ast.Call)), list(under(st, (ast.FunctionDef, ast.AsyncFunctionDef)))
        else:
            calls, defs = part[0], part[1]
        out.append((st, calls, [st, *defs] if isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef)) else defs))
    return out


def kept_on(st: ast.stmt, name: str, key, compute):
    """``compute()`` kept on the statement ``st`` under ``name`` while ``key`` holds (``key`` holds everything the
    answer reads besides the statement itself, the module's path included: a text shared by two files)."""
    kept = st.__dict__.get(name)
    if kept is not None and kept[0] == key:
        return kept[1]
    value = compute()
    st.__dict__[name] = (key, value)
    return value
