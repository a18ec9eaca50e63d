"""preprocess, and the checks on samples (the dynamic run)."""

from __future__ import annotations

import math
import random
import time

import numpy as np

from tensorleap_ls_child.integration import _run_integration_test
from tensorleap_ls_child.protocol import Checked, EncodeLooped, Observation, Preprocessed, Progress
from tensorleap_ls_child.sandbox import LIMIT, classify, limited, send
from tensorleap_ls_child.state import STATE, _ids, _subsets, binder
from tensorleap_ls_child.values import dtype_kind
from tensorleap_ls_child.visuals import _check_visualizers
from tensorleap_ls_child.where import _f, _ours, _where_exc, chosen, error_info, user_function, where
from tensorleap_ls_child.codes import (
    MISSING_PREPROCESS, RUN_BATCH_AXIS, RUN_DTYPE, RUN_DUPLICATE_IDS, RUN_EMPTY_SUBSET, RUN_EXCEPTION, RUN_EXIT,
    RUN_LONG_ID, RUN_MEMORY, RUN_METADATA_KEYS_DRIFT, RUN_METADATA_MISSING, RUN_METADATA_NONE, RUN_METADATA_TYPE_DRIFT,
    RUN_METADATA_VALUE, RUN_MISSING_SUBSET, RUN_MIXED_ID_TYPES, RUN_NAN, RUN_NONDETERMINISTIC, RUN_NOT_ARRAY,
    RUN_PREPROCESS_FAILED, RUN_SHAPE_DRIFT, RUN_TIMEOUT,
)

