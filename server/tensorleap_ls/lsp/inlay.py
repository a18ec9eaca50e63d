"""Observed values inline: ``textDocument/inlayHint`` at each encoder's and metadata function's ``def``.

After a dynamic run or a preview (``lsp/dynamic.py`` calls ``remember``), an input or ground-truth encoder
shows the shape, dtype and value range it returned, a metadata function the types of its values. Each hint
keeps the text of its function as it was when the values were seen: once that text changes the hint is
gone (the values belong to code that no longer exists); it follows the function when other lines move.
The ``inlayHints`` setting turns them off. Nothing here runs user code: the values come from the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from lsprotocol import types as lsp
from pygls.uris import to_fs_path

from tensorleap_ls.core.checks.root_cause import function_range
from tensorleap_ls.core.model import Kind
from tensorleap_ls.core.project.closure import norm
from tensorleap_ls.lsp.convert import units
from tensorleap_ls.lsp.session import Session, off_loop

KINDS = {"input": Kind.INPUT, "ground_truth": Kind.GROUND_TRUTH, "metadata": Kind.METADATA}


@dataclass(frozen=True)
class Seen:
    """What a run or preview saw one function return, and the function's text at that time."""

    path: str
    source: str  # the function's text (decorators included) when the values were seen
    header: int  # line of the end of its signature, counted from the function's first line
    label: str
    tooltip: str


def register(server: Session) -> None:
    @server.feature(lsp.TEXT_DOCUMENT_INLAY_HINT, lsp.InlayHintOptions(resolve_provider=False))
    async def inlay_hints(ls, params: lsp.InlayHintParams) -> list[lsp.InlayHint]:
        return await off_loop(lambda: hints(ls, params))


def hints(ls: Session, params: lsp.InlayHintParams) -> list[lsp.InlayHint]:
    path = to_fs_path(params.text_document.uri)
    if path is None or not ls.settings.inlay_hints:
        return []
    path = norm(path)
    text = ls.analyzer.read_text(path)  # the open buffer, else the file
    if text is None:
        return []
    text = text.replace("\r\n", "\n")
    lines = text.split("\n")
    first, last = params.range.start.line, params.range.end.line
    out = []
    for root_values in list(ls.seen_values.values()):
        for seen in root_values.values():
            if seen.path != path:
                continue
            at = f"\n{text}\n".find(f"\n{seen.source}\n")  # whole lines: an appended "* 2" is a change
            if at < 0:
                continue  # the function changed since its values were seen
            line = text.count("\n", 0, at) + seen.header
            if not first <= line <= last or line >= len(lines):
                continue
            col = len(lines[line].rstrip())
            out.append(lsp.InlayHint(position=lsp.Position(line, units(lines[line], col, ls.encoding)),
                                     label=seen.label, kind=lsp.InlayHintKind.Type, padding_left=True,
                                     tooltip=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=seen.tooltip)))
    return sorted(out, key=lambda h: (h.position.line, h.position.character))


def remember(ls: Session, pa: Any, values: Iterable[dict], where: str) -> None:
    """Keeps what a run or preview of ``pa``'s project saw (``values``: the run's ``stats["values"]``
    shape; ``where`` says when, ``{samples}`` the number of calls seen) as hints, replacing those of the
    same functions. Blocking (reads and parses the files): off the event loop, then ``refresh``."""
    store = ls.seen_values.setdefault(pa.project.root, {})
    by_key = {(b.kind, b.name): b for b in pa.bindings if b.def_span is not None and b.name}
    for v in values:
        kind = KINDS.get(v.get("kind", ""))
        b = by_key.get((kind, v.get("name")))
        if b is None:
            continue
        label = label_of(v)
        seen = _anchor(ls, b, label, f"`{b.name}`: {label}, observed {where.replace('{samples}', str(v.get('samples')))}.")
        if seen is not None:
            store[(kind.value, b.name)] = seen


def refresh(ls: Session) -> None:
    ws = getattr(ls.client_capabilities, "workspace", None)
    inlay = getattr(ws, "inlay_hint", None)
    if inlay is not None and inlay.refresh_support:
        try:
            ls.workspace_inlay_hint_refresh(None)
        except Exception as e:  # noqa: BLE001 - the hints come with the next request anyway
            ls.debug(f"inlay hint refresh failed: {e}")


def _anchor(ls: Session, b, label: str, tooltip: str) -> Seen | None:
    path = b.def_span.path
    text = ls.analyzer.read_text(path)
    rng = function_range(text, b.def_span.line)
    if not label or text is None or rng is None:
        return None
    lines = text.replace("\r\n", "\n").split("\n")
    header = b.def_span.line
    body = b.def_node.body[0].lineno - 1 if b.def_node is not None and getattr(b.def_node, "body", None) else header
    while header < body - 1 and not lines[header].split("#", 1)[0].rstrip().endswith(":"):
        header += 1  # a signature over several lines: the hint goes after its last line
    return Seen(path, "\n".join(lines[rng[0]:rng[1] + 1]), header - rng[0], label, tooltip)


def label_of(v: dict) -> str:
    """``(28, 28, 1) float32 [0, 1]`` for an array, ``str`` / ``{brightness: float, is_even: bool}`` for
    metadata; "" when nothing was seen."""
    if v.get("types"):
        types = {k: " | ".join(t) for k, t in v["types"].items()}
        if set(types) == {""}:
            return types[""]
        return "{" + ", ".join(f"{k}: {t}" for k, t in types.items()) + "}"
    if v.get("shape") is None:
        return ""
    shape = "(" + ", ".join(str(d) for d in v["shape"]) + ("," if len(v["shape"]) == 1 else "") + ")"
    out = f"{shape} {v.get('dtype')}"
    if v.get("low") is not None and v.get("high") is not None:
        out += f" [{_num(v['low'])}, {_num(v['high'])}]"
    return out


def _num(x: float) -> str:
    return f"{x:.4g}"


def from_preview(result: dict) -> list[dict]:
    """A preview's inputs, ground truths and metadata as ``remember`` takes them."""
    out = []
    for section, kind in (("inputs", "input"), ("ground_truths", "ground_truth")):
        for item in result.get(section) or []:
            value = item.get("value") or {}
            if value.get("type") == "ndarray":
                out.append({"kind": kind, "name": item.get("name"), "samples": 1, "shape": value.get("shape"),
                            "dtype": value.get("dtype"), "low": value.get("min"), "high": value.get("max")})
    for item in result.get("metadata") or []:
        value = item.get("value")
        items = value.items() if isinstance(value, dict) else [("", value)]
        out.append({"kind": "metadata", "name": item.get("name"), "samples": 1,
                    "types": {str(k): [type(x).__name__] for k, x in items}})
    return out
