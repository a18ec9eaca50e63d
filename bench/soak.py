"""Soak: a long editing session against the real server; RSS sampled as it goes.

30,000 one-character edits (typed and deleted again, so the text stays the same size) on the
bundled decorator example, through the launcher like an editor; the server's RSS is read from
/proc every 1,000 edits after the server has caught up (a documentSymbol round trip). Before the
workaround of pygls's retained notification futures (lsp/protocol.py) RSS grew linearly: 47 ->
72 MB over 10k edits, 112 MB over 30k.

    .venv/bin/python bench/soak.py [EDITS] [--debounce MS]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from lsp_client import LspClient  # noqa: E402

import tensorleap_ls  # noqa: E402

LAUNCHER = str(Path(tensorleap_ls.__file__).parent / "_boot" / "serve.py")
EXAMPLE = HERE.parent / "examples" / "decorator_mnist"


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("edits", nargs="?", type=int, default=30_000)
    ap.add_argument("--debounce", type=int, default=100)
    ap.add_argument("--every", type=int, default=1000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        root = Path(d) / "p"
        shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("__pycache__"))
        entry = root / "leap_integration.py"
        text = entry.read_text()
        uri = entry.resolve().as_uri()
        c = LspClient([sys.executable, LAUNCHER], cwd=str(root), env={**os.environ, "TL_DISABLE_ANALYTICS": "1"})
        samples = []
        t0 = time.perf_counter()
        try:
            c.request("initialize", {"processId": None, "rootUri": root.as_uri(), "capabilities": {},
                                     "initializationOptions": {"debounceMs": args.debounce}}, timeout=120)
            c.notify("initialized", {})
            c.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1,
                                                               "text": text}})
            line = text.count("\n")  # the last (empty) line
            for v in range(2, args.edits + 2):
                if v % 2 == 0:
                    change = {"range": {"start": {"line": line, "character": 0}, "end": {"line": line, "character": 0}},
                              "text": "#"}
                else:
                    change = {"range": {"start": {"line": line, "character": 0}, "end": {"line": line, "character": 1}},
                              "text": ""}
                c.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": v}, "contentChanges": [change]})
                if (v - 1) % args.every == 0:
                    c.request("textDocument/documentSymbol", {"textDocument": {"uri": uri}}, timeout=120)
                    samples.append((v - 1, rss_mb(c.proc.pid)))
                    c._notifications.clear()  # the client's own memory is not the point
        finally:
            c.close()
    took = time.perf_counter() - t0
    print(f"{args.edits} edits in {took:.0f} s (debounce {args.debounce} ms); server RSS (MB) every {args.every}:")
    for edits, mb in samples:
        print(f"  {edits:>6}  {mb:6.1f}")
    first, last = samples[0][1], samples[-1][1]
    print(f"first sample {first:.1f} MB, last {last:.1f} MB: {last - first:+.1f} MB over "
          f"{samples[-1][0] - samples[0][0]} edits")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
