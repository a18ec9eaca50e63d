"""Which line of the user's project a failure, a registration or a function is at."""

from __future__ import annotations

import os
import traceback
from typing import Any, Optional

from tensorleap_ls_child.protocol import Problem
from tensorleap_ls_child.state import STATE, scrub

_PACKAGE = os.path.dirname(os.path.abspath(__file__))

# --- where did it happen ----------------------------------------------------------------------
def user_frame(tb, root: str) -> tuple[str | None, int | None]:
    """The innermost traceback frame in the user's project (not site-packages, not this file)."""
    best = (None, None)
    for fs in traceback.extract_tb(tb):
        if fs.filename.startswith("<"):  # generated code (dataclass __init__...): not a user line
            continue
        f = os.path.abspath(fs.filename)
        if f.startswith(root + os.sep) and "site-packages" not in f and os.path.dirname(f) != _PACKAGE:
            best = (f, fs.lineno)
    return best


def error_info(e: BaseException, root: str, fallback=None) -> Problem:
    file, line = user_frame(e.__traceback__, root)
    if file is None and fallback is not None:
        file, line = fallback
    text = "".join(traceback.format_exception_only(type(e), e)).strip()
    return Problem(type=type(e).__name__, message=scrub(text[:2000]), file=file, line=line,
                   sdk="validation failed" in str(e) or type(e).__name__ == "LeapValidationError")


def fn_location(fn) -> tuple[str | None, int | None]:
    """File and line of the ``def`` (co_firstlineno is the first decorator's line)."""
    code = getattr(fn, "__code__", None)
    while code is None and hasattr(fn, "__wrapped__"):
        fn = fn.__wrapped__
        code = getattr(fn, "__code__", None)
    if code is None:
        return None, None
    import linecache

    line = code.co_firstlineno
    for offset in range(30):
        text = linecache.getline(code.co_filename, line + offset).lstrip()
        if text.startswith(("def ", "async def ", "class ")):
            return os.path.abspath(code.co_filename), line + offset
    return os.path.abspath(code.co_filename), line


def user_function(fn):
    """The user's function behind an SDK wrapper (closures hold it)."""
    root = STATE["root"] or ""
    seen = set()
    stack = [fn]
    while stack:
        f = stack.pop()
        if id(f) in seen or f is None:
            continue
        seen.add(id(f))
        file, _ = fn_location(f)
        if file and file.startswith(root + os.sep) and "site-packages" not in file:
            return f
        for cell in getattr(f, "__closure__", None) or ():
            try:
                v = cell.cell_contents
            except ValueError:
                continue
            if callable(v):
                stack.append(v)
    return fn


def chosen(h, name: str, wanted) -> bool:
    """Is the handler ``h``, registered as ``name``, one of ``wanted`` (Python or registered names; None: all)?"""
    if wanted is None:
        return True
    return name in wanted or getattr(user_function(h.function), "__name__", None) in wanted


def where(fn) -> list:
    f, line = fn_location(user_function(fn))
    return [f, line]


def _where_exc(e: BaseException, fn) -> list:
    file, line = user_frame(e.__traceback__, STATE["root"])
    return [file, line] if file else where(fn)


def _f(code: str, message: str, loc, sample: Any = None, subset: Optional[str] = None) -> Problem:
    """A finding at ``loc`` ([file, line] or None)."""
    file, line = (loc or [None, None])[:2]
    return Problem(code=code, message=scrub(message), file=file, line=line, sample=sample, subset=subset)


def _is_user(fn) -> bool:
    f, _ = fn_location(user_function(fn))
    return bool(f and STATE["root"] and f.startswith(STATE["root"] + os.sep))


def _ours(step, what: str, problems: list) -> None:
    """Runs one step of our own code on a user value: if it fails, the problem is ours (said so,
    with no user line), never the user's."""
    try:
        step()
    except Exception as e:  # noqa: BLE001
        problems.append(Problem(type="internal", internal=True,
                                message="tensorleap-ls failed while %s (%s: %s): not reported as a problem of your "
                                        "code; if this looks like a bug of tensorleap-ls, please report it"
                                        % (what, type(e).__name__, scrub(str(e))[:300])))
