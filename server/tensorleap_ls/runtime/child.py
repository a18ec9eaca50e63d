"""The child process: runs the user's integration in the project's own interpreter.

Started by ``runtime/runner.py`` as ``<project python> child.py``; it must not import
tensorleap_ls (the project's interpreter need not have it): standard library, numpy and
code_loader only. It speaks JSON lines: requests on stdin, responses on the original stdout
(kept on a private descriptor); the user's own prints go to stderr, which the server caps.

It imports the entry the way the platform does (a module, not ``__main__``; the entry's parent
folders up to the root on ``sys.path``; cwd = project root), stays warm and caches the
preprocess result until the server asks for a reload.
"""

from __future__ import annotations

import os
import sys

# ``python child.py`` puts this folder first on sys.path: the user's ``import api`` / ``import
# render`` must find their own modules, not the server's.
if sys.path and os.path.abspath(sys.path[0] or ".") == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]


# --- guardian ---------------------------------------------------------------------------------
def _linux_prctl(option: int, arg: int) -> bool:
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl(option, arg, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


_PR_SET_PDEATHSIG, _PR_SET_CHILD_SUBREAPER = 1, 36


def _proc_table() -> dict:
    """pid -> (ppid, pgid) of every process (Linux /proc); {} elsewhere."""
    table = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return table
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name, "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            table[int(name)] = (int(fields[1]), int(fields[2]))
        except (OSError, IndexError, ValueError):
            continue
    return table


def _kill_descendants(me: int) -> None:
    """SIGKILL every process below ``me`` (a subreaper: orphans of any depth are re-parented to it,
    double-forked daemons in their own session included) and of its process group; reap them."""
    import signal as _signal

    group = os.getpgid(me)
    for _ in range(50):
        table = _proc_table()
        below, frontier = set(), {me}
        while frontier:
            frontier = {p for p, (pp, _g) in table.items() if pp in frontier and p not in below}
            below |= frontier
        below |= {p for p, (_pp, g) in table.items() if g == group and p != me}
        if not table:  # no /proc: the process group is all we can reach
            _signal.signal(_signal.SIGTERM, _signal.SIG_IGN)
            try:
                os.killpg(group, _signal.SIGTERM)
            except OSError:
                pass
        for p in below:
            try:
                os.kill(p, _signal.SIGKILL)
            except OSError:
                pass
        while True:
            try:
                pid, _st = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                pid = 0
            if pid == 0:
                break
        if not below:
            return
        import time as _time

        _time.sleep(0.02)


def _guard() -> None:
    """Fork: the worker (this process's child) runs the protocol and the user's code; this
    process stays small and watches. It is the process the server started (its pid is the one
    the server signals), a subreaper for everything the user's code starts, and it kills all of
    it when the server goes away (the server's end of the guard pipe closes, or the parent
    changes: SIGKILL of the server, SIGTERM of the CLI...) or when the worker ends. The server's
    trace file is removed when the server cannot do it any more."""
    import select
    import signal as _signal

    fd = int(os.environ.pop("TL_GUARD_FD", "-1"))
    if fd < 0 or not hasattr(os, "fork"):
        return
    _linux_prctl(_PR_SET_CHILD_SUBREAPER, 1)
    server = os.getppid()
    worker = os.fork()
    if worker == 0:
        os.close(fd)
        _linux_prctl(_PR_SET_PDEATHSIG, int(_signal.SIGKILL))  # the guardian is single-threaded
        return
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ImportError, ValueError, OSError):
        pass
    me = os.getpid()

    def forward(signum, frame):  # the server asks for the worker's stack
        try:
            os.kill(worker, signum)
        except OSError:
            pass

    stop = []
    _signal.signal(_signal.SIGUSR1, forward)
    _signal.signal(_signal.SIGTERM, lambda s, f: stop.append(s))
    _signal.signal(_signal.SIGINT, lambda s, f: stop.append(s))
    status = None
    while status is None and not stop:
        try:
            ready = select.select([fd], [], [], 0.05)[0]
            if ready and not os.read(fd, 64):
                break  # the server is gone (or closed the child)
        except InterruptedError:
            pass
        if os.getppid() != server:
            break
        while True:
            try:
                pid, st = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                pid, st = 0, 0
            if pid == 0:
                break
            if pid == worker:
                status = st
    _kill_descendants(me)
    if status is None:  # the server went away: nobody else will remove its trace file
        trace = os.environ.get("TL_TRACE_FILE")
        if trace and os.path.basename(trace).startswith("tl-trace-"):
            try:
                os.unlink(trace)
            except OSError:
                pass
        os._exit(0)
    if os.WIFSIGNALED(status):  # mirror the worker's end: the server classifies it
        sig = os.WTERMSIG(status)
        try:
            _signal.signal(sig, _signal.SIG_DFL)
            os.kill(me, sig)
        except (OSError, ValueError):
            pass
        os._exit(128 + sig)
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)


_guard()

import base64  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import random  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from typing import Any, Dict, List, Optional, Tuple  # noqa: E402


def _load_wire():
    """``wire.py`` (beside this file) under a private name: it must not shadow a user module."""
    spec = importlib.util.spec_from_file_location("_tensorleap_ls_wire",
                                                  os.path.join(os.path.dirname(os.path.abspath(__file__)), "wire.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


wire = _load_wire()

# Protocol channel: the original stdout. User prints go to stderr from here on.
_PROTO = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
os.dup2(2, 1)
sys.stdout = sys.stderr

import faulthandler  # noqa: E402
import signal  # noqa: E402

# Where the server reads stacks after a hang (SIGUSR1), a crash (SIGSEGV...) or os._exit().
_TRACE_PATH = os.environ.get("TL_TRACE_FILE")
if _TRACE_PATH:
    _TRACE = open(_TRACE_PATH, "w", buffering=1, encoding="utf-8")
    faulthandler.enable(file=_TRACE, all_threads=False)
    faulthandler.register(signal.SIGUSR1, file=_TRACE, all_threads=False)
    _real_exit = os._exit

    def _traced_exit(code=0):
        _TRACE.write("os._exit(%s)\n" % code)
        for fs in reversed(traceback.extract_stack()[:-1]):
            _TRACE.write('  File "%s", line %s in %s\n' % (fs.filename, fs.lineno, fs.name))
        _TRACE.flush()
        _real_exit(code)

    os._exit = _traced_exit

import numpy as np  # noqa: E402

class CallTimeout(BaseException):
    """Raised in the main thread when one user call exceeds its time limit (not an Exception:
    user code's ``except Exception`` must not swallow it)."""


def _alarm(signum, frame):
    raise CallTimeout()


signal.signal(signal.SIGALRM, _alarm)
LIMIT = {"seconds": 30.0, "preprocess": 300.0}


class limited:
    """Per-call time limit (pure-Python hangs; the server kills the child for hangs in C code).
    ``limited("preprocess")``: the import of the entry and preprocess have their own limit."""

    def __init__(self, which: str = "seconds"):
        self.which = which

    def __enter__(self):
        signal.setitimer(signal.ITIMER_REAL, LIMIT[self.which])

    def __exit__(self, *exc):
        signal.setitimer(signal.ITIMER_REAL, 0)
        return False


def classify(e: BaseException, default: str) -> str:
    if isinstance(e, CallTimeout):
        return "TL530"
    if isinstance(e, MemoryError):
        return "TL531"
    if type(e).__name__ == "LeapValidationError":
        return "TL519"
    return default


STATE: Dict[str, Any] = {"module": None, "responses": None, "root": None, "entry": None, "files_read": set()}
scrub = wire.Scrubber(os.environ.get("AUTH_SECRET"))


def send(obj: dict) -> None:
    """One message: the decoded values are scrubbed and made strict JSON before serialising."""
    _PROTO.write(wire.dumps(obj, scrub, _json_default) + "\n")
    _PROTO.flush()


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.bool_,)):
        return bool(o)
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return summarize(o)
    return repr(o)


