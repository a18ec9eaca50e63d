"""Values for display: array summaries (never the array itself), plain JSON values."""

from __future__ import annotations

import json
from typing import Any, Dict

import numpy as np

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


# --- arrays -----------------------------------------------------------------------------------
_KINDS = {}  # type: Dict[Any, tuple]


def dtype_kind(dtype) -> tuple:
    """(its name, a real number or bool, a float) of a dtype, computed once: numpy's own tests are slow for a
    per-call check (a scan makes millions)."""
    k = _KINDS.get(dtype)
    if k is None:
        number = (np.issubdtype(dtype, np.number) or dtype == np.bool_) and not np.issubdtype(dtype, np.complexfloating)
        k = _KINDS[dtype] = (str(dtype), bool(number), bool(np.issubdtype(dtype, np.floating)))
    return k


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


def _plain(v):
    try:
        json.dumps(v)
        return v
    except TypeError:
        return repr(v)[:200]
