"""The protocol channel, stack traces for the server, per-call time limits.

``install()`` runs once, before the user's code: the original stdout becomes the private
protocol channel and the user's prints go to stderr (which the server caps); faulthandler
writes stacks to the server's trace file (a hang: SIGUSR1; a crash; ``os._exit``)."""

from __future__ import annotations

import faulthandler
import json
import os
import signal
import sys
import time
import traceback
from typing import Any, Optional

from tensorleap_ls_child import wire
from tensorleap_ls_child.state import scrub
from tensorleap_ls_child.values import _json_default
from tensorleap_ls_child.codes import RUN_LEAP_VALIDATION, RUN_MEMORY, RUN_TIMEOUT

_PROTO = None


def install() -> None:
    global _PROTO
    _PROTO = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    trace_path = os.environ.get("TL_TRACE_FILE")
    if trace_path:
        trace = open(trace_path, "w", buffering=1, encoding="utf-8")
        faulthandler.enable(file=trace, all_threads=False)
        if hasattr(signal, "SIGUSR1"):  # POSIX: the server asks for the stack of a hang in C code
            faulthandler.register(signal.SIGUSR1, file=trace, all_threads=False)
        real_exit = os._exit

        def traced_exit(code=0):
            trace.write("os._exit(%s)\n" % code)
            for fs in reversed(traceback.extract_stack()[:-1]):
                trace.write('  File "%s", line %s in %s\n' % (fs.filename, fs.lineno, fs.name))
            trace.flush()
            real_exit(code)

        os._exit = traced_exit
    if _HAS_ALARM:
        signal.signal(signal.SIGALRM, _alarm)


class CallTimeout(BaseException):
    """Raised in the main thread when one user call exceeds its time limit (not an Exception:
    user code's ``except Exception`` must not swallow it). ``skipped``: the function had already
    exceeded its limit in this request, so it was not called again."""

    def __init__(self, seconds: float = 0.0, setting: str = "timeoutSeconds", skipped: bool = False):
        super().__init__(seconds, setting, skipped)
        self.seconds, self.setting, self.skipped = seconds, setting, skipped

    def __str__(self) -> str:
        if self.skipped:
            return "not called again: it exceeded its %g s time limit earlier in this run" % self.seconds
        return "exceeded the %g s time limit of one call (setting tensorleap.%s)" % (self.seconds, self.setting)


_ACTIVE = {"which": "seconds"}


def _alarm(signum, frame):
    which = _ACTIVE["which"]
    raise CallTimeout(LIMIT[which], SETTING[which])


LIMIT = {"seconds": 30.0, "preprocess": 300.0}
SETTING = {"seconds": "timeoutSeconds", "preprocess": "preprocessTimeoutSeconds"}
# Without SIGALRM (Windows) there is no per-call alarm: the server's own time limit still ends a hang,
# reported at the entry file instead of the user's line (docs/runtime.md, "Limits").
_HAS_ALARM = hasattr(signal, "SIGALRM") and hasattr(signal, "setitimer")
# Functions that exceeded their limit during the current request -> how many times. After SKIP_AFTER
# times a function is not called again in the request (an always-slow encoder must not cost the limit
# once per sample; one slow sample costs it once). new_request() clears it.
TIMED_OUT = {}  # type: dict
SKIP_AFTER = 2
TIMED_OUT_AT = set()  # (function, subset, repr(sample)): never called twice on the sample it timed out on
# Where the current request is (sent with each beat, shown as the progress of the run).
NOW = {"subset": None, "sample": None, "done": 0, "total": None}
_BEAT = {"at": 0.0, "limit": None, "where": None}  # the last beat: when, its limit, its (subset, sample)
_BEAT_EVERY = 0.2  # seconds: a call starting sooner after the last beat, same limit and sample, sends none


def sample_done(force: bool = False) -> None:
    """One more sample of the request done: a progress message at most every _BEAT_EVERY seconds."""
    NOW["done"] += 1
    if force or time.monotonic() - _BEAT["at"] > _BEAT_EVERY:
        progress(limit=_BEAT["limit"])