# --- where did it happen ----------------------------------------------------------------------
def user_frame(tb, root: str) -> tuple[str | None, int | None]:
    """The innermost traceback frame in the user's project (not site-packages, not this file)."""
    best = (None, None)
    for fs in traceback.extract_tb(tb):
        if fs.filename.startswith("<"):  # generated code (dataclass __init__...): not a user line
            continue
        f = os.path.abspath(fs.filename)
        if f.startswith(root + os.sep) and "site-packages" not in f and f != os.path.abspath(__file__):
            best = (f, fs.lineno)
    return best


def error_info(e: BaseException, root: str, fallback=None) -> dict:
    file, line = user_frame(e.__traceback__, root)
    if file is None and fallback is not None:
        file, line = fallback
    text = "".join(traceback.format_exception_only(type(e), e)).strip()
    return {"type": type(e).__name__, "message": scrub(text[:2000]), "file": file, "line": line,
            "sdk": "validation failed" in str(e) or type(e).__name__ == "LeapValidationError"}


def fn_location(fn) -> tuple[str | None, int | None]:
    """File and line of the ``def`` (co_firstlineno is the first decorator's line)."""
    code = getattr(fn, "__code__", None)
    while code is None and hasattr(fn, "__wrapped__"):
        fn = fn.__wrapped__
        code = getattr(fn, "__code__", None)
    if code is None:
        return None, None
    import linecache

    line = code.co_firstlineno
    for offset in range(30):
        text = linecache.getline(code.co_filename, line + offset).lstrip()
        if text.startswith(("def ", "async def ", "class ")):
            return os.path.abspath(code.co_filename), line + offset
    return os.path.abspath(code.co_filename), line


def user_function(fn):
    """The user's function behind an SDK wrapper (closures hold it)."""
    root = STATE["root"] or ""
    seen = set()
    stack = [fn]
    while stack:
        f = stack.pop()
        if id(f) in seen or f is None:
            continue
        seen.add(id(f))
        file, _ = fn_location(f)
        if file and file.startswith(root + os.sep) and "site-packages" not in file:
            return f
        for cell in getattr(f, "__closure__", None) or ():
            try:
                v = cell.cell_contents
            except ValueError:
                continue
            if callable(v):
                stack.append(v)
    return fn


def where(fn) -> list:
    f, line = fn_location(user_function(fn))
    return [f, line]


# --- arrays -----------------------------------------------------------------------------------
SAMPLE = 8  # values of an array shown in a summary


def summarize(a: Any) -> dict:
    """Shape, dtype, min/max/mean and a few values: never the array itself (it may be huge)."""
    if not isinstance(a, np.ndarray):
        return {"type": type(a).__name__, "repr": repr(a)[:200]}
    out = {"type": "ndarray", "shape": list(a.shape), "dtype": str(a.dtype)}  # type: Dict[str, Any]
    if a.size and (np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_):
        if np.issubdtype(a.dtype, np.complexfloating):
            a = np.abs(a)
        finite = a[np.isfinite(a)] if np.issubdtype(a.dtype, np.floating) else a
        if finite.size:
            out.update(min=float(finite.min()), max=float(finite.max()), mean=float(finite.astype(np.float64).mean()))
        out["nan"] = bool(np.issubdtype(a.dtype, np.floating) and not np.isfinite(a).all())
    flat = a.reshape(-1)[:SAMPLE]
    out["slice"] = [_scalar(x) for x in flat]
    if a.size > SAMPLE:
        out["reduced"] = "%d of %d values shown" % (len(flat), a.size)
    return out


def _scalar(x: Any) -> Any:
    """One element of an array, for display (object arrays hold anything: ragged rows...)."""
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, (int, float, str, bool)) or x is None:
        return x
    if isinstance(x, np.ndarray):
        return "array%s %s" % (tuple(x.shape), x.dtype)
    return repr(x)[:80]


# --- loading ----------------------------------------------------------------------------------
def load(root: str, entry: str) -> dict:
    STATE.update(root=root, entry=entry, module=None, responses=None)
    os.chdir(root)
    d = os.path.dirname(entry)
    parents = []
    while True:
        parents.append(d)
        if d == root or os.path.dirname(d) == d:
            break
        d = os.path.dirname(d)
    for p in parents:
        if p not in sys.path:
            sys.path.append(p)
    _track_opens()
    try:
        spec = importlib.util.spec_from_file_location("tensorleap_entry", entry)
        module = importlib.util.module_from_spec(spec)
        sys.modules["tensorleap_entry"] = module
        with limited("preprocess"):
            spec.loader.exec_module(module)
    except SystemExit as e:
        return {"ok": False, "error": {"type": "SystemExit", "message": f"sys.exit({e.code}) during import",
                                       "file": entry, "line": None, **_exit_frame(e, root)}, "exit": True}
    except BaseException as e:  # noqa: BLE001 - any failure of user code is a finding
        return {"ok": False, "error": error_info(e, root, (entry, 1))}
    STATE["module"] = module
    return {"ok": True, "setup": setup_summary()}


def _exit_frame(e: BaseException, root: str) -> dict:
    file, line = user_frame(e.__traceback__, root)
    return {"file": file, "line": line} if file else {}


