"""A scan's outputs: its JSON document (the CLI's ``--format json`` and summary.json), the diagnostics it
feeds (one per function and check, with counts and the first sample ids), and report.html.

The charts are Vega-Lite specs built here once (``charts``): report.html draws them with vega-embed, whose
builds are vendored in ``assets/`` and inlined in the page (it works offline, no CDN); the editor panel draws
the same specs with the same libraries bundled in the extension.
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path
from typing import Any

from tensorleap_ls.core.codes import CODES, RUN_CRASH
from tensorleap_ls.core.model import Severity
from tensorleap_ls.runtime.child.tensorleap_ls_child import wire

ASSETS = Path(__file__).with_name("assets")
SCRIPTS = ("vega.min.js", "vega-lite.min.js", "vega-embed.min.js")
FIRST_SAMPLES = 5  # sample ids a diagnostic names


def document(result, root_relative: bool = True) -> dict:
    """The project's entry of the JSON document (version 1): {"root", "entry", "scan": {...}}."""
    root = result.root

    def rel(path: str | None) -> str | None:
        return os.path.relpath(path, root) if path and root_relative and os.path.isabs(path) else path

    failures = [{"subset": f.get("subset"), "sample_id": f.get("sample_id"), "function": f.get("function"),
                 "code": f.get("code"), "message": f.get("message"), "file": rel(f.get("file")), "line": f.get("line")}
                for f in result.failures]
    scan: dict[str, Any] = {
        "samples": result.samples, "seconds": round(result.seconds, 3), "workers": result.workers,
        "backend": result.backend, "failures": failures, "stats": result.stats,
        "cache": {"read": result.cached, "computed": result.computed},
        "functions": [{"key": k, "kind": f.get("kind"), "name": f.get("name"), "function": f.get("function"),
                       "file": rel((f.get("where") or [None])[0]), "line": (f.get("where") or [None, None])[1]}
                      for k, f in result.functions.items()],
    }
    if result.cancelled:
        scan["cancelled"] = True
    if result.error:
        scan["error"] = result.error
    return {"root": root, "entry": os.path.relpath(result.entry, root), "scan": scan}


def severity(code: str | None) -> Severity:
    c = CODES.get(code or "")
    return c.severity if c else Severity.ERROR


def errors(result) -> int:
    return sum(1 for f in result.failures if severity(f.get("code")) == Severity.ERROR)


def grouped(result) -> list[dict]:
    """One entry per (function, code): how many samples, the first sample ids, where (the first failure's
    line: an exception's line in the user's code, else the function)."""
    out: dict[tuple, dict] = {}
    for f in result.failures:
        key = (f.get("function"), f.get("code"))
        g = out.get(key)
        if g is None:
            where = (result.functions.get(f.get("key") or "") or {}).get("where") or [None, None]
            g = out[key] = {"function": f.get("function"), "code": f.get("code") or RUN_CRASH, "count": 0,
                            "samples": [], "message": f.get("message") or "",
                            "file": f.get("file") or where[0], "line": f.get("line") or where[1],
                            "subset": f.get("subset"), "sample_id": f.get("sample_id")}
        g["count"] += 1
        if f.get("sample_id") is not None and len(g["samples"]) < FIRST_SAMPLES:
            g["samples"].append([f.get("subset"), f.get("sample_id")])
    for g in out.values():
        if g["count"] > 1 or g["samples"]:
            first = ", ".join(f"{s} {i!r}" for s, i in g["samples"])
            more = g["count"] - len(g["samples"])
            g["summary"] = (f"scan: {g['count']:,} sample(s) fail (first: {first}{f' and {more:,} more' if more > 0 else ''}). "
                            f"First: {g['message']}")
        else:
            g["summary"] = f"scan: {g['message']}"
    return list(out.values())


# --- charts -----------------------------------------------------------------------------------------
_WIDTH = 320


