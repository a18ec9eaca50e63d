"""``compile()`` of module texts (TL190: what the parser accepts and the compiler rejects, such as
``f(a=1, a=2)``, ``return`` outside a function, ``nonlocal`` at module level), once per text, off the
server's event loop and under a time budget.

``ast.parse`` accepts these; Python's import fails on them, so the analysis compiles each module text
once. ``compile()`` holds the GIL for as long as it runs and some shapes are quadratic in CPython (a
call with 60,000 keyword arguments takes minutes; a mapping pattern, a function holding thousands of
nested defs): run in the server's process, one such file would freeze the event loop and every
request. So the texts go to a worker process of the server's own interpreter (``python -I -c``: it
compiles, it never executes anything, and it imports nothing of the workspace), started through the
trust gate by whoever owns the analysis (the LSP server, the CLI: ``spawn``), one request at a time:

- once per text: the verdict is kept by content digest (and in the persistent cache, engine/store.py),
  so an unchanged module is never compiled again, an edited one once per text;
- off the loop: the analysis thread waits on a pipe (the GIL is free), the worker compiles on the other
  core while the analysis parses and checks;
- under a budget (``BUDGET`` s plus one second per 200 KB of text): a compile that runs longer is
  stopped (the worker is killed and restarted), the text gets no verdict (no TL190, a log line), and
  it is never retried.

Without ``spawn`` (a library caller), texts are compiled in process, as before.

An edited text (``units=True``: a buffer open in the editor) is compiled a top-level statement at a time
(``_by_units``): what compile() finds beyond the parser (symbol tables, code generation) is local to a
top-level statement, given the module's ``from __future__`` flags, except a ``global`` / ``nonlocal`` in
module-level code (it reads the whole module's scope), which keeps the whole-text path. Each statement's verdict
is remembered by its text (``learn`` records every statement of a text that compiled as clean), so an edit inside
one function compiles that function, in process, in a fraction of a millisecond; the statements not remembered
go to the worker as a whole text when they are larger than ``IN_PROCESS`` (the budget above still holds them).
Two or more statements in error: the whole text decides (the first error of a whole compile depends on the
compiler's pass, not only on the order of the statements).
"""

from __future__ import annotations

import ast
import collections
import json
import logging
import os
import sys
import threading
import time
import warnings
import weakref
from typing import Callable, Optional

from tensorleap_ls.core import lazy

# constants only: the worker starts through the caller's ``spawn`` (the trust gate); imported when it starts
subprocess = lazy.Module("subprocess")

log = logging.getLogger(__name__)

# Seconds a compile may take, plus len(text) / 200_000 (TL_COMPILE_BUDGET: the tests shorten it).
BUDGET = float(os.environ.get("TL_COMPILE_BUDGET") or 3.0)
_KEEP = 8192  # verdicts kept in memory (digest -> verdict)
_KEEP_UNITS = 20_000  # verdicts of top-level statements kept in memory (their text -> verdict)
# Characters of top-level statements not remembered that are compiled in process, on the analysis thread: small
# enough that no quadratic shape of CPython's compiler (issue 24's keyword bomb needs 300 KB) holds it long.
IN_PROCESS = 16_000
_UNKNOWN = object()

# (message, lineno, offset) of the SyntaxError compile() raised; None when the text compiles (or a
# compiler limit, not the user's syntax error, stopped it).
Verdict = Optional[tuple]

WORKER = r"""
import json, sys
try:
    import resource
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))  # a hostile text exhausts the worker, not the machine
except Exception:
    pass
inp, out = sys.stdin.buffer, sys.stdout.buffer
while True:
    head = inp.read(4)
    if len(head) < 4:
        break
    req = json.loads(inp.read(int.from_bytes(head, "big")))
    err = None
    try:
        compile(req["text"].replace("\x00", " "), req["path"], "exec", dont_inherit=True)
    except SyntaxError as e:
        err = [e.msg, e.lineno, e.offset]
    except (ValueError, RecursionError, MemoryError, OverflowError):
        err = None
    body = json.dumps({"id": req["id"], "error": err}).encode()
    out.write(len(body).to_bytes(4, "big") + body)
    out.flush()
"""


def compile_here(source: "str | ast.Module", path: str) -> Verdict:
    """The verdict of compiling ``source`` (a text, or its tree) in this process (library callers; the
    worker does the same with the text)."""
    try:
        compile(source.replace("\x00", " ") if isinstance(source, str) else source, path, "exec", dont_inherit=True)
    except SyntaxError as e:
        return (e.msg, e.lineno, e.offset)
    except (ValueError, RecursionError, MemoryError, OverflowError):
        pass
    return None