def _track_opens() -> None:
    """Remember project files the user code reads, so the server can invalidate the cache."""
    import builtins

    if getattr(builtins.open, "_tl_tracked", False):
        return
    real_open = builtins.open

    def tracked(file, mode="r", *a, **k):
        try:
            if isinstance(file, (str, os.PathLike)) and "r" in str(mode):
                STATE["files_read"].add(os.path.abspath(os.fspath(file)))
        except Exception:  # noqa: BLE001
            pass
        return real_open(file, mode, *a, **k)

    tracked._tl_tracked = True  # type: ignore[attr-defined]
    builtins.open = tracked


def binder():
    from code_loader import leap_binder

    return leap_binder


def setup_summary() -> dict:
    sc = binder().setup_container
    out: dict[str, Any] = {
        "preprocess": where(sc.preprocess.function) if sc.preprocess else None,
        "inputs": [{"name": h.name, "where": where(h.function), "channel_dim": h.channel_dim} for h in sc.inputs],
        "ground_truths": [{"name": h.name, "where": where(h.function)} for h in sc.ground_truths],
        "metadata": [{"name": h.name, "where": where(h.function), "has_type": h.metadata_type is not None}
                     for h in sc.metadata],
        "visualizers": [{"name": h.visualizer_handler_data.name, "where": where(h.function),
                         "type": h.visualizer_handler_data.type.name,
                         "args": list(h.visualizer_handler_data.arg_names)} for h in sc.visualizers
                        if _is_user(h.function)],
        "prediction_types": [{"name": p.name, "labels": list(p.labels)} for p in sc.prediction_types],
        "integration_test": where(binder().integration_test_func) if binder().integration_test_func else None,
    }
    return out


def _is_user(fn) -> bool:
    f, _ = fn_location(user_function(fn))
    return bool(f and STATE["root"] and f.startswith(STATE["root"] + os.sep))


# --- preprocess -------------------------------------------------------------------------------
def preprocess() -> dict:
    if STATE["responses"] is not None:
        return {"ok": True, "subsets": _subsets(), "cached": True}
    sc = binder().setup_container
    if sc.preprocess is None:
        return {"ok": True, "subsets": [], "findings": [_f("TL101", "No preprocess registered.", None)]}
    findings = []
    t0 = time.perf_counter()
    try:
        with limited("preprocess"):
            result = sc.preprocess.function()
    except SystemExit as e:
        return {"ok": False, "exit": True, "findings": [_f("TL533", f"sys.exit({e.code}) called in preprocess",
                                                           _where_exc(e, sc.preprocess.function))]}
    except BaseException as e:  # noqa: BLE001
        info = error_info(e, STATE["root"], tuple(where(sc.preprocess.function)))
        code = classify(e, "TL502")
        what = {"TL530": f"preprocess exceeded the {LIMIT['preprocess']:g} s time limit",
                "TL531": "preprocess ran out of memory (MemoryError)"}.get(code, f"preprocess raised {info['message']}")
        return {"ok": False, "findings": [_f(code, what, [info["file"], info["line"]])]}
    loc = where(sc.preprocess.function)
    from code_loader.contract.datasetclasses import PreprocessResponse
    from code_loader.contract.enums import DataStateType

    if isinstance(result, PreprocessResponse):
        result = [result]
    if not isinstance(result, (list, tuple)) or not all(isinstance(r, PreprocessResponse) for r in result):
        return {"ok": False, "findings": [_f("TL502", f"preprocess must return a list of PreprocessResponse, got "
                                             f"{type(result).__name__}", loc)]}
    responses = {}
    order = [DataStateType.training, DataStateType.validation, DataStateType.test, DataStateType.unlabeled,
             DataStateType.additional]
    for i, r in enumerate(result):
        state = r.state if r.state is not None else (order[i] if i < len(order) else None)
        key = state.name if state is not None else f"subset_{i}"
        responses[key] = r
    if sc.unlabeled_data_preprocess is not None and "unlabeled" not in responses:
        try:
            with limited("preprocess"):
                responses["unlabeled"] = sc.unlabeled_data_preprocess.function()
        except BaseException as e:  # noqa: BLE001
            info = error_info(e, STATE["root"], tuple(where(sc.unlabeled_data_preprocess.function)))
            findings.append(_f("TL502", f"unlabeled preprocess raised {info['message']}", [info["file"], info["line"]]))
    for needed in ("training", "validation"):
        if needed not in responses:
            findings.append(_f("TL515", f"preprocess returns no {needed} subset.", loc))
    id_types = set()
    for key, r in responses.items():
        ids = list(r.sample_ids) if r.sample_ids is not None else list(range(r.length or 0))
        if not ids:
            findings.append(_f("TL516", f"The {key} subset has no samples.", loc, subset=key))
            continue
        flat = ids if not ids or not isinstance(ids[0], list) else [x for g in ids for x in g]
        types = {type(x).__name__ for x in flat}
        id_types |= types
        if len(types) > 1:
            findings.append(_f("TL513", f"Sample ids of mixed types in the {key} subset: {sorted(types)}.", loc, subset=key))
        seen, dups = set(), []
        for x in flat:
            if x in seen:
                dups.append(x)
            seen.add(x)
        if dups:
            findings.append(_f("TL512", f"Duplicate sample ids in the {key} subset: {dups[:5]!r}"
                               + (f" and {len(dups) - 5} more" if len(dups) > 5 else "") + ".", loc, subset=key))
        long = [x for x in flat if isinstance(x, str) and len(x) > 256]
        if long:
            findings.append(_f("TL514", f"{len(long)} sample id(s) of the {key} subset exceed 256 characters.", loc, subset=key))
    if len(id_types) > 1 and not any(f["code"] == "TL513" for f in findings):
        findings.append(_f("TL513", f"Subsets use different sample id types: {sorted(id_types)}.", loc))
    STATE["responses"] = responses
    return {"ok": True, "subsets": _subsets(), "findings": findings, "seconds": time.perf_counter() - t0}


def _subsets() -> list[dict]:
    out = []
    for key, r in STATE["responses"].items():
        ids = list(r.sample_ids) if r.sample_ids is not None else list(range(r.length or 0))
        out.append({"name": key, "length": len(ids), "first": ids[:3], "last": ids[-1:] if ids else []})
    return out


def _ids(key: str) -> list:
    r = STATE["responses"][key]
    return list(r.sample_ids) if r.sample_ids is not None else list(range(r.length or 0))


def _where_exc(e: BaseException, fn) -> list:
    file, line = user_frame(e.__traceback__, STATE["root"])
    return [file, line] if file else where(fn)