def charts(doc: dict) -> list[dict]:
    """Vega-Lite specs: per subset, a histogram per numeric metadata key, value counts per string/boolean one,
    the class balance of each ground truth, failures per check, and the time per sample."""
    out = []
    for sub in doc["scan"]["stats"].get("subsets", []):
        name = sub["name"]
        for m in sub.get("metadata", []):
            if m.get("histogram"):
                out.append(_chart(name, f"metadata {m['name']}", "histogram", {
                    "data": {"values": m["histogram"]}, "mark": {"type": "bar", "tooltip": True},
                    "encoding": {"x": {"field": "from", "bin": {"binned": True}, "type": "quantitative", "title": m["name"]},
                                 "x2": {"field": "to"}, "y": {"field": "count", "type": "quantitative", "title": "samples"}}}))
            if m.get("values"):
                out.append(_chart(name, f"metadata {m['name']}", "values", _bars(m["values"], "value", m["name"])))
        for gt in sub.get("ground_truths", []):
            if gt.get("classes"):
                out.append(_chart(name, f"ground truth {gt['name']}: class balance", "classes",
                                  _bars(gt["classes"], "class", "class")))
        if sub.get("failures"):
            counts: dict[str, int] = {}
            for g in sub["failures"]:
                counts[f"{g['code']} {g['function']}"] = counts.get(f"{g['code']} {g['function']}", 0) + g["count"]
            out.append(_chart(name, "failing samples per check", "failures",
                              _bars([{"check": k, "count": v} for k, v in counts.items()], "check", "check")))
    return out


def _chart(subset: str, title: str, kind: str, spec: dict) -> dict:
    return {"subset": subset, "title": title, "kind": kind,
            "spec": {"$schema": "https://vega.github.io/schema/vega-lite/v6.json", "width": _WIDTH, "height": 160,
                     "title": title, **spec}}


def _bars(values: list[dict], field: str, title: str) -> dict:
    return {"data": {"values": values}, "mark": {"type": "bar", "tooltip": True},
            "encoding": {"y": {"field": field, "type": "nominal", "sort": "-x", "title": title},
                         "x": {"field": "count", "type": "quantitative", "title": "samples"}}}


# --- files ------------------------------------------------------------------------------------------
def summary(doc: dict) -> dict:
    """summary.json: the document and its charts."""
    return {"version": 1, **doc, "charts": charts(doc)}


def write(out_dir: str, doc: dict) -> list[str]:
    """summary.json and report.html in ``out_dir``; the paths written."""
    os.makedirs(out_dir, exist_ok=True)
    data = summary(doc)
    paths = [os.path.join(out_dir, "summary.json"), os.path.join(out_dir, "report.html")]
    Path(paths[0]).write_text(wire.dumps(data, indent=1), encoding="utf-8")  # strict JSON: NaN is "NaN"
    Path(paths[1]).write_text(page(data), encoding="utf-8")
    return paths


def page(data: dict) -> str:
    """report.html: one self-contained page (the chart libraries inlined)."""
    scripts = "\n".join(f"<script>{(ASSETS / s).read_text(encoding='utf-8')}</script>" for s in SCRIPTS)
    return _PAGE.format(body=body(data), scripts=scripts, specs=specs_json(data))


def specs_json(data: dict) -> str:
    """The charts' Vega-Lite specs, in the order of the ``data-chart`` elements of ``body``, safe inside <script>."""
    return json.dumps([c["spec"] for c in data["charts"]], allow_nan=False).replace("</", "<\\/")


def body(data: dict) -> str:
    """The report's HTML (no script): what report.html and the editor's panel show. Each chart is an empty
    ``data-chart`` element (the page draws ``specs_json`` into them); each sample id a ``.sample`` element with
    its ``data-subset`` and ``data-sample`` (JSON), which the panel turns into Preview links."""
    scan = data["scan"]
    parts = [f"<h1>Data-set scan of {html.escape(os.path.basename(data['root']) or data['root'])}</h1>",
            f"<p class=meta>{scan['samples']:,} samples, {len(scan['failures']):,} failure(s), {scan['seconds']:.1f} s, "
            f"{scan['workers']} worker(s), backend {html.escape(scan['backend'])}; cache: {scan['cache']['read']:,} "
            f"record(s) read, {scan['cache']['computed']:,} computed.</p>"]
    if scan.get("error"):
        parts.append(f"<p class=error>The scan stopped: {html.escape(scan['error'])}</p>")
    for g in scan["stats"].get("general", []):
        parts.append(f"<p class=error>{html.escape(str(g.get('code')))} {html.escape(str(g.get('message')))}</p>")
    for sub in scan["stats"].get("subsets", []):
        parts.append(_subset_html(sub, [c for c in data["charts"] if c["subset"] == sub["name"]]))
    return "\n".join(parts)