def new_request() -> None:
    TIMED_OUT.clear()
    TIMED_OUT_AT.clear()
    NOW.update(subset=None, sample=None, done=0, total=None)
    _BEAT.update(at=0.0, limit=None, where=None)


def progress(what: Optional[str] = None, limit: Optional[float] = None, setting: Optional[str] = None,
             phase: Optional[str] = None) -> None:
    """A progress message: the samples done so far and, when a call starts, its name and limit."""
    from tensorleap_ls_child.protocol import Progress

    if _PROTO is None:  # no server listening (the debug harness: no watchdog, no counter)
        return
    _BEAT.update(at=time.monotonic(), limit=limit, where=(NOW["subset"], NOW["sample"]))
    send(Progress(progress=int(NOW["done"]), total=NOW["total"], phase=phase, what=what, subset=NOW["subset"],
                  sample=NOW["sample"], limit=limit, setting=setting).to_wire())


def _here(key) -> tuple:
    return key, NOW["subset"], repr(NOW["sample"])


class limited:
    """Per-call time limit (pure-Python hangs; the server kills the child for hangs in C code).
    ``limited("preprocess")``: the import of the entry and preprocess have their own limit.
    ``what`` names the call for the user ("input 'image'"); ``key`` (the function) is not called
    again in this request once it exceeded its limit. Each call start tells the server (a beat), so
    its watchdog measures the same call with the same limit."""

    def __init__(self, which: str = "seconds", what: Optional[str] = None, key: Any = None):
        self.which, self.what, self.key = which, what, key

    def __enter__(self):
        if self.key is not None and (TIMED_OUT.get(self.key, 0) >= SKIP_AFTER or _here(self.key) in TIMED_OUT_AT):
            raise CallTimeout(LIMIT[self.which], SETTING[self.which], skipped=True)
        limit = LIMIT[self.which]
        if time.monotonic() - _BEAT["at"] > _BEAT_EVERY or _BEAT["limit"] != limit or \
                _BEAT["where"] != (NOW["subset"], NOW["sample"]):
            progress(self.what, limit, SETTING[self.which])
        _ACTIVE["which"] = self.which
        if _HAS_ALARM:
            signal.setitimer(signal.ITIMER_REAL, limit)

    def __exit__(self, et, e, tb):
        if _HAS_ALARM:
            signal.setitimer(signal.ITIMER_REAL, 0)
        if et is not None and issubclass(et, CallTimeout) and self.key is not None and not getattr(e, "skipped", False):
            TIMED_OUT[self.key] = TIMED_OUT.get(self.key, 0) + 1
            TIMED_OUT_AT.add(_here(self.key))
        return False


def classify(e: BaseException, default: str) -> str:
    if isinstance(e, CallTimeout):
        return RUN_TIMEOUT
    if isinstance(e, MemoryError):
        return RUN_MEMORY
    if type(e).__name__ == "LeapValidationError":
        return RUN_LEAP_VALIDATION
    return default


def end_of_output(rid) -> None:
    """Marks, on the output pipe, the end of request ``rid``'s output (the server waits for it before it
    closes the request's output: the reply and the output travel on two pipes)."""
    if not isinstance(rid, int) or isinstance(rid, bool):
        return
    try:
        sys.stderr.flush()
        os.write(2, b"\x1etl-end %d\x1e\n" % rid)
    except (OSError, ValueError):
        pass


def send(obj: dict) -> None:
    """One message: the decoded values are scrubbed and made strict JSON before serialising."""
    _PROTO.write(wire.dumps(obj, scrub, _json_default) + "\n")
    _PROTO.flush()


def send_clean(obj: dict) -> None:
    """One message already made sendable (scrubbed strings, finite floats, plain JSON types: a scan's
    records, built so): serialised without ``wire.clean``'s walk; anything else falls back to ``send``."""
    try:
        text = json.dumps(obj, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError):
        return send(obj)
    _PROTO.write(text + "\n")
    _PROTO.flush()
