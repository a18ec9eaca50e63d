"""Scale cases: one file with 4,000 bindings and 4,000 findings (issue 13, item 12), and hostile
project files (issue 24): no file, however large or shaped, may hold the server's event loop for more
than 100 ms, and the server's peak RSS stays under 300 MB.

Measures, over stdio against the real server (started like an editor starts it, through
tensorleap_ls/_boot/serve.py): didOpen -> the publish of 4,000 diagnostics, documentSymbol
(4,000 symbols, two ranges each), and a hover sent right behind the documentSymbol request (it
must not wait for it). Before the fix (a whole-document split per range, on the event loop):
documentSymbol 35 s and publishing 18 s at 4,000.

    .venv/bin/python bench/scale.py [N]          # default N = 4000
    .venv/bin/python bench/scale.py hostile [CASE...]   # every hostile case, or the ones named

Hostile cases (each a fresh project and server, started as an editor starts it): a ``workspace/symbol``
request (answered on the event loop, no analysis) is sent every 20 ms; its slowest answer is the
longest the loop was held. The server first opens a small file elsewhere (its own start-up: imports,
its own code-loader read; reported apart), then the project's entry, until the project is published
and settled, then three edits (didChange -> publish); and the server's peak RSS (VmHWM). Exit 1 when
a case misses a budget.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
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


# --- hostile project files (issue 24) --------------------------------------------------------------
LOOP_BUDGET_MS, RSS_BUDGET_MB = 100, 300
PY = f"python{sys.version_info[0]}.{sys.version_info[1]}"
DECORATOR = """import os

import numpy as np
from code_loader.contract.datasetclasses import PreprocessResponse
from code_loader.inner_leap_binder.leapbinder_decorators import (
    tensorleap_input_encoder, tensorleap_load_model, tensorleap_preprocess)


@tensorleap_preprocess()
def preprocess():
    return [PreprocessResponse(length=4, data=None)]


@tensorleap_input_encoder('image')
def image(idx, preprocess):
    return np.zeros((8, 8, 1), np.float32)


@tensorleap_load_model()
def load_model():
    import onnxruntime as ort
    return ort.InferenceSession(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'model.onnx'))
"""
LEGACY = """from code_loader import leap_binder
from code_loader.contract.datasetclasses import PreprocessResponse


def preprocess():
    return [PreprocessResponse(length=4, data=None)]


leap_binder.set_preprocess(preprocess)
leap_binder.add_prediction(name='classes', labels=['a', 'b'])
"""
LOCAL_TEST = """import os

import onnxruntime as ort

from leap_binder import *

if __name__ == '__main__':
    sess = ort.InferenceSession(os.path.join(os.path.dirname(__file__), 'model.onnx'))
"""


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _site(root: Path) -> Path:
    """A project .venv as the server finds it on disk (its python is never run by these cases)."""
    (root / ".venv" / "bin").mkdir(parents=True)
    (root / ".venv" / "bin" / "python").symlink_to(sys.executable)
    site = root / ".venv" / "lib" / PY / "site-packages"
    site.mkdir(parents=True)
    return site


def _sdk(site: Path) -> Path:
    pkg = site / "code_loader"
    (site / "code_loader-1.0.214.dist-info").mkdir()
    _write(pkg / "__init__.py", "")
    return pkg


def keyword_bomb(root: Path) -> Path:
    """A module of the closure holding one call with 60,000 keyword arguments (576 KB)."""
    _write(root / "bomb.py", "f(" + ", ".join(f"k{i}=0" for i in range(60_000)) + ")\n")
    return _write(root / "leap_integration.py", "import bomb\n" + DECORATOR)


def sibling_8mb(root: Path) -> Path:
    """A legacy project (its model is found through its local test) and a 7.9 MB module beside it."""
    _write(root / "leap_custom_test.py", LOCAL_TEST)
    (root / "model.onnx").write_bytes(b"onnx")
    _write(root / "weights.py", "W = [" + "1.0, " * 1_580_000 + "]\n")
    return _write(root / "leap_binder.py", LEGACY)


def test_named_8mb(root: Path) -> Path:
    """The same, the 7.9 MB file named like a local test, importing the entry."""
    (root / "model.onnx").write_bytes(b"onnx")
    _write(root / "leap_big_test.py", "from leap_binder import *\nW = [" + "1.0, " * 1_580_000 + "]\n")
    return _write(root / "leap_binder.py", LEGACY)


def deep_sdk(root: Path) -> Path:
    """Trusted: the project's installed code_loader holds a file with a 100,000-deep expression."""
    _write(_sdk(_site(root)) / "generated.py", "x = 1" + " + 1" * 100_000 + "\n")
    return _write(root / "leap_integration.py", DECORATOR)


def sdk_to_usr(root: Path) -> Path:
    """Trusted: the project's site-packages/code_loader is a symlink to /usr."""
    site = _site(root)
    (site / "code_loader-1.0.214.dist-info").mkdir()
    (site / "code_loader").symlink_to("/usr", target_is_directory=True)
    return _write(root / "leap_integration.py", DECORATOR)


def pth_6mb(root: Path) -> Path:
    """Trusted: 6 MB of .pth lines naming 900,000 folders (a thousand of them exist)."""
    site = _site(root)
    for i in range(1000):
        (root / "libs" / f"d{i}").mkdir(parents=True)
    lines = [f"{root}/libs/d{i % 1000}" if i % 900 == 0 else f"../../../../libs/x{i}" for i in range(900_000)]
    per = len(lines) // 96
    for k in range(96):
        _write(site / f"gen{k:02d}.pth", "\n".join(lines[k * per:(k + 1) * per]) + "\n")
    return _write(root / "leap_integration.py", DECORATOR)


