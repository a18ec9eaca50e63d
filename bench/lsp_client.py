"""A small LSP client over stdio for the benchmark (standard library only).

Timestamps are taken when a message is written and when it is read (the reader thread
stamps each message as soon as its body is complete), so queueing in this client does not
count against the server. Nothing sleeps on the measured path: waits block on a condition
that the reader thread signals.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import threading
import time
from typing import Any, Callable

Message = dict[str, Any]


class LspClient:
    def __init__(self, cmd: list[str], cwd: str | None = None, env: dict[str, str] | None = None,
                 stderr: Any = subprocess.DEVNULL, keep_raw: bool = False):
        self.t_start = time.perf_counter()
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
            cwd=cwd, env=env or dict(os.environ),
        )
        self.raw: list[bytes] | None = [] if keep_raw else None  # every body as received (strict-JSON tests)
        self._ids = itertools.count(1)
        self._lock = threading.Condition()
        self._responses: dict[int, tuple[float, Message]] = {}
        self._notifications: list[tuple[float, Message]] = []
        self._closed = False
        self._write_lock = threading.Lock()  # a pinger thread and the main thread may write at once
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()

    # --- wire -----------------------------------------------------------------------------
    def _write(self, msg: Message) -> float:
        body = json.dumps(msg).encode("utf-8")
        data = b"Content-Length: %d\r\n\r\n" % len(body) + body
        assert self.proc.stdin is not None
        with self._write_lock:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
            return time.perf_counter()

    def _read_loop(self) -> None:
        out = self.proc.stdout
        assert out is not None
        try:
            while True:
                length = None
                while True:
                    line = out.readline()
                    if not line:
                        raise EOFError
                    if line in (b"\r\n", b"\n"):
                        break
                    key, _, value = line.decode("ascii").partition(":")
                    if key.strip().lower() == "content-length":
                        length = int(value.strip())
                body = out.read(length or 0)
                stamp = time.perf_counter()
                if self.raw is not None:
                    self.raw.append(body)
                msg = json.loads(body)
                if "id" in msg and "method" in msg:
                    self._answer_server_request(msg)
                    continue
                with self._lock:
                    if "id" in msg:
                        self._responses[msg["id"]] = (stamp, msg)
                    else:
                        self._notifications.append((stamp, msg))
                    self._lock.notify_all()
        except (EOFError, ValueError, OSError):
            with self._lock:
                self._closed = True
                self._lock.notify_all()

    def _answer_server_request(self, msg: Message) -> None:
        # workspace/configuration, client/registerCapability, window/workDoneProgress/create...
        method = msg.get("method")
        result: Any = None
        if method == "workspace/configuration":
            result = [None for _ in msg.get("params", {}).get("items", [])]
        try:
            self._write({"jsonrpc": "2.0", "id": msg["id"], "result": result})
        except OSError:
            pass

    # --- API ------------------------------------------------------------------------------
    def request(self, method: str, params: Any, timeout: float = 60.0) -> tuple[float, Message]:
        """Sends a request; returns (seconds from write to read of the response, response)."""
        rid = next(self._ids)
        t0 = self._write({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        deadline = time.perf_counter() + timeout
        with self._lock:
            while rid not in self._responses:
                if self._closed:
                    raise RuntimeError(f"server closed during {method}")
                left = deadline - time.perf_counter()
                if left <= 0:
                    raise TimeoutError(method)
                self._lock.wait(left)
            stamp, msg = self._responses.pop(rid)
        return stamp - t0, msg

    def notify(self, method: str, params: Any) -> float:
        return self._write({"jsonrpc": "2.0", "method": method, "params": params})

    def mark(self) -> int:
        """Position in the notification stream; wait_for looks only at later messages."""
        with self._lock:
            return len(self._notifications)

    def wait_for(self, pred: Callable[[Message], bool], after: int, timeout: float = 60.0) -> tuple[float, Message]:
        deadline = time.perf_counter() + timeout
        with self._lock:
            i = after
            while True:
                while i < len(self._notifications):
                    stamp, msg = self._notifications[i]
                    i += 1
                    if pred(msg):
                        return stamp, msg
                if self._closed:
                    raise RuntimeError("server closed")
                left = deadline - time.perf_counter()
                if left <= 0:
                    raise TimeoutError("notification")
                self._lock.wait(left)

    def peak_rss_mb(self) -> float | None:
        try:
            with open(f"/proc/{self.proc.pid}/status", encoding="ascii") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) / 1024.0
        except OSError:
            return None
        return None

    def close(self) -> None:
        try:
            self.request("shutdown", None, timeout=10)
            self.notify("exit", None)
            self.proc.wait(timeout=5)
        except Exception:
            self.proc.kill()
            self.proc.wait()


def is_diag(uri: str, version: int | None = None) -> Callable[[Message], bool]:
    """Matches the publishDiagnostics of ``uri`` (of exactly ``version`` when given)."""
    def pred(msg: Message) -> bool:
        if msg.get("method") != "textDocument/publishDiagnostics":
            return False
        p = msg["params"]
        return p["uri"] == uri and (version is None or p.get("version") == version)

    return pred
