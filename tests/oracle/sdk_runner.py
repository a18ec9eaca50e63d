"""The SDK side of the oracle: a long-lived process that runs projects through the real code-loader.

Run with the interpreter that has code-loader 1.0.214 (the test venv). Protocol: one JSON request per line
on stdin, one JSON answer per line on stdout (the original stdout; user code's prints never reach it).

    {"root": "/abs/project", "entry": "leap_integration.py", "platform": false, "check": true, "mode": "load"}

The server imports code_loader once (TL_DISABLE_ANALYTICS=1) and never runs user code itself: every case
runs in a child forked from that pristine state, so each case starts with an empty ``leap_binder``, empty
decorator state and no user module in ``sys.modules``. The child does what the platform does
(``LeapLoader(root, entry).exec_script()``: import of the entry with the project's folders on sys.path,
then the integration test in mapping mode), then ``leap_binder.check()`` (preprocess and the first sample
of every handler), and with ``platform`` the platform's ``check_dataset()`` under
``IS_TENSORLEAP_PLATFORM=true`` (the integration-test-required rule). With ``"mode": "local"`` it does
what ``python leap_integration.py`` does instead (``run_local``): the decorated test on a real sample.

Answer: {"ok", "stage" (import|mapping|check|platform|local|crash|timeout, or null when ok), "error" (the SDK's
message), "type", "where": [{"file", "line"}] (frames of the project, innermost last),
"registrations": {kind: [names]} (after a successful import), "kept": {kind: the function the SDK keeps for
preprocess / unlabeled preprocess / integration test}, "pid", "sys_modules_user" (user modules
seen in the child before the case, to prove freshness), "log" (tail of the child's output)}.
"""

from __future__ import annotations

import json
import os
import select
import signal
import sys
import tempfile
import time
import traceback

os.environ.setdefault("TL_DISABLE_ANALYTICS", "1")
os.environ.pop("IS_TENSORLEAP_PLATFORM", None)

import numpy  # noqa: E402,F401  (pre-imported so forks are cheap)
import code_loader  # noqa: E402,F401
from code_loader import leap_binder as _lb  # noqa: E402
from code_loader.inner_leap_binder import leapbinder_decorators  # noqa: E402,F401
from code_loader.leaploader import LeapLoader  # noqa: E402,F401
import matplotlib  # noqa: E402,F401  (visualize() needs it; public integrations install it)
from code_loader.plot_functions.visualize import visualize  # noqa: E402,F401

# Names the SDK pre-registers on every LeapBinder (they are not the user's registrations).
_BUILTIN = {
    "visualizer": {v.visualizer_handler_data.name for v in _lb.setup_container.visualizers},
    "metric": {m.metric_handler_data.name for m in _lb.setup_container.metrics},
    "loss": {c.custom_loss_handler_data.name for c in _lb.setup_container.custom_loss_handlers},
}
_BASE_MODULES = set(sys.modules)


def registrations(binder) -> dict[str, list]:
    s = binder.setup_container
    out: dict[str, list] = {
        "preprocess": [None] if s.preprocess is not None else [],
        "unlabeled_preprocess": [None] if s.unlabeled_data_preprocess is not None else [],
        "input": [h.name for h in s.inputs],
        "ground_truth": [h.name for h in s.ground_truths],
        "metadata": [h.name for h in s.metadata],
        "prediction": [p.name for p in s.prediction_types],
        "visualizer": [v.visualizer_handler_data.name for v in s.visualizers],
        "metric": [m.metric_handler_data.name for m in s.metrics],
        "loss": [c.custom_loss_handler_data.name for c in s.custom_loss_handlers],
        "custom_layer": list(s.custom_layers),
        "instance_metric": [m.metric_handler_data.name for m in s.instance_metrics],
        "integration_test": [None] if binder.integration_test_func is not None else [],
    }
    for kind, names in _BUILTIN.items():
        out[kind] = [n for n in out[kind] if n not in names]
    return {k: v for k, v in out.items() if v}


def kept_functions(binder) -> dict[str, str]:
    """The user function the SDK keeps for each single-valued registration (the last one registered wins)."""
    s = binder.setup_container
    out = {}
    for kind, handler in (("preprocess", s.preprocess), ("unlabeled_preprocess", s.unlabeled_data_preprocess)):
        fn = getattr(handler, "function", None)
        if fn is not None:
            out[kind] = getattr(fn, "__name__", repr(fn))
    if binder.integration_test_func is not None:
        out["integration_test"] = getattr(binder.integration_test_func, "__name__", "")
    return out


def _where(exc: BaseException, root: str) -> list[dict]:
    """Frames of the project in the exception's traceback (following __cause__/__context__ to the root)."""
    chain = []
    e: BaseException | None = exc
    while e is not None and e not in chain:
        chain.append(e)
        e = e.__cause__ or e.__context__
    root = os.path.realpath(root) + os.sep
    for e in reversed(chain):  # the original exception first
        frames = [(os.path.realpath(f.filename), f.lineno) for f in traceback.extract_tb(e.__traceback__)]
        mine = [{"file": os.path.relpath(p, root), "line": n} for p, n in frames if p.startswith(root)]
        if isinstance(e, SyntaxError) and e.filename and os.path.realpath(e.filename).startswith(root):
            # the compiler names the offending line of the module it compiles (no frame of its own)
            mine.append({"file": os.path.relpath(os.path.realpath(e.filename), root), "line": e.lineno or 1})
        if mine:
            return mine
    return []


