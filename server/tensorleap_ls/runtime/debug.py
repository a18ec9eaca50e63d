"""Debugging one sample: the child's harness (``tensorleap_ls_child.debug``) in the project interpreter,
under the product's own debugpy, listening for a DAP client.

Started through the trust gate (``interpreter.start_user_code``), with the child's environment
(``runner.child_env``) and the guardian's lifeline: closing it (``DebugRun.stop``, or the end of the
server or CLI however it ends) ends the harness, debugpy's adapter and whatever the user's code started.
When the sample has run, the guardian gives the adapter a few seconds to tell the client that the
session is over. debugpy is never installed anywhere: the harness imports it from the folder it is
installed in beside tensorleap-ls (the wheel's dependency, or the ``.vsix``'s bundled libraries).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from tensorleap_ls.runtime import interpreter
from tensorleap_ls.runtime.child.tensorleap_ls_child import wire
from tensorleap_ls.runtime.runner import CHILD_PATH, child_env

LISTENING = "TL_DEBUG_LISTENING"  # the harness's first line (tensorleap_ls_child/debug.py)
GRACE_S = 5  # seconds debugpy's adapter has to end the session with its client after the sample ran


class DebugFailed(Exception):
    """The harness could not start listening (its message says why, for the user)."""


def debugpy_folder() -> str:
    """The folder holding the product's debugpy package (not imported here: only located)."""
    spec = importlib.util.find_spec("debugpy")
    if spec is None or not spec.submodule_search_locations:
        raise DebugFailed("debugpy is not installed beside tensorleap-ls (it is a dependency of the package and "
                          "bundled in the VS Code extension): reinstall tensorleap-ls")
    return os.path.dirname(os.path.abspath(list(spec.submodule_search_locations)[0]))


@dataclass
class DebugRun:
    """A harness listening on ``host:port`` for a DAP client (attach, ``connect``)."""

    proc: subprocess.Popen
    host: str
    port: int
    guard_w: int
    lines: list = field(default_factory=list)  # what the harness printed (scrubbed), for a log
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # the harness's own files (glob patterns for a client's ``rules``: its frames are not the user's)
    @property
    def ours(self) -> list[str]:
        return [os.path.join(CHILD_PATH, "tensorleap_ls_child", "**")]

    def wait(self, timeout: Optional[float] = None) -> int:
        return self.proc.wait(timeout)

    def release(self) -> None:
        """Closes the lifeline (once): the guardian then ends whatever is still running."""
        with self._lock:
            fd, self.guard_w = self.guard_w, -1
        if fd >= 0:
            os.close(fd)

    def stop(self) -> None:
        """Ends the harness and everything below it (the guardian kills them when its lifeline closes)."""
        self.release()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)


def start(python: str, root: str, entry: str, subset: str, sample: Any, *, host: str = "127.0.0.1", port: int = 0,
          functions: tuple[str, ...] | list[str] = (), integration_test: bool = True, auth_secret: str | None = None,
          on_output: Callable[[str], None] | None = None, listen_timeout_s: float = 60.0) -> DebugRun:
    """Starts the harness for ``subset`` / ``sample`` (None: the subset's first) and returns once debugpy
    listens; ``on_output`` gets each later line it prints. DebugFailed when it cannot listen."""
    folder = debugpy_folder()
    guard_r, guard_w = os.pipe()
    env = child_env(auth_secret, TL_DEBUGPY_PATH=folder, TL_GUARD_FD=str(guard_r), TL_GUARD_GRACE=str(GRACE_S))
    scrub = wire.Scrubber(env.get("AUTH_SECRET"))
    cmd = [python, "-X", "utf8", "-m", "tensorleap_ls_child.debug", "--root", root, "--entry", entry,
           "--subset", subset, "--host", host, "--port", str(port)]
    if sample is not None:
        cmd += ["--sample", json.dumps(sample)]
    for f in functions:
        cmd += ["--function", f]
    if not integration_test:
        cmd.append("--no-integration-test")
    try:
        proc = interpreter.start_user_code(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                           stderr=subprocess.STDOUT, cwd=root, env=env, start_new_session=True,
                                           pass_fds=(guard_r,))
    except BaseException:
        os.close(guard_w)
        raise
    finally:
        os.close(guard_r)
    run = DebugRun(proc, host, port, guard_w)
    ready, listening = threading.Event(), threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for raw in iter(proc.stdout.readline, b""):
            line = scrub(raw.decode("utf-8", "replace").rstrip("\r\n"))
            if not ready.is_set() and line.startswith(LISTENING + " "):
                _, run.host, port_text = line.split(" ", 2)
                run.port = int(port_text)
                listening.set()
                ready.set()
                continue
            run.lines.append(line)
            if on_output is not None:
                on_output(line)
        ready.set()  # the harness ended (before listening: it failed)
        proc.wait()
        run.release()

    threading.Thread(target=read, name="tensorleap-debug-output", daemon=True).start()
    ready.wait(listen_timeout_s)
    if not listening.is_set():
        run.stop()
        said = " | ".join(run.lines[-5:]) or "no output"
        raise DebugFailed(f"the debug harness did not start listening ({said})")
    return run