# --- preprocess -------------------------------------------------------------------------------
def preprocess() -> Preprocessed:
    if STATE["responses"] is not None:
        return Preprocessed(subsets=_subsets(), cached=True)
    sc = binder().setup_container
    if sc.preprocess is None:
        return Preprocessed(findings=[_f(MISSING_PREPROCESS, "No preprocess registered.", None)])
    findings = []
    t0 = time.perf_counter()
    try:
        with limited("preprocess"):
            result = sc.preprocess.function()
    except SystemExit as e:
        return Preprocessed(ok=False, exit=True, findings=[_f(RUN_EXIT, f"sys.exit({e.code}) called in preprocess",
                                                              _where_exc(e, sc.preprocess.function))])
    except BaseException as e:  # noqa: BLE001
        info = error_info(e, STATE["root"], tuple(where(sc.preprocess.function)))
        code = classify(e, RUN_PREPROCESS_FAILED)
        what = {RUN_TIMEOUT: f"preprocess exceeded the {LIMIT['preprocess']:g} s time limit",
                RUN_MEMORY: "preprocess ran out of memory (MemoryError)"}.get(code, f"preprocess raised {info.message}")
        return Preprocessed(ok=False, findings=[_f(code, what, [info.file, info.line])])
    loc = where(sc.preprocess.function)
    from code_loader.contract.datasetclasses import PreprocessResponse
    from code_loader.contract.enums import DataStateType

    if isinstance(result, PreprocessResponse):
        result = [result]
    if not isinstance(result, (list, tuple)) or not all(isinstance(r, PreprocessResponse) for r in result):
        return Preprocessed(ok=False, findings=[_f(RUN_PREPROCESS_FAILED, f"preprocess must return a list of PreprocessResponse, "
                                                   f"got {type(result).__name__}", loc)])
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
            findings.append(_f(RUN_PREPROCESS_FAILED, f"unlabeled preprocess raised {info.message}", [info.file, info.line]))
    for needed in ("training", "validation"):
        if needed not in responses:
            findings.append(_f(RUN_MISSING_SUBSET, f"preprocess returns no {needed} subset.", loc))
    id_types = set()
    for key, r in responses.items():
        ids = list(r.sample_ids) if r.sample_ids is not None else list(range(r.length or 0))
        if not ids:
            findings.append(_f(RUN_EMPTY_SUBSET, f"The {key} subset has no samples.", loc, subset=key))
            continue
        flat = ids if not ids or not isinstance(ids[0], list) else [x for g in ids for x in g]
        types = {type(x).__name__ for x in flat}
        id_types |= types
        if len(types) > 1:
            findings.append(_f(RUN_MIXED_ID_TYPES, f"Sample ids of mixed types in the {key} subset: {sorted(types)}.", loc, subset=key))
        seen, dups = set(), []
        for x in flat:
            if x in seen:
                dups.append(x)
            seen.add(x)
        if dups:
            findings.append(_f(RUN_DUPLICATE_IDS, f"Duplicate sample ids in the {key} subset: {dups[:5]!r}"
                               + (f" and {len(dups) - 5} more" if len(dups) > 5 else "") + ".", loc, subset=key))
        long = [x for x in flat if isinstance(x, str) and len(x) > 256]
        if long:
            findings.append(_f(RUN_LONG_ID, f"{len(long)} sample id(s) of the {key} subset exceed 256 characters.", loc, subset=key))
    if len(id_types) > 1 and not any(f.code == RUN_MIXED_ID_TYPES for f in findings):
        findings.append(_f(RUN_MIXED_ID_TYPES, f"Subsets use different sample id types: {sorted(id_types)}.", loc))
    STATE["responses"] = responses
    return Preprocessed(subsets=_subsets(), findings=findings, seconds=time.perf_counter() - t0)


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
def run_checks(samples: int, seed: int, progress_every: int = 0, functions=None, only_subsets=None) -> Checked:
    """``functions`` / ``only_subsets``: check just these functions (Python or registered names, the
    integration test's too) on just these subsets (the Test Explorer's items); None: all."""
    pre = preprocess()
    if not pre.ok:
        return Checked(ok=False, exit=pre.exit, findings=pre.findings)
    findings = list(pre.findings)
    if progress_every:
        send(Progress(progress=0, phase="preprocess done").to_wire())
    sc = binder().setup_container
    shapes: dict[str, tuple] = {}
    meta_types: dict[str, tuple] = {}
    reported: set = set()
    t_user = 0.0
    internal = []  # failures of our own checkers: reported as ours, never as findings
    t_total0 = time.perf_counter()
    calls = 0

    def once(key, f):
        if key not in reported:
            reported.add(key)
            findings.append(f)

    subsets = [k for k in STATE["responses"] if only_subsets is None or k in only_subsets]
    seen = {}  # (kind, name) -> what the run saw over the samples (inlay hints)
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
        handlers = [(kind, h) for kind, h in handlers if chosen(h, h.name, functions)]
        prepared = [(kind, h, where(h.function), user_function(h.function)) for kind, h in handlers]
        first_id = _ids(key)[0] if _ids(key) else None
        for sid in pick(_ids(key), samples, seed):
            for kind, h, loc, raw in prepared:
                t0 = time.perf_counter()
                try:
                    with limited():
                        value = raw(sid, response)
                except SystemExit as e:
                    findings.append(_f(RUN_EXIT, f"sys.exit({e.code}) called in {kind} '{h.name}'", _where_exc(e, h.function)))
                    return Checked(ok=False, exit=True, findings=findings)
                except BaseException as e:  # noqa: BLE001
                    once((h.name, "exc", type(e).__name__), call_failure(e, kind, h.name, loc, key, sid))
                    continue
                finally:
                    t_user += time.perf_counter() - t0
                    calls += 1
                _ours(lambda: _observe(seen, kind, h.name, value), f"observing {kind} '{h.name}'", internal)
                if kind == "metadata":
                    _ours(lambda: _check_metadata(h, value, key, sid, loc, meta_types, once,
                                                  first=(key == subsets[0] and sid == first_id)),
                          f"checking metadata '{h.name}'", internal)
                else:
                    _ours(lambda: _check_array(kind, h.name, value, key, sid, loc, shapes, once),
                          f"checking {kind} '{h.name}'", internal)
            done += 1
            if progress_every and (done % progress_every == 0 or done == total):
                send(Progress(progress=done, total=total).to_wire())
    # determinism: the first training sample twice
    first_key = "training" if "training" in subsets else (subsets[0] if subsets else None)
    if first_key and _ids(first_key):
        sid = _ids(first_key)[0]
        for h in [h for h in sc.inputs + sc.ground_truths if chosen(h, h.name, functions)]:
            try:
                a, b = h.function(sid, STATE["responses"][first_key]), h.function(sid, STATE["responses"][first_key])
                if isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape \
                        and not np.array_equal(a, b, equal_nan=np.issubdtype(a.dtype, np.floating)):
                    findings.append(_f(RUN_NONDETERMINISTIC, f"'{h.name}' gives different arrays for the same sample {sid!r}: it is "
                                       "not deterministic (random augmentation?).", where(h.function), sample=sid,
                                       subset=first_key))
            except BaseException:  # noqa: BLE001 - already reported above
                pass
    findings.extend(_check_visualizers(first_key, seed, functions))
    test = binder().integration_test_func
    if test is not None and first_key and (functions is None or getattr(user_function(test), "__name__", None) in functions):
        findings.extend(_run_integration_test(first_key, _ids(first_key)[0]))
    total_s = time.perf_counter() - t_total0
    return Checked(findings=findings, calls=calls, user_seconds=t_user, total_seconds=total_s, samples=done,
                   observed=[Observation(k, n, OBSERVED.get((k, n), ""), **seen.get((k, n), {}))
                             for k, n in list(OBSERVED) + [key for key in seen if key not in OBSERVED]],
                   failures=internal)


