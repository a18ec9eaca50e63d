"""Source text helpers: parse once, map ``ast`` byte offsets to code-point columns."""

from __future__ import annotations

import ast
import functools
import re
from dataclasses import dataclass, field

from tensorleap_ls.core.model import Span


@dataclass
class SourceFile:
    path: str
    text: str
    lines: list[str] = field(init=False)
    _ascii: list[bool] = field(init=False)

    def __post_init__(self) -> None:
        # splitlines would also split on \x0c, \x1c...; ast counts only \n, \r\n, \r.
        self.lines = self.text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        self._ascii = [ln.isascii() for ln in self.lines]

    def col(self, line0: int, byte_col: int) -> int:
        """Code-point column of a UTF-8 byte offset on 0-based ``line0``."""
        if line0 >= len(self.lines) or self._ascii[line0]:
            return byte_col
        return len(self.lines[line0].encode("utf-8")[:byte_col].decode("utf-8", errors="ignore"))

    def span(self, node: ast.AST) -> Span:
        line = node.lineno - 1  # type: ignore[attr-defined]
        end_line = (getattr(node, "end_lineno", None) or node.lineno) - 1  # type: ignore[attr-defined]
        end_byte = getattr(node, "end_col_offset", None)
        if end_byte is None:
            end_byte = node.col_offset  # type: ignore[attr-defined]
        return Span(
            self.path,
            line,
            self.col(line, node.col_offset),  # type: ignore[attr-defined]
            end_line,
            self.col(end_line, end_byte),
        )

    def def_name_span(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> Span:
        """Span of the name in ``def name(`` / ``class name``: where editors put the cursor."""
        line = node.lineno - 1
        text = self.lines[line] if line < len(self.lines) else ""
        start = self.col(line, node.col_offset)
        idx = text.find(node.name, start)
        if idx < 0:
            return self.span(node)
        return Span(self.path, line, idx, line, idx + len(node.name))

    def segment(self, node: ast.AST) -> str:
        """Source text of ``node`` (ast.get_source_segment re-splits the whole file per call)."""
        if getattr(node, "end_lineno", None) is None:
            return ""
        return self.text_of(self.span(node))

    def text_of(self, span: Span) -> str:
        if span.line == span.end_line:
            return self.lines[span.line][span.col:span.end_col] if span.line < len(self.lines) else ""
        parts = [self.lines[span.line][span.col:]]
        parts.extend(self.lines[span.line + 1:span.end_line])
        if span.end_line < len(self.lines):
            parts.append(self.lines[span.end_line][:span.end_col])
        return "\n".join(parts)

    def line_span(self, line0: int) -> Span:
        text = self.lines[line0] if 0 <= line0 < len(self.lines) else ""
        start = len(text) - len(text.lstrip())
        return Span(self.path, line0, start, line0, len(text))


class Words:
    """Does a text hold one of these words (``whole``: as a whole identifier)? ``str.__contains__`` per word,
    then a one-word pattern where it occurs: one alternation regex (``\b(?:a|b|...)\b``) tries every word at
    every position, about 15x slower on a 50 KB module."""

    def __init__(self, words, whole: bool = True):
        self.words = tuple(sorted(set(words)))
        self.whole = whole

    def search(self, text: str) -> bool:
        whole = self.whole
        return any(w in text and (not whole or _whole_word(w).search(text) is not None) for w in self.words)


@functools.lru_cache(maxsize=None)
def _whole_word(word: str) -> re.Pattern:
    """Compiled when the word first occurs in a text, not at import (the vocabularies are built at import)."""
    return re.compile(rf"\b{re.escape(word)}\b")


def dotted(node: ast.AST) -> str:
    """``a.b.c`` for a Name/Attribute chain ("" for anything else; calls end in "()").

    Iterative: a chain of a thousand ``.f()`` calls (which CPython compiles) must not hit the
    recursion limit."""
    parts: list[str] = []
    while True:
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if isinstance(node, ast.Name):
            parts.append(node.id)
        elif isinstance(node, ast.Call):
            inner = node.func
            if isinstance(inner, (ast.Attribute, ast.Name, ast.Call)):
                parts.append("()")  # glued to the name before it below
                node = inner
                continue
            parts.append("()")
        break
    out: list[str] = []
    for part in reversed(parts):
        if part == "()" and out:
            out[-1] += "()"
        else:
            out.append(part)
    return ".".join(out)


def mentions(node: ast.AST, name: str) -> bool:
    """Whether ``name`` appears in ``node`` as a name or an attribute (``__name__``,
    ``deco.tensorleap_integration_test``). ``ast.walk`` is iterative: a 1,000-deep expression, which
    CPython compiles, makes ``ast.dump`` (recursive) raise RecursionError."""
    return any((isinstance(n, ast.Name) and n.id == name) or (isinstance(n, ast.Attribute) and n.attr == name)
               for n in ast.walk(node))