def _f(code: str, message: str, loc, **extra) -> dict:
    file, line = (loc or [None, None])[:2]
    return {"code": code, "message": scrub(message), "file": file, "line": line, **extra}


# --- sampling ---------------------------------------------------------------------------------
def pick(ids: list, n: int, seed: int) -> list:
    """First, last and evenly spread samples, then seeded random ones; n <= 0 means all."""
    if n <= 0 or n >= len(ids):
        return list(ids)
    idx = {0, len(ids) - 1}
    if n > 2:
        step = (len(ids) - 1) / (n - 1)
        idx |= {int(round(i * step)) for i in range(n)}
    rng = random.Random(seed)
    while len(idx) < n:
        idx.add(rng.randrange(len(ids)))
    return [ids[i] for i in sorted(idx)[:max(n, 2)]]


# --- checks on samples ------------------------------------------------------------------------
def run_checks(samples: int, seed: int, progress_every: int = 0) -> dict:
    pre = preprocess()
    if not pre.get("ok"):
        return pre
    findings = list(pre.get("findings", []))
    if progress_every:
        send({"progress": 0, "total": None, "phase": "preprocess done"})
    sc = binder().setup_container
    shapes: dict[str, tuple] = {}
    meta_types: dict[str, tuple] = {}
    reported: set = set()
    t_user = 0.0
    t_total0 = time.perf_counter()
    calls = 0

    def once(key, f):
        if key not in reported:
            reported.add(key)
            findings.append(f)

    subsets = list(STATE["responses"])
    total = sum(len(pick(_ids(k), samples, seed)) for k in subsets)
    done = 0
    for key in subsets:
        response = STATE["responses"][key]
        # per handler once: its location and the user's own function (not the SDK's wrapper, which
        # would turn a returned list into an array and hide the mistake)
        handlers = [("input", h) for h in sc.inputs]
        if key != "unlabeled":
            handlers += [("ground_truth", h) for h in sc.ground_truths]
        handlers += [("metadata", h) for h in sc.metadata]
        prepared = [(kind, h, where(h.function), user_function(h.function)) for kind, h in handlers]
        first_id = _ids(key)[0] if _ids(key) else None
        for sid in pick(_ids(key), samples, seed):
            for kind, h, loc, raw in prepared:
                t0 = time.perf_counter()
                try:
                    with limited():
                        value = raw(sid, response)
                except SystemExit as e:
                    findings.append(_f("TL533", f"sys.exit({e.code}) called in {kind} '{h.name}'", _where_exc(e, h.function)))
                    return {"ok": False, "exit": True, "findings": findings}
                except BaseException as e:  # noqa: BLE001
                    info = error_info(e, STATE["root"], tuple(loc))
                    code = classify(e, "TL501")
                    what = {"TL530": f"exceeded the {LIMIT['seconds']:g} s time limit",
                            "TL531": "ran out of memory (MemoryError)"}.get(code, f"raised {info['message']}")
                    once((h.name, "exc", info["type"]), _f(code, f"{kind} '{h.name}' {what} on {key} sample {sid!r}",
                                                           [info["file"], info["line"]], sample=sid, subset=key))
                    continue
                finally:
                    t_user += time.perf_counter() - t0
                    calls += 1
                if kind == "metadata":
                    _check_metadata(h, value, key, sid, loc, meta_types, once, first=(key == subsets[0] and sid == first_id))
                else:
                    _check_array(kind, h.name, value, key, sid, loc, shapes, once)
            done += 1
            if progress_every and (done % progress_every == 0 or done == total):
                send({"progress": done, "total": total})
    # determinism: the first training sample twice
    first_key = "training" if "training" in STATE["responses"] else (subsets[0] if subsets else None)
    if first_key and _ids(first_key):
        sid = _ids(first_key)[0]
        for h in sc.inputs + sc.ground_truths:
            try:
                a, b = h.function(sid, STATE["responses"][first_key]), h.function(sid, STATE["responses"][first_key])
                if isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape \
                        and not np.array_equal(a, b, equal_nan=np.issubdtype(a.dtype, np.floating)):
                    findings.append(_f("TL517", f"'{h.name}' gives different arrays for the same sample {sid!r}: it is "
                                       "not deterministic (random augmentation?).", where(h.function), sample=sid,
                                       subset=first_key))
            except BaseException:  # noqa: BLE001 - already reported above
                pass
    findings.extend(_check_visualizers(first_key, seed))
    if binder().integration_test_func is not None and first_key:
        findings.extend(_run_integration_test(first_key, _ids(first_key)[0]))
    total_s = time.perf_counter() - t_total0
    return {"ok": True, "findings": findings, "calls": calls, "user_seconds": t_user, "total_seconds": total_s,
            "samples": done, "files_read": sorted(STATE["files_read"]),
            "observed": [[k, n, v] for (k, n), v in OBSERVED.items()]}


def _check_array(kind, name, value, key, sid, loc, shapes, once) -> None:
    ctx = dict(sample=sid, subset=key)
    if value is None:
        once((name, "none"), _f("TL503", f"{kind} '{name}' returned None on {key} sample {sid!r}.", loc, **ctx))
        return
    if isinstance(value, tuple):
        once((name, "tuple"), _f("TL503", f"{kind} '{name}' returned a tuple of {len(value)}; return one ndarray.", loc, **ctx))
        return
    if not isinstance(value, np.ndarray):
        once((name, "type"), _f("TL503", f"{kind} '{name}' returned {type(value).__name__}, not a numpy array "
                                f"(on {key} sample {sid!r}).", loc, **ctx))
        return
    if value.dtype != np.float32:
        once((name, "dtype"), _f("TL504", f"{kind} '{name}' returned dtype {value.dtype} on {key} sample {sid!r}; "
                                 "the platform expects float32.", loc, **ctx))
    if np.issubdtype(value.dtype, np.floating) and value.size and not np.isfinite(value).all():
        once((name, "nan"), _f("TL505", f"{kind} '{name}' returned NaN/Inf on {key} sample {sid!r}.", loc, **ctx))
    if value.ndim >= 2 and value.shape[0] == 1:
        once((name, "batch"), _f("TL507", f"{kind} '{name}' returns shape {tuple(value.shape)}: a leading axis of size 1 "
                                 "looks like a batch axis; the platform adds its own.", loc, **ctx))
    prev = shapes.get(name)
    if prev is None:
        shapes[name] = (tuple(value.shape), key, sid)
        OBSERVED[(kind, name)] = f"shape {tuple(value.shape)}, dtype {value.dtype}"
    elif prev[0] != tuple(value.shape):
        once((name, "shape"), _f("TL506", f"{kind} '{name}' shape differs: {prev[0]} on {prev[1]} sample {prev[2]!r} but "
                                 f"{tuple(value.shape)} on {key} sample {sid!r}.", loc, **ctx))


