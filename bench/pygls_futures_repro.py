"""Minimal repro (for an upstream report to pygls): every notification leaves its future in
``JsonRPCProtocol._request_futures`` forever.

pygls 2.1.1, ``protocol/json_rpc.py``, ``_execute_handler``: for a coroutine, thread or generator
handler the future is stored under ``msg_id``; for a notification ``msg_id`` is a fresh uuid4
(``_handle_notification``) and the done-callback (``_check_handler_result``) never pops it (only
``_send_handler_result`` does, for requests). The built-in ``textDocument/didChange`` handler is a
generator, so every edit of a long session leaks one Future (about 2.2 KB with its uuid key and
callbacks): 10,000 edits = +22 MB, 30,000 = +65 MB.

    .venv/bin/python bench/pygls_futures_repro.py            # plain pygls: grows by one per notification
    .venv/bin/python bench/pygls_futures_repro.py --fixed    # tensorleap-ls's protocol: stays at 0

Fixed in: not yet (pygls 2.1.1 is the latest release checked). Workaround:
tensorleap_ls/lsp/protocol.py, ``Protocol._execute_handler``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tracemalloc

from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol

N = 5000


class Writer:
    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass


def main() -> int:
    protocol_cls = LanguageServerProtocol
    if "--fixed" in sys.argv:
        from tensorleap_ls.lsp.protocol import Protocol as protocol_cls  # noqa: N813
    server = LanguageServer("repro", "0", protocol_cls=protocol_cls)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls, params) -> None:  # a user handler: nothing kept
        pass

    server.protocol.set_writer(Writer())

    def send(msg: dict) -> None:
        data = json.loads(json.dumps({"jsonrpc": "2.0", **msg}), object_hook=server.protocol.structure_message)
        server.protocol.handle_message(data)

    async def session() -> None:
        send({"id": 1, "method": "initialize", "params": {"processId": None, "rootUri": None, "capabilities": {}}})
        send({"method": "initialized", "params": {}})
        uri = "file:///tmp/repro.py"
        send({"method": "textDocument/didOpen", "params": {"textDocument": {
            "uri": uri, "languageId": "python", "version": 1, "text": ""}}})
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        for v in range(2, N + 2):
            send({"method": "textDocument/didChange", "params": {
                "textDocument": {"uri": uri, "version": v}, "contentChanges": [{"text": f"x = {v}\n"}]}})
        await asyncio.sleep(0.1)
        after = tracemalloc.take_snapshot()
        grown = sum(s.size_diff for s in after.compare_to(before, "filename"))
        kept = len(server.protocol._request_futures)  # noqa: SLF001
        print(f"{protocol_cls.__module__}.{protocol_cls.__name__}: {N} didChange notifications -> "
              f"{kept} futures kept in _request_futures, {grown / 1024:.0f} KiB allocated and still held "
              f"({grown / N:.0f} B per notification)")

    asyncio.run(session())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
