"""Running the integration test on a sample, and recording what it computes (for previews)."""

from __future__ import annotations

import os
import re
import sys

from tensorleap_ls_child.sandbox import limited
from tensorleap_ls_child.state import STATE, binder
from tensorleap_ls_child.where import _f, _where_exc, error_info, fn_location, where
from tensorleap_ls_child.codes import RUN_EXIT, RUN_INTEGRATION_TEST, RUN_METRIC_RESULT

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


# code-loader 1.0.214's messages when a decorated function returns what it does not support; they are
# about a metric's or loss's result only when the function they name is one (encoders share some)
_RESULT = re.compile(r"(\w+)\(\) validation failed: .*(has returned unsupported type|The return shape should be 1D|"
                     r"The return type should be a numpy array|should be a 1Dim numpy array)", re.S)


def _metric_result(msg: str) -> bool:
    m = _RESULT.search(msg)
    if m is None:
        return False
    sc = binder().setup_container
    handlers = list(sc.metrics) + list(sc.custom_loss_handlers)
    return m.group(1) in {getattr(h.function, "__name__", None) for h in handlers}


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
        with limited(what="the integration test"):
            test(sid, STATE["responses"][key])
    except SystemExit as e:
        return [_f(RUN_EXIT, f"sys.exit({e.code}) in the integration test", _where_exc(e, fn))]
    except BaseException as e:  # noqa: BLE001
        info = error_info(e, STATE["root"], tuple(loc))
        msg = info.message
        # "Invalid integration code. File x.py, line N: ..." names the line in the test
        m = re.search(r"File ([^,]+), line (\d+)", msg)
        file, line = info.file, info.line
        if m and fn_location(fn)[0] and os.path.basename(fn_location(fn)[0]) == m.group(1).strip():
            file, line = fn_location(fn)[0], int(m.group(2))
        if _metric_result(msg):  # the SDK's check of a metric's / loss's result: a code of its own
            return [_f(RUN_METRIC_RESULT, "a metric or loss returned a result the SDK rejects (integration test on %s sample "
                       "%r): %s" % (key, sid, msg), [file, line], sample=sid, subset=key)]
        return [_f(RUN_INTEGRATION_TEST, f"integration test on {key} sample {sid!r}: {msg}", [file, line], sample=sid, subset=key)]
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