def _subset_html(sub: dict, chart_list: list[dict]) -> str:
    e = html.escape
    parts = [f"<section><h2>{e(sub['name'])}: {sub['samples']:,} samples, {sub.get('failed_samples', 0):,} failing</h2>"]
    if sub.get("failures"):
        rows = "".join(
            f"<tr><td>{e(str(g['code']))}</td><td>{e(str(g['function']))}</td><td class=num>{g['count']:,}</td>"
            f"<td>{e(str(g['message']))}</td><td>{' '.join(_sample_link(sub['name'], s) for s in g['samples'])}</td></tr>"
            for g in sub["failures"])
        parts.append("<h3>Failures, grouped by message</h3><table><tr><th>code</th><th>function</th><th>samples</th>"
                     f"<th>first message</th><th>samples (preview)</th></tr>{rows}</table>")
    arrays = sub.get("inputs", []) + sub.get("ground_truths", [])
    if arrays:
        rows = "".join(
            f"<tr><td>{e(a['name'])}</td><td>{e(_counts(a['shapes'], 'shape'))}</td><td>{e(_counts(a['dtypes'], 'dtype'))}</td>"
            f"<td class=num>{_num(a.get('min'))}</td><td class=num>{_num(a.get('max'))}</td></tr>" for a in arrays)
        parts.append("<h3>Inputs and ground truths</h3><table><tr><th>name</th><th>shapes</th><th>dtypes</th><th>min</th>"
                     f"<th>max</th></tr>{rows}</table>")
    meta = sub.get("metadata", [])
    if meta:
        rows = "".join(
            f"<tr><td>{e(m['name'])}</td><td>{e(m['type'])}</td><td class=num>{m['count']:,}</td>"
            f"<td class=num>{m['none']:,}</td><td class=num>{m['nan']:,}</td><td class=num>{m['none_share'] * 100:.2f}%</td>"
            f"<td class=num>{_num(m.get('min'))}</td><td class=num>{_num(m.get('max'))}</td></tr>" for m in meta)
        parts.append("<h3>Metadata</h3><table><tr><th>name</th><th>type</th><th>samples</th><th>None</th><th>NaN</th>"
                     f"<th>None/NaN share</th><th>min</th><th>max</th></tr>{rows}</table>")
    if chart_list:
        parts.append("<div class=charts>" + "".join("<div class=chart data-chart></div>" for _ in chart_list) + "</div>")
    if sub.get("slowest"):
        rows = "".join(f"<tr><td>{_sample_link(sub['name'], s['sample_id'])}</td><td class=num>{s['seconds'] * 1000:.1f} ms</td></tr>"
                       for s in sub["slowest"])
        parts.append(f"<h3>Slowest samples</h3><table><tr><th>sample</th><th>time (all functions)</th></tr>{rows}</table>")
    parts.append("</section>")
    return "\n".join(parts)


def _sample_link(subset: str, sid: Any) -> str:
    """A sample id with the command that previews it (the editor panel turns it into a Preview link)."""
    cmd = f"tensorleap-ls preview . --subset {subset} --sample {sid}"
    return (f"<span class=sample data-subset=\"{html.escape(subset)}\" data-sample=\"{html.escape(json.dumps(sid))}\" "
            f"title=\"{html.escape(cmd)}\">{html.escape(str(sid))}</span>")


def _counts(items: list[dict], field: str) -> str:
    return ", ".join("%s x%s" % (tuple(i[field]) if field == "shape" else i[field], format(i["count"], ",")) for i in items)


def _num(v: Any) -> str:
    return "" if v is None else html.escape(f"{v:.4g}" if isinstance(v, float) else str(v))


_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Tensorleap data-set scan</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5em; color: #1b1f3a; }}
table {{ border-collapse: collapse; margin: .5em 0 1em; }}
td, th {{ border: 1px solid #ccd; padding: .25em .5em; text-align: left; vertical-align: top; font-size: 90%; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
.meta {{ color: #555; }} .error {{ color: #b00020; }}
.charts {{ display: flex; flex-wrap: wrap; gap: 1em; }}
.sample {{ font-family: monospace; background: #eef; padding: 0 .3em; margin-right: .2em; border-radius: 3px; }}
</style>
{scripts}
</head><body>
{body}
<script>
const specs = {specs};
document.querySelectorAll("[data-chart]").forEach((el, i) => vegaEmbed(el, specs[i], {{actions: false, renderer: "svg"}})
  .catch((e) => {{ el.textContent = "chart failed: " + e; }}));
</script>
</body></html>
"""
