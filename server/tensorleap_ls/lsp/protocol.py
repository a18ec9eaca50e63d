"""JSON-RPC hardening over pygls 2.1: what goes on the wire, what comes off it.

- Every message written is strict JSON: non-finite floats (NaN, Infinity from a user's sample)
  become ``null``; JavaScript's ``JSON.parse`` (vscode-jsonrpc) rejects bare ``NaN`` tokens and the
  editor's request would never resolve.
- The reader (``read_loop``, installed in place of pygls's ``run_async``) survives malformed frames:
  a missing, negative, non-numeric or huge ``Content-Length`` is skipped with a log line and the
  stream re-synchronises on the next header; a body that is not JSON gets a ParseError, a batch
  or a non-object an InvalidRequest (id null); ids of other types than string/integer an
  InvalidRequest. Nothing of it ends the server or prints a traceback.
- A request after ``shutdown`` gets InvalidRequest (pygls drops it and the client waits forever).
- pygls 2.1.1 keeps the future of every notification in ``_request_futures`` and never removes
  it (about 2.2 KB per didChange: 30k edits = +65 MB). ``_execute_handler`` drops it when done.
  Repro: bench/pygls_futures_repro.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
from contextvars import ContextVar
from typing import Any

from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method

log = logging.getLogger("tensorleap_ls.protocol")

MAX_BODY = 256 * 1024 * 1024  # bytes of one message; more is a broken or hostile client
_HEADER = re.compile(rb"content-length[ \t]*:[ \t]*([^\r\n]*)", re.IGNORECASE)
_LINE_LIMIT = 64 * 1024  # a header line is short; junk without newlines is read in pieces


def finite(value: Any) -> Any:
    """``value`` with every non-finite float replaced by None (JSON has no NaN/Infinity)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def _valid_id(value: Any) -> bool:
    return value is None or isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


# The workDoneToken of the workspace/executeCommand being handled (None: the client sent none): a
# command that runs user code reports its progress there (lsp/progress.py). pygls hands a command
# its arguments only; the handler's task copies this context when it is created.
WORK_DONE_TOKEN: ContextVar = ContextVar("work_done_token", default=None)


class Protocol(LanguageServerProtocol):
    @lsp_method(lsp.WORKSPACE_EXECUTE_COMMAND)
    def lsp_workspace__execute_command(self, params: lsp.ExecuteCommandParams):
        WORK_DONE_TOKEN.set(params.work_done_token)
        return (yield from super().lsp_workspace__execute_command(params))

    def structure_message(self, data: dict[str, Any]):
        if not isinstance(data, dict) or "jsonrpc" not in data:
            return data
        if "id" in data and not _valid_id(data["id"]):
            log.warning("skipped a message whose id is a %s (ids are strings or integers)", type(data["id"]).__name__)
            if "method" in data:
                self.send_raw_error(lsp.ErrorCodes.InvalidRequest, "a request id must be a string or an integer")
            return None
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            # pygls would drop the request unanswered and the client would wait forever
            if "method" in data and "id" in data:
                self._send_response(data["id"], error=lsp.ResponseError(
                    code=exc.code, message=f"invalid params for {data.get('method')}"))
            else:
                log.warning("skipped a malformed %s notification", data.get("method"))
            return None

    def handle_message(self, message):
        if message is None:
            return
        if self._shutdown and getattr(message, "method", "") != lsp.EXIT:
            if getattr(message, "method", None) and getattr(message, "id", None) is not None:
                self._send_response(message.id, error=lsp.ResponseError(
                    code=lsp.ErrorCodes.InvalidRequest, message="the server is shutting down (shutdown was requested)"))
            return
        super().handle_message(message)

    def _execute_handler(self, msg_id, handler, callback, args=None, kwargs=None):
        # pygls keeps notification futures in _request_futures forever: drop each one when done.
        def done(future, _callback=callback):
            try:
                _callback(future)
            finally:
                if self._request_futures.get(msg_id) is future:
                    del self._request_futures[msg_id]

        super()._execute_handler(msg_id, handler, done, args, kwargs)

    def _send_data(self, data: Any):
        if not data:
            return
        if self.writer is None:
            log.error("cannot send a message: no transport")
            return
        try:
            data = _prebuilt(data)
            try:
                body = json.dumps(data, default=self._serialize_message, allow_nan=False)
            except ValueError:  # a NaN or an Infinity somewhere: null, as JSON.parse needs
                loose = json.loads(json.dumps(data, default=self._serialize_message))
                body = json.dumps(finite(loose), allow_nan=False)
            raw = body.encode(self.CHARSET)
            if self._include_headers:
                raw = (f"Content-Length: {len(raw)}\r\nContent-Type: {self.CONTENT_TYPE}; "
                       f"charset={self.CHARSET}\r\n\r\n").encode("ascii") + raw
            res = self.writer.write(raw)
            if asyncio.iscoroutine(res) or isinstance(res, asyncio.Future):
                asyncio.ensure_future(res)
        except BrokenPipeError:
            log.error("the client is gone (broken pipe)")
            raise
        except Exception as error:  # noqa: BLE001 - one unsendable message must not stop the server
            self._server._report_server_error(error, JsonRpcException)  # noqa: SLF001

    def notify_json(self, method: str, params: dict) -> None:
        """A notification whose params are already JSON-ready (built off the event loop)."""
        self._send_data({"jsonrpc": "2.0", "method": method, "params": params})

    def send_raw_error(self, code: int, message: str) -> None:
        """An error response with id null (the request could not be read far enough to know its id)."""
        self._send_data({"jsonrpc": "2.0", "id": None, "error": {"code": int(code), "message": message}})


