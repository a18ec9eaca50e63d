"""Scale case of issue 13 (item 12): one file with 4,000 bindings and 4,000 findings.

Measures, over stdio against the real server (started like an editor starts it, through
tensorleap_ls/_boot/serve.py): didOpen -> the publish of 4,000 diagnostics, documentSymbol
(4,000 symbols, two ranges each), and a hover sent right behind the documentSymbol request (it
must not wait for it). Before the fix (a whole-document split per range, on the event loop):
documentSymbol 35 s and publishing 18 s at 4,000.

    .venv/bin/python bench/scale.py [N]          # default N = 4000
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from lsp_client import LspClient  # noqa: E402

import tensorleap_ls  # noqa: E402

LAUNCHER = str(Path(tensorleap_ls.__file__).parent / "_boot" / "serve.py")


def source(n: int) -> str:
    head = ("from code_loader.contract.enums import LeapDataType\n"
            "from code_loader.inner_leap_binder.leapbinder_decorators import tensorleap_custom_visualizer\n\n")
    # a visualizer without a return annotation: one binding and one TL211 finding each
    block = "@tensorleap_custom_visualizer('viz_{i}', LeapDataType.Image)\ndef viz_{i}(image):  # é ü\n    return image\n\n\n"
    return head + "".join(block.format(i=i) for i in range(n))


def in_process(n: int) -> None:
    """The server's own share, without the analysis (the core's parse and checks, linear and run in
    a worker thread) and without the client: converting and serialising the findings and symbols."""
    import json

    from tensorleap_ls.lsp import navigation, protocol
    from tensorleap_ls.lsp.server import build

    with tempfile.TemporaryDirectory() as d:
        entry = Path(d) / "leap_integration.py"
        text = source(n)
        entry.write_text(text)
        server = build()
        sent = []

        class Writer:
            def write(self, data: bytes) -> None:
                sent.append(len(data))

            def close(self) -> None:
                pass

        server.protocol.set_writer(Writer())
        for msg in ({"id": 1, "method": "initialize", "params": {"processId": None, "rootUri": Path(d).as_uri(),
                     "capabilities": {}, "initializationOptions": {"debounceMs": 10**6}}},
                    {"method": "textDocument/didOpen", "params": {"textDocument": {
                        "uri": entry.as_uri(), "languageId": "python", "version": 1, "text": text}}}):
            protocol._dispatch(server.protocol, json.dumps({"jsonrpc": "2.0", **msg}).encode(), None)
        t = time.perf_counter()
        ((key, pa),) = server._analyze(str(entry))
        t_analysis = time.perf_counter() - t
        server.latest[key] = pa
        t = time.perf_counter()
        server._publish(key, pa)
        t_publish = time.perf_counter() - t
        t = time.perf_counter()
        unstructure = server.protocol._converter.unstructure
        server.protocol._send_response(2, result=[unstructure(x) for x in navigation.symbols_of(server, entry.as_uri())])
        t_symbols = time.perf_counter() - t
    print(f"  in process: analysis {t_analysis * 1000:.0f} ms (core, worker thread); converting + serialising "
          f"{len(pa.findings)} diagnostics {t_publish * 1000:.0f} ms; documentSymbol built + serialised "
          f"{t_symbols * 1000:.0f} ms")


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 4000
    with tempfile.TemporaryDirectory() as d:
        entry = Path(d) / "leap_integration.py"
        text = source(n)
        entry.write_text(text)
        uri = entry.resolve().as_uri()
        c = LspClient([sys.executable, LAUNCHER], cwd=d, env={**os.environ, "TL_DISABLE_ANALYTICS": "1"})
        try:
            c.request("initialize", {"processId": None, "rootUri": Path(d).as_uri(), "capabilities": {},
                                     "initializationOptions": {"debounceMs": 0}}, timeout=120)
            c.notify("initialized", {})
            mark = c.mark()
            t0 = c.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1,
                                                                    "text": text}})
            stamp, msg = c.wait_for(lambda m: m.get("method") == "textDocument/publishDiagnostics"
                                    and m["params"]["uri"] == uri and m["params"].get("version") == 1, mark, timeout=600)
            published = len(msg["params"]["diagnostics"])
            t_publish = stamp - t0
            # documentSymbol, with a hover right behind it
            t_sym, resp = c.request("textDocument/documentSymbol", {"textDocument": {"uri": uri}}, timeout=600)
            symbols = len(resp["result"])
            rid = 10_000_000
            t1 = c._write({"jsonrpc": "2.0", "id": rid, "method": "textDocument/documentSymbol",
                           "params": {"textDocument": {"uri": uri}}})
            t_hover, _ = c.request("textDocument/hover", {"textDocument": {"uri": uri},
                                                          "position": {"line": 4, "character": 5}}, timeout=600)
            hover_after = time.perf_counter() - t1
        finally:
            c.close()
    print(f"{n} bindings: {symbols} symbols, {published} diagnostics")
    print(f"  didOpen -> publish of {published} diagnostics: {t_publish * 1000:.0f} ms")
    print(f"  documentSymbol ({symbols} symbols): {t_sym * 1000:.0f} ms")
    print(f"  hover sent behind a documentSymbol: answered {hover_after * 1000:.0f} ms after the documentSymbol "
          f"was sent ({t_hover * 1000:.0f} ms after its own request)")
    in_process(n)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