def units_of(text: str, tree: ast.Module) -> "tuple[list[tuple[int, str, list]], int] | None":
    """The text's top-level statements as (first line, text, statements), statements that share a line in one
    unit, the leading docstring and ``from __future__`` imports in the first; and the future flags every unit is
    compiled with. None where the units would not say what the whole text says: a ``global`` or ``nonlocal`` in
    module-level code, a ``__future__`` import that is not leading (or the word elsewhere)."""
    import __future__

    body = tree.body
    lead, flags = 0, 0
    if "__future__" in text:
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            lead = 1
        futures = 0
        while lead < len(body) and isinstance(body[lead], ast.ImportFrom) and body[lead].module == "__future__":
            for alias in body[lead].names:
                flags |= getattr(getattr(__future__, alias.name, None), "compiler_flag", 0)
            lead += 1
            futures += 1
        if text.count("__future__") != futures:
            return None
    if ("global" in text or "nonlocal" in text) and _module_level_declares(body):
        return None
    lines = text.replace("\x00", " ").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    out: list[tuple[int, str, list]] = []
    first, last, stmts = 0, 0, []
    for i, st in enumerate(body):
        start = min([st.lineno] + [d.lineno for d in getattr(st, "decorator_list", ())])
        end = getattr(st, "end_lineno", None) or st.lineno
        if stmts and (start > last and i >= max(lead, 1)):
            out.append((first, "\n".join(lines[first - 1:last]), stmts))
            stmts = []
        if not stmts:
            first = start
        stmts.append(st)
        last = max(last, end)
    if stmts:
        out.append((first, "\n".join(lines[first - 1:last]), stmts))
    return out, flags


def _module_level_declares(body: list) -> bool:
    """A ``global`` or ``nonlocal`` statement in module-level code (blocks included, defs and classes not)."""
    stack = list(body)
    while stack:
        st = stack.pop()
        if isinstance(st, (ast.Global, ast.Nonlocal)):
            return True
        if isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        for field in ("body", "orelse", "finalbody", "handlers", "cases"):
            stack.extend(x for x in getattr(st, field, ()) or () if isinstance(x, ast.AST))
    return False


def _compile_unit(stmts: list, path: str, flags: int) -> Verdict:
    """compile() of some top-level statements alone (their tree: already parsed), with the module's future flags."""
    try:
        with warnings.catch_warnings():  # the worker's defaults: a warning is not an error
            warnings.simplefilter("ignore")
            compile(ast.Module(body=stmts, type_ignores=[]), path, "exec", flags, dont_inherit=True)
    except SyntaxError as e:
        return (e.msg, e.lineno, e.offset)
    except (ValueError, RecursionError, MemoryError, OverflowError, TypeError):
        return _UNKNOWN  # type: ignore[return-value]
    return None