_SCALARS = (int, float, str, bool, np.integer, np.floating, np.bool_)
OBSERVED: dict = {}  # (kind, name) -> what the last run saw (shown in hovers)


def _check_metadata(h, value, key, sid, loc, types, once, first: bool) -> None:
    ctx = dict(sample=sid, subset=key)
    name = h.name
    if value is None:
        if first and h.metadata_type is None:
            once((name, "none"), _f("TL511", f"metadata '{name}' is None on the first training sample and no "
                                    "metadata_type is given.", loc, **ctx))
        return
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):  # the SDK: "Keys in the return dict should be of type str"
                once((name, "key"), _f("TL510", f"metadata '{name}' has a key of type {type(k).__name__} ({k!r}); "
                                       "keys must be strings.", loc, **ctx))
            if v is not None and not isinstance(v, _SCALARS):
                once((name, "nested"), _f("TL510", f"metadata '{name}' key {str(k)!r} holds a {type(v).__name__}; "
                                          "values must be scalars.", loc, **ctx))
        keys = tuple(sorted(map(str, value)))
        prev = types.get((name, "keys"))
        if prev is None:
            types[(name, "keys")] = (keys, key, sid)
        elif prev[0] != keys:
            once((name, "keys"), _f("TL509", f"metadata '{name}' keys differ: {list(prev[0])} on {prev[1]} sample "
                                    f"{prev[2]!r} but {list(keys)} on {key} sample {sid!r}.", loc, **ctx))
        for k, v in value.items():
            if v is None or isinstance(v, _SCALARS):
                _metadata_type(f"{name}.{k}", v, key, sid, loc, types, once)
        return
    if not isinstance(value, _SCALARS):
        once((name, "type"), _f("TL510", f"metadata '{name}' returned {type(value).__name__}; return a scalar or a flat "
                                "dict of scalars.", loc, **ctx))
        return
    _metadata_type(name, value, key, sid, loc, types, once)


def _metadata_type(name, v, key, sid, loc, types, once) -> None:
    if v is None:
        return
    if isinstance(v, float) and not math.isfinite(v):
        once((name, "nan"), _f("TL505", f"metadata '{name}' is {v} on {key} sample {sid!r}.", loc, sample=sid, subset=key))
    t = "bool" if isinstance(v, (bool, np.bool_)) else "number" if isinstance(v, (int, float, np.integer, np.floating)) \
        else "str" if isinstance(v, str) else type(v).__name__
    prev = types.get(name)
    if prev is None:
        types[name] = (t, key, sid)
    elif prev[0] != t:
        once((name, "drift"), _f("TL508", f"metadata '{name}' is {prev[0]} on {prev[1]} sample {prev[2]!r} but {t} on "
                                 f"{key} sample {sid!r}; the platform coerces it silently.", loc, sample=sid, subset=key))


# --- visualizers ------------------------------------------------------------------------------
def _sample_tensors(key: str, sid) -> dict:
    sc = binder().setup_container
    r = STATE["responses"][key]
    out = {}
    for h in list(sc.inputs) + (list(sc.ground_truths) if key != "unlabeled" else []):
        try:
            v = h.function(sid, r)
            if isinstance(v, np.ndarray):
                out[h.name] = np.expand_dims(v, 0)  # visualizers get a leading batch axis of size 1
        except BaseException:  # noqa: BLE001 - reported by the encoder checks
            pass
    return out


def _check_visualizers(key, seed) -> list:
    if key is None or not _ids(key):
        return []
    sid = _ids(key)[0]
    tensors = _sample_tensors(key, sid)
    out = []
    for h in binder().setup_container.visualizers:
        if not _is_user(h.function):
            continue
        data = h.visualizer_handler_data
        if not all(a in tensors for a in data.arg_names):
            continue  # fed by predictions: needs the model
        loc = where(h.function)
        try:
            with limited():
                result = h.function(**{a: tensors[a] for a in data.arg_names})
        except BaseException as e:  # noqa: BLE001
            info = error_info(e, STATE["root"], tuple(loc))
            code = classify(e, "TL501")
            out.append(_f(code, f"visualizer '{data.name}' raised on {key} sample {sid!r}: {info['message']}",
                          [info["file"], info["line"]], sample=sid, subset=key))
            continue
        out.extend(_check_leap(data.name, data.type, result, loc, key, sid))
    return out


def _check_leap(name, vtype, result, loc, key, sid) -> list:
    from code_loader.contract import visualizer_classes as vc

    ctx = dict(sample=sid, subset=key)
    expected = vc.map_leap_data_type_to_visualizer_class.get(vtype.value) if hasattr(vc, "map_leap_data_type_to_visualizer_class") else None
    if expected is not None and not isinstance(result, expected):
        return [_f("TL518", f"visualizer '{name}' returned {type(result).__name__}; {vtype.name} needs "
                   f"{expected.__name__}.", loc, **ctx)]
    out = []
    img = getattr(result, "data", None) if type(result).__name__ in ("LeapImage", "LeapImageWithBBox") else \
        getattr(result, "image", None)
    if isinstance(img, np.ndarray) and np.issubdtype(img.dtype, np.floating) and img.size and float(np.nanmax(img)) <= 1.0:
        out.append(_f("TL520", f"visualizer '{name}' returns a float image in [0, 1]: the platform casts it to 8 bits "
                      "without scaling and it renders black. Return uint8 0-255.", loc, **ctx))
    tname = type(result).__name__
    if tname == "LeapImageMask" and result.mask.shape[:2] != result.image.shape[:2]:
        out.append(_f("TL521", f"visualizer '{name}': mask {result.mask.shape[:2]} vs image {result.image.shape[:2]}.", loc, **ctx))
    if tname == "LeapImageWithHeatmap" and result.heatmaps.shape[-2:] != result.image.shape[:2]:
        out.append(_f("TL521", f"visualizer '{name}': heatmaps {result.heatmaps.shape[-2:]} vs image "
                      f"{result.image.shape[:2]}.", loc, **ctx))
    if tname == "LeapHorizontalBar" and len(result.body) != len(result.labels):
        out.append(_f("TL521", f"visualizer '{name}': {len(result.body)} values but {len(result.labels)} labels.", loc, **ctx))
    if tname == "LeapImageWithBBox":
        bad = [b for b in result.bounding_boxes if any(not (0.0 <= float(getattr(b, a, 0)) <= 1.0) for a in ("x", "y", "width", "height"))]
        if bad:
            out.append(_f("TL522", f"visualizer '{name}': {len(bad)} bounding box(es) outside [0, 1] relative coordinates.",
                          loc, **ctx))
    return out


