"""Server side of the runtime: one warm child per project, with limits.

The child (the ``tensorleap_ls_child`` package, ``python -m tensorleap_ls_child``) runs in the project's interpreter, in its own session, with an
address-space limit, a capped stderr, analytics disabled and ``IS_TENSORLEAP_PLATFORM`` removed.
The process started is the child's *guardian*: it forks the worker that runs the user's code,
is a subreaper for everything that code starts, and kills all of it when its guard pipe closes
(``kill()`` closes it; so does the end of the server, however it ends) or when the worker ends.
A hang is located by asking the child for its stack (faulthandler on SIGUSR1) before killing
it; a crash by the faulthandler dump. After any fault the next request gets a fresh child.
Every message is scrubbed of the secret and made strict JSON again here (user code can write to
the channel too), then parsed into the reply dataclass of its request (``protocol.py``).
"""

from __future__ import annotations

import functools
import json
import os
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from tensorleap_ls.runtime import interpreter
from tensorleap_ls.runtime.child.tensorleap_ls_child import protocol, wire
from tensorleap_ls.core.codes import RUN_CRASH, RUN_EXIT, RUN_IMPORT_FAILED, RUN_MEMORY, RUN_TIMEOUT

try:
    import resource
except ImportError:  # Windows: no address-space limit on the child (docs/runtime.md, "Limits")
    resource = None

# the folder holding only the child's package: the one entry the child's sys.path gets from us
CHILD_PATH = str(Path(__file__).with_name("child"))
CHILD_PACKAGE = os.sep + "tensorleap_ls_child" + os.sep
# POSIX only; on Windows the child is killed with TerminateProcess and has no stack dump on a hang.
_SIGKILL = getattr(signal, "SIGKILL", None)
_SIGUSR1 = getattr(signal, "SIGUSR1", None)
_FRAME = re.compile(r'^\s*File "(.+)", line (\d+) in (.+)$')
_SIGNALS = {getattr(signal, name): what for name, what in (
    ("SIGSEGV", "a segmentation fault"), ("SIGBUS", "a bus error"), ("SIGABRT", "an abort"),
    ("SIGFPE", "a floating-point exception"), ("SIGILL", "an illegal instruction"),
    ("SIGKILL", "SIGKILL (out of memory or killed)")) if hasattr(signal, name)}


@dataclass
class Limits:
    timeout_s: float = 30.0
    preprocess_timeout_s: float = 300.0
    memory_mb: int = 4096
    stderr_cap: int = 64 * 1024


# the server's environment variables the child never sees (the platform's flags; PYTHONPATH is ours)
_NOT_PASSED = ("IS_TENSORLEAP_PLATFORM", "PYTHONPATH", "__MAPPING_RUNTIME_MODE__")
_PR_SET_CHILD_SUBREAPER = 36


def child_env(auth_secret: str | None = None, **extra: str) -> dict[str, str]:
    """The environment of a process that runs user code with the child's package: not the platform's
    mode, no analytics, only the child's folder added to the path, the secret passed through."""
    env = {k: v for k, v in os.environ.items() if k not in _NOT_PASSED}
    env.update(TL_DISABLE_ANALYTICS="1", PYTHONUNBUFFERED="1", PYTHONFAULTHANDLER="0", PYTHONPATH=CHILD_PATH, **extra)
    secret = auth_secret if auth_secret is not None else os.environ.get("AUTH_SECRET", "")
    if secret and isinstance(secret, str):
        env["AUTH_SECRET"] = secret
    return env


