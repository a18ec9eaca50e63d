"""The child's side of a data-set scan: every sample of a shard through the functions the server asks for,
with the dynamic run's own checks (samples.py), and what the report needs of each value.

``plan`` runs preprocess and streams every subset's sample ids (``Progress.batch = {"subset", "ids"}``,
in chunks: the wire bounds lists); ``run_shard`` yields batches of records, one per sample, compact (a data
set has 10^4-10^6 samples):

    [<index in the subset>, [<result of each function of the shard, in its order>]]
    result: [<seconds>, <stat>] or [<seconds>, <stat>, <problems>] (null: not called, a ground truth on
            unlabeled data; a visualizer with nothing to feed it: [0, "skipped"])
    stat:   an array's [shape, dtype, min, max, class] (class: a one-hot or probability ground truth's argmax,
            an integral one-value ground truth's value),
            a metadata value (a scalar, a flat dict, "<type>" for anything else), the type name of a
            non-array encoder result, null for a visualizer or a call that raised
    problem: [code, message, file, line]

Checks that compare samples (shape drift, metadata type and key drift) are decided by the server over the
whole data set (runtime/scan/stats.py), not per shard. Records are made sendable here (strings scrubbed,
non-finite floats spelt as the wire spells them), so a batch is sent without a second walk.
"""

from __future__ import annotations

import math
import time
from typing import Any, Dict, Iterator, List

import numpy as np

from tensorleap_ls_child import wire
from tensorleap_ls_child.codes import RUN_DUPLICATE_IDS, RUN_EXIT
from tensorleap_ls_child.protocol import Progress, ScanPlanned, Scanned
from tensorleap_ls_child.samples import _check_array, _check_metadata, call_failure, preprocess
from tensorleap_ls_child.sandbox import limited, send, send_clean
from tensorleap_ls_child.shards import Shard
from tensorleap_ls_child.state import STATE, _subsets, binder, scrub
from tensorleap_ls_child.values import dtype_kind
from tensorleap_ls_child.visuals import _check_leap
from tensorleap_ls_child.where import _f, _is_user, _ours, _where_exc, user_function, where

IDS_PER_MESSAGE = 1000  # the wire keeps at most 2000 items of a list
FLUSH_SECONDS = 0.1  # a batch leaves at least this often (and after every slow sample)
FLUSH_RECORDS = 500


class Fn:
    """One registered function as the scan calls it: the user's own function (not the SDK's wrapper)."""

    def __init__(self, kind: str, handler: Any, name: str):
        self.kind, self.handler, self.name = kind, handler, name
        self.key = f"{kind}:{name}"
        self.loc = where(handler.function)
        self.raw = user_function(handler.function)
        self.function = getattr(self.raw, "__name__", name)
        self.args = list(handler.visualizer_handler_data.arg_names) if kind == "visualizer" else []

    def describe(self) -> Dict[str, Any]:
        return {"key": self.key, "kind": self.kind, "name": self.name, "function": self.function, "where": self.loc,
                **({"args": self.args} if self.args else {})}


_FNS: Dict[str, Any] = {"module": None, "fns": {}}
_IDS: Dict[str, Any] = {}  # subset -> (its response, its ids): the list is built once per preprocess


def functions() -> Dict[str, Fn]:
    """Every input, ground truth, metadata and (user) visualizer function, by key, in the platform's order."""
    if _FNS["module"] is not STATE["module"]:
        sc = binder().setup_container
        fns = [Fn("input", h, h.name) for h in sc.inputs] + [Fn("ground_truth", h, h.name) for h in sc.ground_truths]
        fns += [Fn("metadata", h, h.name) for h in sc.metadata]
        fns += [Fn("visualizer", h, h.visualizer_handler_data.name) for h in sc.visualizers if _is_user(h.function)]
        _FNS.update(module=STATE["module"], fns={f.key: f for f in fns})
    return _FNS["fns"]


def ids_of(subset: str) -> list:
    r = STATE["responses"][subset]
    cached = _IDS.get(subset)
    if cached is None or cached[0] is not r:
        cached = (r, list(r.sample_ids) if r.sample_ids is not None else list(range(r.length or 0)))
        _IDS[subset] = cached
    return cached[1]


