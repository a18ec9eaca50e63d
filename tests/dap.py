"""A small Debug Adapter Protocol client for the tests: Content-Length frames over TCP, requests
answered by ``seq``, events kept in order."""

from __future__ import annotations

import json
import socket
import time
from typing import Any


class DapClient:
    def __init__(self, host: str, port: int, timeout: float = 60.0):
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.create_connection((host, port), timeout=5)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        self.sock.settimeout(timeout)
        self.buf = b""
        self.seq = 0
        self.events: list[dict] = []
        self.responses: dict[int, dict] = {}
        self.closed = False

    def send(self, command: str, **arguments: Any) -> int:
        self.seq += 1
        body = json.dumps({"seq": self.seq, "type": "request", "command": command, "arguments": arguments}).encode()
        self.sock.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        return self.seq

    def _read(self) -> dict | None:
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                self.closed = True
                return None
            self.buf += chunk
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        length = int(next(h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")).split(b":")[1])
        while len(rest) < length:
            chunk = self.sock.recv(65536)
            if not chunk:
                self.closed = True
                return None
            rest += chunk
        self.buf = rest[length:]
        msg = json.loads(rest[:length])
        if msg.get("type") == "event":
            self.events.append(msg)
        elif msg.get("type") == "response":
            self.responses[msg["request_seq"]] = msg
        elif msg.get("type") == "request":  # reverse requests (runInTerminal...): not supported here
            self.seq += 1
            body = json.dumps({"seq": self.seq, "type": "response", "request_seq": msg["seq"], "success": False,
                               "command": msg["command"], "message": "not supported"}).encode()
            self.sock.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        return msg

    def response(self, seq: int) -> dict:
        while seq not in self.responses:
            if self._read() is None:
                raise EOFError(f"the adapter closed the connection before answering request {seq}")
        r = self.responses[seq]
        assert r["success"], r
        return r.get("body") or {}

    def request(self, command: str, **arguments: Any) -> dict:
        return self.response(self.send(command, **arguments))

    def event(self, name: str) -> dict:
        """The first event ``name`` not consumed yet (waits for it)."""
        while True:
            for i, e in enumerate(self.events):
                if e["event"] == name:
                    return self.events.pop(i)
            if self._read() is None:
                said = "".join(e["body"].get("output", "") for e in self.events if e["event"] == "output")
                raise EOFError(f"the adapter closed the connection before the {name!r} event "
                               f"(events: {[e['event'] for e in self.events]}; output: {said[-2000:]})")

    def attach(self, breakpoints: dict[str, list[int]], **options: Any) -> None:
        """A client's configuration sequence with debugpy listening: initialize, attach, breakpoints, done."""
        self.request("initialize", clientID="tensorleap-tests", adapterID="python", linesStartAt1=True,
                     columnsStartAt1=True, pathFormat="path")
        attach_seq = self.send("attach", justMyCode=True, **options)
        self.event("initialized")
        for path, lines in breakpoints.items():
            body = self.request("setBreakpoints", source={"path": path}, breakpoints=[{"line": n} for n in lines])
            assert all(b["verified"] for b in body["breakpoints"]), body
        self.request("configurationDone")
        self.response(attach_seq)

    def stopped_frame(self) -> tuple[int, dict, dict[str, str]]:
        """After a stop: (thread id, the top frame, its locals by name as the client shows them)."""
        stopped = self.event("stopped")["body"]
        frame = self.request("stackTrace", threadId=stopped["threadId"])["stackFrames"][0]
        scopes = self.request("scopes", frameId=frame["id"])["scopes"]
        local = next(s for s in scopes if s["name"].lower().startswith("locals"))
        values = {v["name"]: v["value"] for v in self.request("variables", variablesReference=local["variablesReference"])["variables"]}
        return stopped["threadId"], frame, values

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass
