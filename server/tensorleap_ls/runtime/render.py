"""Turns what the child sends into files a person can open: PNG images (Pillow), and an HTML page
with everything embedded. Pillow is optional (the VS Code extension's bundle runs without it):
without it, plain images are still written as PNG with the standard library, and what needs
drawing (boxes, bar charts, graphs) is named in a note saying how to get it. Images are shown as
the platform shows them: the child already cast float images to 8 bits without scaling, so a [0, 1]
float image is black here too."""

from __future__ import annotations

import base64
import html
import io
import math
import struct
import sys
import zlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL import Image

from tensorleap_ls.runtime.child.tensorleap_ls_child import wire

_BAR_W, _ROW_H = 360, 18


def num(v: Any) -> float:
    """A number for drawing: the child sends NaN/Inf as the strings "NaN"/"Infinity" (strict
    JSON); they are drawn as 0 and printed as they are."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return 0.0
    return f if math.isfinite(f) else 0.0


def fmt(v: Any) -> str:
    return f"{float(v):.3f}" if isinstance(v, (int, float)) else str(v)
def pillow_missing() -> str | None:
    """None when Pillow can be imported in this (the server's) interpreter; else what to do."""
    try:
        import PIL.Image  # noqa: F401
    except ImportError:
        return (f"Pillow is not installed in the server's interpreter ({sys.executable}), which draws bounding "
                f"boxes on images. To draw them: {sys.executable} -m pip install pillow")
    return None


def png_rgb(width: int, height: int, raw: bytes) -> bytes:
    """A PNG of 8-bit RGB pixels with the standard library only (no Pillow needed)."""
    stride = width * 3
    rows = b"".join(b"\x00" + raw[y * stride:(y + 1) * stride] for y in range(height))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def rgb_image(spec: dict) -> Image.Image:
    from PIL import Image

    raw = base64.b64decode(spec["data"])
    return Image.frombytes("RGB", (spec["width"], spec["height"]), raw)


def _upscale(img: Image.Image, min_side: int = 160) -> Image.Image:
    from PIL import Image

    w, h = img.size
    k = max(1, min_side // max(1, min(w, h)))
    return img.resize((w * k, h * k), Image.NEAREST) if k > 1 else img


def leap_image(render: dict) -> Image.Image | None:
    from PIL import Image, ImageDraw

    t = render.get("type")
    if "image" in render:
        if "data" not in render["image"]:
            return None  # not rendered (too large): the page says why
        img = _upscale(rgb_image(render["image"]))
        if t == "LeapImageWithBBox":
            draw = ImageDraw.Draw(img)
            w, h = img.size
            for b in render.get("boxes", []):
                x0, y0 = (b["x"] - b["w"] / 2) * w, (b["y"] - b["h"] / 2) * h
                x1, y1 = (b["x"] + b["w"] / 2) * w, (b["y"] + b["h"] / 2) * h
                draw.rectangle([x0, y0, x1, y1], outline=(255, 64, 64), width=2)
                draw.text((x0 + 2, y0 + 2), f"{b['label']} {b['confidence']:.2f}", fill=(255, 255, 0))
        return img
    if t == "LeapHorizontalBar":
        labels, shown = render["labels"], render["values"]
        values = [num(v) for v in shown]
        img = Image.new("RGB", (_BAR_W + 200, _ROW_H * max(1, len(values)) + 8), (255, 255, 255))
        draw = ImageDraw.Draw(img)
        top = max(values) if values and max(values) > 0 else 1.0
        for i, (label, v, text) in enumerate(zip(labels, values, shown)):
            y = 4 + i * _ROW_H
            draw.text((4, y + 3), str(label)[:18], fill=(0, 0, 0))
            draw.rectangle([130, y + 2, 130 + int(_BAR_W * max(v, 0) / top), y + _ROW_H - 3], fill=(66, 133, 244))
            draw.text((134 + int(_BAR_W * max(v, 0) / top), y + 3), fmt(text), fill=(0, 0, 0))
        return img
    if t == "LeapGraph":
        series = [[num(v) for v in s] for s in render.get("series") or []]
        img = Image.new("RGB", (480, 240), (255, 255, 255))
        draw = ImageDraw.Draw(img)
        flat = [v for s in series for v in s] or [0.0]
        lo, hi = min(flat), max(flat)
        span = (hi - lo) or 1.0
        colors = [(66, 133, 244), (219, 68, 55), (15, 157, 88), (244, 180, 0)]
        for k, s in enumerate(series):
            if len(s) < 2:
                continue
            pts = [(10 + i * 460 / (len(s) - 1), 230 - (v - lo) / span * 220) for i, v in enumerate(s)]
            draw.line(pts, fill=colors[k % len(colors)], width=2)
        return img
    return None


def to_png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def text_html(render: dict) -> str:
    tokens = render.get("tokens") or []
    weights = [num(w) for w in render.get("heatmap") or render.get("mask") or [0] * len(tokens)]
    top = max([abs(w) for w in weights] + [1e-9])
    spans = []
    for tok, w in zip(tokens, weights):
        a = min(1.0, abs(w) / top) if render.get("heatmap") else (0.35 if w else 0.0)
        spans.append(f'<span style="background: rgba(255,140,0,{a:.2f})">{html.escape(tok)}</span>')
    return " ".join(spans)


def _num(x: Any) -> str:
    return f"{x:.4g}" if isinstance(x, float) else html.escape(str(x))


def value_html(v: Any) -> str:
    """A value as the user reads it: numbers, an array's values (or its statistics), a dict as rows. A
    one-value array (a metric, a loss) reads as its number, with its dtype; never "0 float32 1"."""
    if isinstance(v, dict) and v.get("type") == "ndarray":
        shape = "×".join(map(str, v.get("shape") or [])) or "scalar"
        values = v.get("slice") or []
        size = 1
        for n in v.get("shape") or []:
            size *= n
        if size == 1 and values:
            return f"{_num(values[0])} <span class='muted'>{html.escape(str(v.get('dtype')))}</span>"
        meta = f" <span class='muted'>{html.escape(str(v.get('dtype')))}, shape {shape}</span>"
        if size <= len(values):
            return ", ".join(_num(x) for x in values) + meta
        if "mean" in v:
            return f"mean {_num(v['mean'])} (min {_num(v['min'])}, max {_num(v['max'])})" + meta
        return ", ".join(_num(x) for x in values) + " …" + meta
    if isinstance(v, dict) and "repr" in v and "type" in v:
        return html.escape(str(v["repr"]))
    if isinstance(v, dict):
        rows = "".join(f"<tr><td>{html.escape(str(k))}</td><td>{value_html(x)}</td></tr>" for k, x in v.items())
        return f"<table>{rows}</table>"
    if isinstance(v, (list, tuple)):
        return ", ".join(value_html(x) for x in v[:20]) + (" …" if len(v) > 20 else "")
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return _num(v)
    return html.escape(wire.dumps(v)[:200] if not isinstance(v, str) else v[:200])


def _table(title: str, rows: list[dict] | None) -> str:
    """A name/value table section ("" when there is nothing to show)."""
    if not rows:
        return ""
    body = "".join(f"<tr><td>{html.escape(r['name'])}</td><td>{value_html(r['value'])}</td></tr>" for r in rows)
    return f"<h2>{title}</h2><table><tr><th>name</th><th>value</th></tr>{body}</table>"


def _reduced(render: Any) -> str:
    """What the child reduced in an image (shown at a capped size), said under it."""
    if not isinstance(render, dict):
        return ""
    note = render.get("reduced") or (render.get("image") or {}).get("reduced")
    return f"<br><span class='muted'>{html.escape(str(note))}</span>" if note else ""


def html_page(summary: dict, images: dict[str, bytes]) -> str:
    """One self-contained page (images embedded) of a preview summary."""
    esc = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>Tensorleap preview</title>",
        "<style>body{font-family:sans-serif;margin:16px;color:#222}h2{margin-top:24px}"
        ".card{display:inline-block;vertical-align:top;margin:6px;padding:8px;border:1px solid #ddd;border-radius:6px}"
        "table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left}"
        ".problem{color:#b00020}.muted{color:#777}img{image-rendering:pixelated;min-width:160px}</style></head><body>",
        f"<h1>{esc(str(summary.get('subset')))} sample {esc(str(summary.get('sample_id')))}</h1>",
    ]
    for section, title in (("inputs", "Inputs"), ("ground_truths", "Ground truth")):
        items = summary.get(section) or []
        if items:
            parts.append(f"<h2>{title}</h2>")
        for it in items:
            key = f"{section}/{it['name']}"
            v = it.get("value", {})
            img = f"<br><img src='{_data_uri(images[key])}'>" if key in images else ""
            shape = "×".join(map(str, v.get("shape") or []))
            stats = f" min {_num(v['min'])} max {_num(v['max'])}" if "min" in v and "max" in v else ""
            parts.append(f"<div class='card'><b>{esc(it['name'])}</b> <span class='muted'>{esc(shape)} "
                         f"{esc(str(v.get('dtype')))}{stats}</span>{img}{_reduced(it.get('render'))}</div>")
    parts.append(_table("Metadata", summary.get("metadata")))
    if summary.get("predictions"):
        parts.append("<h2>Model outputs</h2>")
        for p in summary["predictions"]:
            top = ", ".join(f"{esc(str(lbl))} {esc(fmt(v))}" for lbl, v in p.get("top", []))
            parts.append(f"<div class='card'><b>{esc(p.get('name', 'output ' + str(p['index'])))}</b> "
                         f"<span class='muted'>{esc(str(p['value'].get('shape')))}</span><br>{top}</div>")
    if summary.get("visualizers"):
        parts.append("<h2>Visualizers</h2>")
        for v in summary["visualizers"]:
            key = f"visualizers/{v['name']}"
            render_ = v.get("render") or {}
            body = f"<img src='{_data_uri(images[key])}'>" if key in images else _drawn_html(render_)
            parts.append(f"<div class='card'><b>{esc(v['name'])}</b> <span class='muted'>{esc(v['type'])}</span><br>{body}"
                         f"{_reduced(render_)}{_undrawn(render_, key in images)}</div>")
    parts.append(_table("Metrics and losses", summary.get("metrics")))
    groups: dict[str, list[str]] = {}
    for s in summary.get("skipped") or []:  # grouped by why: "the integration test does not call it"...
        groups.setdefault(str(s.get("why") or "not shown"), []).append(str(s["name"]))
    for why, names in groups.items():
        parts.append(f"<p class='muted'>Not shown: {esc(', '.join(names))} ({esc(why)}).</p>")
    if summary.get("reduced"):
        parts.append("<p class='muted'>Reduced to keep the preview small: "
                     + "; ".join(esc(str(r)) for r in summary["reduced"]) + "</p>")
    if summary.get("note"):
        parts.append(f"<p class='muted'>{esc(summary['note'])}</p>")
    if summary.get("problems"):
        parts.append("<h2 class='problem'>Problems on this sample</h2><ul>")
        for p in summary["problems"]:
            loc = f" ({esc(str(p.get('file')))}:{p.get('line')})" if p.get("file") else ""
            parts.append(f"<li class='problem'>{esc(p.get('code', p.get('type', '')))} {esc(p.get('message', ''))}{loc}</li>")
        parts.append("</ul>")
    parts.append("</body></html>")
    return "".join(parts)


def _drawn_html(render: dict) -> str:
    """What needs no Pillow, drawn in the page itself: a bar chart as HTML bars, a graph as SVG, text."""
    t = render.get("type")
    if t == "LeapHorizontalBar":
        values = [num(v) for v in render.get("values") or []]
        top = max([v for v in values if v > 0] + [1e-12])
        rows = "".join(
            f"<tr><td>{html.escape(str(label)[:24])}</td><td><div style='background:#4285f4;height:12px;"
            f"width:{int(240 * max(v, 0) / top)}px'></div></td><td>{html.escape(_num(raw) if isinstance(raw, float) else str(raw))}</td></tr>"
            for label, v, raw in zip(render.get("labels") or [], values, render.get("values") or []))
        return f"<table class='bars'>{rows}</table>"
    if t == "LeapGraph":
        series = [[num(v) for v in s] for s in render.get("series") or [] if len(s) >= 2]
        flat = [v for s in series for v in s] or [0.0]
        lo, span = min(flat), (max(flat) - min(flat)) or 1.0
        colors = ("#4285f4", "#db4437", "#0f9d58", "#f4b400")
        lines = "".join(
            f"<polyline fill='none' stroke='{colors[k % 4]}' stroke-width='2' points='"
            + " ".join(f"{10 + i * 460 / (len(s) - 1):.1f},{230 - (v - lo) / span * 220:.1f}" for i, v in enumerate(s))
            + "'/>" for k, s in enumerate(series))
        return f"<svg width='480' height='240' xmlns='http://www.w3.org/2000/svg'>{lines}</svg>"
    return text_html(render)


def _undrawn(render: dict, has_image: bool) -> str:
    """Inside the card, what could not be drawn and why (not at the bottom of the page)."""
    if render.get("type") == "LeapImageWithBBox" and has_image and pillow_missing():
        return f"<br><span class='muted'>boxes not drawn: {html.escape(str(pillow_missing()))}</span>"
    return ""


def images_of(summary: dict[str, Any]) -> dict[str, bytes]:
    """PNG bytes of every image-like item of a preview summary, keyed 'section/name'. Without Pillow,
    plain images only, and ``summary["note"]`` says what was not drawn."""
    out: dict[str, bytes] = {}
    if pillow_missing():
        return _plain_images(summary)
    for section in ("inputs", "ground_truths"):
        for it in summary.get(section) or []:
            if it.get("render") and "data" in it["render"]:
                out[f"{section}/{it['name']}"] = to_png(_upscale(rgb_image(it["render"])))
    for v in summary.get("visualizers") or []:
        img = leap_image(v.get("render") or {})
        if img is not None:
            out[f"visualizers/{v['name']}"] = to_png(img)
    return out


def _plain_images(summary: dict[str, Any]) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    undrawn = []
    items = [(s, it, it.get("render")) for s in ("inputs", "ground_truths") for it in summary.get(s) or []]
    items += [("visualizers", v, (v.get("render") or {}).get("image")) for v in summary.get("visualizers") or []]
    for section, it, spec in items:
        if isinstance(spec, dict) and "data" in spec:
            out[f"{section}/{it['name']}"] = png_rgb(spec["width"], spec["height"], base64.b64decode(spec["data"]))
        if section == "visualizers" and (it.get("render") or {}).get("type") == "LeapImageWithBBox":
            undrawn.append(it["name"])  # bars and graphs are drawn in the page itself (_drawn_html)
    if undrawn:
        summary["note"] = f"{pillow_missing()} (here: {', '.join(undrawn)})"
    return out
