"""One sample as the platform would show it, checked with the same checkers as the dynamic run."""

from __future__ import annotations

import time
from typing import Any, Optional, Tuple

import numpy as np

from tensorleap_ls_child.integration import _run_integration_test
from tensorleap_ls_child.load import setup_summary
from tensorleap_ls_child.protocol import Previewed
from tensorleap_ls_child.sandbox import classify, limited
from tensorleap_ls_child.samples import _check_array, _check_metadata, preprocess
from tensorleap_ls_child.state import STATE, _ids, binder
from tensorleap_ls_child.values import _json_default, _plain, summarize
from tensorleap_ls_child.visuals import _check_leap, _sample_tensors, render_array, render_leap
from tensorleap_ls_child.where import _is_user, _ours, error_info, where
from tensorleap_ls_child.codes import RUN_EXCEPTION

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
        info.name = name
        info.code = classify(e, RUN_EXCEPTION)
        problems.append(info)
        return False, None


def preview(subset: str, sample_id, loaders: list, run_test: bool, functions: dict | None = None) -> Previewed:
    """``functions``: Python function name -> [kind, registered name], from the static analysis."""
    functions = functions or {}
    pre = preprocess()
    if not pre.ok:
        return Previewed(ok=False, exit=pre.exit, findings=pre.findings)
    if subset not in STATE["responses"]:
        return Previewed(ok=False, message=f"no subset {subset!r}; subsets: {list(STATE['responses'])}")
    ids = _ids(subset)
    sid = _coerce_id(sample_id, ids)
    if sid is None:
        return Previewed(ok=False, message=f"sample {sample_id!r} is not in the {subset} subset "
                                           f"({len(ids)} samples, e.g. {ids[:3]!r})")
    sc = binder().setup_container
    r = STATE["responses"][subset]
    t0 = time.perf_counter()
    pos = ids.index(sid)
    out = Previewed(subset=subset, sample_id=sid, subsets=list(STATE["responses"]),
                    neighbors={"prev": ids[pos - 1] if pos > 0 else None,
                               "next": ids[pos + 1] if pos + 1 < len(ids) else None})
    problems = out.problems
    found, once = _collector(problems)
    shapes, meta_types = {}, {}  # type: Dict[str, tuple], Dict[str, tuple]
    known = {}  # type: Dict[str, Any]
    for kind, handlers in (("inputs", sc.inputs), ("ground_truths", sc.ground_truths if subset != "unlabeled" else [])):
        for h in handlers:
            ok, v = _user_call(h.function, (sid, r), h.name, problems)
            if ok:
                known[h.name] = v
                _ours(lambda: getattr(out, kind).append({"name": h.name, "value": summarize(v), "render": render_array(v)}),
                      "showing %s '%s'" % (kind, h.name), problems)
                _ours(lambda: _check_array(_KIND[kind], h.name, v, subset, sid, where(h.function), shapes, once),
                      "checking %s '%s'" % (kind, h.name), problems)
    for h in sc.metadata:
        ok, v = _user_call(h.function, (sid, r), h.name, problems)
        if ok:  # the same checker as the dynamic run; the value itself is made sendable by send()
            out.metadata.append({"name": h.name, "value": v})
            _ours(lambda: _check_metadata(h, v, subset, sid, where(h.function), meta_types, once, first=False),
                  "checking metadata '%s'" % h.name, problems)
    tensors = _sample_tensors(subset, sid, known)
    for h in sc.visualizers:
        if not _is_user(h.function):
            continue
        data = h.visualizer_handler_data
        if not all(a in tensors for a in data.arg_names):
            out.skipped.append({"name": data.name, "why": "fed by model predictions"})
            continue
        ok, res = _user_call(h.function, (), data.name, problems, {a: tensors[a] for a in data.arg_names})
        if ok:
            _ours(lambda: out.visualizers.append({"name": data.name, "type": data.type.name,
                                                     "render": render_leap(res)}),
                  "showing visualizer '%s'" % data.name, problems)
            _ours(lambda: problems.extend(_check_leap(data.name, data.type, res, where(h.function), subset, sid)),
                  "checking visualizer '%s'" % data.name, problems)
    _ours(lambda: _advanced(out, sc, r, sid, problems), "showing latent spaces and instances", problems)
    if run_test and binder().integration_test_func is not None:
        record = {"loaders": loaders}  # type: Dict[str, Any]
        problems = _run_integration_test(subset, sid, record)
        out.problems.extend(problems)
        out.integration_test = not problems
        labels = [p["labels"] for p in setup_summary().prediction_types]
        names = [p["name"] for p in setup_summary().prediction_types]
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
                out.predictions.append(entry)
        for fname, value in record.get("calls", []):
            kind, name = (functions.get(fname) or [None, fname])[:2]
            if type(value).__module__.endswith("visualizer_classes") or kind == "visualizer":
                out.visualizers = [v for v in out.visualizers if v["name"] != name]
                out.visualizers.append({"name": name, "type": type(value).__name__, "render": render_leap(value),
                                           "from_test": True})
            elif kind in ("metric", "loss"):
                out.metrics.append({"name": name, "kind": kind, "value": _json_default(value)
                                       if isinstance(value, np.ndarray) else _plain(value)})
        shown = {v["name"] for v in out.visualizers}
        out.skipped = [s for s in out.skipped if s["name"] not in shown]
    out.seconds = time.perf_counter() - t0
    return out