class Compiler:
    """Verdicts of ``compile()`` by content digest, from a worker process (see the module docstring)."""

    def __init__(self, spawn: Callable[..., object] | None = None, budget: float = BUDGET):
        self._spawn = spawn
        self.budget = budget
        self._verdicts: collections.OrderedDict[str, Verdict] = collections.OrderedDict()
        self._queue: collections.OrderedDict[str, tuple[str, str]] = collections.OrderedDict()  # sent, unanswered
        self._proc = None
        self._out = bytearray()  # requests not yet written into the worker's pipe (``_flush``)
        self._fd: int | None = None  # the pipe's descriptor, non-blocking (None: blocking writes)
        self._ids: dict[int, str] = {}
        self._next = 0
        self._head_since = 0.0  # when the oldest unanswered request became the worker's current one
        self._cond = threading.Condition()
        self._reader: threading.Thread | None = None
        self.compiled = 0  # texts compiled (worker or here): the tests count them
        self.over_budget: list[str] = []  # paths whose compile was stopped
        self.stopped: set[str] = set()  # their digests (no verdict: not kept in the persistent cache)
        # (top-level statement text, future flags) -> its verdict, the line relative to the statement's first
        self._units: collections.OrderedDict[tuple, Verdict] = collections.OrderedDict()
        self._learned: collections.OrderedDict[str, None] = collections.OrderedDict()  # digests learn() split
        self.units_compiled = 0  # top-level statements compiled alone (the tests count them)

    # --- API ----------------------------------------------------------------------------------
    def known(self, digest: str) -> bool:
        return digest in self._verdicts

    def remember(self, digest: str, verdict: Verdict) -> None:
        """A verdict read from the persistent cache."""
        with self._cond:
            self._keep(digest, verdict)

    def submit(self, digest: str, path: str, text: str, tree: ast.Module | None = None, units: bool = False) -> None:
        """Starts compiling ``text`` unless its verdict is known or on its way (returns at once; in
        process, without a worker, it compiles ``tree`` when given). ``units`` (an edited text, with its tree):
        from the verdicts of its top-level statements where they are remembered (see the module docstring)."""
        with self._cond:
            if digest in self._verdicts or digest in self._queue:
                return
            if units and tree is not None:
                verdict = self._by_units(path, text, tree)
                if verdict is not _UNKNOWN:
                    self.compiled += 1
                    self._keep(digest, verdict)
                    return
            if self._spawn is None:
                self.compiled += 1
                self._keep(digest, compile_here(tree if tree is not None else text, path))
                return
            self._queue[digest] = (path, text)
            if self._alive():
                self._send(digest)
            else:
                self._restart()

    def learn(self, digest: str, text: str, tree: ast.Module) -> None:
        """Remembers every top-level statement of a text that compiled clean as clean (whatever a whole text
        compiles, each of its units compiles alone: see ``units_of``), once per text: the next edit of it compiles
        only the statements it changed."""
        with self._cond:
            if digest in self._learned or digest not in self._verdicts or self._verdicts[digest] is not None:
                return
            self._learned[digest] = None
            if len(self._learned) > _KEEP:
                self._learned.popitem(last=False)
            split = units_of(text, tree)
            if split is None:
                return
            found, flags = split
            for _, unit, _ in found:
                self._keep_unit((unit, flags), None)

    def _by_units(self, path: str, text: str, tree: ast.Module):
        """The verdict of ``text`` from its top-level statements, those not remembered compiled here; _UNKNOWN when
        the whole text must decide (see the module docstring), or when none is remembered (a text never seen)."""
        split = units_of(text, tree)
        if split is None:
            return _UNKNOWN
        found, flags = split
        missing = [(first, unit, stmts) for first, unit, stmts in found if (unit, flags) not in self._units]
        if len(missing) == len(found) or sum(len(unit) for _, unit, _ in missing) > IN_PROCESS:
            return _UNKNOWN
        for first, unit, stmts in missing:
            verdict = _compile_unit(stmts, path, flags)
            if verdict is _UNKNOWN:
                return _UNKNOWN
            self.units_compiled += 1
            if verdict is not None:
                msg, lineno, offset = verdict
                verdict = (msg, lineno - first if isinstance(lineno, int) else lineno, offset)
            self._keep_unit((unit, flags), verdict)
        errors = []
        for first, unit, _ in found:
            verdict = self._units[(unit, flags)]
            self._units.move_to_end((unit, flags))
            if verdict is not None:
                msg, rel, offset = verdict
                errors.append((msg, rel + first if isinstance(rel, int) else rel, offset))
        if len(errors) > 1:
            return _UNKNOWN
        return errors[0] if errors else None

    def _keep_unit(self, key: tuple, verdict: Verdict) -> None:
        self._units[key] = verdict
        self._units.move_to_end(key)
        while len(self._units) > _KEEP_UNITS:
            self._units.popitem(last=False)

    def verdict(self, digest: str) -> Verdict:
        """The verdict of a submitted text: waits (the GIL free) for the worker, within the budget of
        each text ahead of it; None for a text over budget."""
        with self._cond:
            while digest not in self._verdicts:
                if digest not in self._queue:
                    return None  # never submitted (or dropped)
                head = next(iter(self._queue))
                path, text = self._queue[head]
                deadline = self._head_since + self.budget + len(text) / 200_000
                left = deadline - time.monotonic()
                if left <= 0 or (self._proc is not None and not self._alive()):
                    # over budget, or the worker died on this text (its memory limit): no verdict for it,
                    # never retried; the texts behind it go to a new worker
                    log.warning("compile() of %s stopped after %.1f s (%s): no TL190 verdict for this text", path,
                                time.monotonic() - self._head_since, "over budget" if left <= 0 else "worker died")
                    self.over_budget.append(path)
                    self.stopped.add(head)
                    self._queue.pop(head)
                    self._keep(head, None)
                    self._restart()
                    continue
                if self._proc is None:
                    self._restart()
                    continue
                self._flush()
                # (a request still partly here: the worker may be waiting for its end, not replying; look again soon)
                self._cond.wait(min(left, 0.005) if self._out else left)
            return self._verdicts[digest]

    def close(self) -> None:
        with self._cond:
            self._stop()

    # --- the worker ---------------------------------------------------------------------------
    def _keep(self, digest: str, verdict: Verdict) -> None:
        self._verdicts[digest] = verdict
        self._verdicts.move_to_end(digest)
        while len(self._verdicts) > _KEEP:
            self._verdicts.popitem(last=False)

    def _alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None  # type: ignore[attr-defined]

    def _restart(self) -> None:
        """A new worker; every unanswered text is sent again (the stuck one was dropped)."""
        self._stop()
        try:
            self._proc = self._spawn([sys.executable, "-I", "-c", WORKER], stdin=subprocess.PIPE,  # type: ignore[misc]
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        except Exception as e:  # noqa: BLE001 - refused or failed: compile here, as a library would
            log.warning("the compile worker cannot start (%s): compiling in process", e)
            self._spawn = None
            for digest, (path, text) in list(self._queue.items()):
                self.compiled += 1
                self._keep(digest, compile_here(text, path))
            self._queue.clear()
            self._cond.notify_all()
            return
        self._ids.clear()
        # the thread holds the compiler weakly: a compiler nobody uses any more is collected, and its
        # finalizer stops the worker (it would otherwise wait on its stdin for ever)
        self._reader = threading.Thread(target=_read, args=(weakref.ref(self), self._proc), daemon=True,
                                        name="tl-compile-reader")
        # Writes never wait for the worker: what the pipe (64 KB) cannot take now stays in ``_out`` and goes when the
        # worker has read (on its next reply, the next submit, or while a verdict is awaited). A blocking write held
        # the analysis while the worker compiled (a cold project sends 1.5 MB); a writer thread made every system call
        # of the analysis wait for the GIL (a tenth of a cold open).
        self._out = bytearray()
        try:
            os.set_blocking(self._proc.stdin.fileno(), False)  # type: ignore[union-attr]
            self._fd = self._proc.stdin.fileno()  # type: ignore[union-attr]
        except (OSError, AttributeError, ValueError):  # (no non-blocking pipes on this platform: blocking writes)
            self._fd = None
        weakref.finalize(self, _kill, self._proc)
        self._reader.start()
        self._head_since = time.monotonic()
        for digest in list(self._queue):
            self._send(digest)

    def _send(self, digest: str) -> None:
        path, text = self._queue[digest]
        self._next += 1
        self._ids[self._next] = digest
        body = json.dumps({"id": self._next, "path": path, "text": text}).encode("utf-8", "surrogatepass")
        if len(self._queue) == 1:
            self._head_since = time.monotonic()
        self._out += len(body).to_bytes(4, "big") + body
        self._flush()

    def _flush(self) -> None:
        """Writes what the worker's pipe takes now of the pending requests (all of it with blocking writes)."""
        if not self._out or self._proc is None:
            return
        try:
            if self._fd is None:
                self._proc.stdin.write(self._out)  # type: ignore[union-attr]
                self._proc.stdin.flush()  # type: ignore[union-attr]
                self._out.clear()
                return
            while self._out:
                with memoryview(self._out) as view:
                    n = os.write(self._fd, view[:1 << 20])
                if not n:  # (a full non-blocking pipe on Windows takes nothing instead of raising)
                    break
                del self._out[:n]
        except BlockingIOError:
            pass  # the pipe is full: the rest goes when the worker has read
        except (OSError, ValueError):
            self._out.clear()  # the worker died: verdict() restarts it (and sends the unanswered texts again)

    def _reply(self, proc, reply: dict) -> bool:
        with self._cond:
            if proc is not self._proc:
                return False
            digest = self._ids.pop(reply["id"], None)
            if digest is not None and self._queue.pop(digest, None) is not None:
                self.compiled += 1
                err = reply.get("error")
                self._keep(digest, tuple(err) if err else None)
                self._head_since = time.monotonic()
            self._flush()  # the worker reads its next request now: room in the pipe
            self._cond.notify_all()
            return True

    def _stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            _kill(proc)  # its reader thread then reads the end of the pipe and stops
        self._cond.notify_all()


def _read(ref: "weakref.ref[Compiler]", proc) -> None:
    out = proc.stdout
    while True:
        try:
            head = out.read(4)
            if len(head) < 4:
                break
            reply = json.loads(out.read(int.from_bytes(head, "big")))
        except (OSError, ValueError):
            break
        compiler = ref()
        if compiler is None or not compiler._reply(proc, reply):  # noqa: SLF001
            return
        del compiler
    compiler = ref()
    if compiler is not None:
        with compiler._cond:  # noqa: SLF001
            compiler._cond.notify_all()  # noqa: SLF001


def _kill(proc) -> None:
    try:
        proc.kill()
        proc.wait(timeout=5)
        proc.stdin.close()
    except Exception:  # noqa: BLE001 - already gone
        pass