# --- integration test -------------------------------------------------------------------------
def _decorated_test():
    fn = binder().integration_test_func
    module = STATE["module"]
    for mod in [module] + [m for m in list(sys.modules.values()) if getattr(m, "__file__", "") and
                           str(getattr(m, "__file__", "")).startswith(STATE["root"] or "//")]:
        for v in list(vars(mod).values()):
            for cell in getattr(v, "__closure__", None) or ():
                try:
                    if cell.cell_contents is fn:
                        return v
                except ValueError:
                    continue
    return None


def _run_integration_test(key: str, sid, record: dict | None = None) -> list:
    test = _decorated_test()
    fn = binder().integration_test_func
    if test is None:
        return []
    loc = where(fn)
    restore = {}
    if record is not None:
        restore = _install_recorders(fn, record)
    try:
        with limited():
            test(sid, STATE["responses"][key])
    except SystemExit as e:
        return [_f("TL533", f"sys.exit({e.code}) in the integration test", _where_exc(e, fn))]
    except BaseException as e:  # noqa: BLE001
        info = error_info(e, STATE["root"], tuple(loc))
        msg = info["message"]
        # "Invalid integration code. File x.py, line N: ..." names the line in the test
        import re

        m = re.search(r"File ([^,]+), line (\d+)", msg)
        file, line = info["file"], info["line"]
        if m and fn_location(fn)[0] and os.path.basename(fn_location(fn)[0]) == m.group(1).strip():
            file, line = fn_location(fn)[0], int(m.group(2))
        return [_f("TL523", f"integration test on {key} sample {sid!r}: {msg}", [file, line], sample=sid, subset=key)]
    finally:
        for k, v in restore.items():
            fn.__globals__[k] = v
    return []


def _install_recorders(fn, record: dict) -> dict:
    """Wraps the decorated functions the test calls so a preview sees every value they return."""
    g = fn.__globals__
    restore = {}
    names = set(fn.__code__.co_names)
    for name in names:
        v = g.get(name)
        if not callable(v) or getattr(v, "__module__", "") != "code_loader.inner_leap_binder.leapbinder_decorators":
            continue
        restore[name] = v

        def make(name=name, v=v):
            def rec(*a, **k):
                out = v(*a, **k)
                if _MAPPING_ENV in os.environ:
                    return out  # the SDK's second, placeholder pass: nothing real to record
                if name in record.get("loaders", ()):
                    return _ModelRecorder(out, record)
                record.setdefault("calls", []).append((name, out))
                return out
            return rec
        g[name] = make()
    return restore


_MAPPING_ENV = "__MAPPING_RUNTIME_MODE__"


class _ModelRecorder:
    def __init__(self, model, record):
        self._m, self._r = model, record

    def __getattr__(self, item):
        attr = getattr(self._m, item)
        if item in ("run", "predict", "__call__"):
            def call(*a, **k):
                out = attr(*a, **k)
                if _MAPPING_ENV not in os.environ:
                    self._r.setdefault("predictions", []).append(out)
                return out
            return call
        return attr

    def __call__(self, *a, **k):
        out = self._m(*a, **k)
        if _MAPPING_ENV not in os.environ:
            self._r.setdefault("predictions", []).append(out)
        return out


# --- preview ----------------------------------------------------------------------------------
_KIND = {"inputs": "input", "ground_truths": "ground_truth"}


def _collector(findings: list):
    """``once(key, finding)`` as the dynamic run uses it, appending to ``findings``."""
    seen = set()

    def once(key, f):
        if key not in seen:
            seen.add(key)
            findings.append(f)
    return seen, once


def _user_call(fn, args: tuple, name: str, problems: list, kwargs: Optional[dict] = None) -> Tuple[bool, Any]:
    """Calls the user's function; its failure is a problem at the user's line."""
    try:
        with limited():
            return True, fn(*args, **(kwargs or {}))
    except BaseException as e:  # noqa: BLE001 - any failure of user code is a problem of this sample
        info = error_info(e, STATE["root"], tuple(where(fn)))
        info["name"] = name
        info["code"] = classify(e, "TL501")
        problems.append(info)
        return False, None


def _ours(step, what: str, problems: list) -> None:
    """Runs one step of our own code on a user value: if it fails, the problem is ours (said so,
    with no user line), never the user's."""
    try:
        step()
    except Exception as e:  # noqa: BLE001
        problems.append({"type": "internal", "internal": True,
                         "message": "tensorleap-ls failed while %s: %s: %s (a bug of tensorleap-ls, not of your code; "
                                    "please report it)" % (what, type(e).__name__, str(e)[:300])})