def plan(visualizers: bool) -> ScanPlanned:
    t0 = time.perf_counter()
    pre = preprocess()
    if not pre.ok:
        return ScanPlanned(ok=False, exit=pre.exit, findings=pre.findings)
    for subset in STATE["responses"]:
        ids = ids_of(subset)
        for a in range(0, len(ids), IDS_PER_MESSAGE):
            send(Progress(progress=a, total=len(ids), phase="ids",
                          batch={"subset": subset, "ids": ids[a:a + IDS_PER_MESSAGE]}).to_wire())
    fns = [f.describe() for f in functions().values() if visualizers or f.kind != "visualizer"]
    labels = [{"name": p.name, "labels": [str(x) for x in p.labels]} for p in binder().setup_container.prediction_types]
    sc = binder().setup_container
    pre_fn = user_function(sc.preprocess.function) if sc.preprocess is not None else None
    # duplicate ids become one failure per repeated sample on the server, which has every id
    findings = [f for f in pre.findings if f.code != RUN_DUPLICATE_IDS]
    return ScanPlanned(subsets=_subsets(), functions=fns, findings=findings, seconds=time.perf_counter() - t0, labels=labels,
                       preprocess={"function": getattr(pre_fn, "__name__", None),
                                   "where": where(sc.preprocess.function) if sc.preprocess is not None else None})


def run_shard(subset: str, start: int, stop: int, keys: List[str], isolate: bool = False) -> Iterator[List[list]]:
    """Batches of records of samples ``start..stop`` of ``subset`` (see the module docstring)."""
    response = STATE["responses"][subset]
    ids = ids_of(subset)
    fns = functions()
    calls = [fns.get(k) if not (subset == "unlabeled" and k.startswith("ground_truth:")) else None for k in keys]
    encoders = [f for f in fns.values() if f.kind in ("input", "ground_truth")]
    first_subset = next(iter(STATE["responses"]))
    batch: List[list] = []
    last = time.perf_counter()
    for i in range(start, min(stop, len(ids))):
        sid = ids[i]
        out: List[Any] = []
        values: Dict[str, Any] = {}
        for fn in calls:
            if fn is None:
                out.append(None)
            elif fn.kind == "visualizer":
                out.append(_visualize(fn, subset, sid, response, values, encoders))
            else:
                out.append(_call(fn, subset, sid, response, values, first=(subset == first_subset and i == 0)))
        batch.append([i, out])
        now = time.perf_counter()
        if isolate or len(batch) >= FLUSH_RECORDS or now - last >= FLUSH_SECONDS:
            yield batch
            batch, last = [], now
    if batch:
        yield batch


def _call(fn: Fn, subset: str, sid: Any, response: Any, values: Dict[str, Any], first: bool) -> list:
    problems: list = []
    seen: set = set()

    def once(key, finding):  # one of each problem per sample and function
        if key not in seen:
            seen.add(key)
            problems.append(finding)

    t0 = time.perf_counter()
    try:
        with limited():
            value = fn.raw(sid, response)
    except SystemExit as e:  # the platform would stop here; the scan reports it and goes on
        return [time.perf_counter() - t0, None, [_wire(_f(
            RUN_EXIT, f"sys.exit({e.code}) called in {fn.kind} '{fn.name}' on {subset} sample {sid!r}",
            _where_exc(e, fn.handler.function), sample=sid, subset=subset))]]
    except BaseException as e:  # noqa: BLE001 - any failure of user code is a finding
        return [time.perf_counter() - t0, None, [_wire(call_failure(e, fn.kind, fn.name, fn.loc, subset, sid))]]
    t = time.perf_counter() - t0
    internal: list = []
    if fn.kind == "metadata":
        _ours(lambda: _check_metadata(fn.handler, value, subset, sid, fn.loc, None, once, first=first),
              f"checking metadata '{fn.name}'", internal)
        stat = _plain(value)
    else:
        values[fn.name] = value
        _ours(lambda: _check_array(fn.kind, fn.name, value, subset, sid, fn.loc, None, once),
              f"checking {fn.kind} '{fn.name}'", internal)
        stat = _array_stat(value, fn.kind == "ground_truth")
    rec = [t, stat]
    if problems or internal:
        rec.append([_wire(p) for p in problems + internal])
    return rec