def sparse_model(root: Path) -> Path:
    """Trusted: the model load_model loads is a sparse 3 GB file (a few KB on disk)."""
    with open(root / "model.onnx", "wb") as f:
        f.truncate(3 * 1024 ** 3)
    return _write(root / "leap_integration.py", DECORATOR)


def control(root: Path) -> Path:
    """No hostile file: the same server on a small project (what the cases are compared with)."""
    return _write(root / "leap_integration.py", DECORATOR)


# name -> (build, initializationOptions, code whose publish means the case has settled, or None)
HOSTILE = {
    "control": (control, {"trusted": False}, None),
    "keyword_bomb": (keyword_bomb, {"trusted": False}, None),
    "sibling_8mb": (sibling_8mb, {"trusted": False}, None),
    "test_named_8mb": (test_named_8mb, {"trusted": False}, None),
    "deep_sdk": (deep_sdk, {"trusted": True}, None),
    "sdk_to_usr": (sdk_to_usr, {"trusted": True}, None),
    "pth_6mb": (pth_6mb, {"trusted": True}, None),
    "sparse_model": (sparse_model, {"trusted": True, "interpreter": sys.executable}, "TL600"),
}


def _publish(uri: str, version: int, code: str | None = None):
    def pred(m: dict) -> bool:
        if m.get("method") != "textDocument/publishDiagnostics" or m["params"]["uri"] != uri:
            return False
        if code is not None:
            return any(d.get("code") == code for d in m["params"]["diagnostics"])
        return m["params"].get("version") == version
    return pred


def hostile_case(name: str) -> dict:
    build, options, settle = HOSTILE[name]
    with tempfile.TemporaryDirectory() as d:
        root = Path(d) / "proj"
        root.mkdir()
        entry = build(root)
        text = entry.read_text()
        uri = entry.resolve().as_uri()
        c = LspClient([sys.executable, LAUNCHER], cwd=str(root), env={**os.environ, "TL_DISABLE_ANALYTICS": "1"})
        holds: list[float] = []
        stop = threading.Event()

        def ping() -> None:
            while not stop.is_set():
                try:
                    took, _ = c.request("workspace/symbol", {"query": "no such symbol"}, timeout=120)
                except (RuntimeError, TimeoutError, OSError):
                    return
                holds.append(took * 1000)
                stop.wait(0.02)

        try:
            c.request("initialize", {"processId": None, "rootUri": root.as_uri(), "capabilities": {},
                                     "initializationOptions": {"debounceMs": 0, **options}}, timeout=120)
            c.notify("initialized", {})
            pinger = threading.Thread(target=ping, daemon=True)
            pinger.start()
            # the server's own start-up first (imports, its own code-loader read), on a small file elsewhere
            warm = _write(Path(d) / "warm" / "leap_integration.py", DECORATOR)
            mark = c.mark()
            c.notify("textDocument/didOpen", {"textDocument": {"uri": warm.resolve().as_uri(), "languageId": "python",
                                                               "version": 1, "text": warm.read_text()}})
            c.wait_for(_publish(warm.resolve().as_uri(), 1), mark, timeout=600)
            time.sleep(0.5)
            startup, holds[:] = max(holds, default=0.0), []
            mark = c.mark()
            t0 = c.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1,
                                                                    "text": text}})
            stamp, _ = c.wait_for(_publish(uri, 1), mark, timeout=600)
            t_open = (stamp - t0) * 1000
            if settle:
                c.wait_for(_publish(uri, 1, settle), mark, timeout=600)
            time.sleep(1.0)  # whatever runs after the first publish (model facts, a second analysis)
            edits = []
            for v in (2, 3, 4):
                text += f"\n# edit {v}\n"
                mark = c.mark()
                t1 = c.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": v},
                                                         "contentChanges": [{"text": text}]})
                stamp, _ = c.wait_for(_publish(uri, v), mark, timeout=600)
                edits.append((stamp - t1) * 1000)
            stop.set()
            pinger.join(timeout=130)
            rss = c.peak_rss_mb() or 0.0
        finally:
            stop.set()
            c.close()
    return {"case": name, "open_ms": t_open, "edit_ms": sorted(edits)[1], "max_hold_ms": max(holds, default=0.0),
            "pings": len(holds), "peak_rss_mb": rss, "startup_hold_ms": startup}


def hostile(names: list[str]) -> int:
    missed = 0
    print(f"{'case':16} {'didOpen->publish':>17} {'edit->publish':>14} {'loop held (max)':>16} {'peak RSS':>9}"
          f"   (start-up: loop held)")
    for name in names or list(HOSTILE):
        r = hostile_case(name)
        ok = r["max_hold_ms"] <= LOOP_BUDGET_MS and r["peak_rss_mb"] < RSS_BUDGET_MB
        missed += not ok
        print(f"{name:16} {r['open_ms']:>14.0f} ms {r['edit_ms']:>11.0f} ms {r['max_hold_ms']:>13.0f} ms "
              f"{r['peak_rss_mb']:>6.0f} MB  {'ok' if ok else 'MISSED'} ({r['pings']} pings; start-up "
              f"{r['startup_hold_ms']:.0f} ms)", flush=True)
    print(f"budgets: the event loop held at most {LOOP_BUDGET_MS} ms, peak RSS under {RSS_BUDGET_MB} MB")
    return 1 if missed else 0


def main() -> int:
    if sys.argv[1:2] == ["hostile"]:
        return hostile(sys.argv[2:])
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