@functools.lru_cache(maxsize=1)
def _prctl():
    """libc's prctl (Linux), resolved in the server: nothing is loaded between fork and exec."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def preexec(memory_mb: int) -> Callable[[], None] | None:
    """What runs in a child of the project interpreter between fork and exec: the address-space
    limit, and (Linux) a subreaper from the first instruction, so that whatever the interpreter's
    start-up starts (a venv's ``.pth`` files run before our guardian does), double-forked daemons
    included, stays below it and is killed with it."""
    if os.name != "posix":
        return None
    memory = memory_mb * 1024 * 1024
    prctl = _prctl()

    def limit() -> None:
        try:
            if resource is not None and memory > 0:  # 0: no limit (the driver of a Ray cluster maps its store)
                resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        except (ValueError, OSError):
            pass
        if prctl is not None:
            prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)

    return limit


# bytes of one message from the child (a preview holds at most 24 MB of pixels, base64-encoded)
MAX_MESSAGE = 64 * 1024 * 1024
# ChildFault codes that are not findings: the run was stopped on purpose
CANCELLED, RESTARTED = "cancelled", "restarted"


class ChildFault(Exception):
    """The child died, hung or could not start. ``code`` is a TL5xx code (or CANCELLED /
    RESTARTED when we stopped it), ``where`` (file, line) or None."""

    def __init__(self, code: str, message: str, where: tuple[str, int] | None = None):
        super().__init__(message)
        self.code, self.message, self.where = code, message, where


@dataclass
class _Output:
    cap: int
    scrub: Callable[[str], str] = field(default=lambda s: s)
    head: bytearray = field(default_factory=bytearray)
    tail: bytearray = field(default_factory=bytearray)
    dropped: int = 0

    def add(self, data: bytes) -> None:
        if len(self.head) < self.cap // 4:
            take = self.cap // 4 - len(self.head)
            self.head += data[:take]
            data = data[take:]
        self.tail += data
        if len(self.tail) > self.cap:
            self.dropped += len(self.tail) - self.cap
            del self.tail[: len(self.tail) - self.cap]

    def text(self) -> str:
        t = self.head.decode("utf-8", "replace")
        if self.dropped:
            t += f"\n... [{self.dropped} bytes of output dropped] ...\n"
        t += self.tail.decode("utf-8", "replace")
        return self.scrub(t)


class Child:
    def __init__(self, python: str, root: str, entry: str, limits: Limits, auth_secret: str | None = None):
        self.root, self.entry, self.limits = root, entry, limits
        self._trace = tempfile.NamedTemporaryFile(prefix="tl-trace-", suffix=".txt", delete=False)
        self._trace.close()
        env = child_env(auth_secret, TL_TRACE_FILE=self._trace.name)
        secret = env.get("AUTH_SECRET")
        self.scrub = wire.Scrubber(secret if isinstance(secret, str) else None)
        # the guardian's lifeline: only this process holds the write end; it closes when we
        # close it or when this process ends in any way (SIGKILL included)
        guard_r, self._guard_w = os.pipe()
        env["TL_GUARD_FD"] = str(guard_r)
        self.stopped: str | None = None  # CANCELLED / RESTARTED once we stop it on purpose
        self._ending = False
        self._guard_lock = threading.Lock()  # the pipe's fd is closed once, whichever thread ends the child
        self.output = _Output(limits.stderr_cap, self.scrub)
        self._responses: queue.Queue = queue.Queue()
        self.progress: Callable[[protocol.Progress], None] | None = None
        try:
            self.proc = interpreter.start_user_code(  # the trust gate
                [python, "-X", "utf8", "-m", "tensorleap_ls_child"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, cwd=root, env=env, start_new_session=True,
                preexec_fn=preexec(limits.memory_mb), pass_fds=(guard_r,),
            )
        except BaseException:
            os.close(self._guard_w)
            os.unlink(self._trace.name)
            raise
        finally:
            os.close(guard_r)
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()
        self._ids = 0
        self._beat = time.monotonic()
        self._lock = threading.Lock()

    # --- pipes ----------------------------------------------------------------------------
    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        while True:
            line = self.proc.stdout.readline(MAX_MESSAGE)
            if not line:
                break
            if not line.endswith(b"\n"):  # larger than any honest message: drop it whole
                while line and not line.endswith(b"\n"):
                    line = self.proc.stdout.readline(MAX_MESSAGE)
                self.output.add(b"\n[tensorleap-ls: a message of the child over %d MB was dropped]\n" % (MAX_MESSAGE >> 20))
                continue
            try:  # the second line: whatever user code wrote there, it leaves scrubbed and strict
                msg = wire.clean(json.loads(line), self.scrub)
            except ValueError:
                continue
            if not isinstance(msg, dict):
                continue
            if "progress" in msg and "id" not in msg:
                self._beat = time.monotonic()
                if self.progress:
                    self.progress(protocol.Progress.from_wire(msg))
                continue
            self._responses.put(msg)
        self._responses.put(None)  # EOF: the child is gone

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        _drain(self.proc.stderr, self.output)

    # --- requests -------------------------------------------------------------------------
    def alive(self) -> bool:
        """Running and not being ended (a cancelled child may take a moment to die: the next
        request must get a fresh one, not wait for it)."""
        return not self._ending and self.proc.poll() is None

    def request(self, req: protocol.Request, timeout: float, cancel: threading.Event | None = None,
                beat_timeout: float | None = None) -> protocol.Reply:
        """Sends ``req`` and waits for its answer: ``timeout`` until the child's first progress
        message (preprocess may be long), then ``beat_timeout`` between progress messages."""
        with self._lock:
            self._ids += 1
            rid = self._ids
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write((json.dumps(req.to_wire(rid)) + "\n").encode("utf-8"))
                self.proc.stdin.flush()
            except (BrokenPipeError, OSError):
                raise self._death() from None
            self._beat = start = time.monotonic()
            while True:
                # a progress message from the child restarts the clock: the limit is per call, not per run
                if self._beat > start and beat_timeout is not None:
                    left = self._beat + beat_timeout - time.monotonic()
                    timeout = beat_timeout
                else:
                    left = max(start, self._beat) + timeout - time.monotonic()
                if left <= 0:
                    raise self._hang(timeout)
                if cancel is not None and cancel.is_set():
                    self.kill(CANCELLED)
                    raise ChildFault(CANCELLED, "the run was cancelled")
                try:
                    msg = self._responses.get(timeout=min(left, 0.1))
                except queue.Empty:
                    continue
                if msg is None:
                    raise self._death()
                if msg.get("id") == rid:
                    return req.REPLY.from_wire(msg)

    def _hang(self, timeout: float) -> ChildFault:
        where = None
        try:
            if _SIGUSR1 is not None:
                os.kill(self.proc.pid, _SIGUSR1)  # faulthandler dumps the current stack
                time.sleep(0.3)
                where = self._user_frame()
        except OSError:
            pass
        self.kill()
        return ChildFault(RUN_TIMEOUT, f"the call did not finish within {timeout:g} s (killed)", where)

    def _death(self) -> ChildFault:
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()
            code = self.proc.returncode
        if self.stopped:  # we stopped it (a save, a cancel): not a fault of the user's code
            return ChildFault(self.stopped, "the run was cancelled" if self.stopped == CANCELLED else
                              "the project changed during the run; the child was restarted")
        where = self._user_frame()
        trace = Path(self._trace.name).read_text(encoding="utf-8", errors="replace") if os.path.exists(self._trace.name) else ""
        if code is not None and code < 0:
            sig = -code
            what = _SIGNALS.get(sig, f"signal {sig}")
            if sig == _SIGKILL:
                return ChildFault(RUN_MEMORY, f"the child process was killed ({what})", where)
            return ChildFault(RUN_CRASH, f"the child process died of {what}", where)
        if "os._exit(" in trace:
            return ChildFault(RUN_CRASH, f"user code called os._exit({code})", where)
        tail = self.output.text().strip().splitlines()[-3:]
        return ChildFault(RUN_CRASH, f"the child process exited with code {code}" + (f": {' | '.join(tail)}" if tail else ""),
                          where)

    def _user_frame(self) -> tuple[str, int] | None:
        """The innermost frame in the project from the last faulthandler dump."""
        try:
            text = Path(self._trace.name).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None
        blocks = [b for b in re.split(r"\n(?=Fatal Python error|Current thread|Thread 0x|Stack \(most recent|os\._exit)", text) if b.strip()]
        for block in reversed(blocks):
            for line in block.splitlines():  # most recent call first
                m = _FRAME.match(line)
                if m:
                    f = os.path.abspath(m.group(1))
                    if f.startswith(self.root + os.sep) and "site-packages" not in f and CHILD_PACKAGE not in f:
                        return f, int(m.group(2))
        return None

    def kill(self, reason: str | None = None) -> None:
        """Ends the child and everything it started: closing the guard pipe makes the guardian
        kill every descendant (new sessions included); the process group is the fallback."""
        if reason and not self.stopped:
            self.stopped = reason
        self._ending = True
        self._close_guard()
        _end(self.proc)

    def _close_guard(self) -> None:
        with self._guard_lock:
            fd, self._guard_w = self._guard_w, -1
        if fd >= 0:
            os.close(fd)

    def close(self, reason: str | None = None) -> None:
        if self.proc.poll() is None:
            self.kill(reason)
        else:
            self._close_guard()
        try:
            os.unlink(self._trace.name)
        except OSError:
            pass


def _drain(stream, sink: _Output) -> None:
    while True:
        data = stream.read1(65536) if hasattr(stream, "read1") else stream.read(65536)
        if not data:
            return
        sink.add(data)


def _end(proc: subprocess.Popen) -> None:
    """After its guard pipe closed: a moment for the guardian to kill what is below it, then the
    process group (the fallback when there is no guardian: Windows, an interpreter too old for it)."""
    try:
        proc.wait(timeout=3)
    except subprocess.TimeoutExpired:
        pass
    try:
        if hasattr(os, "killpg"):
            os.killpg(proc.pid, _SIGKILL)
        else:
            proc.kill()
    except (ProcessLookupError, PermissionError, OSError):
        pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


# --- helper scripts in the project interpreter (version probe, model reader, skeleton model) ---------
# The guardian first (an interpreter too old to import it, which only a version probe meets, runs the
# script without one: its process group and the memory limit still apply).
_GUARDED = ("try:\n    from tensorleap_ls_child.guard import guard as _tl_guard\nexcept Exception:\n"
            "    _tl_guard = None\nif _tl_guard is not None:\n    _tl_guard()\ndel _tl_guard\n")
SCRIPT_OUTPUT = 8 * 1024 * 1024  # bytes of a helper script's stdout kept (the answer is its last line)


def run_script(python: str, script: str, args: list[str] | tuple[str, ...] = (), *, root: str | None = None,
               user_code: bool = False, timeout: float = 120.0, memory_mb: int = Limits.memory_mb,
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``python -c script *args`` run as the child runs: through the trust gate, in a session of its
    own, under the memory limit, under the child's guardian (the interpreter's start-up, a venv's
    ``.pth`` files included, and everything they start are killed when the script ends, times out
    or the server goes away), in a neutral working directory, without the secret, output capped.
    Text output; ``subprocess.TimeoutExpired`` after ``timeout`` seconds (everything killed)."""
    env = {k: v for k, v in (os.environ if env is None else env).items() if k not in _NOT_PASSED + ("AUTH_SECRET",)}
    guard_r, guard_w = os.pipe()
    env.update(PYTHONPATH=CHILD_PATH, TL_GUARD_FD=str(guard_r), TL_DISABLE_ANALYTICS="1")
    try:
        proc = interpreter.popen(  # the trust gate
            [python, "-c", _GUARDED + script, *args], root=root, user_code=user_code, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=interpreter.NEUTRAL_CWD, env=env,
            start_new_session=True, preexec_fn=preexec(memory_mb), pass_fds=(guard_r,) if os.name == "posix" else ())
    except BaseException:
        os.close(guard_w)
        raise
    finally:
        os.close(guard_r)
    out, err = _Output(SCRIPT_OUTPUT), _Output(Limits.stderr_cap)
    readers = [threading.Thread(target=_drain, args=(stream, sink), daemon=True)
               for stream, sink in ((proc.stdout, out), (proc.stderr, err))]
    for t in readers:
        t.start()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        raise subprocess.TimeoutExpired([python], timeout) from None
    finally:
        os.close(guard_w)  # the guardian kills whatever is left below it
        _end(proc)
        for t in readers:
            t.join(timeout=5)
    return subprocess.CompletedProcess([python], proc.returncode, out.text(), err.text())


class Runner:
    """Warm children keyed by project; a project's child is replaced after a fault or a reload."""

    def __init__(self, limits: Limits | None = None):
        self.limits = limits or Limits()
        self._children: dict[tuple[str, str, str], Child] = {}
        self._setup: dict[tuple[str, str, str], protocol.Setup] = {}
        self._lock = threading.Lock()

    def child(self, python: str, root: str, entry: str, auth_secret: str | None = None) -> tuple[Child, protocol.Setup]:
        key = (python, root, entry)
        with self._lock:
            c = self._children.get(key)
            if c is not None and c.alive():
                return c, self._setup[key]
            if c is not None:
                c.close()
            c = Child(python, root, entry, self.limits, auth_secret)
            try:
                resp = c.request(protocol.Load(root=root, entry=entry, timeout_s=self.limits.timeout_s,
                                               preprocess_timeout_s=self.limits.preprocess_timeout_s),
                                 self.limits.preprocess_timeout_s + 5)
            except ChildFault:
                c.close()
                raise
            assert isinstance(resp, protocol.Loaded)
            if not resp.ok:
                c.close()
                err = resp.error or protocol.Problem(message=resp.message or "no reason given")
                where = (err.file, err.line) if err.file and err.line else None
                code = RUN_EXIT if resp.exit else RUN_MEMORY if err.type == "MemoryError" else RUN_IMPORT_FAILED
                raise ChildFault(code, f"importing the entry failed: {err.message}", where)
            self._children[key] = c
            self._setup[key] = resp.setup
            return c, self._setup[key]

    def invalidate(self, root: str | None = None, reason: str = RESTARTED) -> None:
        """A file of the closure (or a data file) changed: the next request re-imports. A run in
        progress ends with ChildFault(``reason``), not as a fault of the user's code."""
        with self._lock:
            for key in [k for k in self._children if root is None or k[1] == root]:
                self._children.pop(key).close(reason)
                self._setup.pop(key, None)

    def close(self) -> None:
        self.invalidate(None)

    def call(self, python: str, root: str, entry: str, req: protocol.Request | dict, timeout: float | None = None,
             cancel: threading.Event | None = None, progress: Callable[[protocol.Progress], None] | None = None,
             auth_secret: str | None = None, beat_timeout: float | None = None) -> protocol.Reply:
        """The reply to ``req`` (an instance of ``req.REPLY``); ChildFault when the child died, hung or
        could not start."""
        if isinstance(req, dict):
            req = protocol.from_wire(req)
        req = replace(req, timeout_s=self.limits.timeout_s, preprocess_timeout_s=self.limits.preprocess_timeout_s)
        c, setup = self.child(python, root, entry, auth_secret)
        c.progress = progress
        if beat_timeout is None and isinstance(req, protocol.Check):
            # between two samples: every encoder and metadata call may use its whole time limit
            calls = len(setup.inputs) + len(setup.ground_truths) + len(setup.metadata) + 1
            beat_timeout = self.limits.timeout_s * calls + 2
        try:
            return c.request(req, timeout or self.limits.timeout_s, cancel, beat_timeout)
        except ChildFault:
            with self._lock:  # only this child: a fresh one may already serve the next request
                key = (python, root, entry)
                if self._children.get(key) is c:
                    self._children.pop(key)
                    self._setup.pop(key, None)
            c.close()
            raise
        finally:
            c.progress = None

    def stderr(self, python: str, root: str, entry: str) -> str:
        c = self._children.get((python, root, entry))
        return c.output.text() if c else ""