def _observe(seen: dict, kind: str, name: str, value) -> None:
    """What a function returned over the run's samples: arrays' shape, dtype and finite value range (over
    every sample), metadata's value types by key ("" for a scalar)."""
    o = seen.setdefault((kind, name), {"samples": 0})
    o["samples"] += 1
    if kind == "metadata":
        types = o.setdefault("types", {})
        # dict.items: a dict subclass's own items() is user code (it may raise); the checks report that
        for k, v in (dict.items(value) if isinstance(value, dict) else [("", value)]):
            names = types.setdefault(str(k), [])
            t = type(v).__name__
            if t not in names:
                names.append(t)
        return
    if not isinstance(value, np.ndarray):
        return
    o.setdefault("shape", [int(d) for d in value.shape])
    o.setdefault("dtype", str(value.dtype))
    if not value.size or not (np.issubdtype(value.dtype, np.number) or value.dtype == np.bool_):
        return
    if np.issubdtype(value.dtype, np.complexfloating):
        value = np.abs(value)
    finite = value[np.isfinite(value)] if np.issubdtype(value.dtype, np.floating) else value
    if finite.size:
        low, high = float(finite.min()), float(finite.max())
        o["low"] = low if o.get("low") is None else min(o["low"], low)
        o["high"] = high if o.get("high") is None else max(o["high"], high)


def call_failure(e: BaseException, kind: str, name: str, loc, key, sid):
    """The finding for a user call that raised (an exception, the per-call time limit, MemoryError)."""
    info = error_info(e, STATE["root"], tuple(loc))
    code = classify(e, RUN_EXCEPTION)
    what = {RUN_TIMEOUT: f"exceeded the {LIMIT['seconds']:g} s time limit",
            RUN_MEMORY: "ran out of memory (MemoryError)"}.get(code, f"raised {info.message}")
    return _f(code, f"{kind} '{name}' {what} on {key} sample {sid!r}", [info.file, info.line], sample=sid, subset=key)


def _check_array(kind, name, value, key, sid, loc, shapes, once) -> None:
    ctx = dict(sample=sid, subset=key)
    if value is None:
        once((name, "none"), _f(RUN_NOT_ARRAY, f"{kind} '{name}' returned None on {key} sample {sid!r}.", loc, **ctx))
        return
    if isinstance(value, tuple):
        once((name, "tuple"), _f(RUN_NOT_ARRAY, f"{kind} '{name}' returned a tuple of {len(value)}; return one ndarray.", loc, **ctx))
        return
    if not isinstance(value, np.ndarray):
        once((name, "type"), _f(RUN_NOT_ARRAY, f"{kind} '{name}' returned {type(value).__name__}, not a numpy array "
                                f"(on {key} sample {sid!r}).", loc, **ctx))
        return
    if value.dtype != np.float32:
        once((name, "dtype"), _f(RUN_DTYPE, f"{kind} '{name}' returned dtype {value.dtype} on {key} sample {sid!r}; "
                                 "the platform expects float32.", loc, **ctx))
    if dtype_kind(value.dtype)[2] and value.size and not np.isfinite(value).all():
        once((name, "nan"), _f(RUN_NAN, f"{kind} '{name}' returned NaN/Inf on {key} sample {sid!r}.", loc, **ctx))
    if value.ndim >= 2 and value.shape[0] == 1:
        once((name, "batch"), _f(RUN_BATCH_AXIS, f"{kind} '{name}' returns shape {tuple(value.shape)}: a leading axis of size 1 "
                                 "looks like a batch axis; the platform adds its own.", loc, **ctx))
    if shapes is None:  # a scan decides drift over the whole data set (runtime/scan/stats.py)
        return
    prev = shapes.get(name)
    if prev is None:
        shapes[name] = (tuple(value.shape), key, sid)
        OBSERVED[(kind, name)] = f"shape {tuple(value.shape)}, dtype {value.dtype}"
    elif prev[0] != tuple(value.shape):
        once((name, "shape"), _f(RUN_SHAPE_DRIFT, f"{kind} '{name}' shape differs: {prev[0]} on {prev[1]} sample {prev[2]!r} but "
                                 f"{tuple(value.shape)} on {key} sample {sid!r}.", loc, **ctx))


