"""One sample under the debugger: ``python -m tensorleap_ls_child.debug`` (started by
``tensorleap_ls/runtime/debug.py``, through the trust gate).

It runs what the child runs for one sample (the entry imported as the platform does, preprocess,
the inputs, ground truths, metadata and visualizers of that sample, optionally the integration
test: ``load.load`` and ``preview.preview``) with debugpy listening, so breakpoints in the user's
files and in the helpers they call stop there. debugpy is the product's own copy: its folder comes
in ``TL_DEBUGPY_PATH`` and is on ``sys.path`` only while debugpy is imported (the project
interpreter needs nothing but code-loader, and none of the server's libraries can shadow the
user's). The per-call time limit is off: a breakpoint is not a hang.

The first line on stdout is ``TL_DEBUG_LISTENING <host> <port>``; the process waits for a DAP
client, runs the sample, prints what it saw and ends. When the client ends the session first
(disconnect), the process ends at once.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import threading
import time

if __name__ == "__main__" and sys.path and os.path.abspath(sys.path[0] or ".") == os.getcwd():
    del sys.path[0]  # as the child's __main__: the project root is not ours to import from

from tensorleap_ls_child import sandbox  # noqa: E402
from tensorleap_ls_child.state import STATE, binder  # noqa: E402
from tensorleap_ls_child.where import chosen  # noqa: E402

LISTENING = "TL_DEBUG_LISTENING"


def _debugpy():
    """debugpy from the product's folder, which leaves ``sys.path`` again once it is imported."""
    folder = os.environ.get("TL_DEBUGPY_PATH") or ""
    added = bool(folder) and folder not in sys.path
    if added:
        sys.path.insert(0, folder)
    try:
        return importlib.import_module("debugpy")
    finally:
        if added:
            sys.path.remove(folder)


def _watch_client(debugpy) -> None:
    """Ends the process when the client that attached goes away (the session's end)."""
    def watch() -> None:
        while not debugpy.is_client_connected():
            time.sleep(0.1)
        while debugpy.is_client_connected():
            time.sleep(0.1)
        os._exit(0)

    t = threading.Thread(target=watch, name="tensorleap-debug-watch", daemon=True)
    t.is_pydev_daemon_thread = True  # not traced, not shown among the user's threads
    t.start()


def keep_only(functions: list) -> None:
    """The sample runs only these functions (Python or registered names); preprocess always runs."""
    if not functions:
        return
    wanted = set(functions)
    sc = binder().setup_container
    sc.inputs[:] = [h for h in sc.inputs if chosen(h, h.name, wanted)]
    sc.ground_truths[:] = [h for h in sc.ground_truths if chosen(h, h.name, wanted)]
    sc.metadata[:] = [h for h in sc.metadata if chosen(h, h.name, wanted)]
    sc.visualizers[:] = [h for h in sc.visualizers if chosen(h, h.visualizer_handler_data.name, wanted)]


def run(root: str, entry: str, subset: str, sample, functions: list, integration_test: bool) -> dict:
    """The sample, as the child previews it; a summary of what was seen (plain JSON)."""
    from tensorleap_ls_child.load import load
    from tensorleap_ls_child.preview import preview
    from tensorleap_ls_child.samples import preprocess
    from tensorleap_ls_child.state import _ids

    sandbox._HAS_ALARM = False  # a breakpoint is not a hang: no per-call alarm
    loaded = load(root, entry)
    if not loaded.ok:
        err = loaded.error
        return {"ok": False, "message": "importing the entry failed: %s" % (err.message if err else loaded.message),
                "problems": [err.to_wire()] if err else []}
    keep_only(functions)
    if sample is None:  # the subset's first sample
        pre = preprocess()
        ids = _ids(subset) if pre.ok and subset in (STATE["responses"] or {}) else []
        sample = ids[0] if ids else None
    out = preview(subset, sample, [], integration_test and binder().integration_test_func is not None)
    seen = {"ok": out.ok, "message": out.message, "subset": out.subset, "sample_id": out.sample_id,
            "problems": [p.to_wire() for p in out.problems + out.findings]}
    for section in ("inputs", "ground_truths", "metadata", "visualizers"):
        seen[section] = [item.get("name") for item in getattr(out, section)]
    return seen


def _lines(result: dict) -> list:
    if not result.get("ok"):
        lines = ["debug-sample: %s" % (result.get("message") or "the sample did not run")]
    else:
        ran = ", ".join("%s %s" % (k, ", ".join(result[k])) for k in ("inputs", "ground_truths", "metadata",
                                                                        "visualizers") if result.get(k))
        lines = ["debug-sample: %s sample %r ran (%s)" % (result.get("subset"), result.get("sample_id"), ran or "nothing")]
    for p in result.get("problems") or []:
        where = "%s:%s: " % (p.get("file"), p.get("line")) if p.get("file") else ""
        lines.append("problem: %s%s %s" % (where, p.get("code") or p.get("type") or "", p.get("message", "")))
    return lines


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="tensorleap_ls_child.debug")
    p.add_argument("--root", required=True)
    p.add_argument("--entry", required=True)
    p.add_argument("--subset", default="training")
    p.add_argument("--sample", default=None, help="JSON of the sample id (a string that is not JSON: itself)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--function", action="append", default=[])
    p.add_argument("--no-integration-test", action="store_true")
    args = p.parse_args(argv)
    from tensorleap_ls_child.guard import guard

    guard()  # the launcher's lifeline: nothing the sample starts outlives it
    try:
        sample = json.loads(args.sample) if args.sample is not None else None
    except ValueError:
        sample = args.sample
    debugpy = _debugpy()
    host, port = debugpy.listen((args.host, args.port))
    print("%s %s %d" % (LISTENING, host, port), flush=True)
    _watch_client(debugpy)
    debugpy.wait_for_client()  # returns once the client's breakpoints are set (configurationDone)
    STATE["root"] = os.path.abspath(args.root)
    result = run(STATE["root"], os.path.abspath(args.entry), args.subset, sample, args.function,
                 not args.no_integration_test)
    for line in _lines(result):
        print(line, flush=True)
    return 0 if result.get("ok") and not result.get("problems") else 1


if __name__ == "__main__":
    sys.exit(main())
