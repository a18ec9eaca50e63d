"""Fixes for 6xx (core/checks/model.py): the value the model file's facts call for; a session for a ModelProto."""

from __future__ import annotations

from tensorleap_ls.core.codes import CHANNEL_DIM_LAYOUT, LOAD_MODEL_UNSUPPORTED, MODEL_FEED_NAMES
from tensorleap_ls.core.fixdata import Replacement, SessionCall
from tensorleap_ls.core.fixes import fixer
from tensorleap_ls.core.fixes.edits import data_of, insert, lines
from tensorleap_ls.core.model import Finding, Fix, Span, TextEdit


@fixer(MODEL_FEED_NAMES, CHANNEL_DIM_LAYOUT)
def _use_the_model_s(f: Finding, pa) -> list[Fix]:
    """Its input name (TL601), the channel axis of its layout (TL606)."""
    d = data_of(f, Replacement)
    new = d.replacement if d else None
    title = f"Use the model's input name {new}" if f.code == MODEL_FEED_NAMES else f"Use channel_dim={new}"
    return [Fix(title, [TextEdit(f.span, new)], preferred=True)] if new else []


@fixer(LOAD_MODEL_UNSUPPORTED)
def _onnx_session(f: Finding, pa) -> list[Fix]:
    """TL607 on an ``onnx.load(path)`` ModelProto: the same file as an onnxruntime session."""
    d = data_of(f, SessionCall)
    if d is None:
        return []
    (line, col, end_line, end_col), (at_line, at_col) = d.callee, d.statement
    indent = lines(pa, f.span.path)[at_line][:at_col]
    return [Fix("Load it with onnxruntime.InferenceSession", [
        insert(f.span.path, at_line, at_col, f"import onnxruntime\n{indent}"),
        TextEdit(Span(f.span.path, line, col, end_line, end_col), "onnxruntime.InferenceSession")], preferred=True)]