def preview(subset: str, sample_id, loaders: list, run_test: bool, functions: dict | None = None) -> dict:
    """``functions``: Python function name -> [kind, registered name], from the static analysis."""
    functions = functions or {}
    pre = preprocess()
    if not pre.get("ok"):
        return pre
    if subset not in STATE["responses"]:
        return {"ok": False, "message": f"no subset {subset!r}; subsets: {list(STATE['responses'])}"}
    ids = _ids(subset)
    sid = _coerce_id(sample_id, ids)
    if sid is None:
        return {"ok": False, "message": f"sample {sample_id!r} is not in the {subset} subset "
                                        f"({len(ids)} samples, e.g. {ids[:3]!r})"}
    sc = binder().setup_container
    r = STATE["responses"][subset]
    t0 = time.perf_counter()
    pos = ids.index(sid)
    out: dict[str, Any] = {"ok": True, "subset": subset, "sample_id": sid, "subsets": list(STATE["responses"]),
                           "neighbors": {"prev": ids[pos - 1] if pos > 0 else None,
                                         "next": ids[pos + 1] if pos + 1 < len(ids) else None},
                           "inputs": [], "ground_truths": [],
                           "metadata": [], "visualizers": [], "predictions": [], "metrics": [], "problems": [],
                           "skipped": []}
    problems = out["problems"]
    found, once = _collector(problems)
    shapes, meta_types = {}, {}  # type: Dict[str, tuple], Dict[str, tuple]
    for kind, handlers in (("inputs", sc.inputs), ("ground_truths", sc.ground_truths if subset != "unlabeled" else [])):
        for h in handlers:
            ok, v = _user_call(h.function, (sid, r), h.name, problems)
            if ok:
                _ours(lambda: out[kind].append({"name": h.name, "value": summarize(v), "render": render_array(v)}),
                      "showing %s '%s'" % (kind, h.name), problems)
                _ours(lambda: _check_array(_KIND[kind], h.name, v, subset, sid, where(h.function), shapes, once),
                      "checking %s '%s'" % (kind, h.name), problems)
    for h in sc.metadata:
        ok, v = _user_call(h.function, (sid, r), h.name, problems)
        if ok:  # the same checker as the dynamic run; the value itself is made sendable by send()
            out["metadata"].append({"name": h.name, "value": v})
            _ours(lambda: _check_metadata(h, v, subset, sid, where(h.function), meta_types, once, first=False),
                  "checking metadata '%s'" % h.name, problems)
    tensors = _sample_tensors(subset, sid)
    for h in sc.visualizers:
        if not _is_user(h.function):
            continue
        data = h.visualizer_handler_data
        if not all(a in tensors for a in data.arg_names):
            out["skipped"].append({"name": data.name, "why": "fed by model predictions"})
            continue
        ok, res = _user_call(h.function, (), data.name, problems, {a: tensors[a] for a in data.arg_names})
        if ok:
            _ours(lambda: out["visualizers"].append({"name": data.name, "type": data.type.name,
                                                     "render": render_leap(res)}),
                  "showing visualizer '%s'" % data.name, problems)
            _ours(lambda: problems.extend(_check_leap(data.name, data.type, res, where(h.function), subset, sid)),
                  "checking visualizer '%s'" % data.name, problems)
    if run_test and binder().integration_test_func is not None:
        record = {"loaders": loaders}  # type: Dict[str, Any]
        problems = _run_integration_test(subset, sid, record)
        out["problems"].extend(problems)
        out["integration_test"] = not problems
        labels = [p["labels"] for p in setup_summary()["prediction_types"]]
        names = [p["name"] for p in setup_summary()["prediction_types"]]
        for batch in record.get("predictions", []):
            outputs = batch if isinstance(batch, (list, tuple)) else [batch]
            for i, o in enumerate(outputs):
                arr = np.asarray(o)
                if arr.ndim == 0 or not np.issubdtype(arr.dtype, np.number):
                    continue
                entry = {"index": i, "name": names[i] if i < len(names) else f"output {i}", "value": summarize(arr)}
                if i < len(labels) and arr.size and arr.shape[-1] == len(labels[i]):
                    row = arr.reshape(-1, arr.shape[-1])[0]
                    top = np.argsort(row)[::-1][:5]
                    entry["top"] = [[labels[i][j], float(row[j])] for j in top]
                out["predictions"].append(entry)
        for fname, value in record.get("calls", []):
            kind, name = (functions.get(fname) or [None, fname])[:2]
            if type(value).__module__.endswith("visualizer_classes") or kind == "visualizer":
                out["visualizers"] = [v for v in out["visualizers"] if v["name"] != name]
                out["visualizers"].append({"name": name, "type": type(value).__name__, "render": render_leap(value),
                                           "from_test": True})
            elif kind in ("metric", "loss"):
                out["metrics"].append({"name": name, "kind": kind, "value": _json_default(value)
                                       if isinstance(value, np.ndarray) else _plain(value)})
        shown = {v["name"] for v in out["visualizers"]}
        out["skipped"] = [s for s in out["skipped"] if s["name"] not in shown]
    out["seconds"] = time.perf_counter() - t0
    return out


def _plain(v):
    try:
        json.dumps(v)
        return v
    except TypeError:
        return repr(v)[:200]


def _coerce_id(sample_id, ids):
    if sample_id in ids:
        return sample_id
    for conv in (int, str):
        try:
            c = conv(sample_id)
        except (TypeError, ValueError):
            continue
        if c in ids:
            return c
    return None


# --- rendering data (the server encodes PNGs; Pillow may not be here) ---------------------------
MAX_SIDE = 1024  # pixels of the longest side of an image sent to the server


# raw RGB bytes of the images of one request (reset per request): bounds what the server receives
PIXEL_BUDGET = {"total": 24 * 1024 * 1024, "left": 24 * 1024 * 1024}


