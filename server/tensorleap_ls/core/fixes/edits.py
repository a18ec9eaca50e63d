"""What the fixers share: the finding's typed data, the module and lines of a file, small text edits.

Edits are minimal (an insertion, one replaced span) so that the rest of the file (comments,
formatting) stays as the user wrote it.
"""

from __future__ import annotations

import ast
from typing import TypeVar

from tensorleap_ls.core.fixes import stubs
from tensorleap_ls.core.fixdata import FixData
from tensorleap_ls.core.model import Binding, Finding, Span, TextEdit

D = TypeVar("D", bound=FixData)


def data_of(f: Finding, cls: type[D]) -> D | None:
    """``f``'s data when it is a ``cls`` (the class core/codes.py registers for ``f.code``), else None."""
    d = f.data
    return d if isinstance(d, cls) else None


def module(analysis, path: str):
    return analysis.modules.get(path)


def lines(analysis, path: str) -> list[str]:
    mod = module(analysis, path)
    if mod is not None and mod.source is not None:
        return mod.source.lines
    ly = getattr(analysis, "leap_yaml", None)
    text = ly.text if ly is not None and path == ly.path else ""
    return text.replace("\r\n", "\n").split("\n")


def text(analysis, span: Span) -> str:
    mod = module(analysis, span.path)
    return mod.source.text_of(span) if mod is not None and mod.source is not None else ""


def insert(path: str, line: int, col: int, new_text: str) -> TextEdit:
    return TextEdit(Span(path, line, col, line, col), new_text)


def with_imports(analysis, path: str, edits: list[TextEdit], names: set[str],
                 decorators: set[str] = frozenset()) -> list[TextEdit]:
    """``edits`` preceded by the imports of ``names`` / ``decorators`` the file lacks."""
    mod = module(analysis, path)
    if mod is None:
        return edits
    return stubs.import_edits(path, mod.tree, mod.source.lines, set(names), set(decorators)) + edits


def binding_of(analysis, function: str | None) -> Binding | None:
    if function is None:
        return None
    return next((b for b in analysis.bindings if b.function == function), None)


def insert_keyword(f: Finding, at: tuple[int, int] | None, new_text: str) -> list[TextEdit]:
    return [insert(f.span.path, at[0], at[1], new_text)] if at else []


def comma(analysis, f: Finding, at: tuple[int, int] | None) -> str:
    """What goes before a keyword appended to a call: ", " unless the call is empty or ends with a comma."""
    if not at:
        return ", "
    ls = lines(analysis, f.span.path)
    before = "\n".join(ls[max(0, at[0] - 3):at[0]] + [ls[at[0]][:at[1]]]).rstrip()
    if before.endswith("("):
        return ""
    return " " if before.endswith(",") else ", "


def expr_at(analysis, span: Span) -> ast.expr | None:
    """The expression whose span is exactly ``span``."""
    mod = module(analysis, span.path)
    if mod is None or mod.tree is None:
        return None
    for node in ast.walk(mod.tree):
        if isinstance(node, ast.expr) and getattr(node, "lineno", None) == span.line + 1 and mod.source.span(node) == span:
            return node
    return None


def free_name(mod, base: str) -> str:
    """``base``, or ``base_2``, ``base_3``... whichever the module does not define yet."""
    if base not in mod.defs and base not in mod.assigns:
        return base
    return next(f"{base}_{i}" for i in range(2, 1000) if f"{base}_{i}" not in mod.defs)
