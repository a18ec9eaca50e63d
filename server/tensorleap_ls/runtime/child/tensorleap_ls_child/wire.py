"""What may cross the wire between the child and the server, shared by both sides.

Standard library only, Python 3.8+: the child (project interpreter) loads this file by path
under a private module name; the server imports it normally. ``clean`` walks a decoded value
(never serialised text, where a secret may be spelt with escapes) and returns a copy that is
safe to send anywhere:

- every spelling of the secret (plain, ``repr``, JSON-escaped, URL-encoded, bytes) becomes ``***``
  in strings and dict keys;
- non-finite floats become the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"`` (strict JSON:
  vscode-jsonrpc's ``JSON.parse`` rejects bare ``NaN``);
- dict keys become strings, sets/tuples lists, unknown objects a bounded ``repr``;
- strings, lists and nesting are bounded, so no single result can grow without limit.
"""

from __future__ import annotations

import html
import json
import math
import urllib.parse
from typing import Any, Callable, List, Optional

MAX_STR = 20000  # characters of one string
MAX_ITEMS = 2000  # items of one list / dict
MAX_DEPTH = 24
MAX_PIXELS = 6 * 1024 * 1024  # base64 characters of one image (the child renders at most 1024x1024 RGB)

_NONFINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


class Scrubber:
    """Replaces a secret, in every form it can take in text, by ``***``."""

    def __init__(self, secret: Optional[str]):
        self.forms: List[str] = []
        if not secret or not isinstance(secret, str) or len(secret) < 4:
            return
        forms = {secret, repr(secret)[1:-1], ascii(secret)[1:-1], json.dumps(secret)[1:-1],
                 json.dumps(secret, ensure_ascii=False)[1:-1], urllib.parse.quote(secret),
                 urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret), html.escape(secret),
                 html.escape(secret, quote=False), secret.encode("unicode_escape").decode("ascii")}
        for enc in ("utf-8", "latin-1"):
            try:
                forms.add(repr(secret.encode(enc))[2:-1])
            except UnicodeEncodeError:
                pass
        # longest first: a short form must not cut a longer one in half
        self.forms = sorted((f for f in forms if len(f) >= 4), key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for f in self.forms:
            if f in text:
                text = text.replace(f, "***")
        return text


def finite(x: float) -> Any:
    """A float as strict JSON allows it: itself, or a display string for NaN/Inf."""
    return x if math.isfinite(x) else _NONFINITE[repr(float(x)).lstrip("+")]


def clean(obj: Any, scrub: Callable[[str], str] = lambda s: s, default: Optional[Callable[[Any], Any]] = None,
          depth: int = 0) -> Any:
    """A JSON-safe, scrubbed, bounded copy of ``obj`` (see the module docstring)."""
    if obj is None or isinstance(obj, bool):
        return obj
    if isinstance(obj, int):
        return obj if abs(obj) < (1 << 63) else str(obj)
    if isinstance(obj, float):
        return finite(obj)
    if isinstance(obj, str):
        s = scrub(obj)
        return s if len(s) <= MAX_STR else s[:MAX_STR] + "... [%d characters cut]" % (len(s) - MAX_STR)
    if isinstance(obj, bytes):
        return clean(repr(obj), scrub, default, depth)
    if depth >= MAX_DEPTH:
        return "[nested too deeply]"
    try:
        return _container(obj, scrub, default, depth)
    except Exception:  # noqa: BLE001 - a user container that breaks when walked is shown by its type
        return "<%s>" % type(obj).__name__


def _container(obj: Any, scrub: Callable[[str], str], default: Optional[Callable[[Any], Any]], depth: int) -> Any:
    if isinstance(obj, dict):
        if obj.get("kind") == "rgb" and isinstance(obj.get("data"), str):
            return _pixels(obj, scrub)
        out = {}
        for i, (k, v) in enumerate(dict.items(obj)):  # not a subclass's own items()
            if i >= MAX_ITEMS:
                out["..."] = "%d more entries cut" % (len(obj) - MAX_ITEMS)
                break
            key = k if isinstance(k, str) else repr(k)
            out[clean(key, scrub)] = clean(v, scrub, default, depth + 1)
        return out
    if isinstance(obj, (list, tuple, set, frozenset)):
        items = list(obj)
        if isinstance(obj, (set, frozenset)):
            items = sorted(items, key=repr)
        out_list = [clean(v, scrub, default, depth + 1) for v in items[:MAX_ITEMS]]
        if len(items) > MAX_ITEMS:
            out_list.append("... %d more items cut" % (len(items) - MAX_ITEMS))
        return out_list
    if default is not None:
        try:
            converted = default(obj)
        except Exception:  # noqa: BLE001 - a value we cannot convert is shown by its type
            converted = "<%s>" % type(obj).__name__
        if converted is not obj:
            return clean(converted, scrub, None, depth + 1)
    try:
        text = repr(obj)
    except Exception:  # noqa: BLE001 - user objects may have a broken __repr__
        text = "<%s>" % type(obj).__name__
    return clean(text[:500], scrub)


def _pixels(spec: dict, scrub: Callable[[str], str]) -> dict:
    """An image the child rendered: its base64 pixels pass unscrubbed (they are not text) but bounded."""
    out = {k: clean(v, scrub) for k, v in spec.items() if k != "data"}
    if len(spec["data"]) <= MAX_PIXELS:
        out["data"] = spec["data"]
    else:
        out["reduced"] = "not shown: larger than %d MB" % (MAX_PIXELS >> 20)
    return out


def dumps(obj: Any, scrub: Callable[[str], str] = lambda s: s, default: Optional[Callable[[Any], Any]] = None,
          **kw: Any) -> str:
    """``clean`` then strict JSON (``allow_nan=False``: a bare NaN can never be written)."""
    return json.dumps(clean(obj, scrub, default), allow_nan=False, **kw)