def _prebuilt(data: Any) -> Any:
    """A response whose result a handler already built as plain JSON (a list of dicts, made off the
    event loop: document symbols) is written as it is; cattrs would walk it again, on the loop."""
    from pygls.protocol import JsonRPCResponseMessage

    result = getattr(data, "result", None)
    if type(data) is JsonRPCResponseMessage and isinstance(result, list) and result and \
            all(type(x) is dict for x in result):
        return {"jsonrpc": data.jsonrpc, "id": data.id, "result": result}
    return data


async def read_loop(stop_event, reader, protocol: Protocol, logger=None, error_handler=None) -> None:
    """pygls's ``run_async`` made robust (same signature). See the module docstring."""
    readline = _bounded_readline(reader)
    length: int | None = None
    bad: bytes | None = None
    in_header = False
    while not stop_event.is_set():
        try:
            line = await readline()
        except ValueError:  # an asyncio StreamReader line over its limit: junk, skip it
            continue
        if not line:
            break
        m = None
        for m in _HEADER.finditer(line):
            pass  # the last header on the line: junk before it is the tail of a skipped body
        if m is not None:
            in_header = True
            raw = m.group(1).strip()
            if raw.isdigit() and int(raw) <= MAX_BODY:
                length, bad = int(raw), None
            else:
                length, bad = None, raw
            continue
        if line.strip():
            in_header = in_header or bool(re.match(rb"^[A-Za-z-]+:", line))
            continue  # another header (Content-Type) or junk while re-synchronising
        if not in_header:
            continue  # a stray blank line
        in_header = False
        if length is None:
            what = f"an invalid Content-Length ({bad[:40].decode('ascii', 'replace')!r})" if bad is not None \
                else "no Content-Length"
            log.warning("skipped a message with %s; waiting for the next header", what)
            length, bad = None, None
            continue
        body = await reader.readexactly(length)
        n, length = length, None
        if len(body) < n:
            break  # end of input in the middle of a message
        _dispatch(protocol, body, error_handler)


def _dispatch(protocol: Protocol, body: bytes, error_handler) -> None:
    try:
        data = json.loads(body)
    except ValueError as e:  # includes bytes that are not UTF-8
        log.warning("skipped a message that is not JSON (%s)", str(e)[:80])
        protocol.send_raw_error(lsp.ErrorCodes.ParseError, "the message is not valid JSON")
        return
    if not isinstance(data, dict):
        kind = "a batch (JSON-RPC batches are not supported by LSP)" if isinstance(data, list) else "not an object"
        log.warning("skipped a message that is %s", kind)
        protocol.send_raw_error(lsp.ErrorCodes.InvalidRequest, f"the message is {kind}")
        return
    if data.get("jsonrpc") != "2.0":
        log.warning("skipped a message without \"jsonrpc\": \"2.0\"")
        if "method" in data and _valid_id(data.get("id")) and data.get("id") is not None:
            protocol._send_response(data["id"], error=lsp.ResponseError(  # noqa: SLF001
                code=lsp.ErrorCodes.InvalidRequest, message='not a JSON-RPC 2.0 request ("jsonrpc": "2.0" is missing)'))
        return
    try:
        protocol.handle_message(protocol.structure_message(data))
    except Exception as exc:  # noqa: BLE001 - the loop must survive anything one message does
        log.exception("cannot handle a %s message", data.get("method", "response"))
        if error_handler:
            error_handler(exc, JsonRpcException)


def _bounded_readline(reader):
    from pygls.io_ import StdinAsyncReader

    if isinstance(reader, StdinAsyncReader):
        return lambda: reader.loop.run_in_executor(reader.executor, reader.stdin.readline, _LINE_LIMIT)
    return reader.readline


class _OneLine(logging.Filter):
    """pygls logs tracebacks of what a client sent (bad params, unknown ids): one line each."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("pygls"):
            record.msg = record.getMessage().split("\n", 1)[0]
            record.args = ()
            record.exc_info = None
            record.exc_text = None
        return True


def install() -> None:
    import pygls.server

    pygls.server.run_async = read_loop  # used by start_io and start_tcp
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, _OneLine) for f in handler.filters):
            handler.addFilter(_OneLine())


