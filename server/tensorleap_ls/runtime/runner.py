"""Server side of the runtime: one warm child per project, with limits.

The child (``child.py``) runs in the project's interpreter, in its own process group
(cancellation and time-outs kill the whole group), with an address-space limit, a capped
stderr, analytics disabled and ``IS_TENSORLEAP_PLATFORM`` removed. A hang is located by asking
the child for its stack (faulthandler on SIGUSR1) before killing it; a crash by the
faulthandler dump. After any fault the next request gets a fresh child.
"""

from __future__ import annotations

import json
import os
import queue
import re
import resource
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from tensorleap_ls.runtime import interpreter

CHILD = str(Path(__file__).with_name("child.py"))
_FRAME = re.compile(r'^\s*File "(.+)", line (\d+) in (.+)$')
_SIGNALS = {signal.SIGSEGV: "a segmentation fault", signal.SIGBUS: "a bus error", signal.SIGABRT: "an abort",
            signal.SIGFPE: "a floating-point exception", signal.SIGILL: "an illegal instruction",
            signal.SIGKILL: "SIGKILL (out of memory or killed)"}


@dataclass
class Limits:
    timeout_s: float = 30.0
    preprocess_timeout_s: float = 300.0
    memory_mb: int = 4096
    stderr_cap: int = 64 * 1024


class ChildFault(Exception):
    """The child died, hung or could not start. ``code`` is a TL5xx code, ``where`` (file, line) or None."""

    def __init__(self, code: str, message: str, where: tuple[str, int] | None = None):
        super().__init__(message)
        self.code, self.message, self.where = code, message, where


@dataclass
class _Output:
    cap: int
    secret: str = ""
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
        return t.replace(self.secret, "***") if self.secret and len(self.secret) >= 4 else t


class Child:
    def __init__(self, python: str, root: str, entry: str, limits: Limits, auth_secret: str | None = None):
        self.root, self.entry, self.limits = root, entry, limits
        self._trace = tempfile.NamedTemporaryFile(prefix="tl-trace-", suffix=".txt", delete=False)
        self._trace.close()
        env = {k: v for k, v in os.environ.items() if k not in ("IS_TENSORLEAP_PLATFORM", "PYTHONPATH",
                                                                "__MAPPING_RUNTIME_MODE__")}
        env.update(TL_DISABLE_ANALYTICS="1", TL_TRACE_FILE=self._trace.name, PYTHONUNBUFFERED="1",
                   PYTHONFAULTHANDLER="0")
        secret = auth_secret if auth_secret is not None else os.environ.get("AUTH_SECRET", "")
        if secret:
            env["AUTH_SECRET"] = secret
        memory = limits.memory_mb * 1024 * 1024

        def limit() -> None:  # runs in the child before exec
            try:
                resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
            except (ValueError, OSError):
                pass
            try:  # Linux: the child is killed when the server dies, whatever it is doing
                import ctypes

                ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
            except (OSError, AttributeError):
                pass

        self.output = _Output(limits.stderr_cap, secret)
        self._responses: queue.Queue = queue.Queue()
        self.progress: Callable[[dict], None] | None = None
        self.proc = interpreter.start_user_code(  # the trust gate
            [python, "-X", "utf8", CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            cwd=root, env=env, start_new_session=True, preexec_fn=limit,
        )
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()
        self._ids = 0
        self._beat = time.monotonic()
        self._lock = threading.Lock()

    # --- pipes ----------------------------------------------------------------------------
    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if "progress" in msg and "id" not in msg:
                self._beat = time.monotonic()
                if self.progress:
                    self.progress(msg)
                continue
            self._responses.put(msg)
        self._responses.put(None)  # EOF: the child is gone

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        while True:
            data = self.proc.stderr.read1(65536) if hasattr(self.proc.stderr, "read1") else self.proc.stderr.read(65536)
            if not data:
                return
            self.output.add(data)

    # --- requests -------------------------------------------------------------------------
    def alive(self) -> bool:
        return self.proc.poll() is None

    def request(self, req: dict, timeout: float, cancel: threading.Event | None = None,
                beat_timeout: float | None = None) -> dict:
        """Sends ``req`` and waits for its answer: ``timeout`` until the child's first progress
        message (preprocess may be long), then ``beat_timeout`` between progress messages."""
        with self._lock:
            self._ids += 1
            req = {**req, "id": self._ids}
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write((json.dumps(req) + "\n").encode("utf-8"))
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
                    self.kill()
                    raise ChildFault("TL530", "cancelled")
                try:
                    msg = self._responses.get(timeout=min(left, 0.1))
                except queue.Empty:
                    continue
                if msg is None:
                    raise self._death()
                if msg.get("id") == req["id"]:
                    return msg

    def _hang(self, timeout: float) -> ChildFault:
        where = None
        try:
            os.kill(self.proc.pid, signal.SIGUSR1)  # faulthandler dumps the current stack
            time.sleep(0.3)
            where = self._user_frame()
        except OSError:
            pass
        self.kill()
        return ChildFault("TL530", f"the call did not finish within {timeout:g} s (killed)", where)

    def _death(self) -> ChildFault:
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()
            code = self.proc.returncode
        where = self._user_frame()
        trace = Path(self._trace.name).read_text(encoding="utf-8", errors="replace") if os.path.exists(self._trace.name) else ""
        if code is not None and code < 0:
            sig = -code
            what = _SIGNALS.get(sig, f"signal {sig}")
            if sig == signal.SIGKILL:
                return ChildFault("TL531", f"the child process was killed ({what})", where)
            return ChildFault("TL532", f"the child process died of {what}", where)
        if "os._exit(" in trace:
            return ChildFault("TL532", f"user code called os._exit({code})", where)
        tail = self.output.text().strip().splitlines()[-3:]
        return ChildFault("TL532", f"the child process exited with code {code}" + (f": {' | '.join(tail)}" if tail else ""),
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
                    if f.startswith(self.root + os.sep) and "site-packages" not in f and not f.endswith("child.py"):
                        return f, int(m.group(2))
        return None

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError, OSError):
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass

    def close(self) -> None:
        if self.alive():
            self.kill()
        try:
            os.unlink(self._trace.name)
        except OSError:
            pass


class Runner:
    """Warm children keyed by project; a project's child is replaced after a fault or a reload."""

    def __init__(self, limits: Limits | None = None):
        self.limits = limits or Limits()
        self._children: dict[tuple[str, str, str], Child] = {}
        self._setup: dict[tuple[str, str, str], dict] = {}
        self._lock = threading.Lock()

    def child(self, python: str, root: str, entry: str, auth_secret: str | None = None) -> tuple[Child, dict]:
        key = (python, root, entry)
        with self._lock:
            c = self._children.get(key)
            if c is not None and c.alive():
                return c, self._setup[key]
            if c is not None:
                c.close()
            c = Child(python, root, entry, self.limits, auth_secret)
            try:
                resp = c.request({"cmd": "load", "root": root, "entry": entry}, self.limits.preprocess_timeout_s)
            except ChildFault:
                c.close()
                raise
            if not resp.get("ok"):
                c.close()
                err = resp.get("error") or {}
                where = (err["file"], err["line"]) if err.get("file") and err.get("line") else None
                code = "TL533" if resp.get("exit") else "TL531" if err.get("type") == "MemoryError" else "TL535"
                raise ChildFault(code, f"importing the entry failed: {err.get('message', resp)}", where)
            self._children[key] = c
            self._setup[key] = resp.get("setup", {})
            return c, self._setup[key]

    def invalidate(self, root: str | None = None) -> None:
        """A file of the closure (or a data file) changed: the next request re-imports."""
        with self._lock:
            for key in [k for k in self._children if root is None or k[1] == root]:
                self._children.pop(key).close()
                self._setup.pop(key, None)

    def close(self) -> None:
        self.invalidate(None)

    def call(self, python: str, root: str, entry: str, req: dict, timeout: float | None = None,
             cancel: threading.Event | None = None, progress: Callable[[dict], None] | None = None,
             auth_secret: str | None = None, beat_timeout: float | None = None) -> dict:
        c, setup = self.child(python, root, entry, auth_secret)
        c.progress = progress
        if beat_timeout is None and req.get("cmd") == "check":
            # between two samples: every encoder and metadata call may use its whole time limit
            calls = sum(len(setup.get(k) or []) for k in ("inputs", "ground_truths", "metadata")) + 1
            beat_timeout = self.limits.timeout_s * calls + 2
        try:
            return c.request(req, timeout or self.limits.timeout_s, cancel, beat_timeout)
        except ChildFault:
            self.invalidate(root)
            raise
        finally:
            c.progress = None

    def stderr(self, python: str, root: str, entry: str) -> str:
        c = self._children.get((python, root, entry))
        return c.output.text() if c else ""