_SCALARS = (int, float, str, bool, np.integer, np.floating, np.bool_)
OBSERVED: dict = {}  # (kind, name) -> what the last run saw (shown in hovers)


def _check_metadata(h, value, key, sid, loc, types, once, first: bool) -> None:
    ctx = dict(sample=sid, subset=key)
    name = h.name
    if value is None:
        if first and h.metadata_type is None:
            once((name, "none"), _f(RUN_METADATA_NONE, f"metadata '{name}' is None on the first training sample and no "
                                    "metadata_type is given.", loc, **ctx))
        else:
            once((name, "missing"), _missing(name, key, sid, loc))
        return
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):  # the SDK: "Keys in the return dict should be of type str"
                once((name, "key"), _f(RUN_METADATA_VALUE, f"metadata '{name}' has a key of type {type(k).__name__} ({k!r}); "
                                       "keys must be strings.", loc, **ctx))
            if v is not None and not isinstance(v, _SCALARS):
                once((name, "nested"), _f(RUN_METADATA_VALUE, f"metadata '{name}' key {str(k)!r} holds a {type(v).__name__}; "
                                          "values must be scalars.", loc, **ctx))
            if v is None:
                once((name, "missing"), _missing(f"{name}.{k}", key, sid, loc))
        keys = tuple(sorted(map(str, value)))
        prev = types.get((name, "keys")) if types is not None else None
        if types is None:
            pass  # a scan decides drift over the whole data set
        elif prev is None:
            types[(name, "keys")] = (keys, key, sid)
        elif prev[0] != keys:
            once((name, "keys"), _f(RUN_METADATA_KEYS_DRIFT, f"metadata '{name}' keys differ: {list(prev[0])} on {prev[1]} sample "
                                    f"{prev[2]!r} but {list(keys)} on {key} sample {sid!r}.", loc, **ctx))
        for k, v in value.items():
            if v is None or isinstance(v, _SCALARS):
                _metadata_type(f"{name}.{k}", v, key, sid, loc, types, once)
        return
    if not isinstance(value, _SCALARS):
        once((name, "type"), _f(RUN_METADATA_VALUE, f"metadata '{name}' returned {type(value).__name__}; return a scalar or a flat "
                                "dict of scalars.", loc, **ctx))
        return
    _metadata_type(name, value, key, sid, loc, types, once)


def _metadata_type(name, v, key, sid, loc, types, once) -> None:
    if v is None:
        return
    if isinstance(v, float) and not math.isfinite(v):
        once((name, "nan"), _f(RUN_NAN, f"metadata '{name}' is {v} on {key} sample {sid!r}.", loc, sample=sid, subset=key))
    if types is None:
        return
    t = "bool" if isinstance(v, (bool, np.bool_)) else "number" if isinstance(v, (int, float, np.integer, np.floating)) \
        else "str" if isinstance(v, str) else type(v).__name__
    prev = types.get(name)
    if prev is None:
        types[name] = (t, key, sid)
    elif prev[0] != t:
        once((name, "drift"), _f(RUN_METADATA_TYPE_DRIFT, f"metadata '{name}' is {prev[0]} on {prev[1]} sample {prev[2]!r} but {t} on "
                                 f"{key} sample {sid!r}; the platform coerces it silently.", loc, sample=sid, subset=key))


def _missing(name, key, sid, loc):
    return _f(RUN_METADATA_MISSING, f"metadata '{name}' is None on {key} sample {sid!r}: the platform stores a default "
              "value for it (-1, 'None' or False) and marks it missing.", loc, sample=sid, subset=key)


def encode_loop(subset: str, samples: int, raw: bool = False) -> EncodeLooped:
    """Benchmark baseline: the user's encoders called in a plain loop, nothing else (``raw``: the user's
    own functions, as a scan calls them, not the SDK's wrappers)."""
    pre = preprocess()
    if not pre.ok:
        return EncodeLooped(ok=False, exit=pre.exit, findings=pre.findings)
    sc = binder().setup_container
    r = STATE["responses"][subset]
    ids = _ids(subset)[:samples]
    fns = [h.function for h in list(sc.inputs) + list(sc.ground_truths) + list(sc.metadata)]
    if raw:
        fns = [user_function(f) for f in fns]
    t0 = time.perf_counter()
    for sid in ids:
        for f in fns:
            f(sid, r)
    return EncodeLooped(seconds=time.perf_counter() - t0, samples=len(ids))
