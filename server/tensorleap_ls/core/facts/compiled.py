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
import weakref
from typing import Callable, Optional

from tensorleap_ls.core import lazy

# constants only: the worker starts through the caller's ``spawn`` (the trust gate); imported when it starts
subprocess = lazy.Module("subprocess")

log = logging.getLogger(__name__)

# Seconds a compile may take, plus len(text) / 200_000 (TL_COMPILE_BUDGET: the tests shorten it).
BUDGET = float(os.environ.get("TL_COMPILE_BUDGET") or 3.0)
_KEEP = 8192  # verdicts kept in memory (digest -> verdict)

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


class Compiler:
    """Verdicts of ``compile()`` by content digest, from a worker process (see the module docstring)."""

    def __init__(self, spawn: Callable[..., object] | None = None, budget: float = BUDGET):
        self._spawn = spawn
        self.budget = budget
        self._verdicts: collections.OrderedDict[str, Verdict] = collections.OrderedDict()
        self._queue: collections.OrderedDict[str, tuple[str, str]] = collections.OrderedDict()  # sent, unanswered
        self._proc = None
        self._ids: dict[int, str] = {}
        self._next = 0
        self._head_since = 0.0  # when the oldest unanswered request became the worker's current one
        self._cond = threading.Condition()
        self._reader: threading.Thread | None = None
        self.compiled = 0  # texts compiled (worker or here): the tests count them
        self.over_budget: list[str] = []  # paths whose compile was stopped
        self.stopped: set[str] = set()  # their digests (no verdict: not kept in the persistent cache)

    # --- API ----------------------------------------------------------------------------------
    def known(self, digest: str) -> bool:
        return digest in self._verdicts

    def remember(self, digest: str, verdict: Verdict) -> None:
        """A verdict read from the persistent cache."""
        with self._cond:
            self._keep(digest, verdict)

    def submit(self, digest: str, path: str, text: str, tree: ast.Module | None = None) -> None:
        """Starts compiling ``text`` unless its verdict is known or on its way (returns at once; in
        process, without a worker, it compiles ``tree`` when given)."""
        with self._cond:
            if digest in self._verdicts or digest in self._queue:
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
                self._cond.wait(left)
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
        try:
            self._proc.stdin.write(len(body).to_bytes(4, "big") + body)  # type: ignore[union-attr]
            self._proc.stdin.flush()  # type: ignore[union-attr]
        except (OSError, ValueError):
            pass  # the worker died: verdict() restarts it

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