_MAX_DIMS, _MAX_INSTANCES = 64, 9


def _advanced(out: Previewed, sc, r, sid, problems: list) -> None:
    """What the advanced registrars produce for this sample, shown beside the visualizers: each
    dataset-computed custom latent space as a bar plot of its vector (first 64 values), the element
    instances of the first instances-mask encoder over the first input (first 9 instances)."""
    from code_loader.contract.visualizer_classes import LeapHorizontalBar, LeapImageMask
    for name, h in (getattr(sc, "custom_latent_spaces", None) or {}).items():
        if getattr(h, "instance_aware", False) or "DATASET" not in str(getattr(h, "computed_at", "DATASET")).upper():
            continue
        ok, v = _user_call(h.function, (sid, r), name, problems)
        if ok and isinstance(v, np.ndarray) and v.size and np.issubdtype(v.dtype, np.number):
            vec = v.reshape(-1)[:_MAX_DIMS].astype(np.float32)
            bar = LeapHorizontalBar(vec, [str(i) for i in range(len(vec))])
            out.visualizers.append({"name": "latent space %s" % name, "type": "LeapHorizontalBar",
                                       "render": render_leap(bar), "value": summarize(v), "advanced": True})
    masks = getattr(sc, "instance_masks", None) or []
    instances = (getattr(r, "sample_ids_to_instance_mappings", None) or {}).get(sid) or []
    if not masks or not instances:
        return
    h = masks[0]
    label, names = None, []
    for i in range(min(len(instances), _MAX_INSTANCES)):
        ok, inst = _user_call(h.function, (sid, r, i), h.name, problems)
        m = np.asarray(getattr(inst, "mask", None)) if ok and inst is not None else None
        if m is None or m.ndim != 2:
            continue
        label = np.zeros(m.shape, dtype=np.uint8) if label is None else label
        if m.shape == label.shape:
            label[m > 0.5] = len(names) + 1
            names.append(str(getattr(inst, "name", i)))
    if label is None:
        return
    image = _base_image(sc, r, sid, label.shape)
    shown = LeapImageMask(label, image, ["background"] + names)
    out.visualizers.append({"name": "instances %s" % h.name, "type": "LeapImageMask",
                               "render": render_leap(shown), "advanced": True})


def _base_image(sc, r, sid, shape) -> np.ndarray:
    """The first input as an 8-bit (H, W, 3) image of ``shape`` (channels first or last), else black."""
    for h in sc.inputs[:1]:
        try:
            with limited():
                v = np.asarray(h.function(sid, r), dtype=np.float64)
        except BaseException:  # noqa: BLE001 - the inputs section already reports its failure
            break
        if v.ndim == 3 and v.shape[0] in (1, 3) and v.shape[1:] == tuple(shape):
            v = np.transpose(v, (1, 2, 0))
        if v.ndim == 3 and v.shape[:2] == tuple(shape) and v.shape[-1] in (1, 3):
            v = v * 255 if np.nanmax(v) <= 1.0 else v
            return np.repeat(v, 3 // v.shape[-1], axis=-1).clip(0, 255).astype(np.uint8)
    return np.zeros(tuple(shape) + (3,), dtype=np.uint8)


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