def _step(shape) -> int:
    """Subsampling step that brings the longest side of ``shape`` (H, W) under ``MAX_SIDE``."""
    return max(1, -(-max(int(shape[0]), int(shape[1])) // MAX_SIDE))


def _rgb(a: np.ndarray) -> dict:
    """As the platform shows it: uint8 as is; floats cast to 8 bits WITHOUT scaling. Larger
    images are subsampled to ``MAX_SIDE`` (the summary says so): the server holds and sends
    a bounded preview whatever the user returns."""
    a = np.asarray(a)
    if a.ndim == 2:
        a = a[..., None]
    full = (int(a.shape[0]), int(a.shape[1]))
    step = _step(full)
    if step > 1:
        a = a[::step, ::step]
    cost = int(a.shape[0]) * int(a.shape[1]) * 3
    if cost > PIXEL_BUDGET["left"]:
        return {"kind": "rgb", "height": int(a.shape[0]), "width": int(a.shape[1]),
                "reduced": "not shown: the preview already holds %d MB of images" % (PIXEL_BUDGET["total"] >> 20)}
    PIXEL_BUDGET["left"] -= cost
    if a.dtype != np.uint8:
        a = np.clip(np.nan_to_num(a.astype(np.float64)), 0, 255).astype(np.uint8)
    if a.shape[-1] == 1:
        a = np.repeat(a, 3, axis=-1)
    a = np.ascontiguousarray(a[..., :3])
    out = {"kind": "rgb", "height": int(a.shape[0]), "width": int(a.shape[1]),
           "data": base64.b64encode(a.tobytes()).decode("ascii")}
    if step > 1:
        out["reduced"] = "shown at %dx%d (1 pixel in %d) of %dx%d" % (a.shape[1], a.shape[0], step, full[1], full[0])
    return out


def render_array(v) -> Optional[dict]:
    """An encoder output shown as an image when it looks like one (H, W, 1|3); else None."""
    if isinstance(v, np.ndarray) and v.ndim == 3 and v.shape[-1] in (1, 3) and min(v.shape[:2]) >= 4 \
            and np.issubdtype(v.dtype, np.number):
        step = _step(v.shape[:2])
        a = v[::step, ::step].astype(np.float64)
        finite = a[np.isfinite(a)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
        scaled = np.nan_to_num((a - lo) / (hi - lo) * 255) if hi > lo else np.zeros_like(a)
        out = _rgb(np.clip(scaled, 0, 255).astype(np.uint8))
        if step > 1 and "data" in out:
            out["reduced"] = "shown at %dx%d (1 pixel in %d) of %dx%d" % (out["width"], out["height"], step,
                                                                          v.shape[1], v.shape[0])
        return out
    return None


_PALETTE = np.array([[0, 0, 0], [230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48],
                     [145, 30, 180], [70, 240, 240], [240, 50, 230], [210, 245, 60]], dtype=np.uint8)


def render_leap(res) -> dict:
    t = type(res).__name__
    if t == "LeapImage":
        return {"type": t, "image": _rgb(res.data)}
    if t == "LeapImageWithBBox":
        return {"type": t, "image": _rgb(res.data), "boxes": [
            {"x": float(b.x), "y": float(b.y), "w": float(b.width), "h": float(b.height), "label": str(b.label),
             "confidence": float(b.confidence)} for b in res.bounding_boxes]}
    if t == "LeapImageMask":
        img = _rgb(res.image)
        if "data" not in img:
            return {"type": t, "image": img, "labels": list(res.labels)}
        base = np.frombuffer(base64.b64decode(img["data"]), dtype=np.uint8).reshape(img["height"], img["width"], 3)
        mask = res.mask
        if mask.shape[:2] == res.image.shape[:2]:
            step = _step(mask.shape[:2])
            mask = mask[::step, ::step]
        if mask.shape[:2] == base.shape[:2]:
            colors = _PALETTE[mask.astype(np.int64) % len(_PALETTE)]
            blended = np.where(mask[..., None] > 0, (0.5 * base + 0.5 * colors).astype(np.uint8), base)
            img = _rgb(blended)
        return {"type": t, "image": img, "labels": list(res.labels)}
    if t == "LeapImageWithHeatmap":
        img = _rgb(res.image)
        if "data" not in img:
            return {"type": t, "image": img, "labels": list(res.labels)}
        base = np.frombuffer(base64.b64decode(img["data"]), dtype=np.uint8).reshape(img["height"], img["width"], 3)
        hm = np.asarray(res.heatmaps, dtype=np.float64)
        tiles = []
        for i in range(min(hm.shape[0], 8)):
            h = hm[i]
            if h.shape == res.image.shape[:2]:
                step = _step(h.shape)
                h = h[::step, ::step]
            if h.shape != base.shape[:2]:
                tiles.append(base)
                continue
            h = (h - h.min()) / (h.max() - h.min() + 1e-9)
            heat = np.stack([h * 255, np.zeros_like(h), (1 - h) * 255], -1)
            tiles.append((0.5 * base + 0.5 * heat).astype(np.uint8))
        return {"type": t, "image": _rgb(np.concatenate(tiles, 1) if tiles else base), "labels": list(res.labels)}
    if t == "LeapVideo":
        frames = res.data[: min(4, res.data.shape[0])]
        return {"type": t, "image": _rgb(np.concatenate(list(frames), 1)), "frames": int(res.data.shape[0])}
    if t == "LeapHorizontalBar":
        return {"type": t, "labels": [str(x) for x in res.labels], "values": [float(x) for x in res.body],
                "gt": [float(x) for x in res.gt] if getattr(res, "gt", None) is not None else None}
    if t == "LeapGraph":
        return {"type": t, "series": np.asarray(res.data, dtype=np.float64).T[:10, :500].tolist(),
                "legend": list(res.legend or []), "x_label": res.x_label, "y_label": res.y_label}
    if t == "LeapText":
        return {"type": t, "tokens": [str(x) for x in res.data][:500],
                "heatmap": [float(x) for x in res.heatmap][:500] if res.heatmap else None}
    if t == "LeapTextMask":
        return {"type": t, "tokens": [str(x) for x in res.text][:500], "mask": [int(x) for x in res.mask][:500],
                "labels": list(res.labels)}
    return {"type": t, "repr": scrub(repr(res)[:500])}


# --- main loop --------------------------------------------------------------------------------
def handle(req: dict) -> dict:
    cmd = req.get("cmd")
    LIMIT["seconds"] = float(req.get("timeout_s", LIMIT["seconds"]))
    LIMIT["preprocess"] = float(req.get("preprocess_timeout_s", LIMIT["preprocess"]))
    PIXEL_BUDGET["left"] = PIXEL_BUDGET["total"]
    if cmd == "load":
        return load(req["root"], req["entry"])
    if STATE["module"] is None and cmd != "ping":
        return {"ok": False, "message": "entry not loaded"}
    if cmd == "ping":
        return {"ok": True, "pid": os.getpid(), "python": sys.version.split()[0]}
    if cmd == "preprocess":
        return preprocess()
    if cmd == "check":
        return run_checks(int(req.get("samples", 5)), int(req.get("seed", 0)), int(req.get("progress_every", 0)))
    if cmd == "preview":
        return preview(req["subset"], req["sample_id"], list(req.get("loaders", [])), bool(req.get("run_test", True)),
                       req.get("functions"))
    if cmd == "encode_loop":
        return encode_loop(req.get("subset", "training"), int(req.get("samples", 50)))
    return {"ok": False, "message": f"unknown command {cmd!r}"}


def encode_loop(subset: str, samples: int) -> dict:
    """Benchmark baseline: the user's encoders called in a plain loop, nothing else."""
    pre = preprocess()
    if not pre.get("ok"):
        return pre
    sc = binder().setup_container
    r = STATE["responses"][subset]
    ids = _ids(subset)[:samples]
    t0 = time.perf_counter()
    for sid in ids:
        for h in list(sc.inputs) + list(sc.ground_truths):
            h.function(sid, r)
        for h in sc.metadata:
            h.function(sid, r)
    return {"ok": True, "seconds": time.perf_counter() - t0, "samples": len(ids)}


def main() -> None:
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            req = json.loads(line)
        except ValueError:
            send({"ok": False, "message": "bad request"})
            continue
        rid = req.get("id")
        try:
            resp = handle(req)
        except SystemExit as e:
            resp = {"ok": False, "exit": True, "findings": [_f("TL533", f"sys.exit({e.code}) called by user code", None)]}
        except MemoryError:
            resp = {"ok": False, "findings": [_f("TL531", "MemoryError in user code", None)]}
        except BaseException as e:  # noqa: BLE001
            resp = {"ok": False, "message": f"internal error: {type(e).__name__}: {scrub(str(e))[:500]}"}
        resp["id"] = rid
        try:
            send(resp)
        except Exception as e:  # noqa: BLE001 - our bug: say so, keep the child usable
            send({"ok": False, "id": rid, "internal": True,
                  "message": f"internal error of tensorleap-ls while sending the result: {type(e).__name__}: {e}"})
        if resp.get("exit"):
            break


if __name__ == "__main__":
    main()
