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
import traceback

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
    user code's ``except Exception`` must not swallow it)."""


def _alarm(signum, frame):
    raise CallTimeout()


LIMIT = {"seconds": 30.0, "preprocess": 300.0}
# Without SIGALRM (Windows) there is no per-call alarm: the server's own time limit still ends a hang,
# reported at the entry file instead of the user's line (docs/runtime.md, "Limits").
_HAS_ALARM = hasattr(signal, "SIGALRM") and hasattr(signal, "setitimer")


class limited:
    """Per-call time limit (pure-Python hangs; the server kills the child for hangs in C code).
    ``limited("preprocess")``: the import of the entry and preprocess have their own limit."""

    def __init__(self, which: str = "seconds"):
        self.which = which

    def __enter__(self):
        if _HAS_ALARM:
            signal.setitimer(signal.ITIMER_REAL, LIMIT[self.which])

    def __exit__(self, *exc):
        if _HAS_ALARM:
            signal.setitimer(signal.ITIMER_REAL, 0)
        return False


def classify(e: BaseException, default: str) -> str:
    if isinstance(e, CallTimeout):
        return RUN_TIMEOUT
    if isinstance(e, MemoryError):
        return RUN_MEMORY
    if type(e).__name__ == "LeapValidationError":
        return RUN_LEAP_VALIDATION
    return default


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