def _visualize(fn: Fn, subset: str, sid: Any, response: Any, values: Dict[str, Any], encoders: List[Fn]) -> Any:
    """A visualizer fed from this sample's inputs and ground truths (with the batch axis the SDK adds)."""
    for enc in encoders:  # an encoder the cache spared still feeds the visualizer
        if enc.name in fn.args and enc.name not in values:
            try:
                with limited():
                    values[enc.name] = enc.raw(sid, response)
            except BaseException:  # noqa: BLE001 - the encoder's own failure is its record's
                pass
    if not all(isinstance(values.get(a), np.ndarray) for a in fn.args):
        return [0.0, "skipped"]  # fed by predictions (needs the model) or by a failed encoder
    t0 = time.perf_counter()
    try:
        with limited():
            result = fn.raw(**{a: np.expand_dims(values[a], 0) for a in fn.args})
    except BaseException as e:  # noqa: BLE001
        return [time.perf_counter() - t0, None, [_wire(call_failure(e, fn.kind, fn.name, fn.loc, subset, sid))]]
    rec = [time.perf_counter() - t0, None]
    found: list = []
    internal: list = []
    _ours(lambda: found.extend(_check_leap(fn.name, fn.handler.visualizer_handler_data.type, result, fn.loc, subset, sid)),
          f"checking visualizer '{fn.name}'", internal)
    if found or internal:
        rec.append([_wire(p) for p in found + internal])
    return rec


def _wire(p) -> list:
    return [p.code, p.message, scrub(p.file) if p.file else None, p.line]  # messages: scrubbed by where._f


def _array_stat(v: Any, gt: bool) -> Any:
    """[shape, dtype, min, max, class] of an encoder's result (finite values only; class: a ground truth's
    argmax, or its one value); the type name of anything else."""
    if not isinstance(v, np.ndarray):
        return type(v).__name__
    name, number, floating = dtype_kind(v.dtype)
    if not v.size or not number:
        return [list(v.shape), name, None, None, None]
    lo, hi = float(v.min()), float(v.max())
    if floating and not (math.isfinite(lo) and math.isfinite(hi)):
        finite = v[np.isfinite(v)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (None, None)
    cls = None
    if gt and lo is not None:
        if v.ndim == 1 and v.size > 1 and lo >= 0 and hi <= 1 and abs(float(v.sum()) - 1) < 1e-3:
            cls = int(np.argmax(v))  # one-hot or class probabilities
        elif v.size == 1 and lo == hi and float(lo).is_integer():
            cls = int(lo)  # a class index
    return [list(v.shape), name, lo, hi, cls]


def _plain(value: Any, depth: int = 0) -> Any:
    """A metadata value as the report counts it, sendable as is: numpy scalars as Python ones, strings scrubbed
    and cut, non-finite floats spelt as the wire spells them."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, str):
        return scrub(value[:200])
    if isinstance(value, float):
        return value if math.isfinite(value) else wire.finite(value)
    if isinstance(value, (bool, int)):
        return value if abs(value) < (1 << 53) else float(value)
    if value is None:
        return None
    if isinstance(value, dict) and depth == 0:
        return {scrub(str(k)[:200]): _plain(v, 1) for k, v in list(value.items())[:wire.MAX_ITEMS]}
    return "<%s>" % type(value).__name__


def serve_shard(shard: list) -> Scanned:
    """The ScanShard request: the shard's batches sent as progress messages, then its reply."""
    s = Shard.from_wire(shard)
    pre = preprocess()
    if not pre.ok:
        return Scanned(ok=False, exit=pre.exit, findings=pre.findings)
    t0 = time.perf_counter()
    done = 0
    for batch in run_shard(s.subset, s.start, s.stop, list(s.functions), s.isolate):
        done += len(batch)
        send_clean(Progress(progress=done, total=s.stop - s.start, batch={"records": batch}).to_wire())
    return Scanned(samples=done, seconds=time.perf_counter() - t0)