def _stage_of(exc: BaseException) -> str:
    cause = exc.__cause__ or exc.__context__ or exc
    names = [f.name for f in traceback.extract_tb(cause.__traceback__)]
    if "evaluate_module" in names or "exec_module" in names:
        return "import"
    if "get_preprocess_result" in names:
        return "check"
    return "mapping"


def run_case(req: dict) -> dict:
    """Runs in the forked child."""
    root, entry = req["root"], req["entry"]
    user_before = sorted(set(sys.modules) - _BASE_MODULES)
    result: dict = {"ok": True, "stage": None, "error": None, "type": None, "where": [], "registrations": {},
                    "pid": os.getpid(), "sys_modules_user": user_before}
    os.chdir(root)
    from code_loader import leap_binder
    from code_loader.leaploader import LeapLoader

    def fail(stage: str, exc: BaseException) -> dict:
        cause = exc.__cause__ or exc
        result.update(ok=False, stage=stage, error=f"{type(exc).__name__}: {exc}", type=type(cause).__name__,
                      where=_where(exc, root))
        return result

    if req.get("mode") == "local":
        return run_local(root, entry, result, fail)
    loader = LeapLoader(root, entry)
    try:
        loader.exec_script()
    except BaseException as exc:  # noqa: BLE001 - SystemExit from user code is a failure too
        return fail(_stage_of(exc), exc)
    result["registrations"] = registrations(leap_binder)
    result["kept"] = kept_functions(leap_binder)
    if req.get("check", True):
        try:
            leap_binder.check()
        except BaseException as exc:  # noqa: BLE001
            return fail("check", exc)
    if req.get("platform"):
        os.environ["IS_TENSORLEAP_PLATFORM"] = "true"
        parsed = loader.check_dataset()
        if not parsed.is_valid:
            failed = [p for p in parsed.payloads if not p.is_passed]
            msg = parsed.general_error or "; ".join(f"{p.name}: {p.display}" for p in failed)
            result.update(ok=False, stage="platform", error=str(msg), type="DatasetIntegParseResult",
                          failed_payloads=[p.name for p in failed])
    return result


def run_local(root: str, entry: str, result: dict, fail) -> dict:
    """What ``python leap_integration.py`` does locally: import the entry (as the platform lays out sys.path),
    then call the decorated integration test on the first training sample (real run, mapping run, then
    ``leap_binder.check()``). Decorator call-time validation only happens on this path."""
    import importlib.util

    from code_loader import leap_binder

    path = os.path.join(root, entry)
    for parent in [os.path.dirname(path)] + [str(p) for p in __import__("pathlib").Path(path).parents]:
        if parent.startswith(root) and parent not in sys.path:
            sys.path.append(parent)
    try:
        spec = importlib.util.spec_from_file_location("__tl_entry__", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules["__tl_entry__"] = module
        spec.loader.exec_module(module)
    except BaseException as exc:  # noqa: BLE001
        return fail("import", exc)
    result["registrations"] = registrations(leap_binder)
    def decorated(registrar: str) -> list:
        return [v for v in vars(module).values() if callable(v) and getattr(v, "__qualname__", "").startswith(
            registrar + ".")]

    tests, preprocess = decorated("tensorleap_integration_test"), decorated("tensorleap_preprocess")
    try:  # __main__ calls the decorated preprocess (validated); legacy scripts only have the handler
        responses = preprocess[-1]() if preprocess else list(leap_binder.get_preprocess_result().values())
    except BaseException as exc:  # noqa: BLE001
        return fail("check", exc)
    try:
        if tests:
            training = next((r for r in responses if r.state is not None and r.state.name == "training"),
                            responses[0])
            tests[-1](training.sample_ids[0], training)
        else:
            leap_binder.check()
    except BaseException as exc:  # noqa: BLE001
        return fail("local", exc)
    return result


def serve_one(req: dict) -> dict:
    timeout = float(req.get("timeout", 60))
    rfd, wfd = os.pipe()
    log = tempfile.TemporaryFile()
    pid = os.fork()
    if pid == 0:  # child
        os.close(rfd)
        try:
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
            sys.stdout = os.fdopen(1, "w", buffering=1)
            sys.stderr = os.fdopen(2, "w", buffering=1)
            try:
                out = run_case(req)
            except BaseException as exc:  # noqa: BLE001 - the runner itself must answer
                out = {"ok": False, "stage": "crash", "error": f"runner: {exc!r}", "where": []}
            data = json.dumps(out, default=repr).encode()
            with os.fdopen(wfd, "wb") as w:
                w.write(data)
        finally:
            os._exit(0)  # skip the SDK's atexit status table
    os.close(wfd)
    chunks, deadline, timed_out = [], time.monotonic() + timeout, False
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            os.kill(pid, signal.SIGKILL)
            break
        ready, _, _ = select.select([rfd], [], [], left)
        if ready:
            chunk = os.read(rfd, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    os.close(rfd)
    os.waitpid(pid, 0)
    log.seek(0)
    tail = log.read()[-4000:].decode("utf-8", "replace")
    log.close()
    if timed_out:
        return {"ok": False, "stage": "timeout", "error": f"no answer in {timeout}s", "where": [], "log": tail}
    if not chunks:
        return {"ok": False, "stage": "crash", "error": "the child died without an answer", "where": [], "log": tail}
    out = json.loads(b"".join(chunks))
    out["log"] = tail
    return out


def main() -> None:
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    proto.write(json.dumps({"ready": True, "pid": os.getpid(), "builtin": {k: sorted(v) for k, v in _BUILTIN.items()}})
                + "\n")
    for line in sys.stdin:
        if not line.strip():
            continue
        proto.write(json.dumps(serve_one(json.loads(line))) + "\n")


if __name__ == "__main__":
    main()
