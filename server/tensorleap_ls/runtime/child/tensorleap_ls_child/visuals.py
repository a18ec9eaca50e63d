"""Visualizer checks, and images as data for the server to render (Pillow may not be here)."""

from __future__ import annotations

import base64
from typing import Optional

import numpy as np

from tensorleap_ls_child.sandbox import classify, limited
from tensorleap_ls_child.state import STATE, _ids, binder, scrub
from tensorleap_ls_child.where import _f, _is_user, chosen, error_info, where
from tensorleap_ls_child.codes import (
    RUN_BBOX_RANGE, RUN_BLACK_IMAGE, RUN_EXCEPTION, RUN_SIZE_MISMATCH, RUN_VISUALIZER_CLASS,
)

# --- visualizers ------------------------------------------------------------------------------
def _sample_tensors(key: str, sid, known: Optional[dict] = None) -> dict:
    """The sample's encoded tensors by name, as visualizers get them; ``known``: values already computed
    for this sample (each encoder runs once per sample: a breakpoint in it stops once)."""
    sc = binder().setup_container
    r = STATE["responses"][key]
    out = {}
    for h in list(sc.inputs) + (list(sc.ground_truths) if key != "unlabeled" else []):
        try:
            v = known[h.name] if known is not None and h.name in known else h.function(sid, r)
            if isinstance(v, np.ndarray):
                out[h.name] = np.expand_dims(v, 0)  # visualizers get a leading batch axis of size 1
        except BaseException:  # noqa: BLE001 - reported by the encoder checks
            pass
    return out


def _check_visualizers(key, seed, functions=None) -> list:
    if key is None or not _ids(key):
        return []
    sid = _ids(key)[0]
    tensors = _sample_tensors(key, sid)
    out = []
    for h in binder().setup_container.visualizers:
        if not _is_user(h.function) or not chosen(h, h.visualizer_handler_data.name, functions):
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
            code = classify(e, RUN_EXCEPTION)
            out.append(_f(code, f"visualizer '{data.name}' raised on {key} sample {sid!r}: {info.message}",
                          [info.file, info.line], sample=sid, subset=key))
            continue
        out.extend(_check_leap(data.name, data.type, result, loc, key, sid))
    return out


def _check_leap(name, vtype, result, loc, key, sid) -> list:
    from code_loader.contract import visualizer_classes as vc

    ctx = dict(sample=sid, subset=key)
    expected = vc.map_leap_data_type_to_visualizer_class.get(vtype.value) if hasattr(vc, "map_leap_data_type_to_visualizer_class") else None
    if expected is not None and not isinstance(result, expected):
        return [_f(RUN_VISUALIZER_CLASS, f"visualizer '{name}' returned {type(result).__name__}; {vtype.name} needs "
                   f"{expected.__name__}.", loc, **ctx)]
    out = []
    img = getattr(result, "data", None) if type(result).__name__ in ("LeapImage", "LeapImageWithBBox") else \
        getattr(result, "image", None)
    if isinstance(img, np.ndarray) and np.issubdtype(img.dtype, np.floating) and img.size and float(np.nanmax(img)) <= 1.0:
        out.append(_f(RUN_BLACK_IMAGE, f"visualizer '{name}' returns a float image in [0, 1]: the platform casts it to 8 bits "
                      "without scaling and it renders black. Return uint8 0-255.", loc, **ctx))
    tname = type(result).__name__
    if tname == "LeapImageMask" and result.mask.shape[:2] != result.image.shape[:2]:
        out.append(_f(RUN_SIZE_MISMATCH, f"visualizer '{name}': mask {result.mask.shape[:2]} vs image {result.image.shape[:2]}.", loc, **ctx))
    if tname == "LeapImageWithHeatmap" and result.heatmaps.shape[-2:] != result.image.shape[:2]:
        out.append(_f(RUN_SIZE_MISMATCH, f"visualizer '{name}': heatmaps {result.heatmaps.shape[-2:]} vs image "
                      f"{result.image.shape[:2]}.", loc, **ctx))
    if tname == "LeapHorizontalBar" and len(result.body) != len(result.labels):
        out.append(_f(RUN_SIZE_MISMATCH, f"visualizer '{name}': {len(result.body)} values but {len(result.labels)} labels.", loc, **ctx))
    if tname == "LeapImageWithBBox":
        bad = [b for b in result.bounding_boxes if any(not (0.0 <= float(getattr(b, a, 0)) <= 1.0) for a in ("x", "y", "width", "height"))]
        if bad:
            out.append(_f(RUN_BBOX_RANGE, f"visualizer '{name}': {len(bad)} bounding box(es) outside [0, 1] relative coordinates.",
                          loc, **ctx))
    return out


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
