"""What the child holds between requests: the loaded entry and its preprocess result."""

from __future__ import annotations

import os
from typing import Any, Dict

from tensorleap_ls_child import wire
from tensorleap_ls_child.protocol import Subset

STATE: Dict[str, Any] = {"module": None, "responses": None, "root": None, "entry": None}
scrub = wire.Scrubber(os.environ.get("AUTH_SECRET"))


def binder():
    from code_loader import leap_binder

    return leap_binder


def _subsets() -> list[Subset]:
    out = []
    for key, r in STATE["responses"].items():
        ids = list(r.sample_ids) if r.sample_ids is not None else list(range(r.length or 0))
        out.append(Subset(name=key, length=len(ids), first=ids[:3], last=ids[-1:] if ids else []))
    return out


def _ids(key: str) -> list:
    r = STATE["responses"][key]
    return list(r.sample_ids) if r.sample_ids is not None else list(range(r.length or 0))
