"""One root cause, one diagnostic, and run-time findings that stay true.

A float64 encoder fails three ways: the static TL223 (visible ``astype(np.float64)``), the run-time
TL504 on the encoder, and the integration test's TL523 ("input_encoder() validation failed").
The run-time finding on the function is the one diagnostic; the test failure becomes its related
information and the static warning it confirms is dropped. A run-time finding is about the text of
one function: when that text changes, the finding is withdrawn (the next run says the truth).
"""

from __future__ import annotations

import ast
import re
from dataclasses import replace
from typing import Callable, Iterable

from tensorleap_ls.core.model import Binding, Finding, Span
from tensorleap_ls.core.codes import (
    ENCODER_DTYPE, ENCODER_NOT_ARRAY, GT_RETURNS_NONE, METADATA_NON_SCALAR, RUN_DTYPE, RUN_INTEGRATION_TEST,
    RUN_METADATA_VALUE, RUN_NOT_ARRAY,
)

TextOf = Callable[[str], "str | None"]

_VALIDATION = re.compile(r"(\w+)\(\) validation failed")
# static code -> the run-time code that confirms the same mistake in the same function
CONFIRMED_BY = {ENCODER_DTYPE: RUN_DTYPE, ENCODER_NOT_ARRAY: RUN_NOT_ARRAY, GT_RETURNS_NONE: RUN_NOT_ARRAY, METADATA_NON_SCALAR: RUN_METADATA_VALUE}


def function_range(text: str | None, line: int) -> tuple[int, int] | None:
    """(first, last) 0-based lines of the innermost function holding ``line`` (decorators included)."""
    if text is None:
        return None
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return None
    best = None
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list]) - 1
            last = (node.end_lineno or node.lineno) - 1
            if first <= line <= last and (best is None or first >= best[0]):
                best = (first, last)
    return best


def _same_function(a: Span, b: Span, text_of: TextOf) -> bool:
    if a.path != b.path:
        return False
    rng = function_range(text_of(a.path), a.line)
    return rng is not None and rng[0] <= b.line <= rng[1]


def absorb_test_failures(findings: list[Finding], bindings: Iterable[Binding], text_of: TextOf) -> list[Finding]:
    """TL523 naming a function that has its own run-time finding becomes that finding's related info;
    so does a TL523 at the very line of another run-time finding (one ``raise`` in an encoder fails the
    encoder's check and the integration test that calls it: one diagnostic, at that line)."""
    spans = {b.function: b.def_span for b in bindings if b.function and b.def_span is not None}
    out = [f for f in findings if f.code != RUN_INTEGRATION_TEST]
    for test in (f for f in findings if f.code == RUN_INTEGRATION_TEST):
        m = _VALIDATION.search(test.message)
        span = spans.get(m.group(1)) if m else None
        host = next((f for f in out if f.code.startswith("TL5") and (
            (span is not None and _same_function(span, f.span, text_of))
            or (f.span.path == test.span.path and f.span.line == test.span.line))), None)
        if host is None:
            out.append(test)
        else:
            host.related.append((test.span, test.message))
    return out


def absorb_test_problems(problems: list[dict]) -> list[dict]:
    """The preview's problems (plain dicts) by the same rule: the integration test's failure at the line
    of another run-time problem is that problem, said once."""
    at = {(p.get("file"), p.get("line")) for p in problems if p.get("code") and p.get("code") != RUN_INTEGRATION_TEST}
    return [p for p in problems if not (p.get("code") == RUN_INTEGRATION_TEST and (p.get("file"), p.get("line")) in at)]


def drop_confirmed(static: list[Finding], dynamic: list[Finding], text_of: TextOf) -> list[Finding]:
    """Static warnings that a run-time finding in the same function confirms (and says better)."""
    if not dynamic:
        return static
    return [s for s in static if not any(d.code == CONFIRMED_BY.get(s.code) and _same_function(d.span, s.span, text_of)
                                         for d in dynamic)]


def anchor(f: Finding, text_of: TextOf) -> tuple[int, str] | None:
    """(first line, source) of the function a run-time finding is about; None outside functions."""
    text = text_of(f.span.path)
    rng = function_range(text, f.span.line)
    if text is None or rng is None:
        return None
    lines = text.replace("\r\n", "\n").split("\n")
    return rng[0], "\n".join(lines[rng[0]:rng[1] + 1])


def _unchanged_at(text: str, source: str, near: int) -> int | None:
    """The 0-based line where the function ``source`` stands whole in ``text`` (nearest ``near``): whole
    lines, and the next non-blank line not inside it (indented no deeper than its ``def``); None when the
    function's text changed (``return 1`` edited to ``return 10``, a line added to its body)."""
    indent = len(source) - len(source.lstrip(" \t"))
    found, at = [], text.find(source)
    while at >= 0:
        end = at + len(source)
        if (at == 0 or text[at - 1] == "\n") and (end == len(text) or text[end] == "\n"):
            rest = (ln for ln in text[end + 1:].split("\n") if ln.strip())
            after = next(rest, None)
            if after is None or len(after) - len(after.lstrip(" \t")) <= indent:
                found.append(text.count("\n", 0, at))
        at = text.find(source, at + 1)
    return min(found, key=lambda ln: abs(ln - near)) if found else None


def still_true(f: Finding, where: tuple[int, str] | None, text: str) -> Finding | None:
    """The finding against the new text of its file: moved with its function if that function is
    unchanged, None (withdrawn) if the function's text changed or the finding is outside functions."""
    if where is None:
        return None
    first, source = where
    text = text.replace("\r\n", "\n")
    line = _unchanged_at(text, source, first)
    if line is None:
        return None
    delta = line - first
    if delta == 0:
        return f
    s = f.span
    return replace(f, span=Span(s.path, s.line + delta, s.col, s.end_line + delta, s.end_col))
